/*
 * fakeapi: Adyen, under /adyen.  GET /v3/me on the Management API, which
 * describes the API credential itself: the cheapest authenticated read.
 * The key goes in X-API-Key; a missing or bad one is a 401 problem
 * document (RFC 7807) with errorCode 00_401.
 */

#include <string.h>

#include "vendor.h"


#define FV_ADYEN_KEY  "AQEoutpost-adyen-api-key"


static int
adyen_me(const fa_request_t *r, fa_reply_t *out)
{
    const char  *key;

    key = fa_request_header(r, "X-API-Key");
    if (key == NULL || strcmp(key, FV_ADYEN_KEY) != 0) {
        if (fa_reply_jansson(out, MHD_HTTP_UNAUTHORIZED,
                json_pack("{s:s, s:s, s:i, s:s, s:s}",
                          "type", "https://docs.adyen.com/errors/security/"
                          "unauthorized",
                          "title", "Unauthorized", "status", 401,
                          "detail", "Not authorized to access this service.",
                          "errorCode", "00_401"))
            != 0)
        {
            return -1;
        }
        return fv_headerf(out, "pspReference", "OUTPOST%09lu", fv_next_id());
    }

    return fa_reply_json(out, MHD_HTTP_OK,
        "{\"id\":\"S2-0UTP0ST\",\"username\":\"ws@Company.Outpost\","
        "\"clientKey\":\"test_OUTPOST\",\"allowedOrigins\":[],"
        "\"active\":true,\"roles\":[\"Management API - Accounts read\"],"
        "\"companyName\":\"Outpost\","
        "\"_links\":{\"self\":{\"href\":\"https://management-test.adyen.com"
        "/v3/me\"}}}");
}


const fa_route_t  fa_adyen_routes[] = {
    { "GET", "/adyen/v3/me", 0, adyen_me },
    FA_ROUTE_END
};
