/*
 * run.h - one collection of one input (private to the core).
 *
 * Every state change happens on the loop thread; the lock only guards the
 * records emitted so far, which collector threads append to.
 * A run has two references: the collect side (dropped by
 * outpost_run_done) and the deadline side (dropped when the run finishes
 * or times out).
 */
#ifndef OUTPOST_RUN_H
#define OUTPOST_RUN_H

#include <pthread.h>
#include <outpost/plugin.h>
#include "loop.h"

enum run_state { RUN_RUNNING, RUN_FINISHED, RUN_CANCELLED };

struct transfer;
struct input_rt;

struct outpost_run {
    outpost_instance_t *inst;
    struct input_rt    *rt;
    int64_t             start_ns;       /* wall clock */
    int64_t             start_ms;       /* monotonic */
    pthread_mutex_t     lock;
    enum run_state      state;
    int                 refs;           /* loop thread only */
    outpost_record_t  **recs;
    size_t              nrecs, caprecs;
    struct loop_timer   deadline;
    struct transfer    *transfers;      /* loop thread only (http.c) */
    outpost_run_t      *pool_next;      /* scheduler's pool of ended runs */
};

/* http.c: abort the run's transfers (loop thread). */
void http_cancel_run(outpost_run_t *run);

#endif
