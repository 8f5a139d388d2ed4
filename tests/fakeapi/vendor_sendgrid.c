/*
 * fakeapi: SendGrid, under /sendgrid.  GET /v3/scopes with a Bearer key,
 * which lists the key's own scopes.  A missing or bad key is a 401
 * {"errors":[{"field":null,"message":"authorization required"}]}.
 * Answers carry x-ratelimit-limit, -remaining and -reset.
 */

#include "vendor.h"


#define FV_SENDGRID_KEY  "SG.outpost.test"


static int
sendgrid_scopes(const fa_request_t *r, fa_reply_t *out)
{
    int  rc;

    if (!fv_auth_is(r, "Bearer", FV_SENDGRID_KEY)) {
        rc = fa_reply_json(out, MHD_HTTP_UNAUTHORIZED,
                           "{\"errors\":[{\"field\":null,"
                           "\"message\":\"authorization required\"}]}");
    } else {
        rc = fa_reply_json(out, MHD_HTTP_OK,
                           "{\"scopes\":[\"mail.send\",\"scopes.read\","
                           "\"stats.read\"]}");
    }

    if (rc != 0) {
        return -1;
    }

    return fv_header(out, "x-ratelimit-limit", "50")
           || fv_header(out, "x-ratelimit-remaining", "49")
           || fv_header(out, "x-ratelimit-reset", "1767225600")
           ? -1 : 0;
}


const fa_route_t  fa_sendgrid_routes[] = {
    { "GET", "/sendgrid/v3/scopes", 0, sendgrid_scopes },
    FA_ROUTE_END
};
