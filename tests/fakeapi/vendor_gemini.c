/*
 * fakeapi: Google Gemini, under /gemini.  GET /v1beta/models?pageSize=1
 * with the key in x-goog-api-key or in ?key=.  Google answers a bad key
 * with 400 INVALID_ARGUMENT (reason API_KEY_INVALID), not 401, and a
 * missing one with 403 PERMISSION_DENIED.
 */

#include <string.h>

#include "vendor.h"


#define FV_GEMINI_KEY  "AIzaOutpostGeminiTestKey"


static int
gemini_models(const fa_request_t *r, fa_reply_t *out)
{
    const char  *key;

    key = fa_request_header(r, "x-goog-api-key");
    if (key == NULL) {
        key = fa_request_arg(r, "key");
    }

    if (key == NULL || *key == '\0') {
        return fa_reply_json(out, MHD_HTTP_FORBIDDEN,
            "{\"error\":{\"code\":403,\"message\":\"Method doesn't allow "
            "unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to "
            "call this API.\",\"status\":\"PERMISSION_DENIED\"}}");
    }

    if (strcmp(key, FV_GEMINI_KEY) != 0) {
        return fa_reply_json(out, MHD_HTTP_BAD_REQUEST,
            "{\"error\":{\"code\":400,\"message\":\"API key not valid. "
            "Please pass a valid API key.\",\"status\":\"INVALID_ARGUMENT\","
            "\"details\":[{\"@type\":\"type.googleapis.com/"
            "google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\","
            "\"domain\":\"googleapis.com\",\"metadata\":{\"service\":"
            "\"generativelanguage.googleapis.com\"}}]}}");
    }

    return fa_reply_json(out, MHD_HTTP_OK,
        "{\"models\":[{\"name\":\"models/gemini-1.5-flash\","
        "\"version\":\"001\",\"displayName\":\"Gemini 1.5 Flash\","
        "\"inputTokenLimit\":1000000,\"outputTokenLimit\":8192,"
        "\"supportedGenerationMethods\":[\"generateContent\","
        "\"countTokens\"]}],\"nextPageToken\":\"Ch5tb2RlbHM\"}");
}


const fa_route_t  fa_gemini_routes[] = {
    { "GET", "/gemini/v1beta/models", 0, gemini_models },
    FA_ROUTE_END
};
