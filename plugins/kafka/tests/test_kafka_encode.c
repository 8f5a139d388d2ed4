/*
 * test_kafka_encode.c - the kafka output's encoders (plugins/kafka/
 * encode.c, compiled in): the JSON value is byte for byte "schema" plus
 * what outpost_record_to_json() (jansson) writes, for awkward numbers and
 * strings, events with their cause, and strings jansson refuses; line
 * protocol escapes what it must.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "../encode.c"

static outpost_tagset_t *
tags(const char *integration)
{
    outpost_tag_t t[] = {
        { outpost_intern("integration"), integration },
        { outpost_intern("category"), "pay,ments =x" },
        { outpost_intern("tier"), "t\"1\\\n" },
    };

    return outpost_tagset_new(t, 3);
}

/* rec through b (which may hold what earlier records left) is
 * byte for byte "schema" plus jansson's JSON. */
static void
assert_same_in(struct kbuf *bp, const outpost_record_t *rec)
{
    char *json, *want;
    size_t n;

    assert_int_equal(outpost_record_to_json(rec, &json, &n), 0);
    want = malloc(n + 16);
    snprintf(want, n + 16, "{\"schema\":1,%s", json + 1);
    assert_int_equal(kafka_encode_json(rec, bp), 0);
    assert_int_equal(bp->len, strlen(want));
    assert_memory_equal(bp->p, want, bp->len);
    free(want);
    free(json);
}

static void
assert_same_as_jansson(const outpost_record_t *rec)
{
    struct kbuf b = { 0 };
    char *json, *want;
    size_t n;

    assert_int_equal(outpost_record_to_json(rec, &json, &n), 0);
    want = malloc(n + 16);
    snprintf(want, n + 16, "{\"schema\":1,%s", json + 1);
    assert_int_equal(kafka_encode_json(rec, &b), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.p, want, b.len);
    free(want);
    free(json);
    kbuf_free(&b);
}

static void
test_json_matches_jansson(void **state)
{
    static const double reals[] = {
        0.0, -0.0, 1.0, 0.1 + 0.2, 1e20, 1e-5, 123456789012.0, -2.5e-300,
        1.7976931348623157e308, 3.14159265358979, 100.0, 1e100,
        0.0001, 0.00012, 999999999.0, 123456789.1, 1234567.891, 0.000123456,
        -42.125, 5e-5, 1e9, 12.4, 0.1,
    };
    outpost_tagset_t *ts = tags("stripe");
    outpost_record_t *m = outpost_measurement_new("http", ts, 1796665091624594501LL);
    outpost_record_t *e;
    char key[16];

    (void) state;
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        snprintf(key, sizeof(key), "r%zu", i);
        outpost_record_add_float(m, outpost_intern(key), reals[i]);
    }
    outpost_record_add_float(m, "nan", NAN);
    outpost_record_add_float(m, "inf", INFINITY);
    outpost_record_add_int(m, "big", INT64_MIN);
    {
        static const int64_t ints[] = {
            0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, -1, -9, -10, -99,
            -100, 1234567, -7654321, INT64_MAX, INT64_MIN + 1,
        };

        for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
            snprintf(key, sizeof(key), "i%zu", i);
            outpost_record_add_int(m, outpost_intern(key), ints[i]);
        }
    }
    outpost_record_add_bool(m, "ok", 1);
    outpost_record_add_bool(m, "bad", 0);
    outpost_record_add_str(m, "s", "quote\" back\\ nl\n tab\t ctl\x01 "
                           "slash/ utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    outpost_record_add_str(m, "empty", "");
    assert_same_as_jansson(m);

    e = outpost_event_new(OUTPOST_EV_ALERT, OUTPOST_SEV_CRITICAL, m,
                          "stripe is \"down\"", "outpost/stripe/health");
    outpost_record_add_str(e, "action", "open");
    assert_same_as_jansson(e);
    outpost_record_unref(e);

    /* No cause, no integration tag. */
    e = outpost_event_new(OUTPOST_EV_ESCALATE, OUTPOST_SEV_WARNING, NULL,
                          "escalating", "k");
    assert_same_as_jansson(e);
    outpost_record_unref(e);

    /* Not UTF-8: jansson's path, whatever it makes of it. */
    outpost_record_add_str(m, "bin", "\xff\xfe");
    assert_same_as_jansson(m);
    outpost_record_unref(m);
    outpost_tagset_unref(ts);
}

/* Reals one by one against jansson: the printf-free path must agree. */
static void
test_reals_match_jansson(void **state)
{
    outpost_tagset_t *ts = tags("x");
    unsigned seed = 12345;

    (void) state;
    for (int i = 0; i < 50000; i++) {
        outpost_record_t *m = outpost_measurement_new("m", ts, 1);
        double v;

        switch (i % 6) {
        case 0: v = i / 10.0; break;
        case 1: v = -i / 1000.0; break;
        case 2: v = i * 1.000001; break;
        case 3: v = (double) rand_r(&seed) / RAND_MAX * 1e10; break;
        case 4: v = (double) rand_r(&seed) / 1e7; break;
        default: v = (double) (rand_r(&seed) % 100000000) / 1e6
                      + (i % 2 ? 999999.0 : 0.0); break;
        }
        outpost_record_add_float(m, "v", v);
        assert_same_as_jansson(m);
        outpost_record_unref(m);
    }
    outpost_tagset_unref(ts);
}

static void
test_influx_escapes(void **state)
{
    outpost_tagset_t *ts = tags("b, =eta");
    outpost_record_t *m = outpost_measurement_new("my http", ts, 42);
    outpost_record_t *e;
    struct kbuf b = { 0 };
    const char *why;

    (void) state;
    outpost_record_add_int(m, "n", -3);
    outpost_record_add_float(m, "f", 0.1);
    outpost_record_add_float(m, "nan", NAN);
    outpost_record_add_bool(m, "ok", 1);
    outpost_record_add_str(m, "s k", "a \"q\" \\ \nz");
    assert_int_equal(kafka_encode_influx(m, &b, &why), 0);
    b.p[b.len] = '\0';
    assert_string_equal(b.p,
        "my\\ http,category=pay\\,ments\\ \\=x,integration=b\\,\\ \\=eta,"
        "tier=t\"1\\\\\\  n=-3i,f=0.1,ok=true,s\\ k=\"a \\\"q\\\" \\\\ \\nz\" 42");

    e = outpost_event_new(OUTPOST_EV_STATE_CHANGE, OUTPOST_SEV_ERROR, m,
                          "down", "d/k");
    assert_int_equal(kafka_encode_influx(e, &b, &why), 0);
    b.p[b.len] = '\0';
    assert_non_null(strstr(b.p, "outpost_event,"));
    assert_non_null(strstr(b.p, ",kind=state_change,severity=error "
                                "message=\"down\",dedup_key=\"d/k\" "));
    outpost_record_unref(e);
    outpost_record_unref(m);

    /* Nothing line protocol can carry: refused, with why. */
    m = outpost_measurement_new("x", ts, 1);
    outpost_record_add_float(m, "nan", NAN);
    assert_int_equal(kafka_encode_influx(m, &b, &why), -1);
    assert_string_equal(why, "no field that line protocol can carry");
    outpost_record_unref(m);
    outpost_tagset_unref(ts);
    kbuf_free(&b);
}

/* One buffer for many records, as the output keeps it: more tag sets and
 * keys than the caches hold, sets freed while cached and new ones made
 * (which malloc may place where a freed one was), a set replaced on a
 * record: every value is still what a fresh buffer writes. */
static void
test_caches_never_serve_stale_text(void **state)
{
    struct kbuf b = { 0 }, fresh = { 0 };
    const char *why;

    (void) state;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 3 * KBUF_TAGS; i++) {
            char integ[32], key[32];
            outpost_tagset_t *ts;
            outpost_record_t *m;

            snprintf(integ, sizeof(integ), "api%d-%d", i, round);
            ts = tags(integ);
            m = outpost_measurement_new("http", ts, 1796665091624594501LL + i);
            outpost_tagset_unref(ts);   /* the record holds it alone */
            snprintf(key, sizeof(key), "k%d", (i * 7 + round) % (3 * KBUF_KEYS));
            outpost_record_add_int(m, outpost_intern(key), i);
            outpost_record_add_str(m, "status", "ok");
            assert_same_in(&b, m);
            assert_int_equal(kafka_encode_influx(m, &b, &why), 0);
            assert_int_equal(kafka_encode_influx(m, &fresh, &why), 0);
            assert_int_equal(b.len, fresh.len);
            assert_memory_equal(b.p, fresh.p, b.len);
            kbuf_free(&fresh);
            /* Its tags replaced: the new set's text, not the old one's. */
            assert_int_equal(outpost_record_set_tag(m, "integration", "x"),
                             0);
            assert_same_in(&b, m);
            outpost_record_unref(m);
        }
    }
    kbuf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_matches_jansson),
        cmocka_unit_test(test_reals_match_jansson),
        cmocka_unit_test(test_influx_escapes),
        cmocka_unit_test(test_caches_never_serve_stale_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
