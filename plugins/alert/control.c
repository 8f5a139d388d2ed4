/*
 * control.c - operator commands (from the HTTP API, or tests):
 *
 *   ack        {"dedup_key": K} or {"integration": I}, optional "by",
 *              "comment": stops escalation and reminders of the matching
 *              open alerts; records an alert event action=acknowledge.
 *              -> {"acknowledged": [K...]}
 *   resolve    {"dedup_key": K} or {"integration": I}, optional "by":
 *              closes matching open alerts by hand (an integration that
 *              was removed from the config never recovers by itself);
 *              the resolve goes to those who were told.
 *              -> {"resolved": [K...]}
 *   silence    {"match": "integration=stripe*,severity=high",
 *              "until": <unix seconds> | "duration": "2h",
 *              "comment": .., "created_by": ..} -> {"id": "s1", "until": ..}
 *   unsilence  {"id": "s1"} -> {"removed": "s1"}
 *   silences   -> {"silences": [...]}: status's list alone (the API)
 *   status     -> {"alerts": [...], "silences": [...],
 *                  "maintenance": [...], "flapping": [...]}
 *   stats      -> {"integrations": .., "alerts": .., "open": ..,
 *                  "state_bytes": ..}: what the tables hold (bench)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "alert.h"

static int
fail(char **reply, const char *msg)
{
    *reply = strdup(msg);
    return -1;
}

static const char *
str_arg(const json_t *args, const char *key)
{
    return json_string_value(json_object_get(args, key));
}

/* --- ack ---------------------------------------------------------------- */

static int
ack_one(struct alerter *st, struct al_alert *a, const char *by,
        const char *comment, outpost_emitter_t *out, int64_t now)
{
    char msg[512];

    if (a->acked)
        return 0;
    a->acked = 1;
    a->acked_ns = now;
    free(a->acked_by);
    a->acked_by = strdup(by);
    snprintf(msg, sizeof(msg), "%s: %s alert acknowledged by %s%s%s",
             a->integration, a->condition, by, comment[0] ? ": " : "",
             comment);
    al_notify(st, a, AL_ACK, msg, NULL, out, now);
    return 1;
}

static void
resolve_one(struct alerter *st, struct al_alert *a, const char *by,
            outpost_emitter_t *out, int64_t now)
{
    char msg[512];

    snprintf(msg, sizeof(msg), "%s: %s alert resolved by %s",
             a->integration, a->condition, by);
    al_notify(st, a, AL_RESOLVE, msg, NULL, out, now);
    al_alert_closed(st, a);
}

/* ack and resolve: apply to every open alert that args select. */
static int
cmd_select(struct alerter *st, const char *cmd, const json_t *args,
           outpost_emitter_t *out, char **reply)
{
    const char *key = str_arg(args, "dedup_key");
    const char *integ = str_arg(args, "integration");
    const char *by = str_arg(args, "by");
    const char *comment = str_arg(args, "comment");
    int ack = strcmp(cmd, "ack") == 0;
    json_t *done = json_array(), *r;
    int64_t now = outpost_time_now();

    if (key == NULL && integ == NULL) {
        json_decref(done);
        return fail(reply, "give \"dedup_key\" or \"integration\"");
    }
    /* Backwards: resolving moves the last open alert into the slot. */
    for (size_t i = st->nopen; i-- > 0;) {
        struct al_alert *a = st->open[i];
        if ((key && strcmp(a->key, key) != 0)
            || (integ && strcmp(a->integration, integ) != 0))
            continue;
        json_array_append_new(done, json_string(a->key));
        if (ack)
            ack_one(st, a, by ? by : "operator", comment ? comment : "",
                    out, now);
        else
            resolve_one(st, a, by ? by : "operator", out, now);
    }
    if (json_array_size(done) == 0) {
        json_decref(done);
        return fail(reply, "no open alert matches");
    }
    r = json_pack("{s:o}", ack ? "acknowledged" : "resolved", done);
    *reply = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return 0;
}

/* --- silences ----------------------------------------------------------- */

static int
silence_until(const json_t *args, int64_t now, int64_t *until, char *err,
              size_t errlen)
{
    const json_t *u = json_object_get(args, "until");
    const char *d = str_arg(args, "duration");
    int64_t ms;

    if (json_is_number(u)) {
        *until = (int64_t) (json_number_value(u) * (double) NS_PER_S);
        return 0;
    }
    if (d && outpost_duration_parse(d, &ms) == 0 && ms > 0) {
        *until = now + ms * NS_PER_MS;
        return 0;
    }
    snprintf(err, errlen, "silence needs \"until\" (unix seconds) or "
             "\"duration\" (e.g. \"2h\")");
    return -1;
}

static int
cmd_silence(struct alerter *st, const json_t *args, char **reply)
{
    const char *match = str_arg(args, "match");
    const char *by = str_arg(args, "created_by");
    char err[300], id[24] = "";
    int64_t now = outpost_time_now(), until;
    json_t *r;

    if (match == NULL)
        return fail(reply, "silence needs \"match\" (e.g. "
                    "\"integration=stripe*\")");
    if (silence_until(args, now, &until, err, sizeof(err)) != 0
        || al_silence_add(st, match, until, str_arg(args, "comment"),
                          by ? by : str_arg(args, "by"), now, id,
                          sizeof(id), err, sizeof(err)) != 0)
        return fail(reply, err);
    st->urgent = 1;
    r = json_pack("{s:s,s:I}", "id", id, "until",
                  (json_int_t) (until / NS_PER_S));
    *reply = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return 0;
}

static int
cmd_unsilence(struct alerter *st, const json_t *args, char **reply)
{
    const char *id = str_arg(args, "id");
    json_t *r;

    if (id == NULL || al_silence_remove(st, id) != 0)
        return fail(reply, "unsilence needs the \"id\" of a silence");
    st->urgent = 1;
    r = json_pack("{s:s}", "removed", id);
    *reply = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return 0;
}

/* --- status ------------------------------------------------------------- */

static json_t *
alert_json(struct alerter *st, const struct al_alert *a, int64_t now)
{
    char buf[48];
    const char *muted = al_mute_reason(st, a, now, buf, sizeof(buf));

    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:b,s:b,s:s?,"
                     "s:s?,s:s?}",
                     "dedup_key", a->key, "integration", a->integration,
                     "condition", a->condition,
                     "severity", al_sev_name(a->sev),
                     "status", al_status_name(a->status),
                     "occurrences", (json_int_t) a->occurrences,
                     "since", (json_int_t) (a->opened_ns / NS_PER_S),
                     "notified", (json_int_t) (a->notified_ns / NS_PER_S),
                     "escalated", a->escalated, "acknowledged", a->acked,
                     "acknowledged_by", a->acked_by,
                     "muted", muted, "message", a->message);
}

static json_t *
silence_json(const struct al_silence *s)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:s,s:s}", "id", s->id,
                     "match", s->match_text,
                     "until", (json_int_t) (s->until_ns / NS_PER_S),
                     "created", (json_int_t) (s->created_ns / NS_PER_S),
                     "comment", s->comment, "created_by", s->created_by);
}

static int
cmd_status(struct alerter *st, char **reply)
{
    json_t *alerts = json_array(), *silences = json_array();
    json_t *windows = json_array(), *flapping = json_array(), *r;
    int64_t now = outpost_time_now();

    for (size_t i = 0; i < st->nopen; i++)
        json_array_append_new(alerts, alert_json(st, st->open[i], now));
    for (size_t i = 0; i < st->nsilences; i++)
        json_array_append_new(silences, silence_json(&st->silences[i]));
    for (size_t i = 0; i < st->nwindows; i++)
        json_array_append_new(windows, json_pack("{s:s,s:b}",
            "window", st->windows[i].text,
            "active", al_window_covers(&st->windows[i], now)));
    for (size_t i = 0; i < rolling_table_count(st->integs); i++) {
        struct rolling_entry *e = rolling_table_at(st->integs, i);
        const struct al_integ *in = rolling_slot(e);

        if (in->flapping)
            json_array_append_new(flapping, json_string(e->name));
    }
    r = json_pack("{s:o,s:o,s:o,s:o}", "alerts", alerts,
                  "silences", silences, "maintenance", windows,
                  "flapping", flapping);
    *reply = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return 0;
}

static int
cmd_silences(struct alerter *st, char **reply)
{
    json_t *silences = json_array(), *r;

    for (size_t i = 0; i < st->nsilences; i++)
        json_array_append_new(silences, silence_json(&st->silences[i]));
    r = json_pack("{s:o}", "silences", silences);
    *reply = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return 0;
}

static void
alert_bytes(void *value, void *arg)
{
    const struct al_alert *a = value;

    *(size_t *) arg += sizeof(*a) + strlen(a->key) + strlen(a->integration)
                       + strlen(a->condition) + 3
                       + (a->message ? strlen(a->message) + 1 : 0)
                       + (a->told ? strlen(a->told) + 1 : 0);
}

static int
cmd_stats(struct alerter *st, char **reply)
{
    size_t bytes = rolling_table_bytes(st->integs)
                   + st->alerts.cap * sizeof(st->alerts.slots[0])
                   + st->capopen * sizeof(st->open[0]);

    strmap_each(&st->alerts, alert_bytes, &bytes);
    if (asprintf(reply, "{\"integrations\":%zu,\"alerts\":%zu,"
                 "\"open\":%zu,\"state_bytes\":%zu}",
                 rolling_table_count(st->integs),
                 st->alerts.n, st->nopen, bytes) < 0) {
        *reply = NULL;
        return -1;
    }
    return 0;
}

int
al_control(struct alerter *st, const char *cmd, const char *args,
           outpost_emitter_t *out, char **reply)
{
    json_t *a = json_loads(args ? args : "{}", 0, NULL);
    int rc;

    *reply = NULL;
    if (!json_is_object(a)) {
        json_decref(a);
        return fail(reply, "arguments must be a JSON object");
    }
    if (strcmp(cmd, "ack") == 0 || strcmp(cmd, "resolve") == 0)
        rc = cmd_select(st, cmd, a, out, reply);
    else if (strcmp(cmd, "silence") == 0)
        rc = cmd_silence(st, a, reply);
    else if (strcmp(cmd, "unsilence") == 0)
        rc = cmd_unsilence(st, a, reply);
    else if (strcmp(cmd, "status") == 0)
        rc = cmd_status(st, reply);
    else if (strcmp(cmd, "silences") == 0)
        rc = cmd_silences(st, reply);
    else if (strcmp(cmd, "stats") == 0)
        rc = cmd_stats(st, reply);
    else
        rc = fail(reply, "unknown command (alert knows: ack, resolve, "
                  "silence, unsilence, silences, status, stats)");
    json_decref(a);
    return rc;
}
