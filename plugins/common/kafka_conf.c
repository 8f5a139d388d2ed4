/*
 * kafka_conf.c - librdkafka client configuration (kafka_conf.h).
 */
#include <stdio.h>
#include <string.h>
#include "kafka_conf.h"

int
kafka_property_split(const char *kv, char key[KAFKA_KEY_MAX],
                     const char **value)
{
    const char *eq = strchr(kv, '=');

    if (eq == NULL || eq == kv || (size_t) (eq - kv) >= KAFKA_KEY_MAX)
        return -1;
    memcpy(key, kv, (size_t) (eq - kv));
    key[eq - kv] = '\0';
    *value = eq + 1;
    return 0;
}

int
kafka_conf_set(rd_kafka_conf_t *kc, const char *key, const char *value,
               char *err, size_t errlen)
{
    char why[256];

    if (rd_kafka_conf_set(kc, key, value, why, sizeof(why))
        == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(err, errlen, "librdkafka rejects property %s", key);
    return -1;
}

int
kafka_conf_properties(rd_kafka_conf_t *kc, const outpost_strlist_t *props,
                      char *err, size_t errlen)
{
    char key[KAFKA_KEY_MAX], why[256];
    const char *value;

    for (size_t i = 0; props != NULL && i < props->n; i++) {
        if (kafka_property_split(props->v[i], key, &value) != 0) {
            snprintf(err, errlen, "properties: \"key=value\" expected");
            return -1;
        }
        if (rd_kafka_conf_set(kc, key, value, why, sizeof(why))
            != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "properties: librdkafka rejects property "
                     "%s", key);
            return -1;
        }
    }
    return 0;
}

int
kafka_properties_check(const outpost_strlist_t *props, char *err,
                       size_t errlen)
{
    rd_kafka_conf_t *kc;
    int rc;

    if (props == NULL || props->n == 0)
        return 0;
    if ((kc = rd_kafka_conf_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rc = kafka_conf_properties(kc, props, err, errlen);
    rd_kafka_conf_destroy(kc);
    return rc;
}

rd_kafka_conf_t *
kafka_conf_client(const struct kafka_client_opts *o, char *err,
                  size_t errlen)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char request_ms[24], setup_ms[24];

    if (kc == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(request_ms, sizeof(request_ms), "%lld",
             (long long) (o->timeout_ms > 10 ? o->timeout_ms : 10));
    snprintf(setup_ms, sizeof(setup_ms), "%lld",
             (long long) (o->timeout_ms > 1000 ? o->timeout_ms : 1000));
    if (kafka_conf_set(kc, "bootstrap.servers", o->brokers, err, errlen)
        || kafka_conf_set(kc, "client.id", "outpost", err, errlen)
        || kafka_conf_set(kc, "socket.timeout.ms", request_ms, err, errlen)
        || kafka_conf_set(kc, "socket.connection.setup.timeout.ms",
                          setup_ms, err, errlen)
        || kafka_conf_set(kc, "reconnect.backoff.max.ms", "1000", err,
                          errlen)
        || (o->username && kafka_conf_set(kc, "sasl.username", o->username,
                                          err, errlen))
        || (o->password && o->password[0]
            && kafka_conf_set(kc, "sasl.password", o->password, err,
                              errlen)))
        goto fail;
    for (const char *const *s = o->settings; s && s[0]; s += 2)
        if (kafka_conf_set(kc, s[0], s[1], err, errlen) != 0)
            goto fail;
    if (kafka_conf_properties(kc, o->properties, err, errlen) != 0)
        goto fail;
    return kc;
fail:
    rd_kafka_conf_destroy(kc);
    return NULL;
}

int
kafka_err_auth(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR__AUTHENTICATION
           || err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED
           || err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED
           || err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED;
}

int
kafka_err_unreachable(rd_kafka_resp_err_t err)
{
    return err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
           || err == RD_KAFKA_RESP_ERR__RESOLVE
           || err == RD_KAFKA_RESP_ERR__SSL;
}
