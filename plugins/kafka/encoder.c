/*
 * encoder.c - a thread that encodes a batch's records (encode.c) a little
 * ahead of the output's thread, which hands them to librdkafka.
 *
 * Why a thread: a write is serial, encode then produce, record after
 * record, and then waits for the delivery reports; encoding was a third
 * of that thread's time (in bench/output_kafka, taking it off the path
 * raised records/s by a quarter). Now the output's thread only produces,
 * while this one encodes the next records on the other core.
 *
 * The hand-over, per batch (kafka_encoder_start .. _finish):
 *  1. start() (output thread) sets the job under mu and wakes the thread;
 *     the batch's records are the core's until write returns, and
 *     finish() makes sure the thread no longer reads them by then.
 *  2. The thread writes record i's message into the chunk store, sets
 *     msg[i], then done = i + 1 (release). msg[i] is never written again
 *     in this batch, so get(i) reads it without a lock once it has seen
 *     done > i (acquire).
 *  3. A get() that finds its record not ready sets `want` to that record
 *     plus AHEAD more (or the batch's end) and sleeps on cv; the thread
 *     looks at `want` after each record and wakes it under mu once done
 *     reaches it. Both sides use sequentially consistent atomics for done
 *     and want, so one of them always sees the other (no lost wakeup).
 *     The output's thread produces faster than this one encodes: woken
 *     at each record, it slept and woke once a record, and the two
 *     threads' futex calls and context switches cost more than the
 *     encoding saved.
 *  4. finish() sets `cancel` and waits until the thread is idle.
 * Messages live in chunks of CHUNK bytes (a bigger message gets a chunk
 * of its own) that are reused by every batch: a pointer handed out stays
 * valid until the next start(); nothing moves while the batch is encoded.
 *
 * Threads: start, get, finish, free: the output's thread. The encoder
 * thread reads only the batch's records and writes only its kbuf, the
 * chunks and msg[], and it never calls librdkafka or the core's batch.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include "kafka.h"

#define CHUNK (256 * 1024)
/* Records a sleeping get() lets the thread encode before it is woken.
 * In bench/output_kafka, 64 against 1 (a wakeup per record): +12%
 * records/s at 15% less CPU per record (median of 6 pairs); 256 gave
 * the same as 64. */
#define AHEAD 64

struct chunk {
    struct chunk *next;
    size_t        used, cap;
    char          data[];
};

struct kafka_msg {
    const char         *p;      /* NULL: cannot be encoded, see why */
    size_t              len;
    const char         *why;
};

struct kafka_encoder {
    pthread_t         thread;
    pthread_mutex_t   mu;
    pthread_cond_t    cv;       /* job posted, record ready, thread idle */
    int               influx;
    int               stop;     /* under mu */
    unsigned          job;      /* under mu: bumped by each start() */
    int               busy;     /* under mu: encoding a job */
    outpost_record_t *const *recs;
    size_t            n;
    struct kafka_msg *msg;
    size_t            cap;
    _Atomic size_t    done;     /* msg[0..done) are ready */
    _Atomic size_t    want;     /* get() sleeps on cv until done >= want;
                                 * 0: nobody sleeps */
    _Atomic int       cancel;
    struct kbuf       line;     /* the thread's: encoders and caches */
    struct chunk     *chunks, *cur;
};

/* Room for len bytes that stay put until the next batch. */
static char *
store(struct kafka_encoder *e, const char *p, size_t len)
{
    struct chunk *c = e->cur;
    char *out;

    while (c && c->cap - c->used < len)
        c = c->next;                    /* a later (bigger) chunk fits */
    if (c == NULL) {
        size_t cap = len > CHUNK ? len : CHUNK;

        if ((c = malloc(sizeof(*c) + cap)) == NULL)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = NULL;
        if (e->cur) {
            c->next = e->cur->next;
            e->cur->next = c;
        } else {
            c->next = e->chunks;
            e->chunks = c;
        }
    }
    e->cur = c;
    out = memcpy(c->data + c->used, p, len);
    c->used += len;
    return out;
}

static void
encode_one(struct kafka_encoder *e, size_t i)
{
    struct kafka_msg *m = &e->msg[i];
    const char *why = "cannot be encoded as JSON";
    int rc = e->influx ? kafka_encode_influx(e->recs[i], &e->line, &why)
                       : kafka_encode_json(e->recs[i], &e->line);

    m->p = NULL;
    m->len = 0;
    m->why = why;
    if (rc != 0)
        return;
    if ((m->p = store(e, e->line.p, e->line.len)) == NULL) {
        m->why = "out of memory";
        return;
    }
    m->len = e->line.len;
}

static void *
encoder_main(void *arg)
{
    struct kafka_encoder *e = arg;
    unsigned seen = 0;

    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->stop && e->job == seen)
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->stop)
            break;
        seen = e->job;
        pthread_mutex_unlock(&e->mu);

        for (size_t i = 0; i < e->n && !atomic_load(&e->cancel); i++) {
            encode_one(e, i);
            atomic_store(&e->done, i + 1);
            size_t w = atomic_load(&e->want);

            if (w != 0 && i + 1 >= w) {
                pthread_mutex_lock(&e->mu);
                pthread_cond_broadcast(&e->cv);
                pthread_mutex_unlock(&e->mu);
            }
        }

        pthread_mutex_lock(&e->mu);
        e->busy = 0;
        pthread_cond_broadcast(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

struct kafka_encoder *
kafka_encoder_new(int influx, const char *name)
{
    struct kafka_encoder *e = calloc(1, sizeof(*e));
    char tname[16];

    if (e == NULL)
        return NULL;
    e->influx = influx;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (pthread_create(&e->thread, NULL, encoder_main, e) != 0) {
        pthread_cond_destroy(&e->cv);
        pthread_mutex_destroy(&e->mu);
        free(e);
        return NULL;
    }
    snprintf(tname, sizeof(tname), "enc:%s", name);
    pthread_setname_np(e->thread, tname);       /* cosmetic: top -H */
    return e;
}

void
kafka_encoder_free(struct kafka_encoder *e)
{
    struct chunk *c, *next;

    if (e == NULL)
        return;
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    for (c = e->chunks; c; c = next) {
        next = c->next;
        free(c);
    }
    kbuf_free(&e->line);
    free(e->msg);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

int
kafka_encoder_start(struct kafka_encoder *e,
                    outpost_record_t *const *recs, size_t n)
{
    if (n > e->cap) {
        struct kafka_msg *m = realloc(e->msg, n * sizeof(*m));

        if (m == NULL)
            return -1;
        e->msg = m;
        e->cap = n;
    }
    for (struct chunk *c = e->chunks; c; c = c->next)
        c->used = 0;
    e->cur = e->chunks;
    pthread_mutex_lock(&e->mu);
    e->recs = recs;
    e->n = n;
    atomic_store(&e->done, 0);
    atomic_store(&e->cancel, 0);
    e->busy = 1;
    e->job++;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

int
kafka_encoder_get(struct kafka_encoder *e, size_t i, const char **p,
                  size_t *len, const char **why)
{
    struct kafka_msg *m;

    if (atomic_load(&e->done) <= i) {
        size_t w = i + 1 + AHEAD < e->n ? i + 1 + AHEAD : e->n;

        pthread_mutex_lock(&e->mu);
        atomic_store(&e->want, w);
        while (atomic_load(&e->done) < w && e->busy)
            pthread_cond_wait(&e->cv, &e->mu);
        atomic_store(&e->want, 0);
        pthread_mutex_unlock(&e->mu);
        if (atomic_load(&e->done) <= i) {
            *why = "not encoded";       /* only past n, a caller's bug */
            return -1;
        }
    }
    m = &e->msg[i];
    *p = m->p;
    *len = m->len;
    *why = m->why;
    return m->p ? 0 : -1;
}

void
kafka_encoder_finish(struct kafka_encoder *e)
{
    atomic_store(&e->cancel, 1);
    pthread_mutex_lock(&e->mu);
    while (e->busy)
        pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
}
