/*
 * schema.c - the `postgres` output's tables, their versions, the day
 * partitions of the log and retention (pgout.h).
 *
 * Versions: outpost_schema_version holds one row per migration applied.
 * On every new connection the output takes a transaction-scoped advisory
 * lock (so two agents starting together do not both migrate), reads the
 * highest version, applies the migrations above it in order, each with
 * its row, and commits. A database whose version is above
 * PGOUT_SCHEMA_VERSION was migrated by a newer outpost: this one refuses
 * to write into it rather than guess. A later release appends a migration
 * to the table below and raises PGOUT_SCHEMA_VERSION; a migration is
 * never edited once released.
 *
 * Partitions: integration_health_log is partitioned by range of ts, one
 * partition per UTC day, named integration_health_log_YYYYMMDD. They are
 * made ahead (today .. today + partitions_ahead, by the tick and on
 * connect) and on demand for a record of another day (write). Retention
 * drops whole partitions whose day ended before now - retention: no
 * DELETE, no bloat, and the lock it takes on the parent is bounded by
 * lock_timeout, so a busy table makes the drop wait for the next tick
 * rather than stall the writers.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pgout.h"

/* The key of the advisory lock held while migrating or adding
 * partitions: "outpost" in ASCII. */
#define SCHEMA_LOCK "SELECT pg_advisory_xact_lock(7311146993384236148)"

struct migration {
    int         version;
    const char *what;
    const char *sql;
};

static const struct migration migrations[] = {
    { 1, "tables integration_health, integration_health_log (by day), "
         "integration_alerts; views of success rate, uptime and SLA",
      /* Current state: one row per integration, kept by upsert. */
      "CREATE TABLE integration_health ("
      " integration text PRIMARY KEY,"
      " category text, provider text,"
      " status text NOT NULL DEFAULT 'unknown',"
      " health_score double precision,"
      " last_check_at timestamptz,"
      " success boolean,"
      " response_ms double precision,"
      " success_rate_24h double precision,"
      " uptime_30d double precision,"
      " consecutive_failures integer,"
      " circuit text,"
      " failover_group text,"
      " failover_active text,"
      " last_error text,"
      " last_error_at timestamptz,"
      " updated_at timestamptz NOT NULL DEFAULT now());"
      /* Every check. The key makes a resent batch harmless. */
      "CREATE TABLE integration_health_log ("
      " ts timestamptz NOT NULL,"
      " integration text NOT NULL,"
      " name text NOT NULL,"
      " category text, provider text, status text,"
      " success boolean,"
      " status_code integer,"
      " response_ms double precision,"
      " dns_ms double precision, connect_ms double precision,"
      " tls_ms double precision, ttfb_ms double precision,"
      " transfer_ms double precision,"
      " health_score double precision,"
      " error text,"
      " tags jsonb NOT NULL DEFAULT '{}',"
      " PRIMARY KEY (integration, ts, name)"
      ") PARTITION BY RANGE (ts);"
      "CREATE INDEX integration_health_log_failures"
      " ON integration_health_log (ts) WHERE success IS NOT TRUE;"
      /* One row per alert: every event of it updates that row. */
      "CREATE TABLE integration_alerts ("
      " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
      " dedup_key text NOT NULL,"
      " integration text NOT NULL,"
      " category text, provider text,"
      " severity text NOT NULL,"
      " status text NOT NULL CHECK (status IN"
      "  ('active', 'acknowledged', 'resolved')),"
      " message text,"
      " occurrences integer NOT NULL DEFAULT 1,"
      " first_seen timestamptz NOT NULL,"
      " last_seen timestamptz NOT NULL,"
      " acknowledged_at timestamptz,"
      " acknowledged_by text,"
      " resolved_at timestamptz,"
      " escalated_at timestamptz,"
      " channels text[] NOT NULL DEFAULT '{}',"
      " UNIQUE (dedup_key, first_seen));"
      "CREATE INDEX integration_alerts_open ON integration_alerts"
      " (integration) WHERE status <> 'resolved';"
      "CREATE INDEX integration_alerts_by_integration ON integration_alerts"
      " (integration, first_seen DESC);"
      "CREATE INDEX integration_alerts_resolved ON integration_alerts"
      " (resolved_at) WHERE status = 'resolved';"
      /* What operators ask most. */
      "CREATE VIEW integration_success_rate_24h AS"
      " SELECT integration, count(*) AS checks,"
      "  count(*) FILTER (WHERE success) AS successes,"
      "  round(100.0 * count(*) FILTER (WHERE success)"
      "   / count(*), 3) AS success_rate_pct"
      " FROM integration_health_log"
      " WHERE ts >= now() - interval '24 hours'"
      " GROUP BY integration;"
      "CREATE VIEW integration_uptime_30d AS"
      " SELECT integration, count(*) AS checks,"
      "  round(100.0 * count(*) FILTER (WHERE coalesce(status,"
      "   CASE WHEN success THEN 'healthy' ELSE 'down' END) <> 'down')"
      "   / count(*), 3) AS uptime_pct"
      " FROM integration_health_log"
      " WHERE ts >= now() - interval '30 days'"
      " GROUP BY integration;"
      "CREATE VIEW integration_sla_monthly AS"
      " SELECT date_trunc('month', ts, 'UTC') AS month, integration,"
      "  count(*) AS checks,"
      "  round(100.0 * count(*) FILTER (WHERE success)"
      "   / count(*), 3) AS availability_pct,"
      "  round(avg(response_ms)::numeric, 1) AS avg_response_ms,"
      "  round((percentile_cont(0.95) WITHIN GROUP"
      "   (ORDER BY response_ms))::numeric, 1) AS p95_response_ms"
      " FROM integration_health_log"
      " GROUP BY 1, 2;" },
    { 2, "function integration_sla_for_month(timestamptz): the monthly SLA "
         "of one month, reading only that month's partitions",
      /* The view's month = date_trunc(...) cannot prune partitions: it
       * reads them all. A range on ts can. Month bounds in UTC, whatever
       * the session's TimeZone. */
      "CREATE FUNCTION integration_sla_for_month(m timestamptz)"
      " RETURNS TABLE (month timestamptz, integration text, checks bigint,"
      "  availability_pct numeric, avg_response_ms numeric,"
      "  p95_response_ms numeric)"
      " LANGUAGE sql STABLE AS $$"
      " SELECT date_trunc('month', m AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',"
      "  l.integration, count(*),"
      "  round(100.0 * count(*) FILTER (WHERE l.success) / count(*), 3),"
      "  round(avg(l.response_ms)::numeric, 1),"
      "  round((percentile_cont(0.95) WITHIN GROUP"
      "   (ORDER BY l.response_ms))::numeric, 1)"
      " FROM integration_health_log l"
      " WHERE l.ts >= date_trunc('month', m AT TIME ZONE 'UTC')"
      "  AT TIME ZONE 'UTC'"
      " AND l.ts < (date_trunc('month', m AT TIME ZONE 'UTC')"
      "  + interval '1 month') AT TIME ZONE 'UTC'"
      " GROUP BY l.integration $$;" },
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

_Static_assert(NMIGRATIONS == PGOUT_SCHEMA_VERSION,
               "one migration per schema version");

/* Ends a transaction that failed; a connection that cannot is dropped by
 * the caller (its error is kept). */
static void
rollback(struct pgout *st, int64_t deadline_us)
{
    struct dbconn_err ignore = { 0 };

    if (st->conn && PQtransactionStatus(st->conn) != PQTRANS_IDLE)
        pgout_exec(st, "ROLLBACK", deadline_us, &ignore);
}

int
pgout_schema_migrate(struct pgout *st, int64_t deadline_us,
                     struct dbconn_err *e)
{
    PGresult *res;
    int have;

    if (pgout_exec(st, "BEGIN", deadline_us, e) != 0
        || pgout_exec(st, SCHEMA_LOCK, deadline_us, e) != 0
        || pgout_exec(st, "CREATE TABLE IF NOT EXISTS outpost_schema_version ("
                   " version integer PRIMARY KEY,"
                   " description text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   deadline_us, e) != 0)
        goto fail;
    res = pgout_query(st, "SELECT coalesce(max(version), 0) "
                     "FROM outpost_schema_version", deadline_us, e);
    if (res == NULL)
        goto fail;
    have = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (have > PGOUT_SCHEMA_VERSION) {
        dbconn_fail(e, DBCONN_QUERY, "the database's schema is version %d, "
                    "newer than this outpost knows (%d): upgrade outpost "
                    "or point postgres \"%s\" at another database", have,
                    PGOUT_SCHEMA_VERSION, st->name);
        goto fail;
    }
    for (size_t i = 0; i < NMIGRATIONS; i++) {
        const struct migration *m = &migrations[i];
        const char *params[2];
        char v[16];

        if (m->version <= have)
            continue;
        if (pgout_exec(st, m->sql, deadline_us, e) != 0)
            goto fail;
        snprintf(v, sizeof(v), "%d", m->version);
        params[0] = v;
        params[1] = m->what;
        res = pgout_query_params(st, "INSERT INTO outpost_schema_version"
                                 " (version, description) VALUES ($1, $2)",
                                 2, params, deadline_us, e);
        if (res == NULL)
            goto fail;
        PQclear(res);
        outpost_log(st->inst, OUTPOST_LOG_INFO, "schema",
                    "schema migrated to version %d: %s", m->version,
                    m->what);
    }
    if (pgout_exec(st, "COMMIT", deadline_us, e) != 0)
        goto fail;
    return 0;
fail:
    rollback(st, deadline_us);
    return -1;
}

void
pgout_days_forget(struct pgout *st)
{
    st->ndays = 0;
}

static int
day_known(const struct pgout *st, int64_t day)
{
    for (size_t i = 0; i < st->ndays; i++)
        if (st->days[i] == day)
            return 1;
    return 0;
}

static void
day_remember(struct pgout *st, int64_t day)
{
    if (st->ndays == PGOUT_MAX_DAYS)
        st->ndays = 0;          /* forget them all: IF NOT EXISTS is cheap */
    st->days[st->ndays++] = day;
}

/* "YYYYMMDD" and "YYYY-MM-DD" of a UTC day. */
static void
day_names(int64_t day, char compact[16], char iso[16])
{
    time_t t = (time_t) (day * 86400);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(compact, 16, "%Y%m%d", &tm);
    strftime(iso, 16, "%Y-%m-%d", &tm);
}

int
pgout_partitions_ensure(struct pgout *st, int64_t from_day, int64_t to_day,
                        int64_t deadline_us, struct dbconn_err *e)
{
    int begun = 0;

    for (int64_t d = from_day; d <= to_day; d++) {
        char name[16], from[16], to[16], sql[512];

        if (day_known(st, d))
            continue;
        if (!begun) {
            if (pgout_exec(st, "BEGIN", deadline_us, e) != 0
                || pgout_exec(st, SCHEMA_LOCK, deadline_us, e) != 0)
                goto fail;
            begun = 1;
        }
        day_names(d, name, from);
        day_names(d + 1, to, to);
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE IF NOT EXISTS integration_health_log_%s "
                 "PARTITION OF integration_health_log FOR VALUES FROM "
                 "('%s 00:00:00+00') TO ('%s 00:00:00+00')", name, from, to);
        if (pgout_exec(st, sql, deadline_us, e) != 0)
            goto fail;
    }
    if (begun && pgout_exec(st, "COMMIT", deadline_us, e) != 0)
        goto fail;
    for (int64_t d = from_day; begun && d <= to_day; d++)
        if (!day_known(st, d))
            day_remember(st, d);
    return 0;
fail:
    rollback(st, deadline_us);
    return -1;
}

/* The day of a partition's name, or INT64_MIN when it is not one of
 * ours. */
static int64_t
partition_day(const char *relname)
{
    static const char prefix[] = "integration_health_log_";
    int y, m, d;
    struct tm tm = { 0 };
    char tail;

    if (strncmp(relname, prefix, sizeof(prefix) - 1) != 0
        || strlen(relname) != sizeof(prefix) - 1 + 8
        || sscanf(relname + sizeof(prefix) - 1, "%4d%2d%2d%c", &y, &m, &d,
                  &tail) != 3)
        return INT64_MIN;
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    return (int64_t) timegm(&tm) / 86400;
}

/* Resolved alerts older than the retention go in batches of this many
 * rows, each its own short transaction; at most this many batches a
 * tick, so one tick never holds the thread for long. */
#define ALERT_DELETE_BATCH 5000
#define ALERT_DELETE_ROUNDS 20

int
pgout_retention(struct pgout *st, int64_t now_ns, int64_t deadline_us,
                struct dbconn_err *e)
{
    /* A partition holds [day, day + 1): it goes once day + 1 is at or
     * before the cut-off. */
    int64_t cut_ns = now_ns - st->conf->retention_ms * 1000000;
    PGresult *res;
    int ntuples;
    char **drop = NULL;
    size_t ndrop = 0;
    int rc = 0;
    char sql[256];

    res = pgout_query(st, "SELECT c.relname FROM pg_inherits i "
                     "JOIN pg_class c ON c.oid = i.inhrelid "
                     "WHERE i.inhparent = "
                     "'integration_health_log'::regclass ORDER BY 1",
                     deadline_us, e);
    if (res == NULL)
        return -1;
    ntuples = PQntuples(res);
    drop = calloc((size_t) ntuples + 1, sizeof(*drop));
    for (int i = 0; drop && i < ntuples; i++) {
        const char *rel = PQgetvalue(res, i, 0);
        int64_t day = partition_day(rel);

        if (day != INT64_MIN && (day + 1) * PGOUT_DAY_NS <= cut_ns)
            drop[ndrop++] = strdup(rel);
    }
    PQclear(res);
    for (size_t i = 0; i < ndrop && rc == 0; i++) {
        if (drop[i] == NULL)
            continue;
        snprintf(sql, sizeof(sql), "BEGIN; SET LOCAL lock_timeout = '2s'; "
                 "DROP TABLE IF EXISTS %s; COMMIT", drop[i]);
        if (pgout_exec(st, sql, deadline_us, e) != 0) {
            rollback(st, deadline_us);
            rc = -1;
        } else {
            outpost_log(st->inst, OUTPOST_LOG_INFO, "retention",
                        "dropped partition %s (older than the retention)",
                        drop[i]);
        }
    }
    for (size_t i = 0; drop && i < ndrop; i++)
        free(drop[i]);
    free(drop);
    if (rc != 0)
        return rc;
    /* Partitions we dropped (or another agent did) are made again if a
     * record of their day still comes. */
    pgout_days_forget(st);
    for (int round = 0; round < ALERT_DELETE_ROUNDS; round++) {
        char *end;
        long n;

        snprintf(sql, sizeof(sql), "DELETE FROM integration_alerts WHERE id "
                 "IN (SELECT id FROM integration_alerts WHERE status = "
                 "'resolved' AND resolved_at < timestamptz 'epoch' + "
                 "%" PRId64 " * interval '1 microsecond' LIMIT %d)",
                 cut_ns / 1000, ALERT_DELETE_BATCH);
        if ((res = pgout_query(st, sql, deadline_us, e)) == NULL)
            return -1;
        n = strtol(PQcmdTuples(res), &end, 10);
        PQclear(res);
        if (n < ALERT_DELETE_BATCH)
            break;
    }
    return 0;
}
