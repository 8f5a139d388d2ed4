/*
 * postgres.c - the `postgres` provider of the databases input, on libpq.
 *
 * A probe connects (a new connection every run: connecting is part of
 * what a health check measures), times `SELECT 1`, reads the server
 * version, whether the server is a replica and how far behind it is, and
 * runs the operator's optional query, comparing its value with `expect`.
 *
 * Every step ends by the probe's deadline through the shared helpers
 * (plugins/common/pg_conn.h: libpq's asynchronous calls and poll()).
 * statement_timeout is sent as well, so that the server stops a query we
 * have given up on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include "databases.h"
#include "pg_conn.h"

/* One round trip for the replication state. On a replica, lag is 0 while
 * it has replayed everything it received (an idle primary sends nothing,
 * and the age of the last replayed transaction would grow forever; a
 * replica fresh from a base backup replays WAL it did not stream, so
 * replay runs ahead of receive), otherwise the age of the last replayed
 * transaction (unknown, left out, before the first one). */
static const char pg_status_sql[] =
    "SELECT pg_is_in_recovery(),"
    " CASE WHEN NOT pg_is_in_recovery() THEN NULL"
    "      WHEN pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0"
    "      ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
    " END";

/* For validate (outpostd -t) and init: what only the config can fix.
 * libpq's message may quote the string, which may hold a password, so it
 * is not passed on. */
int
pg_conf_check(const struct db_conf *conf, char *err, size_t errlen)
{
    if (conf->expect != NULL && conf->query == NULL) {
        snprintf(err, errlen, "expect needs a query whose value it checks");
        return -1;
    }
    /* Empty is checked at run time (credentials missing). */
    return pg_conninfo_check(conf->conninfo, err, errlen);
}

static int
pg_init(outpost_instance_t *inst, const struct db_conf *conf, void **state)
{
    /* conninfo is there and well formed: the core ran db_validate and
     * db_validate_provider when it read the config. */
    (void) inst;
    (void) conf;
    *state = NULL;
    return 0;
}

static PGconn *
pg_connect(const struct db_conf *conf, struct db_probe *p)
{
    const struct pg_connect_opts opts = {
        .conninfo = conf->conninfo,
        .application_name = "outpost",
        .statement_timeout_ms = db_remaining_ms(p),
    };
    struct dbconn_err e = { 0 };
    PGconn *conn = pg_connect_by(&opts, p->deadline_us, &e);

    if (conn == NULL)
        db_fail_err(p, &e);
    return conn;
}

/* Runs sql and returns its result (pg_exec_by), or NULL after db_fail().
 * what names the step in a timeout's error. */
static PGresult *
pg_exec(PGconn *conn, const char *sql, const char *what, struct db_probe *p)
{
    struct dbconn_err e = { 0 };
    PGresult *res = pg_exec_by(conn, sql, p->deadline_us, &e);

    if (res == NULL) {
        if (e.deadline)
            snprintf(e.msg, sizeof(e.msg), "no answer to %s", what);
        db_fail_err(p, &e);
    }
    return res;
}

/* SELECT 1: the round trip of the smallest query, like Redis's PING. */
static int
pg_ping(PGconn *conn, struct db_probe *p)
{
    int64_t t0 = db_now_us();
    PGresult *res = pg_exec(conn, "SELECT 1", "SELECT 1", p);
    int ok;

    if (res == NULL)
        return -1;
    db_step(p, "ping_ms", t0);
    ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
         && strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    if (!ok)
        db_fail(p, "protocol", "unexpected answer to SELECT 1");
    return ok ? 0 : -1;
}

static int
pg_replication(PGconn *conn, struct db_probe *p)
{
    PGresult *res = pg_exec(conn, pg_status_sql, "the replication query", p);
    int ok;

    if (res == NULL)
        return -1;
    ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (ok) {
        outpost_record_add_bool(p->rec, "in_recovery",
                                strcmp(PQgetvalue(res, 0, 0), "t") == 0);
        if (!PQgetisnull(res, 0, 1))
            outpost_record_add_float(p->rec, "replication_lag_s",
                                     strtod(PQgetvalue(res, 0, 1), NULL));
    }
    PQclear(res);
    if (!ok)
        db_fail(p, "protocol", "unexpected answer to the replication query");
    return ok ? 0 : -1;
}

/* The operator's query; its value is the first column of the first row. */
static void
pg_user_query(PGconn *conn, const struct db_conf *conf, struct db_probe *p)
{
    int64_t t0 = db_now_us();
    PGresult *res = pg_exec(conn, conf->query, "the query", p);
    const char *value;

    if (res == NULL)
        return;
    db_step(p, "query_ms", t0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        outpost_record_add_int(p->rec, "query_rows", PQntuples(res));
    if (conf->expect != NULL) {
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1
            || PQnfields(res) < 1)
            db_fail(p, "query", "no rows, expected \"%s\"", conf->expect);
        else if (PQgetisnull(res, 0, 0))
            db_fail(p, "query", "got NULL, expected \"%s\"", conf->expect);
        else if (strcmp(value = PQgetvalue(res, 0, 0), conf->expect) != 0)
            db_fail(p, "query", "got \"%.200s\", expected \"%s\"", value,
                    conf->expect);
    }
    PQclear(res);
}

static void
pg_probe(void *state, const struct db_conf *conf, struct db_probe *p)
{
    int64_t t0 = db_now_us();
    const char *version;
    PGconn *conn;

    (void) state;
    if (conf->conninfo == NULL || conf->conninfo[0] == '\0') {
        db_credentials_missing(p, "conninfo is empty");
        return;
    }
    if ((conn = pg_connect(conf, p)) == NULL)
        return;
    db_step(p, OUTPOST_F_CONNECT_MS, t0);
    if ((version = PQparameterStatus(conn, "server_version")) != NULL)
        outpost_record_add_str(p->rec, "server_version", version);
    outpost_record_add_int(p->rec, "server_version_num",
                           PQserverVersion(conn));
    if (pg_ping(conn, p) == 0 && pg_replication(conn, p) == 0
        && conf->query != NULL)
        pg_user_query(conn, conf, p);
    PQfinish(conn);
}

static void
pg_shutdown(void *state)
{
    (void) state;
}

const struct db_provider db_postgres = {
    .name = "postgres",
    .init = pg_init,
    .probe = pg_probe,
    .shutdown = pg_shutdown,
};
