/*
 * fakeapi: Cohere, under /cohere.  POST /v1/check-api-key with a Bearer
 * key: Cohere's own "is this key valid and active" call.  A good key
 * answers {"valid":true,...}; a missing or bad one is a 401
 * {"message":"invalid api token"}.
 */

#include "vendor.h"


#define FV_COHERE_KEY  "outpost-cohere-key"


static int
cohere_check(const fa_request_t *r, fa_reply_t *out)
{
    if (fv_auth(r, "Bearer") == NULL) {
        return fa_reply_json(out, MHD_HTTP_UNAUTHORIZED,
                             "{\"message\":\"no api key supplied\"}");
    }

    if (!fv_auth_is(r, "Bearer", FV_COHERE_KEY)) {
        return fa_reply_json(out, MHD_HTTP_UNAUTHORIZED,
                             "{\"message\":\"invalid api token\"}");
    }

    return fa_reply_json(out, MHD_HTTP_OK,
                         "{\"valid\":true,\"organization_id\":"
                         "\"0utp0st-org\",\"owner_id\":\"0utp0st-owner\"}");
}


const fa_route_t  fa_cohere_routes[] = {
    { "POST", "/cohere/v1/check-api-key", 0, cohere_check },
    FA_ROUTE_END
};
