/*
 * test_pg_conn.c - plugins/common/pg_conn.c against the suite's real
 * PostgreSQL, a closed port and a listener that never answers: the
 * conninfo check, connecting and waiting for results by a deadline, and
 * how each failure is classified.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "pg_conn.h"
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

static PGconn *
connect_ok(const char *conninfo, int64_t statement_timeout_ms)
{
    const struct pg_connect_opts o = {
        .conninfo = conninfo,
        .statement_timeout_ms = statement_timeout_ms,
    };
    struct dbconn_err e = { 0 };
    PGconn *conn = pg_connect_by(&o, in_ms(5000), &e);

    if (conn == NULL)
        fail_msg("connect: %s: %s", e.reason, e.msg);
    return conn;
}

/* The first value of sql's result, compared with want. */
static void
assert_value(PGconn *conn, const char *sql, const char *want)
{
    struct dbconn_err e = { 0 };
    PGresult *res = pg_exec_by(conn, sql, in_ms(5000), &e);

    if (res == NULL)
        fail_msg("%s: %s: %s", sql, e.reason, e.msg);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), want);
    PQclear(res);
}

static void
test_conninfo_check(void **state)
{
    static const char *const good[] = {
        "", "host=db port=5432 dbname=orders",
        "postgresql://u:hunter2@db:5432/orders?sslmode=require",
        "postgres://db", "host=/var/run/postgresql",
    };
    static const char *const bad[] = {
        "host=x password hunter2 y", "nosuchkey=hunter2",
        "host='hunter2", "postgresql://[::1:5432/hunter2",
    };
    char err[256];

    (void) state;
    assert_int_equal(pg_conninfo_check(NULL, err, sizeof(err)), 0);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (pg_conninfo_check(good[i], err, sizeof(err)) != 0)
            fail_msg("refused: %s: %s", good[i], err);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (pg_conninfo_check(bad[i], err, sizeof(err)) != -1)
            fail_msg("accepted: %s", bad[i]);
        assert_string_equal(err, "conninfo is not a valid libpq connection "
                            "string or URI");
    }
}

static void
test_connect_and_query(void **state)
{
    char url[640];
    PGconn *conn;

    (void) state;
    conn = connect_ok(test_server("PG_URL"), 1234);
    /* Our defaults reach the session. */
    assert_value(conn, "SELECT current_setting('application_name')",
                 "outpost");
    assert_value(conn, "SHOW statement_timeout", "1234ms");
    /* Several statements: the last one's result. */
    assert_value(conn, "SELECT 1; SELECT 2", "2");
    PQfinish(conn);

    /* The conninfo's own application_name wins; no statement_timeout
     * asked: the server's default (0). */
    snprintf(url, sizeof(url), "%s?application_name=mine",
             test_server("PG_URL"));
    conn = connect_ok(url, 0);
    assert_value(conn, "SELECT current_setting('application_name')", "mine");
    assert_value(conn, "SHOW statement_timeout", "0");
    PQfinish(conn);
}

static void
test_query_failures(void **state)
{
    PGconn *conn = connect_ok(test_server("PG_URL"), 0);
    struct dbconn_err e = { 0 };
    int64_t t0;

    (void) state;
    /* The server refuses the statement: query, with its SQLSTATE. */
    assert_null(pg_exec_by(conn, "SELECT * FROM nowhere", in_ms(5000), &e));
    assert_string_equal(e.reason, DBCONN_QUERY);
    assert_string_equal(e.sqlstate, "42P01");
    assert_non_null(strstr(e.msg, "\"nowhere\" does not exist"));
    assert_null(strchr(e.msg, '\n'));
    /* The first error of several statements, not the last result. */
    memset(&e, 0, sizeof(e));
    assert_null(pg_exec_by(conn, "SELECT 1/0; SELECT 2", in_ms(5000), &e));
    assert_string_equal(e.sqlstate, "22012");
    /* The connection is still usable after a refused statement. */
    assert_value(conn, "SELECT 3", "3");

    /* Our deadline: no answer by then. */
    memset(&e, 0, sizeof(e));
    t0 = dbconn_now_us();
    assert_null(pg_exec_by(conn, "SELECT pg_sleep(5)", in_ms(300), &e));
    assert_in_range(since_ms(t0), 300, 300 + SLACK_MS);
    assert_string_equal(e.reason, DBCONN_TIMEOUT);
    assert_int_equal(e.deadline, 1);
    assert_string_equal(e.msg, "no answer");
    PQfinish(conn);             /* busy with pg_sleep: rule 2 */

    /* The server's statement_timeout: a timeout too, with its SQLSTATE. */
    conn = connect_ok(test_server("PG_URL"), 200);
    memset(&e, 0, sizeof(e));
    assert_null(pg_exec_by(conn, "SELECT pg_sleep(5)", in_ms(5000), &e));
    assert_string_equal(e.reason, DBCONN_TIMEOUT);
    assert_int_equal(e.deadline, 0);
    assert_string_equal(e.sqlstate, PG_SQLSTATE_QUERY_CANCELED);
    PQfinish(conn);
}

static void
test_connect_failures(void **state)
{
    char url[640];
    struct pg_connect_opts o = { .conninfo = url };
    struct dbconn_err e = { 0 };
    int port, lfd;
    int64_t t0;

    (void) state;
    /* Nothing listens: refused at once. */
    snprintf(url, sizeof(url), "postgresql://postgres@127.0.0.1:%d/postgres",
             test_closed_port());
    t0 = dbconn_now_us();
    assert_null(pg_connect_by(&o, in_ms(5000), &e));
    assert_true(since_ms(t0) < 1000);
    assert_string_equal(e.reason, DBCONN_CONNECT);
    assert_non_null(strstr(e.msg, "Connection refused"));
    assert_null(strchr(e.msg, '\n'));

    /* A server that accepts and never answers: the deadline holds
     * (libpq's own connect_timeout would wait 2 s at least). */
    lfd = test_silent_listener(&port);
    snprintf(url, sizeof(url), "postgresql://postgres@127.0.0.1:%d/postgres",
             port);
    memset(&e, 0, sizeof(e));
    t0 = dbconn_now_us();
    assert_null(pg_connect_by(&o, in_ms(400), &e));
    assert_in_range(since_ms(t0), 400, 400 + SLACK_MS);
    assert_string_equal(e.reason, DBCONN_TIMEOUT);
    assert_int_equal(e.deadline, 1);
    assert_string_equal(e.msg, "no connection");
    close(lfd);

    /* The server refuses the session: auth. */
    snprintf(url, sizeof(url), "postgresql://postgres@127.0.0.1:%s/nope",
             test_server("PG_PORT"));
    memset(&e, 0, sizeof(e));
    assert_null(pg_connect_by(&o, in_ms(5000), &e));
    assert_string_equal(e.reason, DBCONN_AUTH);
    assert_non_null(strstr(e.msg, "database \"nope\" does not exist"));
    snprintf(url, sizeof(url), "postgresql://intruder@127.0.0.1:%s/postgres",
             test_server("PG_PORT"));
    memset(&e, 0, sizeof(e));
    assert_null(pg_connect_by(&o, in_ms(5000), &e));
    assert_string_equal(e.reason, DBCONN_AUTH);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conninfo_check),
        cmocka_unit_test(test_connect_and_query),
        cmocka_unit_test(test_query_failures),
        cmocka_unit_test(test_connect_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
