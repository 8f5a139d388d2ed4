/*
 * test_api_json.c - the API's JSON writer: separators, escaping (control
 * characters, invalid UTF-8), numbers and times written by hand, checked
 * against what jansson reads back and what printf and gmtime say.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <jansson.h>
#include "api_internal.h"

static char *
render_num(double v)
{
    struct jw w;

    jw_init(&w, 0);
    jw_num(&w, v);
    return jw_finish(&w, NULL);
}

static void
test_shape(void **unused)
{
    struct jw w;
    char *text;

    (void) unused;
    jw_init(&w, 0);
    jw_obj(&w);
    jw_key(&w, "a");
    jw_arr(&w);
    jw_int(&w, 1);
    jw_str(&w, "x");
    jw_null(&w);
    jw_obj(&w);
    jw_obj_end(&w);
    jw_arr_end(&w);
    jw_key(&w, "b");
    jw_bool(&w, 1);
    jw_key(&w, "c");
    jw_str_or_null(&w, "");
    jw_key(&w, "d");
    jw_raw(&w, "{\"k\":[]}");
    jw_obj_end(&w);
    text = jw_finish(&w, NULL);
    assert_string_equal(text, "{\"a\":[1,\"x\",null,{}],\"b\":true,"
                        "\"c\":null,\"d\":{\"k\":[]}}");
    free(text);
}

static void
test_escape(void **unused)
{
    const char *in = "q\"b\\n\n\t\x01 \xc3\xa9 \xff \xe2\x82 end \xf0\x9f\x98\x80";
    struct jw w;
    json_error_t err;
    json_t *j;
    char *text;

    (void) unused;
    jw_init(&w, 0);
    jw_arr(&w);
    jw_str(&w, in);
    jw_arr_end(&w);
    text = jw_finish(&w, NULL);
    j = json_loads(text, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_array_get(j, 0)),
                        "q\"b\\n\n\t\x01 \xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd"
                        "\xef\xbf\xbd end \xf0\x9f\x98\x80");
    json_decref(j);
    free(text);
}

static void
test_numbers(void **unused)
{
    static const double cases[] = {
        0, 1, -1, 0.5, 0.427, 94.2, 1e-7, -0.25, 0.999995, 0.9999999,
        123456.789012, 1e12, -3e14, 2.5e9, 1e20, -1e-9, 7.0000004,
    };
    char *t;

    (void) unused;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double back;

        t = render_num(cases[i]);
        back = strtod(t, NULL);
        /* 6 decimals below 10^9, 6 significant digits above */
        if (fabs(cases[i]) < 1e9)
            assert_true(fabs(back - cases[i]) <= 5e-7);
        else
            assert_true(fabs(back - cases[i]) <= fabs(cases[i]) * 1e-5);
        assert_null(strchr(t, 'n'));
        free(t);
    }
    t = render_num(0.427);
    assert_string_equal(t, "0.427");
    free(t);
    t = render_num(-0.25);
    assert_string_equal(t, "-0.25");
    free(t);
    t = render_num(-1e-9);
    assert_string_equal(t, "0");
    free(t);
    t = render_num(NAN);
    assert_string_equal(t, "null");
    free(t);
    t = render_num(INFINITY);
    assert_string_equal(t, "null");
    free(t);
}

static void
test_times(void **unused)
{
    static const int64_t secs[] = {
        1, 951782400 /* 2000-02-29 */, 1796671969, 4102444800 /* 2100 */,
        9223372035LL /* 2262 */, 86399,
    };
    struct jw w;
    char *t, want[64];

    (void) unused;
    for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
        time_t s = (time_t) secs[i];
        struct tm tm;

        gmtime_r(&s, &tm);
        snprintf(want, sizeof(want), "\"%04d-%02d-%02dT%02d:%02d:%02d.123Z\"",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
        jw_init(&w, 0);
        jw_time(&w, secs[i] * 1000000000LL + 123456789);
        t = jw_finish(&w, NULL);
        assert_string_equal(t, want);
        free(t);
    }
    jw_init(&w, 0);
    jw_time(&w, 0);
    t = jw_finish(&w, NULL);
    assert_string_equal(t, "null");
    free(t);
}

static void
test_period(void **unused)
{
    (void) unused;
    assert_int_equal(api_period_s(NULL, 7), 7);
    assert_int_equal(api_period_s("24h", 0), 86400);
    assert_int_equal(api_period_s("30d", 0), 30 * 86400);
    assert_int_equal(api_period_s("15m", 0), 900);
    assert_int_equal(api_period_s("1x", 0), -1);
    assert_int_equal(api_period_s("-1h", 0), -1);
    assert_int_equal(api_period_s("h", 0), -1);
    assert_int_equal(api_period_s("99999999d", 0), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_period),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
