/*
 * upstream.c - events that reach the alert filter from earlier filters.
 *
 * alert / resolve (the sla filter's burn-rate alerts) are alerts like
 * ours: they are tracked by dedup key, grouped and throttled, routed by
 * their severity's policy (critical <- critical, error <- high, warning
 * <- medium, info <- low), muted, acknowledged and escalated the same
 * way. The travelling event itself is annotated; a repeat inside
 * repeat_interval is recorded with muted=true, mute_reason="grouped".
 *
 * state_change, circuit and failover events inform rather than alarm:
 * once any policy is configured they reach only the outputs listed in
 * events_notify (none by default), and silences and maintenance windows
 * mute them too. Without policies they are left alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include "alert.h"

static enum al_sev
sev_of(outpost_severity_t s)
{
    return (enum al_sev) outpost_severity_priority(s);
}

/* "outpost/<integration>/<condition>" -> condition; else the whole key. */
static const char *
condition_of(const char *key, const char *integration)
{
    size_t n = strlen(integration);

    if (strncmp(key, "outpost/", 8) == 0
        && strncmp(key + 8, integration, n) == 0 && key[8 + n] == '/')
        return key + 9 + n;
    return key;
}

static void
mark_grouped(struct al_alert *a, outpost_record_t *ev)
{
    outpost_record_set_tag(ev, OUTPOST_TAG_NOTIFY, "");
    outpost_record_add_str(ev, OUTPOST_F_ACTION, "repeat");
    outpost_record_add_str(ev, "condition", a->condition);
    outpost_record_add_str(ev, OUTPOST_F_PRIORITY, al_sev_name(a->sev));
    outpost_record_add_int(ev, OUTPOST_F_OCCURRENCES, a->occurrences);
    outpost_record_add_bool(ev, "acknowledged", a->acked);
    outpost_record_add_bool(ev, OUTPOST_F_MUTED, 1);
    outpost_record_add_str(ev, OUTPOST_F_MUTE_REASON, "grouped");
}

static void
upstream_alert(struct alerter *st, struct al_alert *a, outpost_record_t *ev,
               int64_t now)
{
    enum al_sev sev = sev_of((outpost_severity_t) ev->severity);
    const char *status = outpost_record_string(ev, OUTPOST_F_STATUS);

    if (!a->open) {
        if (al_alert_opened(st, a, now) != 0)
            return;
        a->sev = sev;
        a->status = status ? al_status_parse(status) : AL_DOWN;
        al_decorate(st, a, AL_OPEN, ev, now);
        return;
    }
    a->occurrences++;
    a->last_seen_ns = now;
    if (sev < a->sev) {
        a->sev = sev;
        al_decorate(st, a, AL_UPDATE, ev, now);
    } else if (!a->acked && now - a->last_notify_ns
                            >= st->conf->repeat_interval_ms * NS_PER_MS) {
        al_decorate(st, a, AL_REPEAT, ev, now);
    } else {
        mark_grouped(a, ev);
    }
}

void
al_upstream(struct alerter *st, outpost_record_t *ev)
{
    const char *key = ev->event->dedup_key;
    const char *integ = outpost_record_tag(ev, OUTPOST_TAG_INTEGRATION);
    int64_t now = outpost_time_now();
    struct al_alert *a;

    if (key == NULL || key[0] == '\0')
        return;                         /* nothing to track it by */
    if (integ == NULL)
        integ = "";
    a = al_alert_get(st, key, integ, condition_of(key, integ));
    if (a == NULL)
        return;
    a->upstream = 1;
    al_alert_set_tags(a, ev->tags);
    if (ev->event_kind == OUTPOST_EV_RESOLVE)
        ev->severity = OUTPOST_SEV_INFO;        /* good news */
    if (ev->event_kind == OUTPOST_EV_ALERT) {
        upstream_alert(st, a, ev, now);
    } else if (a->open) {
    al_decorate(st, a, AL_RESOLVE, ev, now);
        al_alert_closed(st, a);
    } else {
        /* We never told anyone of this one: record it only. */
        outpost_record_set_tag(ev, OUTPOST_TAG_NOTIFY, "");
        outpost_record_add_bool(ev, OUTPOST_F_MUTED, 1);
        outpost_record_add_str(ev, OUTPOST_F_MUTE_REASON, "not notified");
    }
}

/* Matching attributes of a travelling record: its tags, then severity
 * and kind, then its fields. */
static const char *
record_attr(const void *obj, const char *key)
{
    const outpost_record_t *rec = obj;
    const char *v = outpost_record_tag(rec, key);

    if (v)
        return v;
    if (strcmp(key, "kind") == 0)
        return outpost_event_kind_name(rec->event_kind);
    return outpost_record_string(rec, key);
}

void
al_route_other(struct alerter *st, outpost_record_t *ev)
{
    const outpost_strlist_t *to = &st->conf->events_notify;
    const struct al_silence *s;
    int64_t now = outpost_time_now();
    char *list, why[48];

    if (!st->has_policy && to->n == 0)
        return;
    if (to->n == 0) {
        outpost_record_set_tag(ev, OUTPOST_TAG_NOTIFY, "");      /* recorded only */
        return;
    }
    s = al_silence_active(st, record_attr, ev, now);
    if (s || al_window_active(st, record_attr, ev, now)) {
        if (s)
            snprintf(why, sizeof(why), "silence %s", s->id);
        else
            snprintf(why, sizeof(why), "maintenance");
        outpost_record_set_tag(ev, OUTPOST_TAG_NOTIFY, "");
        outpost_record_add_bool(ev, OUTPOST_F_MUTED, 1);
        outpost_record_add_str(ev, OUTPOST_F_MUTE_REASON, why);
        return;
    }
    list = al_names_join(to);
    outpost_record_set_tag(ev, OUTPOST_TAG_NOTIFY, list ? list : "");
    free(list);
}
