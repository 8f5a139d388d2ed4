/*
 * redis_conn.h - Redis connections by deadline, on hiredis 0.14: where to
 * connect (a redis:// url, or host and port), connecting, logging in and
 * one command at a time, each ending by the caller's deadline (dbconn.h).
 * Shared by the `databases` input and the `redis` output.
 *
 * hiredis 0.14 has no TLS and no per-command deadline: the connect gets
 * the time left, each command's answer is waited for with poll() until
 * the deadline, and redisSetTimeout() bounds the socket reads and writes
 * around that wait by the same time.
 *
 * Rules:
 *   1. A redisContext is used by one thread at a time (hiredis's rule).
 *   2. After a failure with reason timeout, connect or protocol the
 *      context is out of step with the server: redisFree() it and
 *      connect again (collectd's write_redis kept a dead connection and
 *      swallowed errors). After reason query or auth it is still usable.
 *   3. Messages never quote the url or a password (dbconn.h, rule 3).
 */
#ifndef OUTPOST_REDIS_CONN_H
#define OUTPOST_REDIS_CONN_H

#include <stdint.h>
#include <hiredis/hiredis.h>
#include "dbconn.h"

#define REDIS_DEFAULT_HOST "127.0.0.1"
#define REDIS_DEFAULT_PORT 6379

/* Where and as whom to connect. Strings are malloc'ed and owned;
 * redis_target_clear() frees them and wipes the password. */
struct redis_target {
    char    *host;
    int      port;
    int64_t  db;
    char    *username;   /* NULL: AUTH with the password only */
    char    *password;   /* NULL: no AUTH */
};

/*
 * Parses redis://[[username]:password@]host[:port][/db] into t, which
 * must be zeroed (or cleared). Parts are percent-decoded; host may be an
 * [IPv6] literal; port defaults to 6379, db to 0. 0, or -1 when url is
 * malformed (t may be partly filled: clear it).
 */
int  redis_url_parse(const char *url, struct redis_target *t);

/* For validate (outpostd -t) and init: 0 if url is a redis:// url this
 * build can use, else -1 and why in err (never the url). "" passes: an
 * empty secret is "credentials missing" at run time. */
int  redis_url_check(const char *url, char *err, size_t errlen);

/* Replaces *slot with a copy of value (the old one is wiped and freed);
 * value NULL leaves it. 0, or -1 when memory ran out. */
int  redis_target_set(char **slot, const char *value);

void redis_target_clear(struct redis_target *t);

/* Connects to t by deadline_us. The context, or NULL and why in e:
 * timeout or connect, "host:port: <why>". */
redisContext *redis_connect_by(const struct redis_target *t,
                               int64_t deadline_us, struct dbconn_err *e);

/* Sends one command and reads its reply by deadline_us. The reply (the
 * caller frees it with freeReplyObject), or NULL and why in e: timeout
 * (deadline set: "no answer to <command>" or "no time left for
 * <command>"), connect, protocol, auth (an AUTH refused, NOAUTH,
 * WRONGPASS, NOPERM) or query (any other error reply:
 * "<command>: <error>"). An error reply is never returned. */
redisReply *redis_command_by(redisContext *c, int argc, const char **argv,
                             int64_t deadline_us, struct dbconn_err *e);

/* AUTH when t has a password, SELECT when t->db is not 0. 0, or -1 and
 * why in e. */
int redis_login_by(redisContext *c, const struct redis_target *t,
                   int64_t deadline_us, struct dbconn_err *e);

#endif /* OUTPOST_REDIS_CONN_H */
