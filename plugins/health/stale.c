/*
 * stale.c - the health filter's staleness: an integration whose results
 * stop coming turns unknown, once, with a state_change event saying so.
 *
 * "Too long" is twice the interval the integration reports at, learnt
 * from the spacing of its results (or stale_after). A down integration is
 * given down_stale_after: its circuit may be open, and the circuit
 * breaker then probes it only once per open_for.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "health.h"

#define MS 1000000LL            /* ns per ms */

/* Remembers when results arrive: their spacing is the interval that
 * staleness is measured against. */
void
health_note_arrival(struct health_slot *s, int64_t ns)
{
    if (s->last_ns > 0 && ns > s->last_ns) {
        int64_t gap = (ns - s->last_ns) / MS;
        s->gaps_ms[s->gap_next] = (uint32_t) (gap < UINT32_MAX ? gap
                                                                : UINT32_MAX);
        s->gap_next = (uint8_t) ((s->gap_next + 1) % HEALTH_GAPS);
        if (s->ngaps < HEALTH_GAPS)
            s->ngaps++;
    }
    if (ns > s->last_ns)
        s->last_ns = ns;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}

/* The interval an integration reports at: the median of its latest
 * spacings, so one forced check or one slow run does not move it. */
static int64_t
observed_interval_ms(const struct health_slot *s, int64_t fallback)
{
    uint32_t g[HEALTH_GAPS];

    if (s->ngaps == 0)
        return fallback;
    memcpy(g, s->gaps_ms, sizeof(g));
    qsort(g, s->ngaps, sizeof(g[0]), cmp_u32);
    return g[s->ngaps / 2] > 0 ? g[s->ngaps / 2] : fallback;
}

static void
mark_stale(outpost_emitter_t *out, struct rolling_entry *e, int64_t now,
           int64_t silent_ms, int64_t interval_ms)
{
    struct health_slot *s = rolling_slot(e);
    outpost_record_t *cause = rolling_entry_measurement(e, "health", now);
    char why[128];

    /* The event's cause is a small health measurement carrying the
     * integration's latest tags, so outputs can route it like others. */
    if (cause) {
        outpost_record_add_str(cause, OUTPOST_F_STATUS, "unknown");
        outpost_record_add_bool(cause, "stale", 1);
    }
    snprintf(why, sizeof(why), "no result for %" PRId64 "s (expected every "
             "%" PRId64 "s)", silent_ms / 1000, (interval_ms + 999) / 1000);
    health_emit_change(out, cause, e->name, s->status, ST_UNKNOWN, why);
    outpost_record_unref(cause);
    s->status = ST_UNKNOWN;
    s->stale = 1;
}

void
health_check_stale(const struct health_conf *c, struct rolling_table *t,
                   int64_t fallback, outpost_emitter_t *out, int64_t now)
{
    for (size_t i = 0; i < rolling_table_count(t); i++) {
        struct rolling_entry *e = rolling_table_at(t, i);
        struct health_slot *s = rolling_slot(e);
        int64_t interval, limit, from, silent;

        if (s->status == ST_UNKNOWN || s->last_ns == 0)
            continue;
        interval = observed_interval_ms(s, fallback);
        limit = c->stale_after_ms > 0 ? c->stale_after_ms : 2 * interval;
        if (s->status == ST_DOWN && limit < c->down_stale_after_ms)
            limit = c->down_stale_after_ms;
        from = s->last_ns > s->grace_ns ? s->last_ns : s->grace_ns;
        silent = (now - from) / MS;
        if (silent > limit)
            mark_stale(out, e, now, (now - s->last_ns) / MS, interval);
    }
}
