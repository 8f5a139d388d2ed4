/*
 * fakeapi: WhatsApp Cloud API (Meta Graph API), under /whatsapp.
 * GET /<version>/<phone-number-id> with a Bearer access token reads the
 * business phone number.  A bad token is a 401 OAuthException code 190;
 * an unknown id a 400 GraphMethodException code 100, subcode 33.
 */

#include <stdio.h>
#include <string.h>

#include "vendor.h"


#define FV_WHATSAPP_TOKEN  "EAAoutpost-whatsapp-token"
#define FV_WHATSAPP_PHONE  "100000000000001"


static int
whatsapp_phone(const fa_request_t *r, fa_reply_t *out)
{
    const char  *id;
    char         msg[256];

    /* r->arg is "<version>/<id>" */
    id = strchr(r->arg, '/');
    if (r->arg[0] != 'v' || id == NULL) {
        return fa_reply_json(out, MHD_HTTP_BAD_REQUEST,
            "{\"error\":{\"message\":\"Unknown path components\","
            "\"type\":\"OAuthException\",\"code\":2500,"
            "\"fbtrace_id\":\"A0utp0st\"}}");
    }
    id++;

    if (fv_auth(r, "Bearer") == NULL) {
        return fa_reply_json(out, MHD_HTTP_BAD_REQUEST,
            "{\"error\":{\"message\":\"An active access token must be used "
            "to query information about the current user.\","
            "\"type\":\"OAuthException\",\"code\":2500,"
            "\"fbtrace_id\":\"A0utp0st\"}}");
    }

    if (!fv_auth_is(r, "Bearer", FV_WHATSAPP_TOKEN)) {
        return fa_reply_json(out, MHD_HTTP_UNAUTHORIZED,
            "{\"error\":{\"message\":\"Invalid OAuth access token - Cannot "
            "parse access token\",\"type\":\"OAuthException\",\"code\":190,"
            "\"fbtrace_id\":\"A0utp0st\"}}");
    }

    if (strcmp(id, FV_WHATSAPP_PHONE) != 0) {
        (void) snprintf(msg, sizeof(msg), "Unsupported get request. Object "
                        "with ID '%.40s' does not exist, cannot be loaded due "
                        "to missing permissions, or does not support this "
                        "operation.", id);
        return fa_reply_jansson(out, MHD_HTTP_BAD_REQUEST,
            json_pack("{s:{s:s, s:s, s:i, s:i, s:s}}", "error",
                      "message", msg, "type", "GraphMethodException",
                      "code", 100, "error_subcode", 33,
                      "fbtrace_id", "A0utp0st"));
    }

    return fa_reply_json(out, MHD_HTTP_OK,
        "{\"verified_name\":\"Outpost Test\","
        "\"code_verification_status\":\"VERIFIED\","
        "\"display_phone_number\":\"+1 555-0100\","
        "\"quality_rating\":\"GREEN\",\"platform_type\":\"CLOUD_API\","
        "\"throughput\":{\"level\":\"STANDARD\"},"
        "\"id\":\"" FV_WHATSAPP_PHONE "\"}");
}


const fa_route_t  fa_whatsapp_routes[] = {
    { "GET", "/whatsapp/", FA_PREFIX, whatsapp_phone },
    FA_ROUTE_END
};
