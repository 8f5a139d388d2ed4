/*
 * databases.h - what the `databases` plugin (databases.c) shares with its
 * providers (postgres.c, redis.c, kafka.c): the one conf block every
 * provider reads its options from, the probe a provider fills in, and the
 * provider interface itself.
 */
#ifndef OUTPOST_DATABASES_H
#define OUTPOST_DATABASES_H

#include <stdint.h>
#include <outpost/plugin.h>
#include "dbconn.h"

/* One option table serves all providers; each reads only its own rows
 * (databases.c warns about rows set for another provider). */
struct db_conf {
    /* postgres */
    char              *conninfo;
    char              *query;
    char              *expect;
    /* redis */
    char              *url;
    char              *host;
    int64_t            port;
    int64_t            db;
    /* redis and kafka */
    char              *username;
    char              *password;
    /* kafka */
    char              *brokers;
    char              *topic;
    char              *group;
    outpost_strlist_t  properties;
};

/* One run of a provider: the measurement it fills and the time it has.
 * Every blocking step must end by deadline_us, so that the plugin reports
 * its own, precise failure before the core cancels the run. */
struct db_probe {
    outpost_instance_t *inst;
    outpost_record_t   *rec;
    int64_t             start_us;     /* monotonic */
    int64_t             deadline_us;  /* monotonic */
    int                 failed;
};

/* The clock and the time left, from plugins/common/dbconn.h: every
 * blocking step goes through the shared helpers with p->deadline_us. */
static inline int64_t
db_now_us(void)
{
    return dbconn_now_us();
}

static inline int64_t
db_remaining_ms(const struct db_probe *p)
{
    return dbconn_left_ms(p->deadline_us);
}

/* Adds the field `name` (e.g. "connect_ms"): milliseconds since t0_us. */
void db_step(struct db_probe *p, const char *name, int64_t t0_us);

/* Marks the probe failed with error "<reason>: <detail>" and the field
 * reason. Only the first failure of a probe is kept. */
void db_fail(struct db_probe *p, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Marks the probe failed as a shared helper reported it (dbconn.h); a
 * missed deadline is told with the time it waited: "<msg> after N ms". */
void db_fail_err(struct db_probe *p, const struct dbconn_err *e);

/* A secret that is configured but empty at run time: not a failure of the
 * database, so the result is "unknown" (reason "credentials missing",
 * status_hint "unknown"), as for every other integration. */
void db_credentials_missing(struct db_probe *p, const char *what);

struct db_provider {
    const char *name;
    /* Validates conf and builds the provider's state (may stay NULL).
     * 0, or -1 after logging why. */
    int  (*init)(outpost_instance_t *inst, const struct db_conf *conf,
                 void **state);
    /* One blocking probe; fills p->rec, fails it with db_fail(). */
    void (*probe)(void *state, const struct db_conf *conf,
                  struct db_probe *p);
    void (*shutdown)(void *state);
};

extern const struct db_provider db_postgres;
extern const struct db_provider db_redis;
extern const struct db_provider db_kafka;

/* postgres.c, redis.c, kafka.c: the provider's options that only the
 * config can fix (syntax, options that go together); 0, or -1 and why in
 * err, never quoting a secret. */
int pg_conf_check(const struct db_conf *conf, char *err, size_t errlen);
int redis_conf_check(const struct db_conf *conf, char *err, size_t errlen);
int kafka_conf_check(const struct db_conf *conf, char *err, size_t errlen);

#endif /* OUTPOST_DATABASES_H */
