/*
 * queue.c - one output's FIFO: a bounded ring of record pointers in memory
 * in front of the spill files (spill.c).
 *
 * Invariants:
 *  1. Order. Memory holds the oldest records, the disk the newer ones. A
 *     push goes to memory only while the disk part is empty and memory has
 *     room; once anything is on disk, every push goes to disk behind it
 *     until the disk part drains.
 *  2. Hence memory and disk are both non-empty only when memory filled up
 *     while the disk was empty, and nothing has been read off the disk
 *     since: commits remove memory records first, and memory refills only
 *     after the disk drained. So queue_spill() can put memory in front of
 *     the disk part as a new segment numbered before the oldest
 *     (spill_prepend); the disk read position is then always at the start
 *     of the oldest segment, as spill_prepend requires.
 *  3. In flight. The first `inflight` records were handed out by
 *     queue_peek() and are not committed yet. queue_commit(n) removes by
 *     count, so a limit must never shift it onto records that were not
 *     delivered: memory drops skip in-flight records, and disk drops
 *     (disk_limit, corruption) that hit in-flight records are remembered
 *     in `skew` and subtracted from the next commit.
 *  4. Size. The ring is a plain array of pointers (8 bytes a slot), grown
 *     on demand up to mem_limit and shrunk when mostly empty, so a queued
 *     measurement costs its record plus 8-16 bytes.
 *
 * One mutex guards everything, spill files included; cv wakes the one
 * consumer (the output's thread) in queue_wait().
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clock.h"
#include "log.h"
#include "queue.h"
#include "record_codec.h"
#include "spill.h"

#define RING_MIN          64
#define DROP_LOG_EVERY_MS 10000

struct queue {
    pthread_mutex_t        mu;
    pthread_cond_t         cv;
    outpost_record_t     **ring;
    size_t                 cap;         /* slots allocated */
    size_t                 head;        /* slot of the oldest record */
    size_t                 count;       /* records in memory */
    size_t                 mem_limit;
    struct spill          *spill;       /* NULL: memory only */
    struct record_decoder  dec;
    struct codec_buf       enc;         /* framed entries being spilled */
    size_t                 inflight;    /* invariant 3 */
    uint64_t               skew;
    size_t                 want;        /* what the consumer waits for */
    int                    woken;       /* queue_wakeup() not yet seen */
    uint64_t               spilled;
    uint64_t               spilled_bytes;
    uint64_t               dropped;     /* by this file; spill.c counts its own */
    uint64_t               drops_unlogged;
    int64_t                drop_logged_ms;
    char                  *name;
};

/* --- the ring ----------------------------------------------------------- */

static size_t
slot(const struct queue *q, size_t i)
{
    size_t s = q->head + i;

    return s >= q->cap ? s - q->cap : s;
}

/* Reallocates to cap slots (>= count), unwrapping the ring. */
static int
ring_resize(struct queue *q, size_t cap)
{
    outpost_record_t **r = malloc(cap * sizeof(*r));

    if (r == NULL)
        return -1;
    for (size_t i = 0; i < q->count; i++)
        r[i] = q->ring[slot(q, i)];
    free(q->ring);
    q->ring = r;
    q->cap = cap;
    q->head = 0;
    return 0;
}

/* Takes ownership of one reference to rec. -1 when full or ENOMEM. */
static int
ring_push(struct queue *q, outpost_record_t *rec)
{
    if (q->count >= q->mem_limit)
        return -1;
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : RING_MIN;

        if (cap > q->mem_limit)
            cap = q->mem_limit;
        if (ring_resize(q, cap) != 0)
            return -1;
    }
    q->ring[slot(q, q->count)] = rec;
    q->count++;
    return 0;
}

static outpost_record_t *
ring_pop(struct queue *q)
{
    outpost_record_t *rec = q->ring[q->head];

    q->head = slot(q, 1);
    q->count--;
    return rec;
}

static void
ring_shrink(struct queue *q)
{
    if (q->cap > RING_MIN && q->count <= q->cap / 4)
        ring_resize(q, q->cap / 2 > RING_MIN ? q->cap / 2 : RING_MIN);
}

/* --- accounting ---------------------------------------------------------- */

static size_t
disk_count(const struct queue *q)
{
    return q->spill ? (size_t) spill_count(q->spill) : 0;
}

static uint64_t
disk_dropped(const struct queue *q)
{
    struct spill_stats st = { 0 };

    if (q->spill)
        spill_get_stats(q->spill, &st);
    return st.dropped;
}

/* d records at queue positions [a, a+d) are gone (invariant 3). */
static void
lost_range(struct queue *q, size_t a, uint64_t d)
{
    if (q->inflight > a) {
        uint64_t x = q->inflight - a < d ? q->inflight - a : d;

        q->skew += x;
        q->inflight -= (size_t) x;
    }
}

/* Counts n dropped records; logs at most every DROP_LOG_EVERY_MS. */
static void
note_drop(struct queue *q, uint64_t n, const char *why)
{
    int64_t now = clock_mono_ms();

    q->dropped += n;
    q->drops_unlogged += n;
    if (q->drop_logged_ms != 0 && now - q->drop_logged_ms < DROP_LOG_EVERY_MS)
        return;
    log_write(OUTPOST_LOG_WARN, "queue", "drop", q->name, NULL, 0,
              "dropped %" PRIu64 " records (%s); %" PRIu64 " dropped in all",
              q->drops_unlogged, why, q->dropped + disk_dropped(q));
    q->drops_unlogged = 0;
    q->drop_logged_ms = now ? now : 1;
}

/* --- pushing ------------------------------------------------------------ */

/* Encodes recs into q->enc as framed entries; returns how many made it
 * (the rest, out of memory, are counted as dropped). */
static size_t
encode_all(struct queue *q, outpost_record_t *const *recs, size_t n)
{
    size_t ok = 0, mark;

    q->enc.len = 0;
    for (size_t i = 0; i < n; i++) {
        if (spill_frame_begin(&q->enc, &mark) != 0)
            break;
        if (record_encode(recs[i], &q->enc) != 0) {
            spill_frame_cancel(&q->enc, mark);
            break;
        }
        spill_frame_end(&q->enc, mark);
        ok++;
    }
    return ok;
}

/* Appends recs behind everything on disk (invariant 1). */
static void
push_disk(struct queue *q, outpost_record_t *const *recs, size_t n)
{
    uint64_t before = disk_dropped(q);
    size_t ok = encode_all(q, recs, n);

    if (ok < n)
        note_drop(q, n - ok, "out of memory while spilling");
    if (ok == 0)
        return;
    if (spill_append(q->spill, &q->enc, ok) != 0) {
        note_drop(q, ok, "cannot write the spill file");
        return;
    }
    q->spilled += ok;
    q->spilled_bytes += q->enc.len;
    lost_range(q, q->count, disk_dropped(q) - before);
}

/* Memory only and full: make room by dropping the oldest record that is
 * not in flight (invariant 3), or drop rec itself when all are. */
static void
push_drop_oldest(struct queue *q, outpost_record_t *rec)
{
    if (q->count > q->inflight && q->count >= q->mem_limit) {
        size_t victim = slot(q, q->inflight);

        outpost_record_unref(q->ring[victim]);
        for (size_t j = q->inflight; j > 0; j--)
            q->ring[slot(q, j)] = q->ring[slot(q, j - 1)];
        q->head = slot(q, 1);
        q->count--;
        note_drop(q, 1, "queue full and no spill directory");
    }
    if (ring_push(q, outpost_record_ref(rec)) != 0) {
        outpost_record_unref(rec);
        note_drop(q, 1, q->count >= q->mem_limit
                        ? "queue full of records being delivered"
                        : "out of memory");
    }
}

void
queue_push(struct queue *q, outpost_record_t *const *recs, size_t n)
{
    size_t i = 0;

    pthread_mutex_lock(&q->mu);
    if (disk_count(q) == 0) {
        for (; i < n; i++) {
            if (ring_push(q, recs[i]) != 0)
                break;
            outpost_record_ref(recs[i]);
        }
    }
    if (i < n && q->spill)
        push_disk(q, recs + i, n - i);
    for (; i < n && q->spill == NULL; i++)
        push_drop_oldest(q, recs[i]);
    if (q->want && q->count + disk_count(q) >= q->want)
        pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* --- peeking and committing -------------------------------------------- */

/* Decodes up to max records from the disk part; base is how many the
 * caller already took from memory (all of memory). */
static size_t
peek_disk(struct queue *q, outpost_record_t **out, size_t max, size_t base)
{
    struct spill_cursor c;
    const uint8_t *p;
    uint32_t len;
    uint64_t lost;
    size_t k = 0;

    spill_cursor_init(q->spill, &c);
    while (k < max) {
        outpost_record_t *rec;
        int rc = spill_cursor_next(q->spill, &c, &p, &len, &lost);

        if (rc == SPILL_LOST) {
            lost_range(q, base + (size_t) c.pos, lost);
            continue;
        }
        if (rc != SPILL_ENTRY)
            break;
        rc = record_decode(&q->dec, p, len, &rec);
        if (rc == CODEC_OK) {
            out[k++] = rec;
            continue;
        }
        if (rc == CODEC_ENOMEM || base + k > 0)
            break;      /* an undecodable entry is dropped at the head */
        log_write(OUTPOST_LOG_ERROR, "queue", "replay", q->name, NULL, 0,
                  "a spilled record cannot be decoded (%u bytes): dropped",
                  len);
        (void) spill_consume(q->spill, 1);      /* logs its failures */
        lost_range(q, 0, 1);
        note_drop(q, 1, "undecodable spilled record");
        spill_cursor_init(q->spill, &c);
    }
    return k;
}

size_t
queue_peek(struct queue *q, outpost_record_t **out, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&q->mu);
    for (; n < max && n < q->count; n++)
        out[n] = outpost_record_ref(q->ring[slot(q, n)]);
    if (n < max && disk_count(q) > 0)
        n += peek_disk(q, out + n, max - n, n);
    if (n > q->inflight)
        q->inflight = n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void
queue_commit(struct queue *q, size_t n)
{
    uint64_t k;
    size_t m;

    pthread_mutex_lock(&q->mu);
    k = q->skew < n ? q->skew : n;        /* already gone (invariant 3) */
    q->skew -= k;
    n -= (size_t) k;
    q->inflight = q->inflight > n ? q->inflight - n : 0;
    m = n < q->count ? n : q->count;
    for (size_t i = 0; i < m; i++)
        outpost_record_unref(ring_pop(q));
    /* A failure is logged by spill.c; at worst those records are sent
     * again after a restart, never lost. */
    if (n > m && q->spill)
        (void) spill_consume(q->spill, n - m);
    ring_shrink(q);
    pthread_mutex_unlock(&q->mu);
}

/* --- spilling ----------------------------------------------------------- */

/* Moves memory to disk, in front of what is there (invariant 2). */
static int
spill_memory(struct queue *q)
{
    uint64_t before;
    size_t n = q->count;
    int rc;

    if (q->spill == NULL)
        return -1;
    if (n == 0)
        return 0;
    q->enc.len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mark;

        if (spill_frame_begin(&q->enc, &mark) != 0
            || record_encode(q->ring[slot(q, i)], &q->enc) != 0)
            return -1;                  /* memory is left as it was */
        spill_frame_end(&q->enc, mark);
    }
    before = disk_dropped(q);
    rc = disk_count(q) == 0 ? spill_append(q->spill, &q->enc, n)
                            : spill_prepend(q->spill, &q->enc, n);
    if (rc != 0)
        return -1;
    while (q->count > 0)
        outpost_record_unref(ring_pop(q));
    q->spilled += n;
    q->spilled_bytes += q->enc.len;
    ring_shrink(q);
    lost_range(q, 0, disk_dropped(q) - before);
    return 0;
}

int
queue_spill(struct queue *q)
{
    int rc;

    pthread_mutex_lock(&q->mu);
    rc = spill_memory(q);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* --- waiting ------------------------------------------------------------- */

size_t
queue_wait(struct queue *q, size_t want, int64_t deadline_ms)
{
    struct timespec ts = {
        .tv_sec = deadline_ms / 1000,
        .tv_nsec = (deadline_ms % 1000) * 1000000,
    };
    size_t len;

    if (want == 0)
        want = 1;
    pthread_mutex_lock(&q->mu);
    while (!q->woken && q->count + disk_count(q) < want
           && clock_mono_ms() < deadline_ms) {
        q->want = want;
        if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
            break;
    }
    q->want = 0;
    q->woken = 0;
    len = q->count + disk_count(q);
    pthread_mutex_unlock(&q->mu);
    return len;
}

void
queue_wakeup(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->woken = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* --- life cycle and stats ----------------------------------------------- */

struct queue *
queue_open(const struct queue_opts *o)
{
    struct queue *q = calloc(1, sizeof(*q));
    pthread_condattr_t ca;

    if (q == NULL)
        return NULL;
    q->mem_limit = o->mem_limit ? o->mem_limit : 1;
    q->name = strdup(o->name ? o->name : "queue");
    if (q->name == NULL
        || pthread_mutex_init(&q->mu, NULL) != 0) {
        free(q->name);
        free(q);
        return NULL;
    }
    /* queue_wait deadlines are monotonic. */
    if (pthread_condattr_init(&ca) != 0
        || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0
        || pthread_cond_init(&q->cv, &ca) != 0) {
        pthread_mutex_destroy(&q->mu);
        free(q->name);
        free(q);
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    if (o->spill_dir) {
        struct spill_opts so = {
            .dir = o->spill_dir, .disk_limit = o->disk_limit, .name = q->name,
        };

        q->spill = spill_open(&so);
        if (q->spill == NULL) {
            queue_close(q);
            return NULL;
        }
    }
    return q;
}

void
queue_close(struct queue *q)
{
    uint64_t dropped;
    size_t left;

    if (q == NULL)
        return;
    if (q->count > 0 && spill_memory(q) != 0) {
        log_write(q->spill ? OUTPOST_LOG_ERROR : OUTPOST_LOG_WARN, "queue",
                  "stop", q->name, NULL, 0, "%zu queued records discarded%s",
                  q->count, q->spill ? ": they could not be spilled to disk"
                                     : " (no spill directory)");
        q->dropped += q->count;
    }
    while (q->count > 0)
        outpost_record_unref(ring_pop(q));
    /* The closing account: with what the output delivered (and failed),
     * it adds up to every record this queue was given. */
    left = disk_count(q);
    dropped = q->dropped + disk_dropped(q);
    if (left > 0 || dropped > 0)
        log_write(dropped ? OUTPOST_LOG_WARN : OUTPOST_LOG_INFO, "queue",
                  "stop", q->name, NULL, 0,
                  "%zu records stay queued on disk; %" PRIu64 " dropped in "
                  "all since start", left, dropped);
    spill_close(q->spill);
    record_decoder_free(&q->dec);
    codec_buf_free(&q->enc);
    free(q->ring);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q->name);
    free(q);
}

size_t
queue_length(struct queue *q)
{
    size_t n;

    pthread_mutex_lock(&q->mu);
    n = q->count + disk_count(q);
    pthread_mutex_unlock(&q->mu);
    return n;
}

void
queue_get_stats(struct queue *q, struct queue_stats *st)
{
    struct spill_stats ss = { 0 };

    pthread_mutex_lock(&q->mu);
    if (q->spill)
        spill_get_stats(q->spill, &ss);
    st->queued_mem = q->count;
    st->queued_disk = ss.records;
    st->bytes_disk = ss.bytes;
    st->spilled = q->spilled;
    st->spilled_bytes = q->spilled_bytes;
    st->dropped = q->dropped + ss.dropped;
    pthread_mutex_unlock(&q->mu);
}
