/*
 * fakeapi: Stripe, under /stripe.  GET /v1/balance, the cheapest
 * authenticated read.
 * Stripe takes the secret key as a Bearer token or as the Basic user name
 * with an empty password; a bad key is a 401 invalid_request_error.
 */

#include <string.h>

#include "vendor.h"


#define FV_STRIPE_KEY  "sk_test_outpost"


static int
stripe_error(fa_reply_t *out, unsigned status, const char *message)
{
    if (fa_reply_jansson(out, status,
                         json_pack("{s:{s:s, s:s}}", "error",
                                   "message", message,
                                   "type", "invalid_request_error"))
        != 0)
    {
        return -1;
    }

    return fv_headerf(out, "Request-Id", "req_outpost%06lu", fv_next_id());
}


/* The key the request carries, Bearer or Basic; NULL if none. */
static const char *
stripe_key(const fa_request_t *r, char *buf, size_t len)
{
    const char  *bearer;
    char         pass[64];

    bearer = fv_auth(r, "Bearer");
    if (bearer != NULL) {
        return bearer;
    }

    if (fv_basic(r, buf, len, pass, sizeof(pass)) == 0) {
        return buf;
    }

    return NULL;
}


static int
stripe_balance(const fa_request_t *r, fa_reply_t *out)
{
    const char  *key;
    char         user[256], masked[64], msg[160];

    key = stripe_key(r, user, sizeof(user));
    if (key == NULL || *key == '\0') {
        return stripe_error(out, MHD_HTTP_UNAUTHORIZED,
            "You did not provide an API key. You need to provide your API "
            "key in the Authorization header, using Bearer auth (e.g. "
            "'Authorization: Bearer YOUR_SECRET_KEY'). See "
            "https://stripe.com/docs/api#authentication for details, or we "
            "can help at https://support.stripe.com/.");
    }

    if (strcmp(key, FV_STRIPE_KEY) != 0) {
        (void) snprintf(msg, sizeof(msg), "Invalid API Key provided: %s",
                        fv_mask(key, 8, masked, sizeof(masked)));
        return stripe_error(out, MHD_HTTP_UNAUTHORIZED, msg);
    }

    if (fa_reply_json(out, MHD_HTTP_OK,
            "{\"object\":\"balance\","
            "\"available\":[{\"amount\":0,\"currency\":\"usd\","
            "\"source_types\":{\"card\":0}}],"
            "\"connect_reserved\":[{\"amount\":0,\"currency\":\"usd\"}],"
            "\"livemode\":false,"
            "\"pending\":[{\"amount\":0,\"currency\":\"usd\","
            "\"source_types\":{\"card\":0}}]}")
        != 0)
    {
        return -1;
    }

    return fv_headerf(out, "Request-Id", "req_outpost%06lu", fv_next_id());
}


const fa_route_t  fa_stripe_routes[] = {
    { "GET", "/stripe/v1/balance", 0, stripe_balance },
    FA_ROUTE_END
};
