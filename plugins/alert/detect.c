/*
 * detect.c - from checks to alerts. Per integration it keeps the last
 * known status, failed and good checks in a row, and the times of recent
 * status changes; from those it opens, repeats, updates and resolves the
 * integration's "health" alert and its "flapping" alert.
 *
 * A check is
 *   bad   when it failed, or its status is one of open_on;
 *   good  when it succeeded with a status that is not (healthy, or
 *         degraded when degraded is not in open_on);
 *   neither when its status is unknown (stale, no credentials): it
 *         neither opens nor resolves anything.
 * The health alert opens after consecutive_failures failed checks, or at
 * once on a successful check whose status is in open_on (slow responses,
 * a status page reporting an outage); it resolves after success_threshold
 * good checks. While open, bad checks are occurrences; one of them is
 * re-notified each repeat_interval unless acknowledged, and a worse
 * severity is notified at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <outpost/fields.h>
#include "alert.h"
#include "lookup.h"
#include "verdict.h"

#define MSG_MAX 512

struct rolling_entry *
al_integ_get(struct alerter *st, const char *name)
{
    return rolling_table_get(st->integs, name, NULL);
}

struct al_integ *
al_integ_find(const struct alerter *st, const char *name)
{
    struct rolling_entry *e = rolling_table_find(st->integs, name);

    return e ? rolling_slot(e) : NULL;
}

static struct al_alert *
alert_for(struct alerter *st, const struct rolling_entry *e,
          const char *condition)
{
    char key[512];

    snprintf(key, sizeof(key), "outpost/%s/%s", e->name, condition);
    return al_alert_get(st, key, e->name, condition);
}

static void
utc_text(int64_t ns, char *buf, size_t len)
{
    time_t t = (time_t) (ns / NS_PER_S);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- flapping ------------------------------------------------------------ */

size_t
al_flap_count(const struct alerter *st, const struct al_integ *in,
              int64_t now)
{
    int64_t since = now - st->conf->flap_window_ms * NS_PER_MS;
    size_t n = 0;

    for (size_t i = 0; i < in->nchanges; i++)
        if (in->changes[i] > since)
            n++;
    return n;
}

static void
flap_start(struct alerter *st, struct rolling_entry *e, outpost_record_t *rec,
           outpost_emitter_t *out, int64_t now)
{
    struct al_integ *in = rolling_slot(e);
    struct al_alert *a = in->flap ? in->flap : alert_for(st, e, "flapping");
    char msg[MSG_MAX], window[32];

    if (a == NULL || al_alert_opened(st, a, now) != 0)
        return;
    in->flap = a;
    in->flapping = 1;
    al_alert_set_tags(a, rec->tags);
    a->status = in->status;
    a->sev = al_rules_eval(st->rules, st->nrules, al_alert_attr, a);
    al_duration_format(st->conf->flap_window_ms, window, sizeof(window));
    snprintf(msg, sizeof(msg), "%s is flapping: %zu status changes in %s "
             "(now %s)", e->name, al_flap_count(st, in, now), window,
             al_status_name(in->status));
    al_notify(st, a, AL_OPEN, msg, rec, out, now);
}

/* Counts a change of known status; unknown (stale, deferred probes) is
 * not a status of its own here, or an open circuit would look flapping. */
static void
flap_track(struct alerter *st, struct rolling_entry *e, enum al_status status,
           outpost_record_t *rec, outpost_emitter_t *out, int64_t now)
{
    struct al_integ *in = rolling_slot(e);

    if (status == AL_UNKNOWN || status == in->status)
        return;
    if (in->status == AL_UNKNOWN) {
        in->status = status;            /* first sight is not a change */
        return;
    }
    in->status = status;
    if (st->conf->flap_threshold == 0)
        return;
    in->changes[in->head] = now;
    in->head = (in->head + 1) % AL_FLAP_MAX;
    if (in->nchanges < AL_FLAP_MAX)
        in->nchanges++;
    if (!in->flapping
        && al_flap_count(st, in, now) > (size_t) st->conf->flap_threshold)
        flap_start(st, e, rec, out, now);
}

/* From tick: flapping ends once changes in the window fall to half the
 * threshold. The health alert's muted opening is then delivered by tick
 * if it is still open. */
void
al_flap_tick(struct alerter *st, struct al_alert *flap,
             outpost_emitter_t *out, int64_t now)
{
    struct al_integ *in = al_integ_find(st, flap->integration);
    char msg[MSG_MAX];

    if (in == NULL || !in->flapping) {
        al_alert_closed(st, flap);
        return;
    }
    if (al_flap_count(st, in, now) > (size_t) st->conf->flap_threshold / 2)
        return;
    in->flapping = 0;
    flap->status = in->status;
    snprintf(msg, sizeof(msg), "%s stopped flapping (now %s)",
             flap->integration, al_status_name(in->status));
    al_notify(st, flap, AL_RESOLVE, msg, NULL, out, now);
    al_alert_closed(st, flap);
}

/* --- the health alert ---------------------------------------------------- */

/* What every message about a check adds after its own words, so the
 * person it reaches knows at once whether it is us or them, and where the
 * traffic went: "; Stripe reports a major outage: Elevated API errors;
 * checkout traffic moved to paypal". */
static void
add_context(const outpost_record_t *rec, const char *integration, char *msg,
            size_t len)
{
    size_t off = strlen(msg);
    const char *active = outpost_record_string(rec, OUTPOST_F_FAILOVER_ACTIVE);
    const char *group = outpost_record_tag(rec, OUTPOST_TAG_FAILOVER_GROUP);
    /* A status page's own check: its verdict is the whole story. */
    int page = outpost_record_string(rec, OUTPOST_F_INDICATOR) != NULL;
    char vendor[256];

    if (verdict_text(rec, vendor, sizeof(vendor))[0] && off < len)
        off += (size_t) snprintf(msg + off, len - off, "%s%s",
                                 page ? ": " : "; ", vendor);
    if (active && group && strcmp(active, integration) != 0 && off < len)
        snprintf(msg + off, len - off, active[0]
                 ? "; %s traffic moved to %s" : "; %s has no provider left%s",
                 group, active);
}

/* Counts are of bad checks: failed ones, or ones whose status is in
 * open_on. A failure-only outage reads the same in the log ("check
 * recovered after 10 failed checks"), the alert and its resolve. */
static void
describe_open(struct rolling_entry *e, outpost_record_t *rec,
              enum al_status status, int success, char *msg, size_t len)
{
    const struct al_integ *in = rolling_slot(e);
    const char *error = outpost_record_string(rec, OUTPOST_F_ERROR);
    double ms = outpost_record_number(rec, OUTPOST_F_RESPONSE_MS, -1);

    if (!success)
        snprintf(msg, len, "%s is down: %lld failed check%s in a row%s%s%s",
                 e->name, (long long) in->fail_streak,
                 in->fail_streak == 1 ? "" : "s", error ? " (" : "",
                 error ? error : "", error ? ")" : "");
    else if (verdict_status(rec) && outpost_record_string(rec, OUTPOST_F_INDICATOR))
        snprintf(msg, len, "%s is %s", e->name, al_status_name(status));
    else if (ms >= 0)
        snprintf(msg, len, "%s is %s (%.0f ms)", e->name,
                 al_status_name(status), ms);
    else
        snprintf(msg, len, "%s is %s", e->name, al_status_name(status));
    add_context(rec, e->name, msg, len);
}

static void
health_open(struct alerter *st, struct rolling_entry *e,
            outpost_record_t *rec, enum al_status status, int success,
            outpost_emitter_t *out, int64_t now)
{
    struct al_integ *in = rolling_slot(e);
    struct al_alert *a = in->health ? in->health
                                    : alert_for(st, e, "health");
    char msg[MSG_MAX];

    if (a == NULL || al_alert_opened(st, a, now) != 0)
        return;
    in->health = a;
    /* The failed checks that opened it are its first occurrences. */
    if (!success && in->fail_streak > 1)
        a->occurrences = in->fail_streak;
    al_alert_set_tags(a, rec->tags);
    a->status = status;
    a->sev = al_rules_eval(st->rules, st->nrules, al_alert_attr, a);
    describe_open(e, rec, status, success, msg, sizeof(msg));
    al_notify(st, a, AL_OPEN, msg, rec, out, now);
}

static void
health_repeat(struct alerter *st, struct al_alert *a, outpost_record_t *rec,
              enum al_status status, outpost_emitter_t *out, int64_t now)
{
    enum al_status was = a->status;
    enum al_sev sev;
    char msg[MSG_MAX], since[32];

    a->occurrences++;
    a->last_seen_ns = now;
    a->status = status;
    al_alert_set_tags(a, rec->tags);
    sev = al_rules_eval(st->rules, st->nrules, al_alert_attr, a);
    if (sev < a->sev) {                 /* worse: tell at once */
        a->sev = sev;
        snprintf(msg, sizeof(msg), "%s is now %s (was %s), %s",
                 a->integration, al_status_name(status), al_status_name(was),
                 al_sev_name(sev));
        add_context(rec, a->integration, msg, sizeof(msg));
        al_notify(st, a, AL_UPDATE, msg, rec, out, now);
        return;
    }
    /* An alert keeps the worst severity it reached while open. */
    if (a->acked || now - a->last_notify_ns
                    < st->conf->repeat_interval_ms * NS_PER_MS)
        return;
    utc_text(a->opened_ns, since, sizeof(since));
    snprintf(msg, sizeof(msg), "%s is still %s: %lld bad checks since %s",
             a->integration, al_status_name(status),
             (long long) a->occurrences, since);
    add_context(rec, a->integration, msg, sizeof(msg));
    al_notify(st, a, AL_REPEAT, msg, rec, out, now);
}

static void
health_resolve(struct alerter *st, struct al_alert *a, outpost_record_t *rec,
               enum al_status status, outpost_emitter_t *out, int64_t now)
{
    char msg[MSG_MAX], took[32];

    a->status = status;
    al_alert_set_tags(a, rec->tags);
    al_duration_format((now - a->opened_ns) / NS_PER_MS, took, sizeof(took));
    snprintf(msg, sizeof(msg), "%s recovered: %lld bad check%s in %s",
             a->integration, (long long) a->occurrences,
             a->occurrences == 1 ? "" : "s", took);
    al_notify(st, a, AL_RESOLVE, msg, rec, out, now);
    al_alert_closed(st, a);
}

void
al_detect(struct alerter *st, outpost_record_t *rec, outpost_emitter_t *out)
{
    const char *status_text;
    const outpost_field_t *ok;
    int64_t now = outpost_time_now();
    struct rolling_entry *e;
    struct al_integ *in;
    enum al_status status, seen;
    int success, bad, good;

    rolling_table_prefetch(st->integs, rec);    /* while we read rec */
    status_text = lookup_str(rec, st->k_status);
    ok = lookup_field(rec, st->k_success);

    /* Only checks: a measurement says success or status. */
    if (status_text == NULL && ok == NULL)
        return;
    success = lookup_num(rec, st->k_success, 1) != 0;
    /* seen: the health filter's verdict, which flapping follows; status:
     * what the alert reports, where a failed check is always down. */
    seen = status_text ? al_status_parse(status_text)
                       : success ? AL_HEALTHY : AL_DOWN;
    /* Unknown (credentials missing, the agent itself overloaded, stale)
     * says nothing of the vendor: it neither opens nor resolves, and is
     * no failure in a row. */
    if (status_text && seen == AL_UNKNOWN)
        return;
    status = success ? seen : AL_DOWN;
    /* By rec's tag set when an earlier check had the same (rolling.h);
     * NULL when rec has no integration tag. */
    if ((e = rolling_table_get_rec(st->integs, rec, NULL)) == NULL)
        return;
    in = rolling_slot(e);
    st->dirty = 1;
    bad = !success || (st->open_on & (1u << status));
    good = !bad && status != AL_UNKNOWN;
    in->fail_streak = success ? 0 : in->fail_streak + 1;
    in->good_streak = good ? in->good_streak + 1 : 0;
    flap_track(st, e, seen, rec, out, now);

    if (in->health && in->health->open) {
        if (bad)
            health_repeat(st, in->health, rec, status, out, now);
        else if (good && in->good_streak >= st->conf->success_threshold)
            health_resolve(st, in->health, rec, status, out, now);
        return;
    }
    if (success ? bad : in->fail_streak >= st->conf->consecutive_failures)
        health_open(st, e, rec, status, success, out, now);
}
