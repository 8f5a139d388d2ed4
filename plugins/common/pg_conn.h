/*
 * pg_conn.h - PostgreSQL connections by deadline, on libpq: the conninfo
 * check the config runs, an asynchronous connect, and waiting for a
 * statement's results, each ending by the caller's deadline. Shared by
 * the `databases` input and the `postgres` output.
 *
 * libpq's own limits (connect_timeout counts whole seconds, at least 2)
 * are too coarse for an instance's timeout, so every step uses libpq's
 * asynchronous calls and waits on the socket with poll() until the
 * deadline (dbconn.h).
 *
 * Rules:
 *   1. A PGconn is used by one thread at a time (libpq's rule).
 *   2. After a failure the connection may still be busy with the
 *      statement (a timeout) or broken: the caller PQfinish()es it, or
 *      checks PQstatus() and PQtransactionStatus() before reusing it.
 *   3. Messages never quote the conninfo (dbconn.h, rule 3).
 */
#ifndef OUTPOST_PG_CONN_H
#define OUTPOST_PG_CONN_H

#include <libpq-fe.h>
#include "dbconn.h"

/* The SQLSTATE of a statement the server's statement_timeout stopped. */
#define PG_SQLSTATE_QUERY_CANCELED "57014"

/* For validate (outpostd -t) and init: 0 when conninfo is a libpq
 * connection string or URI, else -1 and why in err. "" passes: an empty
 * secret is "credentials missing" at run time, not a config error. */
int pg_conninfo_check(const char *conninfo, char *err, size_t errlen);

struct pg_connect_opts {
    const char *conninfo;             /* connection string or URI */
    /* Defaults that the conninfo may override. */
    const char *application_name;     /* NULL: "outpost" */
    int64_t     statement_timeout_ms; /* sent in the startup packet, so
                                         the server stops a statement we
                                         have given up on; 0: the
                                         server's own */
};

/* Connects by deadline_us. The connection, or NULL and why in e:
 * timeout (deadline set: "no connection"), auth (the server refused the
 * session: password, role, database, pg_hba.conf) or connect. */
PGconn *pg_connect_by(const struct pg_connect_opts *o, int64_t deadline_us,
                      struct dbconn_err *e);

/* Waits for the results of what the caller sent (PQsendQuery,
 * PQsendQueryParams...) and returns one: the first error if a statement
 * failed, else the last result. Owned by the caller (PQclear). NULL and
 * why in e: timeout (deadline set: "no answer"; or the server's
 * statement timeout, with e->sqlstate), query (the server refused the
 * statement: e->sqlstate says why), connect (the connection broke) or
 * protocol. */
PGresult *pg_result_by(PGconn *conn, int64_t deadline_us,
                       struct dbconn_err *e);

/* e filled from a PGRES_FATAL_ERROR result, as pg_result_by() does. */
void pg_fail_result(const PGresult *res, struct dbconn_err *e);

/* PQsendQuery(sql) then pg_result_by(). */
PGresult *pg_exec_by(PGconn *conn, const char *sql, int64_t deadline_us,
                     struct dbconn_err *e);

#endif /* OUTPOST_PG_CONN_H */
