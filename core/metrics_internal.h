/*
 * metrics_internal.h - the metrics store as the renderer reads it (see
 * metrics.h for the rules). Not for plugins, not for other core files.
 */
#ifndef OUTPOST_METRICS_INTERNAL_H
#define OUTPOST_METRICS_INTERNAL_H

#include <stdatomic.h>
#include "metrics.h"

#define MS_LIMITS 4             /* rate-limit fields kept per integration */

/* A double kept as its bits, so it loads and stores atomically. */
typedef _Atomic uint64_t ms_double_t;

struct ms_limit {
    const char  *field;         /* interned; NULL: slot unused */
    const char  *label;         /* escaped "limit" label value, owned */
    ms_double_t  value;
};

struct ms_entry {
    char                 *name;         /* owned */
    uint64_t              hash;
    /* 'integration="..",category="..",provider="..",tier=".."', escaped;
     * replaced (never freed before the store) when a tag changes. */
    _Atomic(const char *) labels;
    char                 *name_label;   /* 'integration=".."', escaped:
                                           the histogram's, which is most
                                           of the text */
    char                 *category, *provider, *tier;  /* writer's copy */
    struct metrics_hist   rt[METRICS_PHASES];
    _Atomic uint64_t      checks;
    _Atomic uint64_t      failures;
    ms_double_t           cert_days;    /* NaN: never said */
    ms_double_t           sla_target;   /* NaN: no SLA filter */
    _Atomic size_t        nlimits;
    struct ms_limit       limits[MS_LIMITS];
};

struct ms_group {
    char             *name;             /* escaped for a label */
    _Atomic uint64_t  events;
};

/* Severities of alerts_total, by outpost_severity_t - 1. */
#define MS_SEVERITIES 4

/* Copies of the store's indexes (the entries themselves are shared and
 * read with atomics, rule 3). Arrays malloc'ed; free with ms_view_free. */
struct ms_view {
    struct ms_entry **entries;
    size_t            nentries;
    struct ms_group **groups;
    size_t            ngroups;
    uint64_t          alerts[MS_SEVERITIES];
};

int  ms_view(struct ms_view *v);
void ms_view_free(struct ms_view *v);

static inline double
ms_load_double(ms_double_t *d)
{
    uint64_t bits = atomic_load_explicit(d, memory_order_relaxed);
    double v;

    __builtin_memcpy(&v, &bits, sizeof(v));
    return v;
}

#endif
