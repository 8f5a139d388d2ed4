/*
 * fakeapi: Mistral, under /mistral.  GET /v1/models with a Bearer key; a
 * missing or bad key is a 401 {"message":"Unauthorized","request_id"}.
 */

#include <stdio.h>

#include "vendor.h"


#define FV_MISTRAL_KEY  "outpost-mistral-key"


static int
mistral_models(const fa_request_t *r, fa_reply_t *out)
{
    if (!fv_auth_is(r, "Bearer", FV_MISTRAL_KEY)) {
        return fa_reply_json(out, MHD_HTTP_UNAUTHORIZED,
                             "{\"message\":\"Unauthorized\","
                             "\"request_id\":\"0utp0st%06lu\"}",
                             fv_next_id());
    }

    return fa_reply_json(out, MHD_HTTP_OK,
        "{\"object\":\"list\",\"data\":[{\"id\":\"mistral-small-latest\","
        "\"object\":\"model\",\"created\":1732000000,"
        "\"owned_by\":\"mistralai\",\"capabilities\":{\"completion_chat\":"
        "true}}]}");
}


const fa_route_t  fa_mistral_routes[] = {
    { "GET", "/mistral/v1/models", 0, mistral_models },
    FA_ROUTE_END
};
