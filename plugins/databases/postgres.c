/*
 * postgres.c - the `postgres` provider of the databases input, on libpq.
 *
 * A probe connects (a new connection every run: connecting is part of
 * what a health check measures), times `SELECT 1`, reads the server
 * version, whether the server is a replica and how far behind it is, and
 * runs the operator's optional query, comparing its value with `expect`.
 *
 * libpq's own limits (connect_timeout counts whole seconds, at least 2)
 * are too coarse for the instance timeout, so every step uses libpq's
 * asynchronous calls and waits on the socket with poll() until the
 * probe's deadline. statement_timeout is sent as well, so that the server
 * stops a query we have given up on.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "databases.h"

/* One round trip for the replication state. On a replica, lag is 0 while
 * it has replayed everything it received (an idle primary sends nothing,
 * and the age of the last replayed transaction would grow forever),
 * otherwise the age of the last replayed transaction. */
static const char pg_status_sql[] =
    "SELECT pg_is_in_recovery(),"
    " CASE WHEN NOT pg_is_in_recovery() THEN NULL"
    "      WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    "      ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
    " END";

#define SQLSTATE_QUERY_CANCELED "57014"   /* statement_timeout fired */

/* For validate (outpostd -t) and init: what only the config can fix.
 * libpq's message may quote the string, which may hold a password, so it
 * is not passed on. */
int
pg_conf_check(const struct db_conf *conf, char *err, size_t errlen)
{
    PQconninfoOption *opts;
    char *msg = NULL;

    if (conf->expect != NULL && conf->query == NULL) {
        snprintf(err, errlen, "expect needs a query whose value it checks");
        return -1;
    }
    /* Empty is checked at run time (credentials missing). */
    if (conf->conninfo && conf->conninfo[0] != '\0') {
        if ((opts = PQconninfoParse(conf->conninfo, &msg)) == NULL) {
            PQfreemem(msg);
            snprintf(err, errlen, "conninfo is not a valid libpq connection "
                     "string or URI");
            return -1;
        }
        PQconninfoFree(opts);
    }
    return 0;
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

/* libpq's message, first line only (the rest is a hint), no newline. */
static void
pg_message(const char *msg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", msg && msg[0] ? msg : "unknown error");
    buf[strcspn(buf, "\r\n")] = '\0';
}

static int
pg_wait(PGconn *conn, short events, const struct db_probe *p)
{
    return db_wait_fd(PQsocket(conn), events, p);
}

/* The server refused the session (as opposed to not being reachable):
 * a wrong password, an unknown role or database, no pg_hba.conf entry. */
static int
pg_refused(const char *msg)
{
    static const char *const words[] = {
        "authentication", "password", "pg_hba.conf", "role \"",
        "does not exist", "permission denied", "not permitted"
    };

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(msg, words[i]) != NULL)
            return 1;
    return 0;
}

static void
pg_connect_failed(PGconn *conn, struct db_probe *p)
{
    char msg[400];

    pg_message(PQerrorMessage(conn), msg, sizeof(msg));
    if (strstr(msg, "timeout expired") != NULL)
        db_fail(p, "timeout", "%s", msg);
    else
        db_fail(p, pg_refused(msg) ? "auth" : "connect", "%s", msg);
}

static PGconn *
pg_connect(const struct db_conf *conf, struct db_probe *p)
{
    /* Array entries before dbname can be overridden by the conninfo
     * (an operator's own options or application_name win); the connect
     * timeout after it cannot. */
    const char *keys[] = { "application_name", "options", "dbname",
                           "connect_timeout", NULL };
    char timeout_opt[64], connect_timeout[24];
    const char *values[] = { "outpost", timeout_opt, conf->conninfo,
                             connect_timeout, NULL };
    int64_t ms = db_remaining_ms(p);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    PGconn *conn;

    snprintf(timeout_opt, sizeof(timeout_opt), "-c statement_timeout=%lld",
             (long long) ms);
    snprintf(connect_timeout, sizeof(connect_timeout), "%lld",
             (long long) (ms / 1000 + 2));      /* libpq's minimum is 2 */
    if ((conn = PQconnectStartParams(keys, values, 1)) == NULL) {
        db_fail(p, "connect", "out of memory");
        return NULL;
    }
    while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK
           && st != PGRES_POLLING_FAILED) {
        int rc = pg_wait(conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                         p);
        if (rc <= 0) {
            if (rc == 0)
                db_fail(p, "timeout", "no connection after %lld ms",
                        (long long) ((db_now_us() - p->start_us) / 1000));
            else
                db_fail(p, "connect", "cannot wait on the socket");
            PQfinish(conn);
            return NULL;
        }
        st = PQconnectPoll(conn);
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        pg_connect_failed(conn, p);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* Runs sql and returns its result: the first error if a statement failed,
 * else the last statement's result. NULL after db_fail(). what names the
 * step in a timeout's error. */
static PGresult *
pg_exec(PGconn *conn, const char *sql, const char *what, struct db_probe *p)
{
    PGresult *keep = NULL, *res;
    char msg[400];

    if (!PQsendQuery(conn, sql))
        goto lost;
    for (;;) {
        while (PQisBusy(conn)) {
            int rc = pg_wait(conn, POLLIN, p);
            if (rc == 0) {
                PQclear(keep);
                db_fail(p, "timeout", "no answer to %s after %lld ms",
                        what,
                        (long long) ((db_now_us() - p->start_us) / 1000));
                return NULL;
            }
            if (rc < 0 || !PQconsumeInput(conn)) {
                PQclear(keep);
                goto lost;
            }
        }
        if ((res = PQgetResult(conn)) == NULL)
            break;
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR)
            PQclear(res);
        else {
            PQclear(keep);
            keep = res;
        }
    }
    if (keep == NULL)
        goto lost;
    if (PQresultStatus(keep) == PGRES_FATAL_ERROR) {
        const char *state = PQresultErrorField(keep, PG_DIAG_SQLSTATE);
        const char *text = PQresultErrorField(keep,
                                              PG_DIAG_MESSAGE_PRIMARY);

        pg_message(text ? text : PQresultErrorMessage(keep), msg,
                   sizeof(msg));
        db_fail(p, state && strcmp(state, SQLSTATE_QUERY_CANCELED) == 0
                   ? "timeout" : "query", "%s", msg);
        PQclear(keep);
        return NULL;
    }
    return keep;
lost:
    pg_message(PQerrorMessage(conn), msg, sizeof(msg));
    db_fail(p, PQstatus(conn) == CONNECTION_BAD ? "connect" : "protocol",
            "%s", msg);
    return NULL;
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
    db_step(p, "connect_ms", t0);
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
