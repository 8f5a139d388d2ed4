/*
 * test_dbconn.c - plugins/common/dbconn.c: deadlines, the wait on a
 * socket that must end by one, and how a failure is kept.
 */
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "dbconn.h"
#include "servers.h"

/* How late a wait may return on a busy machine (ASan, 2 cores shared). */
#define SLACK_MS 150

static void
test_left_and_expired(void **state)
{
    int64_t now = dbconn_now_us();

    (void) state;
    assert_true(dbconn_now_us() >= now);            /* monotonic */
    assert_false(dbconn_expired(now + 10 * 1000000));
    assert_true(dbconn_expired(now - 1));
    /* Never 0: several client libraries read 0 as "no limit". */
    assert_int_equal(dbconn_left_ms(now - 5 * 1000000), 1);
    assert_int_equal(dbconn_left_ms(now), 1);
    assert_in_range(dbconn_left_ms(now + 500 * 1000), 400, 500);
}

/* A connection to a listener that never answers: POLLIN never comes, and
 * the wait ends at the deadline, not before and not much after. */
static void
test_wait_ends_at_deadline(void **state)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int port, lfd = test_silent_listener(&port), fd;
    int64_t t0, ms;

    (void) state;
    sa.sin_port = htons((uint16_t) port);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    /* Writable at once: ready. */
    assert_int_equal(dbconn_wait_fd(fd, POLLOUT,
                                    dbconn_now_us() + 1000000), 1);
    t0 = dbconn_now_us();
    assert_int_equal(dbconn_wait_fd(fd, POLLIN, t0 + 300 * 1000), 0);
    ms = (dbconn_now_us() - t0) / 1000;
    assert_in_range(ms, 300, 300 + SLACK_MS);
    /* A deadline already past: no wait at all. */
    t0 = dbconn_now_us();
    assert_int_equal(dbconn_wait_fd(fd, POLLIN, t0 - 1), 0);
    assert_true(dbconn_now_us() - t0 < SLACK_MS * 1000);
    /* Not a socket: an error, not a wait. */
    assert_int_equal(dbconn_wait_fd(-1, POLLIN, t0 + 1000000), -1);
    close(fd);
    close(lfd);
}

static void
test_first_failure_is_kept(void **state)
{
    struct dbconn_err e = { 0 };

    (void) state;
    dbconn_fail_deadline(&e, "no answer to %s", "PING");
    assert_string_equal(e.reason, DBCONN_TIMEOUT);
    assert_int_equal(e.deadline, 1);
    assert_string_equal(e.msg, "no answer to PING");
    dbconn_fail(&e, DBCONN_CONNECT, "later: %d", 42);
    assert_string_equal(e.reason, DBCONN_TIMEOUT);
    assert_string_equal(e.msg, "no answer to PING");

    memset(&e, 0, sizeof(e));
    dbconn_fail(&e, DBCONN_AUTH, "%s", "WRONGPASS");
    assert_string_equal(e.reason, DBCONN_AUTH);
    assert_int_equal(e.deadline, 0);
    assert_string_equal(e.msg, "WRONGPASS");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_left_and_expired),
        cmocka_unit_test(test_wait_ends_at_deadline),
        cmocka_unit_test(test_first_failure_is_kept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
