/*
 * state.h - the core's state store: what the filters decided, per
 * integration, kept in memory for readers (the HTTP API, /metrics, the
 * dashboard) that must never take the pipeline lock.
 *
 * It is fed by state_record() with every record that leaves the filter
 * chain (a pipeline tap), and read by copying: every reader function
 * copies what it asks for under the store's own short lock and returns
 * it; rendering happens outside the lock.
 *
 * Rules:
 *  1. state_record() runs under the pipeline lock, on the thread that
 *     submitted the records (the loop thread, or a control caller). It is
 *     O(1) per record and allocates only when an integration, an alert or
 *     a failover group is first seen, and for events (their JSON text).
 *  2. Every other function is safe from any thread, at any time between
 *     state_new() and state_free(). None blocks on the pipeline; each
 *     holds the store's lock for a bounded copy (lists are copied in
 *     chunks, so a reader of 10,000 integrations delays a writer by
 *     microseconds, not by the whole copy).
 *  3. What a reader function returns is the caller's: malloc'ed arrays of
 *     plain structs (fixed-size text, no pointers into the store), freed
 *     with free(), except events (state_events_free).
 *  4. Text is cut to the size of its field (at a UTF-8 boundary); names
 *     longer than STATE_NAME_MAX are cut the same way.
 *  5. The store is memory only. After a restart it starts empty and fills
 *     as records flow: an integration appears with its first check after
 *     the start; its windows hold only what this process saw (the filters'
 *     own 24 h / 30 d figures, restored from state_dir, arrive on each
 *     check as fields and are reported as such). Open alerts are seeded
 *     at start from the alert filters' own state (state_seed_alert).
 *  6. Event ids increase by one per event, from 1 at each start of the
 *     process; the ring keeps the last STATE_EVENTS_MAX.
 */
#ifndef OUTPOST_STATE_H
#define OUTPOST_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <outpost/record.h>

#define STATE_NAME_MAX   128     /* integration, group, provider names */
#define STATE_SHORT_MAX  48      /* category, tier, reason, vendor status */
#define STATE_TEXT_MAX   256     /* error, messages, tags */
#define STATE_EVENTS_MAX 4096    /* events kept for the stream's resume */

/* Windows: per-minute buckets for the last hour, 5-minute buckets for the
 * last 24 h, hourly buckets for the last 30 days. */
enum state_res {
    STATE_RES_1M  = 0,
    STATE_RES_5M  = 1,
    STATE_RES_1H  = 2
};
#define STATE_RES_COUNT 3
#define STATE_BUCKETS_1M 60
#define STATE_BUCKETS_5M 288
#define STATE_BUCKETS_1H 720

/* An absent number is NAN (use isnan()); an absent int is -1. */
struct state_check {
    int64_t ts_ns;                   /* when the check was made; 0: never */
    int     status;                  /* outpost_status_t */
    int     success;                 /* 1, 0, or -1 when not said */
    double  health_score;
    double  response_ms;
    double  dns_ms, connect_ms, tls_ms, ttfb_ms, transfer_ms;
    int     status_code;
    int64_t consecutive_failures;
    int     circuit;                 /* outpost_circuit_t, -1: no breaker */
    double  success_rate_24h;        /* the health filter's figures */
    double  uptime_30d;
    double  p95_ms_1h;
    double  error_budget_remaining;  /* the sla filter's figures */
    double  error_budget_spent;
    double  sla_availability_30d;
    int     sla_compliant;           /* 1, 0, -1 */
    char    error[STATE_TEXT_MAX];
    char    reason[STATE_SHORT_MAX];
    char    vendor_status[STATE_SHORT_MAX];
    char    vendor_description[STATE_TEXT_MAX];
    char    failover_active[STATE_NAME_MAX];
};

struct state_integration {
    char     name[STATE_NAME_MAX];
    char     input[STATE_SHORT_MAX]; /* the plugin of the measurement */
    char     category[STATE_SHORT_MAX];
    char     provider[STATE_SHORT_MAX];
    char     tier[STATE_SHORT_MAX];
    char     failover_group[STATE_NAME_MAX];
    char     tags[STATE_TEXT_MAX];   /* the user's tags "k=v,k=v" */
    uint64_t checks;                 /* seen by this process */
    uint64_t failures;
    uint64_t seq;                    /* bumps with every check */
    uint64_t version;                /* bumps with every change to this
                                        snapshot (checks and events):
                                        a reader's cache key */
    int64_t  status_since_ns;        /* last change of status (this
                                        process), 0: unknown */
    int      stale;                  /* the health filter said no result
                                        came for too long; the next
                                        check clears it */
    struct state_check last;
};

struct state_bucket {
    int64_t  start_s;                /* Unix seconds */
    uint32_t checks;
    uint32_t ok;
    double   avg_ms;                 /* NAN when no check had a time */
    double   max_ms;
};

enum state_alert_status {
    STATE_ALERT_ACTIVE       = 0,
    STATE_ALERT_ACKNOWLEDGED = 1,
    STATE_ALERT_RESOLVED     = 2
};

struct state_alert {
    char     id[STATE_TEXT_MAX];     /* the dedup key */
    char     integration[STATE_NAME_MAX];
    char     condition[STATE_SHORT_MAX];
    char     severity[16];           /* outpost_severity_t name */
    char     priority[16];           /* critical | high | medium | low */
    char     acknowledged_by[STATE_SHORT_MAX];
    char     message[STATE_TEXT_MAX];
    int      status;                 /* enum state_alert_status */
    int      escalated;
    int      muted;
    uint64_t occurrences;
    int64_t  first_seen_ns, last_seen_ns, status_since_ns;
};

#define STATE_GROUP_MEMBERS 16

struct state_failover {
    char     group[STATE_NAME_MAX];
    char     active[STATE_NAME_MAX];
    char     previous[STATE_NAME_MAX];
    char     strategy[STATE_SHORT_MAX];
    char     reason[STATE_TEXT_MAX];
    int64_t  changed_ns;             /* the last failover event */
    size_t   nmembers;
    struct {
        char   name[STATE_NAME_MAX];
        double weight;               /* share of traffic, NAN: not said */
    } members[STATE_GROUP_MEMBERS];
};

struct state_event {
    uint64_t id;
    int64_t  ts_ns;
    int      kind;                   /* outpost_event_kind_t */
    int      severity;               /* outpost_severity_t */
    char     integration[STATE_NAME_MAX];
    char    *json;                   /* outpost_record_to_json's object */
};

struct state_stats {
    size_t   integrations, alerts_open, groups;
    uint64_t records;                /* seen by state_record */
    uint64_t last_event_id;
    uint64_t oldest_event_id;        /* 0: none kept */
};

struct state;

struct state *state_new(void);
void state_free(struct state *st);

/* The pipeline tap (rule 1): rec is borrowed. */
void state_record(struct state *st, const outpost_record_t *rec);

/* Every integration, in the order first seen. *out: malloc'ed (NULL when
 * none), returns the count. */
size_t state_integrations(struct state *st, struct state_integration **out);

/* One integration: 0, or -1 when the store has not seen it. */
int state_integration(struct state *st, const char *name,
                      struct state_integration *out);

/* The buckets of res covering the last `count` periods, oldest first,
 * into out (room for count). Returns how many were written (count, or 0
 * when the integration is unknown). Buckets without checks have
 * checks = 0. */
size_t state_history(struct state *st, const char *name, enum state_res res,
                     struct state_bucket *out, size_t count);

/* Alerts: every open one and the resolved ones of the last 24 h (at most
 * 1024 of those), in the order first seen. */
size_t state_alerts(struct state *st, struct state_alert **out);
int state_alert(struct state *st, const char *id, struct state_alert *out);

/* Failover groups, in the order first seen. */
size_t state_failover(struct state *st, struct state_failover **out);

/* Events with id > after, oldest first, at most max. *out: malloc'ed,
 * free with state_events_free. *gap (may be NULL): 1 when events after
 * `after` were already pushed out of the ring. */
size_t state_events_after(struct state *st, uint64_t after, size_t max,
                          struct state_event **out, int *gap);
void state_events_free(struct state_event *ev, size_t n);

/* Waits until an event with id > after exists or timeout_ms passes.
 * Returns the last event id. */
uint64_t state_wait_event(struct state *st, uint64_t after,
                          int64_t timeout_ms);

/* Waits until integration name has a check with seq > after_seq, or
 * deadline_ms (CLOCK_MONOTONIC ms, clock_mono_ms) passes. 0 when it came
 * (out filled), -1 at the deadline. */
int state_wait_check(struct state *st, const char *name, uint64_t after_seq,
                     int64_t deadline_ms, struct state_integration *out);

void state_get_stats(struct state *st, struct state_stats *out);

/* At start: an alert the alert filter restored from state_dir, so the
 * API lists it before its next event. Ignored when the store already
 * has the id. Any thread. */
void state_seed_alert(struct state *st, const struct state_alert *a);

#endif
