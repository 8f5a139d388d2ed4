/*
 * The event loop's file descriptors: events reach the current owner; a
 * registration for the same events is taken over without an epoll_ctl;
 * a descriptor closed behind the loop's back (the kernel dropped it from
 * the epoll set) and its number reused is watched again, whether the loop
 * was told (loop_io_closing) or finds out (EPOLL_CTL_MOD says ENOENT).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include "loop.h"

static _Atomic int hits_a, hits_b;

static void
on_a(int fd, uint32_t events, void *arg)
{
    char buf[64];

    (void) events; (void) arg;
    if (read(fd, buf, sizeof(buf)) > 0)
        atomic_fetch_add(&hits_a, 1);
}

static void
on_b(int fd, uint32_t events, void *arg)
{
    char buf[64];

    (void) events; (void) arg;
    if (read(fd, buf, sizeof(buf)) > 0)
        atomic_fetch_add(&hits_b, 1);
}

/* What the loop thread is asked to do (loop_io_* are loop-thread only). */
struct op {
    struct loop *l;
    int          fd;
    uint32_t     events;
    loop_io_fn   fn;
    int          closing;       /* loop_io_closing instead of set */
    int          del;           /* loop_io_del instead of set */
    int          rc;
};

static void
run_op(void *arg)
{
    struct op *o = arg;

    if (o->closing)
        loop_io_closing(o->l, o->fd);
    else if (o->del)
        loop_io_del(o->l, o->fd);
    else
        o->rc = loop_io_set(o->l, o->fd, o->events, o->fn, NULL);
}

static int
io_set(struct loop *l, int fd, uint32_t events, loop_io_fn fn)
{
    struct op o = { .l = l, .fd = fd, .events = events, .fn = fn };

    assert_int_equal(loop_call_sync(l, run_op, &o), 0);
    return o.rc;
}

static void
io_closing(struct loop *l, int fd)
{
    struct op o = { .l = l, .fd = fd, .closing = 1 };

    assert_int_equal(loop_call_sync(l, run_op, &o), 0);
}

static void
io_del(struct loop *l, int fd)
{
    struct op o = { .l = l, .fd = fd, .del = 1 };

    assert_int_equal(loop_call_sync(l, run_op, &o), 0);
}

/* Waits up to 2 s for *counter to reach want. */
static int
wait_hits(_Atomic int *counter, int want)
{
    struct timespec ts = { 0, 5 * 1000 * 1000 };

    for (int i = 0; i < 400 && atomic_load(counter) < want; i++)
        nanosleep(&ts, NULL);
    return atomic_load(counter) >= want;
}

static int
setup(void **state)
{
    struct loop *l = loop_new();

    if (l == NULL || loop_start(l) != 0)
        return -1;
    atomic_store(&hits_a, 0);
    atomic_store(&hits_b, 0);
    *state = l;
    return 0;
}

static int
teardown(void **state)
{
    loop_free(*state);
    return 0;
}

static void
test_events_reach_the_current_owner(void **state)
{
    struct loop *l = *state;
    int p[2];

    assert_int_equal(pipe(p), 0);
    assert_int_equal(io_set(l, p[0], EPOLLIN, on_a), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_true(wait_hits(&hits_a, 1));
    /* Same events, another owner: no epoll_ctl, and b gets them. */
    assert_int_equal(io_set(l, p[0], EPOLLIN, on_b), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_true(wait_hits(&hits_b, 1));
    assert_int_equal(atomic_load(&hits_a), 1);
    io_del(l, p[0]);
    close(p[0]);
    close(p[1]);
}

/* p's read end is closed without a word to the loop, and a new pipe's
 * read end takes its number. */
static void
reuse_number(int p[2], int q[2])
{
    int fd = p[0];

    close(p[0]);
    close(p[1]);
    assert_int_equal(pipe(q), 0);
    if (q[0] != fd) {
        assert_int_equal(dup2(q[0], fd), fd);
        close(q[0]);
        q[0] = fd;
    }
}

static void
test_closed_and_told_then_reused(void **state)
{
    struct loop *l = *state;
    int p[2], q[2];

    assert_int_equal(pipe(p), 0);
    assert_int_equal(io_set(l, p[0], EPOLLIN, on_a), 0);
    io_closing(l, p[0]);
    reuse_number(p, q);
    /* The same events as before: had the loop skipped the epoll_ctl on
     * its stale record, no event would come. */
    assert_int_equal(io_set(l, q[0], EPOLLIN, on_b), 0);
    assert_int_equal(write(q[1], "x", 1), 1);
    assert_true(wait_hits(&hits_b, 1));
    io_del(l, q[0]);
    close(q[0]);
    close(q[1]);
}

static void
test_closed_untold_then_reused(void **state)
{
    struct loop *l = *state;
    int p[2], q[2];

    assert_int_equal(pipe(p), 0);
    assert_int_equal(io_set(l, p[0], EPOLLIN, on_a), 0);
    reuse_number(p, q);
    /* Other events: EPOLL_CTL_MOD fails with ENOENT, the loop adds. */
    assert_int_equal(io_set(l, q[0], EPOLLIN | EPOLLRDHUP, on_b), 0);
    assert_int_equal(write(q[1], "x", 1), 1);
    assert_true(wait_hits(&hits_b, 1));
    io_del(l, q[0]);
    close(q[0]);
    close(q[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_events_reach_the_current_owner,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_and_told_then_reused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_untold_then_reused,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
