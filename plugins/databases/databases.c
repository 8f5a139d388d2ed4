/*
 * databases.c - the `databases` input: a health probe of a PostgreSQL,
 * Redis or Kafka service. The instance's common `provider` option picks
 * the provider (postgres.c, redis.c, kafka.c); this file holds the option
 * table, the dispatch and the parts of a probe every provider shares:
 * its deadline and how success and failure are written.
 *
 * Each run is one blocking probe on a collector thread and emits one
 * measurement with success, response_ms, the provider's per-step *_ms
 * fields and numbers, and on failure error "<reason>: <detail>".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include "databases.h"

/* Our own deadline sits this far before the core's (a tenth of the
 * timeout, at most this), so a step that runs out of time is still
 * reported as what it was ("timeout: no connection after ...") rather
 * than as a run the core had to cancel, even when a client library's
 * wait or the thread's wake-up runs a little late on a busy machine. */
#define DEADLINE_MARGIN_MS 50

#define OPT(n, t, f) \
    .name = n, .type = t, .offset = offsetof(struct db_conf, f)

static const outpost_option_t db_options[] = {
    { OPT("conninfo", OUTPOST_OPT_SECRET, conninfo),
      .help = "postgres: libpq connection string or URI" },
    { OPT("query", OUTPOST_OPT_STRING, query),
      .help = "postgres: a query to run after SELECT 1 (first column of "
              "the first row is its value)" },
    { OPT("expect", OUTPOST_OPT_STRING, expect),
      .help = "postgres: the value query must return" },
    { OPT("url", OUTPOST_OPT_SECRET, url),
      .help = "redis: redis://[[username]:password@]host[:port][/db]" },
    { OPT("host", OUTPOST_OPT_STRING, host),
      .help = "redis: host when url is not set (default 127.0.0.1)" },
    { OPT("port", OUTPOST_OPT_INT, port), .def = "6379", .min = 1,
      .max = 65535, .help = "redis: port when url is not set" },
    { OPT("db", OUTPOST_OPT_INT, db), .def = "0", .min = 0, .max = 1000000,
      .help = "redis: database number when url is not set" },
    { OPT("username", OUTPOST_OPT_STRING, username),
      .help = "redis: ACL user; kafka: SASL user" },
    { OPT("password", OUTPOST_OPT_SECRET, password),
      .help = "redis: AUTH password; kafka: SASL password" },
    { OPT("brokers", OUTPOST_OPT_STRING, brokers),
      .help = "kafka: bootstrap brokers, host:port[,host:port...]" },
    { OPT("topic", OUTPOST_OPT_STRING, topic),
      .help = "kafka: topic whose consumer-group lag is measured" },
    { OPT("group", OUTPOST_OPT_STRING, group),
      .help = "kafka: consumer group whose lag on topic is measured" },
    { OPT("properties", OUTPOST_OPT_STRLIST, properties),
      .help = "kafka: extra librdkafka properties, \"key=value\"" },
    OUTPOST_OPTION_END
};

/* Which provider reads which string option, to warn about the rest. */
static const struct {
    const char *name;
    size_t      offset;
    const char *providers;
} db_scoped[] = {
    { "conninfo", offsetof(struct db_conf, conninfo), "postgres" },
    { "query",    offsetof(struct db_conf, query),    "postgres" },
    { "expect",   offsetof(struct db_conf, expect),   "postgres" },
    { "url",      offsetof(struct db_conf, url),      "redis" },
    { "host",     offsetof(struct db_conf, host),     "redis" },
    { "username", offsetof(struct db_conf, username), "redis and kafka" },
    { "password", offsetof(struct db_conf, password), "redis and kafka" },
    { "brokers",  offsetof(struct db_conf, brokers),  "kafka" },
    { "topic",    offsetof(struct db_conf, topic),    "kafka" },
    { "group",    offsetof(struct db_conf, group),    "kafka" },
};

static const struct db_provider *const db_providers[] = {
    &db_postgres, &db_redis, &db_kafka
};

struct databases {
    const struct db_provider *provider;
    void                     *state;
};

/* --- the probe ----------------------------------------------------------- */

void
db_step(struct db_probe *p, const char *name, int64_t t0_us)
{
    outpost_record_add_float(p->rec, name,
                             (double) (db_now_us() - t0_us) / 1000.0);
}

void
db_fail(struct db_probe *p, const char *reason, const char *fmt, ...)
{
    char detail[512], error[600];
    va_list ap;

    if (p->failed)
        return;
    p->failed = 1;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    snprintf(error, sizeof(error), "%s: %s", reason, detail);
    outpost_record_add_str(p->rec, OUTPOST_F_ERROR, error);
    outpost_record_add_str(p->rec, OUTPOST_F_REASON, reason);
}

void
db_fail_err(struct db_probe *p, const struct dbconn_err *e)
{
    if (e->deadline)
        db_fail(p, e->reason, "%s after %lld ms", e->msg,
                (long long) ((db_now_us() - p->start_us) / 1000));
    else
        db_fail(p, e->reason, "%s", e->msg);
}

void
db_credentials_missing(struct db_probe *p, const char *what)
{
    db_fail(p, "credentials missing", "%s", what);
    outpost_record_add_str(p->rec, OUTPOST_F_STATUS_HINT, "unknown");
}

/* --- the plugin ---------------------------------------------------------- */

static const struct db_provider *
find_provider(const char *name)
{
    for (size_t i = 0; i < sizeof(db_providers) / sizeof(db_providers[0]);
         i++)
        if (name && strcmp(db_providers[i]->name, name) == 0)
            return db_providers[i];
    return NULL;
}

/* An option another provider reads is almost always a mistake in the
 * config (a copied section, a wrong provider); say so but keep probing. */
static void
warn_foreign_options(outpost_instance_t *inst, const struct db_conf *conf,
                     const char *provider)
{
    for (size_t i = 0; i < sizeof(db_scoped) / sizeof(db_scoped[0]); i++) {
        const char *set = *(char *const *) ((const char *) conf
                                             + db_scoped[i].offset);

        if (set != NULL && strstr(db_scoped[i].providers, provider) == NULL)
            outpost_log(inst, OUTPOST_LOG_WARN, "init",
                        "option %s is ignored by provider %s (it is for %s)",
                        db_scoped[i].name, provider, db_scoped[i].providers);
    }
    if (conf->properties.n > 0 && strcmp(provider, "kafka") != 0)
        outpost_log(inst, OUTPOST_LOG_WARN, "init",
                    "option properties is ignored by provider %s (it is "
                    "for kafka)", provider);
}

static int
db_init(outpost_instance_t *inst)
{
    const struct db_conf *conf = outpost_instance_conf(inst);
    const char *name = outpost_tagset_get(outpost_instance_tags(inst),
                                          "provider");
    const struct db_provider *provider = find_provider(name);
    struct databases *db;

    if (provider == NULL)   /* the core checked it against .providers */
        return -1;
    if ((db = calloc(1, sizeof(*db))) == NULL)
        return -1;
    db->provider = provider;
    warn_foreign_options(inst, conf, name);
    if (db->provider->init(inst, conf, &db->state) != 0) {
        free(db);
        return -1;
    }
    outpost_instance_set_data(inst, db);
    return 0;
}

/* The probe's deadline: the instance timeout counted from the start of
 * the run (the record's timestamp), not from now, since the run may have
 * waited for a free collector thread and the core's deadline did not. */
static int64_t
probe_deadline(outpost_instance_t *inst, const outpost_record_t *rec,
               int64_t now_us)
{
    int64_t timeout = outpost_instance_timeout_ms(inst);
    int64_t waited = (outpost_time_now() - rec->ts_ns) / 1000000;
    int64_t margin = timeout / 10 < DEADLINE_MARGIN_MS ? timeout / 10
                                                       : DEADLINE_MARGIN_MS;
    int64_t budget;

    if (waited < 0 || waited > timeout)
        waited = waited < 0 ? 0 : timeout;
    budget = timeout - waited - margin;
    return now_us + (budget > 1 ? budget : 1) * 1000;
}

static int
db_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    struct databases *db = outpost_instance_data(inst);
    struct db_probe p = { .inst = inst };

    if ((p.rec = outpost_run_measurement(run)) == NULL)
        return OUTPOST_RUN_DONE;
    p.start_us = db_now_us();
    p.deadline_us = probe_deadline(inst, p.rec, p.start_us);
    db->provider->probe(db->state, outpost_instance_conf(inst), &p);
    outpost_record_add_bool(p.rec, OUTPOST_F_SUCCESS, !p.failed);
    db_step(&p, OUTPOST_F_RESPONSE_MS, p.start_us);
    outpost_run_emit(run, p.rec);
    return OUTPOST_RUN_DONE;
}

static void
db_shutdown(outpost_instance_t *inst)
{
    struct databases *db = outpost_instance_data(inst);

    if (db == NULL)
        return;
    db->provider->shutdown(db->state);
    free(db);
}

/* What the option table cannot say, checked when the config is read.
 * Each provider's options are only its own (init warns when another
 * provider is given them), so all are checked whatever the provider. */
static int
db_validate(const void *conf, char *err, size_t errlen)
{
    const struct db_conf *c = conf;

    if (redis_conf_check(c, err, errlen) != 0)
        return -1;
    if (pg_conf_check(c, err, errlen) != 0)
        return -1;
    return kafka_conf_check(c, err, errlen);
}

/* What the provider needs that its section may lack. */
static int
db_validate_provider(const void *conf, const char *provider, char *err,
                     size_t errlen)
{
    const struct db_conf *c = conf;
    size_t len = 0;

    if (strcmp(provider, "postgres") == 0 && c->conninfo == NULL) {
        snprintf(err, errlen, "provider postgres needs conninfo (or "
                 "conninfo_env, conninfo_file)");
        return -1;
    }
    if (strcmp(provider, "kafka") == 0
        && (c->brokers == NULL || c->brokers[0] == '\0')) {
        snprintf(err, errlen, "provider kafka needs brokers");
        return -1;
    }
    /* The options another provider reads: warnings, one a line. */
    err[0] = '\0';
    for (size_t i = 0; i < sizeof(db_scoped) / sizeof(db_scoped[0]); i++) {
        const char *set = *(char *const *) ((const char *) conf
                                             + db_scoped[i].offset);

        if (set != NULL && strstr(db_scoped[i].providers, provider) == NULL
            && len < errlen)
            len += (size_t) snprintf(err + len, errlen - len, "%s%s: ignored "
                                     "by provider %s (it is for %s)",
                                     len ? "\n" : "", db_scoped[i].name,
                                     provider, db_scoped[i].providers);
    }
    if (c->properties.n > 0 && strcmp(provider, "kafka") != 0 && len < errlen)
        len += (size_t) snprintf(err + len, errlen - len, "%sproperties: "
                                 "ignored by provider %s (it is for kafka)",
                                 len ? "\n" : "", provider);
    return len > 0 ? 1 : 0;
}

/* The common option `provider` picks one (outpostd -t checks it). */
static const char *const provider_names[] = {
    "postgres", "redis", "kafka", NULL
};

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "databases",
    .description = "probe PostgreSQL, Redis or Kafka: connect, round trip, "
                   "replication and cluster health",
    .kind = OUTPOST_INPUT,
    .options = db_options,
    .conf_size = sizeof(struct db_conf),
    .init = db_init,
    .collect = db_collect,
    .shutdown = db_shutdown,
    .validate = db_validate,
    .providers = provider_names,
    .validate_provider = db_validate_provider,
};
