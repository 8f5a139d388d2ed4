/*
 * fakeapi: Resend, under /resend.  GET /domains with a Bearer key and a
 * User-Agent (without one the edge refuses with a plain-text 403, "error
 * code: 1010").  A missing key is a 401 missing_api_key, a bad one a 403
 * invalid_api_key, a sending-only key a 401 restricted_api_key.  Answers
 * carry the IETF ratelimit-* headers.
 */

#include <string.h>

#include "vendor.h"


#define FV_RESEND_KEY       "re_outpost_test"
#define FV_RESEND_SENDONLY  "re_outpost_sendonly"


static int
resend_error(fa_reply_t *out, unsigned status, const char *name,
    const char *message)
{
    return fa_reply_jansson(out, status,
                            json_pack("{s:i, s:s, s:s}", "statusCode",
                                      status, "message", message,
                                      "name", name));
}


static int
resend_domains(const fa_request_t *r, fa_reply_t *out)
{
    const char  *ua, *key;
    int          rc;

    ua = fa_request_header(r, MHD_HTTP_HEADER_USER_AGENT);
    if (ua == NULL || *ua == '\0') {
        return fv_reply_text(out, MHD_HTTP_FORBIDDEN, "error code: 1010");
    }

    key = fv_auth(r, "Bearer");
    if (key == NULL || *key == '\0') {
        rc = resend_error(out, MHD_HTTP_UNAUTHORIZED, "missing_api_key",
                          "Missing API key in the authorization header. "
                          "Include the following header "
                          "Authorization: Bearer YOUR_API_KEY in the "
                          "request.");
    } else if (strcmp(key, FV_RESEND_SENDONLY) == 0) {
        rc = resend_error(out, MHD_HTTP_UNAUTHORIZED, "restricted_api_key",
                          "This API key is restricted to only send "
                          "emails");
    } else if (strcmp(key, FV_RESEND_KEY) != 0) {
        rc = resend_error(out, MHD_HTTP_FORBIDDEN, "invalid_api_key",
                          "API key is invalid");
    } else {
        rc = fa_reply_json(out, MHD_HTTP_OK,
            "{\"object\":\"list\",\"has_more\":false,\"data\":["
            "{\"id\":\"d91cd9bd-1176-453e-8fc1-35364d380206\","
            "\"name\":\"outpost.example\",\"status\":\"verified\","
            "\"created_at\":\"2026-01-01 00:00:00.000000+00\","
            "\"region\":\"us-east-1\"}]}");
    }

    if (rc != 0) {
        return -1;
    }

    return fv_header(out, "ratelimit-limit", "2")
           || fv_header(out, "ratelimit-remaining", "1")
           || fv_header(out, "ratelimit-reset", "1")
           ? -1 : 0;
}


const fa_route_t  fa_resend_routes[] = {
    { "GET", "/resend/domains", 0, resend_domains },
    FA_ROUTE_END
};
