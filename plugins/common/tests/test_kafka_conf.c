/*
 * test_kafka_conf.c - plugins/common/kafka_conf.c: "key=value"
 * properties, their check, the shared client settings and the error
 * classes. Nothing here connects (kafka_conf.h, rule 1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "kafka_conf.h"

static void
test_split(void **state)
{
    char key[KAFKA_KEY_MAX], longkv[KAFKA_KEY_MAX + 8];
    const char *value = NULL;

    (void) state;
    assert_int_equal(kafka_property_split("acks=all", key, &value), 0);
    assert_string_equal(key, "acks");
    assert_string_equal(value, "all");
    /* Only the first '=' splits: values may hold more. */
    assert_int_equal(kafka_property_split("sasl.jaas.config=a=b", key,
                                          &value), 0);
    assert_string_equal(key, "sasl.jaas.config");
    assert_string_equal(value, "a=b");
    assert_int_equal(kafka_property_split("linger.ms=", key, &value), 0);
    assert_string_equal(key, "linger.ms");
    assert_string_equal(value, "");
    assert_int_equal(kafka_property_split("nokey", key, &value), -1);
    assert_int_equal(kafka_property_split("=value", key, &value), -1);
    assert_int_equal(kafka_property_split("", key, &value), -1);
    memset(longkv, 'k', sizeof(longkv));
    strcpy(longkv + KAFKA_KEY_MAX, "=v");
    assert_int_equal(kafka_property_split(longkv, key, &value), -1);
    longkv[KAFKA_KEY_MAX - 1] = '=';                /* just fits */
    assert_int_equal(kafka_property_split(longkv, key, &value), 0);
    assert_int_equal(strlen(key), KAFKA_KEY_MAX - 1);
}

static void
test_properties_check(void **state)
{
    char *good[] = { "security.protocol=SASL_SSL", "linger.ms=5" };
    char *nokey[] = { "linger.ms=5", "nokey" };
    char *unknown[] = { "no.such.prop=hunter2" };
    char *badvalue[] = { "linger.ms=hunter2" };
    const outpost_strlist_t none = { 0 };
    outpost_strlist_t l;
    char err[256] = "";

    (void) state;
    assert_int_equal(kafka_properties_check(&none, err, sizeof(err)), 0);
    assert_int_equal(kafka_properties_check(NULL, err, sizeof(err)), 0);
    l = (outpost_strlist_t) { 2, good };
    assert_int_equal(kafka_properties_check(&l, err, sizeof(err)), 0);
    l = (outpost_strlist_t) { 2, nokey };
    assert_int_equal(kafka_properties_check(&l, err, sizeof(err)), -1);
    assert_string_equal(err, "properties: \"key=value\" expected");
    l = (outpost_strlist_t) { 1, unknown };
    assert_int_equal(kafka_properties_check(&l, err, sizeof(err)), -1);
    assert_string_equal(err, "properties: librdkafka rejects property "
                        "no.such.prop");
    /* A value librdkafka refuses: named by its key, never quoted. */
    l = (outpost_strlist_t) { 1, badvalue };
    assert_int_equal(kafka_properties_check(&l, err, sizeof(err)), -1);
    assert_string_equal(err, "properties: librdkafka rejects property "
                        "linger.ms");
}

static void
assert_conf(rd_kafka_conf_t *kc, const char *key, const char *want)
{
    char value[256];
    size_t len = sizeof(value);

    assert_int_equal(rd_kafka_conf_get(kc, key, value, &len),
                     RD_KAFKA_CONF_OK);
    assert_string_equal(value, want);
}

static void
test_client(void **state)
{
    char *props[] = { "client.id=mine", "linger.ms=7" };
    const outpost_strlist_t pl = { 2, props };
    const char *const settings[] = { "acks", "all", "linger.ms", "50",
                                     NULL };
    struct kafka_client_opts o = {
        .brokers = "127.0.0.1:9092,127.0.0.1:9093",
        .username = "agent",
        .password = "s3cret",
        .timeout_ms = 2500,
    };
    rd_kafka_conf_t *kc;
    char err[256] = "", value[64];
    size_t len = sizeof(value);

    (void) state;
    kc = kafka_conf_client(&o, err, sizeof(err));
    assert_non_null(kc);
    assert_conf(kc, "bootstrap.servers", "127.0.0.1:9092,127.0.0.1:9093");
    assert_conf(kc, "client.id", "outpost");
    assert_conf(kc, "socket.timeout.ms", "2500");
    assert_conf(kc, "socket.connection.setup.timeout.ms", "2500");
    assert_conf(kc, "reconnect.backoff.max.ms", "1000");
    assert_conf(kc, "sasl.username", "agent");
    assert_conf(kc, "sasl.password", "s3cret");
    rd_kafka_conf_destroy(kc);

    /* Short timeouts are raised to what librdkafka can work with; an
     * empty password is not sent; settings, then properties, override. */
    o.timeout_ms = 5;
    o.password = "";
    o.settings = settings;
    o.properties = &pl;
    kc = kafka_conf_client(&o, err, sizeof(err));
    assert_non_null(kc);
    assert_conf(kc, "socket.timeout.ms", "10");
    assert_conf(kc, "socket.connection.setup.timeout.ms", "1000");
    assert_conf(kc, "acks", "-1");                  /* "all" */
    assert_conf(kc, "linger.ms", "7");
    assert_conf(kc, "client.id", "mine");
    if (rd_kafka_conf_get(kc, "sasl.password", value, &len)
        == RD_KAFKA_CONF_OK)                        /* unset, or "" */
        assert_string_equal(value, "");
    rd_kafka_conf_destroy(kc);

    /* A setting librdkafka refuses. */
    {
        const char *const bad[] = { "no.such.setting", "1", NULL };
        o.settings = bad;
        assert_null(kafka_conf_client(&o, err, sizeof(err)));
        assert_string_equal(err, "librdkafka rejects property "
                            "no.such.setting");
    }
}

static void
test_error_classes(void **state)
{
    (void) state;
    assert_true(kafka_err_auth(RD_KAFKA_RESP_ERR__AUTHENTICATION));
    assert_true(kafka_err_auth(RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED));
    assert_true(kafka_err_auth(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
    assert_false(kafka_err_auth(RD_KAFKA_RESP_ERR__TRANSPORT));
    assert_false(kafka_err_auth(RD_KAFKA_RESP_ERR_NO_ERROR));
    assert_true(kafka_err_unreachable(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN));
    assert_true(kafka_err_unreachable(RD_KAFKA_RESP_ERR__RESOLVE));
    assert_false(kafka_err_unreachable(RD_KAFKA_RESP_ERR__TIMED_OUT));
    assert_false(kafka_err_unreachable(RD_KAFKA_RESP_ERR__AUTHENTICATION));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_properties_check),
        cmocka_unit_test(test_client),
        cmocka_unit_test(test_error_classes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
