/*
 * redis.c - the `redis` provider of the databases input, on hiredis 0.14.
 *
 * A probe connects (a new connection every run, so connect_ms is
 * measured), authenticates when a password is configured, selects the
 * database, times PING and reads INFO for the role, clients, memory and
 * rejected connections.
 *
 * hiredis 0.14 has no TLS and no per-command deadline: the connect gets
 * the time left, each command's answer is waited for with poll() until
 * the probe's deadline, and redisSetTimeout() bounds the socket reads
 * and writes around that wait by the same time.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <hiredis/hiredis.h>
#include "databases.h"

#define REDIS_DEFAULT_HOST "127.0.0.1"
#define REDIS_DEFAULT_PORT 6379

/* Where and as whom to connect, from url or host/port (+ username and
 * password, which override the url's). Strings are owned. */
struct redis_target {
    char    *host;
    int      port;
    int64_t  db;
    char    *username;
    char    *password;
    int      url_empty;     /* url was set but empty: credentials missing */
};

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

/* redis://[[username]:password@]host[:port][/db] */
static int
parse_url(const char *url, struct redis_target *t)
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

/* --- init ---------------------------------------------------------------- */

static void target_free(struct redis_target *t);

/* For validate (outpostd -t) and init. Never quotes the url: it may carry
 * the password. An empty url (an empty url_env) is not an error: the
 * probe reports "credentials missing". */
int
redis_url_check(const char *url, char *err, size_t errlen)
{
    struct redis_target *t;
    int rc;

    if (url[0] == '\0')
        return 0;
    if (strncasecmp(url, "rediss://", 9) == 0) {
        snprintf(err, errlen, "url: rediss:// (TLS) needs hiredis 1.0 or "
                 "later; this build has hiredis %d.%d", HIREDIS_MAJOR,
                 HIREDIS_MINOR);
        return -1;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rc = parse_url(url, t);
    target_free(t);
    if (rc != 0)
        snprintf(err, errlen, "url is not "
                 "redis://[[username]:password@]host[:port][/db]");
    return rc;
}

static void
target_free(struct redis_target *t)
{
    if (t == NULL)
        return;
    free(t->host);
    free(t->username);
    if (t->password)
        explicit_bzero(t->password, strlen(t->password));
    free(t->password);
    free(t);
}

static int
target_override(char **slot, const char *value)
{
    if (value == NULL)
        return 0;
    if (*slot)
        explicit_bzero(*slot, strlen(*slot));
    free(*slot);
    return (*slot = strdup(value)) == NULL ? -1 : 0;
}

static int
redis_init(outpost_instance_t *inst, const struct db_conf *conf,
           void **state)
{
    struct redis_target *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return -1;
    if (conf->url && conf->url[0] == '\0')
        t->url_empty = 1;
    else if (conf->url) {
        /* Never log the url: it may carry the password. */
        if (parse_url(conf->url, t) != 0)
            goto fail;      /* db_validate (redis_url_check) refused it */
        if (conf->host)
            outpost_log(inst, OUTPOST_LOG_WARN, "init",
                        "url is set: host, port and db are ignored");
    } else {
        t->host = strdup(conf->host ? conf->host : REDIS_DEFAULT_HOST);
        t->port = (int) conf->port;
        t->db = conf->db;
        if (t->host == NULL)
            goto fail;
    }
    if (target_override(&t->username, conf->username) != 0
        || target_override(&t->password, conf->password) != 0)
        goto fail;
    *state = t;
    return 0;
fail:
    target_free(t);
    return -1;
}

/* --- the probe ----------------------------------------------------------- */

static struct timeval
ms_to_tv(int64_t ms)
{
    struct timeval tv = { .tv_sec = ms / 1000,
                          .tv_usec = (suseconds_t) (ms % 1000) * 1000 };
    return tv;
}

static int64_t
elapsed_ms(const struct db_probe *p)
{
    return (db_now_us() - p->start_us) / 1000;
}

/* hiredis reports a timeout as an I/O error: ETIMEDOUT while connecting,
 * EAGAIN from a socket timeout afterwards. */
static int
timed_out(const redisContext *c, const struct db_probe *p)
{
    return c->err == REDIS_ERR_IO
           && (db_expired(p) || strstr(c->errstr, "timed out") != NULL
               || strstr(c->errstr, "temporarily unavailable") != NULL);
}

static void
io_failed(redisContext *c, const char *what, struct db_probe *p)
{
    if (timed_out(c, p))
        db_fail(p, "timeout", "no answer to %s after %lld ms", what,
                (long long) elapsed_ms(p));
    else if (c->err == REDIS_ERR_IO || c->err == REDIS_ERR_EOF)
        db_fail(p, "connect", "%s: %s", what, c->errstr);
    else
        db_fail(p, "protocol", "%s: %s", what, c->errstr);
}

/* Error replies that mean "who are you?" rather than "cannot do that". */
static int
auth_error(const char *msg)
{
    return strncmp(msg, "NOAUTH", 6) == 0 || strncmp(msg, "WRONGPASS", 9) == 0
           || strncmp(msg, "NOPERM", 6) == 0
           || strstr(msg, "invalid password") != NULL;
}

/* Sends a command and waits, with poll() and the deadline, for the first
 * bytes of its answer. 0, or -1 after db_fail(). */
static int
send_and_wait(redisContext *c, struct db_probe *p, int argc,
              const char **argv)
{
    int done = 0, rc;

    if (redisAppendCommandArgv(c, argc, argv, NULL) != REDIS_OK) {
        io_failed(c, argv[0], p);
        return -1;
    }
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK) {
            io_failed(c, argv[0], p);
            return -1;
        }
    if ((rc = db_wait_fd(c->fd, POLLIN, p)) <= 0) {
        if (rc == 0)
            db_fail(p, "timeout", "no answer to %s after %lld ms", argv[0],
                    (long long) elapsed_ms(p));
        else
            db_fail(p, "connect", "%s: cannot wait on the socket", argv[0]);
        return -1;
    }
    return 0;
}

/* One command within the deadline. The socket timeouts (what is left)
 * bound a write to a full buffer and the rest of a long answer; the wait
 * for the answer itself is send_and_wait()'s. NULL after db_fail(). */
static redisReply *
command(redisContext *c, struct db_probe *p, int argc, const char **argv)
{
    redisReply *r = NULL;

    if (db_expired(p)) {
        db_fail(p, "timeout", "no time left for %s after %lld ms", argv[0],
                (long long) elapsed_ms(p));
        return NULL;
    }
    if (redisSetTimeout(c, ms_to_tv(db_remaining_ms(p))) != REDIS_OK) {
        io_failed(c, argv[0], p);
        return NULL;
    }
    if (send_and_wait(c, p, argc, argv) != 0)
        return NULL;
    if (redisGetReply(c, (void **) &r) != REDIS_OK || r == NULL) {
        io_failed(c, argv[0], p);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        int is_auth = strcmp(argv[0], "AUTH") == 0 || auth_error(r->str);
        db_fail(p, is_auth ? "auth" : "query", "%s: %s", argv[0], r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int
simple_command(redisContext *c, struct db_probe *p, int argc,
               const char **argv)
{
    redisReply *r = command(c, p, argc, argv);

    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}

static int
login(redisContext *c, const struct redis_target *t, struct db_probe *p)
{
    const char *auth[] = { "AUTH", t->username, t->password };
    char db[24];
    const char *select[] = { "SELECT", db };

    if (t->password != NULL) {
        if (t->username == NULL)
            auth[1] = t->password;
        if (simple_command(c, p, t->username ? 3 : 2, auth) != 0)
            return -1;
    }
    if (t->db != 0) {
        snprintf(db, sizeof(db), "%lld", (long long) t->db);
        if (simple_command(c, p, 2, select) != 0)
            return -1;
    }
    return 0;
}

static int
ping(redisContext *c, struct db_probe *p)
{
    const char *argv[] = { "PING" };
    int64_t t0 = db_now_us();
    redisReply *r = command(c, p, 1, argv);
    int ok;

    if (r == NULL)
        return -1;
    db_step(p, "ping_ms", t0);
    ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    freeReplyObject(r);
    if (!ok)
        db_fail(p, "protocol", "unexpected answer to PING");
    return ok ? 0 : -1;
}

/* The value of "key:value\r\n" in INFO text, as a malloc'ed string. */
static char *
info_value(const char *info, const char *key)
{
    size_t klen = strlen(key);

    for (const char *line = info; line && *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            return strndup(line + klen + 1, strcspn(line + klen + 1, "\r\n"));
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return NULL;
}

static void
add_info_str(struct db_probe *p, const char *info, const char *key,
             const char *field)
{
    char *v = info_value(info, key);

    if (v)
        outpost_record_add_str(p->rec, field, v);
    free(v);
}

static void
add_info_int(struct db_probe *p, const char *info, const char *key)
{
    char *v = info_value(info, key), *end;
    long long n;

    if (v) {
        n = strtoll(v, &end, 10);
        if (end != v && *end == '\0')
            outpost_record_add_int(p->rec, key, n);
    }
    free(v);
}

static void
info(redisContext *c, struct db_probe *p)
{
    const char *argv[] = { "INFO" };
    redisReply *r = command(c, p, 1, argv);
    char *link;

    if (r == NULL)
        return;
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        db_fail(p, "protocol", "unexpected answer to INFO");
        return;
    }
    add_info_str(p, r->str, "redis_version", "server_version");
    add_info_str(p, r->str, "role", "role");
    add_info_int(p, r->str, "connected_clients");
    add_info_int(p, r->str, "used_memory");
    add_info_int(p, r->str, "rejected_connections");
    if ((link = info_value(r->str, "master_link_status")) != NULL)
        outpost_record_add_bool(p->rec, "master_link_up",
                                strcmp(link, "up") == 0);
    free(link);
    freeReplyObject(r);
}

static void
redis_probe(void *state, const struct db_conf *conf, struct db_probe *p)
{
    const struct redis_target *t = state;
    int64_t t0 = db_now_us();
    redisContext *c;

    (void) conf;
    if (t->url_empty || (t->password && t->password[0] == '\0')) {
        db_credentials_missing(p, t->url_empty ? "url is empty"
                                               : "password is empty");
        return;
    }
    c = redisConnectWithTimeout(t->host, t->port,
                                ms_to_tv(db_remaining_ms(p)));
    if (c == NULL) {
        db_fail(p, "connect", "out of memory");
        return;
    }
    if (c->err) {
        db_fail(p, timed_out(c, p) ? "timeout" : "connect", "%s:%d: %s",
                t->host, t->port, c->errstr);
        redisFree(c);
        return;
    }
    db_step(p, "connect_ms", t0);
    if (login(c, t, p) == 0 && ping(c, p) == 0)
        info(c, p);
    redisFree(c);
}

static void
redis_shutdown(void *state)
{
    target_free(state);
}

const struct db_provider db_redis = {
    .name = "redis",
    .init = redis_init,
    .probe = redis_probe,
    .shutdown = redis_shutdown,
};
