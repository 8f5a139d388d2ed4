/*
 * fakeapi: the services notifiers post to, and an inbox that records what
 * reached them, so tests assert exact payloads, headers and credentials.
 *
 *   POST /slack/services/<T>/<B>/<token>   Slack incoming webhook
 *   POST /pagerduty/v2/enqueue             PagerDuty Events API v2
 *   POST /discord/api/webhooks/<id>/<token>  Discord webhook
 *   POST /hooks/<anything>                 a generic webhook receiver
 *   POST /twilio/2010-04-01/Accounts/<Sid>/Messages.json  (vendor_twilio.c)
 *
 * Each answers as its service does: Slack 200 "ok", or 400
 * "invalid_payload" (not JSON) / "no_text", 404 "no_service" (token
 * "revoked"); PagerDuty 202 {"status":"success",...}, or 400
 * {"status":"invalid event","message":"Event object is invalid",
 * "errors":[...]}; Discord 204 (200 and the message with ?wait=true), or
 * 400 {"code":50006,...}; the generic receiver 200 {"ok":true}.
 *
 * Inbox: every request that reached one of these handlers (faults answer
 * before the handler, so a 503 fault leaves no entry) is kept, with the
 * status it got:
 *
 *   GET    /_admin/received[?path=<prefix>]  {"requests":[{"method","path",
 *          "query","headers":{lower-case name: value},"body","status",
 *          "time" (Unix seconds, a float)}]}
 *   DELETE /_admin/received                  forget them
 *   POST   /_admin/received?path=<prefix>&after=N&status=S[&count=C]
 *          [&retry_after=R]   fail plan: once N more requests under prefix
 *          were accepted, answer the next C (default 1) with S (and
 *          Retry-After R), recording them too: "the receiver failed in the
 *          middle of a burst", deterministically. Discord's 429 is its
 *          own: {"retry_after": R.5, ...} in the body, no header; a
 *          planned 400 at Slack is Slack's "invalid_payload".
 *
 * Threading: handlers run on several MHD workers; the inbox and the plan
 * are under one mutex.
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vendor.h"


#define FV_PD_ROUTING_KEY  "outpostpagerdutyroutingkey000001"
#define FV_INBOX_MAX       20000


static pthread_mutex_t  fv_inbox_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t          *fv_inbox;       /* array, under fv_inbox_mu */

static struct {
    char                prefix[256];
    unsigned            after;
    unsigned            status;
    unsigned            count;
    unsigned            retry_after;
} fv_plan;                              /* under fv_inbox_mu */


static enum MHD_Result
fv_collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
    json_t  *obj = cls;
    char     name[128];
    size_t   i;

    (void) kind;

    for (i = 0; key[i] != '\0' && i < sizeof(name) - 1; i++) {
        name[i] = (char) ((key[i] >= 'A' && key[i] <= 'Z')
                          ? key[i] + 32 : key[i]);
    }
    name[i] = '\0';

    json_object_set_new(obj, name, json_string(value ? value : ""));
    return MHD_YES;
}


/*
 * Decides a planned failure for r (0: none) and records r with the status
 * it gets.  status is the handler's healthy answer.
 */
unsigned
fv_inbox_add(const fa_request_t *r, unsigned status, unsigned *retry_after)
{
    json_t          *e, *headers, *query;
    unsigned         planned = 0;
    struct timespec  now;

    headers = json_object();
    query = json_object();
    (void) MHD_get_connection_values(r->conn, MHD_HEADER_KIND,
                                     fv_collect_header, headers);
    (void) MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND,
                                     fv_collect_header, query);

    pthread_mutex_lock(&fv_inbox_mu);

    if (fv_plan.status != 0
        && strncmp(r->path, fv_plan.prefix, strlen(fv_plan.prefix)) == 0)
    {
        if (fv_plan.after > 0) {
            if (status < 300) {
                fv_plan.after--;
            }
        } else {
            planned = fv_plan.status;
            *retry_after = fv_plan.retry_after;
            if (--fv_plan.count == 0) {
                fv_plan.status = 0;
            }
        }
    }

    if (fv_inbox == NULL) {
        fv_inbox = json_array();
    }

    clock_gettime(CLOCK_REALTIME, &now);
    e = json_pack("{s:s, s:s, s:o, s:o, s:s#, s:i, s:f}",
                  "method", r->method, "path", r->path, "query", query,
                  "headers", headers,
                  "body", r->body ? r->body : "",
                  (int) (r->body ? r->body_len : 0),
                  "status", (int) (planned ? planned : status),
                  "time", (double) now.tv_sec + now.tv_nsec / 1e9);

    if (e != NULL && fv_inbox != NULL
        && json_array_size(fv_inbox) < FV_INBOX_MAX)
    {
        json_array_append_new(fv_inbox, e);

    } else {
        json_decref(e);
    }

    pthread_mutex_unlock(&fv_inbox_mu);

    return planned;
}


/* The planned failure's answer: the service's 5xx/429 shape. */
int
fv_planned(fa_reply_t *out, unsigned status, unsigned retry_after)
{
    if (fa_reply_json(out, status, "{\"error\":\"planned failure\","
                      "\"status\":%u}", status) != 0)
    {
        return -1;
    }

    if (retry_after) {
        return fv_headerf(out, "Retry-After", "%u", retry_after);
    }

    return 0;
}


static json_t *
fv_body_json(const fa_request_t *r)
{
    if (r->body == NULL) {
        return NULL;
    }

    return json_loadb(r->body, r->body_len, 0, NULL);
}


/* --- Slack ------------------------------------------------------------ */

static int
slack_webhook(const fa_request_t *r, fa_reply_t *out)
{
    json_t    *j = fv_body_json(r);
    unsigned   status, planned, ra = 0;
    const char *answer;

    if (strstr(r->arg, "revoked") != NULL) {
        status = 404;
        answer = "no_service";

    } else if (j == NULL || !json_is_object(j)) {
        status = 400;
        answer = "invalid_payload";

    } else if (json_object_get(j, "text") == NULL
               && json_object_get(j, "blocks") == NULL
               && json_object_get(j, "attachments") == NULL)
    {
        status = 400;
        answer = "no_text";

    } else {
        status = 200;
        answer = "ok";
    }

    json_decref(j);

    planned = fv_inbox_add(r, status, &ra);
    if (planned == 400) {
        /* Slack's own words for a payload it cannot take. */
        return fv_reply_text(out, 400, "invalid_payload");
    }
    if (planned) {
        return fv_planned(out, planned, ra);
    }

    return fv_reply_text(out, status, answer);
}


/* --- PagerDuty --------------------------------------------------------- */

static int
pd_enqueue(const fa_request_t *r, fa_reply_t *out)
{
    json_t      *j = fv_body_json(r), *errors, *payload;
    const char  *action, *key, *sev, *dedup;
    unsigned     status, planned, ra = 0;
    int          rc;

    errors = json_array();

    if (j == NULL || !json_is_object(j)) {
        json_array_append_new(errors, json_string("Malformed JSON"));
        j = json_object();
    }

    key = json_string_value(json_object_get(j, "routing_key"));
    action = json_string_value(json_object_get(j, "event_action"));
    dedup = json_string_value(json_object_get(j, "dedup_key"));
    payload = json_object_get(j, "payload");

    if (key == NULL || strlen(key) != 32) {
        json_array_append_new(errors, json_string(
            "'routing_key' is missing or blank"));
    }

    if (action == NULL || (strcmp(action, "trigger") != 0
                           && strcmp(action, "acknowledge") != 0
                           && strcmp(action, "resolve") != 0))
    {
        json_array_append_new(errors, json_string(
            "'event_action' is invalid (must be one of the following: "
            "'trigger', 'acknowledge' or 'resolve')"));

    } else if (strcmp(action, "trigger") == 0) {
        sev = json_string_value(json_object_get(payload, "severity"));
        if (json_string_value(json_object_get(payload, "summary")) == NULL) {
            json_array_append_new(errors, json_string(
                "'payload.summary' is missing or blank"));
        }
        if (json_string_value(json_object_get(payload, "source")) == NULL) {
            json_array_append_new(errors, json_string(
                "'payload.source' is missing or blank"));
        }
        if (sev == NULL || (strcmp(sev, "critical") != 0
                            && strcmp(sev, "error") != 0
                            && strcmp(sev, "warning") != 0
                            && strcmp(sev, "info") != 0))
        {
            json_array_append_new(errors, json_string(
                "'payload.severity' is invalid (must be one of the "
                "following: 'critical', 'warning', 'error' or 'info')"));
        }

    } else if (dedup == NULL) {
        json_array_append_new(errors, json_string(
            "'dedup_key' is missing or blank"));
    }

    status = json_array_size(errors) ? 400 : 202;

    planned = fv_inbox_add(r, status, &ra);
    if (planned) {
        json_decref(errors);
        json_decref(j);
        return fv_planned(out, planned, ra);
    }

    if (status == 400) {
        rc = fa_reply_jansson(out, status,
                              json_pack("{s:s, s:s, s:o}",
                                        "status", "invalid event",
                                        "message", "Event object is invalid",
                                        "errors", errors));
    } else {
        json_decref(errors);
        rc = fa_reply_jansson(out, status,
                              json_pack("{s:s, s:s, s:s}",
                                        "status", "success",
                                        "message", "Event processed",
                                        "dedup_key", dedup ? dedup
                                            : "0utp0stgeneratedkey"));
    }

    json_decref(j);
    return rc;
}


/* --- Discord ---------------------------------------------------------- */

static int
discord_webhook(const fa_request_t *r, fa_reply_t *out)
{
    json_t      *j = fv_body_json(r);
    unsigned     status, planned, ra = 0;
    const char  *wait;
    int          rc;

    if (j == NULL || !json_is_object(j)) {
        status = 400;
    } else if (json_object_get(j, "content") == NULL
               && json_object_get(j, "embeds") == NULL)
    {
        status = 401;      /* marker, answered as 400 50006 below */
    } else {
        status = 204;
    }

    wait = fa_request_arg(r, "wait");
    if (status == 204 && wait != NULL && strcmp(wait, "true") == 0) {
        status = 200;
    }

    planned = fv_inbox_add(r, status == 401 ? 400 : status, &ra);
    if (planned == 429) {
        /* Discord's own: the pause in the body, as seconds (a float);
         * left out of the headers so a client must read the body. */
        json_decref(j);
        return fa_reply_json(out, 429, "{\"message\":\"You are being rate "
                             "limited.\",\"retry_after\":%u.5,"
                             "\"global\":false}", ra);
    }
    if (planned) {
        json_decref(j);
        return fv_planned(out, planned, ra);
    }

    switch (status) {
    case 400:
        rc = fa_reply_json(out, 400, "{\"code\":50109,\"message\":\"The "
                           "request body contains invalid JSON.\"}");
        break;
    case 401:
        rc = fa_reply_json(out, 400, "{\"message\":\"Cannot send an empty "
                           "message\",\"code\":50006}");
        break;
    case 200:
        rc = fa_reply_json(out, 200, "{\"id\":\"%lu\",\"type\":0,"
                           "\"channel_id\":\"100000000000000002\"}",
                           1000000000000000000UL + fv_next_id());
        break;
    default:
        rc = fv_reply_text(out, 204, "");
        break;
    }

    json_decref(j);
    return rc;
}


/* --- a generic receiver ------------------------------------------------ */

static int
generic_hook(const fa_request_t *r, fa_reply_t *out)
{
    unsigned  planned, ra = 0;

    planned = fv_inbox_add(r, 200, &ra);
    if (planned) {
        return fv_planned(out, planned, ra);
    }

    return fa_reply_json(out, 200, "{\"ok\":true}");
}


/* --- the inbox's admin routes ------------------------------------------ */

static int
inbox_get(const fa_request_t *r, fa_reply_t *out)
{
    const char  *prefix = fa_request_arg(r, "path");
    json_t      *list = json_array(), *e;
    size_t       i;

    pthread_mutex_lock(&fv_inbox_mu);

    json_array_foreach(fv_inbox, i, e) {
        const char  *p = json_string_value(json_object_get(e, "path"));

        if (prefix == NULL || (p && strncmp(p, prefix, strlen(prefix)) == 0)) {
            json_array_append(list, e);
        }
    }

    pthread_mutex_unlock(&fv_inbox_mu);

    return fa_reply_jansson(out, 200, json_pack("{s:o}", "requests", list));
}


static int
inbox_clear(const fa_request_t *r, fa_reply_t *out)
{
    (void) r;

    pthread_mutex_lock(&fv_inbox_mu);
    json_decref(fv_inbox);
    fv_inbox = NULL;
    memset(&fv_plan, 0, sizeof(fv_plan));
    pthread_mutex_unlock(&fv_inbox_mu);

    return fa_reply_json(out, 200, "{\"cleared\":true}");
}


static int
inbox_plan(const fa_request_t *r, fa_reply_t *out)
{
    const char  *prefix = fa_request_arg(r, "path");
    const char  *v;
    unsigned     after = 0, status = 0, count = 1, ra = 0;

    if (prefix == NULL || strlen(prefix) >= sizeof(fv_plan.prefix)) {
        return fa_reply_error(out, 400, "path: required");
    }

    v = fa_request_arg(r, "status");
    if (v == NULL || fa_parse_uint(v, 200, 599, &status) != 0) {
        return fa_reply_error(out, 400, "status: must be 200..599");
    }

    v = fa_request_arg(r, "after");
    if (v != NULL && fa_parse_uint(v, 0, 1000000, &after) != 0) {
        return fa_reply_error(out, 400, "after: must be 0..1000000");
    }

    v = fa_request_arg(r, "count");
    if (v != NULL && fa_parse_uint(v, 1, 1000000, &count) != 0) {
        return fa_reply_error(out, 400, "count: must be 1..1000000");
    }

    v = fa_request_arg(r, "retry_after");
    if (v != NULL && fa_parse_uint(v, 0, 1000000, &ra) != 0) {
        return fa_reply_error(out, 400, "retry_after: must be 0..1000000");
    }

    pthread_mutex_lock(&fv_inbox_mu);
    strcpy(fv_plan.prefix, prefix);
    fv_plan.after = after;
    fv_plan.status = status;
    fv_plan.count = count;
    fv_plan.retry_after = ra;
    pthread_mutex_unlock(&fv_inbox_mu);

    return fa_reply_json(out, 200, "{\"planned\":true}");
}


const fa_route_t  fa_notify_routes[] = {
    { "POST",   "/slack/services/",       FA_PREFIX, slack_webhook },
    { "POST",   "/pagerduty/v2/enqueue",  0,         pd_enqueue },
    { "POST",   "/discord/api/webhooks/", FA_PREFIX, discord_webhook },
    { "POST",   "/hooks/",                FA_PREFIX, generic_hook },
    { "GET",    "/_admin/received",       0,         inbox_get },
    { "DELETE", "/_admin/received",       0,         inbox_clear },
    { "POST",   "/_admin/received",       0,         inbox_plan },
    FA_ROUTE_END
};
