/*
 * test_sms_segments.c - the SMS segment counter and cutter
 * (plugins/sms/segments.c): GSM-7 160/153 with extension characters
 * counting two and never split, UCS-2 70/67 as soon as one character is
 * not GSM, surrogate pairs, and texts cut to max_segments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "../segments.c"

static char *
rep(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);

    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[u * n] = '\0';
    return s;
}

static void
count(const char *unit, size_t n, int ucs2, size_t units, int segs)
{
    char *s = rep(unit, n);
    struct sms_count c;

    sms_count(s, &c);
    assert_int_equal(c.ucs2, ucs2);
    assert_int_equal(c.units, units);
    assert_int_equal(c.segments, segs);
    free(s);
}

static void
test_gsm7(void **state)
{
    (void) state;
    count("a", 0, 0, 0, 0);
    count("a", 160, 0, 160, 1);
    count("a", 161, 0, 161, 2);
    count("a", 306, 0, 306, 2);
    count("a", 307, 0, 307, 3);
    /* GSM's own letters beyond ASCII are one septet */
    count("é", 160, 0, 160, 1);
    count("@£$¥Δ", 32, 0, 160, 1);
    /* the extension table is two */
    count("€", 80, 0, 160, 1);
    count("€", 81, 0, 162, 2);
    count("{", 76, 0, 152, 1);
}

static void
test_extension_never_split(void **state)
{
    char *s = rep("a", 152), *t;
    struct sms_count c;

    (void) state;
    /* 152 + "[" (2) + 152: the pair does not fit the first part's last
     * septet, so it starts the second: 152 | 2 + 151 | 1 */
    t = malloc(152 + 1 + 152 + 1);
    strcpy(t, s);
    strcat(t, "[");
    strcat(t, s);
    sms_count(t, &c);
    assert_int_equal(c.units, 306);
    assert_int_equal(c.segments, 3);
    free(s);
    free(t);
}

static void
test_ucs2(void **state)
{
    (void) state;
    count("ж", 70, 1, 70, 1);
    count("ж", 71, 1, 71, 2);
    count("ж", 134, 1, 134, 2);
    count("ж", 135, 1, 135, 3);
    /* one non-GSM character switches the whole text */
    {
        char *s = rep("a", 69), *t = malloc(69 + 4 + 1);
        struct sms_count c;

        strcpy(t, s);
        strcat(t, "✓");
        sms_count(t, &c);
        assert_true(c.ucs2);
        assert_int_equal(c.units, 70);
        assert_int_equal(c.segments, 1);
        free(s);
        free(t);
    }
    /* outside the BMP: two units */
    count("\xf0\x9f\x94\xa5", 35, 1, 70, 1);
    count("\xf0\x9f\x94\xa5", 36, 1, 72, 2);
    /* ` is not GSM-7 */
    count("`", 1, 1, 1, 1);
}

static void
test_fit(void **state)
{
    char *s = rep("a", 400), *f;
    struct sms_count c;

    (void) state;
    f = sms_fit(s, 1);
    assert_int_equal(strlen(f), 160);
    assert_string_equal(f + 157, "...");
    free(f);
    f = sms_fit(s, 2);
    assert_int_equal(strlen(f), 306);
    free(f);
    f = sms_fit("short", 1);
    assert_string_equal(f, "short");
    free(f);
    free(s);
    s = rep("ж", 100);
    f = sms_fit(s, 1);
    sms_count(f, &c);
    assert_true(c.ucs2);
    assert_int_equal(c.units, 70);      /* 67 ж and "..." */
    assert_int_equal(strncmp(f, s, 67 * 2), 0);
    assert_string_equal(f + 67 * 2, "...");
    free(f);
    free(s);
    /* a cut never splits a UTF-8 sequence or a surrogate pair */
    s = rep("\xf0\x9f\x94\xa5", 50);
    f = sms_fit(s, 1);
    sms_count(f, &c);
    assert_int_equal(c.units, 69);      /* 33 pairs and "...": 71 > 70 */
    assert_int_equal(strlen(f), 33 * 4 + 3);
    free(f);
    free(s);
}

static void
test_fit_suffix(void **state)
{
    char *s = rep("a", 400), *f;
    const char *link = "https://o.example/i/stripe";

    (void) state;
    f = sms_fit_suffix(s, link, 1);
    assert_int_equal(strlen(f), 160);
    /* 130 a, "... ", the link (26) */
    assert_int_equal(strncmp(f + 130, "... https://o.example/i/stripe", 30),
                     0);
    free(f);
    f = sms_fit_suffix("down", link, 1);
    assert_string_equal(f, "down https://o.example/i/stripe");
    free(f);
    f = sms_fit_suffix("down", NULL, 1);
    assert_string_equal(f, "down");
    free(f);
    free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gsm7),
        cmocka_unit_test(test_extension_never_split),
        cmocka_unit_test(test_ucs2),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_fit_suffix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
