/*
 * test_codec.c - the spill-file encoding of records: exact round trips,
 * shared tag sets, and rejection (never a crash or an over-read) of
 * truncated and corrupted input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <outpost/record.h>
#include "log.h"
#include "record_codec.h"

static outpost_tagset_t *
tags_of(const char *integration)
{
    outpost_tag_t t[] = {
        { "integration", integration },
        { "category", "payments" },
        { "provider", "stripe" },
        { "tier", "enterprise" },
    };

    return outpost_tagset_new(t, 4);
}

static outpost_record_t *
measurement(const char *integration, int64_t seq)
{
    outpost_tagset_t *ts = tags_of(integration);
    outpost_record_t *m = outpost_measurement_new("http", ts, 1700000000123456789LL);

    outpost_tagset_unref(ts);
    assert_non_null(m);
    assert_int_equal(outpost_record_add_int(m, "seq", seq), 0);
    assert_int_equal(outpost_record_add_bool(m, "success", 1), 0);
    assert_int_equal(outpost_record_add_float(m, "response_ms", 12.5), 0);
    assert_int_equal(outpost_record_add_int(m, "status_code", 200), 0);
    assert_int_equal(outpost_record_add_str(m, "error", "connection reset"), 0);
    return m;
}

static void
assert_same_record(const outpost_record_t *a, const outpost_record_t *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->event_kind, b->event_kind);
    assert_int_equal(a->severity, b->severity);
    assert_true(a->ts_ns == b->ts_ns);
    assert_ptr_equal(a->name, b->name);             /* interned */
    assert_int_equal(outpost_tagset_count(a->tags),
                     outpost_tagset_count(b->tags));
    for (size_t i = 0; i < outpost_tagset_count(a->tags); i++) {
        const outpost_tag_t *x = outpost_tagset_at(a->tags, i);
        const outpost_tag_t *y = outpost_tagset_at(b->tags, i);
        assert_ptr_equal(x->key, y->key);
        assert_string_equal(x->value, y->value);
    }
    assert_int_equal(a->nfields, b->nfields);
    for (uint16_t i = 0; i < a->nfields; i++) {
        const outpost_field_t *x = &a->fields[i], *y = &b->fields[i];
        assert_ptr_equal(x->key, y->key);
        assert_int_equal(x->type, y->type);
        switch (x->type) {
        case OUTPOST_FIELD_INT:
            assert_true(x->v.i == y->v.i);
            break;
        case OUTPOST_FIELD_FLOAT:
            assert_memory_equal(&x->v.f, &y->v.f, sizeof(double));
            break;
        case OUTPOST_FIELD_BOOL:
            assert_int_equal(x->v.b, y->v.b);
            break;
        default:
            assert_string_equal(x->v.s, y->v.s);
        }
    }
    assert_int_equal(a->event != NULL, b->event != NULL);
    if (a->event) {
        assert_string_equal(a->event->message, b->event->message);
        assert_string_equal(a->event->dedup_key, b->event->dedup_key);
        assert_int_equal(a->event->cause != NULL, b->event->cause != NULL);
        if (a->event->cause)
            assert_same_record(a->event->cause, b->event->cause);
    }
}

/* Encodes rec, decodes it back and compares. */
static void
round_trip(outpost_record_t *rec)
{
    struct codec_buf b = { 0 };
    struct record_decoder d = { 0 };
    outpost_record_t *back = NULL;

    assert_int_equal(record_encode(rec, &b), 0);
    assert_int_equal(record_decode(&d, b.p, b.len, &back), CODEC_OK);
    assert_same_record(rec, back);
    outpost_record_unref(back);
    record_decoder_free(&d);
    codec_buf_free(&b);
}

static void
codec_roundtrip_measurement(void **state)
{
    outpost_record_t *m = measurement("stripe", 7);

    (void) state;
    round_trip(m);
    outpost_record_unref(m);
}

static void
codec_roundtrip_extreme_values(void **state)
{
    outpost_record_t *m = outpost_measurement_new("edge", NULL, -5);
    char name[16];

    (void) state;
    outpost_record_add_int(m, "min", INT64_MIN);
    outpost_record_add_int(m, "max", INT64_MAX);
    outpost_record_add_int(m, "neg", -1);
    outpost_record_add_int(m, "zero", 0);
    outpost_record_add_float(m, "nan", NAN);
    outpost_record_add_float(m, "inf", -INFINITY);
    outpost_record_add_float(m, "tiny", 5e-324);
    outpost_record_add_bool(m, "no", 0);
    outpost_record_add_str(m, "empty", "");
    outpost_record_add_str(m, "utf8", "d\xc3\xa9j\xc3\xa0 vu \xe2\x9c\x93");
    for (int i = 0; i < 40; i++) {          /* past the inline fields */
        snprintf(name, sizeof(name), "f%d", i);
        outpost_record_add_int(m, name, i * 1000003LL);
    }
    round_trip(m);
    outpost_record_unref(m);
}

static void
codec_roundtrip_events(void **state)
{
    outpost_record_t *m = measurement("openai", 1);
    outpost_record_t *ev = outpost_event_new(OUTPOST_EV_ALERT,
                                             OUTPOST_SEV_CRITICAL, m,
                                             "openai is down",
                                             "alert:openai");
    outpost_record_t *esc = outpost_event_new(OUTPOST_EV_ESCALATE,
                                              OUTPOST_SEV_ERROR, ev,
                                              "escalated", "esc:openai");
    outpost_record_t *bare = outpost_event_new(OUTPOST_EV_STATE_CHANGE,
                                               OUTPOST_SEV_INFO, NULL,
                                               NULL, NULL);

    (void) state;
    outpost_record_add_str(ev, "state", "down");
    outpost_record_set_tag(ev, "routed", "yes");     /* its own tags */
    round_trip(ev);
    round_trip(esc);                /* an event caused by an event */
    round_trip(bare);
    outpost_record_unref(bare);
    outpost_record_unref(esc);
    outpost_record_unref(ev);
    outpost_record_unref(m);
}

static void
codec_shares_tagsets(void **state)
{
    outpost_record_t *a = measurement("stripe", 1), *b = measurement("stripe", 2);
    outpost_record_t *c = measurement("paypal", 3);
    struct codec_buf buf = { 0 };
    struct record_decoder d = { 0 };
    outpost_record_t *out[3];
    size_t off[4] = { 0 };

    (void) state;
    record_encode(a, &buf);
    off[1] = buf.len;
    record_encode(b, &buf);
    off[2] = buf.len;
    record_encode(c, &buf);
    off[3] = buf.len;
    for (int i = 0; i < 3; i++)
        assert_int_equal(record_decode(&d, buf.p + off[i],
                                       off[i + 1] - off[i], &out[i]),
                         CODEC_OK);
    assert_ptr_equal(out[0]->tags, out[1]->tags);
    assert_ptr_not_equal(out[1]->tags, out[2]->tags);
    assert_string_equal(outpost_record_tag(out[2], "integration"), "paypal");
    assert_true(outpost_record_number(out[1], "seq", 0) == 2);
    for (int i = 0; i < 3; i++)
        outpost_record_unref(out[i]);
    outpost_record_unref(a);
    outpost_record_unref(b);
    outpost_record_unref(c);
    record_decoder_free(&d);
    codec_buf_free(&buf);
}

/* Every proper prefix must be rejected. Each is copied to a buffer of its
 * exact size so that ASan catches any read past it. */
static void
codec_rejects_truncated(void **state)
{
    outpost_record_t *m = measurement("stripe", 9);
    outpost_record_t *ev = outpost_event_new(OUTPOST_EV_ALERT,
                                             OUTPOST_SEV_WARNING, m, "msg",
                                             "key");
    struct codec_buf b = { 0 };
    struct record_decoder d = { 0 };

    (void) state;
    assert_int_equal(record_encode(ev, &b), 0);
    for (size_t len = 0; len < b.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        outpost_record_t *out = NULL;

        memcpy(copy, b.p, len);
        assert_int_equal(record_decode(&d, copy, len, &out), CODEC_ECORRUPT);
        assert_null(out);
        free(copy);
    }
    outpost_record_unref(ev);
    outpost_record_unref(m);
    record_decoder_free(&d);
    codec_buf_free(&b);
}

/* Every byte replaced by several values: decoding either fails cleanly or
 * yields a record; it never crashes, leaks or over-reads. */
static void
codec_survives_corruption(void **state)
{
    static const uint8_t subst[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };
    outpost_record_t *m = measurement("stripe", 9);
    outpost_record_t *ev = outpost_event_new(OUTPOST_EV_RESOLVE,
                                             OUTPOST_SEV_INFO, m, "ok", "k");
    struct codec_buf b = { 0 };
    struct record_decoder d = { 0 };
    size_t rejected = 0;

    (void) state;
    assert_int_equal(record_encode(ev, &b), 0);
    for (size_t i = 0; i < b.len; i++) {
        for (size_t k = 0; k < sizeof(subst); k++) {
            uint8_t *copy = malloc(b.len);
            outpost_record_t *out = NULL;
            int rc;

            memcpy(copy, b.p, b.len);
            if (copy[i] == subst[k]) {
                free(copy);
                continue;
            }
            copy[i] = subst[k];
            rc = record_decode(&d, copy, b.len, &out);
            assert_true(rc == CODEC_OK || rc == CODEC_ECORRUPT);
            if (rc == CODEC_OK)
                outpost_record_unref(out);
            else
                rejected++;
            free(copy);
        }
    }
    assert_true(rejected > 0);
    outpost_record_unref(ev);
    outpost_record_unref(m);
    record_decoder_free(&d);
    codec_buf_free(&b);
}

static void
codec_rejects_malformed(void **state)
{
    struct record_decoder d = { 0 };
    outpost_record_t *m = measurement("stripe", 1), *out = NULL;
    struct codec_buf b = { 0 };
    uint8_t *copy;

    (void) state;
    record_encode(m, &b);
    copy = malloc(b.len + 1);

    memcpy(copy, b.p, b.len);
    copy[0] = 2;                                        /* version */
    assert_int_equal(record_decode(&d, copy, b.len, &out), CODEC_ECORRUPT);

    memcpy(copy, b.p, b.len);
    copy[1] = 9;                                        /* kind */
    assert_int_equal(record_decode(&d, copy, b.len, &out), CODEC_ECORRUPT);

    memcpy(copy, b.p, b.len);
    copy[b.len] = 0;                                    /* trailing byte */
    assert_int_equal(record_decode(&d, copy, b.len + 1, &out),
                     CODEC_ECORRUPT);

    /* A name of 10 bytes with a NUL inside. */
    {
        uint8_t nul[] = { 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 'a', 0,
                          'b', 1, 0, 0 };
        assert_int_equal(record_decode(&d, nul, sizeof(nul), &out),
                         CODEC_ECORRUPT);
    }
    /* A varint length of 2^63. */
    {
        uint8_t big[] = { 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x80,
                          0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
        assert_int_equal(record_decode(&d, big, sizeof(big), &out),
                         CODEC_ECORRUPT);
    }
    /* An 11-byte varint. */
    {
        uint8_t longv[] = { 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
                            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                            0x01 };
        assert_int_equal(record_decode(&d, longv, sizeof(longv), &out),
                         CODEC_ECORRUPT);
    }
    assert_null(out);
    free(copy);
    outpost_record_unref(m);
    record_decoder_free(&d);
    codec_buf_free(&b);
}

static void
codec_measurement_is_compact(void **state)
{
    outpost_record_t *m = measurement("stripe", 123456);
    struct codec_buf b = { 0 };
    char *json;
    size_t jlen;

    (void) state;
    record_encode(m, &b);
    assert_int_equal(outpost_record_to_json(m, &json, &jlen), 0);
    /* name, 4 tags, 5 fields: about half of what the JSON takes. */
    assert_true(b.len * 10 < jlen * 6);
    free(json);
    outpost_record_unref(m);
    codec_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_roundtrip_measurement),
        cmocka_unit_test(codec_roundtrip_extreme_values),
        cmocka_unit_test(codec_roundtrip_events),
        cmocka_unit_test(codec_shares_tagsets),
        cmocka_unit_test(codec_rejects_truncated),
        cmocka_unit_test(codec_survives_corruption),
        cmocka_unit_test(codec_rejects_malformed),
        cmocka_unit_test(codec_measurement_is_compact),
    };

    log_configure(getenv("TEST_LOG") ? OUTPOST_LOG_DEBUG : OUTPOST_LOG_ERROR,
                  LOG_FORMAT_TEXT, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
