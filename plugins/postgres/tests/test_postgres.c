/*
 * test_postgres.c - the `postgres` output against the suite's real
 * PostgreSQL, through the core's output worker (the real batching, dead
 * letters and retries): the schema and its version, exact rows in the
 * log and the current state, the alert lifecycle, a resent batch, records
 * the server refuses, and retention by partition. Each test works in a
 * database of its own, so tests can run beside the others.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "config.h"
#include "instance.h"
#include "output.h"
#include "registry.h"
#include "servers.h"
#include "tmpdir.h"

#define DAY_NS 86400000000000LL

struct fixture {
    char              db[64];
    char              conninfo[640];
    char              state[256];
    PGconn           *pg;           /* the test's own look at the db */
    struct registry  *reg;
    struct config    *cfg;
    outpost_instance_t *inst;
    struct output_worker *w;
};

static void
quiet(void *arg, const char *message)
{
    (void) arg;
    (void) message;
}

static PGconn *
connect_db(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

static void
sql_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK
        && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* The rows of sql, one per line, columns separated by '|'. */
static char *
rows(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    size_t cap = 65536, len = 0;
    char *out = malloc(cap);

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    out[0] = '\0';
    for (int i = 0; i < PQntuples(r); i++) {
        for (int j = 0; j < PQnfields(r); j++) {
            const char *v = PQgetisnull(r, i, j) ? "NULL"
                            : PQgetvalue(r, i, j);
            len += (size_t) snprintf(out + len, cap - len, "%s%s",
                                     j ? "|" : "", v);
        }
        len += (size_t) snprintf(out + len, cap - len, "\n");
    }
    PQclear(r);
    return out;
}

static void
assert_rows(PGconn *c, const char *sql, const char *want)
{
    char *got = rows(c, sql);

    if (strcmp(got, want) != 0)
        fail_msg("%s\n--- got:\n%s--- want:\n%s", sql, got, want);
    free(got);
}

static long
count(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long n;

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* A fresh database and a `postgres "history"` instance writing to it
 * (with options extra); started: a worker drives it. */
static struct fixture *
fixture_new(const char *tag, const char *extra, int start)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char base[512], sql[160], conf[320], text[2048], *q;
    struct diag d = { 0 };
    PGconn *admin;
    int fd;

    snprintf(base, sizeof(base), "%s", test_server("PG_URL"));
    snprintf(f->db, sizeof(f->db), "pgout_%s_%d", tag, (int) getpid());
    admin = connect_db(base);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", f->db);
    sql_ok(admin, sql);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->db);
    sql_ok(admin, sql);
    PQfinish(admin);
    q = strrchr(base, '/');
    *q = '\0';
    snprintf(f->conninfo, sizeof(f->conninfo), "%s/%s", base, f->db);
    f->pg = connect_db(f->conninfo);

    assert_int_equal(tmp_template(f->state, sizeof(f->state), "pgout"), 0);
    assert_non_null(mkdtemp(f->state));
    f->reg = registry_new();
    assert_int_equal(registry_load_file(f->reg, BUILD_PLUGIN_DIR "/postgres",
                                        &d), 0);
    snprintf(text, sizeof(text), "state_dir = \"%s\"\n"
             "postgres \"history\" { conninfo = \"%s\" "
             "flush_interval = \"5ms\" retry_initial = \"5ms\" "
             "retry_max = \"20ms\" timeout = \"10s\" %s }\n", f->state,
             f->conninfo, extra ? extra : "");
    snprintf(conf, sizeof(conf), "%s/outpost.conf", f->state);
    fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_true(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
    close(fd);
    f->cfg = config_load(conf, f->reg, NULL, &d);
    diag_print(&d, stderr);
    diag_free(&d);
    assert_non_null(f->cfg);
    f->inst = instance_new(&f->cfg->sections[0], f->cfg);
    assert_int_equal(instance_init(f->inst), 0);
    if (start)
        assert_non_null(f->w = output_start(f->inst, NULL));
    return f;
}

static void
fixture_free(struct fixture *f)
{
    char sql[160], cmd[300];
    PGconn *admin;

    if (f->w)
        output_stop(f->w);
    instance_shutdown(f->inst);
    instance_free(f->inst);
    config_free(f->cfg);
    registry_free(f->reg);
    PQfinish(f->pg);
    admin = connect_db(test_server("PG_URL"));
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
             f->db);
    sql_ok(admin, sql);
    PQfinish(admin);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->state);
    assert_int_equal(system(cmd), 0);
    free(f);
}

static void
push(struct fixture *f, outpost_record_t **recs, size_t n)
{
    output_push(f->w, recs, n);
}

/* Waits until every record pushed is answered for; 0: all delivered. */
static int
drain(struct fixture *f, int64_t ms)
{
    return output_drain(f->w, clock_mono_ms() + ms);
}

static outpost_tagset_t *
tags_of(const char *integration, const char *group)
{
    outpost_tag_t t[5];
    size_t n = 0;

    t[n++] = (outpost_tag_t) { "integration", integration };
    t[n++] = (outpost_tag_t) { "category", "payments" };
    t[n++] = (outpost_tag_t) { "provider", "stripe" };
    if (group)
        t[n++] = (outpost_tag_t) { "failover_group", group };
    return outpost_tagset_new(t, n);
}

/* 2026-12-07T12:00:00Z plus s seconds, in ns. */
#define T0_NS 1796644800000000000LL
static int64_t
at(int64_t s)
{
    return T0_NS + s * 1000000000LL;
}

static outpost_record_t *
check(const char *integration, int64_t ts_ns, int success, double ms)
{
    outpost_tagset_t *ts = tags_of(integration, "pay");
    outpost_record_t *r = outpost_measurement_new("payments", ts, ts_ns);

    outpost_tagset_unref(ts);
    outpost_record_add_bool(r, OUTPOST_F_SUCCESS, success);
    outpost_record_add_int(r, OUTPOST_F_STATUS_CODE, success ? 200 : 503);
    outpost_record_add_float(r, OUTPOST_F_RESPONSE_MS, ms);
    outpost_record_add_float(r, "dns_ms", 1.5);
    if (!success)
        outpost_record_add_str(r, OUTPOST_F_ERROR, "status: got 503\tbad");
    return r;
}

static void
unref_all(outpost_record_t **r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        outpost_record_unref(r[i]);
}

/* --- tests ------------------------------------------------------------- */

static void
schema_created_and_versioned(void **state)
{
    struct fixture *f = fixture_new("schema", NULL, 1);
    outpost_record_t *r = check("stripe", outpost_time_now(), 1, 80);
    char want[256];
    int64_t today = outpost_time_now() / DAY_NS;

    (void) state;
    push(f, &r, 1);
    assert_int_equal(drain(f, 10000), 0);
    outpost_record_unref(r);
    assert_rows(f->pg, "SELECT version FROM outpost_schema_version "
                "ORDER BY 1", "1\n2\n");
    /* The month's SLA by the function is the view's, for that month. */
    assert_rows(f->pg, "SELECT (SELECT array_agg(x::text ORDER BY "
                "integration) FROM integration_sla_for_month(now()) x) = "
                "(SELECT array_agg(v::text ORDER BY integration) FROM "
                "integration_sla_monthly v WHERE month = date_trunc('month', "
                "now(), 'UTC')), (SELECT count(*) FROM "
                "integration_sla_for_month(now()))", "t|1\n");
    assert_rows(f->pg, "SELECT relname FROM pg_class WHERE relname IN "
                "('integration_health', 'integration_health_log', "
                "'integration_alerts', 'integration_success_rate_24h', "
                "'integration_uptime_30d', 'integration_sla_monthly') "
                "ORDER BY 1",
                "integration_alerts\nintegration_health\n"
                "integration_health_log\nintegration_sla_monthly\n"
                "integration_success_rate_24h\nintegration_uptime_30d\n");
    /* Yesterday, today and 3 days ahead. */
    snprintf(want, sizeof(want), "%ld\n", 5L);
    assert_rows(f->pg, "SELECT count(*) FROM pg_inherits WHERE inhparent = "
                "'integration_health_log'::regclass", want);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log"), 1);
    (void) today;
    fixture_free(f);
}

/* A database migrated by a newer outpost (here: after ours made it and
 * lost its connection): nothing is written, the records stay queued, and
 * once the version is back they go in. */
static void
schema_newer_is_refused(void **state)
{
    struct fixture *f = fixture_new("newer", NULL, 1);
    outpost_record_t *r = check("stripe", outpost_time_now(), 1, 80);
    outpost_record_t *r2 = check("stripe", outpost_time_now() + 1000, 1, 80);
    struct output_stats st;

    (void) state;
    push(f, &r, 1);
    assert_int_equal(drain(f, 10000), 0);
    sql_ok(f->pg, "INSERT INTO outpost_schema_version VALUES (99, 'from the "
           "future'); SELECT pg_terminate_backend(pid) FROM "
           "pg_stat_activity WHERE application_name = 'outpost' AND "
           "datname = current_database()");
    push(f, &r2, 1);
    assert_int_equal(drain(f, 500), -1);
    output_get_stats(f->w, &st);
    assert_true(st.retries > 0);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.failed, 0);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log"), 1);
    sql_ok(f->pg, "DELETE FROM outpost_schema_version WHERE version = 99");
    assert_int_equal(drain(f, 10000), 0);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log"), 2);
    outpost_record_unref(r);
    outpost_record_unref(r2);
    fixture_free(f);
}

/* A database an earlier release made (version 1, rows in it) is
 * migrated to the current version on connecting, its rows kept. */
static void
schema_migrated_from_version_1(void **state)
{
    struct fixture *f = fixture_new("migrate", NULL, 1);
    outpost_record_t *r = check("stripe", outpost_time_now(), 1, 80);
    outpost_record_t *r2 = check("stripe", outpost_time_now() + 1000, 1, 80);

    (void) state;
    push(f, &r, 1);
    assert_int_equal(drain(f, 10000), 0);
    /* Back to what version 1 made, the output's session gone. */
    sql_ok(f->pg, "DROP FUNCTION integration_sla_for_month(timestamptz); "
           "DELETE FROM outpost_schema_version WHERE version > 1; "
           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
           "application_name = 'outpost' AND datname = current_database()");
    push(f, &r2, 1);
    assert_int_equal(drain(f, 10000), 0);
    assert_rows(f->pg, "SELECT version FROM outpost_schema_version "
                "ORDER BY 1", "1\n2\n");
    assert_rows(f->pg, "SELECT checks FROM integration_sla_for_month(now())",
                "2\n");
    outpost_record_unref(r);
    outpost_record_unref(r2);
    fixture_free(f);
}

static void
log_rows_and_current_state(void **state)
{
    struct fixture *f = fixture_new("rows", NULL, 1);
    outpost_record_t *r[4], *old;

    (void) state;
    r[0] = check("stripe", at(0), 1, 80.25);
    r[1] = check("paypal", at(1), 0, 5000);
    r[2] = check("stripe", at(30), 0, 1200);
    r[3] = check("stripe", at(60), 1, 90);
    outpost_record_add_str(r[3], OUTPOST_F_STATUS, "healthy");
    outpost_record_add_float(r[3], OUTPOST_F_HEALTH_SCORE, 0.75);
    outpost_record_add_int(r[3], OUTPOST_F_CONSECUTIVE_FAILURES, 0);
    outpost_record_add_str(r[3], OUTPOST_F_CIRCUIT, "closed");
    outpost_record_add_str(r[3], OUTPOST_F_FAILOVER_ACTIVE, "stripe");
    outpost_record_add_float(r[3], "success_rate_24h", 0.5);
    outpost_record_add_float(r[3], "uptime_30d", 0.99);
    push(f, r, 4);
    assert_int_equal(drain(f, 10000), 0);
    sql_ok(f->pg, "SET TIME ZONE 'UTC'");
    assert_rows(f->pg, "SELECT ts, integration, name, category, provider, "
                "status, success, status_code, response_ms, dns_ms, error, "
                "tags FROM integration_health_log ORDER BY ts",
                "2026-12-07 12:00:00+00|stripe|payments|payments|stripe|NULL"
                "|t|200|80.25|1.5|NULL|{\"category\": \"payments\", "
                "\"provider\": \"stripe\", \"integration\": \"stripe\", "
                "\"failover_group\": \"pay\"}\n"
                "2026-12-07 12:00:01+00|paypal|payments|payments|stripe|NULL"
                "|f|503|5000|1.5|status: got 503\tbad|{\"category\": "
                "\"payments\", \"provider\": \"stripe\", \"integration\": "
                "\"paypal\", \"failover_group\": \"pay\"}\n"
                "2026-12-07 12:00:30+00|stripe|payments|payments|stripe|NULL"
                "|f|503|1200|1.5|status: got 503\tbad|{\"category\": "
                "\"payments\", \"provider\": \"stripe\", \"integration\": "
                "\"stripe\", \"failover_group\": \"pay\"}\n"
                "2026-12-07 12:01:00+00|stripe|payments|payments|stripe|"
                "healthy|t|200|90|1.5|NULL|{\"category\": \"payments\", "
                "\"provider\": \"stripe\", \"integration\": \"stripe\", "
                "\"failover_group\": \"pay\"}\n");
    assert_rows(f->pg, "SELECT integration, status, health_score, "
                "last_check_at, success, response_ms, success_rate_24h, "
                "uptime_30d, consecutive_failures, circuit, failover_group, "
                "failover_active, last_error, last_error_at "
                "FROM integration_health ORDER BY 1",
                "paypal|down|NULL|2026-12-07 12:00:01+00|f|5000|NULL|NULL|"
                "NULL|NULL|pay|NULL|status: got 503\tbad|"
                "2026-12-07 12:00:01+00\n"
                "stripe|healthy|0.75|2026-12-07 12:01:00+00|t|90|0.5|0.99|0|"
                "closed|pay|stripe|NULL|NULL\n");
    /* An older check arriving late goes to the log, not over the state;
     * a newer failure keeps what it does not say and records its error. */
    old = check("stripe", at(45), 0, 10);
    push(f, &old, 1);
    assert_int_equal(drain(f, 10000), 0);
    outpost_record_unref(old);
    old = check("stripe", at(90), 0, 3000);
    push(f, &old, 1);
    assert_int_equal(drain(f, 10000), 0);
    outpost_record_unref(old);
    assert_rows(f->pg, "SELECT integration, status, health_score, "
                "last_check_at, response_ms, circuit, last_error, "
                "last_error_at FROM integration_health WHERE integration = "
                "'stripe'",
                "stripe|down|0.75|2026-12-07 12:01:30+00|3000|closed|"
                "status: got 503\tbad|2026-12-07 12:01:30+00\n");
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log"), 6);
    unref_all(r, 4);
    fixture_free(f);
}

/* Events as the alert filter makes them (plugins/alert/notify.c). */
static outpost_record_t *
alert_event(outpost_event_kind_t kind, const char *action, int64_t ts_ns,
            int64_t since_s, int occurrences, const char *notify)
{
    outpost_tagset_t *ts = tags_of("stripe", NULL);
    outpost_record_t *m = outpost_measurement_new("payments", ts, ts_ns);
    outpost_record_t *ev = outpost_event_new(kind, kind == OUTPOST_EV_RESOLVE
                                             ? OUTPOST_SEV_INFO
                                             : OUTPOST_SEV_ERROR, m,
                                             "stripe is down",
                                             "stripe:down");

    outpost_tagset_unref(ts);
    outpost_record_unref(m);
    ev->ts_ns = ts_ns;
    outpost_record_add_str(ev, OUTPOST_F_ACTION, action);
    outpost_record_add_str(ev, OUTPOST_F_PRIORITY, "high");
    outpost_record_add_int(ev, OUTPOST_F_OCCURRENCES, occurrences);
    outpost_record_add_int(ev, "since", since_s);
    if (strcmp(action, "acknowledge") == 0) {
        outpost_record_add_bool(ev, "acknowledged", 1);
        outpost_record_add_str(ev, "acknowledged_by", "alice");
    }
    if (notify)
        outpost_record_set_tag(ev, OUTPOST_TAG_NOTIFY, notify);
    return ev;
}

static void
send_one(struct fixture *f, outpost_record_t *r)
{
    push(f, &r, 1);
    assert_int_equal(drain(f, 10000), 0);
    outpost_record_unref(r);
}

#define ALERT_COLS "SELECT dedup_key, integration, severity, status, " \
    "occurrences, first_seen, last_seen, acknowledged_at, acknowledged_by, " \
    "resolved_at, escalated_at, channels FROM integration_alerts ORDER BY id"

static void
alert_lifecycle(void **state)
{
    struct fixture *f = fixture_new("alerts", NULL, 1);
    int64_t since = T0_NS / 1000000000LL;

    (void) state;
    sql_ok(f->pg, "SET TIME ZONE 'UTC'");
    send_one(f, alert_event(OUTPOST_EV_ALERT, "open", at(0), since, 1,
                            "slack"));
    assert_rows(f->pg, ALERT_COLS,
                "stripe:down|stripe|error|active|1|2026-12-07 12:00:00+00|"
                "2026-12-07 12:00:00+00|NULL|NULL|NULL|NULL|{slack}\n");
    send_one(f, alert_event(OUTPOST_EV_ALERT, "repeat", at(600), since, 4,
                            "slack"));
    send_one(f, alert_event(OUTPOST_EV_ESCALATE, "escalate", at(700), since,
                            4, "sms"));
    assert_rows(f->pg, ALERT_COLS,
                "stripe:down|stripe|error|active|4|2026-12-07 12:00:00+00|"
                "2026-12-07 12:11:40+00|NULL|NULL|NULL|"
                "2026-12-07 12:11:40+00|{slack,sms}\n");
    send_one(f, alert_event(OUTPOST_EV_ALERT, "acknowledge", at(800), since,
                            4, NULL));
    assert_rows(f->pg, ALERT_COLS,
                "stripe:down|stripe|error|acknowledged|4|"
                "2026-12-07 12:00:00+00|2026-12-07 12:13:20+00|"
                "2026-12-07 12:13:20+00|alice|NULL|"
                "2026-12-07 12:11:40+00|{slack,sms}\n");
    send_one(f, alert_event(OUTPOST_EV_RESOLVE, "resolve", at(900), since, 4,
                            "slack"));
    assert_rows(f->pg, ALERT_COLS,
                "stripe:down|stripe|error|resolved|4|"
                "2026-12-07 12:00:00+00|2026-12-07 12:15:00+00|"
                "2026-12-07 12:13:20+00|alice|2026-12-07 12:15:00+00|"
                "2026-12-07 12:11:40+00|{slack,sms}\n");
    /* A late repeat of that alert changes nothing; the same key opening
     * again later is a new alert. */
    send_one(f, alert_event(OUTPOST_EV_ALERT, "repeat", at(650), since, 3,
                            "slack"));
    send_one(f, alert_event(OUTPOST_EV_ALERT, "open", at(3600), since + 3600,
                            1, "slack"));
    assert_rows(f->pg, "SELECT status, occurrences, last_seen, channels "
                "FROM integration_alerts ORDER BY id",
                "resolved|4|2026-12-07 12:15:00+00|{slack,sms}\n"
                "active|1|2026-12-07 13:00:00+00|{slack}\n");
    fixture_free(f);
}

/* The same batch written twice (the answer to its COMMIT lost): the
 * second time adds no row and changes no state. */
static void
resent_batch_adds_nothing(void **state)
{
    struct fixture *f = fixture_new("resend", NULL, 1);
    outpost_record_t *r[201];
    int64_t since = T0_NS / 1000000000LL;
    char *before, *after;

    (void) state;
    for (int i = 0; i < 200; i++)
        r[i] = check(i % 2 ? "stripe" : "paypal", at(i), i % 7 != 0,
                     50 + i);
    r[200] = alert_event(OUTPOST_EV_ALERT, "open", at(10), since, 1,
                         "slack");
    push(f, r, 201);
    assert_int_equal(drain(f, 10000), 0);
    before = rows(f->pg, "SELECT * FROM integration_health_log ORDER BY "
                  "integration, ts");
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log"), 200);
    push(f, r, 201);
    assert_int_equal(drain(f, 10000), 0);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log"), 200);
    after = rows(f->pg, "SELECT * FROM integration_health_log ORDER BY "
                 "integration, ts");
    assert_string_equal(before, after);
    assert_rows(f->pg, "SELECT count(*), max(occurrences) FROM "
                "integration_alerts", "1|1\n");
    assert_rows(f->pg, "SELECT integration, last_check_at = "
                "'2026-12-07 12:03:19+00' OR last_check_at = "
                "'2026-12-07 12:03:18+00' FROM integration_health ORDER BY 1",
                "paypal|t\nstripe|t\n");
    free(before);
    free(after);
    unref_all(r, 201);
    fixture_free(f);
}

/* Two records of a batch the server refuses (a number that is not one,
 * a status code out of an integer's range): they go to the dead letters
 * with the server's reason, the 98 others go in. */
#define FAST  "\"fast\" (SQLSTATE 22P02)"
#define RANGE "integer out of range (SQLSTATE 22003)"

static void
refused_records_dead_lettered(void **state)
{
    struct fixture *f = fixture_new("poison", NULL, 1);
    outpost_record_t *r[100];
    struct output_stats st;
    char path[PATH_MAX + 64], buf[65536];
    size_t len;
    int n = 0;
    FILE *fp;

    (void) state;
    for (int i = 0; i < 100; i++)
        r[i] = check("stripe", at(i), 1, 50 + i);
    outpost_record_add_str(r[13], OUTPOST_F_RESPONSE_MS, "fast");
    outpost_record_add_int(r[71], OUTPOST_F_STATUS_CODE, 5000000000LL);
    push(f, r, 100);
    assert_int_equal(drain(f, 20000), -1);      /* -1: some were refused */
    output_get_stats(f->w, &st);
    assert_int_equal(st.delivered, 98);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.dead_lettered, 2);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log"), 98);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log WHERE ts IN "
                           "('2026-12-07 12:00:13+00', "
                           "'2026-12-07 12:01:11+00')"), 0);
    assert_rows(f->pg, "SELECT response_ms FROM integration_health "
                "WHERE integration = 'stripe'", "149\n");
    /* The dead-letter file is binary records with their reasons. */
    snprintf(path, sizeof(path), "%s/deadletter/postgres.history", f->state);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    len = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    for (const char *p = buf; (p = memmem(p, len - (size_t) (p - buf),
                                          "SQLSTATE", 8)) != NULL; p++)
        n++;
    assert_int_equal(n, 2);
    assert_non_null(memmem(buf, len, FAST, strlen(FAST)));
    assert_non_null(memmem(buf, len, RANGE, strlen(RANGE)));
    unref_all(r, 100);
    fixture_free(f);
}

/* A batch large enough to be split over three writers, a record in the
 * last slice refused: the other slices are in, the record is
 * dead-lettered, the merge path adds the rest of its slice; written
 * again, nothing is added; a fresh batch then goes in over three
 * connections. */
#define BIG 4000

static void
large_batch_split_over_writers(void **state)
{
    struct fixture *f = fixture_new("writers", "writers = 3", 1);
    outpost_record_t **r = calloc(BIG, sizeof(*r));
    outpost_record_t **fresh = calloc(BIG, sizeof(*fresh));
    struct output_stats st;
    char names[4][16];

    (void) state;
    for (int i = 0; i < 4; i++)
        snprintf(names[i], sizeof(names[i]), "int-%d", i);
    for (int i = 0; i < BIG; i++) {
        r[i] = check(names[i % 4], at(i), i % 9 != 0, 50 + i);
        fresh[i] = check(names[i % 4], at(BIG + i), 1, 50);
    }
    outpost_record_add_str(r[BIG - 100], OUTPOST_F_RESPONSE_MS, "fast");
    push(f, r, BIG);
    assert_int_equal(drain(f, 60000), -1);
    output_get_stats(f->w, &st);
    assert_int_equal(st.delivered, BIG - 1);
    assert_int_equal(st.dead_lettered, 1);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log"), BIG - 1);
    push(f, r, BIG);
    drain(f, 60000);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log"), BIG - 1);
    push(f, fresh, BIG);
    drain(f, 60000);            /* -1: a record was refused before */
    output_get_stats(f->w, &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log"), 2 * BIG - 1);
    assert_int_equal(count(f->pg, "SELECT count(DISTINCT (integration, ts, "
                           "name)) FROM integration_health_log"),
                     2 * BIG - 1);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM pg_stat_activity "
                           "WHERE application_name = 'outpost' AND datname "
                           "= current_database()"), 3);
    unref_all(r, BIG);
    unref_all(fresh, BIG);
    free(r);
    free(fresh);
    fixture_free(f);
}

/* Partitions of ten past days, a retention of 5 days: the tick drops
 * exactly the partitions whose whole day is older than that, and the
 * resolved alerts older than it. */
static void
retention_drops_old_partitions(void **state)
{
    struct fixture *f = fixture_new("retention", "retention = \"5d\"", 0);
    const outpost_plugin_t *p = registry_find(f->reg, "postgres");
    registry_tick_fn tick = registry_output_tick(p);
    int64_t today = outpost_time_now() / DAY_NS;
    char sql[512], want[4096];
    size_t len = 0;

    (void) state;
    tick(f->inst);                      /* makes the schema */
    for (int64_t d = today - 10; d < today; d++) {
        {
            char name[16], from[16], to[16];
            time_t t = (time_t) (d * 86400), u = t + 86400;
            struct tm tm;

            gmtime_r(&t, &tm);
            strftime(name, sizeof(name), "%Y%m%d", &tm);
            strftime(from, sizeof(from), "%Y-%m-%d", &tm);
            gmtime_r(&u, &tm);
            strftime(to, sizeof(to), "%Y-%m-%d", &tm);
            snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS "
                     "integration_health_log_%s PARTITION OF "
                     "integration_health_log FOR VALUES FROM ('%s 00:00+00')"
                     " TO ('%s 00:00+00'); INSERT INTO "
                     "integration_health_log (ts, integration, name) VALUES "
                     "('%s 12:00+00', 'x', 'y')", name, from, to, from);
            sql_ok(f->pg, sql);
            /* The partitions of today - 5 and after stay. */
            if (d >= today - 5)
                len += (size_t) snprintf(want + len, sizeof(want) - len,
                                         "integration_health_log_%s\n",
                                         name);
        }
    }
    for (int64_t d = today; d <= today + 3; d++) {
        char name[16];
        time_t t = (time_t) (d * 86400);
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(name, sizeof(name), "%Y%m%d", &tm);
        len += (size_t) snprintf(want + len, sizeof(want) - len,
                                 "integration_health_log_%s\n", name);
    }
    sql_ok(f->pg, "INSERT INTO integration_alerts (dedup_key, integration, "
           "severity, status, first_seen, last_seen, resolved_at) VALUES "
           "('old', 'x', 'error', 'resolved', now() - interval '9 days', "
           "now() - interval '9 days', now() - interval '8 days'), "
           "('recent', 'x', 'error', 'resolved', now() - interval '2 days', "
           "now() - interval '2 days', now() - interval '1 day'), "
           "('open', 'x', 'error', 'active', now() - interval '20 days', "
           "now() - interval '20 days', NULL)");
    tick(f->inst);
    assert_rows(f->pg, "SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                "ON c.oid = i.inhrelid WHERE i.inhparent = "
                "'integration_health_log'::regclass ORDER BY 1", want);
    assert_int_equal(count(f->pg, "SELECT count(*) FROM "
                           "integration_health_log"), 5);
    assert_rows(f->pg, "SELECT dedup_key FROM integration_alerts ORDER BY 1",
                "open\nrecent\n");
    fixture_free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_created_and_versioned),
        cmocka_unit_test(schema_newer_is_refused),
        cmocka_unit_test(schema_migrated_from_version_1),
        cmocka_unit_test(log_rows_and_current_state),
        cmocka_unit_test(alert_lifecycle),
        cmocka_unit_test(resent_batch_adds_nothing),
        cmocka_unit_test(refused_records_dead_lettered),
        cmocka_unit_test(large_batch_split_over_writers),
        cmocka_unit_test(retention_drops_old_partitions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
