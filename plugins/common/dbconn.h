/*
 * dbconn.h - what the database connection helpers (pg_conn.h,
 * redis_conn.h, kafka_conf.h) share: deadlines for blocking steps and
 * how a failed step is told to the caller.
 *
 * A deadline is an absolute time on the monotonic clock in microseconds
 * (dbconn_now_us() + budget). Every helper that blocks ends by the
 * deadline it is given, so that the plugin can report its own, precise
 * failure ("timeout: no connection after 480 ms") before the core
 * cancels the run or the output's write.
 *
 * Rules:
 *   1. Nothing here allocates or keeps state: any thread may call it.
 *   2. A helper that fails fills a struct dbconn_err; the first failure
 *      is kept (dbconn_fail() does nothing once reason is set), so the
 *      cause is reported, not a consequence of it.
 *   3. Messages never quote a URL, conninfo or property value: they may
 *      hold a password.
 */
#ifndef OUTPOST_DBCONN_H
#define OUTPOST_DBCONN_H

#include <stddef.h>
#include <stdint.h>

/* Why a step failed: the `reason` field of a failed check, and what an
 * output classifies to retry or drop. */
#define DBCONN_TIMEOUT  "timeout"   /* the deadline passed, or the server's
                                       statement timeout fired */
#define DBCONN_CONNECT  "connect"   /* unreachable, or the connection broke */
#define DBCONN_AUTH     "auth"      /* the server refused who we are */
#define DBCONN_QUERY    "query"     /* the server refused the command */
#define DBCONN_PROTOCOL "protocol"  /* an answer we cannot understand */

struct dbconn_err {
    const char *reason;        /* one of DBCONN_*, NULL while none */
    /* 1 when our own deadline passed: msg is then only what was missing
     * ("no connection", "no answer to PING") and the caller adds how
     * long it waited. */
    int         deadline;
    char        sqlstate[6];   /* postgres: the refused statement's
                                  SQLSTATE, else "" */
    char        msg[448];      /* one line */
};

/* Monotonic microseconds. */
int64_t dbconn_now_us(void);

/* Milliseconds left before deadline_us, at least 1 so that a step given
 * no time still fails by timeout instead of waiting forever (0 means
 * "no limit" to several client libraries). */
int64_t dbconn_left_ms(int64_t deadline_us);

/* 1 once the deadline has passed. */
int dbconn_expired(int64_t deadline_us);

/* Waits until fd is ready for events (POLLIN, POLLOUT) or the deadline
 * passes. 1: ready, 0: the deadline passed, -1: poll failed or fd < 0.
 * poll()'s timeout is precise, unlike a socket's SO_RCVTIMEO, which the
 * kernel's timer wheel may let run up to an eighth over. */
int dbconn_wait_fd(int fd, short events, int64_t deadline_us);

/* Records a failure (rule 2). */
void dbconn_fail(struct dbconn_err *e, const char *reason, const char *fmt,
                 ...) __attribute__((format(printf, 3, 4)));

/* The same for the deadline: reason timeout, deadline = 1. */
void dbconn_fail_deadline(struct dbconn_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* OUTPOST_DBCONN_H */
