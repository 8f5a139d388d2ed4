/*
 * store.c - the alert filter's state file, alerts.json in its state
 * directory: the streaks and recent status changes of every integration
 * that is not simply fine, the open alerts with their timers, and the
 * silences. Saved from tick (at once after a notification, an ack or a
 * silence; otherwise every 30 s while checks change the streaks) and at
 * shutdown; restored at init, so a restart neither pages again for an
 * open alert nor restarts its escalation clock.
 *
 * The integrations' table is a rolling_table whose slots hold pointers
 * (alert.h), so it is saved here, as JSON, never with rolling_state_*:
 * in statefile.h's format, one entry per integration worth saving, its
 * state {"status","fail_streak","good_streak","flapping","changes"}, and
 * as "global" {"next_silence","alerts":[...],"silences":[...]}. Tick
 * only builds the JSON values (copies); the state file's thread encodes
 * and writes them. A version 1 file (one document: "version",
 * "next_silence", "integrations" with a "name" in each, "alerts",
 * "silences") is still read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "alert.h"
#include "statefile.h"

#define STATE_FILE    "alerts.json"
#define STATE_LAYOUT  1

/* --- saving ------------------------------------------------------------- */

struct save_ctx {
    const struct alerter  *st;
    struct statefile_snap *snap;
    int64_t                now;
};

/* An integration that is fine, not flapping and has nothing open is the
 * same as one never seen: leaving it out keeps the file (and the time
 * tick spends under the pipeline lock writing it) proportional to the
 * trouble, not to the number of integrations. */
static int
worth_saving(const struct alerter *st, const struct al_integ *in,
             int64_t now)
{
    return in->fail_streak > 0 || in->flapping
           || (in->health && in->health->open)
           || al_flap_count(st, in, now) > 0;
}

static void
integ_save(struct save_ctx *ctx, struct rolling_entry *e)
{
    const struct al_integ *in = rolling_slot(e);
    int64_t since = ctx->now - ctx->st->conf->flap_window_ms * NS_PER_MS;
    json_t *changes;

    if (!worth_saving(ctx->st, in, ctx->now))
        return;
    changes = json_array();

    /* Oldest first: the ring's head is the next slot to write. Changes
     * older than the flap window no longer count: not worth keeping. */
    for (size_t i = 0; i < in->nchanges; i++) {
        size_t at = (in->head + AL_FLAP_MAX - in->nchanges + i) % AL_FLAP_MAX;
        if (in->changes[at] > since)
            json_array_append_new(changes, json_integer(in->changes[at]));
    }
    statefile_snap_json(ctx->snap, e->name, NULL, json_pack(
        "{s:s,s:I,s:I,s:b,s:o}", "status", al_status_name(in->status),
        "fail_streak", (json_int_t) in->fail_streak,
        "good_streak", (json_int_t) in->good_streak,
        "flapping", in->flapping, "changes", changes));
}

static json_t *
tags_json(const outpost_tagset_t *tags)
{
    json_t *o = json_object();

    for (size_t i = 0; tags && i < outpost_tagset_count(tags); i++) {
        const outpost_tag_t *t = outpost_tagset_at(tags, i);
        json_object_set_new(o, t->key, json_string(t->value));
    }
    return o;
}

static json_t *
alert_save(const struct al_alert *a)
{
    return json_pack(
        "{s:s,s:s,s:s,s:b,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:b,s:b,s:b,s:I,"
        "s:s?,s:s?,s:s?,s:o}",
        "key", a->key, "integration", a->integration,
        "condition", a->condition, "upstream", a->upstream,
        "severity", al_sev_name(a->sev), "status", al_status_name(a->status),
        "occurrences", (json_int_t) a->occurrences,
        "opened_ns", (json_int_t) a->opened_ns,
        "last_seen_ns", (json_int_t) a->last_seen_ns,
        "notified_ns", (json_int_t) a->notified_ns,
        "last_notify_ns", (json_int_t) a->last_notify_ns,
        "pending", a->pending, "escalated", a->escalated,
        "acked", a->acked, "acked_ns", (json_int_t) a->acked_ns,
        "acked_by", a->acked_by, "told", a->told, "message", a->message,
        "tags", tags_json(a->tags));
}

static json_t *
silence_save(const struct al_silence *s)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:s,s:s}", "id", s->id,
                     "match", s->match_text,
                     "until_ns", (json_int_t) s->until_ns,
                     "created_ns", (json_int_t) s->created_ns,
                     "comment", s->comment, "created_by", s->created_by);
}

static struct statefile_snap *
snapshot(struct alerter *st)
{
    json_t *alerts = json_array(), *silences = json_array();
    struct save_ctx ctx = { st, statefile_snap_new(st->state),
                            outpost_time_now() };

    for (size_t i = 0; i < rolling_table_count(st->integs); i++)
        integ_save(&ctx, rolling_table_at(st->integs, i));
    for (size_t i = 0; i < st->nopen; i++)
        json_array_append_new(alerts, alert_save(st->open[i]));
    for (size_t i = 0; i < st->nsilences; i++)
        json_array_append_new(silences, silence_save(&st->silences[i]));
    statefile_snap_global(ctx.snap, json_pack(
        "{s:I,s:o,s:o}", "next_silence", (json_int_t) st->next_silence,
        "alerts", alerts, "silences", silences));
    st->urgent = st->dirty = 0;
    st->saved_ns = outpost_time_now();
    return ctx.snap;
}

void
al_store_save(struct alerter *st)
{
    if (st->state)
        statefile_submit(st->state, snapshot(st));
    else
        st->urgent = st->dirty = 0;
}

void
al_store_close(struct alerter *st, int save)
{
    statefile_close(st->state, save && st->state ? snapshot(st) : NULL);
    st->state = NULL;
}

/* --- restoring ---------------------------------------------------------- */

static int64_t
int_of(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static const char *
str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static char *
dup_of(const json_t *o, const char *key)
{
    const char *s = str_of(o, key);

    return s ? strdup(s) : NULL;
}

static void
integ_restore(struct alerter *st, const char *name, const json_t *o)
{
    struct rolling_entry *e = name ? al_integ_get(st, name) : NULL;
    struct al_integ *in;
    const json_t *v;
    size_t i;

    if (e == NULL)
        return;
    in = rolling_slot(e);
    in->status = al_status_parse(str_of(o, "status"));
    in->fail_streak = int_of(o, "fail_streak");
    in->good_streak = int_of(o, "good_streak");
    in->flapping = json_is_true(json_object_get(o, "flapping"));
    json_array_foreach(json_object_get(o, "changes"), i, v) {
        in->changes[in->head] = json_integer_value(v);
        in->head = (in->head + 1) % AL_FLAP_MAX;
        if (in->nchanges < AL_FLAP_MAX)
            in->nchanges++;
    }
}

static outpost_tagset_t *
tags_restore(const json_t *o)
{
    size_t n = json_object_size(o), i = 0;
    outpost_tag_t tags[n ? n : 1];
    const char *key;
    json_t *v;

    json_object_foreach((json_t *) o, key, v)
        if (json_is_string(v))
            tags[i++] = (outpost_tag_t) { key, json_string_value(v) };
    return outpost_tagset_new(tags, i);
}

static void
alert_restore(struct alerter *st, const json_t *o)
{
    const char *key = str_of(o, "key"), *integ = str_of(o, "integration");
    const char *cond = str_of(o, "condition");
    int sev = al_sev_parse(str_of(o, "severity"));
    struct al_alert *a;
    struct rolling_entry *e;
    struct al_integ *in;
    outpost_tagset_t *tags;

    if (!key || !integ || !cond || sev < 0
        || (a = al_alert_get(st, key, integ, cond)) == NULL
        || al_alert_opened(st, a, int_of(o, "opened_ns")) != 0)
        return;
    a->upstream = json_is_true(json_object_get(o, "upstream"));
    a->sev = (enum al_sev) sev;
    a->status = al_status_parse(str_of(o, "status"));
    a->occurrences = int_of(o, "occurrences");
    a->last_seen_ns = int_of(o, "last_seen_ns");
    a->notified_ns = int_of(o, "notified_ns");
    a->last_notify_ns = int_of(o, "last_notify_ns");
    a->pending = json_is_true(json_object_get(o, "pending"));
    a->escalated = json_is_true(json_object_get(o, "escalated"));
    a->acked = json_is_true(json_object_get(o, "acked"));
    a->acked_ns = int_of(o, "acked_ns");
    a->acked_by = dup_of(o, "acked_by");
    a->told = dup_of(o, "told");
    a->message = dup_of(o, "message");
    tags = tags_restore(json_object_get(o, "tags"));
    al_alert_set_tags(a, tags);
    outpost_tagset_unref(tags);
    e = a->upstream ? NULL : al_integ_get(st, integ);
    in = e ? rolling_slot(e) : NULL;
    if (in && strcmp(cond, "health") == 0)
        in->health = a;
    else if (in && strcmp(cond, "flapping") == 0)
        in->flap = a;
}

static void
silence_restore(struct alerter *st, const json_t *o)
{
    char id[24], err[200];
    const char *sid = str_of(o, "id"), *match = str_of(o, "match");

    if (sid == NULL || match == NULL)
        return;
    snprintf(id, sizeof(id), "%s", sid);
    /* created_ns stands in for "now": the silence is kept even if it
     * ended while we were down; the next tick expires it. */
    if (al_silence_add(st, match, int_of(o, "until_ns"), str_of(o, "comment"),
                       str_of(o, "created_by"), int_of(o, "created_ns"), id,
                       sizeof(id), err, sizeof(err)) != 0)
        outpost_log(st->inst, OUTPOST_LOG_WARN, "restore",
                    "dropping saved silence %s: %s", sid, err);
}

/* The global part: open alerts, silences (also a version 1 document,
 * which has them at its top). */
static void
global_restore(const json_t *doc, void *arg)
{
    struct alerter *st = arg;
    const json_t *o;
    size_t i;

    st->next_silence = int_of(doc, "next_silence");
    json_array_foreach(json_object_get(doc, "alerts"), i, o)
        alert_restore(st, o);
    json_array_foreach(json_object_get(doc, "silences"), i, o)
        silence_restore(st, o);
}

static int
entry_restore(const struct statefile_entry *e, void *arg)
{
    if (!json_is_object(e->state))
        return -1;
    integ_restore(arg, e->name, e->state);
    return 0;
}

static int
legacy_restore(const json_t *doc, void *arg)
{
    const json_t *o;
    size_t i;

    json_array_foreach(json_object_get(doc, "integrations"), i, o)
        integ_restore(arg, str_of(o, "name"), o);
    global_restore(doc, arg);
    return 0;
}

void
al_store_restore(struct alerter *st)
{
    struct statefile_reader r = {
        .entry = entry_restore, .global = global_restore,
        .legacy = legacy_restore, .arg = st, .check_first = 1,
    };

    st->state = statefile_for(st->inst, STATE_FILE, STATE_LAYOUT);
    statefile_restore(st->state, &r);
    st->urgent = st->dirty = 0;
    if (st->nopen > 0)
        outpost_log(st->inst, OUTPOST_LOG_INFO, "restore",
                    "%zu open alert(s) restored", st->nopen);
}
