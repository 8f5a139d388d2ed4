/*
 * fakeapi: OpenAI, under /openai.  GET /v1/models with a Bearer key.  A
 * missing key is a 401 with code null, a bad one a 401 invalid_api_key.
 * A key whose account is out of credit gets a 429 insufficient_quota.
 * Every answer carries x-request-id and the x-ratelimit-* headroom
 * headers OpenAI sends.
 */

#include <stdio.h>
#include <string.h>

#include "vendor.h"


#define FV_OPENAI_KEY      "sk-outpost-test"
#define FV_OPENAI_NOQUOTA  "sk-outpost-noquota"


static int
openai_headers(fa_reply_t *out)
{
    return fv_headerf(out, "x-request-id", "req_outpost%06lu", fv_next_id())
           || fv_header(out, "openai-processing-ms", "12")
           || fv_header(out, "x-ratelimit-limit-requests", "10000")
           || fv_header(out, "x-ratelimit-remaining-requests", "9999")
           || fv_header(out, "x-ratelimit-reset-requests", "6ms")
           || fv_header(out, "x-ratelimit-limit-tokens", "2000000")
           || fv_header(out, "x-ratelimit-remaining-tokens", "1999950")
           || fv_header(out, "x-ratelimit-reset-tokens", "1ms")
           ? -1 : 0;
}


static int
openai_models(const fa_request_t *r, fa_reply_t *out)
{
    const char  *key;
    char         masked[64], msg[256];
    int          rc;

    key = fv_auth(r, "Bearer");
    if (key == NULL || *key == '\0') {
        rc = fa_reply_jansson(out, MHD_HTTP_UNAUTHORIZED,
            json_pack("{s:{s:s, s:s, s:n, s:n}}", "error",
                      "message", "You didn't provide an API key. You need "
                      "to provide your API key in an Authorization header "
                      "using Bearer auth (i.e. Authorization: Bearer "
                      "YOUR_KEY), or as the password field (with blank "
                      "username) if you're accessing the API from your "
                      "browser and are prompted for a username and "
                      "password. You can obtain an API key from "
                      "https://platform.openai.com/account/api-keys.",
                      "type", "invalid_request_error", "param", "code"));
    } else if (strcmp(key, FV_OPENAI_NOQUOTA) == 0) {
        rc = fa_reply_jansson(out, MHD_HTTP_TOO_MANY_REQUESTS,
            json_pack("{s:{s:s, s:s, s:n, s:s}}", "error",
                      "message", "You exceeded your current quota, please "
                      "check your plan and billing details.",
                      "type", "insufficient_quota", "param",
                      "code", "insufficient_quota"));
    } else if (strcmp(key, FV_OPENAI_KEY) != 0) {
        (void) snprintf(msg, sizeof(msg), "Incorrect API key provided: %s. "
                        "You can find your API key at "
                        "https://platform.openai.com/account/api-keys.",
                        fv_mask(key, 3, masked, sizeof(masked)));
        rc = fa_reply_jansson(out, MHD_HTTP_UNAUTHORIZED,
            json_pack("{s:{s:s, s:s, s:n, s:s}}", "error",
                      "message", msg, "type", "invalid_request_error",
                      "param", "code", "invalid_api_key"));
    } else {
        rc = fa_reply_json(out, MHD_HTTP_OK,
            "{\"object\":\"list\",\"data\":["
            "{\"id\":\"gpt-4o-mini\",\"object\":\"model\","
            "\"created\":1721172741,\"owned_by\":\"system\"},"
            "{\"id\":\"text-embedding-3-small\",\"object\":\"model\","
            "\"created\":1705948997,\"owned_by\":\"system\"}]}");
    }

    return rc != 0 ? -1 : openai_headers(out);
}


const fa_route_t  fa_openai_routes[] = {
    { "GET", "/openai/v1/models", 0, openai_models },
    FA_ROUTE_END
};
