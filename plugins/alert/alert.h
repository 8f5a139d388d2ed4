/*
 * alert.h - the alert filter's internal model, shared by its files:
 *
 *   alert.c    plugin glue: options, callbacks, dispatch
 *   detect.c   checks -> per-integration state -> alerts open / resolve,
 *              flapping
 *   notify.c   an alert's state change -> an event: message, fields,
 *              routing (escalation policies) and muting
 *   upstream.c alert / resolve events raised by earlier filters (sla) and
 *              routing of the other events
 *   control.c  operator commands: ack, silence, unsilence, status
 *   mute.c     silences and maintenance windows
 *   rules.c    "key=glob" matchers and severity rules
 *   tz.c       UTC offsets of named time zones (for maintenance windows)
 *   store.c    the state file
 *
 * Invariants:
 *  1. An alert is identified by its dedup key "outpost/<integration>/
 *     <condition>"; st->alerts holds one entry per key ever seen (a
 *     bounded set) and entries are never freed before shutdown, so
 *     pointers to them stay valid.
 *  2. An alert is open exactly when it is in the open list (open_index is
 *     its position); tick walks only that list.
 *  3. notified_ns != 0 once a notification of this opening reached people
 *     (or a policy that routes it nowhere); escalation counts from it.
 *     pending is set while the opening has only been recorded (muted) and
 *     must still be delivered when the mute ends.
 *  4. st->integs holds one entry per integration ever checked or
 *     restored, never moved or freed before shutdown: a pointer to an
 *     entry or its al_integ stays valid. Its health and flap point into
 *     st->alerts (1), which frees them; the table frees only its names
 *     and tag references.
 */
#ifndef OUTPOST_ALERT_H
#define OUTPOST_ALERT_H

#include <stdint.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "rolling.h"
#include "rules.h"
#include "strmap.h"

struct tz;

#define AL_FLAP_MAX   64                  /* changes remembered per integ */
#define NS_PER_S      1000000000LL
#define NS_PER_MS     1000000LL

enum al_status {
    AL_UNKNOWN = OUTPOST_STATUS_UNKNOWN, AL_HEALTHY = OUTPOST_STATUS_HEALTHY,
    AL_DEGRADED = OUTPOST_STATUS_DEGRADED, AL_DOWN = OUTPOST_STATUS_DOWN
};

/* What a notification says happened. */
enum al_action {
    AL_OPEN, AL_REPEAT, AL_UPDATE, AL_ACK, AL_RESOLVE, AL_ESCALATE
};

/* --- configuration ------------------------------------------------------ */

struct alert_conf {
    int64_t           consecutive_failures;
    outpost_strlist_t open_on;
    int64_t           success_threshold;
    int64_t           repeat_interval_ms;
    int64_t           flap_threshold;
    int64_t           flap_window_ms;
    outpost_strlist_t severity_rules;
    outpost_strlist_t maintenance;
    outpost_strlist_t events_notify;
    outpost_strlist_t route[AL_SEV_N];            /* critical, high, ... */
    outpost_strlist_t escalate[AL_SEV_N];
    int64_t           escalate_after_ms[AL_SEV_N];
};

struct al_window {                   /* one maintenance window */
    char            *text;           /* as configured, for status */
    int              start_min;      /* minutes after local midnight */
    int64_t          duration_s;
    unsigned         weekdays;       /* bit 0 = Sunday; all set: daily */
    struct tz       *tz;
    struct al_match  match;
};

struct al_silence {
    char             id[24];
    char            *match_text;
    struct al_match  match;
    int64_t          until_ns, created_ns;
    char            *comment, *created_by;
};

/* --- state -------------------------------------------------------------- */

struct al_alert {
    char              *key;          /* dedup key; owned */
    char              *integration;
    char              *condition;    /* "health", "flapping", "sla/..." */
    outpost_tagset_t  *tags;         /* of the record that last updated it */
    int                upstream;     /* raised by an earlier filter */
    int                open;
    size_t             open_index;
    enum al_sev        sev;
    enum al_status     status;
    int64_t            occurrences;
    int64_t            opened_ns, last_seen_ns;
    int64_t            notified_ns;  /* first delivery of this opening */
    int64_t            last_notify_ns;
    int                pending;      /* opening muted, not yet delivered */
    int                escalated;
    int                acked;
    int64_t            acked_ns;
    char              *acked_by;
    char              *told;         /* outputs notified, "a,b"; NULL: all */
    char              *message;      /* of the last open/repeat/update */
};

/*
 * An integration's state: the slot of its entry in st->integs, the
 * per-integration table every decision filter uses (rolling.h, section
 * 4). The entry holds the name and the tags of the integration's latest
 * check, and a check finds it by its tag set. What every check reads
 * comes first; the ring of changes, touched only when the status
 * changes, last.
 *
 * Not plain data: health and flap point into st->alerts (invariant 4).
 * store.c saves the table itself, as JSON, never byte for byte.
 */
struct al_integ {
    enum al_status   status;         /* last known (never AL_UNKNOWN once
                                        known) */
    int              flapping;
    int64_t          fail_streak;    /* failed checks in a row */
    int64_t          good_streak;    /* good checks in a row */
    struct al_alert *health, *flap;  /* their alerts, once created */
    size_t           nchanges, head;
    int64_t          changes[AL_FLAP_MAX];  /* ring of status changes */
};

struct alerter {
    outpost_instance_t  *inst;
    const char          *k_status, *k_success;   /* interned */
    struct alert_conf   *conf;
    struct al_rule      *rules;
    size_t               nrules;
    unsigned             open_on;         /* bit per enum al_status */
    int                  has_policy;      /* any route/escalate list set */
    struct al_window    *windows;
    size_t               nwindows;
    struct al_silence   *silences;
    size_t               nsilences;
    int64_t              next_silence;
    struct rolling_table *integs;         /* name -> struct al_integ */
    struct strmap        alerts;          /* dedup key -> struct al_alert */
    struct al_alert    **open;
    size_t               nopen, capopen;
    int                  urgent;          /* save at the next tick */
    int                  dirty;           /* save within SAVE_EVERY */
    int64_t              saved_ns;
    struct statefile    *state;           /* alerts.json (store.c) */
};

/* alert.c */
const char     *al_status_name(enum al_status s);
enum al_status  al_status_parse(const char *s);
const char     *al_action_name(enum al_action a);

/* The alert's attributes for matchers: condition, status, severity,
 * dedup_key, integration, then its tags. */
const char *al_alert_attr(const void *alert, const char *key);

/* The alert for key, created closed if new; NULL on ENOMEM. */
struct al_alert *al_alert_get(struct alerter *st, const char *key,
                              const char *integration,
                              const char *condition);
void al_alert_set_tags(struct al_alert *a, outpost_tagset_t *tags);
int  al_alert_opened(struct alerter *st, struct al_alert *a, int64_t now);
void al_alert_closed(struct alerter *st, struct al_alert *a);

/* detect.c */
void al_detect(struct alerter *st, outpost_record_t *rec,
               outpost_emitter_t *out);
void al_flap_tick(struct alerter *st, struct al_alert *flap,
                  outpost_emitter_t *out, int64_t now);
size_t al_flap_count(const struct alerter *st, const struct al_integ *in,
                     int64_t now);
/* The state of integration name, created when new (the entry's slot);
 * NULL on ENOMEM. */
struct rolling_entry *al_integ_get(struct alerter *st, const char *name);
/* The state of integration name, or NULL when it has none. */
struct al_integ *al_integ_find(const struct alerter *st, const char *name);

/* notify.c */
/* Builds the event for action on a (cause may be NULL) and emits it. */
void al_notify(struct alerter *st, struct al_alert *a, enum al_action act,
               const char *message, outpost_record_t *cause,
               outpost_emitter_t *out, int64_t now);
/* Same, on an event that is already travelling (raised upstream). */
void al_decorate(struct alerter *st, struct al_alert *a, enum al_action act,
                 outpost_record_t *ev, int64_t now);
/* Why notifications about a are muted now ("silence s3", "maintenance",
 * "flapping"), or NULL. */
const char *al_mute_reason(struct alerter *st, const struct al_alert *a,
                           int64_t now, char *buf, size_t len);
void al_escalate_tick(struct alerter *st, struct al_alert *a,
                      outpost_emitter_t *out, int64_t now);
outpost_severity_t al_record_severity(enum al_sev s);
/* "a,b,c" from a list of names, duplicates dropped; malloc'ed. */
char *al_names_join(const outpost_strlist_t *names);

/* upstream.c */
void al_upstream(struct alerter *st, outpost_record_t *ev);
void al_route_other(struct alerter *st, outpost_record_t *ev);

/* control.c */
int  al_control(struct alerter *st, const char *cmd, const char *args,
                outpost_emitter_t *out, char **reply);

/* mute.c */
int  al_windows_parse(struct alerter *st, char *err, size_t errlen);
void al_windows_free(struct alerter *st);
/* The first maintenance window (or silence) that covers obj now. */
const struct al_window  *al_window_active(const struct alerter *st,
                                          al_attr_fn attr, const void *obj,
                                          int64_t now);
const struct al_silence *al_silence_active(const struct alerter *st,
                                           al_attr_fn attr, const void *obj,
                                           int64_t now);
int  al_window_covers(const struct al_window *w, int64_t now);
/* Adds a silence; takes nothing (copies). 0 or -1 (err says why). */
int  al_silence_add(struct alerter *st, const char *match, int64_t until_ns,
                    const char *comment, const char *by, int64_t now,
                    char *id, size_t idlen, char *err, size_t errlen);
int  al_silence_remove(struct alerter *st, const char *id);
/* Drops silences that ended; returns how many. */
size_t al_silences_expire(struct alerter *st, int64_t now);
void al_silences_free(struct alerter *st);
/* Parses "2h", "90m", "1h30m", "45s", "500ms", "1d": 0 or -1. */
void al_duration_format(int64_t ms, char *buf, size_t len);

/* store.c */
/* Hands a snapshot to the state file's writer thread (tick). */
void al_store_save(struct alerter *st);
/* Opens the state file and restores it (init). */
void al_store_restore(struct alerter *st);
/* Saves at once when save is set, and closes the state file (shutdown). */
void al_store_close(struct alerter *st, int save);

#endif
