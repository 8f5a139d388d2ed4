/*
 * health.h - what health.c and window.c share: the per-integration slot
 * (plain data, saved to disk byte for byte) and the rolling windows that
 * give success rate, uptime and latency percentiles.
 */
#ifndef OUTPOST_HEALTH_H
#define OUTPOST_HEALTH_H

#include <stdint.h>
#include <outpost/fields.h>
#include "../common/lookup.h"
#include "../common/rolling.h"

/* Only ever append: the values are saved in state files. */
enum health_status {
    ST_UNKNOWN  = OUTPOST_STATUS_UNKNOWN,
    ST_HEALTHY  = OUTPOST_STATUS_HEALTHY,
    ST_DEGRADED = OUTPOST_STATUS_DEGRADED,
    ST_DOWN     = OUTPOST_STATUS_DOWN
};

/* One bucket of the 1 h ring (5 minutes) or the 24 h ring (1 hour). */
struct lat_bucket {
    uint16_t checks;                    /* results counted */
    uint16_t ok;                        /* of which succeeded */
    float    sum_ms;                    /* response time of those */
    uint16_t hist[ROLLING_HIST_BINS];   /* ditto, by latency bin */
};

/* One bucket of the 30-day ring (6 hours). */
struct up_bucket {
    uint16_t checks;
    uint16_t up;                        /* not down */
};

/* A window's sums over its ring: updated with every result and rebuilt
 * from the buckets whenever the ring moves, so reading a window is O(1)
 * and never drifts. Its histogram lives apart (health_windows), so the
 * numbers every result touches share a cache line or two. */
struct lat_window {
    uint32_t checks, ok;
    double   sum_ms;
    float    q[3];          /* quantiles as last computed (window.c) */
    uint32_t q_ok;          /* ok when they were; 0: compute again */
};

#define W5M_NS   (300LL * 1000000000LL)
#define W1H_NS   (3600LL * 1000000000LL)
#define W6H_NS   (6 * W1H_NS)

struct health_windows {
    int64_t           head_5m, head_1h, head_6h;  /* ring heads */
    uint32_t          up_checks, up_up;           /* sums of q6 */
    struct lat_window w1h, w24h;
    uint32_t          hist_1h[ROLLING_HIST_BINS]; /* sums of m5 hists */
    uint32_t          hist_24h[ROLLING_HIST_BINS];/* sums of h1 hists */
    struct lat_bucket m5[12];                     /* the last hour */
    struct lat_bucket h1[24];                     /* the last day */
    struct up_bucket  q6[120];                    /* the last 30 days */
};

struct health_stats {
    int    have_1h, have_24h, have_30d;   /* checks counted in the window */
    int    have_lat_1h, have_lat_24h;     /* successful ones (latency) */
    double success_rate_1h, success_rate_24h, uptime_30d;
    double avg_1h, p50_1h, p95_1h, p99_1h;
    double avg_24h, p95_24h, p99_24h;
};

#define HEALTH_GAPS 5

/* The state of one integration. */
struct health_slot {
    uint8_t  status;                  /* enum health_status */
    uint8_t  stale;                   /* unknown because results stopped */
    uint8_t  ngaps, gap_next;         /* gaps_ms ring */
    uint8_t  tier;                    /* from the tags (health.c) */
    uint8_t  pad[3];
    uint32_t consecutive_failures;    /* results that were down, in a row */
    uint32_t consecutive_successes;   /* results that were not */
    uint32_t gaps_ms[HEALTH_GAPS];    /* spacing of the latest results */
    int64_t  last_ns;                 /* time of the latest result */
    int64_t  grace_ns;                /* staleness counts from here too */
    struct health_windows w;
};

/* The instance's options (health.c has the table). */
struct health_conf {
    int64_t degraded_ms, down_ms;
    int64_t basic_degraded_ms, basic_down_ms;
    int64_t professional_degraded_ms, professional_down_ms;
    int64_t enterprise_degraded_ms, enterprise_down_ms;
    int64_t stale_after_ms, down_stale_after_ms;
    double  availability_weight, latency_weight;
    int64_t save_interval_ms;
};


/* health.c: a state_change event from `from` to `to`; cause may be
 * NULL, why may be "". */
void health_emit_change(outpost_emitter_t *out, outpost_record_t *cause,
                        const char *integration, uint8_t from, uint8_t to,
                        const char *why);

/* stale.c: a result arrived at ns (its spacing is the interval). */
void health_note_arrival(struct health_slot *s, int64_t ns);
/* Turns every integration silent for too long unknown, with an event. */
void health_check_stale(const struct health_conf *c, struct rolling_table *t,
                        int64_t fallback_interval_ms, outpost_emitter_t *out,
                        int64_t now);

/* window.c */
void window_add(struct health_windows *w, int64_t ns, int up, int ok,
                double ms);
/* Reads the windows; may refresh the cached quantiles. */
void window_stats(struct health_windows *w, struct health_stats *st);
/* Starts loading what a result at ns with latency ms will touch. */
void window_prefetch(const struct health_windows *w, int64_t ns, double ms);

#endif
