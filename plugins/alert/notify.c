/*
 * notify.c - what reaches people. Every change of an alert becomes one
 * event (alert, resolve or escalate) whose "notify" tag names the output
 * instances that should tell someone:
 *
 *   no policy configured   the tag is left unset: every notifier gets it;
 *   policy for severity    the names in <severity> (plus <severity>_escalate
 *                          once escalated);
 *   muted                  the tag is "" (no notifier) and the fields say
 *                          muted=true, mute_reason="silence s3" |
 *                          "maintenance" | "flapping" | "not notified".
 *
 * Recording outputs (jsonl, postgres, kafka...) ignore the tag, so muted
 * events are still recorded. A resolve goes to exactly the outputs that
 * were told about the alert, so an incident that paged someone is always
 * closed, even under a silence; an alert no one was told about resolves
 * muted. An acknowledgement goes the same way as a resolve (the
 * PagerDuty incident is acknowledged, Slack says who took it); without a
 * policy, to every notifier once the alert was notified.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include "alert.h"
#include "verdict.h"

#define MSG_MAX 512

outpost_severity_t
al_record_severity(enum al_sev s)
{
    return outpost_priority_severity(s);
}

/* --- lists of output names ---------------------------------------------- */

static int
listed(const char *list, const char *name, size_t len)
{
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, len) == 0)
            return 1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* Adds the len bytes at name to the comma-separated *list (malloc'ed,
 * may be NULL) unless already there. */
static void
list_add(char **list, const char *name, size_t len)
{
    size_t have = *list ? strlen(*list) : 0;
    char *l;

    if (len == 0 || listed(*list, name, len))
        return;
    l = realloc(*list, have + len + 2);
    if (l == NULL)
        return;
    if (have)
        l[have++] = ',';
    memcpy(l + have, name, len);
    l[have + len] = '\0';
    *list = l;
}

static void
list_add_all(char **list, const outpost_strlist_t *names)
{
    for (size_t i = 0; i < names->n; i++)
        list_add(list, names->v[i], strlen(names->v[i]));
}

char *
al_names_join(const outpost_strlist_t *names)
{
    char *list = NULL;

    list_add_all(&list, names);
    return list ? list : strdup("");
}

static void
list_merge(char **list, const char *csv)
{
    for (const char *p = csv; p && *p;) {
        size_t n = strcspn(p, ",");
        list_add(list, p, n);
        p += n;
        if (*p == ',')
            p++;
    }
}

/* --- muting and routing ------------------------------------------------- */

const char *
al_mute_reason(struct alerter *st, const struct al_alert *a, int64_t now,
               char *buf, size_t len)
{
    const struct al_silence *s = al_silence_active(st, al_alert_attr, a,
                                                   now);
    const struct al_integ *in;

    if (s) {
        snprintf(buf, len, "silence %s", s->id);
        return buf;
    }
    if (al_window_active(st, al_alert_attr, a, now))
        return "maintenance";
    if (strcmp(a->condition, "health") == 0) {
        in = al_integ_find(st, a->integration);
        if (in && in->flapping)
            return "flapping";
    }
    return NULL;
}

/* The outputs for act on a, malloc'ed ("" for none); NULL: every
 * notifier. */
static char *
targets(struct alerter *st, const struct al_alert *a, enum al_action act)
{
    char *list = NULL;

    if (!st->has_policy)
        return NULL;
    switch (act) {
    case AL_ACK:
    case AL_RESOLVE:
        list_merge(&list, a->told);
        break;
    case AL_ESCALATE:
        list_add_all(&list, &st->conf->escalate[a->sev]);
        break;
    default:
        list_add_all(&list, &st->conf->route[a->sev]);
        if (a->escalated)
            list_add_all(&list, &st->conf->escalate[a->sev]);
        break;
    }
    return list ? list : strdup("");
}

static const char *
mute_for(struct alerter *st, const struct al_alert *a, enum al_action act,
         int64_t now, char *buf, size_t len)
{
    switch (act) {
    case AL_OPEN:
    case AL_REPEAT:
    case AL_UPDATE:
    case AL_ESCALATE:
        return al_mute_reason(st, a, now, buf, len);
    case AL_ACK:
    case AL_RESOLVE:
        return a->notified_ns == 0 ? "not notified" : NULL;
    default:
        return NULL;
    }
}

/* What a delivered (or muted) notification changes in a. */
static void
account(struct alerter *st, struct al_alert *a, enum al_action act,
        const char *muted, const char *sent, int64_t now)
{
    st->urgent = 1;
    if (act == AL_ESCALATE) {
        a->escalated = 1;
        list_merge(&a->told, sent);
        return;
    }
    if (act != AL_OPEN && act != AL_REPEAT && act != AL_UPDATE)
        return;
    a->last_notify_ns = now;
    if (muted) {
        if (a->notified_ns == 0)
            a->pending = 1;
        return;
    }
    /* A worse severity starts its own policy's escalation clock. */
    if (a->notified_ns == 0 || act == AL_UPDATE) {
        a->notified_ns = now;
        a->escalated = 0;
    }
    a->pending = 0;
    list_merge(&a->told, sent);
}

static void
add_fields(const struct al_alert *a, enum al_action act, const char *muted,
           outpost_record_t *ev)
{
    outpost_record_add_str(ev, OUTPOST_F_ACTION, al_action_name(act));
    outpost_record_add_str(ev, "condition", a->condition);
    outpost_record_add_str(ev, OUTPOST_F_STATUS, al_status_name(a->status));
    outpost_record_add_str(ev, OUTPOST_F_PRIORITY, al_sev_name(a->sev));
    outpost_record_add_int(ev, OUTPOST_F_OCCURRENCES, a->occurrences);
    outpost_record_add_bool(ev, "acknowledged", a->acked);
    if (a->acked)
        outpost_record_add_str(ev, "acknowledged_by", a->acked_by);
    outpost_record_add_int(ev, "since", a->opened_ns / NS_PER_S);
    outpost_record_add_bool(ev, OUTPOST_F_MUTED, muted != NULL);
    if (muted)
        outpost_record_add_str(ev, OUTPOST_F_MUTE_REASON, muted);
}

void
al_decorate(struct alerter *st, struct al_alert *a, enum al_action act,
            outpost_record_t *ev, int64_t now)
{
    char buf[48];
    const char *muted = mute_for(st, a, act, now, buf, sizeof(buf));
    char *sent = muted ? strdup("") : targets(st, a, act);

    if (sent)
        outpost_record_set_tag(ev, OUTPOST_TAG_NOTIFY, sent);
    add_fields(a, act, muted, ev);
    account(st, a, act, muted, sent, now);
    if (act == AL_OPEN || act == AL_REPEAT || act == AL_UPDATE) {
        char *m = strdup(ev->event->message);
        if (m) {
            free(a->message);
            a->message = m;
        }
    }
    free(sent);
}

static outpost_event_kind_t
kind_of(enum al_action act)
{
    return act == AL_RESOLVE ? OUTPOST_EV_RESOLVE
           : act == AL_ESCALATE ? OUTPOST_EV_ESCALATE : OUTPOST_EV_ALERT;
}

void
al_notify(struct alerter *st, struct al_alert *a, enum al_action act,
          const char *message, outpost_record_t *cause,
          outpost_emitter_t *out, int64_t now)
{
    /* A resolve is good news: info, with the alert's priority a field. */
    outpost_record_t *ev = outpost_event_new(kind_of(act),
                                             act == AL_RESOLVE
                                             ? OUTPOST_SEV_INFO
                                             : al_record_severity(a->sev),
                                             cause, message, a->key);
    const char *active;

    if (ev == NULL)
        return;
    if (cause) {
        verdict_copy(cause, ev);
        if ((active = outpost_record_string(cause, OUTPOST_F_FAILOVER_ACTIVE)))
            outpost_record_add_str(ev, OUTPOST_F_FAILOVER_ACTIVE, active);
    }
    /* Without a cause (a timer fired), the alert's last tags stand in. */
    for (size_t i = 0; !cause && a->tags
                       && i < outpost_tagset_count(a->tags); i++) {
        const outpost_tag_t *t = outpost_tagset_at(a->tags, i);
        outpost_record_set_tag(ev, t->key, t->value);
    }
    al_decorate(st, a, act, ev, now);
    outpost_emit(out, ev);
}

void
al_escalate_tick(struct alerter *st, struct al_alert *a,
                 outpost_emitter_t *out, int64_t now)
{
    const outpost_strlist_t *to = &st->conf->escalate[a->sev];
    int64_t after = st->conf->escalate_after_ms[a->sev] * NS_PER_MS;
    char msg[MSG_MAX], buf[48], waited[32], *names = NULL;

    if (a->acked || a->escalated || a->pending || a->notified_ns == 0
        || to->n == 0 || now - a->notified_ns < after)
        return;
    /* While muted, escalation waits: it fires once the mute ends. */
    if (al_mute_reason(st, a, now, buf, sizeof(buf)))
        return;
    list_add_all(&names, to);
    al_duration_format((now - a->notified_ns) / NS_PER_MS, waited,
                       sizeof(waited));
    snprintf(msg, sizeof(msg), "%s: %s alert unacknowledged for %s, "
             "escalating to %s%s%s", a->integration, al_sev_name(a->sev),
             waited, names ? names : "", a->message ? ". " : "",
             a->message ? a->message : "");
    free(names);
    al_notify(st, a, AL_ESCALATE, msg, NULL, out, now);
}
