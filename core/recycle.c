/*
 * recycle.c - magazines of same-size blocks per thread, over one locked
 * depot per size (Bonwick and Adams' magazine layer, 2001).
 *
 * Why not malloc alone: a record is allocated on the thread that makes it
 * and freed on an output's worker, thousands a second. glibc's per-thread
 * cache (tcache) only serves the thread that freed the block and holds 7
 * blocks of a size, so the maker's mallocs and the worker's frees both go
 * to the maker's arena under its lock, at the same moment, one record at a
 * time. In bench/output_kafka (1,000,000 records, 2 CPUs) the worker spent
 * 1.1-1.3 s of wall time just dropping records, most of it waiting for
 * that lock; with magazines, 0.2-0.26 s. A whole allocator (jemalloc)
 * would also cure it, but for every allocation of every library in the
 * process, with its own memory profile; this file is for the three block
 * sizes the core recycles (record.c).
 *
 * Layout:
 *   - each thread has, per class, one loaded magazine: a stack of up to
 *     RECYCLE_MAG blocks it gets from and puts to without a lock;
 *   - the class's depot holds full magazines (at most c->keep) and empty
 *     ones, under c->mu. A thread whose magazine is empty swaps it for a
 *     full one (or mallocs when there is none); one whose magazine is
 *     full trades it for an empty one (or, when the depot keeps enough,
 *     frees the blocks of its full one and reuses it).
 * So a maker and a worker meet at the lock once per RECYCLE_MAG records.
 * Memory: what the depot keeps is bounded by RECYCLE_INIT's byte budget,
 * plus one magazine per thread and class; blocks waiting there stay
 * reachable (no leak reports), and under AddressSanitizer they are
 * poisoned, so a use after recycle_put() is still caught.
 *
 * A thread's magazines go back to the depot when it exits (a pthread key
 * destructor), or their blocks to free() when the depot has enough.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include "recycle.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void) (p), (void) (n))
#define UNPOISON(p, n) ((void) (p), (void) (n))
#endif

#define CLASSES 8

struct recycle_mag {
    struct recycle_mag *next;
    unsigned            n;
    void               *v[RECYCLE_MAG];
};

/* Slot i (from 1) of every thread's table belongs to classes[i]. */
static struct recycle  *classes[CLASSES];
static pthread_mutex_t  classes_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t    exit_key;
static pthread_once_t   exit_once = PTHREAD_ONCE_INIT;

static _Thread_local struct recycle_mag *loaded[CLASSES];
static _Thread_local int registered;

/* Frees the blocks m holds; m is then empty. */
static void
mag_empty(struct recycle *c, struct recycle_mag *m)
{
    for (unsigned i = 0; i < m->n; i++) {
        UNPOISON(m->v[i], c->size);
        free(m->v[i]);
    }
    m->n = 0;
}

/* The thread exits: its magazines go to the depots. */
static void
on_thread_exit(void *unused)
{
    (void) unused;
    registered = 0;                     /* a later put registers again */
    for (int i = 1; i < CLASSES; i++) {
        struct recycle_mag *m = loaded[i];
        struct recycle *c;

        if (m == NULL)
            continue;                   /* a slot this thread never used */
        loaded[i] = NULL;
        c = classes[i];                 /* set before the thread saw i */
        pthread_mutex_lock(&c->mu);
        if (m->n > 0 && c->nfull < c->keep) {
            m->next = c->full;
            c->full = m;
            c->nfull++;
            m = NULL;
        }
        pthread_mutex_unlock(&c->mu);
        if (m) {
            mag_empty(c, m);
            free(m);
        }
    }
}

static void
make_exit_key(void)
{
    if (pthread_key_create(&exit_key, on_thread_exit) != 0)
        abort();
}

/* This thread's slot for c: 0 when there is none (too many classes), and
 * then every get and put goes straight to malloc and free. */
static int
slot_of(struct recycle *c)
{
    int s = atomic_load_explicit(&c->slot, memory_order_acquire);

    if (s == 0) {
        pthread_mutex_lock(&classes_mu);
        if ((s = c->slot) == 0) {
            for (s = 1; s < CLASSES && classes[s]; s++)
                ;
            if (s == CLASSES) {
                pthread_mutex_unlock(&classes_mu);
                return 0;
            }
            classes[s] = c;
            atomic_store_explicit(&c->slot, s, memory_order_release);
        }
        pthread_mutex_unlock(&classes_mu);
    }
    if (!registered) {
        pthread_once(&exit_once, make_exit_key);
        pthread_setspecific(exit_key, &registered);
        registered = 1;
    }
    return s;
}

void *
recycle_get(struct recycle *c)
{
    int s = slot_of(c);
    struct recycle_mag *m = s ? loaded[s] : NULL, *f = NULL;
    void *p;

    if (m == NULL || m->n == 0) {
        if (s == 0)
            return malloc(c->size);
        pthread_mutex_lock(&c->mu);
        if ((f = c->full) != NULL) {
            c->full = f->next;
            c->nfull--;
            if (m && c->nempty < c->keep) {
                m->next = c->empty;
                c->empty = m;
                c->nempty++;
                m = NULL;
            }
        }
        pthread_mutex_unlock(&c->mu);
        if (f == NULL)
            return malloc(c->size);
        free(m);                        /* an empty one the depot had no
                                         * room for, or NULL */
        loaded[s] = m = f;
    }
    p = m->v[--m->n];
    UNPOISON(p, c->size);
    return p;
}

void
recycle_put(struct recycle *c, void *block)
{
    int s = slot_of(c);
    struct recycle_mag *m = s ? loaded[s] : NULL, *spill = NULL;

    if (block == NULL)
        return;
    if (s == 0) {
        free(block);
        return;
    }
    if (m == NULL || m->n == RECYCLE_MAG) {
        pthread_mutex_lock(&c->mu);
        if (m && c->nfull < c->keep) {
            m->next = c->full;
            c->full = m;
            c->nfull++;
        } else
            spill = m;                  /* the depot has enough */
        if ((m = c->empty) != NULL) {
            c->empty = m->next;
            c->nempty--;
        }
        pthread_mutex_unlock(&c->mu);
        if (spill) {
            mag_empty(c, spill);
            if (m == NULL)
                m = spill;
            else
                free(spill);
        }
        if (m == NULL && (m = malloc(sizeof(*m))) == NULL) {
            loaded[s] = NULL;
            free(block);
            return;
        }
        m->n = 0;
        loaded[s] = m;
    }
    POISON(block, c->size);
    m->v[m->n++] = block;
}
