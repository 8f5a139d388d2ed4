/*
 * output.c - the worker behind one output instance: its thread, its
 * queue, batching, retries, dead letters and spilling while the backend
 * is down.
 *
 * The thread's loop:
 *  1. Wait until batch_size records are queued, or flush_interval after it
 *     first saw one waiting; at once while someone drains. Call the
 *     plugin's output_tick whenever tick_interval has passed.
 *  2. Peek a batch (the oldest records) and write it. What the answer
 *     settles (the output contract in plugin.h: OK, FAIL, the delivered
 *     prefix of a RETRY and the rejected records right after it) is
 *     counted, rejected records are appended to the dead-letter file, and
 *     then that prefix is committed. The unsettled rest is written again
 *     after a pause: random(0, min(retry_max, retry_initial * 2^attempt))
 *     ("full jitter"), or the backend's retry_after if that is longer.
 *     Records are committed only once answered for, so order is kept and
 *     nothing is skipped or sent twice by us.
 *
 * Accounting (struct output_stats): pushed = delivered + failed +
 * dropped + queued whenever the thread is between batches, failed =
 * dead_lettered + dead_dropped. Counters move before the commit, so for a
 * moment a settled record is both counted and still queued, never
 * neither.
 *
 * Backend state: an outage starts with the first RETRY and ends with the
 * next OK or FAIL. It is logged when declared (after DOWN_AFTER attempts in
 * a row) and when it ends, never per attempt. Once it has lasted
 * spill_after_ms (and there is a spill directory) the whole queue is moved
 * to disk; records pushed after that follow it there (queue invariant 1),
 * so a kill -9 during an outage loses nothing. On recovery the disk part
 * is replayed in order by the same loop.
 *
 * Fallback (notifiers with `fallback`, set by output_set_fallback): once
 * writes have failed for fallback_after (every write a RETRY that
 * settled nothing; any progress or answer ends the failure), the thread
 * copies the queued records it has not copied yet into the fallback
 * output's queue, from the head: the batch being retried and what
 * queued up behind it, at most FALLBACK_CHUNK more at each look. It looks
 * when the failure reaches fallback_after and then every
 * FALLBACK_POLL_MS while it pauses between retries. A copy is the same
 * event (kind, severity, time, dedup_key, fields, tags) with the field
 * fallback_for = "<plugin>:<instance>" (the notifiers say which channel
 * failed) and, if the original was routed by name, the "notify" tag
 * naming the fallback. The originals stay queued: the channel still gets
 * them when it recovers (the fallback is "also", never "instead"), and
 * fb_copied, the count of queued records from the head already copied,
 * shrinks as records are committed, so no record is copied twice while
 * the process runs; once the channel answers again, new records are not
 * copied. Across a restart: the key (ts_ns, kind, dedup_key) of the last
 * record copied is kept in <state_dir>/<plugin>/<name>/fallback-copied
 * (written after each look that copied, removed once the queue holds no
 * copied record); at the first look after a start, the records up to
 * that key in the spilled queue count as copied, so the fallback is not
 * sent them again.
 * Fallbacks never form a cycle (config_fallback.c), so a thread may hold
 * its mu while pushing into its fallback's queue (w->mu before the
 * fallback's mu, never the other way round).
 *
 * Locking: w->mu guards the control fields and counters. The thread sleeps
 * on w->cv between retries; drainers wait on it for progress. w->mu may be
 * held while calling into the queue, never the other way round, and never
 * while calling the plugin.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <outpost/fields.h>
#include "clock.h"
#include "deadletter.h"
#include "http.h"
#include "instance.h"
#include "log.h"
#include "metrics_hist.h"
#include "output.h"
#include "queue.h"
#include "registry.h"

#define DOWN_AFTER              3       /* RETRYs in a row: log "down" */
#define IDLE_WAIT_MS            60000   /* queue_wait wakes us anyway */
#define STALL_WAIT_MS           100     /* records queued but none readable */
#define RETRY_AFTER_MAX_MS      86400000 /* a day: beyond is a vendor bug */
#define REQUEUE_CHUNK           256
#define FALLBACK_CHUNK          1024    /* records copied per look */
#define FALLBACK_POLL_MS        200     /* looks while pausing */

/* The batch as the core holds it: what write sees comes first, so the
 * SDK's outpost_batch_*() find the rest from the pointer write got. */
struct out_batch {
    outpost_batch_t      pub;
    size_t               delivered;     /* prefix the plugin reported */
    int64_t              retry_after_ms;
    char               **why;           /* per record: reason, or NULL */
    const char          *reject_default; /* a reject without a reason */
};

/* The batch whose write is running on this thread (rule 1: the SDK calls
 * are only valid there). */
static __thread struct out_batch *in_write;

struct output_worker {
    outpost_instance_t  *inst;
    struct queue        *q;
    pthread_t            thread;
    pthread_mutex_t      mu;
    pthread_cond_t       cv;            /* monotonic clock */
    char                 name[128];     /* "<plugin>.<instance>" */
    char                 name_pi[128];  /* "<plugin>:<instance>" */
    char                *dl_path;       /* dead letters; NULL: none */

    /* settings, fixed at start */
    size_t               batch_size;
    int64_t              flush_ms;
    int64_t              retry_initial_ms;
    int64_t              retry_max_ms;
    int64_t              spill_after_ms;
    int64_t              timeout_ms;
    int64_t              tick_ms;
    uint64_t             dl_limit;      /* bytes */
    int                  has_spill;
    void               (*tick)(outpost_instance_t *);

    /* under mu */
    int                  stop;
    int                  exited;
    int                  drainers;      /* output_drain calls waiting */
    int64_t              drain_deadline;
    int                  any_failed;    /* a record was rejected */
    uint64_t             pushed;
    uint64_t             delivered;
    uint64_t             dead_lettered;
    uint64_t             dead_dropped;
    uint64_t             retries;
    uint64_t             timeouts;
    uint64_t             requeued;
    int64_t              next_attempt;  /* scheduled retry; 0: none */

    /* atomic, no lock (metrics_hist.h) */
    struct metrics_hist  write_time;    /* every call of write */

    /* the thread's own */
    outpost_record_t   **batch;         /* batch_size slots */
    struct out_batch     ob;
    uint64_t             rng;
    unsigned             attempts;      /* RETRYs in a row */
    _Atomic int64_t      down_since;    /* first RETRY of an outage; 0: up
                                           (atomic: output_get_stats) */
    int                  down_logged;
    _Atomic int          spilled;       /* moved the queue to disk */
    int                  dl_full;       /* logged that dead letters are full */
    int64_t              next_tick;

    /* fallback (see the top) */
    struct output_worker *fallback;     /* under mu; NULL: none */
    int64_t              fallback_after_ms;
    int64_t              failing_since; /* the thread's; 0: not failing */
    size_t               fb_copied;     /* the thread's */
    int                  fb_logged;     /* the thread's */
    int                  fb_resume;     /* the thread's: look for the key */
    int                  fb_saved;      /* the thread's: the file exists */
    char                *fb_path;       /* fallback-copied; NULL: none */
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

/* Runs the plugin's output_tick when it is due. The thread's own, mu not
 * held. */
static void
maybe_tick(struct output_worker *w)
{
    int64_t now;

    if (w->tick == NULL)
        return;
    now = clock_mono_ms();
    if (now < w->next_tick)
        return;
    w->next_tick = now + w->tick_ms;
    w->tick(w->inst);
}

/* When the thread must next wake for a tick (or `until`, if earlier). */
static int64_t
tick_bound(const struct output_worker *w, int64_t until)
{
    return w->tick && w->next_tick < until ? w->next_tick : until;
}

/* Sleeps until `until` (monotonic ms), ticking on the way. Unless firm
 * (a pause the backend asked for), never past a drainer's deadline that
 * is still ahead. -1 when told to stop. */
static int
sleep_until(struct output_worker *w, int64_t until, int firm)
{
    int stop;

    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        int64_t now = clock_mono_ms(), end = until;
        struct timespec ts;

        if (!firm && w->drainers && now < w->drain_deadline
            && w->drain_deadline < end)
            end = w->drain_deadline;
        if (now >= end)
            break;
        if (w->tick && now >= w->next_tick) {
            pthread_mutex_unlock(&w->mu);
            maybe_tick(w);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        ts = mono_ts(tick_bound(w, end));
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    return stop ? -1 : 0;
}

/* --- fallback (see the top) --------------------------------------------- */

/* rec as an event for the fallback of w: a new record (queued records are
 * shared and read-only), NULL on ENOMEM. */
static outpost_record_t *
fallback_copy(struct output_worker *w, const outpost_record_t *rec,
              const char *to)
{
    outpost_record_t *c;
    int rc = 0;

    if (rec->kind != OUTPOST_EVENT || rec->event == NULL)
        return NULL;
    c = outpost_event_new((outpost_event_kind_t) rec->event_kind,
                          (outpost_severity_t) rec->severity,
                          rec->event->cause, rec->event->message,
                          rec->event->dedup_key);
    if (c == NULL)
        return NULL;
    c->ts_ns = rec->ts_ns;
    for (size_t i = 0; i < outpost_tagset_count(rec->tags); i++) {
        const outpost_tag_t *t = outpost_tagset_at(rec->tags, i);

        rc |= outpost_record_set_tag(c, t->key, t->value);
    }
    for (size_t i = 0; i < rec->nfields; i++) {
        const outpost_field_t *f = &rec->fields[i];

        switch (f->type) {
        case OUTPOST_FIELD_INT:
            rc |= outpost_record_add_int(c, f->key, f->v.i);
            break;
        case OUTPOST_FIELD_FLOAT:
            rc |= outpost_record_add_float(c, f->key, f->v.f);
            break;
        case OUTPOST_FIELD_BOOL:
            rc |= outpost_record_add_bool(c, f->key, f->v.b);
            break;
        default:
            rc |= outpost_record_add_str(c, f->key, f->v.s);
            break;
        }
    }
    rc |= outpost_record_add_str(c, "fallback_for", w->name_pi);
    if (outpost_record_tag(rec, OUTPOST_TAG_NOTIFY))
        rc |= outpost_record_set_tag(c, OUTPOST_TAG_NOTIFY, to);
    if (rc != 0) {
        outpost_record_unref(c);
        return NULL;
    }
    return c;
}

/* rec's key for fallback-copied: "<ts_ns> <kind> <dedup_key>". */
static void
fallback_key(const outpost_record_t *rec, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRId64 " %u %s", rec->ts_ns,
             (unsigned) rec->event_kind,
             rec->event && rec->event->dedup_key ? rec->event->dedup_key
                                                 : "");
}

/* Notes rec as the last record copied (see the top). Best effort: a
 * failure only means a restart may copy again. */
static void
fallback_save(struct output_worker *w, const outpost_record_t *rec)
{
    char key[600], tmp[PATH_MAX], *slash;
    FILE *f;

    if (w->fb_path == NULL)
        return;
    snprintf(tmp, sizeof(tmp), "%s", w->fb_path);
    if ((slash = strrchr(tmp, '/')) != NULL) {
        *slash = '\0';
        (void) instance_mkdir_p(tmp);
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", w->fb_path);
    fallback_key(rec, key, sizeof(key));
    if ((f = fopen(tmp, "w")) == NULL)
        return;
    if (fprintf(f, "%s\n", key) < 0 || fclose(f) != 0) {
        unlink(tmp);
        return;
    }
    if (rename(tmp, w->fb_path) != 0)
        unlink(tmp);
}

/* After a start: how many records from the head the previous run copied
 * (those up to its saved key), 0 when none or not found. */
static size_t
fallback_resume(struct output_worker *w, outpost_record_t **recs,
                size_t got)
{
    char saved[600] = "", key[600];
    size_t n = 0;
    FILE *f = w->fb_path ? fopen(w->fb_path, "r") : NULL;

    if (f == NULL)
        return 0;
    if (fgets(saved, sizeof(saved), f) != NULL)
        saved[strcspn(saved, "\n")] = '\0';
    fclose(f);
    for (size_t i = 0; saved[0] && i < got; i++) {
        fallback_key(recs[i], key, sizeof(key));
        if (strcmp(key, saved) == 0)
            n = i + 1;
    }
    return n;
}

/* Copies what is queued and not copied yet into the fallback's queue, once
 * writes have failed for fallback_after. The thread's own, mu not held. */
static void
fallback_forward(struct output_worker *w)
{
    int64_t now = clock_mono_ms();
    size_t want, got, copied = 0;
    outpost_record_t **recs;
    char to_name[128] = "";

    if (w->fallback_after_ms < 0 || w->failing_since == 0
        || now - w->failing_since < w->fallback_after_ms)
        return;
    want = queue_length(w->q);
    if (w->fb_resume) {
        /* The whole queue once: the previous run's last copy may be
         * anywhere in it. */
        if ((recs = calloc(want ? want : 1, sizeof(*recs))) == NULL)
            return;
        got = queue_peek(w->q, recs, want);
        w->fb_copied = fallback_resume(w, recs, got);
        w->fb_resume = 0;
        for (size_t i = 0; i < got; i++)
            outpost_record_unref(recs[i]);
        free(recs);
    }
    if (want <= w->fb_copied)
        return;
    if (want > w->fb_copied + FALLBACK_CHUNK)
        want = w->fb_copied + FALLBACK_CHUNK;
    if ((recs = calloc(want, sizeof(*recs))) == NULL)
        return;
    got = queue_peek(w->q, recs, want);
    pthread_mutex_lock(&w->mu);
    if (w->fallback) {
        const char *to = w->fallback->inst->name;

        snprintf(to_name, sizeof(to_name), "%s", w->fallback->name_pi);

        for (size_t i = w->fb_copied; i < got; i++) {
            outpost_record_t *c = fallback_copy(w, recs[i], to);

            if (c) {
                output_push(w->fallback, &c, 1);
                outpost_record_unref(c);
                copied++;
            }
        }
        if (got > w->fb_copied) {
            fallback_save(w, recs[got - 1]);
            w->fb_saved = w->fb_path != NULL;
            w->fb_copied = got;
        }
    }
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < got; i++)
        outpost_record_unref(recs[i]);
    free(recs);
    if (copied > 0 && !w->fb_logged) {
        w->fb_logged = 1;
        outpost_log(w->inst, OUTPOST_LOG_WARN, "fallback",
                    "failing for %" PRId64 " ms: events also go to the "
                    "fallback output %s until it recovers",
                    now - w->failing_since, to_name);
    }
}

/* What a write's answer means for the fallback: progress or an answer
 * ends a failure; committed records leave the copied count. */
static void
fallback_note(struct output_worker *w, outpost_result_t r, size_t settled)
{
    w->fb_copied = settled < w->fb_copied ? w->fb_copied - settled : 0;
    /* No copied record left queued: the saved key has done its work
     * (after a start, not knowing how many were copied: once the queue
     * is empty). */
    if (w->fb_saved && ((!w->fb_resume && w->fb_copied == 0)
                        || queue_length(w->q) == 0)) {
        unlink(w->fb_path);
        w->fb_saved = 0;
        w->fb_resume = 0;
    }
    if (r == OUTPOST_RETRY && settled == 0) {
        if (w->failing_since == 0)
            w->failing_since = clock_mono_ms();
        return;
    }
    if (w->fb_logged)
        outpost_log(w->inst, OUTPOST_LOG_INFO, "fallback",
                    "the channel answers again: events no longer go to "
                    "the fallback");
    w->failing_since = 0;
    w->fb_logged = 0;
}

/* sleep_until for a pause between retries, looking at the fallback on
 * the way: when the failure reaches fallback_after, then every
 * FALLBACK_POLL_MS (what queues up meanwhile is copied promptly). */
static int
fallback_sleep(struct output_worker *w, int64_t until, int firm)
{
    int has;

    pthread_mutex_lock(&w->mu);
    has = w->fallback != NULL;
    pthread_mutex_unlock(&w->mu);
    if (!has || w->failing_since == 0)
        return sleep_until(w, until, firm);
    for (;;) {
        int64_t now = clock_mono_ms(), start = w->failing_since
                                               + w->fallback_after_ms;
        int64_t end = now < start ? start : now + FALLBACK_POLL_MS;

        fallback_forward(w);
        if (end > until)
            end = until;
        if (sleep_until(w, end, firm) != 0)
            return -1;
        if (end >= until || clock_mono_ms() < end)
            return 0;           /* the pause is over, or a drain cut it */
    }
}

void
output_set_fallback(struct output_worker *w, struct output_worker *fb)
{
    pthread_mutex_lock(&w->mu);
    w->fallback = fb;
    pthread_mutex_unlock(&w->mu);
}

/* Waits before writing the rest of a batch again: the backoff for this
 * attempt, or the backend's retry_after when that is longer. */
static int
pause_before_retry(struct output_worker *w, unsigned attempt,
                   int64_t retry_after_ms)
{
    int64_t cap = w->retry_initial_ms, delay, until;
    int firm = 0, rc;

    for (unsigned i = 0; i < attempt && cap < w->retry_max_ms; i++)
        cap *= 2;
    if (cap > w->retry_max_ms)
        cap = w->retry_max_ms;
    delay = (int64_t) (rand_next(w) % (uint64_t) (cap + 1));
    if (retry_after_ms > delay) {
        delay = retry_after_ms < RETRY_AFTER_MAX_MS ? retry_after_ms
                                                    : RETRY_AFTER_MAX_MS;
        firm = 1;
        outpost_log(w->inst, OUTPOST_LOG_INFO, "write",
                    "backend asked to wait %" PRId64 " ms before the next "
                    "attempt", delay);
    }
    until = clock_mono_ms() + delay;
    pthread_mutex_lock(&w->mu);
    w->next_attempt = until;
    pthread_mutex_unlock(&w->mu);
    rc = fallback_sleep(w, until, firm);
    pthread_mutex_lock(&w->mu);
    w->next_attempt = 0;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* --- the batch and the SDK calls on it --------------------------------- */

static struct out_batch *
batch_of(const outpost_batch_t *b, const char *fn)
{
    if (b == NULL || in_write == NULL || b != &in_write->pub) {
        log_core(OUTPOST_LOG_ERROR, "write", "%s called outside write or "
                 "on another batch: ignored", fn);
        return NULL;
    }
    return in_write;
}

void
outpost_batch_delivered(const outpost_batch_t *b, size_t n)
{
    struct out_batch *ob = batch_of(b, "outpost_batch_delivered");

    if (ob)
        ob->delivered = n < ob->pub.n ? n : ob->pub.n;
}

void
outpost_batch_reject(const outpost_batch_t *b, size_t i, const char *why)
{
    struct out_batch *ob = batch_of(b, "outpost_batch_reject");
    char *copy;

    if (ob == NULL || i >= ob->pub.n)
        return;
    copy = strdup(why && why[0] ? why : "rejected by the backend");
    if (copy == NULL && ob->why[i] != NULL)
        return;                 /* keep the earlier reason */
    free(ob->why[i]);
    /* Out of memory: still rejected, with the fixed text. */
    ob->why[i] = copy ? copy : (char *) ob->reject_default;
}

void
outpost_batch_retry_after(const outpost_batch_t *b, int64_t ms)
{
    struct out_batch *ob = batch_of(b, "outpost_batch_retry_after");

    if (ob && ms > ob->retry_after_ms)
        ob->retry_after_ms = ms;
}

static void
batch_clear(struct out_batch *ob)
{
    for (size_t i = 0; i < ob->pub.n; i++) {
        if (ob->why[i] != ob->reject_default)
            free(ob->why[i]);
        ob->why[i] = NULL;
    }
    ob->pub.n = 0;
}

static void
batch_set(struct out_batch *ob, outpost_record_t **recs, size_t n)
{
    ob->pub.records = recs;
    ob->pub.n = n;
    ob->delivered = 0;
    ob->retry_after_ms = 0;
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

/* The backend answered for a whole batch (OK or FAIL): an outage ends. */
static void
on_answer(struct output_worker *w, size_t n)
{
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

/* Keeps rec in the dead-letter file; 1 when kept, 0 when it had to be
 * dropped (counted and logged). */
static int
dead_letter(struct output_worker *w, const outpost_record_t *rec,
            const char *why)
{
    int rc = -1;

    if (w->dl_path)
        rc = deadletter_append(w->dl_path, w->dl_limit, rec, why,
                               outpost_time_now());
    if (rc == 0) {
        w->dl_full = 0;
        return 1;
    }
    if (!w->dl_full) {
        /* Once per episode; the count is in the stats. */
        w->dl_full = 1;
        if (w->dl_path == NULL)
            outpost_log(w->inst, OUTPOST_LOG_ERROR, "dead-letter",
                        "no state_dir to keep rejected records in: "
                        "rejected records are dropped (%s)", why);
        else if (rc == 1)
            outpost_log(w->inst, OUTPOST_LOG_ERROR, "dead-letter",
                        "%s is full (dead_letter_limit_mb = %" PRIu64 "): "
                        "rejected records are dropped until it is read "
                        "and requeued (%s)", w->dl_path, w->dl_limit >> 20,
                        why);
        else
            outpost_log(w->inst, OUTPOST_LOG_ERROR, "dead-letter",
                        "cannot append to %s: %s: rejected records are "
                        "dropped (%s)", w->dl_path, strerror(errno), why);
    }
    return 0;
}

/* Counts and dead-letters what the answer r settles (plugin.h, output
 * rules 2-4); returns how many records from the front that is. */
static size_t
settle(struct output_worker *w, struct out_batch *ob, outpost_result_t r)
{
    size_t n = ob->pub.n, upto = n, delivered = 0, kept = 0, lost = 0;
    const char *first = NULL;

    if (r == OUTPOST_RETRY) {
        upto = ob->delivered;
        while (upto < n && ob->why[upto] != NULL)
            upto++;
    }
    for (size_t i = 0; i < upto; i++) {
        const char *why = ob->why[i];

        if (why == NULL && r == OUTPOST_FAIL && i >= ob->delivered)
            why = "backend rejected the batch";
        if (why == NULL) {
            delivered++;
            continue;
        }
        if (first == NULL)
            first = why;
        if (dead_letter(w, ob->pub.records[i], why))
            kept++;
        else
            lost++;
    }
    if (kept + lost > 0)
        outpost_log(w->inst, OUTPOST_LOG_WARN, "write",
                    "backend rejected %zu of %zu records for good (first: "
                    "%s); %zu kept as dead letters%s%s", kept + lost, n,
                    first, kept, w->dl_path ? " in " : "",
                    w->dl_path ? w->dl_path : "");
    pthread_mutex_lock(&w->mu);
    w->delivered += delivered;
    w->dead_lettered += kept;
    w->dead_dropped += lost;
    if (kept + lost > 0)
        w->any_failed = 1;
    pthread_mutex_unlock(&w->mu);
    return upto;
}

/* Calls write with the output's deadline in force (rule 5). */
static outpost_result_t
call_write(struct output_worker *w, struct out_batch *ob)
{
    int64_t t0 = clock_mono_ms(), t0_ns = clock_mono_ns(), took;
    outpost_result_t r;

    in_write = ob;
    http_set_thread_deadline(t0 + w->timeout_ms);
    r = w->inst->plugin->write(w->inst, &ob->pub);
    http_set_thread_deadline(0);
    in_write = NULL;
    metrics_hist_observe(&w->write_time,
                         (uint64_t) (clock_mono_ns() - t0_ns) / 1000);
    took = clock_mono_ms() - t0;
    if (took > w->timeout_ms) {
        outpost_log(w->inst, OUTPOST_LOG_WARN, "write",
                    "write of %zu records took %" PRId64 " ms, more than "
                    "timeout (%" PRId64 " ms): taken as a retry",
                    ob->pub.n, took, w->timeout_ms);
        pthread_mutex_lock(&w->mu);
        w->timeouts++;
        pthread_mutex_unlock(&w->mu);
        return OUTPOST_RETRY;
    }
    if (r != OUTPOST_OK && r != OUTPOST_RETRY && r != OUTPOST_FAIL) {
        outpost_log(w->inst, OUTPOST_LOG_ERROR, "write",
                    "write returned an unknown result %d: taken as FAIL",
                    (int) r);
        r = OUTPOST_FAIL;
    }
    return r;
}

/* --- the thread ---------------------------------------------------------- */

/* Writes one batch until the backend has answered for all of it (or we
 * stop). Returns when the batch was peeked. */
static int64_t
deliver(struct output_worker *w)
{
    int64_t peeked_at = clock_mono_ms();
    size_t n = queue_peek(w->q, w->batch, w->batch_size), done = 0;
    unsigned attempt = 0;

    if (n == 0) {
        sleep_until(w, peeked_at + STALL_WAIT_MS, 0);
        return peeked_at;
    }
    while (done < n) {
        struct out_batch *ob = &w->ob;
        outpost_result_t r;
        size_t settled;
        int64_t retry_after;

        batch_set(ob, w->batch + done, n - done);
        r = call_write(w, ob);
        settled = settle(w, ob, r);
        retry_after = ob->retry_after_ms;
        batch_clear(ob);
        /* Counted first, then committed: a drainer that sees an empty
         * queue also sees the counts. */
        if (settled > 0) {
            queue_commit(w->q, settled);
            done += settled;
            notify(w);
        }
        fallback_note(w, r, settled);
        if (r != OUTPOST_RETRY) {
            on_answer(w, n - done);
            break;
        }
        if (done == n)
            break;                  /* all settled after all */
        if (settled > 0)
            attempt = 0;            /* progress: not an outage growing */
        on_retry(w);
        if (pause_before_retry(w, attempt++, retry_after) != 0)
            break;                  /* stopping: the rest stays queued */
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

        maybe_tick(w);
        if (len == 0) {
            first_seen = 0;
            notify(w);
            queue_wait(w->q, 1, tick_bound(w, now + IDLE_WAIT_MS));
            continue;
        }
        if (first_seen == 0)
            first_seen = now;
        if (len < w->batch_size && now < first_seen + w->flush_ms
            && !flag(w, &w->drainers)) {
            queue_wait(w->q, w->batch_size,
                       tick_bound(w, first_seen + w->flush_ms));
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
    w->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 10000;
    w->tick_ms = c->tick_interval_ms > 0 ? c->tick_interval_ms : 1000;
    w->dl_limit = (uint64_t) c->dead_letter_limit_mb << 20;
    w->fallback_after_ms = c->fallback_after_ms;
}

/* Puts back what `outpostd --requeue` left for this output, behind what is
 * queued. The file goes only once the records are safe in the queue's
 * spill files (or, without a spill directory, in memory). */
static void
requeue_at_start(struct output_worker *w);

static void
worker_free(struct output_worker *w)
{
    queue_close(w->q);
    free(w->fb_path);
    free(w->ob.why);
    free(w->batch);
    free(w->dl_path);
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
    metrics_hist_init(&w->write_time, &metrics_bounds_agent);
    w->has_spill = spill_dir != NULL;
    w->tick = registry_output_tick(inst->plugin);
    w->next_tick = clock_mono_ms() + w->tick_ms;
    w->rng = (uint64_t) clock_mono_ns() ^ (uint64_t) (uintptr_t) w;
    if (w->rng == 0)
        w->rng = 1;
    snprintf(w->name, sizeof(w->name), "%s.%s", inst->plugin->name,
             inst->name);
    snprintf(w->name_pi, sizeof(w->name_pi), "%s:%s", inst->plugin->name,
             inst->name);
    w->dl_path = deadletter_path(inst->state_root, inst->plugin->name,
                                 inst->name);
    if (c->fallback && *c->fallback && inst->state_root
        && asprintf(&w->fb_path, "%s/%s/%s/fallback-copied",
                    inst->state_root, inst->plugin->name, inst->name) < 0)
        w->fb_path = NULL;
    w->fb_resume = w->fb_path && access(w->fb_path, F_OK) == 0;
    w->fb_saved = w->fb_resume;
    qo.mem_limit = (size_t) c->queue_limit;
    qo.spill_dir = spill_dir;
    qo.disk_limit = (uint64_t) c->disk_limit_mb << 20;
    qo.name = w->name;
    w->batch = calloc(w->batch_size, sizeof(*w->batch));
    w->ob.why = calloc(w->batch_size, sizeof(*w->ob.why));
    w->ob.reject_default = "rejected by the backend";
    if (w->batch == NULL || w->ob.why == NULL) {
        free(w->batch);
        free(w->ob.why);
        free(w->dl_path);
        free(w->fb_path);
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
        free(w->ob.why);
        free(w->dl_path);
        free(w->fb_path);
        free(w);
        return NULL;
    }
    /* What an earlier run left on disk counts as pushed. */
    w->pushed = queue_length(w->q);
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
    requeue_at_start(w);
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

struct requeue_ctx {
    struct output_worker *w;
    outpost_record_t     *recs[REQUEUE_CHUNK];
    size_t                n;
};

static void
requeue_flush(struct requeue_ctx *ctx)
{
    output_push(ctx->w, ctx->recs, ctx->n);
    for (size_t i = 0; i < ctx->n; i++)
        outpost_record_unref(ctx->recs[i]);
    ctx->w->requeued += ctx->n;
    ctx->n = 0;
}

static int
requeue_one(const outpost_record_t *rec, const char *why, int64_t t,
            void *arg)
{
    struct requeue_ctx *ctx = arg;

    (void) why; (void) t;
    ctx->recs[ctx->n++] = outpost_record_ref((outpost_record_t *) rec);
    if (ctx->n == REQUEUE_CHUNK)
        requeue_flush(ctx);
    return 0;
}

static void
requeue_at_start(struct output_worker *w)
{
    struct requeue_ctx ctx = { .w = w };
    char *path = w->dl_path ? deadletter_requeue_path(w->dl_path) : NULL;
    int damaged = 0;
    long n;

    if (path == NULL || access(path, F_OK) != 0) {
        free(path);
        return;
    }
    n = deadletter_walk(path, requeue_one, &ctx, &damaged);
    if (ctx.n)
        requeue_flush(&ctx);
    if (n < 0) {
        outpost_log(w->inst, OUTPOST_LOG_ERROR, "requeue",
                    "cannot read %s: %s", path, strerror(errno));
    } else if (w->has_spill && queue_spill(w->q) != 0) {
        /* Kept: a later start offers them again (duplicates, no loss). */
        outpost_log(w->inst, OUTPOST_LOG_ERROR, "requeue",
                    "%ld requeued records are queued but could not be "
                    "written to the spill directory; %s is kept", n, path);
    } else {
        outpost_log(w->inst, OUTPOST_LOG_INFO, "requeue",
                    "%ld dead letters from %s are queued again%s", n, path,
                    damaged ? " (the file's damaged tail was skipped)" : "");
        unlink(path);
    }
    free(path);
}

void
output_push(struct output_worker *w, outpost_record_t *const *recs, size_t n)
{
    /* Counted before it can be delivered: the sum never runs ahead. */
    pthread_mutex_lock(&w->mu);
    w->pushed += n;
    pthread_mutex_unlock(&w->mu);
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

    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&w->mu);
    queue_get_stats(w->q, &qs);
    st->pushed = w->pushed;
    st->delivered = w->delivered;
    st->dead_lettered = w->dead_lettered;
    st->dead_dropped = w->dead_dropped;
    st->failed = w->dead_lettered + w->dead_dropped;
    st->retries = w->retries;
    st->timeouts = w->timeouts;
    st->requeued = w->requeued;
    st->next_attempt_ms = w->next_attempt;
    pthread_mutex_unlock(&w->mu);
    st->failing_since_ms = atomic_load(&w->down_since);
    st->spilling = atomic_load(&w->spilled);
    st->dropped = qs.dropped;
    st->spilled = qs.spilled;
    st->spilled_bytes = qs.spilled_bytes;
    st->queued = qs.queued_mem + qs.queued_disk;
}

void
output_get_write_time(struct output_worker *w, struct metrics_hist_snap *snap)
{
    metrics_hist_read(&w->write_time, snap);
}
