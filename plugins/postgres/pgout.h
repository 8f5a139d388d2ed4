/*
 * pgout.h - what the files of the `postgres` output share.
 *
 *   postgres.c  options, the connection's life, write (one transaction per
 *               batch, bisecting a batch the server refuses to find the
 *               records at fault), output_tick
 *   schema.c    the versioned schema (ordered migrations), the day
 *               partitions of integration_health_log, retention
 *   encode.c    records as COPY text rows and alert upserts
 *
 * Everything here runs on the output's own thread (plugin.h, output rule
 * 8): the state needs no lock, and each PGconn is used by that thread
 * alone (pg_conn.h rule 1).
 */
#ifndef OUTPOST_PGOUT_H
#define OUTPOST_PGOUT_H

#include <stddef.h>
#include <stdint.h>
#include <outpost/plugin.h>
#include "pg_conn.h"

#define PGOUT_SCHEMA_VERSION 2      /* the newest migration in schema.c */
#define PGOUT_DAY_NS  86400000000000LL
#define PGOUT_MAX_DAYS 128          /* partitions remembered as present */
#define PGOUT_MAX_WRITERS 8         /* connections a batch is split over */

struct pgout_conf {
    char    *conninfo;
    int64_t  retention_ms;
    int64_t  partitions_ahead;
    int64_t  connect_timeout_ms;
    char    *application_name;
    int64_t  writers;
};

/* A growable text buffer. */
struct pgout_buf {
    char   *p;
    size_t  len, cap;
    int     oom;        /* an append failed: the content is incomplete */
};

struct pgout {
    outpost_instance_t *inst;
    const struct pgout_conf *conf;
    const char *name;               /* the instance's name, for messages */
    PGconn  *conn;                  /* NULL: not connected */
    PGconn  *extra[PGOUT_MAX_WRITERS - 1]; /* the other writers' (NULL:
                                       connect when needed) */
    int      schema_ok;             /* migrations checked on this conn */
    int64_t  days[PGOUT_MAX_DAYS];  /* UTC days whose partition exists */
    size_t   ndays;
    struct pgout_buf rows;          /* the batch's COPY rows */
    size_t  *ends;                  /* ends[i]: rows.len after record i */
    size_t   nends;
    struct pgout_buf log;           /* the fast path: rows of the log */
    struct pgout_buf latest;        /* and the stage rows of the latest
                                       check of each integration */
    uint32_t *slots;                /* hash of integrations -> index + 1 */
    size_t   nslots;
    char     last_err[512];         /* the last failure logged, to not
                                       repeat it every retry */
    int64_t  last_err_ns;
};

/* --- postgres.c --- */
/* A statement (or several) sent, flushed (the connection is
 * non-blocking) and answered by deadline_us: pg_result_by()'s rules. */
PGresult *pgout_query(struct pgout *st, const char *sql,
                      int64_t deadline_us, struct dbconn_err *e);
PGresult *pgout_query_params(struct pgout *st, const char *sql, int n,
                             const char *const *values, int64_t deadline_us,
                             struct dbconn_err *e);
/* pgout_query() without the result: 0 or -1. */
int pgout_exec(struct pgout *st, const char *sql, int64_t deadline_us,
               struct dbconn_err *e);

/* --- encode.c --- */
void pgout_buf_reset(struct pgout_buf *b);
void pgout_buf_free(struct pgout_buf *b);
void pgout_buf_add(struct pgout_buf *b, const char *s, size_t n);
void pgout_buf_printf(struct pgout_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends one measurement as a row of the stage table (COPY text format,
 * the columns of PGOUT_STAGE_COLUMNS). */
void pgout_encode_row(struct pgout_buf *b, const outpost_record_t *rec);
#define PGOUT_STAGE_COLUMNS \
    "ts_us, integration, name, category, provider, status, success, " \
    "status_code, response_ms, dns_ms, connect_ms, tls_ms, ttfb_ms, " \
    "transfer_ms, health_score, consecutive_failures, circuit, " \
    "failover_group, failover_active, success_rate_24h, uptime_30d, " \
    "error, tags"

/* Appends one measurement as a row of integration_health_log itself
 * (COPY text format, the columns of PGOUT_LOG_COLUMNS). */
void pgout_encode_log_row(struct pgout_buf *b, const outpost_record_t *rec);
#define PGOUT_LOG_COLUMNS \
    "ts, integration, name, category, provider, status, success, " \
    "status_code, response_ms, dns_ms, connect_ms, tls_ms, ttfb_ms, " \
    "transfer_ms, health_score, error, tags"

/* An alert, escalate, acknowledge or resolve event as the parameters of
 * PGOUT_ALERT_SQL. 0, or -1 when rec is not an alert event. The values
 * point into rec or into tmp (PGOUT_ALERT_TMP bytes). */
#define PGOUT_ALERT_PARAMS 14
#define PGOUT_ALERT_TMP 160
int pgout_alert_params(const outpost_record_t *rec,
                       const char *values[PGOUT_ALERT_PARAMS],
                       char tmp[PGOUT_ALERT_TMP]);
extern const char PGOUT_ALERT_SQL[];

/* The UTC day (days since 1970-01-01) of a time in ns. */
int64_t pgout_day_of(int64_t ts_ns);

/* --- schema.c --- */
/* Brings the schema to PGOUT_SCHEMA_VERSION (creating it in an empty
 * database). 0; -1 with e filled (a newer schema: reason "query",
 * sqlstate "", a message naming both versions). */
int pgout_schema_migrate(struct pgout *st, int64_t deadline_us,
                         struct dbconn_err *e);
/* Creates the partition of each UTC day in [from, to] that is not known
 * to exist. 0 or -1. */
int pgout_partitions_ensure(struct pgout *st, int64_t from_day,
                            int64_t to_day, int64_t deadline_us,
                            struct dbconn_err *e);
/* Drops the partitions wholly older than the retention and deletes
 * resolved alerts older than it, in batches. 0 or -1. */
int pgout_retention(struct pgout *st, int64_t now_ns, int64_t deadline_us,
                    struct dbconn_err *e);
void pgout_days_forget(struct pgout *st);

#endif
