/*
 * fakeapi: PayPal, under /paypal.  The OAuth client-credentials flow:
 * POST /v1/oauth2/token (Basic client_id:secret, form body
 * grant_type=client_credentials) returns an access token, which then reads
 * GET /v1/notifications/webhooks.  Bad client credentials are a 401
 * invalid_client; a bad token a 401 invalid_token.
 */

#include <string.h>

#include "vendor.h"


#define FV_PAYPAL_CLIENT_ID  "outpost-paypal-client"
#define FV_PAYPAL_SECRET     "outpost-paypal-secret"
#define FV_PAYPAL_TOKEN      "A21AAoutpost-paypal-access-token"


static int
paypal_debug_id(fa_reply_t *out)
{
    return fv_headerf(out, "Paypal-Debug-Id", "f0utp0st%06lx", fv_next_id());
}


static int
paypal_oauth_error(fa_reply_t *out, unsigned status, const char *error,
    const char *desc)
{
    if (fa_reply_jansson(out, status,
                         json_pack("{s:s, s:s}", "error", error,
                                   "error_description", desc))
        != 0)
    {
        return -1;
    }

    return paypal_debug_id(out);
}


static int
paypal_token(const fa_request_t *r, fa_reply_t *out)
{
    char  grant[64];

    if (!fv_basic_is(r, FV_PAYPAL_CLIENT_ID, FV_PAYPAL_SECRET)) {
        return paypal_oauth_error(out, MHD_HTTP_UNAUTHORIZED,
                                  "invalid_client",
                                  "Client Authentication failed");
    }

    if (fv_form(r, "grant_type", grant, sizeof(grant)) == NULL) {
        return paypal_oauth_error(out, MHD_HTTP_BAD_REQUEST,
                                  "unsupported_grant_type",
                                  "Grant Type is NULL");
    }

    if (strcmp(grant, "client_credentials") != 0) {
        return paypal_oauth_error(out, MHD_HTTP_BAD_REQUEST,
                                  "unsupported_grant_type",
                                  "unsupported grant_type");
    }

    if (fa_reply_jansson(out, MHD_HTTP_OK,
            json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}",
                      "scope", "https://uri.paypal.com/services/invoicing "
                      "https://uri.paypal.com/services/applications/webhooks",
                      "access_token", FV_PAYPAL_TOKEN,
                      "token_type", "Bearer",
                      "app_id", "APP-80W284485P519543T",
                      "expires_in", 32400,
                      "nonce", "2026-01-01T00:00:00Zoutpost"))
        != 0)
    {
        return -1;
    }

    return paypal_debug_id(out);
}


static int
paypal_webhooks(const fa_request_t *r, fa_reply_t *out)
{
    if (fv_auth(r, "Bearer") == NULL) {
        return paypal_oauth_error(out, MHD_HTTP_UNAUTHORIZED,
                                  "invalid_token",
                                  "No permission for the requested "
                                  "operation");
    }

    if (!fv_auth_is(r, "Bearer", FV_PAYPAL_TOKEN)) {
        return paypal_oauth_error(out, MHD_HTTP_UNAUTHORIZED,
                                  "invalid_token",
                                  "Token signature verification failed");
    }

    if (fa_reply_json(out, MHD_HTTP_OK, "{\"webhooks\":[]}") != 0) {
        return -1;
    }

    return paypal_debug_id(out);
}


const fa_route_t  fa_paypal_routes[] = {
    { "POST", "/paypal/v1/oauth2/token",          0, paypal_token },
    { "GET",  "/paypal/v1/notifications/webhooks", 0, paypal_webhooks },
    FA_ROUTE_END
};
