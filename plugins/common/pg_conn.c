/*
 * pg_conn.c - PostgreSQL connections by deadline (pg_conn.h).
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include "pg_conn.h"

int
pg_conninfo_check(const char *conninfo, char *err, size_t errlen)
{
    PQconninfoOption *opts;
    char *msg = NULL;

    if (conninfo == NULL || conninfo[0] == '\0')
        return 0;
    /* libpq's message may quote the string: it is not passed on. */
    if ((opts = PQconninfoParse(conninfo, &msg)) == NULL) {
        PQfreemem(msg);
        snprintf(err, errlen, "conninfo is not a valid libpq connection "
                 "string or URI");
        return -1;
    }
    PQconninfoFree(opts);
    return 0;
}

/* libpq's message, first line only (the rest is a hint), no newline. */
static void
fail_with(struct dbconn_err *e, const char *reason, const char *msg)
{
    char line[sizeof(e->msg)];

    snprintf(line, sizeof(line), "%s", msg && msg[0] ? msg : "unknown error");
    line[strcspn(line, "\r\n")] = '\0';
    dbconn_fail(e, reason, "%s", line);
}

/* The server refused the session (as opposed to not being reachable):
 * a wrong password, an unknown role or database, no pg_hba.conf entry. */
static int
refused(const char *msg)
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
connect_failed(PGconn *conn, struct dbconn_err *e)
{
    const char *msg = PQerrorMessage(conn);

    if (strstr(msg, "timeout expired") != NULL)
        fail_with(e, DBCONN_TIMEOUT, msg);
    else
        fail_with(e, refused(msg) ? DBCONN_AUTH : DBCONN_CONNECT, msg);
}

PGconn *
pg_connect_by(const struct pg_connect_opts *o, int64_t deadline_us,
              struct dbconn_err *e)
{
    /* Entries before dbname can be overridden by the conninfo (expanded
     * in its place); the connect timeout after it cannot. */
    const char *keys[] = { "application_name", "options", "dbname",
                           "connect_timeout", NULL };
    char options[64] = "", connect_timeout[24];
    const char *values[] = {
        o->application_name ? o->application_name : "outpost", options,
        o->conninfo, connect_timeout, NULL
    };
    int64_t ms = dbconn_left_ms(deadline_us);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    PGconn *conn;

    if (o->statement_timeout_ms > 0)
        snprintf(options, sizeof(options), "-c statement_timeout=%lld",
                 (long long) o->statement_timeout_ms);
    /* A backstop only: poll() below ends the wait. libpq's minimum is 2. */
    snprintf(connect_timeout, sizeof(connect_timeout), "%lld",
             (long long) (ms / 1000 + 2));
    if ((conn = PQconnectStartParams(keys, values, 1)) == NULL) {
        dbconn_fail(e, DBCONN_CONNECT, "out of memory");
        return NULL;
    }
    while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK
           && st != PGRES_POLLING_FAILED) {
        int rc = dbconn_wait_fd(PQsocket(conn),
                                st == PGRES_POLLING_READING ? POLLIN
                                                            : POLLOUT,
                                deadline_us);
        if (rc <= 0) {
            if (rc == 0)
                dbconn_fail_deadline(e, "no connection");
            else
                dbconn_fail(e, DBCONN_CONNECT, "cannot wait on the socket");
            PQfinish(conn);
            return NULL;
        }
        st = PQconnectPoll(conn);
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        connect_failed(conn, e);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

static void
lost(PGconn *conn, struct dbconn_err *e)
{
    fail_with(e, PQstatus(conn) == CONNECTION_BAD ? DBCONN_CONNECT
                                                  : DBCONN_PROTOCOL,
              PQerrorMessage(conn));
}

PGresult *
pg_result_by(PGconn *conn, int64_t deadline_us, struct dbconn_err *e)
{
    PGresult *keep = NULL, *res;

    for (;;) {
        while (PQisBusy(conn)) {
            int rc = dbconn_wait_fd(PQsocket(conn), POLLIN, deadline_us);
            if (rc == 0) {
                PQclear(keep);
                dbconn_fail_deadline(e, "no answer");
                return NULL;
            }
            if (rc < 0 || !PQconsumeInput(conn)) {
                PQclear(keep);
                lost(conn, e);
                return NULL;
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
    if (keep == NULL) {
        lost(conn, e);
        return NULL;
    }
    if (PQresultStatus(keep) != PGRES_FATAL_ERROR)
        return keep;
    pg_fail_result(keep, e);
    PQclear(keep);
    return NULL;
}

void
pg_fail_result(const PGresult *res, struct dbconn_err *e)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *text = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    if (e->reason == NULL)
        snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", state ? state : "");
    fail_with(e, state && strcmp(state, PG_SQLSTATE_QUERY_CANCELED) == 0
                 ? DBCONN_TIMEOUT : DBCONN_QUERY,
              text ? text : PQresultErrorMessage(res));
}

PGresult *
pg_exec_by(PGconn *conn, const char *sql, int64_t deadline_us,
           struct dbconn_err *e)
{
    if (!PQsendQuery(conn, sql)) {
        lost(conn, e);
        return NULL;
    }
    return pg_result_by(conn, deadline_us, e);
}
