/*
 * kafka_conf.h - librdkafka client configuration: the operator's
 * "key=value" properties, checked when the config is read and applied
 * last, and the settings every outpost client shares. Shared by the
 * `databases` input and the `kafka` output.
 *
 * Rules:
 *   1. Nothing here connects: a configuration is plain data until
 *      rd_kafka_new() takes it, so the checks run from validate
 *      (outpostd -t) without a network.
 *   2. Messages name the property, never its value (it may be a SASL
 *      password or a key), and never repeat librdkafka's message, which
 *      may quote the value.
 */
#ifndef OUTPOST_KAFKA_CONF_H
#define OUTPOST_KAFKA_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>
#include <outpost/plugin.h>

#define KAFKA_KEY_MAX 128   /* longest property name taken, with its NUL */

/* Splits "key=value" (the value may be empty and may hold '='): copies
 * the key into key[KAFKA_KEY_MAX] and points *value into kv. 0, or -1
 * when there is no '=', the key is empty or too long. */
int kafka_property_split(const char *kv, char key[KAFKA_KEY_MAX],
                         const char **value);

/* Sets key = value: 0, or -1 and "librdkafka rejects property <key>" in
 * err. */
int kafka_conf_set(rd_kafka_conf_t *kc, const char *key, const char *value,
                   char *err, size_t errlen);

/* Applies the "key=value" lines of props in order: 0, or -1 and
 * "properties: ..." in err. */
int kafka_conf_properties(rd_kafka_conf_t *kc, const outpost_strlist_t *props,
                          char *err, size_t errlen);

/* For validate: kafka_conf_properties() on a scratch configuration. */
int kafka_properties_check(const outpost_strlist_t *props, char *err,
                           size_t errlen);

/* What an outpost client is configured from. */
struct kafka_client_opts {
    const char *brokers;          /* bootstrap.servers */
    const char *username;         /* sasl.username, NULL: not set */
    const char *password;         /* sasl.password, NULL or "": not set */
    /* The instance's timeout: a request unanswered this long is an
     * outage (socket.timeout.ms, at least 10), and a connection not set
     * up in it (at least 1 s) is retried. */
    int64_t     timeout_ms;
    /* The client's own settings ("key", "value", ..., NULL), applied
     * after the shared ones, so they may override them. */
    const char *const *settings;
    /* The operator's "key=value" properties, applied last, so that they
     * override everything above. */
    const outpost_strlist_t *properties;
};

/*
 * A new configuration from o: bootstrap.servers, client.id "outpost",
 * the timeouts, reconnect.backoff.max.ms 1000 (librdkafka waits up to
 * 10 s by default; after an outage the client should be back within
 * about a second of the cluster), SASL credentials, then o->settings and
 * o->properties. The caller owns it (rd_kafka_new() or
 * rd_kafka_conf_destroy()). NULL and why in err.
 */
rd_kafka_conf_t *kafka_conf_client(const struct kafka_client_opts *o,
                                   char *err, size_t errlen);

/* Error classes, for "auth" and "connect" failures. */
int kafka_err_auth(rd_kafka_resp_err_t err);          /* SASL, ACLs */
int kafka_err_unreachable(rd_kafka_resp_err_t err);   /* no broker */

#endif /* OUTPOST_KAFKA_CONF_H */
