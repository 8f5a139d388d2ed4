/*
 * metrics_hist.h - a histogram of durations with fixed bucket bounds, that
 * any thread updates with relaxed atomic adds and GET /metrics reads
 * without a lock (header-only: the observing side is two compares and
 * two adds, inlined where it is called).
 *
 * Invariants:
 *  1. bucket[i] counts observations d with le_us[i-1] < d <= le_us[i]
 *     (Prometheus' "le": less or equal); bucket[n] counts those above the
 *     last bound. Buckets are stored apart, not cumulated: a reader sums.
 *  2. sum_us is the total of all observations in microseconds, an integer
 *     so that it adds atomically (2^64 us is 584,000 years).
 *  3. Every number only grows. A reader racing an observer may see it in
 *     its bucket and not yet in sum_us, or the other way round: each is
 *     still a valid Prometheus counter, and the next scrape agrees.
 *  4. Bounds are static tables (metrics_bounds_*), never freed.
 */
#ifndef OUTPOST_METRICS_HIST_H
#define OUTPOST_METRICS_HIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_HIST_MAX  14        /* bounds at most; +Inf is extra */

struct metrics_bounds {
    size_t      n;
    uint64_t    le_us[METRICS_HIST_MAX];
    const char *le_text[METRICS_HIST_MAX];   /* as /metrics prints them */
};

struct metrics_hist {
    const struct metrics_bounds *b;
    _Atomic uint64_t             bucket[METRICS_HIST_MAX + 1];
    _Atomic uint64_t             sum_us;
};

/* The agent's own timings (check lateness, output writes): 1 ms to 30 s. */
static const struct metrics_bounds metrics_bounds_agent = {
    13,
    { 1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
      2500000, 5000000, 10000000, 30000000 },
    { "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
      "2.5", "5", "10", "30" },
};

/* A vendor's response time, per phase: fewer buckets, since there is one
 * histogram per integration and phase (most of GET /metrics). 2 s and 5 s
 * are the health filter's default degraded and down thresholds. */
static const struct metrics_bounds metrics_bounds_response = {
    8,
    { 25000, 50000, 100000, 250000, 500000, 1000000, 2000000, 5000000 },
    { "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2", "5" },
};

static inline void
metrics_hist_init(struct metrics_hist *h, const struct metrics_bounds *b)
{
    h->b = b;
    for (size_t i = 0; i <= METRICS_HIST_MAX; i++)
        atomic_init(&h->bucket[i], 0);
    atomic_init(&h->sum_us, 0);
}

/* Any thread. us: the observed duration in microseconds. */
static inline void
metrics_hist_observe(struct metrics_hist *h, uint64_t us)
{
    size_t i = 0;

    while (i < h->b->n && us > h->b->le_us[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

/* A copy a renderer can print from: cumulative counts (cum[n] is the
 * total count) and the sum. */
struct metrics_hist_snap {
    const struct metrics_bounds *b;
    uint64_t                     cum[METRICS_HIST_MAX + 1];
    uint64_t                     sum_us;
};

static inline void
metrics_hist_read(const struct metrics_hist *h, struct metrics_hist_snap *s)
{
    uint64_t acc = 0;

    s->b = h->b;
    for (size_t i = 0; i <= h->b->n; i++) {
        acc += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        s->cum[i] = acc;
    }
    s->sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
}

/* Adds h into s (s->b must be h's bounds, or NULL for the first). */
static inline void
metrics_hist_add(struct metrics_hist_snap *s, const struct metrics_hist *h)
{
    struct metrics_hist_snap one;

    metrics_hist_read(h, &one);
    if (s->b == NULL) {
        *s = one;
        return;
    }
    for (size_t i = 0; i <= one.b->n; i++)
        s->cum[i] += one.cum[i];
    s->sum_us += one.sum_us;
}

#endif
