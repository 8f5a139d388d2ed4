/*
 * redis_conn.c - Redis connections by deadline (redis_conn.h).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include "redis_conn.h"

/* --- the url ------------------------------------------------------------- */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char) (c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A malloc'ed, percent-decoded copy of s[0..n). NULL if malformed. */
static char *
decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (lo < 0) {
                free(out);
                return NULL;
            }
            *o++ = (char) (hi * 16 + lo);
            i += 2;
        } else
            *o++ = s[i];
    }
    *o = '\0';
    return out;
}

static int
parse_port(const char *s, size_t n, int *port)
{
    int v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = v;
    return 0;
}

/* user:password@ (either part may be empty; no colon: a username). */
static int
parse_userinfo(const char *s, size_t n, struct redis_target *t)
{
    const char *colon = memchr(s, ':', n);
    size_t ulen = colon ? (size_t) (colon - s) : n;

    if (ulen > 0 && (t->username = decode(s, ulen)) == NULL)
        return -1;
    if (colon && (size_t) (colon - s) + 1 < n
        && (t->password = decode(colon + 1, n - ulen - 1)) == NULL)
        return -1;
    return 0;
}

/* host, host:port, [v6], [v6]:port */
static int
parse_hostport(const char *s, size_t n, struct redis_target *t)
{
    const char *host = s, *port = NULL;
    size_t hlen = n;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return -1;
        host = s + 1;
        hlen = (size_t) (close - host);
        if (close + 1 < s + n) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon) {
            hlen = (size_t) (colon - s);
            port = colon + 1;
        }
    }
    if (hlen == 0 || (t->host = strndup(host, hlen)) == NULL)
        return -1;
    t->port = REDIS_DEFAULT_PORT;
    return port ? parse_port(port, (size_t) (s + n - port), &t->port) : 0;
}

int
redis_url_parse(const char *url, struct redis_target *t)
{
    const char *s, *end, *at, *hp, *slash;

    if (strncasecmp(url, "redis://", 8) != 0)
        return -1;
    s = url + 8;
    end = s + strlen(s);
    at = memrchr(s, '@', (size_t) (end - s));
    if (at && parse_userinfo(s, (size_t) (at - s), t) != 0)
        return -1;
    hp = at ? at + 1 : s;
    slash = memchr(hp, '/', (size_t) (end - hp));
    if (parse_hostport(hp, (size_t) ((slash ? slash : end) - hp), t) != 0)
        return -1;
    if (slash && slash[1] != '\0') {
        char *e;
        t->db = strtoll(slash + 1, &e, 10);
        if (*e != '\0' || t->db < 0 || slash[1] < '0' || slash[1] > '9')
            return -1;
    }
    return 0;
}

int
redis_url_check(const char *url, char *err, size_t errlen)
{
    struct redis_target t = { 0 };
    int rc;

    if (url[0] == '\0')
        return 0;
    if (strncasecmp(url, "rediss://", 9) == 0) {
        snprintf(err, errlen, "url: rediss:// (TLS) needs hiredis 1.0 or "
                 "later; this build has hiredis %d.%d", HIREDIS_MAJOR,
                 HIREDIS_MINOR);
        return -1;
    }
    rc = redis_url_parse(url, &t);
    redis_target_clear(&t);
    if (rc != 0)
        snprintf(err, errlen, "url is not "
                 "redis://[[username]:password@]host[:port][/db]");
    return rc;
}

static void
wipe(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    free(s);
}

int
redis_target_set(char **slot, const char *value)
{
    if (value == NULL)
        return 0;
    wipe(*slot);
    return (*slot = strdup(value)) == NULL ? -1 : 0;
}

void
redis_target_clear(struct redis_target *t)
{
    free(t->host);
    free(t->username);
    wipe(t->password);
    memset(t, 0, sizeof(*t));
}

/* --- connection and commands --------------------------------------------- */

static struct timeval
ms_to_tv(int64_t ms)
{
    struct timeval tv = { .tv_sec = ms / 1000,
                          .tv_usec = (suseconds_t) (ms % 1000) * 1000 };
    return tv;
}

/* hiredis reports a timeout as an I/O error: ETIMEDOUT while connecting,
 * EAGAIN from a socket timeout afterwards. */
static int
timed_out(const redisContext *c, int64_t deadline_us)
{
    return c->err == REDIS_ERR_IO
           && (dbconn_expired(deadline_us)
               || strstr(c->errstr, "timed out") != NULL
               || strstr(c->errstr, "temporarily unavailable") != NULL);
}

static void
io_failed(redisContext *c, const char *what, int64_t deadline_us,
          struct dbconn_err *e)
{
    if (timed_out(c, deadline_us))
        dbconn_fail_deadline(e, "no answer to %s", what);
    else if (c->err == REDIS_ERR_IO || c->err == REDIS_ERR_EOF)
        dbconn_fail(e, DBCONN_CONNECT, "%s: %s", what, c->errstr);
    else
        dbconn_fail(e, DBCONN_PROTOCOL, "%s: %s", what, c->errstr);
}

/* Error replies that mean "who are you?" rather than "cannot do that". */
static int
auth_error(const char *msg)
{
    return strncmp(msg, "NOAUTH", 6) == 0 || strncmp(msg, "WRONGPASS", 9) == 0
           || strncmp(msg, "NOPERM", 6) == 0
           || strstr(msg, "invalid password") != NULL;
}

redisContext *
redis_connect_by(const struct redis_target *t, int64_t deadline_us,
                 struct dbconn_err *e)
{
    redisContext *c = redisConnectWithTimeout(
        t->host, t->port, ms_to_tv(dbconn_left_ms(deadline_us)));

    if (c == NULL) {
        dbconn_fail(e, DBCONN_CONNECT, "out of memory");
        return NULL;
    }
    if (c->err) {
        dbconn_fail(e, timed_out(c, deadline_us) ? DBCONN_TIMEOUT
                                                 : DBCONN_CONNECT,
                    "%s:%d: %s", t->host, t->port, c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Sends a command and waits, with poll() and the deadline, for the first
 * bytes of its answer. 0, or -1 and why in e. */
static int
send_and_wait(redisContext *c, int argc, const char **argv,
              int64_t deadline_us, struct dbconn_err *e)
{
    int done = 0, rc;

    if (redisAppendCommandArgv(c, argc, argv, NULL) != REDIS_OK) {
        io_failed(c, argv[0], deadline_us, e);
        return -1;
    }
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK) {
            io_failed(c, argv[0], deadline_us, e);
            return -1;
        }
    if ((rc = dbconn_wait_fd(c->fd, POLLIN, deadline_us)) <= 0) {
        if (rc == 0)
            dbconn_fail_deadline(e, "no answer to %s", argv[0]);
        else
            dbconn_fail(e, DBCONN_CONNECT, "%s: cannot wait on the socket",
                        argv[0]);
        return -1;
    }
    return 0;
}

/* The socket timeouts (what is left) bound a write to a full buffer and
 * the rest of a long answer; the wait for the answer itself is
 * send_and_wait()'s. */
redisReply *
redis_command_by(redisContext *c, int argc, const char **argv,
                 int64_t deadline_us, struct dbconn_err *e)
{
    redisReply *r = NULL;

    if (dbconn_expired(deadline_us)) {
        dbconn_fail_deadline(e, "no time left for %s", argv[0]);
        return NULL;
    }
    if (redisSetTimeout(c, ms_to_tv(dbconn_left_ms(deadline_us)))
        != REDIS_OK) {
        io_failed(c, argv[0], deadline_us, e);
        return NULL;
    }
    if (send_and_wait(c, argc, argv, deadline_us, e) != 0)
        return NULL;
    if (redisGetReply(c, (void **) &r) != REDIS_OK || r == NULL) {
        io_failed(c, argv[0], deadline_us, e);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        int is_auth = strcmp(argv[0], "AUTH") == 0 || auth_error(r->str);
        dbconn_fail(e, is_auth ? DBCONN_AUTH : DBCONN_QUERY, "%s: %s",
                    argv[0], r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int
simple_command(redisContext *c, int argc, const char **argv,
               int64_t deadline_us, struct dbconn_err *e)
{
    redisReply *r = redis_command_by(c, argc, argv, deadline_us, e);

    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}

int
redis_login_by(redisContext *c, const struct redis_target *t,
               int64_t deadline_us, struct dbconn_err *e)
{
    const char *auth[] = { "AUTH", t->username, t->password };
    char db[24];
    const char *select[] = { "SELECT", db };

    if (t->password != NULL) {
        if (t->username == NULL)
            auth[1] = t->password;
        if (simple_command(c, t->username ? 3 : 2, auth, deadline_us, e)
            != 0)
            return -1;
    }
    if (t->db != 0) {
        snprintf(db, sizeof(db), "%lld", (long long) t->db);
        if (simple_command(c, 2, select, deadline_us, e) != 0)
            return -1;
    }
    return 0;
}
