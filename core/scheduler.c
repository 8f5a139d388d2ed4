/*
 * scheduler.c - when each input runs, and the life of a run.
 *
 * Each input has one timer on the loop. When it fires, a run starts
 * (unless the previous one is still busy: that tick is skipped and
 * counted, as Telegraf does) and a deadline timer is armed at the input's
 * timeout. A run ends either by outpost_run_done() or at its deadline,
 * where it is cancelled and reported as a failed check with
 * error "timeout". Plugins flagged OUTPOST_PLUGIN_ASYNC collect on the
 * loop thread; others on a collector thread, so a slow input never delays
 * another.
 *
 * Overload. When the loop cannot keep pace (more checks than this
 * machine can run), ticks fire late. A tick later than overload_margin()
 * of its input's timeout cannot start in time: it is skipped and counted
 * (stats.overloaded), which costs next to nothing, so the loop catches up
 * instead of piling up transfers and memory. The first skip of an
 * episode logs one warning naming the shortfall (how late, how many
 * checks are due, how many started); the end of the episode and the
 * stop log what it cost. A run that times out while the loop ran late
 * by a quarter of its timeout (run_starved: the vendor had no fair
 * chance) reports status unknown, reason "agent overloaded" (no
 * "success" field), never a failed check: the vendor was not measured.
 * Slots that passed while the loop was late are counted as skipped too,
 * and during an episode no run starts while more are in flight than end
 * in two seconds at the recent pace (overload_full). So runs start no
 * faster than the agent can finish them, and what is in flight
 * (transfers, their buffers: the memory) stays bounded by that pace
 * instead of growing with the backlog until everything times out.
 */
#include <malloc.h>
#include <math.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clock.h"
#include "instance.h"
#include "log.h"
#include "metrics_hist.h"
#include "run.h"
#include "scheduler.h"

#define DEADLINE_GRACE_MS 20    /* let a plugin report its own timeout */
#define LATE_BUCKETS      64    /* log2 histogram of lateness in us */
#define OVERLOAD_MIN_MS   500   /* lateness never called overload below it */
#define OVERLOAD_SKIP_MS  1000  /* a tick this late is skipped anyway */
#define OVERLOAD_FLIGHT_MS 2000 /* overloaded: in flight <= this much ... */
#define OVERLOAD_MIN_FLIGHT 64  /* ... of the pace runs end at, or this */
#define OVERLOAD_CALM_MS  1000  /* no skip for this long: episode over */
#define LAG_BUCKET_MS     250   /* history of the loop's lateness ... */
#define LAG_BUCKETS       64    /* ... over the last 16 s */

struct input_rt {
    struct scheduler   *s;
    outpost_instance_t *inst;
    struct loop_timer   timer;
    int64_t             due_ms;
    outpost_run_t      *busy;        /* run whose collect side is open */
    int                 ran;         /* once mode: a run has ended */
    _Atomic int64_t     defer_until; /* wall ns; see outpost_input_defer */
    int                 failing;     /* the last check failed */
    uint64_t            failures;    /* consecutive failed checks */
    int                 busy_warned; /* "still busy" logged, not run since */
    _Atomic int64_t     last_tick_ms;/* the last tick that was not lost to
                                        overload (monotonic); for /health */
};

/* An overload episode (loop thread only); see the top of the file. */
struct overload {
    int      on;                /* warned, not over yet */
    int64_t  since_ms;
    int64_t  last_skip_ms;
    int64_t  max_late_ms;
    uint64_t skipped;           /* in this episode */
    uint64_t started;           /* in this episode */
    int64_t  win_ms;            /* the current one-second window */
    uint64_t win_started, win_done;
    int64_t  last_ms;           /* the previous one, or 0 */
    uint64_t last_started, last_done;
    int64_t  lag_at[LAG_BUCKETS];       /* start of the bucket's 250 ms */
    int64_t  lag_max[LAG_BUCKETS];      /* the worst lateness seen in it */
};

struct job {
    struct job    *next;
    outpost_run_t *run;
};

struct scheduler {
    struct loop       *loop;
    struct pipeline   *pipeline;
    struct input_rt  **inputs;
    size_t             ninputs;
    int                once;
    int                stopping;

    pthread_mutex_t    lock;          /* jobs, counters, idle condition */
    pthread_cond_t     job_cond;
    pthread_cond_t     idle_cond;
    struct job        *jobs_head, *jobs_tail;
    pthread_t         *threads;
    int                nthreads;
    size_t             inflight;      /* runs with an open collect side */
    size_t             ended_once;    /* once mode: inputs done */

    struct scheduler_stats stats;
    uint64_t           late_hist[LATE_BUCKETS];
    struct metrics_hist late;         /* the same, for /metrics (atomic) */

    outpost_run_t     *run_pool;      /* ended runs for reuse (loop) */
    size_t             run_pooled;
    struct overload    ov;            /* loop thread */
    double             due_per_s;     /* checks the config asks for */
};

/* The running scheduler, for outpost_input_defer() (one agent per
 * process). Its inputs table does not change while it runs. */
static struct scheduler *_Atomic running;

/* --- spreading --------------------------------------------------------- */

int64_t
scheduler_spread_offset(size_t i, int64_t interval_ms)
{
    /* Golden-ratio (Weyl) sequence: consecutive instances land far apart
     * and any prefix of n is close to evenly spaced. */
    double frac = fmod((double) i * 0.6180339887498949, 1.0);

    return (int64_t) (frac * (double) interval_ms);
}

/* --- overload (loop thread) -------------------------------------------- */

/* How late a tick may fire and still start its check: half the timeout,
 * but never more than OVERLOAD_SKIP_MS (a loop a second behind has a
 * second of starts queued in front of the transfers it should drive) nor
 * less than OVERLOAD_MIN_MS, so a loop that hiccups is not called
 * overloaded. */
static int64_t
overload_margin(int64_t timeout_ms)
{
    int64_t m = timeout_ms / 2;

    return m > OVERLOAD_SKIP_MS ? OVERLOAD_SKIP_MS
         : m < OVERLOAD_MIN_MS ? OVERLOAD_MIN_MS : m;
}

/* Notes how late the loop ran a timer (a tick, a deadline) at now. */
static void
lag_note(struct overload *ov, int64_t now, int64_t late)
{
    int64_t at = now - now % LAG_BUCKET_MS;
    size_t b = (size_t) (at / LAG_BUCKET_MS) % LAG_BUCKETS;

    if (ov->lag_at[b] != at) {
        ov->lag_at[b] = at;
        ov->lag_max[b] = 0;
    }
    if (late > ov->lag_max[b])
        ov->lag_max[b] = late;
}

/* The worst lateness of the loop in [from, to] (the last 16 s at most). */
static int64_t
lag_during(const struct overload *ov, int64_t from, int64_t to)
{
    int64_t worst = 0;

    if (to - from > LAG_BUCKET_MS * (LAG_BUCKETS - 1))
        from = to - LAG_BUCKET_MS * (LAG_BUCKETS - 1);
    for (int64_t at = from - from % LAG_BUCKET_MS; at <= to;
         at += LAG_BUCKET_MS) {
        size_t b = (size_t) (at / LAG_BUCKET_MS) % LAG_BUCKETS;

        if (ov->lag_at[b] == at && ov->lag_max[b] > worst)
            worst = ov->lag_max[b];
    }
    return worst;
}

/* Did the agent's own lateness, while this run lasted, cost it a quarter
 * of its timeout (500 ms at least)? Then its timeout says nothing about
 * the vendor. Lower than the margin for skipping: a run starved that
 * much had no fair chance, though the loop was not late enough to skip. */
static int
run_starved(struct scheduler *s, const outpost_run_t *run, int64_t now)
{
    int64_t timeout = outpost_instance_timeout_ms(run->inst);
    int64_t limit = timeout / 4 > OVERLOAD_MIN_MS ? timeout / 4
                                                  : OVERLOAD_MIN_MS;

    return lag_during(&s->ov, run->start_ms, now) > limit;
}

/* A copy of a failed check's measurement, recast as status unknown,
 * reason "agent overloaded": every field but "success". NULL on ENOMEM. */
static outpost_record_t *
as_overloaded(const outpost_record_t *rec)
{
    outpost_record_t *n = outpost_measurement_new(rec->name, rec->tags,
                                                  rec->ts_ns);

    if (n == NULL)
        return NULL;
    for (size_t i = 0; i < rec->nfields; i++) {
        const outpost_field_t *f = &rec->fields[i];

        if (strcmp(f->key, "success") == 0)
            continue;
        switch (f->type) {
        case OUTPOST_FIELD_INT:
            outpost_record_add_int(n, f->key, f->v.i);
            break;
        case OUTPOST_FIELD_FLOAT:
            outpost_record_add_float(n, f->key, f->v.f);
            break;
        case OUTPOST_FIELD_BOOL:
            outpost_record_add_bool(n, f->key, f->v.b);
            break;
        case OUTPOST_FIELD_STRING:
            outpost_record_add_str(n, f->key, f->v.s);
            break;
        }
    }
    outpost_record_add_str(n, "status_hint", "unknown");
    outpost_record_add_str(n, "reason", "agent overloaded");
    return n;
}

/* The checks of a run that timed out while the agent starved it are
 * not the vendor's failures: recast them (loop thread). */
static void
unblame_timeouts(struct scheduler *s, outpost_run_t *run)
{
    int starved = -1;

    for (size_t i = 0; i < run->nrecs; i++) {
        outpost_record_t *rec = run->recs[i], *n;
        const char *err = outpost_record_string(rec, "error");

        if (rec->kind != OUTPOST_MEASUREMENT || err == NULL
            || strncmp(err, "timeout", 7) != 0
            || outpost_record_number(rec, "success", 1) != 0)
            continue;
        if (starved < 0)
            starved = run_starved(s, run, clock_mono_ms());
        if (!starved || (n = as_overloaded(rec)) == NULL)
            continue;
        outpost_record_unref(rec);
        run->recs[i] = n;
        pthread_mutex_lock(&s->lock);
        s->stats.overload_unknown++;
        pthread_mutex_unlock(&s->lock);
    }
}

/* Counts in the one-second windows: started > 0 a run started, 0 a
 * tick skipped, < 0 a run ended. */
static void
overload_window(struct overload *ov, int64_t now, int started)
{
    if (now - ov->win_ms >= 1000) {
        int recent = now - ov->win_ms < 2000;

        ov->last_ms = recent ? ov->win_ms : 0;
        ov->last_started = recent ? ov->win_started : 0;
        ov->last_done = recent ? ov->win_done : 0;
        ov->win_ms = now;
        ov->win_started = ov->win_done = 0;
    }
    ov->win_started += started > 0;
    ov->win_done += started < 0;
    if (ov->on)
        ov->started += started > 0;
}

/* A tick that cannot start in time: skip it, count it, warn once. */
static void
overload_skip(struct scheduler *s, struct input_rt *rt, int64_t late,
              int64_t timeout, int64_t now)
{
    struct overload *ov = &s->ov;

    pthread_mutex_lock(&s->lock);
    s->stats.overloaded++;
    pthread_mutex_unlock(&s->lock);
    if (!ov->on) {
        int64_t from = ov->last_ms ? ov->last_ms : ov->win_ms;
        double secs = (double) (now - from) / 1000.0;

        if (secs < 0.001)
            secs = 0.001;
        ov->on = 1;
        ov->since_ms = now;
        ov->skipped = ov->started = 0;
        ov->max_late_ms = 0;
        outpost_log(rt->inst, OUTPOST_LOG_WARN, "collect",
                    "agent overloaded: checks start %lld ms behind "
                    "schedule (the limit is %lld ms for a %lld ms "
                    "timeout): %.0f checks/s are due, %.0f/s started over "
                    "the last %.1f s. Checks that cannot start in time "
                    "are skipped and counted until the agent catches up",
                    (long long) late, (long long) overload_margin(timeout),
                    (long long) timeout, s->due_per_s,
                    (double) (ov->last_started + ov->win_started) / secs,
                    secs);
    }
    overload_window(ov, now, 0);
    ov->skipped++;
    ov->last_skip_ms = now;
    if (late > ov->max_late_ms)
        ov->max_late_ms = late;
}

/* While overloaded, no more runs in flight than the loop ends in
 * OVERLOAD_FLIGHT_MS (at its recent pace): more would only share the
 * same CPU, each taking longer, until all of them time out, and hold
 * their transfers' memory meanwhile. The cap follows the pace, so it
 * opens again as runs get faster. */
static int
overload_full(struct scheduler *s, int64_t now)
{
    const struct overload *ov = &s->ov;
    int64_t from = ov->last_ms ? ov->last_ms : ov->win_ms;
    double secs = (double) (now - from) / 1000.0;
    double pace = (double) (ov->last_done + ov->win_done)
                  / (secs > 0.5 ? secs : 0.5);
    double cap = pace * OVERLOAD_FLIGHT_MS / 1000.0;
    size_t inflight;

    if (!ov->on)
        return 0;
    if (cap < OVERLOAD_MIN_FLIGHT)
        cap = OVERLOAD_MIN_FLIGHT;
    pthread_mutex_lock(&s->lock);
    inflight = s->inflight;
    pthread_mutex_unlock(&s->lock);
    return (double) inflight >= cap;
}

/* A tick on time: ends an episode that has been calm long enough. */
static void
overload_calm(struct scheduler *s, int64_t now)
{
    struct overload *ov = &s->ov;
    double secs;

    if (!ov->on || now - ov->last_skip_ms < OVERLOAD_CALM_MS)
        return;
    ov->on = 0;
    secs = (double) (ov->last_skip_ms - ov->since_ms) / 1000.0;
    if (secs < 1)
        secs = 1;
    log_core(OUTPOST_LOG_INFO, "collect",
             "agent caught up: over %.1f s of overload %llu checks were "
             "skipped (up to %lld ms late); %.0f/s started of %.0f/s due",
             secs, (unsigned long long) ov->skipped,
             (long long) ov->max_late_ms, (double) ov->started / secs,
             s->due_per_s);
}

/* --- run lifecycle (loop thread unless said otherwise) ------------------ */

/* Ended runs kept for the next ones (loop thread only): thousands of
 * checks a second would otherwise each allocate a run, its lock and its
 * records array, and free them again. */
#define RUN_POOL_MAX 256

static void
run_destroy(outpost_run_t *run)
{
    free(run->recs);
    pthread_mutex_destroy(&run->lock);
    free(run);
}

/* Drops n references; the last one frees the run, or pools it. */
static void
run_release(outpost_run_t *run, int n)
{
    struct scheduler *s = run->rt->s;

    run->refs -= n;
    if (run->refs > 0)
        return;
    for (size_t i = 0; i < run->nrecs; i++)
        outpost_record_unref(run->recs[i]);
    run->nrecs = 0;
    if (s->run_pooled >= RUN_POOL_MAX || run->caprecs > 16) {
        run_destroy(run);
        return;
    }
    run->pool_next = s->run_pool;
    s->run_pool = run;
    s->run_pooled++;
}

static void
run_pool_drain(struct scheduler *s)
{
    while (s->run_pool) {
        outpost_run_t *next = s->run_pool->pool_next;
        run_destroy(s->run_pool);
        s->run_pool = next;
    }
    s->run_pooled = 0;
}

/* Logs a check that starts failing and one that recovers: once per
 * transition, not per check, so an outage is two lines in the log. */
static void
log_transitions(struct input_rt *rt, outpost_record_t *const *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double ok = outpost_record_number(recs[i], "success", -1);
        const char *err;

        if (ok < 0)
            continue;
        if (ok == 0) {
            rt->failures++;
            if (rt->failing)
                continue;
            rt->failing = 1;
            err = outpost_record_string(recs[i], "error");
            outpost_log(rt->inst, OUTPOST_LOG_WARN, "check",
                        "check failed: %s", err ? err : "no detail");
        } else if (rt->failing) {
            outpost_log(rt->inst, OUTPOST_LOG_INFO, "check",
                        "check recovered after %llu failed check%s",
                        (unsigned long long) rt->failures,
                        rt->failures == 1 ? "" : "s");
            rt->failing = 0;
            rt->failures = 0;
        }
    }
}

/* Submits what the run emitted. Only once it is no longer running: then
 * nothing appends any more, and the array stays with the run for reuse. */
static void
submit_ended(struct scheduler *s, outpost_run_t *run)
{
    if (run->nrecs > 0) {
        unblame_timeouts(s, run);
        log_transitions(run->rt, run->recs, run->nrecs);
        pipeline_submit(s->pipeline, run->recs, run->nrecs);
        run->nrecs = 0;
    }
}

static void
record_lateness(struct scheduler *s, int64_t late_ms)
{
    uint64_t us = late_ms > 0 ? (uint64_t) late_ms * 1000 : 0;
    int b = 0;

    while (b < LATE_BUCKETS - 1 && (1ULL << b) <= us)
        b++;
    metrics_hist_observe(&s->late, us);
    pthread_mutex_lock(&s->lock);
    s->late_hist[b]++;
    if (us > s->stats.late_max_us)
        s->stats.late_max_us = us;
    pthread_mutex_unlock(&s->lock);
}

static void
collect_side_closed(struct scheduler *s, struct input_rt *rt)
{
    rt->busy = NULL;
    overload_window(&s->ov, clock_mono_ms(), -1);
    pthread_mutex_lock(&s->lock);
    s->inflight--;
    if (!rt->ran) {
        rt->ran = 1;
        s->ended_once++;
    }
    pthread_cond_broadcast(&s->idle_cond);
    pthread_mutex_unlock(&s->lock);
}

static void
finish_on_loop(void *arg)
{
    outpost_run_t *run = arg;
    struct scheduler *s = run->rt->s;
    enum run_state was;

    pthread_mutex_lock(&run->lock);
    was = run->state;
    if (was == RUN_RUNNING)
        run->state = RUN_FINISHED;
    pthread_mutex_unlock(&run->lock);

    if (was == RUN_RUNNING) {
        submit_ended(s, run);
        loop_timer_disarm(s->loop, &run->deadline);
        run_hooks_drop(run);
    }
    collect_side_closed(s, run->rt);
    /* The collect side, and the deadline side if it was still open. */
    run_release(run, was == RUN_RUNNING ? 2 : 1);
}

/* Ends a run that is still running. report: add the failed check (its
 * deadline passed); at shutdown nothing is reported. */
static void
cancel_run(outpost_run_t *run, int report)
{
    struct scheduler *s = run->rt->s;
    outpost_record_t *rec;
    int64_t timeout = outpost_instance_timeout_ms(run->inst);
    int ours;

    pthread_mutex_lock(&run->lock);
    if (run->state != RUN_RUNNING) {
        pthread_mutex_unlock(&run->lock);
        return;
    }
    run->state = RUN_CANCELLED;
    pthread_mutex_unlock(&run->lock);

    submit_ended(s, run);

    /* The agent's own lateness while the run lasted (this deadline's
     * included): past the margin, the vendor was not measured. */
    ours = report && run_starved(s, run, clock_mono_ms());
    rec = report ? outpost_run_measurement(run) : NULL;
    if (rec) {
        char msg[128];
        snprintf(msg, sizeof(msg), "timeout: no result after %lld ms%s",
                 (long long) timeout,
                 ours ? ", the agent being too busy to run the check" : "");
        if (ours) {
            outpost_record_add_str(rec, "status_hint", "unknown");
            outpost_record_add_str(rec, "reason", "agent overloaded");
        } else
            outpost_record_add_bool(rec, "success", 0);
        outpost_record_add_float(rec, "response_ms",
                                 (double) (clock_mono_ms() - run->start_ms));
        outpost_record_add_str(rec, "error", msg);
        log_transitions(run->rt, &rec, 1);
        pipeline_submit(s->pipeline, &rec, 1);
    }
    if (report) {
        pthread_mutex_lock(&s->lock);
        s->stats.timeouts++;
        s->stats.overload_unknown += ours != 0;
        pthread_mutex_unlock(&s->lock);
        if (!ours)
            outpost_log(run->inst, OUTPOST_LOG_WARN, "collect",
                        "run cancelled: still running after its %lld ms "
                        "timeout", (long long) timeout);
    }

    run->refs++;                /* a cancel hook may finish the run */
    run_hooks_fire(run);
    run_release(run, 2);        /* that extra one, and the deadline side */
}

/* The deferred verdict of a deadline that fired late (see below). */
static void
deadline_recheck(void *arg)
{
    outpost_run_t *run = arg;

    cancel_run(run, !run->rt->s->stopping);     /* no-op if it finished */
    run_release(run, 1);
}

/* A deadline that fires late may be queued behind the very result it
 * would cancel: a collector thread finished in time, but the busy loop
 * has not read its loop_call yet. Then the verdict waits one turn of the
 * inbox, behind that result (an extra reference keeps the run). */
static void
deadline_fired(void *arg)
{
    outpost_run_t *run = arg;
    int64_t due = run->start_ms + outpost_instance_timeout_ms(run->inst)
                  + DEADLINE_GRACE_MS, now = clock_mono_ms();

    lag_note(&run->rt->s->ov, now, now - due);
    if (now - due > DEADLINE_GRACE_MS) {
        run->refs++;
        if (loop_call(run->rt->s->loop, deadline_recheck, run) == 0)
            return;
        run->refs--;
    }
    cancel_run(run, 1);
}

/* --- the SDK side of runs (any thread) ---------------------------------- */

outpost_record_t *
outpost_run_measurement(outpost_run_t *run)
{
    return outpost_measurement_new(run->inst->plugin->name, run->inst->tags,
                                   run->start_ns);
}

void
outpost_run_emit(outpost_run_t *run, outpost_record_t *rec)
{
    if (rec == NULL)
        return;
    pthread_mutex_lock(&run->lock);
    if (run->state == RUN_RUNNING) {
        if (run->nrecs == run->caprecs) {
            size_t cap = run->caprecs ? run->caprecs * 2 : 4;
            outpost_record_t **r = realloc(run->recs, cap * sizeof(*r));
            if (r == NULL)
                goto drop;
            run->recs = r;
            run->caprecs = cap;
        }
        run->recs[run->nrecs++] = rec;
        pthread_mutex_unlock(&run->lock);
        return;
    }
drop:
    pthread_mutex_unlock(&run->lock);
    outpost_record_unref(rec);
}

void
outpost_run_done(outpost_run_t *run)
{
    struct loop *l = run->rt->s->loop;

    if (loop_on_thread(l))
        finish_on_loop(run);
    else if (loop_call(l, finish_on_loop, run) != 0)
        log_core(OUTPOST_LOG_ERROR, "collect", "run ended after shutdown");
}

int
outpost_run_cancelled(const outpost_run_t *run)
{
    int c;

    pthread_mutex_lock((pthread_mutex_t *) &run->lock);
    c = run->state == RUN_CANCELLED;
    pthread_mutex_unlock((pthread_mutex_t *) &run->lock);
    return c;
}

outpost_instance_t *
outpost_run_instance(const outpost_run_t *run)
{
    return run->inst;
}

/* --- collector threads -------------------------------------------------- */

static void
collect_now(outpost_run_t *run)
{
    int rc = run->inst->plugin->collect(run->inst, run);

    if (rc != OUTPOST_RUN_PENDING)
        outpost_run_done(run);
}

static void *
collector_main(void *arg)
{
    struct scheduler *s = arg;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct job *j;

        while (s->jobs_head == NULL && !s->stopping)
            pthread_cond_wait(&s->job_cond, &s->lock);
        if (s->jobs_head == NULL)
            break;
        j = s->jobs_head;
        s->jobs_head = j->next;
        if (s->jobs_head == NULL)
            s->jobs_tail = NULL;
        pthread_mutex_unlock(&s->lock);
        collect_now(j->run);
        free(j);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int
enqueue_job(struct scheduler *s, outpost_run_t *run)
{
    struct job *j = malloc(sizeof(*j));

    if (j == NULL)
        return -1;
    j->next = NULL;
    j->run = run;
    pthread_mutex_lock(&s->lock);
    if (s->jobs_tail)
        s->jobs_tail->next = j;
    else
        s->jobs_head = j;
    s->jobs_tail = j;
    pthread_cond_signal(&s->job_cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* --- ticks (loop thread) ------------------------------------------------ */

static outpost_run_t *
run_new(struct input_rt *rt)
{
    outpost_run_t *run = rt->s->run_pool;

    if (run) {
        rt->s->run_pool = run->pool_next;
        rt->s->run_pooled--;
        run->pool_next = NULL;
    } else {
        if ((run = calloc(1, sizeof(*run))) == NULL)
            return NULL;
        pthread_mutex_init(&run->lock, NULL);
    }
    run->inst = rt->inst;
    run->rt = rt;
    run->start_ns = outpost_time_now();
    run->start_ms = clock_mono_ms();
    run->state = RUN_RUNNING;
    run->refs = 2;
    loop_timer_init(&run->deadline, deadline_fired, run);
    return run;
}

static void
start_run(struct input_rt *rt)
{
    struct scheduler *s = rt->s;
    outpost_run_t *run;

    if (rt->busy) {
        pthread_mutex_lock(&s->lock);
        s->stats.skipped++;
        pthread_mutex_unlock(&s->lock);
        /* Once until a run starts again, not every interval. */
        if (!rt->busy_warned)
            outpost_log(rt->inst, OUTPOST_LOG_WARN, "collect",
                        "previous run still busy: this interval is "
                        "skipped (and the next ones, until it ends)");
        rt->busy_warned = 1;
        return;
    }
    rt->busy_warned = 0;
    overload_window(&s->ov, clock_mono_ms(), 1);
    run = run_new(rt);
    if (run == NULL) {
        outpost_log(rt->inst, OUTPOST_LOG_ERROR, "collect", "out of memory");
        return;
    }
    rt->busy = run;
    pthread_mutex_lock(&s->lock);
    s->inflight++;
    s->stats.runs++;
    pthread_mutex_unlock(&s->lock);
    loop_timer_arm(s->loop, &run->deadline, run->start_ms
                   + outpost_instance_timeout_ms(rt->inst)
                   + DEADLINE_GRACE_MS);

    if (rt->inst->plugin->flags & OUTPOST_PLUGIN_ASYNC)
        collect_now(run);
    else if (enqueue_job(s, run) != 0)
        outpost_run_done(run);
}

static void
input_tick(void *arg)
{
    struct input_rt *rt = arg;
    struct scheduler *s = rt->s;
    int64_t now = clock_mono_ms(), interval, defer, late, timeout;

    if (s->stopping)
        return;
    late = now - rt->due_ms;
    timeout = outpost_instance_timeout_ms(rt->inst);
    record_lateness(s, late);
    lag_note(&s->ov, now, late);
    defer = atomic_load(&rt->defer_until);
    if (!s->once && (late > overload_margin(timeout)
                     || overload_full(s, now)))
        overload_skip(s, rt, late, timeout, now);
    else if (s->once || defer == 0 || defer <= outpost_time_now()) {
        atomic_store(&rt->last_tick_ms, now);
        overload_calm(s, now);
        start_run(rt);
    } else {
        atomic_store(&rt->last_tick_ms, now);
        pthread_mutex_lock(&s->lock);
        s->stats.deferred++;
        pthread_mutex_unlock(&s->lock);
    }
    if (s->once)
        return;

    /* Fixed rate: the next slot after now, skipping any we fell behind. */
    interval = outpost_instance_interval_ms(rt->inst);
    rt->due_ms += interval;
    if (rt->due_ms <= now) {
        /* Slots that passed while we were late: skipped, and counted. */
        int64_t missed = (now - rt->due_ms) / interval + 1;

        rt->due_ms += missed * interval;
        pthread_mutex_lock(&s->lock);
        s->stats.overloaded += (uint64_t) missed;
        pthread_mutex_unlock(&s->lock);
        s->ov.skipped += (uint64_t) missed;
    }
    loop_timer_arm(s->loop, &rt->timer, rt->due_ms);
}

/* --- setup -------------------------------------------------------------- */

struct scheduler *
scheduler_new(struct loop *l, struct pipeline *p, int collect_threads)
{
    struct scheduler *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->loop = l;
    s->pipeline = p;
    s->nthreads = collect_threads > 0 ? collect_threads : 1;
    metrics_hist_init(&s->late, &metrics_bounds_agent);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->job_cond, NULL);
    pthread_cond_init(&s->idle_cond, NULL);
    return s;
}

int
scheduler_add(struct scheduler *s, outpost_instance_t *inst)
{
    struct input_rt *rt, **v;

    v = realloc(s->inputs, (s->ninputs + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    s->inputs = v;
    rt = calloc(1, sizeof(*rt));
    if (rt == NULL)
        return -1;
    rt->s = s;
    rt->inst = inst;
    inst->rt = rt;
    loop_timer_init(&rt->timer, input_tick, rt);
    s->inputs[s->ninputs++] = rt;
    return 0;
}

static void
arm_all(void *arg)
{
    struct scheduler *s = arg;
    int64_t now = clock_mono_ms();

    for (size_t i = 0; i < s->ninputs; i++) {
        struct input_rt *rt = s->inputs[i];
        int64_t interval = outpost_instance_interval_ms(rt->inst);

        rt->due_ms = s->once ? now
                             : now + scheduler_spread_offset(i, interval);
        atomic_store(&rt->last_tick_ms, now);
        s->due_per_s += 1000.0 / (double) (interval > 0 ? interval : 1);
        loop_timer_arm(s->loop, &rt->timer, rt->due_ms);
    }
}

int
scheduler_start(struct scheduler *s, int once)
{
    /* Everything is built. Parsing a config of thousands of sections
     * peaks at several KB per section, all freed by now, but the
     * allocator keeps it: hand it back before the steady state. */
    malloc_trim(0);
    s->once = once;
    s->threads = calloc((size_t) s->nthreads, sizeof(pthread_t));
    if (s->threads == NULL)
        return -1;
    for (int i = 0; i < s->nthreads; i++) {
        if (pthread_create(&s->threads[i], NULL, collector_main, s) != 0) {
            s->nthreads = i;
            return -1;
        }
    }
    atomic_store(&running, s);
    return loop_call(s->loop, arm_all, s);
}

void
outpost_input_defer(const char *integration, int64_t until_ns)
{
    struct scheduler *s = atomic_load(&running);

    if (s == NULL || integration == NULL)
        return;
    for (size_t i = 0; i < s->ninputs; i++)
        if (strcmp(s->inputs[i]->inst->name, integration) == 0)
            atomic_store(&s->inputs[i]->defer_until, until_ns);
}

void
scheduler_wait_idle(struct scheduler *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->inflight > 0 || (s->once && s->ended_once < s->ninputs))
        pthread_cond_wait(&s->idle_cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

static void
disarm_all(void *arg)
{
    struct scheduler *s = arg;

    s->stopping = 1;
    for (size_t i = 0; i < s->ninputs; i++) {
        struct input_rt *rt = s->inputs[i];

        loop_timer_disarm(s->loop, &rt->timer);
        if (rt->busy && loop_timer_armed(&rt->busy->deadline)) {
            loop_timer_disarm(s->loop, &rt->busy->deadline);
            cancel_run(rt->busy, 0);
        }
    }
}

/* Runs close on the loop thread; give them a bounded time to do so. */
static void
wait_inflight(struct scheduler *s, int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->lock);
    while (s->inflight > 0)
        if (pthread_cond_timedwait(&s->idle_cond, &s->lock, &ts) != 0)
            break;
    if (s->inflight > 0)
        log_core(OUTPOST_LOG_WARN, "stop",
                 "%zu collections still running at shutdown", s->inflight);
    pthread_mutex_unlock(&s->lock);
}

void
scheduler_stop(struct scheduler *s)
{
    struct scheduler *self = s;

    atomic_compare_exchange_strong(&running, &self, NULL);
    if (loop_call_sync(s->loop, disarm_all, s) != 0)
        s->stopping = 1;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->job_cond);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    s->nthreads = 0;
    /* Collects that were still queued never started: close them. */
    while (s->jobs_head) {
        struct job *j = s->jobs_head;
        s->jobs_head = j->next;
        outpost_run_done(j->run);
        free(j);
    }
    s->jobs_tail = NULL;
    wait_inflight(s, 5000);
    pthread_mutex_lock(&s->lock);
    if (s->stats.overloaded > 0 || s->stats.overload_unknown > 0)
        log_core(OUTPOST_LOG_INFO, "stop",
                 "since start the agent was overloaded: %llu checks "
                 "skipped, %llu timeouts reported unknown; the loop ran at "
                 "most %llu ms behind",
                 (unsigned long long) s->stats.overloaded,
                 (unsigned long long) s->stats.overload_unknown,
                 (unsigned long long) (s->stats.late_max_us / 1000));
    pthread_mutex_unlock(&s->lock);
}

void
scheduler_free(struct scheduler *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ninputs; i++) {
        s->inputs[i]->inst->rt = NULL;
        free(s->inputs[i]);
    }
    free(s->inputs);
    free(s->threads);
    run_pool_drain(s);
    pthread_cond_destroy(&s->job_cond);
    pthread_cond_destroy(&s->idle_cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void
scheduler_get_stats(struct scheduler *s, struct scheduler_stats *st)
{
    uint64_t total = 0, seen = 0;

    pthread_mutex_lock(&s->lock);
    *st = s->stats;
    for (int b = 0; b < LATE_BUCKETS; b++)
        total += s->late_hist[b];
    for (int b = 0; b < LATE_BUCKETS && total > 0; b++) {
        seen += s->late_hist[b];
        if (seen * 100 >= total * 99) {
            st->late_p99_us = b == 0 ? 0 : (1ULL << b);
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void
scheduler_get_lateness(struct scheduler *s, struct metrics_hist_snap *snap)
{
    metrics_hist_read(&s->late, snap);
}

/* --- run now, and what /health asks (any thread) ------------------------ */

struct run_now {
    struct input_rt *rt;
    int              rc;
};

static void
run_now_on_loop(void *arg)
{
    struct run_now *r = arg;
    struct scheduler *s = r->rt->s;

    if (s->stopping)
        r->rc = -1;
    else if (r->rt->busy)
        r->rc = 1;
    else {
        start_run(r->rt);
        r->rc = r->rt->busy ? 0 : -1;
    }
}

int
scheduler_run_now(struct scheduler *s, const char *input, int64_t *timeout_ms)
{
    struct run_now r = { NULL, -1 };

    for (size_t i = 0; i < s->ninputs && r.rt == NULL; i++)
        if (strcmp(s->inputs[i]->inst->name, input) == 0)
            r.rt = s->inputs[i];
    if (r.rt == NULL)
        return -1;
    if (timeout_ms)
        *timeout_ms = outpost_instance_timeout_ms(r.rt->inst);
    if (loop_call_sync(s->loop, run_now_on_loop, &r) != 0)
        return -1;
    return r.rc;
}

size_t
scheduler_input_count(const struct scheduler *s)
{
    return s->ninputs;
}

void
scheduler_input_info(struct scheduler *s, size_t i,
                     struct scheduler_input_info *out)
{
    struct input_rt *rt = s->inputs[i];

    out->name = rt->inst->name;
    out->interval_ms = outpost_instance_interval_ms(rt->inst);
    out->timeout_ms = outpost_instance_timeout_ms(rt->inst);
    out->last_tick_ms = atomic_load(&rt->last_tick_ms);
}
