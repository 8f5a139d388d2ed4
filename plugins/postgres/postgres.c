/*
 * postgres.c - the `postgres` output: every check into
 * integration_health_log (partitioned by day), the current state of each
 * integration into integration_health, alerts into integration_alerts
 * (schema.c has the tables).
 *
 * A batch is one transaction. First the fast path:
 *
 *   BEGIN
 *   COPY integration_health_log FROM STDIN  the batch's measurements
 *   COPY outpost_stage FROM STDIN           the latest of each integration
 *   INSERT INTO integration_health ... SELECT ... FROM outpost_stage
 *       ON CONFLICT (integration) DO UPDATE ... WHERE newer
 *   INSERT INTO integration_alerts ... ON CONFLICT DO UPDATE   per event
 *   COMMIT
 *
 * With `writers` > 1 (not the default: the batch is then several
 * transactions) and a batch large enough, the log's rows are cut in
 * that many slices at row ends: each other writer's connection gets
 * the COPY of its slice first (a transaction of its own, sent whole, not
 * waited for), the first connection then does the above with slice 0,
 * and the others' answers are read after its COMMIT. The server COPYs
 * the slices at once, one backend each:
 * on its own a backend spends most of a batch's time parsing rows and
 * filling the primary key, and the other cores wait. A batch is then
 * several transactions; one that fails makes the write a retry, and the
 * batch written again meets the slices already in like any resent batch
 * (below).
 *
 * The log's primary key (integration, ts, name) is what a measurement is
 * (outpost/plugin.h: unique by integration, name and time). When the
 * answer to a COMMIT was lost and the core writes the batch again, the
 * COPY meets rows already there (23505) and the batch takes the merge
 * path instead, where every row goes through the stage:
 *
 *   COPY outpost_stage FROM STDIN           the whole batch
 *   INSERT INTO integration_health_log ... SELECT ... FROM outpost_stage
 *       ON CONFLICT DO NOTHING              the rows already in are skipped
 *   (the same upserts)
 *
 * so a resent batch adds nothing, and the common case pays for one COPY
 * (the merge path costs about twice the server's time per row). Alert
 * upserts only move forward (encode.c), so they are safe to repeat.
 * outpost_stage is a temporary table (ON COMMIT DELETE ROWS) made on each
 * connection.
 *
 * What the server says decides what happens (its SQLSTATE):
 *   class 22 (a bad value) or 23 (a constraint): a resent batch (above)
 *     or a record at fault. If the merge path fails the same way, the
 *     batch is written again inside one transaction, bisected with
 *     savepoints: halves that go in stay, a half refused is split, and a
 *     single record refused is dead-lettered (outpost_batch_reject) with
 *     the server's reason. The rest of the batch goes in.
 *   23514 "no partition": a partition vanished (retention by another
 *     agent): forget the partitions we knew, make them again, once.
 *   40001, 40P01 (serialization, deadlock), 57014 (statement timeout) and
 *     others: RETRY on the same connection.
 *   08xxx, 57P01-57P03 (admin shutdown, crash, cannot connect now), 53xxx,
 *     58xxx, a broken socket or our own deadline: the connection is
 *     dropped, the batch retried, and the next write connects again.
 *
 * Every step ends by a deadline a little inside the output's `timeout`
 * (pg_conn.h), and the server's statement_timeout is that timeout, so a
 * statement we gave up on does not run on. Everything runs on the
 * output's own thread (output rule 8).
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pgout.h"

#define OFF(f) offsetof(struct pgout_conf, f)
#define DAY_MS 86400000.0

static const outpost_option_t pgout_options[] = {
    { .name = "conninfo", .type = OUTPOST_OPT_SECRET, .offset = OFF(conninfo),
      .def = "postgresql:///outpost",
      .help = "libpq connection string or URI (a secret: conninfo_env or "
              "conninfo_file); the default is the local server's socket, "
              "database outpost" },
    { .name = "retention", .type = OUTPOST_OPT_DURATION,
      .offset = OFF(retention_ms), .def = "90d", .min = DAY_MS,
      .max = 36500 * DAY_MS,
      .help = "checks and resolved alerts older than this are deleted "
              "(whole day partitions of the log)" },
    { .name = "partitions_ahead", .type = OUTPOST_OPT_INT,
      .offset = OFF(partitions_ahead), .def = "3", .min = 1, .max = 60,
      .help = "days of log partitions made ahead of today" },
    { .name = "connect_timeout", .type = OUTPOST_OPT_DURATION,
      .offset = OFF(connect_timeout_ms), .def = "5s", .min = 100,
      .max = 600000, .help = "longest wait for a connection" },
    { .name = "application_name", .type = OUTPOST_OPT_STRING,
      .offset = OFF(application_name), .def = "outpost",
      .help = "application_name of the session (pg_stat_activity)" },
    { .name = "writers", .type = OUTPOST_OPT_INT, .offset = OFF(writers),
      .def = "1", .min = 1, .max = PGOUT_MAX_WRITERS,
      .help = "connections a large batch's checks are split over, COPYing "
              "at once (the server's work on several cores)" },
    OUTPOST_OPTION_END
};

/* COPY in large batches: a round trip per 5,000 rows, not per row. */
static const outpost_default_t pgout_defaults[] = {
    { "batch_size", "5000" },
    { "flush_interval", "1s" },
    { "timeout", "30s" },
    { "tick_interval", "10m" },
    OUTPOST_DEFAULT_END
};

static const char STAGE_SQL[] =
    "CREATE TEMP TABLE IF NOT EXISTS outpost_stage ("
    " ts_us bigint, integration text, name text, category text,"
    " provider text, status text, success boolean, status_code bigint,"
    " response_ms float8, dns_ms float8, connect_ms float8, tls_ms float8,"
    " ttfb_ms float8, transfer_ms float8, health_score float8,"
    " consecutive_failures bigint, circuit text, failover_group text,"
    " failover_active text, success_rate_24h float8, uptime_30d float8,"
    " error text, tags jsonb) ON COMMIT DELETE ROWS";

static const char COPY_SQL[] =
    "COPY outpost_stage (" PGOUT_STAGE_COLUMNS ") FROM STDIN";

#define TS_OF_US "timestamptz 'epoch' + ts_us * interval '1 microsecond'"

#define LOG_MERGE_SQL \
    "INSERT INTO integration_health_log (ts, integration, name, category," \
    " provider, status, success, status_code, response_ms, dns_ms," \
    " connect_ms, tls_ms, ttfb_ms, transfer_ms, health_score, error, tags)" \
    " SELECT " TS_OF_US ", integration, name, category, provider, status," \
    " success, status_code::integer, response_ms, dns_ms, connect_ms," \
    " tls_ms, ttfb_ms, transfer_ms, health_score, error, tags" \
    " FROM outpost_stage ON CONFLICT DO NOTHING;"

#define HEALTH_SQL \
    "INSERT INTO integration_health AS h (integration, category, provider," \
    " status, health_score, last_check_at, success, response_ms," \
    " success_rate_24h, uptime_30d, consecutive_failures, circuit," \
    " failover_group, failover_active, last_error, last_error_at," \
    " updated_at)" \
    " SELECT DISTINCT ON (integration) integration, category, provider," \
    " coalesce(status, CASE success WHEN true THEN 'healthy'" \
    "  WHEN false THEN 'down' ELSE 'unknown' END)," \
    " health_score, " TS_OF_US ", success, response_ms, success_rate_24h," \
    " uptime_30d, consecutive_failures::integer, circuit, failover_group," \
    " failover_active, CASE WHEN success IS NOT TRUE THEN error END," \
    " CASE WHEN success IS NOT TRUE AND error IS NOT NULL THEN " \
    TS_OF_US " END, now()" \
    " FROM outpost_stage ORDER BY integration, ts_us DESC" \
    " ON CONFLICT (integration) DO UPDATE SET" \
    " category = coalesce(EXCLUDED.category, h.category)," \
    " provider = coalesce(EXCLUDED.provider, h.provider)," \
    " status = EXCLUDED.status," \
    " health_score = coalesce(EXCLUDED.health_score, h.health_score)," \
    " last_check_at = EXCLUDED.last_check_at," \
    " success = EXCLUDED.success," \
    " response_ms = EXCLUDED.response_ms," \
    " success_rate_24h = coalesce(EXCLUDED.success_rate_24h," \
    "  h.success_rate_24h)," \
    " uptime_30d = coalesce(EXCLUDED.uptime_30d, h.uptime_30d)," \
    " consecutive_failures = coalesce(EXCLUDED.consecutive_failures," \
    "  h.consecutive_failures)," \
    " circuit = coalesce(EXCLUDED.circuit, h.circuit)," \
    " failover_group = coalesce(EXCLUDED.failover_group, h.failover_group)," \
    " failover_active = coalesce(EXCLUDED.failover_active," \
    "  h.failover_active)," \
    " last_error = coalesce(EXCLUDED.last_error, h.last_error)," \
    " last_error_at = coalesce(EXCLUDED.last_error_at, h.last_error_at)," \
    " updated_at = now()" \
    " WHERE h.last_check_at IS NULL" \
    " OR h.last_check_at <= EXCLUDED.last_check_at"

/* The merge path: every row through the stage. */
static const char APPLY_SQL[] = LOG_MERGE_SQL HEALTH_SQL;

/* The fast path: rows straight into the log, the latest of each
 * integration through the stage into the current state, all of it sent
 * as one query string: the server asks for the data of each COPY in turn
 * and runs the rest without waiting for us, so a batch waits on two
 * answers, not seven. FAST_OPEN_SQL leaves the transaction open for the
 * alert upserts. */
static const char COPY_LOG_SQL[] =
    "COPY integration_health_log (" PGOUT_LOG_COLUMNS ") FROM STDIN";
#define FAST_SQL_ "BEGIN; " \
    "COPY integration_health_log (" PGOUT_LOG_COLUMNS ") FROM STDIN; " \
    "COPY outpost_stage (" PGOUT_STAGE_COLUMNS ") FROM STDIN; " HEALTH_SQL
static const char FAST_SQL[] = FAST_SQL_ "; COMMIT";
static const char FAST_OPEN_SQL[] = FAST_SQL_;

/* What a failure means for the batch and the connection. */
enum verdict {
    V_DATA,         /* a record is at fault: bisect */
    V_PARTITION,    /* a partition is missing: make it, try again */
    V_RETRY,        /* try the batch again later, same connection */
    V_DROP          /* the connection is gone or unusable */
};

static enum verdict
classify(const struct dbconn_err *e)
{
    const char *s = e->sqlstate;

    if (e->reason == NULL || strcmp(e->reason, DBCONN_QUERY) != 0) {
        /* The server's statement timeout leaves the session usable;
         * everything else (our deadline, a broken socket) does not. */
        return e->reason && strcmp(e->reason, DBCONN_TIMEOUT) == 0
               && !e->deadline ? V_RETRY : V_DROP;
    }
    if (s[0] == '\0')
        return V_RETRY;
    if (strcmp(s, "23514") == 0 && strstr(e->msg, "no partition") != NULL)
        return V_PARTITION;
    if (strncmp(s, "22", 2) == 0 || strncmp(s, "23", 2) == 0)
        return V_DATA;
    if (strncmp(s, "08", 2) == 0 || strncmp(s, "57P", 3) == 0
        || strncmp(s, "53", 2) == 0 || strncmp(s, "58", 2) == 0
        || strncmp(s, "XX", 2) == 0)
        return V_DROP;
    return V_RETRY;     /* 40001, 40P01, 55P03, 42xxx... */
}

static void
drop_extra(struct pgout *st, size_t k)
{
    if (st->extra[k])
        PQfinish(st->extra[k]);
    st->extra[k] = NULL;
}

/* The server went away or refused: every connection goes (the others'
 * state is no better known). */
static void
drop_conn(struct pgout *st)
{
    if (st->conn)
        PQfinish(st->conn);
    st->conn = NULL;
    st->schema_ok = 0;
    pgout_days_forget(st);
    for (size_t k = 0; k < PGOUT_MAX_WRITERS - 1; k++)
        drop_extra(st, k);
}

/* Logs a failure once: the same text again within a minute is a debug
 * line (the core logs the outage and its end itself). Never the
 * conninfo: e->msg is the server's or libpq's word (pg_conn.h rule 3). */
static void
report(struct pgout *st, const char *op, const struct dbconn_err *e,
       int64_t waited_ms)
{
    char text[sizeof(st->last_err)];
    int64_t now = outpost_time_now();
    int same;

    if (e->deadline)
        snprintf(text, sizeof(text), "postgres \"%s\": %s: %s after %" PRId64
                 " ms", st->name, e->reason, e->msg, waited_ms);
    else if (e->sqlstate[0])
        snprintf(text, sizeof(text), "postgres \"%s\": %s: %s (SQLSTATE %s)",
                 st->name, e->reason ? e->reason : "error", e->msg,
                 e->sqlstate);
    else
        snprintf(text, sizeof(text), "postgres \"%s\": %s: %s", st->name,
                 e->reason ? e->reason : "error", e->msg);
    same = strcmp(text, st->last_err) == 0
           && now - st->last_err_ns < 60000000000LL;
    outpost_log(st->inst, same ? OUTPOST_LOG_DEBUG : OUTPOST_LOG_ERROR, op,
                "%s; records stay queued", text);
    if (!same) {
        snprintf(st->last_err, sizeof(st->last_err), "%s", text);
        st->last_err_ns = now;
    }
}

/* Sends what libpq holds for the server (the connection is
 * non-blocking), reading meanwhile so the server never waits on us. */
static int
flush_by(PGconn *conn, int64_t deadline_us, struct dbconn_err *e)
{
    int rc;

    while ((rc = PQflush(conn)) == 1) {
        int w = dbconn_wait_fd(PQsocket(conn), POLLOUT | POLLIN,
                               deadline_us);
        if (w == 0) {
            dbconn_fail_deadline(e, "the server did not take the data");
            return -1;
        }
        if (w < 0 || !PQconsumeInput(conn))
            break;
    }
    if (rc != 0) {
        dbconn_fail(e, DBCONN_CONNECT, "%.200s", PQerrorMessage(conn));
        e->msg[strcspn(e->msg, "\r\n")] = '\0';
        return -1;
    }
    return 0;
}

static PGresult *
conn_query(PGconn *c, const char *sql, int64_t deadline_us,
           struct dbconn_err *e)
{
    if (!PQsendQuery(c, sql)) {
        dbconn_fail(e, DBCONN_CONNECT, "the connection broke");
        return NULL;
    }
    if (flush_by(c, deadline_us, e) != 0)
        return NULL;
    return pg_result_by(c, deadline_us, e);
}

PGresult *
pgout_query(struct pgout *st, const char *sql, int64_t deadline_us,
            struct dbconn_err *e)
{
    return conn_query(st->conn, sql, deadline_us, e);
}

PGresult *
pgout_query_params(struct pgout *st, const char *sql, int n,
                   const char *const *values, int64_t deadline_us,
                   struct dbconn_err *e)
{
    if (!PQsendQueryParams(st->conn, sql, n, NULL, values, NULL, NULL, 0)) {
        dbconn_fail(e, DBCONN_CONNECT, "the connection broke");
        return NULL;
    }
    if (flush_by(st->conn, deadline_us, e) != 0)
        return NULL;
    return pg_result_by(st->conn, deadline_us, e);
}

int
pgout_exec(struct pgout *st, const char *sql, int64_t deadline_us,
           struct dbconn_err *e)
{
    PGresult *res = pgout_query(st, sql, deadline_us, e);

    PQclear(res);
    return res ? 0 : -1;
}

/* The data of a COPY FROM STDIN that has started, and its end. */
static int
copy_data(PGconn *c, const char *rows, size_t len, int64_t deadline_us,
          struct dbconn_err *e)
{
    int rc;

    for (size_t off = 0; off < len;) {
        size_t n = len - off < 262144 ? len - off : 262144;

        rc = PQputCopyData(c, rows + off, (int) n);
        if (rc == 1) {
            off += n;
            continue;
        }
        if (rc < 0 || flush_by(c, deadline_us, e) != 0) {
            dbconn_fail(e, DBCONN_CONNECT, "the connection broke");
            return -1;
        }
    }
    while ((rc = PQputCopyEnd(c, NULL)) == 0)
        if (flush_by(c, deadline_us, e) != 0)
            return -1;
    if (rc < 0 || flush_by(c, deadline_us, e) != 0) {
        dbconn_fail(e, DBCONN_CONNECT, "the connection broke");
        return -1;
    }
    return 0;
}

/* Reads what came in until a result is ready; 0, or -1 and why in e. */
static int
await(PGconn *c, int64_t deadline_us, struct dbconn_err *e)
{
    while (PQisBusy(c)) {
        int w = dbconn_wait_fd(PQsocket(c), POLLIN, deadline_us);

        if (w == 0) {
            dbconn_fail_deadline(e, "no answer");
            return -1;
        }
        if (w < 0 || !PQconsumeInput(c)) {
            dbconn_fail(e, DBCONN_CONNECT, "the connection broke");
            return -1;
        }
    }
    return 0;
}

/* Sends sql, statements of which the first n COPY ... FROM STDIN are fed
 * data[i] (len[i] bytes) as the server asks for them, up to the end of
 * the last one's data; the answers after it are left to pg_result_by.
 * 0, or -1 and why in e (a statement refused: its error, every answer
 * read). */
static int
script_send(PGconn *c, const char *sql, const char *const *data,
            const size_t *len, size_t n, int64_t deadline_us,
            struct dbconn_err *e)
{
    if (!PQsendQuery(c, sql) || flush_by(c, deadline_us, e) != 0) {
        dbconn_fail(e, DBCONN_CONNECT, "the connection broke");
        return -1;
    }
    for (size_t i = 0; i < n;) {
        PGresult *res;
        ExecStatusType status;

        if (await(c, deadline_us, e) != 0)
            return -1;
        if ((res = PQgetResult(c)) == NULL) {
            dbconn_fail(e, DBCONN_PROTOCOL, "COPY did not start");
            return -1;
        }
        status = PQresultStatus(res);
        if (status == PGRES_FATAL_ERROR) {
            pg_fail_result(res, e);
            PQclear(res);
            /* The rest of the string is skipped: read to its end. */
            while (await(c, deadline_us, e) == 0
                   && (res = PQgetResult(c)) != NULL)
                PQclear(res);
            return -1;
        }
        PQclear(res);
        if (status == PGRES_COPY_IN) {
            if (copy_data(c, data[i], len[i], deadline_us, e) != 0)
                return -1;
            i++;
        }
    }
    return 0;
}

/* COPY (sql) len bytes of rows on c, up to the end of the data sent:
 * the answer is left to read (pg_result_by). */
static int
copy_send(PGconn *c, const char *sql, const char *rows, size_t len,
          int64_t deadline_us, struct dbconn_err *e)
{
    return script_send(c, sql, &rows, &len, 1, deadline_us, e);
}

/* COPY (sql) len bytes of rows, answered. */
static int
copy_rows(struct pgout *st, const char *sql, const char *rows, size_t len,
          int64_t deadline_us, struct dbconn_err *e)
{
    PGresult *res;

    if (copy_send(st->conn, sql, rows, len, deadline_us, e) != 0
        || (res = pg_result_by(st->conn, deadline_us, e)) == NULL)
        return -1;
    PQclear(res);
    return 0;
}

static int
upsert_alert(struct pgout *st, const outpost_record_t *rec,
             int64_t deadline_us, struct dbconn_err *e)
{
    const char *values[PGOUT_ALERT_PARAMS];
    char tmp[PGOUT_ALERT_TMP];
    PGresult *res;

    if (pgout_alert_params(rec, values, tmp) != 0)
        return 0;           /* not an alert: nothing to store */
    res = pgout_query_params(st, PGOUT_ALERT_SQL, PGOUT_ALERT_PARAMS, values,
                             deadline_us, e);
    PQclear(res);
    return res ? 0 : -1;
}

/* Writes records [lo, hi) of the batch inside the open transaction.
 * clear: empty the stage after (bisecting, where no COMMIT comes between
 * ranges). */
static int
write_range(struct pgout *st, const outpost_batch_t *b, size_t lo,
            size_t hi, int clear, int64_t deadline_us, struct dbconn_err *e)
{
    size_t from = lo ? st->ends[lo - 1] : 0, to = st->ends[hi - 1];

    if (to > from) {
        if (copy_rows(st, COPY_SQL, st->rows.p + from, to - from, deadline_us,
                      e) != 0
            || pgout_exec(st, APPLY_SQL, deadline_us, e) != 0
            || (clear && pgout_exec(st, "DELETE FROM outpost_stage",
                                 deadline_us, e) != 0))
            return -1;
    }
    for (size_t i = lo; i < hi; i++)
        if (b->records[i]->kind == OUTPOST_EVENT
            && upsert_alert(st, b->records[i], deadline_us, e) != 0)
            return -1;
    return 0;
}

/* Writes [lo, hi) under a savepoint; a range the server refuses for its
 * data is split until the records at fault are found and rejected.
 * 0, or -1 on any other failure (in e). */
static int
bisect(struct pgout *st, const outpost_batch_t *b, size_t lo, size_t hi,
       int64_t deadline_us, struct dbconn_err *e)
{
    struct dbconn_err why = { 0 };
    char reason[600];
    size_t mid;

    if (pgout_exec(st, "SAVEPOINT range", deadline_us, e) != 0)
        return -1;
    if (write_range(st, b, lo, hi, 1, deadline_us, &why) == 0)
        return pgout_exec(st, "RELEASE SAVEPOINT range", deadline_us, e);
    if (classify(&why) != V_DATA) {
        *e = why;
        return -1;
    }
    if (pgout_exec(st, "ROLLBACK TO SAVEPOINT range", deadline_us, e) != 0
        || pgout_exec(st, "RELEASE SAVEPOINT range", deadline_us, e) != 0)
        return -1;
    if (hi - lo == 1) {
        snprintf(reason, sizeof(reason), "postgres refused it: %s "
                 "(SQLSTATE %s)", why.msg, why.sqlstate);
        outpost_log(st->inst, OUTPOST_LOG_WARN, "write", "record %zu of the "
                    "batch dead-lettered: %s", lo, reason);
        outpost_batch_reject(b, lo, reason);
        return 0;
    }
    mid = lo + (hi - lo) / 2;
    if (bisect(st, b, lo, mid, deadline_us, e) != 0)
        return -1;
    return bisect(st, b, mid, hi, deadline_us, e);
}

static void
rollback(struct pgout *st, int64_t deadline_us)
{
    struct dbconn_err ignore = { 0 };

    if (st->conn && PQstatus(st->conn) == CONNECTION_OK
        && PQtransactionStatus(st->conn) != PQTRANS_IDLE
        && pgout_exec(st, "ROLLBACK", deadline_us, &ignore) != 0)
        drop_conn(st);
}

static int64_t
now_day(void)
{
    return pgout_day_of(outpost_time_now());
}

/* The server's notices ("relation ... already exists, skipping") are
 * expected: libpq would print them on stderr. */
static void
quiet(void *arg, const char *message)
{
    (void) arg;
    (void) message;
}

/* A new connection, non-blocking, or NULL and why in e. */
static PGconn *
connect_one(struct pgout *st, int64_t deadline_us, struct dbconn_err *e)
{
    const struct pgout_conf *c = st->conf;
    int64_t by = dbconn_now_us() + c->connect_timeout_ms * 1000;
    struct pg_connect_opts o = {
        .conninfo = c->conninfo,
        .application_name = c->application_name,
        .statement_timeout_ms = outpost_instance_timeout_ms(st->inst),
    };
    PGconn *conn;

    if (c->conninfo == NULL || c->conninfo[0] == '\0') {
        dbconn_fail(e, DBCONN_AUTH, "conninfo is empty (credentials "
                    "missing)");
        return NULL;
    }
    conn = pg_connect_by(&o, by < deadline_us ? by : deadline_us, e);
    if (conn == NULL)
        return NULL;
    PQsetNoticeProcessor(conn, quiet, NULL);
    if (PQsetnonblocking(conn, 1) != 0) {
        dbconn_fail(e, DBCONN_CONNECT, "cannot make the connection "
                    "non-blocking");
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* A connection with the schema checked and the stage table made. */
static int
prepare(struct pgout *st, int64_t deadline_us, struct dbconn_err *e)
{
    const struct pgout_conf *c = st->conf;
    int64_t today;

    if (st->conn && PQstatus(st->conn) != CONNECTION_OK)
        drop_conn(st);
    if (st->conn == NULL && (st->conn = connect_one(st, deadline_us, e))
                            == NULL)
        return -1;
    if (st->schema_ok)
        return 0;
    today = now_day();
    if (pgout_schema_migrate(st, deadline_us, e) != 0
        || pgout_exec(st, STAGE_SQL, deadline_us, e) != 0
        || pgout_partitions_ensure(st, today - 1,
                                   today + c->partitions_ahead, deadline_us,
                                   e) != 0)
        return -1;
    st->schema_ok = 1;
    return 0;
}

/* The partitions of every day the batch's measurements fall on. */
static int
partitions_for(struct pgout *st, const outpost_batch_t *b,
               int64_t deadline_us, struct dbconn_err *e)
{
    for (size_t i = 0; i < b->n; i++) {
        const outpost_record_t *r = b->records[i];
        int64_t d;

        if (r->kind != OUTPOST_MEASUREMENT)
            continue;
        d = pgout_day_of(r->ts_ns);
        if (pgout_partitions_ensure(st, d, d, deadline_us, e) != 0)
            return -1;
    }
    return 0;
}

/* Encodes the batch's measurements once; ranges are slices of it. */
static int
encode(struct pgout *st, const outpost_batch_t *b)
{
    if (b->n > st->nends) {
        size_t *ends = realloc(st->ends, b->n * sizeof(*ends));

        if (ends == NULL)
            return -1;
        st->ends = ends;
        st->nends = b->n;
    }
    pgout_buf_reset(&st->rows);
    for (size_t i = 0; i < b->n; i++) {
        if (b->records[i]->kind == OUTPOST_MEASUREMENT)
            pgout_encode_row(&st->rows, b->records[i]);
        st->ends[i] = st->rows.len;
    }
    return st->rows.oom ? -1 : 0;
}

/* FNV-1a. */
static uint32_t
hash_str(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 16777619u;
    return h;
}

static const char *
integration_of(const outpost_record_t *r)
{
    const char *i = outpost_record_tag(r, "integration");

    return i ? i : r->name;
}

/* The fast path's rows: every measurement as a log row, and the latest
 * measurement of each integration as a stage row. */
static int
encode_fast(struct pgout *st, const outpost_batch_t *b)
{
    size_t want = 64, mask;

    while (want < 2 * b->n)
        want *= 2;
    if (want > st->nslots) {
        uint32_t *s = realloc(st->slots, want * sizeof(*s));

        if (s == NULL)
            return -1;
        st->slots = s;
        st->nslots = want;
    }
    mask = want - 1;
    memset(st->slots, 0, want * sizeof(*st->slots));
    pgout_buf_reset(&st->log);
    pgout_buf_reset(&st->latest);
    for (size_t i = 0; i < b->n; i++) {
        const outpost_record_t *r = b->records[i];
        const char *key;
        size_t h;

        if (r->kind != OUTPOST_MEASUREMENT)
            continue;
        pgout_encode_log_row(&st->log, r);
        key = integration_of(r);
        for (h = hash_str(key) & mask; st->slots[h]; h = (h + 1) & mask)
            if (strcmp(integration_of(b->records[st->slots[h] - 1]),
                       key) == 0)
                break;
        if (st->slots[h] == 0
            || r->ts_ns >= b->records[st->slots[h] - 1]->ts_ns)
            st->slots[h] = (uint32_t) i + 1;
    }
    for (size_t h = 0; h < want; h++)
        if (st->slots[h])
            pgout_encode_row(&st->latest, b->records[st->slots[h] - 1]);
    return st->log.oom || st->latest.oom ? -1 : 0;
}

/* The fast path: COPY straight into the log. A batch written before (the
 * answer to its COMMIT lost) or a record the server refuses fails it
 * (23505, class 22/23): the caller then takes the merge path. */
/* Where the log's rows are cut for the writers: cut[0] = 0 < cut[1] <
 * ... < cut[n] = st->log.len, each at a row's end. A slice is worth a
 * connection's round trips from SLICE_MIN bytes (a few hundred rows). n. */
#define SLICE_MIN 65536

static size_t
slices(const struct pgout *st, size_t cut[PGOUT_MAX_WRITERS + 1])
{
    size_t len = st->log.len, want = (size_t) st->conf->writers, n = 0;

    if (want > len / SLICE_MIN)
        want = len / SLICE_MIN;
    if (want < 1)
        want = 1;
    cut[0] = 0;
    for (size_t k = 1; k < want; k++) {
        const char *nl = memchr(st->log.p + len / want * k, '\n',
                                len - len / want * k);
        size_t at = nl ? (size_t) (nl - st->log.p) + 1 : len;

        if (at > cut[n] && at < len)
            cut[++n] = at;
    }
    cut[++n] = len;
    return n;
}

/* Writer k (1..): the COPY of its slice sent, a transaction of its own;
 * the server works on it while the caller goes on. 0, or -1 with the
 * writer dropped. */
static int
slice_start(struct pgout *st, size_t k, const char *rows, size_t len,
            int64_t deadline_us, struct dbconn_err *e)
{
    PGconn **c = &st->extra[k - 1];

    if (*c && (PQstatus(*c) != CONNECTION_OK
               || PQtransactionStatus(*c) != PQTRANS_IDLE))
        drop_extra(st, k - 1);
    if ((*c == NULL && (*c = connect_one(st, deadline_us, e)) == NULL)
        || copy_send(*c, COPY_LOG_SQL, rows, len, deadline_us, e) != 0) {
        drop_extra(st, k - 1);
        return -1;
    }
    return 0;
}

/* Writer k: its COPY answered. 0, or -1 with the writer dropped. */
static int
slice_finish(struct pgout *st, size_t k, int64_t deadline_us,
             struct dbconn_err *e)
{
    PGresult *res = pg_result_by(st->extra[k - 1], deadline_us, e);

    PQclear(res);
    if (res == NULL) {
        drop_extra(st, k - 1);
        return -1;
    }
    return 0;
}

static int
write_fast(struct pgout *st, const outpost_batch_t *b, int64_t deadline_us,
           struct dbconn_err *e)
{
    size_t cut[PGOUT_MAX_WRITERS + 1], n = slices(st, cut), started = 1;
    const char *data[2] = { st->log.p, st->latest.p };
    size_t len[2] = { cut[1], st->latest.len };
    int events = 0, rc = 0;
    PGresult *res;

    for (size_t i = 0; i < b->n && !events; i++)
        events = b->records[i]->kind == OUTPOST_EVENT;
    for (; started < n; started++)
        if (slice_start(st, started, st->log.p + cut[started],
                        cut[started + 1] - cut[started], deadline_us,
                        e) != 0)
            goto abandon;
    if (cut[1] == 0) {          /* events alone */
        if (pgout_exec(st, "BEGIN", deadline_us, e) != 0)
            goto abandon;
    } else {
        if (script_send(st->conn, events ? FAST_OPEN_SQL : FAST_SQL, data,
                        len, 2, deadline_us, e) != 0
            || (res = pg_result_by(st->conn, deadline_us, e)) == NULL)
            goto abandon;
        PQclear(res);
    }
    if (events) {
        for (size_t i = 0; i < b->n && rc == 0; i++)
            if (b->records[i]->kind == OUTPOST_EVENT
                && upsert_alert(st, b->records[i], deadline_us, e) != 0)
                rc = -1;
        if (rc != 0 || pgout_exec(st, "COMMIT", deadline_us, e) != 0)
            goto abandon;
    }
    /* Slice 0 is in: the others follow, each on its own. */
    for (size_t k = 1; k < n; k++) {
        struct dbconn_err why = { 0 };

        if (slice_finish(st, k, deadline_us, &why) != 0 && rc == 0) {
            *e = why;
            rc = -1;
        }
    }
    return rc;
abandon:
    /* Their COPYs end with their connections. */
    for (size_t k = 1; k < started; k++)
        drop_extra(st, k - 1);
    return -1;
}

static outpost_result_t
fail(struct pgout *st, const struct dbconn_err *e, int64_t t0_us,
     int64_t deadline_us)
{
    report(st, "write", e, (dbconn_now_us() - t0_us) / 1000);
    if (classify(e) == V_DROP)
        drop_conn(st);
    else
        rollback(st, deadline_us);
    return OUTPOST_RETRY;
}

static outpost_result_t
pgout_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    struct pgout *st = outpost_instance_data(inst);
    int64_t t0 = dbconn_now_us(), timeout = outpost_instance_timeout_ms(inst);
    /* Our own deadline comes first, so the failure is ours to tell. */
    int64_t deadline = t0 + timeout * 900;
    struct dbconn_err e = { 0 };

    if (b->n == 0)
        return OUTPOST_OK;
    if (encode_fast(st, b) != 0) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "write", "out of memory");
        return OUTPOST_RETRY;
    }
    if (prepare(st, deadline, &e) != 0
        || partitions_for(st, b, deadline, &e) != 0)
        return fail(st, &e, t0, deadline);
    if (write_fast(st, b, deadline, &e) == 0)
        return OUTPOST_OK;
    switch (classify(&e)) {
    case V_DATA:
    case V_PARTITION:
        break;                  /* the merge path sorts it out */
    default:
        return fail(st, &e, t0, deadline);
    }
    rollback(st, deadline);
    /* The merge path: through the stage, ON CONFLICT DO NOTHING. */
    if (encode(st, b) != 0) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "write", "out of memory");
        return OUTPOST_RETRY;
    }
    for (int attempt = 0;; attempt++) {
        memset(&e, 0, sizeof(e));
        if (prepare(st, deadline, &e) != 0
            || partitions_for(st, b, deadline, &e) != 0)
            return fail(st, &e, t0, deadline);
        if (pgout_exec(st, "BEGIN", deadline, &e) == 0
            && write_range(st, b, 0, b->n, 0, deadline, &e) == 0
            && pgout_exec(st, "COMMIT", deadline, &e) == 0)
            return OUTPOST_OK;
        if (classify(&e) == V_PARTITION && attempt == 0) {
            rollback(st, deadline);
            pgout_days_forget(st);
            continue;
        }
        break;
    }
    if (classify(&e) != V_DATA)
        return fail(st, &e, t0, deadline);
    /* A record is at fault: find it, keep the rest. */
    rollback(st, deadline);
    memset(&e, 0, sizeof(e));
    if (pgout_exec(st, "BEGIN", deadline, &e) != 0
        || bisect(st, b, 0, b->n, deadline, &e) != 0
        || pgout_exec(st, "COMMIT", deadline, &e) != 0)
        return fail(st, &e, t0, deadline);
    return OUTPOST_OK;
}

/* Every tick_interval: partitions ahead, then retention. */
static void
pgout_tick(outpost_instance_t *inst)
{
    struct pgout *st = outpost_instance_data(inst);
    int64_t t0 = dbconn_now_us();
    int64_t deadline = t0 + outpost_instance_timeout_ms(inst) * 900;
    struct dbconn_err e = { 0 };
    int64_t today = now_day();

    if (prepare(st, deadline, &e) != 0
        || pgout_partitions_ensure(st, today, today
                                   + st->conf->partitions_ahead, deadline,
                                   &e) != 0
        || pgout_retention(st, outpost_time_now(), deadline, &e) != 0
        || pgout_partitions_ensure(st, today, today
                                   + st->conf->partitions_ahead, deadline,
                                   &e) != 0) {
        report(st, "tick", &e, (dbconn_now_us() - t0) / 1000);
        if (classify(&e) == V_DROP)
            drop_conn(st);
        else
            rollback(st, deadline);
    }
}

static int
pgout_validate(const void *conf, char *err, size_t errlen)
{
    const struct pgout_conf *c = conf;

    return pg_conninfo_check(c->conninfo, err, errlen);
}

static int
pgout_init(outpost_instance_t *inst)
{
    struct pgout *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return -1;
    st->inst = inst;
    st->conf = outpost_instance_conf(inst);
    st->name = outpost_instance_name(inst);
    outpost_instance_set_data(inst, st);
    /* No connection yet: the first write or tick makes it, on the
     * output's thread, and a server that is down keeps records queued. */
    return 0;
}

static void
pgout_shutdown(outpost_instance_t *inst)
{
    struct pgout *st = outpost_instance_data(inst);

    if (st == NULL)
        return;
    drop_conn(st);
    pgout_buf_free(&st->rows);
    pgout_buf_free(&st->log);
    pgout_buf_free(&st->latest);
    free(st->slots);
    free(st->ends);
    free(st);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "postgres",
    .description = "store checks, current state and alerts in PostgreSQL "
                   "(integration_health, integration_health_log, "
                   "integration_alerts)",
    .kind = OUTPOST_OUTPUT,
    .options = pgout_options,
    .conf_size = sizeof(struct pgout_conf),
    .init = pgout_init,
    .write = pgout_write,
    .shutdown = pgout_shutdown,
    .validate = pgout_validate,
    .output_defaults = pgout_defaults,
    .output_tick = pgout_tick,
};
