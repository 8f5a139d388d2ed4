/*
 * fakeapi: Twilio, under /twilio.  GET /2010-04-01/Accounts/{Sid}.json
 * with Basic AccountSid:AuthToken, Twilio's cheapest authenticated read.
 * Bad credentials are a 401 with Twilio error 20003; another account's
 * Sid a 404 with 20404.  The second test account is suspended, so a probe
 * can tell an account problem from a credentials one.
 *
 * POST /2010-04-01/Accounts/{Sid}/Messages.json: the Messages API the sms
 * notifier sends with; form fields To, From or MessagingServiceSid, Body.
 * 201 and Twilio's message resource ("status": "queued"); 401 20003 for
 * bad credentials; 400 21211 when To is not an E.164 number or is
 * "+15005550001" (Twilio's own magic "invalid number"); 400 21602
 * without Body; 400 21603 without From and MessagingServiceSid. Every
 * request goes to the notifiers' inbox (vendor_notify.c), whose fail
 * plan answers 429/5xx with Retry-After.
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


/* "+" and 8 to 15 digits, not the magic invalid number. */
static int
twilio_number_ok(const char *s)
{
    size_t  n = 0;

    if (strcmp(s, "+15005550001") == 0 || *s++ != '+') {
        return 0;
    }
    for (; *s; s++, n++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
    }
    return n >= 8 && n <= 15;
}


static int
twilio_message(const fa_request_t *r, fa_reply_t *out)
{
    char         user[128], pass[128], to[64], from[64], svc[64], msg[200];
    char         body[4096], sid[40], uri[256];
    const char  *t, *f, *m, *b;
    unsigned     status = 201, code = 0, planned, ra = 0;
    size_t       n = strlen(r->arg), sl;

    t = fv_form(r, "To", to, sizeof(to));
    f = fv_form(r, "From", from, sizeof(from));
    m = fv_form(r, "MessagingServiceSid", svc, sizeof(svc));
    b = fv_form(r, "Body", body, sizeof(body));

    sl = strlen(FV_TWILIO_SID);
    if (fv_basic(r, user, sizeof(user), pass, sizeof(pass)) != 0
        || strcmp(user, FV_TWILIO_SID) != 0
        || strcmp(pass, FV_TWILIO_TOKEN) != 0)
    {
        status = 401; code = 20003;
        (void) snprintf(msg, sizeof(msg), "Authenticate");

    } else if (n != sl + 14 || strncmp(r->arg, user, sl) != 0
               || strcmp(r->arg + sl, "/Messages.json") != 0)
    {
        status = 404; code = 20404;
        (void) snprintf(msg, sizeof(msg), "The requested resource was not "
                        "found");

    } else if (t == NULL || !twilio_number_ok(t)) {
        status = 400; code = 21211;
        (void) snprintf(msg, sizeof(msg), "The 'To' number %s is not a "
                        "valid phone number.", t ? t : "");

    } else if (f == NULL && m == NULL) {
        status = 400; code = 21603;
        (void) snprintf(msg, sizeof(msg), "The 'From' phone number is "
                        "required.");

    } else if (b == NULL || *b == '\0') {
        status = 400; code = 21602;
        (void) snprintf(msg, sizeof(msg), "Message body is required.");
    }

    planned = fv_inbox_add(r, status, &ra);
    if (planned) {
        return fv_planned(out, planned, ra);
    }
    if (code != 0) {
        return twilio_error(out, status, code, msg);
    }

    (void) snprintf(sid, sizeof(sid), "SM%032lu", fv_next_id());
    (void) snprintf(uri, sizeof(uri), "/2010-04-01/Accounts/%s/Messages/"
                    "%s.json", user, sid);
    return fa_reply_jansson(out, 201,
        json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s, s:n, s:n,"
                  " s:s, s:s, s:s, s:s}",
                  "sid", sid, "account_sid", user, "to", t, "from", f,
                  "messaging_service_sid", m, "body", b,
                  "status", "queued", "direction", "outbound-api",
                  "error_code", "error_message",
                  "num_segments", "1", "price_unit", "USD",
                  "api_version", "2010-04-01", "uri", uri));
}


const fa_route_t  fa_twilio_routes[] = {
    { "GET", "/twilio/2010-04-01/Accounts/", FA_PREFIX, twilio_account },
    { "POST", "/twilio/2010-04-01/Accounts/", FA_PREFIX, twilio_message },
    FA_ROUTE_END
};
