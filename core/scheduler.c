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
#include "run.h"
#include "scheduler.h"

#define DEADLINE_GRACE_MS 20    /* let a plugin report its own timeout */
#define LATE_BUCKETS      64    /* log2 histogram of lateness in us */

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

    outpost_run_t     *run_pool;      /* ended runs for reuse (loop) */
    size_t             run_pooled;
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

    pthread_mutex_lock(&run->lock);
    if (run->state != RUN_RUNNING) {
        pthread_mutex_unlock(&run->lock);
        return;
    }
    run->state = RUN_CANCELLED;
    pthread_mutex_unlock(&run->lock);

    submit_ended(s, run);

    rec = report ? outpost_run_measurement(run) : NULL;
    if (rec) {
        char msg[96];
        snprintf(msg, sizeof(msg), "timeout: no result after %lld ms",
                 (long long) timeout);
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
        pthread_mutex_unlock(&s->lock);
        outpost_log(run->inst, OUTPOST_LOG_WARN, "collect",
                    "run cancelled: still running after its %lld ms timeout",
                    (long long) timeout);
    }

    run->refs++;                /* a cancel hook may finish the run */
    run_hooks_fire(run);
    run_release(run, 2);        /* that extra one, and the deadline side */
}

static void
deadline_fired(void *arg)
{
    cancel_run(arg, 1);
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
        outpost_log(rt->inst, OUTPOST_LOG_WARN, "collect",
                    "previous run still busy: this interval is skipped");
        return;
    }
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
    int64_t now = clock_mono_ms(), interval, defer;

    if (s->stopping)
        return;
    record_lateness(s, now - rt->due_ms);
    defer = atomic_load(&rt->defer_until);
    if (s->once || defer == 0 || defer <= outpost_time_now())
        start_run(rt);
    else {
        pthread_mutex_lock(&s->lock);
        s->stats.deferred++;
        pthread_mutex_unlock(&s->lock);
    }
    if (s->once)
        return;

    /* Fixed rate: the next slot after now, skipping any we fell behind. */
    interval = outpost_instance_interval_ms(rt->inst);
    rt->due_ms += interval;
    if (rt->due_ms <= now)
        rt->due_ms = now + interval - (now - rt->due_ms) % interval;
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
