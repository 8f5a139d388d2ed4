/*
 * output.c - the worker behind one output instance: its thread, its
 * queue, batching, retries and spilling while the backend is down.
 *
 * The thread's loop:
 *  1. Wait until batch_size records are queued, or flush_interval after it
 *     first saw one waiting; at once while someone drains.
 *  2. Peek a batch (the oldest records) and write it. OK: commit it.
 *     FAIL: commit it, count and log the records as failed. RETRY: sleep
 *     random(0, min(retry_max, retry_initial * 2^attempt)) ("full jitter")
 *     and write the same batch again. A batch is committed only after the
 *     backend answered for it, so order is kept and nothing is skipped.
 *
 * Backend state: an outage starts with the first RETRY and ends with the
 * next OK. It is logged when declared (after DOWN_AFTER attempts in a row)
 * and when it ends, never per attempt. Once it has lasted spill_after_ms
 * (and there is a spill directory) the whole queue is moved to disk;
 * records pushed after that follow it there (queue invariant 1), so a
 * kill -9 during an outage loses nothing. On recovery the disk part is
 * replayed in order by the same loop.
 *
 * Locking: w->mu guards the control fields and counters. The thread sleeps
 * on w->cv between retries; drainers wait on it for progress. w->mu may be
 * held while calling into the queue, never the other way round.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clock.h"
#include "instance.h"
#include "log.h"
#include "output.h"
#include "queue.h"

#define DOWN_AFTER              3       /* RETRYs in a row: log "down" */
#define IDLE_WAIT_MS            60000   /* queue_wait wakes us anyway */
#define STALL_WAIT_MS           100     /* records queued but none readable */

struct output_worker {
    outpost_instance_t  *inst;
    struct queue        *q;
    pthread_t            thread;
    pthread_mutex_t      mu;
    pthread_cond_t       cv;            /* monotonic clock */
    char                 name[128];     /* "<plugin>.<instance>" */

    /* settings, fixed at start */
    size_t               batch_size;
    int64_t              flush_ms;
    int64_t              retry_initial_ms;
    int64_t              retry_max_ms;
    int64_t              spill_after_ms;
    int                  has_spill;

    /* under mu */
    int                  stop;
    int                  exited;
    int                  drainers;      /* output_drain calls waiting */
    int64_t              drain_deadline;
    int                  any_failed;    /* a batch got FAIL since start */
    uint64_t             delivered;
    uint64_t             failed;
    uint64_t             retries;

    /* the thread's own */
    outpost_record_t   **batch;         /* batch_size slots */
    uint64_t             rng;
    unsigned             attempts;      /* RETRYs in a row */
    int64_t              down_since;    /* first RETRY of an outage; 0: up */
    int                  down_logged;
    int                  spilled;       /* moved the queue to disk */
};

/* --- small helpers ------------------------------------------------------- */

/* xorshift64*: plenty for jitter, and no shared state between threads. */
static uint64_t
rand_next(struct output_worker *w)
{
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return w->rng * UINT64_C(2685821657736338717);
}

static struct timespec
mono_ts(int64_t ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

    return ts;
}

static int
flag(struct output_worker *w, const int *field)
{
    int v;

    pthread_mutex_lock(&w->mu);
    v = *field;
    pthread_mutex_unlock(&w->mu);
    return v;
}

/* Wakes drainers: the queue may have shrunk or the thread given up. */
static void
notify(struct output_worker *w)
{
    pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Sleeps until `until` (monotonic ms), or less: never past a drainer's
 * deadline that is still ahead. -1 when told to stop. */
static int
sleep_until(struct output_worker *w, int64_t until)
{
    int stop;

    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        int64_t now = clock_mono_ms(), end = until;
        struct timespec ts;

        if (w->drainers && now < w->drain_deadline && w->drain_deadline < end)
            end = w->drain_deadline;
        if (now >= end)
            break;
        ts = mono_ts(end);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    return stop ? -1 : 0;
}

static int
backoff(struct output_worker *w, unsigned attempt)
{
    int64_t cap = w->retry_initial_ms;

    for (unsigned i = 0; i < attempt && cap < w->retry_max_ms; i++)
        cap *= 2;
    if (cap > w->retry_max_ms)
        cap = w->retry_max_ms;
    return sleep_until(w, clock_mono_ms()
                          + (int64_t) (rand_next(w) % (uint64_t) (cap + 1)));
}

/* --- outcomes of a write ------------------------------------------------- */

static void
on_retry(struct output_worker *w)
{
    int64_t now = clock_mono_ms();

    pthread_mutex_lock(&w->mu);
    w->retries++;
    pthread_mutex_unlock(&w->mu);
    w->attempts++;
    if (w->down_since == 0)
        w->down_since = now;
    outpost_log(w->inst, OUTPOST_LOG_DEBUG, "write",
                "backend asked to retry (attempt %u)", w->attempts);
    if (!w->down_logged && w->attempts >= DOWN_AFTER) {
        w->down_logged = 1;
        outpost_log(w->inst, OUTPOST_LOG_WARN, "write",
                    "backend down after %u attempts; retrying with backoff "
                    "(at most %" PRId64 " ms apart), %zu records queued",
                    w->attempts, w->retry_max_ms, queue_length(w->q));
    }
    if (w->has_spill && now - w->down_since >= w->spill_after_ms) {
        size_t queued = queue_length(w->q);

        /* On every attempt: a no-op once memory is empty (new records
         * then go to disk by themselves), and a retry if it failed. */
        if (queue_spill(w->q) == 0 && !w->spilled) {
            w->spilled = 1;
            outpost_log(w->inst, OUTPOST_LOG_WARN, "spill",
                        "backend down for %" PRId64 " ms: %zu queued "
                        "records are on disk; new ones follow until it "
                        "recovers", now - w->down_since, queued);
        }
    }
}

static void
on_ok(struct output_worker *w, size_t n)
{
    pthread_mutex_lock(&w->mu);
    w->delivered += n;
    pthread_mutex_unlock(&w->mu);
    if (w->down_logged || w->spilled)
        outpost_log(w->inst, OUTPOST_LOG_INFO, "write",
                    "backend recovered after %" PRId64 " ms and %u failed "
                    "attempts; replaying %zu queued records",
                    clock_mono_ms() - w->down_since, w->attempts,
                    queue_length(w->q) - n);
    w->attempts = 0;
    w->down_since = 0;
    w->down_logged = 0;
    w->spilled = 0;
}

static void
on_fail(struct output_worker *w, size_t n, outpost_result_t r)
{
    pthread_mutex_lock(&w->mu);
    w->failed += n;
    w->any_failed = 1;
    pthread_mutex_unlock(&w->mu);
    w->attempts = 0;
    outpost_log(w->inst, OUTPOST_LOG_ERROR, "write",
                "%s: %zu records dropped",
                r == OUTPOST_FAIL ? "backend rejected a batch"
                                  : "write returned an unknown result", n);
}

/* --- the thread ---------------------------------------------------------- */

/* Writes one batch until the backend answers for it (or we stop). Returns
 * when the batch was peeked. */
static int64_t
deliver(struct output_worker *w)
{
    int64_t peeked_at = clock_mono_ms();
    size_t n = queue_peek(w->q, w->batch, w->batch_size);
    outpost_batch_t b = { w->batch, n };

    if (n == 0) {
        sleep_until(w, peeked_at + STALL_WAIT_MS);
        return peeked_at;
    }
    for (unsigned attempt = 0;; attempt++) {
        outpost_result_t r = w->inst->plugin->write(w->inst, &b);

        if (r == OUTPOST_RETRY) {
            on_retry(w);
            if (backoff(w, attempt) != 0)
                break;              /* stopping: the batch stays queued */
            continue;
        }
        /* Count first, then commit: a drainer that sees an empty queue
         * must also see the failure. */
        if (r == OUTPOST_OK)
            on_ok(w, n);
        else
            on_fail(w, n, r);
        queue_commit(w->q, n);
        break;
    }
    for (size_t i = 0; i < n; i++)
        outpost_record_unref(w->batch[i]);
    notify(w);
    return peeked_at;
}

static void *
worker_main(void *arg)
{
    struct output_worker *w = arg;
    int64_t first_seen = 0;

    while (!flag(w, &w->stop)) {
        size_t len = queue_length(w->q);
        int64_t now = clock_mono_ms();

        if (len == 0) {
            first_seen = 0;
            notify(w);
            queue_wait(w->q, 1, now + IDLE_WAIT_MS);
            continue;
        }
        if (first_seen == 0)
            first_seen = now;
        if (len < w->batch_size && now < first_seen + w->flush_ms
            && !flag(w, &w->drainers)) {
            queue_wait(w->q, w->batch_size, first_seen + w->flush_ms);
            continue;
        }
        /* What is left has been waiting at least since this peek. */
        first_seen = deliver(w);
    }
    if (w->inst->plugin->flush && w->inst->plugin->flush(w->inst) != 0)
        outpost_log(w->inst, OUTPOST_LOG_WARN, "flush", "flush failed");
    pthread_mutex_lock(&w->mu);
    w->exited = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* --- the API ------------------------------------------------------------- */

static void
settings(struct output_worker *w, const struct common_conf *c)
{
    /* The option table's bounds keep these positive (spill_after may be
     * 0: spill on the first RETRY); only their relation is checked here. */
    w->batch_size = (size_t) c->batch_size;
    w->flush_ms = c->flush_interval_ms;
    w->retry_initial_ms = c->retry_initial_ms;
    w->retry_max_ms = c->retry_max_ms > w->retry_initial_ms
                      ? c->retry_max_ms : w->retry_initial_ms;
    w->spill_after_ms = c->spill_after_ms;
}

static void
worker_free(struct output_worker *w)
{
    queue_close(w->q);
    free(w->batch);
    free(w);
}

struct output_worker *
output_start(outpost_instance_t *inst, const char *spill_dir)
{
    struct output_worker *w = calloc(1, sizeof(*w));
    const struct common_conf *c = &inst->common;
    struct queue_opts qo = { 0 };
    pthread_condattr_t ca;
    char tname[16];

    if (w == NULL)
        return NULL;
    w->inst = inst;
    settings(w, c);
    w->has_spill = spill_dir != NULL;
    w->rng = (uint64_t) clock_mono_ns() ^ (uint64_t) (uintptr_t) w;
    if (w->rng == 0)
        w->rng = 1;
    snprintf(w->name, sizeof(w->name), "%s.%s", inst->plugin->name,
             inst->name);
    qo.mem_limit = (size_t) c->queue_limit;
    qo.spill_dir = spill_dir;
    qo.disk_limit = (uint64_t) c->disk_limit_mb << 20;
    qo.name = w->name;
    w->batch = calloc(w->batch_size, sizeof(*w->batch));
    if (w->batch == NULL) {
        free(w);
        return NULL;
    }
    w->q = queue_open(&qo);
    if (w->q == NULL && spill_dir) {
        /* Delivering without a disk buffer beats not delivering. */
        outpost_log(inst, OUTPOST_LOG_ERROR, "spill",
                    "spill directory %s is unusable: this output keeps its "
                    "queue in memory only", spill_dir);
        qo.spill_dir = NULL;
        w->has_spill = 0;
        w->q = queue_open(&qo);
    }
    if (w->q == NULL) {
        free(w->batch);
        free(w);
        return NULL;
    }
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        worker_free(w);
        return NULL;
    }
    if (pthread_condattr_init(&ca) != 0
        || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0
        || pthread_cond_init(&w->cv, &ca) != 0) {
        pthread_mutex_destroy(&w->mu);
        worker_free(w);
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "start",
                    "cannot start the output thread");
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        worker_free(w);
        return NULL;
    }
    snprintf(tname, sizeof(tname), "out:%s", inst->name);
    pthread_setname_np(w->thread, tname);       /* cosmetic: top -H */
    return w;
}

void
output_push(struct output_worker *w, outpost_record_t *const *recs, size_t n)
{
    queue_push(w->q, recs, n);
}

int
output_drain(struct output_worker *w, int64_t deadline_ms)
{
    struct timespec ts = mono_ts(deadline_ms);
    int rc;

    pthread_mutex_lock(&w->mu);
    if (w->drainers++ == 0 || deadline_ms > w->drain_deadline)
        w->drain_deadline = deadline_ms;
    pthread_cond_broadcast(&w->cv);         /* cut a backoff sleep short */
    pthread_mutex_unlock(&w->mu);
    queue_wakeup(w->q);                     /* skip the flush interval */

    pthread_mutex_lock(&w->mu);
    while (queue_length(w->q) > 0 && !w->exited
           && clock_mono_ms() < deadline_ms)
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    rc = queue_length(w->q) == 0 && !w->any_failed ? 0 : -1;
    w->drainers--;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void
output_stop(struct output_worker *w)
{
    size_t left;

    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    queue_wakeup(w->q);
    pthread_join(w->thread, NULL);
    left = queue_length(w->q);
    if (left > 0 && w->has_spill)
        outpost_log(w->inst, OUTPOST_LOG_INFO, "stop",
                    "%zu undelivered records stay on disk; they are sent "
                    "first when this output starts again", left);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    worker_free(w);           /* spills memory; without a spill dir, logs */
}

void
output_get_stats(struct output_worker *w, struct output_stats *st)
{
    struct queue_stats qs;

    queue_get_stats(w->q, &qs);
    pthread_mutex_lock(&w->mu);
    st->delivered = w->delivered;
    st->failed = w->failed;
    st->retries = w->retries;
    pthread_mutex_unlock(&w->mu);
    st->dropped = qs.dropped;
    st->spilled = qs.spilled;
    st->queued = qs.queued_mem + qs.queued_disk;
}
