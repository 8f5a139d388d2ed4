/*
 * window.c - the sla filter's windows: three rings (the last hour by
 * minute, the last 3 days by hour, the last 30 days by 6 hours) and the
 * totals of eight windows read from them, plus the calendar month.
 *
 * Each window's totals are kept up to date as checks arrive and rebuilt
 * from its ring when the ring moves, so reading any window is O(1). A
 * window moves in steps of its ring's bucket: "the last 6 hours" is the
 * current hour and the 5 before it.
 */
#include <string.h>
#include <time.h>
#include "sla.h"

#define NS        1000000000LL
#define MINUTE_NS (60 * NS)
#define HOUR_NS   (3600 * NS)

static const int64_t ring_width[3] = { MINUTE_NS, HOUR_NS, 6 * HOUR_NS };

const struct sla_window_def sla_windows[W_COUNT] = {
    [W_5M]  = { "5m",  0,   5, 300 },
    [W_30M] = { "30m", 0,  30, 1800 },
    [W_1H]  = { "1h",  0,  60, 3600 },
    [W_6H]  = { "6h",  1,   6, 6 * 3600 },
    [W_24H] = { "24h", 1,  24, 24 * 3600 },
    [W_3D]  = { "3d",  1,  72, 72 * 3600 },
    [W_7D]  = { "7d",  2,  28, 7 * 86400 },
    [W_30D] = { "30d", 2, 120, 30 * 86400 },
};

struct ring {
    struct sla_bucket *slots;
    uint32_t           n;
};

static struct ring
ring_of(struct sla_slot *s, int r)
{
    switch (r) {
    case 0:  return (struct ring) { s->m1, ROLLING_LEN(s->m1) };
    case 1:  return (struct ring) { s->h1, ROLLING_LEN(s->h1) };
    default: return (struct ring) { s->q6, ROLLING_LEN(s->q6) };
    }
}

static void
sums_add_bucket(struct sla_sums *w, const struct sla_bucket *b)
{
    w->checks += b->checks;
    w->bad += b->bad;
    w->errors += b->errors;
    w->recoveries += b->recoveries;
    w->sum_ms += b->sum_ms;
    w->repair_s += b->repair_s;
}

static void
sums_add_sample(struct sla_sums *w, const struct sla_sample *x)
{
    w->checks++;
    w->bad += x->bad != 0;
    w->errors += x->error != 0;
    if (!x->error)
        w->sum_ms += (float) x->ms;     /* as the bucket keeps it */
    if (x->recovered) {
        w->recoveries++;
        w->repair_s += (uint32_t) x->repair_s;
    }
}

static void
sums_sub_bucket(struct sla_sums *w, const struct sla_bucket *b)
{
    w->checks -= b->checks;
    w->bad -= b->bad;
    w->errors -= b->errors;
    w->recoveries -= b->recoveries;
    w->sum_ms -= b->sum_ms;
    w->repair_s -= b->repair_s;
    if (w->checks == 0)
        w->sum_ms = 0;                  /* no rounding left behind */
}

/* Rebuilds the totals of every window read from ring r in one walk back
 * from the newest bucket: the windows of a ring are listed shortest
 * first, so each one's totals are a snapshot of the walk so far. */
static void
rebuild(struct sla_slot *s, int r)
{
    struct ring g = ring_of(s, r);
    struct sla_sums acc = { 0 };
    uint32_t done = 0, slot = (uint32_t) (s->head[r] % g.n);

    for (int w = 0; w < W_COUNT; w++) {
        if (sla_windows[w].ring != r)
            continue;
        for (; done < sla_windows[w].buckets; done++) {
            const struct sla_bucket *b = &g.slots[slot];
            if (b->checks)
                sums_add_bucket(&acc, b);
            slot = slot ? slot - 1 : g.n - 1;
        }
        s->win[w] = acc;
    }
}

/*
 * Ring r is about to move its head to idx: take out of each window the
 * buckets that leave it, before rolling_ring_touch() zeroes their slots.
 * Usually one bucket per window, so a check that starts a new minute
 * costs three bucket reads, not a walk over the hour. Float sums would
 * drift under endless subtraction, so once per turn of the ring the
 * windows are rebuilt from the buckets instead.
 */
static void
drop_leaving(struct sla_slot *s, int r, int64_t idx)
{
    struct ring g = ring_of(s, r);
    int64_t head = s->head[r];

    if (head == 0 || idx / g.n != head / g.n)
        return;                 /* rebuilt after the move (ring_add) */
    for (int w = 0; w < W_COUNT; w++) {
        int64_t k = sla_windows[w].buckets, from = head - k + 1;
        int64_t to = idx - k < head ? idx - k : head;

        if (sla_windows[w].ring != r)
            continue;
        for (int64_t b = from < 0 ? 0 : from; b <= to; b++)
            sums_sub_bucket(&s->win[w], &g.slots[b % g.n]);
    }
}

/* Inlined for each ring (see sla_add): with r a constant, the ring's
 * length and width are too, and no division is by a variable. */
static inline __attribute__((always_inline)) void
ring_add(struct sla_slot *s, int r, const struct sla_sample *x)
{
    struct ring g = ring_of(s, r);
    int64_t idx = rolling_index(x->ns, ring_width[r]);
    int64_t old = s->head[r];
    struct sla_bucket *b;
    int moved;

    if (idx > old)
        drop_leaving(s, r, idx);
    b = rolling_ring_touch(g.slots, sizeof(*g.slots), g.n, &s->head[r], idx,
                           &moved);
    if (moved && (old == 0 || idx / g.n != old / g.n))
        rebuild(s, r);
    if (b == NULL || b->checks == ROLLING_U16_FULL)
        return;                 /* too old for this ring, or full */
    b->checks++;
    b->bad += x->bad != 0;
    b->errors += x->error != 0;
    if (!x->error)
        b->sum_ms += (float) x->ms;
    if (x->recovered) {
        b->recoveries++;
        b->repair_s += (uint32_t) x->repair_s;
    }
    for (int w = 0; w < W_COUNT; w++)
        if (sla_windows[w].ring == r
            && idx > s->head[r] - (int64_t) sla_windows[w].buckets)
            sums_add_sample(&s->win[w], x);
}

void
sla_add(struct sla_slot *s, const struct sla_sample *x, int32_t month)
{
    ring_add(s, 0, x);
    ring_add(s, 1, x);
    ring_add(s, 2, x);
    if (month > s->month) {
        memset(&s->month_sums, 0, sizeof(s->month_sums));
        s->month = month;
    }
    if (month == s->month)
        sums_add_sample(&s->month_sums, x);
}

void
sla_advance(struct sla_slot *s, int64_t now)
{
    for (int r = 0; r < 3; r++) {
        struct ring g = ring_of(s, r);
        int moved;

        rolling_ring_touch(g.slots, sizeof(*g.slots), g.n, &s->head[r],
                           rolling_index(now, ring_width[r]), &moved);
        if (moved)
            rebuild(s, r);
    }
}

int64_t
sla_window_span_s(const struct sla_slot *s, int w)
{
    const struct sla_window_def *d = &sla_windows[w];
    struct ring g = ring_of((struct sla_slot *) s, d->ring);
    int64_t head = s->head[d->ring], oldest = -1;

    for (int64_t b = head; b > head - (int64_t) d->buckets && b >= 0; b--)
        if (g.slots[b % g.n].checks)
            oldest = b;
    return oldest < 0 ? 0 : (head - oldest + 1) * (ring_width[d->ring] / NS);
}

void
sla_prefetch(const struct sla_slot *s, int64_t ns)
{
    __builtin_prefetch(s, 1);
    __builtin_prefetch(&s->m1[rolling_index(ns, MINUTE_NS) % 60], 1);
    __builtin_prefetch(&s->h1[rolling_index(ns, HOUR_NS) % 72], 1);
    __builtin_prefetch(&s->q6[rolling_index(ns, 6 * HOUR_NS) % 120], 1);
    for (size_t i = 0; i < sizeof(s->win); i += 64)
        __builtin_prefetch((const char *) s->win + i, 1);
    __builtin_prefetch(&s->month_sums, 1);
}

int32_t
sla_month_of(int64_t ns, int64_t *start_ns, int64_t *end_ns)
{
    time_t t = (time_t) (ns / NS);
    struct tm tm;
    int y, m;

    gmtime_r(&t, &tm);
    y = tm.tm_year + 1900;
    m = tm.tm_mon;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = m;
    tm.tm_mday = 1;
    *start_ns = (int64_t) timegm(&tm) * NS;
    tm.tm_mon = m + 1;          /* timegm normalizes December + 1 */
    *end_ns = (int64_t) timegm(&tm) * NS;
    return (int32_t) (y * 12 + m);
}

double
sla_availability(const struct sla_sums *w)
{
    return w->checks ? 1.0 - (double) w->bad / w->checks : 1.0;
}

double
sla_error_rate(const struct sla_sums *w)
{
    return w->checks ? (double) w->errors / w->checks : 0.0;
}

double
sla_avg_ms(const struct sla_sums *w)
{
    uint32_t ok = w->checks - w->errors;

    return ok ? w->sum_ms / ok : 0.0;
}

double
sla_mttr_s(const struct sla_sums *w)
{
    return w->recoveries ? (double) w->repair_s / w->recoveries : 0.0;
}
