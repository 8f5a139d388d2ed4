/*
 * test_duration.c - duration_parse and duration_format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "duration.h"

static const struct {
    const char *text;
    int64_t     ms;
} good[] = {
    { "500ms", 500 },
    { "30s",   30000 },
    { "5m",    300000 },
    { "1h",    3600000 },
    { "90d",   90LL * 86400000 },
    { "1h30m", 5400000 },
    { "1.5s",  1500 },
    { "2w",    14LL * 86400000 },
    { "30",    30000 },             /* a bare number is seconds */
    { " 10s ", 10000 },
    { "0s",    0 },
};

static const char *const bad[] = {
    "", "   ", "5 parsecs", "-1s", "abc", "10x", "1h 30m", "s", "1.2.3s",
};

static void
test_good(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t ms = -1;

        assert_int_equal(duration_parse(good[i].text, &ms), 0);
        assert_int_equal(ms, good[i].ms);
    }
}

static void
test_bad(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 42;

        assert_int_equal(duration_parse(bad[i], &ms), -1);
        assert_int_equal(ms, 42);   /* untouched on error */
    }
    assert_int_equal(duration_parse(NULL, &(int64_t) { 0 }), -1);
}

static void
test_format(void **state)
{
    char buf[32];

    (void) state;
    duration_format(60000, buf, sizeof(buf));
    assert_string_equal(buf, "1m");
    duration_format(90000, buf, sizeof(buf));
    assert_string_equal(buf, "90s");
    duration_format(500, buf, sizeof(buf));
    assert_string_equal(buf, "500ms");
    duration_format(90LL * 86400000, buf, sizeof(buf));
    assert_string_equal(buf, "90d");
    duration_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "0ms");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
