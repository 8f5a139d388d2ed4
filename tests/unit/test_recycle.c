/*
 * test_recycle.c - core/recycle.c: blocks come back to the thread that
 * wants them, whichever thread gave them up; the depot keeps no more than
 * its budget; a thread's magazines outlive it in the depot (no leak, which
 * LeakSanitizer would report); any number of threads at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "recycle.h"

#define SIZE 96

/* A block put back on this thread is the next one it gets. */
static void
test_same_thread_reuse(void **state)
{
    static struct recycle c = RECYCLE_INIT(SIZE, 64 * 1024);
    void *a, *b;

    (void) state;
    a = recycle_get(&c);
    assert_non_null(a);
    memset(a, 0xab, SIZE);
    recycle_put(&c, a);
    b = recycle_get(&c);
    assert_ptr_equal(a, b);
    recycle_put(&c, b);
    recycle_put(&c, NULL);              /* ignored */
}

/* The depot keeps at most `keep` full magazines; the rest is freed. */
static void
test_depot_bound(void **state)
{
    static struct recycle c = RECYCLE_INIT(SIZE, 4 * RECYCLE_MAG * SIZE);
    enum { N = 40 * RECYCLE_MAG };
    void **v = malloc(N * sizeof(*v));

    (void) state;
    for (int i = 0; i < N; i++)
        assert_non_null(v[i] = recycle_get(&c));
    for (int i = 0; i < N; i++)
        recycle_put(&c, v[i]);
    assert_true(c.nfull <= c.keep);
    assert_true(c.keep <= 5);
    /* what is kept comes back */
    for (int i = 0; i < N; i++)
        assert_non_null(v[i] = recycle_get(&c));
    for (int i = 0; i < N; i++)
        recycle_put(&c, v[i]);
    free(v);
}

/* A maker thread gets blocks and fills them, a worker thread checks and
 * puts them back, through a ring, as the core's records travel. */
enum { RING = 4096, ROUNDS = 200000 };
static struct recycle handoff = RECYCLE_INIT(SIZE, 1024 * 1024);
static void *ring[RING];
static size_t head, tail;
static pthread_mutex_t ring_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ring_cv = PTHREAD_COND_INITIALIZER;

static void *
maker(void *arg)
{
    (void) arg;
    for (uintptr_t i = 0; i < ROUNDS; i++) {
        unsigned char *p = recycle_get(&handoff);

        assert_non_null(p);
        memset(p, (int) (i & 0xff), SIZE);
        pthread_mutex_lock(&ring_mu);
        while (head - tail == RING)
            pthread_cond_wait(&ring_cv, &ring_mu);
        ring[head++ % RING] = p;
        pthread_cond_broadcast(&ring_cv);
        pthread_mutex_unlock(&ring_mu);
    }
    return NULL;
}

static void *
worker(void *arg)
{
    long bad = 0;

    (void) arg;
    for (uintptr_t i = 0; i < ROUNDS; i++) {
        unsigned char *p;

        pthread_mutex_lock(&ring_mu);
        while (head == tail)
            pthread_cond_wait(&ring_cv, &ring_mu);
        p = ring[tail++ % RING];
        pthread_cond_broadcast(&ring_cv);
        pthread_mutex_unlock(&ring_mu);
        for (int k = 0; k < SIZE; k++)
            bad += p[k] != (unsigned char) (i & 0xff);
        recycle_put(&handoff, p);
    }
    return (void *) bad;
}

static void
test_cross_thread(void **state)
{
    pthread_t m, w;
    void *bad;

    (void) state;
    assert_int_equal(pthread_create(&w, NULL, worker, NULL), 0);
    assert_int_equal(pthread_create(&m, NULL, maker, NULL), 0);
    pthread_join(m, NULL);
    pthread_join(w, &bad);
    assert_int_equal((long) (intptr_t) bad, 0);
    /* both threads have exited: their magazines went to the depot */
    assert_true(handoff.nfull > 0);
    assert_true(handoff.nfull <= handoff.keep);
}

/* Several threads get and put at random; blocks stay whole. */
static struct recycle shared = RECYCLE_INIT(SIZE, 256 * 1024);

static void *
churn(void *arg)
{
    uint64_t x = (uintptr_t) arg * 0x9E3779B97F4A7C15u + 1;
    void *held[300] = { 0 };

    for (int i = 0; i < 100000; i++) {
        int k;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        k = (int) (x % 300);
        if (held[k]) {
            assert_int_equal(((unsigned char *) held[k])[SIZE - 1],
                             (unsigned char) k);
            recycle_put(&shared, held[k]);
            held[k] = NULL;
        } else {
            assert_non_null(held[k] = recycle_get(&shared));
            memset(held[k], k, SIZE);
        }
    }
    for (int k = 0; k < 300; k++)
        recycle_put(&shared, held[k]);
    return NULL;
}

static void
test_many_threads(void **state)
{
    pthread_t t[6];

    (void) state;
    for (uintptr_t i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn,
                                        (void *) (i + 1)), 0);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    assert_true(shared.nfull <= shared.keep);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_thread_reuse),
        cmocka_unit_test(test_depot_bound),
        cmocka_unit_test(test_cross_thread),
        cmocka_unit_test(test_many_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
