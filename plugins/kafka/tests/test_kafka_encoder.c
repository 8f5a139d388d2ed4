/*
 * test_kafka_encoder.c - the kafka output's encoder thread (plugins/kafka/
 * encoder.c, compiled in): every record of a batch comes out as the
 * encoders write it, whatever order it is asked in; a record that cannot
 * be encoded is named; batches follow each other; finish() stops a batch
 * half way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "../encode.c"
#include "../encoder.c"

#define N 5000

static outpost_record_t *recs[N];
static outpost_tagset_t *ts;

static int
setup(void **state)
{
    outpost_tag_t t[] = { { outpost_intern("integration"), "stripe" } };

    (void) state;
    ts = outpost_tagset_new(t, 1);
    for (int i = 0; i < N; i++) {
        recs[i] = outpost_measurement_new("http", ts, 1000000000LL * i + 1);
        outpost_record_add_int(recs[i], "status_code", 200 + i % 7);
        outpost_record_add_str(recs[i], "status", i % 2 ? "healthy" : "down");
    }
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    for (int i = 0; i < N; i++)
        outpost_record_unref(recs[i]);
    outpost_tagset_unref(ts);
    return 0;
}

/* Two batches, the second asked for backwards: each value is what the
 * encoder writes for that record. */
static void
test_batches(void **state)
{
    struct kafka_encoder *e = kafka_encoder_new(0, "test");
    struct kbuf want = { 0 };

    (void) state;
    assert_non_null(e);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(kafka_encoder_start(e, recs, N), 0);
        for (int j = 0; j < N; j++) {
            int i = round ? N - 1 - j : j;
            const char *p, *why;
            size_t len;

            assert_int_equal(kafka_encoder_get(e, (size_t) i, &p, &len,
                                               &why), 0);
            assert_int_equal(kafka_encode_json(recs[i], &want), 0);
            assert_int_equal(len, want.len);
            assert_memory_equal(p, want.p, len);
        }
        kafka_encoder_finish(e);
    }
    kbuf_free(&want);
    kafka_encoder_free(e);
}

/* Line protocol cannot carry a record without fields: that record is
 * refused with the reason, its neighbours are not. */
static void
test_refused(void **state)
{
    struct kafka_encoder *e = kafka_encoder_new(1, "test");
    outpost_record_t *batch[3] = {
        recs[0], outpost_measurement_new("empty", ts, 5), recs[1],
    };
    const char *p, *why;
    size_t len;

    (void) state;
    assert_int_equal(kafka_encoder_start(e, batch, 3), 0);
    assert_int_equal(kafka_encoder_get(e, 0, &p, &len, &why), 0);
    assert_true(len > 0 && strncmp(p, "http,integration=stripe ", 24) == 0);
    assert_int_equal(kafka_encoder_get(e, 1, &p, &len, &why), -1);
    assert_string_equal(why, "no field that line protocol can carry");
    assert_int_equal(kafka_encoder_get(e, 2, &p, &len, &why), 0);
    kafka_encoder_finish(e);
    outpost_record_unref(batch[1]);
    kafka_encoder_free(e);
}

/* A write that stops early: finish() returns once the thread is idle;
 * the next batch starts clean. */
static void
test_finish_early(void **state)
{
    struct kafka_encoder *e = kafka_encoder_new(0, "test");
    const char *p, *why;
    size_t len;

    (void) state;
    for (int round = 0; round < 20; round++) {
        assert_int_equal(kafka_encoder_start(e, recs, N), 0);
        assert_int_equal(kafka_encoder_get(e, 10, &p, &len, &why), 0);
            kafka_encoder_finish(e);
    }
    assert_int_equal(kafka_encoder_start(e, recs, 2), 0);
    assert_int_equal(kafka_encoder_get(e, 1, &p, &len, &why), 0);
    kafka_encoder_finish(e);
    kafka_encoder_free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_finish_early),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
