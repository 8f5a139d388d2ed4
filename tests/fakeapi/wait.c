/*
 * fakeapi: requests that wait, for a delay or a hang, without holding a
 * worker thread.  The handler suspends the MHD connection and parks its
 * fa_req_t here; one timer thread resumes it when the deadline passes, and
 * MHD then calls the handler again, which reads req->wake to learn why.
 *
 * Invariant: a parked request is in fa_heap exactly while its connection
 * is suspended, and only this file touches it then.  It leaves the heap
 * before MHD_resume_connection(), because from that moment a worker may
 * answer the request and free it.
 *
 * A hang is a deadline of FA_FOREVER.  Releasing hangs (a fault cleared)
 * sets their deadline to 0 and rebuilds the heap; since MHD does not watch
 * suspended sockets, the thread also polls hung ones every FA_REAP_US so a
 * client that gave up does not pin a descriptor until the fault clears.
 */

#include <poll.h>         /* POLLRDHUP needs _GNU_SOURCE, set by CMake */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "fakeapi.h"


#define FA_WAIT_MAX     65536       /* parked requests; more are dropped */
#define FA_REAP_US      500000

static pthread_mutex_t      fa_wlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t       fa_wcond;
static pthread_t            fa_wthread;
static int                  fa_wstarted;
static int                  fa_wstopping;
static fa_req_t           **fa_heap;      /* min-heap on deadline */
static size_t               fa_nheap;
static size_t               fa_heap_cap;
static size_t               fa_nhung;


/*
 * Microseconds, so that a delay is never cut short by rounding: tests
 * check that a 250 ms delay takes at least 250 ms.
 */
static uint64_t
fa_now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


static void
fa_heap_swap(size_t a, size_t b)
{
    fa_req_t  *t = fa_heap[a];

    fa_heap[a] = fa_heap[b];
    fa_heap[b] = t;
}


static void
fa_heap_up(size_t i)
{
    while (i > 0 && fa_heap[(i - 1) / 2]->deadline > fa_heap[i]->deadline) {
        fa_heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}


static void
fa_heap_down(size_t i)
{
    size_t  l, m;

    for ( ;; ) {
        l = 2 * i + 1;
        m = i;
        if (l < fa_nheap && fa_heap[l]->deadline < fa_heap[m]->deadline) {
            m = l;
        }
        if (l + 1 < fa_nheap
            && fa_heap[l + 1]->deadline < fa_heap[m]->deadline)
        {
            m = l + 1;
        }
        if (m == i) {
            return;
        }
        fa_heap_swap(i, m);
        i = m;
    }
}


static void
fa_heap_rebuild(void)
{
    size_t  i;

    for (i = fa_nheap / 2; i > 0; i--) {
        fa_heap_down(i - 1);
    }
}


/* Call with fa_wlock held.  Hands the request back to MHD. */
static void
fa_wait_wake(fa_wake_e why)
{
    fa_req_t  *req = fa_heap[0];

    fa_heap[0] = fa_heap[--fa_nheap];
    fa_heap_down(0);

    if (req->deadline == FA_FOREVER) {
        fa_nhung--;
    }
    if (req->wake == FA_WAKE_NONE) {
        req->wake = why;
    }

    MHD_resume_connection(req->conn);
}


int
fa_wait_suspend(fa_req_t *req, uint64_t delay_ms)
{
    fa_req_t  **heap;
    size_t      cap;
    int         rc = -1;

    pthread_mutex_lock(&fa_wlock);

    if (fa_wstopping || fa_nheap == FA_WAIT_MAX) {
        goto out;
    }

    if (fa_nheap == fa_heap_cap) {
        cap = fa_heap_cap ? fa_heap_cap * 2 : 256;
        heap = realloc(fa_heap, cap * sizeof(fa_req_t *));
        if (heap == NULL) {
            goto out;
        }
        fa_heap = heap;
        fa_heap_cap = cap;
    }

    req->deadline = delay_ms == FA_FOREVER ? FA_FOREVER
                                           : fa_now_us() + delay_ms * 1000;
    req->wake = FA_WAKE_NONE;
    if (req->deadline == FA_FOREVER) {
        fa_nhung++;
    }

    MHD_suspend_connection(req->conn);

    fa_heap[fa_nheap++] = req;
    fa_heap_up(fa_nheap - 1);

    /* a new earliest deadline, or a first hang to poll: re-arm */
    if (fa_heap[0] == req || fa_nhung == 1) {
        pthread_cond_signal(&fa_wcond);
    }
    rc = 0;

out:
    pthread_mutex_unlock(&fa_wlock);
    return rc;
}


/* Call with fa_wlock held.  Marks hangs matching `pattern` (NULL: all). */
static size_t
fa_wait_mark(const char *pattern, fa_wake_e why)
{
    fa_req_t  *req;
    size_t     i, n = 0;

    for (i = 0; i < fa_nheap; i++) {
        req = fa_heap[i];
        if (req->deadline != FA_FOREVER
            || (pattern != NULL && !fa_fault_match(pattern, req->path)))
        {
            continue;
        }

        req->deadline = 0;
        req->wake = why;
        fa_nhung--;
        n++;
    }

    return n;
}


void
fa_wait_release(const char *pattern)
{
    pthread_mutex_lock(&fa_wlock);

    if (fa_wait_mark(pattern, FA_WAKE_RELEASE) > 0) {
        fa_heap_rebuild();
        pthread_cond_signal(&fa_wcond);
    }

    pthread_mutex_unlock(&fa_wlock);
}


/* Call with fa_wlock held.  Drops hangs whose client has hung up. */
static void
fa_wait_reap(void)
{
    const union MHD_ConnectionInfo  *ci;
    struct pollfd                    pfd;
    fa_req_t                        *req;
    size_t                           i, n = 0;

    for (i = 0; i < fa_nheap; i++) {
        req = fa_heap[i];
        if (req->deadline != FA_FOREVER) {
            continue;
        }

        ci = MHD_get_connection_info(req->conn,
                                     MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci == NULL) {
            continue;
        }

        pfd.fd = ci->connect_fd;
        pfd.events = POLLRDHUP;
        pfd.revents = 0;
        if (poll(&pfd, 1, 0) == 1
            && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        {
            req->deadline = 0;
            req->wake = FA_WAKE_DROP;
            fa_nhung--;
            n++;
        }
    }

    if (n > 0) {
        fa_heap_rebuild();
    }
}


static void
fa_wait_sleep(uint64_t until)
{
    struct timespec  ts;

    if (until == FA_FOREVER) {
        pthread_cond_wait(&fa_wcond, &fa_wlock);
        return;
    }

    ts.tv_sec = (time_t) (until / 1000000);
    ts.tv_nsec = (long) (until % 1000000) * 1000;
    (void) pthread_cond_timedwait(&fa_wcond, &fa_wlock, &ts);
}


static void *
fa_wait_loop(void *arg)
{
    uint64_t  now, until, next_reap = 0;

    (void) arg;

    pthread_mutex_lock(&fa_wlock);

    while (!fa_wstopping) {
        now = fa_now_us();

        while (fa_nheap > 0 && fa_heap[0]->deadline <= now) {
            fa_wait_wake(FA_WAKE_TIMER);
        }

        if (fa_nhung > 0 && now >= next_reap) {
            next_reap = now + FA_REAP_US;
            fa_wait_reap();
            continue;
        }

        until = fa_nheap > 0 ? fa_heap[0]->deadline : FA_FOREVER;
        if (fa_nhung > 0 && next_reap < until) {
            until = next_reap;
        }

        fa_wait_sleep(until);
    }

    /* MHD refuses to stop with suspended connections: close them all */
    while (fa_nheap > 0) {
        fa_heap[0]->wake = FA_WAKE_DROP;
        fa_wait_wake(FA_WAKE_DROP);
    }

    pthread_mutex_unlock(&fa_wlock);
    return NULL;
}


int
fa_wait_start(void)
{
    pthread_condattr_t  attr;

    if (pthread_condattr_init(&attr) != 0) {
        return -1;
    }
    (void) pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (pthread_cond_init(&fa_wcond, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        return -1;
    }
    pthread_condattr_destroy(&attr);

    if (pthread_create(&fa_wthread, NULL, fa_wait_loop, NULL) != 0) {
        pthread_cond_destroy(&fa_wcond);
        return -1;
    }

    fa_wstarted = 1;
    return 0;
}


/* Resumes every parked request (they are closed) and ends the thread. */
void
fa_wait_stop(void)
{
    if (!fa_wstarted) {
        return;
    }

    pthread_mutex_lock(&fa_wlock);
    fa_wstopping = 1;
    pthread_cond_signal(&fa_wcond);
    pthread_mutex_unlock(&fa_wlock);

    pthread_join(fa_wthread, NULL);
    pthread_cond_destroy(&fa_wcond);
    fa_wstarted = 0;

    free(fa_heap);
    fa_heap = NULL;
    fa_nheap = 0;
    fa_heap_cap = 0;
}
