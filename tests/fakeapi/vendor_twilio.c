/*
 * fakeapi: Twilio, under /twilio.  GET /2010-04-01/Accounts/{Sid}.json
 * with Basic AccountSid:AuthToken, Twilio's cheapest authenticated read.
 * Bad credentials are a 401 with Twilio error 20003; another account's
 * Sid a 404 with 20404.  The second test account is suspended, so a probe
 * can tell an account problem from a credentials one.
 */

#include <stdio.h>
#include <string.h>

#include "vendor.h"


#define FV_TWILIO_SID        "AC00000000000000000000000000000000"
#define FV_TWILIO_SUSPENDED  "AC00000000000000000000000000000009"
#define FV_TWILIO_TOKEN      "outpost_twilio_token"


static int
twilio_error(fa_reply_t *out, unsigned status, unsigned code,
    const char *message)
{
    char  more[64];

    (void) snprintf(more, sizeof(more), "https://www.twilio.com/docs/errors/"
                    "%u", code);
    return fa_reply_jansson(out, status,
                            json_pack("{s:i, s:s, s:s, s:i}", "code", code,
                                      "message", message, "more_info", more,
                                      "status", status));
}


static int
twilio_account(const fa_request_t *r, fa_reply_t *out)
{
    char         user[128], pass[128], sid[64], msg[160];
    const char  *status;
    size_t       n;

    if (fv_basic(r, user, sizeof(user), pass, sizeof(pass)) != 0
        || (strcmp(user, FV_TWILIO_SID) != 0
            && strcmp(user, FV_TWILIO_SUSPENDED) != 0)
        || strcmp(pass, FV_TWILIO_TOKEN) != 0)
    {
        return twilio_error(out, MHD_HTTP_UNAUTHORIZED, 20003,
                            "Authenticate");
    }

    /* r->arg is "<Sid>.json" */
    n = strlen(r->arg);
    if (n <= 5 || n - 5 >= sizeof(sid) || strcmp(r->arg + n - 5, ".json"))
    {
        return twilio_error(out, MHD_HTTP_NOT_FOUND, 20404,
                            "The requested resource was not found");
    }
    (void) snprintf(sid, sizeof(sid), "%.*s", (int) (n - 5), r->arg);

    if (strcmp(sid, user) != 0) {
        (void) snprintf(msg, sizeof(msg), "The requested resource "
                        "/2010-04-01/Accounts/%s.json was not found", sid);
        return twilio_error(out, MHD_HTTP_NOT_FOUND, 20404, msg);
    }

    status = strcmp(sid, FV_TWILIO_SUSPENDED) == 0 ? "suspended" : "active";
    (void) snprintf(msg, sizeof(msg), "/2010-04-01/Accounts/%s.json", sid);

    if (fa_reply_jansson(out, MHD_HTTP_OK,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                      "sid", sid, "owner_account_sid", sid,
                      "friendly_name", "outpost test account",
                      "status", status, "type", "Full",
                      "date_created", "Thu, 01 Jan 2026 00:00:00 +0000",
                      "date_updated", "Thu, 01 Jan 2026 00:00:00 +0000",
                      "uri", msg))
        != 0)
    {
        return -1;
    }

    return fv_headerf(out, "Twilio-Request-Id", "RQ0utp0st%06lu",
                      fv_next_id());
}


const fa_route_t  fa_twilio_routes[] = {
    { "GET", "/twilio/2010-04-01/Accounts/", FA_PREFIX, twilio_account },
    FA_ROUTE_END
};
