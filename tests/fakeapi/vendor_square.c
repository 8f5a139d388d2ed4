/*
 * fakeapi: Square, under /square.  GET /v2/locations with a Bearer access
 * token and the Square-Version header (echoed back, as Square does).  A
 * missing or bad token is a 401 AUTHENTICATION_ERROR.
 */

#include "vendor.h"


#define FV_SQUARE_TOKEN  "EAAAoutpost-square-token"


static int
square_locations(const fa_request_t *r, fa_reply_t *out)
{
    const char  *version;
    int          rc;

    version = fa_request_header(r, "Square-Version");

    if (!fv_auth_is(r, "Bearer", FV_SQUARE_TOKEN)) {
        rc = fa_reply_json(out, MHD_HTTP_UNAUTHORIZED,
                "{\"errors\":[{\"category\":\"AUTHENTICATION_ERROR\","
                "\"code\":\"UNAUTHORIZED\",\"detail\":\"This request could "
                "not be authorized.\"}]}");
    } else {
        rc = fa_reply_json(out, MHD_HTTP_OK,
                "{\"locations\":[{\"id\":\"L0UTP0ST\",\"name\":\"Default "
                "Test Account\",\"status\":\"ACTIVE\",\"country\":\"US\","
                "\"currency\":\"USD\",\"business_name\":\"Outpost\","
                "\"type\":\"PHYSICAL\",\"merchant_id\":\"M0UTP0ST\"}]}");
    }

    if (rc == 0 && version != NULL) {
        rc = fv_header(out, "Square-Version", version);
    }

    return rc;
}


const fa_route_t  fa_square_routes[] = {
    { "GET", "/square/v2/locations", 0, square_locations },
    FA_ROUTE_END
};
