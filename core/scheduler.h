/*
 * scheduler.h - runs every input instance at its own interval on the event
 * loop; blocking collects go to a small pool of collector threads.
 */
#ifndef OUTPOST_SCHEDULER_H
#define OUTPOST_SCHEDULER_H

#include <outpost/plugin.h>
#include "loop.h"
#include "pipeline.h"

struct scheduler;

struct scheduler_stats {
    uint64_t runs;            /* runs started */
    uint64_t timeouts;        /* runs cancelled at their deadline */
    uint64_t skipped;         /* ticks skipped: the previous run was busy */
    uint64_t deferred;        /* ticks skipped: outpost_input_defer() */
    uint64_t overloaded;      /* ticks skipped: the agent was too late to
                                 start them in time (see scheduler.c) */
    uint64_t overload_unknown;/* runs past their deadline reported unknown,
                                 "agent overloaded", not failed */
    uint64_t late_p99_us;     /* p99 of start - due, over all runs */
    uint64_t late_max_us;
};

struct scheduler *scheduler_new(struct loop *l, struct pipeline *p,
                                int collect_threads);
void scheduler_free(struct scheduler *s);

/* Before scheduler_start only. inst must be live and outlive s. */
int  scheduler_add(struct scheduler *s, outpost_instance_t *inst);

/* once = 0: first runs spread over each interval, then every interval.
 * once = 1: every input runs once, now. */
int  scheduler_start(struct scheduler *s, int once);

/* Waits until no run is in flight and (once mode) every input has run. */
void scheduler_wait_idle(struct scheduler *s);

/* Stops scheduling and cancels runs in flight (they end as timeouts are
 * not reported); waits for collector threads. */
void scheduler_stop(struct scheduler *s);

void scheduler_get_stats(struct scheduler *s, struct scheduler_stats *st);

/* How late ticks started their checks (due to tick), for /metrics. Any
 * thread; takes no lock (metrics_hist.h). */
struct metrics_hist_snap;
void scheduler_get_lateness(struct scheduler *s,
                            struct metrics_hist_snap *snap);

/* Starts a run of the input named input now, unless one is busy. Any
 * thread but the loop's, after scheduler_start. 0: started; 1: a run is
 * busy, nothing started; -1: no such input, or stopping. *timeout_ms (may
 * be NULL): the input's timeout. */
int  scheduler_run_now(struct scheduler *s, const char *input,
                       int64_t *timeout_ms);

/* The inputs, for /health (any thread after scheduler_start; the table
 * does not change while the scheduler lives). last_tick_ms: monotonic ms
 * of the last tick that started (or deliberately skipped) a run, or of
 * the start; a tick lost to overload does not count. */
struct scheduler_input_info {
    const char *name;           /* borrowed, lives as long as s */
    int64_t     interval_ms, timeout_ms, last_tick_ms;
};
size_t scheduler_input_count(const struct scheduler *s);
void   scheduler_input_info(struct scheduler *s, size_t i,
                            struct scheduler_input_info *out);

/* The offset of the first run of input i of n, in [0, interval): a
 * low-discrepancy sequence, so any number of inputs spread evenly. */
int64_t scheduler_spread_offset(size_t i, int64_t interval_ms);

#endif
