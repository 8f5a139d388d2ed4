/*
 * test_redis_conn.c - plugins/common/redis_conn.c: redis:// urls, and
 * connecting, logging in and commands by a deadline against the suite's
 * real Redis, a closed port and a listener that never answers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "redis_conn.h"
#include "servers.h"

#define SLACK_MS 250        /* a busy machine: ASan, 2 shared cores */

static int64_t
in_ms(int64_t ms)
{
    return dbconn_now_us() + ms * 1000;
}

static int64_t
since_ms(int64_t t0_us)
{
    return (dbconn_now_us() - t0_us) / 1000;
}

/* --- urls ---------------------------------------------------------------- */

static const struct {
    const char *url;
    const char *host;
    int         port;
    int64_t     db;
    const char *username;
    const char *password;
} good_urls[] = {
    { "redis://127.0.0.1:6379", "127.0.0.1", 6379, 0, NULL, NULL },
    { "redis://cache", "cache", REDIS_DEFAULT_PORT, 0, NULL, NULL },
    { "REDIS://cache:1/15", "cache", 1, 15, NULL, NULL },
    { "redis://cache/", "cache", 6379, 0, NULL, NULL },
    { "redis://:s3cret@cache:7000/3", "cache", 7000, 3, NULL, "s3cret" },
    { "redis://agent:p%40ss%3a@cache", "cache", 6379, 0, "agent", "p@ss:" },
    { "redis://agent@cache", "cache", 6379, 0, "agent", NULL },
    { "redis://a:b@c@cache", "cache", 6379, 0, "a", "b@c" },
    { "redis://[::1]:6380/2", "::1", 6380, 2, NULL, NULL },
    { "redis://[::1]", "::1", 6379, 0, NULL, NULL },
    { "redis://cache:65535", "cache", 65535, 0, NULL, NULL },
};

static const char *const bad_urls[] = {
    "http://cache", "rediss://cache", "redis:/cache", "redis://",
    "redis://:6379", "redis://cache:0", "redis://cache:65536",
    "redis://cache:", "redis://cache:63a9", "redis://cache:123456",
    "redis://cache/-1", "redis://cache/1x", "redis://cache/+1",
    "redis://[::1", "redis://[::1]6379", "redis://%zz:hunter2@cache",
    "redis://u:hunter2%4@cache",
};

static void
assert_str_or_null(const char *got, const char *want)
{
    if (want == NULL)
        assert_null(got);
    else
        assert_string_equal(got, want);
}

static void
test_url_parse(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(good_urls) / sizeof(good_urls[0]); i++) {
        struct redis_target t = { 0 };

        if (redis_url_parse(good_urls[i].url, &t) != 0)
            fail_msg("refused: %s", good_urls[i].url);
        assert_string_equal(t.host, good_urls[i].host);
        assert_int_equal(t.port, good_urls[i].port);
        assert_int_equal(t.db, good_urls[i].db);
        assert_str_or_null(t.username, good_urls[i].username);
        assert_str_or_null(t.password, good_urls[i].password);
        redis_target_clear(&t);
        assert_null(t.host);
        assert_null(t.password);
    }
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        struct redis_target t = { 0 };

        if (redis_url_parse(bad_urls[i], &t) == 0)
            fail_msg("accepted: %s", bad_urls[i]);
        redis_target_clear(&t);
    }
}

static void
test_url_check(void **state)
{
    char err[256];

    (void) state;
    assert_int_equal(redis_url_check("", err, sizeof(err)), 0);
    assert_int_equal(redis_url_check("redis://:pw@cache/1", err,
                                     sizeof(err)), 0);
    assert_int_equal(redis_url_check("rediss://:hunter2@cache", err,
                                     sizeof(err)), -1);
    assert_non_null(strstr(err, "url: rediss:// (TLS) needs hiredis 1.0"));
    assert_null(strstr(err, "hunter2"));
    assert_int_equal(redis_url_check("http://:hunter2@cache", err,
                                     sizeof(err)), -1);
    assert_string_equal(err,
                        "url is not redis://[[username]:password@]host"
                        "[:port][/db]");
}

static void
test_target_set(void **state)
{
    char *slot = NULL;

    (void) state;
    assert_int_equal(redis_target_set(&slot, NULL), 0);
    assert_null(slot);
    assert_int_equal(redis_target_set(&slot, "one"), 0);
    assert_string_equal(slot, "one");
    assert_int_equal(redis_target_set(&slot, NULL), 0);    /* kept */
    assert_string_equal(slot, "one");
    assert_int_equal(redis_target_set(&slot, "two"), 0);
    assert_string_equal(slot, "two");
    free(slot);
}

/* --- the real server ------------------------------------------------------ */

static void
server_target(struct redis_target *t, int64_t db)
{
    memset(t, 0, sizeof(*t));
    t->host = strdup("127.0.0.1");
    t->port = atoi(test_server("REDIS_PORT"));
    t->db = db;
}

static redisContext *
connect_ok(const struct redis_target *t)
{
    struct dbconn_err e = { 0 };
    redisContext *c = redis_connect_by(t, in_ms(5000), &e);

    if (c == NULL)
        fail_msg("connect: %s: %s", e.reason, e.msg);
    if (redis_login_by(c, t, in_ms(5000), &e) != 0)
        fail_msg("login: %s: %s", e.reason, e.msg);
    return c;
}

static long long
integer(redisContext *c, int argc, const char **argv)
{
    struct dbconn_err e = { 0 };
    redisReply *r = redis_command_by(c, argc, argv, in_ms(5000), &e);
    long long v;

    if (r == NULL)
        fail_msg("%s: %s: %s", argv[0], e.reason, e.msg);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

static void
test_commands(void **state)
{
    const char *ping[] = { "PING" };
    const char *bogus[] = { "NOSUCHCOMMAND", "x" };
    const char *set[] = { "SET", "outpost:test:redis_conn", "1" };
    const char *exists[] = { "EXISTS", "outpost:test:redis_conn" };
    const char *del[] = { "DEL", "outpost:test:redis_conn" };
    struct redis_target t3, t0;
    struct dbconn_err e = { 0 };
    redisContext *c3, *c0;
    redisReply *r;

    (void) state;
    server_target(&t3, 3);
    server_target(&t0, 0);
    c3 = connect_ok(&t3);
    c0 = connect_ok(&t0);
    r = redis_command_by(c3, 1, ping, in_ms(5000), &e);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    assert_string_equal(r->str, "PONG");
    freeReplyObject(r);
    /* login selected db 3: a key set there is not in db 0. */
    r = redis_command_by(c3, 3, set, in_ms(5000), &e);
    assert_non_null(r);
    freeReplyObject(r);
    assert_int_equal(integer(c3, 2, exists), 1);
    assert_int_equal(integer(c0, 2, exists), 0);
    assert_int_equal(integer(c3, 2, del), 1);
    /* An error reply: query, and the connection goes on (rule 2). */
    assert_null(redis_command_by(c3, 2, bogus, in_ms(5000), &e));
    assert_string_equal(e.reason, DBCONN_QUERY);
    assert_true(strncmp(e.msg, "NOSUCHCOMMAND: ERR", 18) == 0);
    r = redis_command_by(c3, 1, ping, in_ms(5000), &(struct dbconn_err) { 0 });
    assert_non_null(r);
    freeReplyObject(r);
    /* No time left: not even sent. */
    memset(&e, 0, sizeof(e));
    assert_null(redis_command_by(c3, 1, ping, dbconn_now_us() - 1, &e));
    assert_string_equal(e.reason, DBCONN_TIMEOUT);
    assert_int_equal(e.deadline, 1);
    assert_string_equal(e.msg, "no time left for PING");
    redisFree(c3);
    redisFree(c0);
    redis_target_clear(&t3);
    redis_target_clear(&t0);
}

static void
test_login_refused(void **state)
{
    struct redis_target t;
    struct dbconn_err e = { 0 };
    redisContext *c;

    (void) state;
    /* The suite's Redis has no password: AUTH is refused, as auth. */
    server_target(&t, 0);
    t.password = strdup("hunter2");
    c = redis_connect_by(&t, in_ms(5000), &e);
    assert_non_null(c);
    assert_int_equal(redis_login_by(c, &t, in_ms(5000), &e), -1);
    assert_string_equal(e.reason, DBCONN_AUTH);
    assert_true(strncmp(e.msg, "AUTH: ", 6) == 0);
    assert_null(strstr(e.msg, "hunter2"));
    redisFree(c);
    redis_target_clear(&t);
    /* A database the server does not have: SELECT is refused, as query. */
    server_target(&t, 100000);
    memset(&e, 0, sizeof(e));
    c = redis_connect_by(&t, in_ms(5000), &e);
    assert_non_null(c);
    assert_int_equal(redis_login_by(c, &t, in_ms(5000), &e), -1);
    assert_string_equal(e.reason, DBCONN_QUERY);
    assert_true(strncmp(e.msg, "SELECT: ", 8) == 0);
    redisFree(c);
    redis_target_clear(&t);
}

static void
test_deadlines(void **state)
{
    const char *ping[] = { "PING" };
    struct redis_target t = { .host = "127.0.0.1" };
    struct dbconn_err e = { 0 };
    redisContext *c;
    int64_t t0;
    int lfd;

    (void) state;
    /* Nothing listens: refused at once, naming where. */
    t.port = test_closed_port();
    t0 = dbconn_now_us();
    assert_null(redis_connect_by(&t, in_ms(5000), &e));
    assert_true(since_ms(t0) < 1000);
    assert_string_equal(e.reason, DBCONN_CONNECT);
    assert_non_null(strstr(e.msg, "Connection refused"));
    assert_true(strncmp(e.msg, "127.0.0.1:", 10) == 0);

    /* A server that accepts and never answers: the command's deadline
     * holds. */
    lfd = test_silent_listener(&t.port);
    memset(&e, 0, sizeof(e));
    c = redis_connect_by(&t, in_ms(5000), &e);
    assert_non_null(c);
    t0 = dbconn_now_us();
    assert_null(redis_command_by(c, 1, ping, in_ms(400), &e));
    assert_in_range(since_ms(t0), 400, 400 + SLACK_MS);
    assert_string_equal(e.reason, DBCONN_TIMEOUT);
    assert_int_equal(e.deadline, 1);
    assert_string_equal(e.msg, "no answer to PING");
    redisFree(c);
    close(lfd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_url_check),
        cmocka_unit_test(test_target_set),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_login_refused),
        cmocka_unit_test(test_deadlines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
