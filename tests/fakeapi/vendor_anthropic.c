/*
 * fakeapi: Anthropic, under /anthropic.  GET /v1/models?limit=1 with
 * x-api-key and anthropic-version.  Errors are {"type":"error","error":
 * {"type","message"}}: 401 authentication_error for a missing or bad key,
 * 400 invalid_request_error without anthropic-version.  Answers carry
 * request-id and the anthropic-ratelimit-* headroom headers.
 */

#include <string.h>

#include "vendor.h"


#define FV_ANTHROPIC_KEY  "sk-ant-outpost-test"


static int
anthropic_headers(fa_reply_t *out)
{
    return fv_headerf(out, "request-id", "req_outpost%06lu", fv_next_id())
           || fv_header(out, "anthropic-ratelimit-requests-limit", "50")
           || fv_header(out, "anthropic-ratelimit-requests-remaining", "49")
           || fv_header(out, "anthropic-ratelimit-requests-reset",
                        "2026-01-01T00:00:01Z")
           || fv_header(out, "anthropic-ratelimit-tokens-limit", "50000")
           || fv_header(out, "anthropic-ratelimit-tokens-remaining", "48000")
           || fv_header(out, "anthropic-ratelimit-tokens-reset",
                        "2026-01-01T00:00:01Z")
           ? -1 : 0;
}


static int
anthropic_error(fa_reply_t *out, unsigned status, const char *type,
    const char *message)
{
    return fa_reply_jansson(out, status,
                            json_pack("{s:s, s:{s:s, s:s}}", "type", "error",
                                      "error", "type", type,
                                      "message", message));
}


static int
anthropic_models(const fa_request_t *r, fa_reply_t *out)
{
    const char  *key, *limit;
    unsigned     n;
    int          rc;

    key = fa_request_header(r, "x-api-key");
    limit = fa_request_arg(r, "limit");

    if (key == NULL || *key == '\0') {
        rc = anthropic_error(out, MHD_HTTP_UNAUTHORIZED,
                             "authentication_error",
                             "x-api-key header is required");
    } else if (strcmp(key, FV_ANTHROPIC_KEY) != 0) {
        rc = anthropic_error(out, MHD_HTTP_UNAUTHORIZED,
                             "authentication_error", "invalid x-api-key");
    } else if (fa_request_header(r, "anthropic-version") == NULL) {
        rc = anthropic_error(out, MHD_HTTP_BAD_REQUEST,
                             "invalid_request_error",
                             "anthropic-version: header is required");
    } else if (limit != NULL && (fa_parse_uint(limit, 1, 1000, &n) != 0)) {
        rc = anthropic_error(out, MHD_HTTP_BAD_REQUEST,
                             "invalid_request_error",
                             "limit: Input should be less than or equal "
                             "to 1000");
    } else {
        rc = fa_reply_json(out, MHD_HTTP_OK,
            "{\"data\":[{\"type\":\"model\","
            "\"id\":\"claude-3-5-haiku-20241022\","
            "\"display_name\":\"Claude 3.5 Haiku\","
            "\"created_at\":\"2024-10-22T00:00:00Z\"}],"
            "\"has_more\":true,\"first_id\":\"claude-3-5-haiku-20241022\","
            "\"last_id\":\"claude-3-5-haiku-20241022\"}");
    }

    return rc != 0 ? -1 : anthropic_headers(out);
}


const fa_route_t  fa_anthropic_routes[] = {
    { "GET", "/anthropic/v1/models", 0, anthropic_models },
    FA_ROUTE_END
};
