/*
 * loop.c - epoll, a timer heap and a cross-thread inbox.
 *
 * Invariant: a timer is in the heap iff heap_idx != NOT_ARMED, and
 * heap[t->heap_idx].t == t. Only the loop thread touches the heap and the
 * epoll registrations; other threads only append to the inbox (under
 * inbox_lock) and write the eventfd.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "clock.h"
#include "log.h"
#include "loop.h"

#define NOT_ARMED ((size_t) -1)
#define MAX_FDS   65536

struct io_slot {
    loop_io_fn  fn;
    void       *arg;
    uint32_t    events;     /* what epoll watches for this fd */
};

struct heap_slot {
    int64_t            due_ms;      /* a copy of t->due_ms */
    struct loop_timer *t;
};

struct call {
    struct call  *next;
    loop_call_fn  fn;
    void         *arg;
};

struct loop {
    int                 epfd;
    int                 wakefd;
    pthread_t           thread;
    int                 running;
    volatile int        stopping;

    struct heap_slot   *heap;
    size_t              nheap, capheap;

    struct io_slot     *io;           /* indexed by fd */
    size_t              nio;

    pthread_mutex_t     inbox_lock;
    struct call        *inbox_head, *inbox_tail;
    int                 closed;       /* no more calls accepted */
};

/* --- timer heap -------------------------------------------------------- */

/* A 4-ary min-heap whose slots carry their key: with tens of thousands of
 * inputs, each with a timer, comparing through the timer pointers costs a
 * cache miss per comparison; here a sift reads one contiguous array and
 * writes each moved timer's index once. Four children per node halve the
 * depth of a binary heap for the same comparisons per level's line. */
#define HEAP_ARITY 4

static void
heap_place(struct loop *l, size_t i, struct heap_slot slot)
{
    l->heap[i] = slot;
    slot.t->heap_idx = i;
}

static void
heap_up(struct loop *l, size_t i)
{
    struct heap_slot slot = l->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / HEAP_ARITY;
        if (l->heap[parent].due_ms <= slot.due_ms)
            break;
        heap_place(l, i, l->heap[parent]);
        i = parent;
    }
    heap_place(l, i, slot);
}

static void
heap_down(struct loop *l, size_t i)
{
    struct heap_slot slot = l->heap[i];

    for (;;) {
        size_t first = HEAP_ARITY * i + 1, min = first;

        if (first >= l->nheap)
            break;
        for (size_t c = first + 1; c < first + HEAP_ARITY && c < l->nheap;
             c++)
            if (l->heap[c].due_ms < l->heap[min].due_ms)
                min = c;
        if (l->heap[min].due_ms >= slot.due_ms)
            break;
        heap_place(l, i, l->heap[min]);
        i = min;
    }
    heap_place(l, i, slot);
}

void
loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *arg)
{
    t->due_ms = 0;
    t->heap_idx = NOT_ARMED;
    t->fn = fn;
    t->arg = arg;
}

int
loop_timer_armed(const struct loop_timer *t)
{
    return t->heap_idx != NOT_ARMED;
}

void
loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
    size_t i = t->heap_idx;
    struct loop_timer *moved;

    if (i == NOT_ARMED)
        return;
    t->heap_idx = NOT_ARMED;
    l->nheap--;
    if (i == l->nheap)
        return;
    moved = l->heap[l->nheap].t;
    heap_place(l, i, l->heap[l->nheap]);
    heap_up(l, i);
    heap_down(l, moved->heap_idx);
}

void
loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t due_ms)
{
    size_t i = t->heap_idx;

    /* Armed already (curl moves its one timer many times a second): move
     * it in place, up or down, rather than out of the heap and back. */
    if (i != NOT_ARMED) {
        int64_t was = t->due_ms;

        if (due_ms == was)
            return;
        t->due_ms = due_ms;
        l->heap[i].due_ms = due_ms;
        if (due_ms < was)
            heap_up(l, i);
        else
            heap_down(l, i);
        return;
    }
    if (l->nheap == l->capheap) {
        size_t cap = l->capheap ? l->capheap * 2 : 256;
        struct heap_slot *h = realloc(l->heap, cap * sizeof(*h));
        if (h == NULL) {
            log_core(OUTPOST_LOG_ERROR, "timer", "out of memory");
            return;
        }
        l->heap = h;
        l->capheap = cap;
    }
    t->due_ms = due_ms;
    heap_place(l, l->nheap, (struct heap_slot) { due_ms, t });
    heap_up(l, l->nheap++);
}

static void
run_timers(struct loop *l)
{
    int64_t now = clock_mono_ms();

    while (l->nheap > 0 && l->heap[0].due_ms <= now) {
        struct loop_timer *t = l->heap[0].t;
        loop_timer_disarm(l, t);
        t->fn(t->arg);
    }
}

static int
next_timeout(struct loop *l)
{
    int64_t wait;

    if (l->nheap == 0)
        return 1000;
    wait = l->heap[0].due_ms - clock_mono_ms();
    if (wait < 0)
        return 0;
    return wait > 1000 ? 1000 : (int) wait;
}

/* --- file descriptors -------------------------------------------------- */

int
loop_io_set(struct loop *l, int fd, uint32_t events, loop_io_fn fn,
            void *arg)
{
    struct epoll_event ev = { .events = events, .data.fd = fd };
    int op;

    if (fd < 0 || fd >= MAX_FDS)
        return -1;
    if ((size_t) fd >= l->nio) {
        size_t n = (size_t) fd + 64;
        struct io_slot *io = realloc(l->io, n * sizeof(*io));
        if (io == NULL)
            return -1;
        memset(io + l->nio, 0, (n - l->nio) * sizeof(*io));
        l->io = io;
        l->nio = n;
    }
    /* Watched already for exactly these events: a new owner, no syscall
     * (a keep-alive connection going from one transfer to the next). */
    if (l->io[fd].fn && l->io[fd].events == events) {
        l->io[fd].fn = fn;
        l->io[fd].arg = arg;
        return 0;
    }
    op = l->io[fd].fn ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->epfd, op, fd, &ev) != 0
        && !(op == EPOLL_CTL_ADD && errno == EEXIST
             && epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        && !(op == EPOLL_CTL_MOD && errno == ENOENT
             && epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0))
        return -1;
    l->io[fd].fn = fn;
    l->io[fd].arg = arg;
    l->io[fd].events = events;
    return 0;
}

void
loop_io_del(struct loop *l, int fd)
{
    if (fd < 0 || (size_t) fd >= l->nio || l->io[fd].fn == NULL)
        return;
    /* The fd may already be closed, in which case the kernel dropped it. */
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    loop_io_closing(l, fd);
}

void
loop_io_closing(struct loop *l, int fd)
{
    if (fd < 0 || (size_t) fd >= l->nio)
        return;
    /* close() takes the fd out of the epoll set itself. */
    l->io[fd].fn = NULL;
    l->io[fd].arg = NULL;
    l->io[fd].events = 0;
}

/* --- inbox ------------------------------------------------------------- */

int
loop_call(struct loop *l, loop_call_fn fn, void *arg)
{
    struct call *c = malloc(sizeof(*c));
    uint64_t one = 1;
    int was_empty;

    if (c == NULL)
        return -1;
    c->next = NULL;
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&l->inbox_lock);
    if (l->closed) {
        pthread_mutex_unlock(&l->inbox_lock);
        free(c);
        return -1;
    }
    was_empty = l->inbox_head == NULL;
    if (l->inbox_tail)
        l->inbox_tail->next = c;
    else
        l->inbox_head = c;
    l->inbox_tail = c;
    pthread_mutex_unlock(&l->inbox_lock);
    if (was_empty && write(l->wakefd, &one, sizeof(one)) < 0
        && errno != EAGAIN)
        log_core(OUTPOST_LOG_ERROR, "loop", "wakeup: %s", strerror(errno));
    return 0;
}

static void
run_inbox(struct loop *l)
{
    struct call *c, *next;
    uint64_t v;

    if (read(l->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        log_core(OUTPOST_LOG_ERROR, "loop", "wakeup: %s", strerror(errno));
    pthread_mutex_lock(&l->inbox_lock);
    c = l->inbox_head;
    l->inbox_head = l->inbox_tail = NULL;
    pthread_mutex_unlock(&l->inbox_lock);
    for (; c; c = next) {
        next = c->next;
        c->fn(c->arg);
        free(c);
    }
}

struct sync_call {
    loop_call_fn     fn;
    void            *arg;
    pthread_mutex_t  lock;
    pthread_cond_t   cond;
    int              done;
};

static void
sync_trampoline(void *arg)
{
    struct sync_call *s = arg;

    s->fn(s->arg);
    pthread_mutex_lock(&s->lock);
    s->done = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int
loop_call_sync(struct loop *l, loop_call_fn fn, void *arg)
{
    struct sync_call s = { .fn = fn, .arg = arg, .done = 0 };
    int rc;

    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    rc = loop_call(l, sync_trampoline, &s);
    if (rc == 0) {
        pthread_mutex_lock(&s.lock);
        while (!s.done)
            pthread_cond_wait(&s.cond, &s.lock);
        pthread_mutex_unlock(&s.lock);
    }
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    return rc;
}

/* --- the loop ---------------------------------------------------------- */

struct loop *
loop_new(void)
{
    struct loop *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&l->inbox_lock, NULL);
    if (l->epfd < 0 || l->wakefd < 0) {
        loop_free(l);
        return NULL;
    }
    {
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = -1 };
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) != 0) {
            loop_free(l);
            return NULL;
        }
    }
    return l;
}

static void *
loop_main(void *arg)
{
    struct loop *l = arg;
    struct epoll_event evs[256];

    while (!l->stopping) {
        int n = epoll_wait(l->epfd, evs, 256, next_timeout(l));

        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == -1) {
                run_inbox(l);
                continue;
            }
            if ((size_t) fd < l->nio && l->io[fd].fn)
                l->io[fd].fn(fd, evs[i].events, l->io[fd].arg);
        }
        run_timers(l);
    }
    return NULL;
}

int
loop_start(struct loop *l)
{
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
        return -1;
    l->running = 1;
    return 0;
}

int
loop_on_thread(const struct loop *l)
{
    return l->running && pthread_equal(pthread_self(), l->thread);
}

static void
set_stopping(void *arg)
{
    ((struct loop *) arg)->stopping = 1;
}

void
loop_stop(struct loop *l)
{
    if (!l->running)
        return;
    loop_call(l, set_stopping, l);
    pthread_join(l->thread, NULL);
    l->running = 0;
    pthread_mutex_lock(&l->inbox_lock);
    l->closed = 1;
    pthread_mutex_unlock(&l->inbox_lock);
    run_inbox(l);   /* calls posted after the stop request still run */
}

void
loop_free(struct loop *l)
{
    if (l == NULL)
        return;
    loop_stop(l);
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    pthread_mutex_destroy(&l->inbox_lock);
    free(l->heap);
    free(l->io);
    free(l);
}
