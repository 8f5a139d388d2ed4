/*
 * test_rolling.c - the window logic of plugins/common/rolling.c: rings of
 * time buckets, latency histograms, count-based outcome windows and the
 * per-integration table. (Saving and loading the table are not tested
 * here.)
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "harness.h"
#include "rolling.h"

/* --- rings ----------------------------------------------------------- */

struct bucket {
    uint32_t checks;
    uint32_t failures;
};

static uint32_t
sum_checks(struct bucket *ring, size_t n)
{
    uint32_t sum = 0;

    for (size_t i = 0; i < n; i++)
        sum += ring[i].checks;
    return sum;
}

static void
test_ring_moves_by_time(void **state)
{
    struct bucket ring[4] = { { 0 } };
    int64_t head = 0;
    struct bucket *b;
    int adv;

    (void) state;
    /* Buckets 10, 11, 12: the head follows, each gets its own slot. */
    for (int64_t k = 10; k <= 12; k++) {
        b = ROLLING_TOUCH(ring, &head, k, &adv);
        assert_non_null(b);
        assert_int_equal(adv, 1);
        b->checks += (uint32_t) k;
    }
    assert_int_equal(head, 12);
    /* The same bucket again: no move, the same slot. */
    b = ROLLING_TOUCH(ring, &head, 12, &adv);
    assert_int_equal(adv, 0);
    assert_ptr_equal(b, ROLLING_AT(ring, head, 12));
    assert_int_equal(b->checks, 12);
    /* A late record inside the window counts in its own bucket. */
    b = ROLLING_TOUCH(ring, &head, 10, &adv);
    assert_int_equal(adv, 0);
    assert_int_equal(b->checks, 10);
    assert_int_equal(head, 12);
    /* Bucket 9 was never written and is outside what 12 keeps (9..12 is
     * 4 buckets: it is inside, but empty); 8 is outside. */
    assert_non_null(ROLLING_AT(ring, head, 9));
    assert_int_equal(((struct bucket *) ROLLING_AT(ring, head, 9))->checks,
                     0);
    assert_null(ROLLING_AT(ring, head, 8));
    assert_null(ROLLING_TOUCH(ring, &head, 8, &adv));
    assert_int_equal(head, 12);
    /* The future is not there yet. */
    assert_null(ROLLING_AT(ring, head, 13));
    assert_int_equal(sum_checks(ring, 4), 10 + 11 + 12);
}

static void
test_ring_zeroes_what_it_skips(void **state)
{
    struct bucket ring[4] = { { 0 } };
    int64_t head = 0;

    (void) state;
    for (int64_t k = 1; k <= 4; k++)
        ((struct bucket *) ROLLING_TOUCH(ring, &head, k, NULL))->checks = 1;
    assert_int_equal(sum_checks(ring, 4), 4);
    /* Two buckets on: 1 and 2 fall out, 5 and 6 start empty. */
    ROLLING_TOUCH(ring, &head, 6, NULL);
    assert_int_equal(sum_checks(ring, 4), 2);
    assert_null(ROLLING_AT(ring, head, 2));
    assert_int_equal(((struct bucket *) ROLLING_AT(ring, head, 3))->checks,
                     1);
    assert_int_equal(((struct bucket *) ROLLING_AT(ring, head, 5))->checks,
                     0);
    /* A long silence clears the whole ring at once. */
    ((struct bucket *) ROLLING_AT(ring, head, 6))->checks = 7;
    ROLLING_TOUCH(ring, &head, 1000000, NULL);
    assert_int_equal(head, 1000000);
    assert_int_equal(sum_checks(ring, 4), 0);
}

static void
test_ring_index(void **state)
{
    const int64_t min = 60LL * 1000000000;

    (void) state;
    assert_int_equal(rolling_index(0, min), 0);
    assert_int_equal(rolling_index(min - 1, min), 0);
    assert_int_equal(rolling_index(min, min), 1);
    assert_int_equal(rolling_index(90 * min + 5, min), 90);
    assert_int_equal(rolling_index(-5, min), 0);     /* before the epoch */
}

/* --- histograms ------------------------------------------------------- */

static void
test_hist_bins(void **state)
{
    (void) state;
    assert_int_equal(rolling_hist_bin(0), 0);
    assert_int_equal(rolling_hist_bin(0.99), 0);
    assert_int_equal(rolling_hist_bin(-3), 0);
    assert_int_equal(rolling_hist_bin(NAN), 0);
    assert_int_equal(rolling_hist_bin(1.0), 1);
    assert_int_equal(rolling_hist_bin(1.25), 1);      /* < 2^(1/3) */
    assert_int_equal(rolling_hist_bin(1.26), 2);
    assert_int_equal(rolling_hist_bin(1.6), 3);
    assert_int_equal(rolling_hist_bin(2.0), 4);      /* three per doubling */
    assert_int_equal(rolling_hist_bin(4.0), 7);
    assert_int_equal(rolling_hist_bin(1e9), ROLLING_HIST_BINS - 1);
    /* Monotonic over the whole range. */
    for (double ms = 0.5, last = 0; ms < 1e6; ms *= 1.01) {
        unsigned b = rolling_hist_bin(ms);
        assert_true(b >= last);
        last = b;
    }
}

static void
fill(uint32_t *bins, double ms, unsigned n)
{
    bins[rolling_hist_bin(ms)] += n;
}

/* Within a bin (26 %) of the truth. */
static void
assert_near(double got, double want)
{
    if (!(got >= want / 1.26 && got <= want * 1.26))
        fail_msg("%.2f is not within a bin of %.2f", got, want);
}

static void
test_hist_quantiles(void **state)
{
    uint32_t bins[ROLLING_HIST_BINS] = { 0 };
    const double qs[] = { 0.5, 0.9, 0.95, 0.99 };
    double out[4];

    (void) state;
    assert_true(rolling_hist_quantile(bins, 0.5) == 0.0);    /* empty */
    fill(bins, 10, 900);
    fill(bins, 300, 60);
    fill(bins, 2000, 40);
    assert_near(rolling_hist_quantile(bins, 0.5), 10);
    assert_near(rolling_hist_quantile(bins, 0.9), 10);
    assert_near(rolling_hist_quantile(bins, 0.95), 300);
    assert_near(rolling_hist_quantile(bins, 0.99), 2000);
    assert_near(rolling_hist_quantile(bins, 1.0), 2000);
    /* Several at once, with or without the total, give the same. */
    rolling_hist_quantiles(bins, qs, out, 4);
    for (int i = 0; i < 4; i++)
        assert_true(out[i] == rolling_hist_quantile(bins, qs[i]));
    rolling_hist_quantiles_n(bins, 1000, qs, out, 4);
    for (int i = 0; i < 4; i++)
        assert_true(out[i] == rolling_hist_quantile(bins, qs[i]));
    /* Inside a bin, the samples spread over it: a higher quantile reads
     * higher, and all stay within the bin [80.6, 101.6). */
    memset(bins, 0, sizeof(bins));
    fill(bins, 90, 10);
    assert_true(rolling_hist_quantile(bins, 0.1)
                < rolling_hist_quantile(bins, 0.5));
    assert_true(rolling_hist_quantile(bins, 0.5)
                < rolling_hist_quantile(bins, 1.0));
    assert_true(rolling_hist_quantile(bins, 0.1) >= 80.6);
    assert_true(rolling_hist_quantile(bins, 1.0) < 101.6);
    /* Sub-millisecond answers read inside bin 0. */
    memset(bins, 0, sizeof(bins));
    fill(bins, 0.3, 10);
    assert_true(rolling_hist_quantile(bins, 0.5) < 1.0);
}

/* --- the last N outcomes ---------------------------------------------- */

static void
test_bits_window(void **state)
{
    struct rolling_bits b;
    const int seq[] = { 1, 1, 0, 0, 0, 1, 1, 1, 1, 0 };
    int ones;

    (void) state;
    rolling_bits_init(&b, 4);
    assert_int_equal(b.size, 4);
    assert_int_equal(b.count, 0);
    /* After each push, ones is the number of 1s among the last 4. */
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        rolling_bits_push(&b, seq[i]);
        ones = 0;
        for (size_t j = i >= 3 ? i - 3 : 0; j <= i; j++)
            ones += seq[j];
        assert_int_equal(b.ones, ones);
        assert_int_equal(b.count, i < 4 ? i + 1 : 4);
    }
}

static void
test_bits_sizes(void **state)
{
    struct rolling_bits b;

    (void) state;
    rolling_bits_init(&b, 0);
    assert_int_equal(b.size, 1);
    rolling_bits_push(&b, 1);
    rolling_bits_push(&b, 0);
    assert_int_equal(b.ones, 0);
    assert_int_equal(b.count, 1);
    rolling_bits_init(&b, 100000);
    assert_int_equal(b.size, ROLLING_BITS_MAX);
    /* A full window across every word: all ones, then all zeros. */
    for (int i = 0; i < ROLLING_BITS_MAX; i++)
        rolling_bits_push(&b, 1);
    assert_int_equal(b.ones, ROLLING_BITS_MAX);
    for (int i = 0; i < ROLLING_BITS_MAX - 1; i++)
        rolling_bits_push(&b, 0);
    assert_int_equal(b.ones, 1);
    rolling_bits_push(&b, 0);
    assert_int_equal(b.ones, 0);
    assert_int_equal(b.count, ROLLING_BITS_MAX);
}

/* --- the table -------------------------------------------------------- */

struct slot {
    uint64_t n;
    double   sum;
};

static void
test_table_names(void **state)
{
    struct rolling_table *t = rolling_table_new(sizeof(struct slot));
    struct rolling_entry *first, *e;
    char name[48];
    int created;

    (void) state;
    assert_non_null(t);
    assert_null(rolling_table_find(t, "stripe"));
    first = rolling_table_get(t, "stripe", &created);
    assert_non_null(first);
    assert_int_equal(created, 1);
    assert_string_equal(first->name, "stripe");
    assert_int_equal((uintptr_t) rolling_slot(first) % 16, 0);
    ((struct slot *) rolling_slot(first))->n = 42;
    assert_ptr_equal(rolling_table_get(t, "stripe", &created), first);
    assert_int_equal(created, 0);
    /* Enough to grow the index and fill several chunks: entries never
     * move, slots start zeroed, the order of creation is kept. */
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "integration-%d", i);
        e = rolling_table_get(t, name, &created);
        assert_non_null(e);
        assert_int_equal(created, 1);
        assert_int_equal(((struct slot *) rolling_slot(e))->n, 0);
        ((struct slot *) rolling_slot(e))->n = (uint64_t) i;
    }
    assert_int_equal(rolling_table_count(t), 1001);
    assert_ptr_equal(rolling_table_find(t, "stripe"), first);
    assert_int_equal(((struct slot *) rolling_slot(first))->n, 42);
    for (size_t i = 1; i < rolling_table_count(t); i++) {
        e = rolling_table_at(t, i);
        snprintf(name, sizeof(name), "integration-%zu", i - 1);
        assert_string_equal(e->name, name);
        assert_ptr_equal(rolling_table_find(t, name), e);
        assert_int_equal(((struct slot *) rolling_slot(e))->n, i - 1);
    }
    assert_null(rolling_table_at(t, 1001));
    assert_null(rolling_table_find(t, "integration-1000"));
    assert_true(rolling_table_bytes(t) > 1001 * sizeof(struct slot));
    rolling_table_free(t);
}

static void
test_table_records(void **state)
{
    struct rolling_table *t = rolling_table_new(sizeof(struct slot));
    outpost_record_t *a1 = harness_measurement("stripe", NULL);
    outpost_record_t *b = harness_measurement("paypal", NULL);
    outpost_record_t *a2 = harness_measurement("stripe", "region=eu");
    outpost_record_t *none = outpost_measurement_new("check", NULL, 0);
    struct rolling_entry *e;
    int retagged;

    (void) state;
    e = rolling_table_get_rec(t, a1, &retagged);
    assert_non_null(e);
    assert_int_equal(retagged, 1);
    assert_string_equal(e->name, "stripe");
    assert_ptr_equal(e->tags, a1->tags);
    /* Again, by the tag set: the same entry, nothing new. */
    assert_ptr_equal(rolling_table_get_rec(t, a1, &retagged), e);
    assert_int_equal(retagged, 0);
    assert_string_equal(rolling_table_get_rec(t, b, NULL)->name, "paypal");
    /* Other tags of the same integration: the same entry, retagged. */
    assert_ptr_equal(rolling_table_get_rec(t, a2, &retagged), e);
    assert_int_equal(retagged, 1);
    assert_ptr_equal(e->tags, a2->tags);
    assert_int_equal(rolling_table_count(t), 2);
    /* No integration tag: no entry. */
    assert_null(rolling_table_get_rec(t, none, &retagged));
    rolling_table_free(t);
    outpost_record_unref(a1);
    outpost_record_unref(a2);
    outpost_record_unref(b);
    outpost_record_unref(none);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_moves_by_time),
        cmocka_unit_test(test_ring_zeroes_what_it_skips),
        cmocka_unit_test(test_ring_index),
        cmocka_unit_test(test_hist_bins),
        cmocka_unit_test(test_hist_quantiles),
        cmocka_unit_test(test_bits_window),
        cmocka_unit_test(test_bits_sizes),
        cmocka_unit_test(test_table_names),
        cmocka_unit_test(test_table_records),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
