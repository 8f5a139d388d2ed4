/*
 * window.c - the health filter's rolling windows: the last hour in
 * 5-minute buckets, the last day in hourly buckets (both with a latency
 * histogram) and the last 30 days in 6-hour up/total counts.
 *
 * A window is its ring plus a running sum. Adding a result adds to the
 * newest bucket and to the sum; when the ring moves (a bucket falls out)
 * the bucket is subtracted from the sum, and once per turn of the ring
 * the sum is rebuilt from the buckets (see lat_add). Windows therefore
 * move in bucket steps: "the last hour" is the current 5-minute bucket
 * and the 11 before it.
 */
#include <string.h>
#include "health.h"

/* Quantiles are read again once the window has grown by this fraction
 * (1/32) since they were, or its ring turned: walking two 48-bin
 * histograms for every check costs more than all the rest of the window
 * work, and percentiles of hundreds of samples do not move with one
 * more (nor are they finer than a bin, 26%, to begin with). */
#define REQUANTILE_SHIFT 5
#define REQUANTILE_MIN   32

static void
lat_bucket_add(struct lat_bucket *b, int ok, double ms, unsigned bin)
{
    b->checks++;
    if (!ok)
        return;
    b->ok++;
    b->sum_ms += (float) ms;
    b->hist[bin]++;
}

static void
lat_window_add(struct lat_window *s, uint32_t *hist, int ok, double ms,
               unsigned bin)
{
    s->checks++;
    if (!ok)
        return;
    s->ok++;
    s->sum_ms += ms;
    hist[bin]++;
}

static void
lat_window_rebuild(struct lat_window *s, uint32_t *hist,
                   const struct lat_bucket *ring, uint32_t n)
{
    memset(s, 0, sizeof(*s));
    memset(hist, 0, ROLLING_HIST_BINS * sizeof(*hist));
    for (uint32_t i = 0; i < n; i++) {
        const struct lat_bucket *b = &ring[i];
        if (b->checks == 0)
            continue;
        s->checks += b->checks;
        s->ok += b->ok;
        s->sum_ms += b->sum_ms;
        for (unsigned k = 0; k < ROLLING_HIST_BINS; k++)
            hist[k] += b->hist[k];
    }
}

/* Takes a bucket that leaves the window out of its sums. */
static void
lat_window_sub(struct lat_window *s, uint32_t *hist,
               const struct lat_bucket *b)
{
    if (b->checks == 0)
        return;
    s->checks -= b->checks;
    s->ok -= b->ok;
    s->sum_ms -= b->sum_ms;
    if (s->ok == 0)
        s->sum_ms = 0;                  /* no rounding left behind */
    if (b->ok)
        for (unsigned k = 0; k < ROLLING_HIST_BINS; k++)
            hist[k] -= b->hist[k];
}

/*
 * Adds one result to a latency ring and its sum. The whole ring is the
 * window. When the ring moves within one turn, the buckets it is about to
 * zero leave the sums by subtraction (usually one bucket: its two cache
 * lines, not the whole ring's); float sums would drift under endless
 * subtraction, so once per turn of the ring (and after a silence longer
 * than a turn) the sums are rebuilt from every slot. Either way the
 * cached quantiles are read again.
 */
static void
lat_add(struct lat_bucket *ring, uint32_t n, int64_t *head,
        struct lat_window *sum, uint32_t *hist, int64_t idx, int ok,
        double ms, unsigned bin)
{
    int64_t old = *head;
    int moved, turned = old == 0 || idx / n != old / n;
    struct lat_bucket *b;

    if (idx > old && !turned) {
        for (int64_t k = old + 1; k <= idx; k++)
            lat_window_sub(sum, hist, &ring[k % n]);
        sum->q_ok = 0;
    }
    b = rolling_ring_touch(ring, sizeof(*ring), n, head, idx, &moved);
    if (moved && turned)
        lat_window_rebuild(sum, hist, ring, n);
    if (b == NULL || b->checks == ROLLING_U16_FULL)
        return;         /* too late for this ring, or the bucket is full */
    lat_bucket_add(b, ok, ms, bin);
    lat_window_add(sum, hist, ok, ms, bin);
}

static void
up_add(struct health_windows *w, int64_t idx, int up)
{
    int64_t old = w->head_6h, n = ROLLING_LEN(w->q6);
    int moved, turned = old == 0 || idx / n != old / n;
    struct up_bucket *b;

    if (idx > old && !turned)           /* counts: subtraction is exact */
        for (int64_t k = old + 1; k <= idx; k++) {
            w->up_checks -= w->q6[k % n].checks;
            w->up_up -= w->q6[k % n].up;
        }
    b = ROLLING_TOUCH(w->q6, &w->head_6h, idx, &moved);
    if (moved && turned) {
        w->up_checks = w->up_up = 0;
        for (size_t i = 0; i < ROLLING_LEN(w->q6); i++) {
            w->up_checks += w->q6[i].checks;
            w->up_up += w->q6[i].up;
        }
    }
    if (b == NULL || b->checks == ROLLING_U16_FULL)
        return;
    b->checks++;
    w->up_checks++;
    if (up) {
        b->up++;
        w->up_up++;
    }
}

void
window_add(struct health_windows *w, int64_t ns, int up, int ok, double ms)
{
    unsigned bin = rolling_hist_bin(ms);

    lat_add(w->m5, ROLLING_LEN(w->m5), &w->head_5m, &w->w1h, w->hist_1h,
            rolling_index(ns, W5M_NS), ok, ms, bin);
    lat_add(w->h1, ROLLING_LEN(w->h1), &w->head_1h, &w->w24h, w->hist_24h,
            rolling_index(ns, W1H_NS), ok, ms, bin);
    up_add(w, rolling_index(ns, W6H_NS), up);
}

void
window_prefetch(const struct health_windows *w, int64_t ns, double ms)
{
    unsigned bin = rolling_hist_bin(ms);

    __builtin_prefetch(&w->w1h, 1);
    __builtin_prefetch(&w->w24h, 1);
    __builtin_prefetch(&w->hist_1h[bin], 1);
    __builtin_prefetch(&w->hist_24h[bin], 1);
    __builtin_prefetch(&w->m5[rolling_index(ns, W5M_NS) % 12], 1);
    __builtin_prefetch(&w->m5[rolling_index(ns, W5M_NS) % 12].hist[bin], 1);
    __builtin_prefetch(&w->h1[rolling_index(ns, W1H_NS) % 24], 1);
    __builtin_prefetch(&w->h1[rolling_index(ns, W1H_NS) % 24].hist[bin], 1);
    __builtin_prefetch(&w->q6[rolling_index(ns, W6H_NS) % 120], 1);
}

/* The window's quantiles qs (ascending, at most 3), from the cache when
 * the window has barely changed since they were computed. */
static void
quantiles(struct lat_window *s, const uint32_t *hist, const double *qs,
          unsigned nq, double *out)
{
    uint32_t drift = s->ok > s->q_ok ? s->ok - s->q_ok : s->q_ok - s->ok;

    if (s->q_ok == 0 || s->ok < REQUANTILE_MIN
        || drift > s->ok >> REQUANTILE_SHIFT) {
        /* Every ok result is in hist, and only those: ok is its sum. */
        rolling_hist_quantiles_n(hist, s->ok, qs, out, nq);
        for (unsigned i = 0; i < nq; i++)
            s->q[i] = (float) out[i];
        s->q_ok = s->ok;
        return;
    }
    for (unsigned i = 0; i < nq; i++)
        out[i] = s->q[i];
}

void
window_stats(struct health_windows *w, struct health_stats *st)
{
    struct lat_window *h = &w->w1h, *d = &w->w24h;

    memset(st, 0, sizeof(*st));
    st->have_1h = h->checks > 0;
    st->have_24h = d->checks > 0;
    st->have_30d = w->up_checks > 0;
    st->have_lat_1h = h->ok > 0;
    st->have_lat_24h = d->ok > 0;
    if (st->have_1h)
        st->success_rate_1h = (double) h->ok / h->checks;
    if (st->have_24h)
        st->success_rate_24h = (double) d->ok / d->checks;
    if (st->have_30d)
        st->uptime_30d = (double) w->up_up / w->up_checks;
    if (st->have_lat_1h) {
        static const double q[3] = { 0.50, 0.95, 0.99 };
        double v[3];

        quantiles(h, w->hist_1h, q, 3, v);
        st->avg_1h = h->sum_ms / h->ok;
        st->p50_1h = v[0];
        st->p95_1h = v[1];
        st->p99_1h = v[2];
    }
    if (st->have_lat_24h) {
        static const double q[2] = { 0.95, 0.99 };
        double v[2];

        quantiles(d, w->hist_24h, q, 2, v);
        st->avg_24h = d->sum_ms / d->ok;
        st->p95_24h = v[0];
        st->p99_24h = v[1];
    }
}
