/*
 * test_strmap.c - plugins/common/strmap.c: the string map and its
 * pointer hints.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include "strmap.h"

#define N 5000

static void
test_put_get(void **state)
{
    struct strmap m = { 0 };
    int a = 1, b = 2;
    char key[] = "stripe";

    (void) state;
    assert_null(strmap_get(&m, "stripe"));          /* empty, no slots */
    assert_int_equal(strmap_put(&m, "stripe", &a), 0);
    assert_int_equal(strmap_put(&m, "paypal", &b), 0);
    assert_ptr_equal(strmap_get(&m, "stripe"), &a);
    assert_ptr_equal(strmap_get(&m, "paypal"), &b);
    assert_null(strmap_get(&m, "adyen"));
    assert_null(strmap_get(&m, "strip"));
    /* Found by content, not by the key's address. */
    assert_ptr_equal(strmap_get(&m, key), &a);
    /* A key put again replaces the value, and is not counted twice. */
    assert_int_equal(strmap_put(&m, key, &b), 0);
    assert_ptr_equal(strmap_get(&m, "stripe"), &b);
    assert_int_equal(m.n, 2);
    strmap_free(&m);
    assert_null(strmap_get(&m, "stripe"));
    assert_int_equal(m.n, 0);
}

static void
count_value(void *value, void *arg)
{
    long *sum = arg;

    *sum += *(long *) value;
}

static void
test_growth(void **state)
{
    struct strmap m = { 0 };
    char (*keys)[24] = calloc(N, sizeof(*keys));
    long *values = calloc(N, sizeof(*values)), sum = 0;

    (void) state;
    assert_non_null(keys);
    assert_non_null(values);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "integration-%d", i);
        values[i] = i;
        assert_int_equal(strmap_put(&m, keys[i], &values[i]), 0);
        /* Kept under 3/4 full, a power of two. */
        assert_true(m.n * 4 <= m.cap * 3);
        assert_int_equal(m.cap & (m.cap - 1), 0);
    }
    assert_int_equal(m.n, N);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(strmap_get(&m, keys[i]), &values[i]);
    assert_null(strmap_get(&m, "integration-5000"));
    strmap_each(&m, count_value, &sum);
    assert_int_equal(sum, (long) N * (N - 1) / 2);
    strmap_free(&m);
    free(keys);
    free(values);
}

static void
test_hints(void **state)
{
    struct strmap m = { 0 };
    int tags[64] = { 0 }, values[64] = { 0 };

    (void) state;
    /* Nothing is remembered before the map has slots. */
    strmap_hint_put(&m, &tags[0], &values[0]);
    assert_null(strmap_hint_get(&m, &tags[0]));
    assert_int_equal(strmap_put(&m, "stripe", &values[0]), 0);
    assert_null(strmap_hint_get(&m, &tags[0]));
    strmap_hint_put(&m, &tags[0], &values[0]);
    strmap_hint_prefetch(&m, &tags[0]);
    assert_ptr_equal(strmap_hint_get(&m, &tags[0]), &values[0]);
    assert_null(strmap_hint_get(&m, &tags[1]));
    /* A pointer put again takes its new value. */
    strmap_hint_put(&m, &tags[0], &values[1]);
    assert_ptr_equal(strmap_hint_get(&m, &tags[0]), &values[1]);
    /* A hint is only a guess: whatever comes back was stored with that
     * pointer, the latest first. */
    for (int i = 0; i < 64; i++)
        strmap_hint_put(&m, &tags[i], &values[i]);
    for (int i = 0; i < 64; i++) {
        void *v = strmap_hint_get(&m, &tags[i]);
        assert_true(v == NULL || v == &values[i]);
    }
    assert_ptr_equal(strmap_hint_get(&m, &tags[63]), &values[63]);
    /* Growing the map forgets every hint. */
    {
        char keys[64][16];
        for (int i = 0; i < 64; i++) {
            snprintf(keys[i], sizeof(keys[i]), "k%d", i);
            assert_int_equal(strmap_put(&m, keys[i], &values[i]), 0);
        }
        assert_null(strmap_hint_get(&m, &tags[63]));
        strmap_free(&m);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_hints),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
