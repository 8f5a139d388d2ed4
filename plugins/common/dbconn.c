/*
 * dbconn.c - deadlines and failures of the database connection helpers
 * (dbconn.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "dbconn.h"

int64_t
dbconn_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
dbconn_left_ms(int64_t deadline_us)
{
    int64_t ms = (deadline_us - dbconn_now_us()) / 1000;

    return ms > 0 ? ms : 1;
}

int
dbconn_expired(int64_t deadline_us)
{
    return dbconn_now_us() >= deadline_us;
}

int
dbconn_wait_fd(int fd, short events, int64_t deadline_us)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    int rc;

    if (fd < 0)
        return -1;
    for (;;) {
        if (dbconn_expired(deadline_us))
            return 0;
        rc = poll(&pfd, 1, (int) dbconn_left_ms(deadline_us));
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

static void
vfail(struct dbconn_err *e, const char *reason, int deadline,
      const char *fmt, va_list ap)
{
    if (e->reason != NULL)
        return;
    e->reason = reason;
    e->deadline = deadline;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

void
dbconn_fail(struct dbconn_err *e, const char *reason, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(e, reason, 0, fmt, ap);
    va_end(ap);
}

void
dbconn_fail_deadline(struct dbconn_err *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(e, DBCONN_TIMEOUT, 1, fmt, ap);
    va_end(ap);
}
