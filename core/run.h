/*
 * run.h - one collection of one input (private to the core).
 *
 * Every state change happens on the loop thread; the lock only guards the
 * records emitted so far, which collector threads append to.
 * A run has two references: the collect side (dropped by
 * outpost_run_done) and the deadline side (dropped when the run finishes
 * or times out).
 *
 * Cancel hooks: whatever a run started on the loop (an HTTP transfer, a
 * database query, a request to the API server) registers a hook, and the
 * scheduler calls the hooks when it gives up on the run, without knowing
 * what they stop. Rules (all of it loop thread only):
 *  1. A hook lives in its owner's memory, like a loop_timer; the run only
 *     links it. Registering cannot fail for lack of memory.
 *  2. run_on_cancel() registers only on a running run; on a cancelled or
 *     finished one it returns -1 and the owner stops its work itself.
 *  3. A registered hook is called at most once, when the run is cancelled
 *     (its deadline passed, or the agent is stopping). It is off the run
 *     when called, so it may free its memory, remove other hooks and end
 *     the run (outpost_run_done).
 *  4. When the run finishes normally its hooks are dropped without being
 *     called; run_hook_remove() of a dropped or fired hook does nothing,
 *     so work that outlives its run never touches the run again.
 */
#ifndef OUTPOST_RUN_H
#define OUTPOST_RUN_H

#include <pthread.h>
#include <outpost/plugin.h>
#include "loop.h"

enum run_state { RUN_RUNNING, RUN_FINISHED, RUN_CANCELLED };

typedef void (*run_cancel_fn)(void *arg);

struct run_hook {
    struct run_hook  *next;
    struct run_hook **pprev;        /* NULL: on no run */
    run_cancel_fn     fn;
    void             *arg;
};

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
    struct run_hook    *cancel_hooks;   /* loop thread only */
    outpost_run_t      *pool_next;      /* scheduler's pool of ended runs */
};

/* Registers h to call fn(arg) if run is cancelled (rules 2, 3): 0, or -1
 * when run is no longer running. h must be on no run. */
int  run_on_cancel(outpost_run_t *run, struct run_hook *h, run_cancel_fn fn,
                   void *arg);
/* Takes h off its run, if it is on one (rule 4). */
void run_hook_remove(struct run_hook *h);

/* The scheduler's side. run_hooks_fire: the run was just cancelled; calls
 * every hook once. run_hooks_drop: the run finished; forgets its hooks. */
void run_hooks_fire(outpost_run_t *run);
void run_hooks_drop(outpost_run_t *run);

#endif
