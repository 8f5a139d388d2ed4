/*
 * sla.h - what the sla filter's files share: the per-integration slot
 * (plain data, saved byte for byte), its rolling windows and the SLA
 * arithmetic on them.
 */
#ifndef OUTPOST_SLA_H
#define OUTPOST_SLA_H

#include <stdint.h>
#include "../common/lookup.h"
#include "../common/rolling.h"

/* One bucket of a ring: a minute, an hour or six hours of checks. */
struct sla_bucket {
    uint16_t checks;
    uint16_t bad;           /* unavailable (down): against availability */
    uint16_t errors;        /* failed: against the error rate */
    uint16_t recoveries;    /* outages that ended in this bucket */
    float    sum_ms;        /* response time of the successful checks */
    uint32_t repair_s;      /* length of those outages, seconds */
};

/* A window's (or a month's) totals: half a cache line. */
struct sla_sums {
    uint32_t checks, bad, errors, recoveries;
    uint32_t repair_s;          /* a month of outage fits easily */
    uint32_t pad;
    double   sum_ms;
};

/* The rolling windows, in the order of the rings they are read from. */
enum sla_window {
    W_5M, W_30M, W_1H,          /* minute ring */
    W_6H, W_24H, W_3D,          /* hour ring */
    W_7D, W_30D,                /* 6-hour ring */
    W_COUNT
};

struct sla_window_def {
    const char *name;           /* "5m", "30m", ... */
    int         ring;           /* 0 minute, 1 hour, 2 six hours */
    uint32_t    buckets;        /* newest buckets summed */
    int64_t     seconds;        /* nominal length */
};

extern const struct sla_window_def sla_windows[W_COUNT];

/* Only ever append: tier numbers are saved in state files. */
enum sla_tier { TIER_BASIC = 0, TIER_PROFESSIONAL = 1, TIER_ENTERPRISE = 2 };

/* The state of one integration. */
struct sla_slot {
    uint8_t           tier;           /* enum sla_tier, latest seen */
    uint8_t           firing;         /* bit r: burn rule r is firing */
    uint8_t           in_outage;      /* the latest counted check was bad */
    uint8_t           pad[5];
    int64_t           outage_ns;      /* when the current outage began */
    int64_t           last_ns;        /* latest check */
    int64_t           head[3];        /* ring heads */
    int32_t           month;          /* year * 12 + month (UTC) of sums */
    uint32_t          pad2;
    struct sla_sums   month_sums;     /* the calendar month so far */
    struct sla_sums   win[W_COUNT];   /* window totals (see window.c) */
    struct sla_bucket m1[60];         /* last hour, by minute */
    struct sla_bucket h1[72];         /* last 3 days, by hour */
    struct sla_bucket q6[120];        /* last 30 days, by 6 hours */
};

/* One check, as the windows count it. */
struct sla_sample {
    int64_t ns;
    int     bad, error;
    double  ms;                 /* counted when !error */
    int     recovered;          /* an outage ended with this check */
    int64_t repair_s;           /* its length */
};

/* The instance's options (sla.c has the table). */
struct sla_conf {
    char    *default_tier;
    double   availability_target;     /* percent; 0: the tier's */
    int64_t  response_target_ms;      /* 0: the tier's */
    double   error_rate_target;       /* percent; 0: the tier's */
    /* The same for one tier (0: unset); they win over the above. */
    double   basic_availability, professional_availability,
             enterprise_availability;
    int64_t  basic_response_ms, professional_response_ms,
             enterprise_response_ms;
    double   basic_error_rate, professional_error_rate,
             enterprise_error_rate;
    char    *compliance_window;       /* "30d", "7d", "24h" or "month" */
    int      burn_alerts;
    int64_t  burn_min_checks;
    double   burn_min_coverage;       /* of the long window's length */
    double   burn_resolve_ratio;      /* resolve under factor * this */
    int64_t  save_interval_ms;
};

/* What an integration of a tier is held to, as fractions and ms. */
struct sla_targets {
    double availability;        /* e.g. 0.999 */
    double response_ms;         /* average response at most */
    double error_rate;          /* e.g. 0.005 */
};

extern const char *const sla_tier_names[3];

/* sla.c */
struct sla_targets sla_targets_for(const struct sla_conf *c, int tier);
/* The window that decides compliance and the error budget, from the
 * compliance_window option: a W_* or W_COUNT for the calendar month. */
int sla_budget_window_of(const char *name);
/* That window's totals and its length in seconds. */
const struct sla_sums *sla_budget_window(int which, const struct sla_slot *s,
                                         int64_t month_seconds,
                                         int64_t *seconds);

/* Name of burn rule i (bit i of sla_slot.firing), NULL past the last. */
const char *sla_burn_rule(unsigned i);
double sla_burn_rate(const struct sla_sums *w, const struct sla_targets *t);
/* The error budget spent (1: all of it; more: overspent) and what is
 * left of it, clamped to [0, 1]. */
double sla_budget_spent(const struct sla_sums *w, const struct sla_targets *t);
double sla_budget_remaining(const struct sla_sums *w,
                            const struct sla_targets *t);

/* report.c: the `report` command, all windows of one or every
 * integration as JSON. */
struct rolling_table;
int sla_report(const struct sla_conf *c, struct rolling_table *table,
               const char *args, int64_t now, char **reply);

/* window.c */
void sla_add(struct sla_slot *s, const struct sla_sample *x, int32_t month);
/* Starts loading what a check at ns will touch (the slots are far
 * apart in memory: ten thousand of them fit no cache). */
void sla_prefetch(const struct sla_slot *s, int64_t ns);
/* Moves the rings to time now (windows of an integration that has gone
 * quiet shrink), for reports. */
void sla_advance(struct sla_slot *s, int64_t now);
/* How much of window w the integration's checks span, in seconds: from
 * the start of the oldest bucket of w that holds a check to the end of
 * the newest. */
int64_t sla_window_span_s(const struct sla_slot *s, int w);
/* Calendar month (UTC) of ns as year * 12 + month, with its bounds. */
int32_t sla_month_of(int64_t ns, int64_t *start_ns, int64_t *end_ns);

/* Ratios of a window; what an empty window gives is documented. */
double sla_availability(const struct sla_sums *w);      /* 1 when empty */
double sla_error_rate(const struct sla_sums *w);        /* 0 when empty */
double sla_avg_ms(const struct sla_sums *w);            /* 0 when none */
double sla_mttr_s(const struct sla_sums *w);            /* 0 when none */

#endif
