/*
 * api_routes_alerts.c - alerts and silences.
 *
 *   GET    /api/v1/alerts[?status=active|acknowledged|resolved|open]
 *   POST   /api/v1/alerts/<id>/acknowledge   {"by": .., "comment": ..}
 *   POST   /api/v1/alerts/<id>/resolve       {"by": ..}
 *   GET    /api/v1/silences
 *   POST   /api/v1/silences   {"match": .., "duration"|"until": ..,
 *                              "comment": .., "created_by": ..,
 *                              "filter": <alert instance, optional>}
 *   DELETE /api/v1/silences/<id>   (or ?id=)
 *
 * Reads come from the state store; the changes go to the alert filter
 * instances through agent_control (the pipeline lock, briefly). An alert
 * id is its dedup key, which may hold '/': the verb is the last path
 * segment, the id everything before it. With several alert instances an
 * acknowledge or resolve goes to each until one holds the alert; a
 * silence goes to every instance (or the one named), and a delete to
 * every instance that has the id.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "agent.h"
#include "api_internal.h"
#include "state.h"

static const char *const status_names[] = {
    [STATE_ALERT_ACTIVE] = "active",
    [STATE_ALERT_ACKNOWLEDGED] = "acknowledged",
    [STATE_ALERT_RESOLVED] = "resolved",
};

static const char *
alert_status_name(int s)
{
    return s >= 0 && s <= STATE_ALERT_RESOLVED ? status_names[s] : "active";
}

void
api_alert_json(struct jw *w, const struct state_alert *a)
{
    jw_obj(w);
    jw_key(w, "id");
    jw_str(w, a->id);
    jw_key(w, "integration");
    jw_str_or_null(w, a->integration);
    jw_key(w, "condition");
    jw_str_or_null(w, a->condition);
    jw_key(w, "severity");
    jw_str_or_null(w, a->severity);
    jw_key(w, "priority");
    jw_str_or_null(w, a->priority);
    jw_key(w, "status");
    jw_str(w, alert_status_name(a->status));
    jw_key(w, "occurrences");
    jw_int(w, (int64_t) a->occurrences);
    jw_key(w, "first_seen");
    jw_time(w, a->first_seen_ns);
    jw_key(w, "last_seen");
    jw_time(w, a->last_seen_ns);
    jw_key(w, "status_since");
    jw_time(w, a->status_since_ns);
    jw_key(w, "acknowledged_by");
    jw_str_or_null(w, a->acknowledged_by);
    jw_key(w, "escalated");
    jw_bool(w, a->escalated);
    jw_key(w, "muted");
    jw_bool(w, a->muted);
    jw_key(w, "message");
    jw_str_or_null(w, a->message);
    jw_obj_end(w);
}

static void
list(const struct api_request *req, struct api_response *res, void *arg)
{
    const char *want = api_req_query(req, "status");
    struct state_alert *a;
    size_t n, shown = 0;
    struct jw w;

    (void) arg;
    if (want && strcmp(want, "active") != 0 && strcmp(want, "open") != 0
        && strcmp(want, "acknowledged") != 0
        && strcmp(want, "resolved") != 0) {
        api_reply_error(res, 400, "status must be one of active, "
                        "acknowledged, resolved, open");
        return;
    }
    n = state_alerts(api_state(api_req_api(req)), &a);
    jw_init(&w, 256 + n * 512);
    jw_obj(&w);
    jw_key(&w, "alerts");
    jw_arr(&w);
    for (size_t i = 0; i < n; i++) {
        if (want && (strcmp(want, "open") == 0
                     ? a[i].status == STATE_ALERT_RESOLVED
                     : strcmp(want, alert_status_name(a[i].status)) != 0))
            continue;
        api_alert_json(&w, &a[i]);
        shown++;
    }
    jw_arr_end(&w);
    jw_key(&w, "count");
    jw_int(&w, (int64_t) shown);
    jw_obj_end(&w);
    free(a);
    jw_reply(&w, res, 200);
}

/* The body as a JSON object ({} when empty), or NULL with res set. */
static json_t *
body_object(const struct api_request *req, struct api_response *res)
{
    size_t len;
    const char *body = api_req_body(req, &len);
    json_error_t err;
    json_t *j;

    if (len == 0)
        return json_object();
    j = json_loadb(body, len, 0, &err);
    if (!json_is_object(j)) {
        json_decref(j);
        api_reply_error(res, 400, "the body must be a JSON object%s%s",
                        j ? "" : ": ", j ? "" : err.text);
        return NULL;
    }
    return j;
}

static int
check_strings(json_t *body, const char *const *keys,
              struct api_response *res)
{
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(body, keys[i]);
        if (v && !json_is_string(v)) {
            api_reply_error(res, 400, "\"%s\" must be a string", keys[i]);
            return -1;
        }
    }
    return 0;
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* POST /api/v1/alerts/<id>/(acknowledge|resolve) */
static void
change(const struct api_request *req, struct api_response *res, void *arg)
{
    struct api *api = api_req_api(req);
    const char *tail = api_req_tail(req), *slash = strrchr(tail, '/');
    static const char *const keys[] = { "by", "comment", NULL };
    const char *verb, *cmd;
    char **filters, *reply = NULL, *args, *id;
    size_t nf;
    json_t *body;
    int rc = -2;
    struct state_alert a;
    struct jw w;

    (void) arg;
    verb = slash ? slash + 1 : "";
    cmd = strcmp(verb, "acknowledge") == 0 ? "ack"
        : strcmp(verb, "resolve") == 0 ? "resolve" : NULL;
    if (cmd == NULL || slash == tail) {
        api_reply_error(res, 404, "no such path: %s (POST "
                        "/api/v1/alerts/<id>/acknowledge or .../resolve)",
                        api_req_path(req));
        return;
    }
    if ((body = body_object(req, res)) == NULL)
        return;
    if (check_strings(body, keys, res) != 0) {
        json_decref(body);
        return;
    }
    id = strndup(tail, (size_t) (slash - tail));
    json_object_set_new(body, "dedup_key", json_string(id));
    if (json_object_get(body, "by") == NULL)
        json_object_set_new(body, "by", json_string("api"));
    args = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    nf = agent_alert_filters(api_agent(api), &filters);
    for (size_t i = 0; i < nf && rc != 0 && args && id; i++) {
        free(reply);
        reply = NULL;
        rc = agent_control(api_agent(api), filters[i], cmd, args, &reply);
    }
    free_names(filters, nf);
    free(args);
    free(reply);
    if (nf == 0)
        api_reply_error(res, 404, "no alert filter is configured");
    else if (rc != 0)
        api_reply_error(res, 404, "no open alert \"%s\"", id ? id : "");
    else {
        jw_init(&w, 1024);
        jw_obj(&w);
        jw_key(&w, "id");
        jw_str(&w, id);
        jw_key(&w, "action");
        jw_str(&w, verb);
        jw_key(&w, "alert");
        if (state_alert(api_state(api), id, &a) == 0)
            api_alert_json(&w, &a);
        else
            jw_null(&w);
        jw_obj_end(&w);
        jw_reply(&w, res, 200);
    }
    free(id);
}

/* --- silences ------------------------------------------------------------ */

static void
silences_get(const struct api_request *req, struct api_response *res,
             void *arg)
{
    struct api *api = api_req_api(req);
    char **filters;
    size_t nf = agent_alert_filters(api_agent(api), &filters);
    json_t *all = json_array();

    (void) arg;
    for (size_t i = 0; i < nf; i++) {
        char *reply = NULL;
        json_t *r, *list, *s;
        size_t k;

        if (agent_control(api_agent(api), filters[i], "silences", "{}",
                          &reply) == 0
            && (r = json_loads(reply ? reply : "", 0, NULL)) != NULL) {
            list = json_object_get(r, "silences");
            json_array_foreach(list, k, s) {
                json_object_set_new(s, "filter",
                                    json_string(filters[i] + 6));
                json_array_append(all, s);
            }
            json_decref(r);
        }
        free(reply);
    }
    free_names(filters, nf);
    api_reply_json(res, 200, json_pack("{s:o,s:I}", "silences", all,
                                       "count",
                                       (json_int_t) json_array_size(all)));
}

static void
silences_post(const struct api_request *req, struct api_response *res,
              void *arg)
{
    struct api *api = api_req_api(req);
    static const char *const keys[] = { "match", "duration", "comment",
                                        "created_by", "filter", NULL };
    json_t *body = body_object(req, res), *made, *until;
    const char *only;
    char **filters, *args, *err = NULL;
    size_t nf;

    (void) arg;
    if (body == NULL)
        return;
    if (check_strings(body, keys, res) != 0) {
        json_decref(body);
        return;
    }
    until = json_object_get(body, "until");
    if (!json_is_string(json_object_get(body, "match"))
        || (until && !json_is_number(until))
        || (!until && !json_object_get(body, "duration"))) {
        json_decref(body);
        api_reply_error(res, 400, "a silence needs \"match\" (e.g. "
                        "\"integration=stripe*\") and \"duration\" (e.g. "
                        "\"2h\") or \"until\" (Unix seconds)");
        return;
    }
    only = json_string_value(json_object_get(body, "filter"));
    args = json_dumps(body, JSON_COMPACT);
    nf = agent_alert_filters(api_agent(api), &filters);
    made = json_array();
    for (size_t i = 0; i < nf && args; i++) {
        char *reply = NULL;
        json_t *r;

        if (only && strcmp(filters[i] + 6, only) != 0)
            continue;
        if (agent_control(api_agent(api), filters[i], "silence", args,
                          &reply) == 0
            && (r = json_loads(reply ? reply : "", 0, NULL)) != NULL) {
            json_object_set_new(r, "filter", json_string(filters[i] + 6));
            json_array_append_new(made, r);
        } else if (err == NULL) {
            err = reply;
            reply = NULL;
        }
        free(reply);
    }
    free_names(filters, nf);
    free(args);
    if (json_array_size(made) == 0) {
        json_decref(made);
        if (err)
            api_reply_error(res, 400, "%s", err);
        else
            api_reply_error(res, 404, only ? "no alert filter \"%s\""
                            : "no alert filter is configured%s",
                            only ? only : "");
        free(err);
        json_decref(body);      /* only points into it */
        return;
    }
    free(err);
    json_decref(body);
    api_reply_json(res, 201, json_pack("{s:O,s:o}", "id",
                                       json_object_get(json_array_get(made,
                                                                      0),
                                                       "id"),
                                       "silences", made));
}

static void
silences_delete(const struct api_request *req, struct api_response *res,
                void *arg)
{
    struct api *api = api_req_api(req);
    const char *id = *api_req_tail(req) ? api_req_tail(req)
                                        : api_req_query(req, "id");
    char **filters, *args;
    size_t nf, removed = 0;
    json_t *j;

    (void) arg;
    if (id == NULL || *id == '\0' || strchr(id, '/')) {
        api_reply_error(res, 400, "give the silence: DELETE "
                        "/api/v1/silences/<id>");
        return;
    }
    j = json_pack("{s:s}", "id", id);
    args = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    nf = agent_alert_filters(api_agent(api), &filters);
    for (size_t i = 0; i < nf && args; i++) {
        char *reply = NULL;

        if (agent_control(api_agent(api), filters[i], "unsilence", args,
                          &reply) == 0)
            removed++;
        free(reply);
    }
    free_names(filters, nf);
    free(args);
    if (removed == 0)
        api_reply_error(res, 404, "no silence \"%s\"", id);
    else
        api_reply_json(res, 200, json_pack("{s:s}", "removed", id));
}

void
api_routes_alerts(struct api *api)
{
    api_route(api, "GET", "/api/v1/alerts", 0, list, NULL);
    api_route(api, "POST", "/api/v1/alerts/", API_PREFIX | API_AUTH, change,
              NULL);
    api_route(api, "GET", "/api/v1/silences", 0, silences_get, NULL);
    api_route(api, "POST", "/api/v1/silences", API_AUTH, silences_post,
              NULL);
    api_route(api, "DELETE", "/api/v1/silences", API_AUTH, silences_delete,
              NULL);
    api_route(api, "DELETE", "/api/v1/silences/", API_PREFIX | API_AUTH,
              silences_delete, NULL);
}
