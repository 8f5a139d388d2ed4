/*
 * test_body_regex - body_regex is matched within a budget: the costliest
 * patterns the config allows, on 1 MiB hostile bodies, either answer or
 * give up within a bound (glibc's regexec took seconds to hours on them),
 * and ordinary patterns keep POSIX's answers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "httpcheck_int.h"

#define MIB (1024 * 1024)

static double
cpu_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double) t.tv_sec * 1e3 + (double) t.tv_nsec / 1e6;
}

static int
match(const char *re, const char *s, size_t len)
{
    char err[256];
    struct hc_regex *r = hc_regex_new(re, err, sizeof(err));
    int rc;

    assert_non_null(r);
    rc = hc_regex_match(r, s, len);
    hc_regex_free(r);
    return rc;
}

static void
test_hostile_patterns_are_bounded(void **state)
{
    static const char *pats[] = {
        "a+x", "((((a|b){5,}){4}){20})x", "[a-z]{1,255}x", "(a|aa)+x",
        "(.*){10}x", "a{255}x", "[a-z]{0,255}[a-z]{0,255}[a-z]{0,255}x",
        "(a*)*b", "(a|a?)+$",
    };
    static const char *tails[] = { "", "b", "bx", "\n" };
    char *body = malloc(MIB + 3);

    (void) state;
    assert_non_null(body);
    for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
        size_t len = MIB + strlen(tails[t]);

        memset(body, 'a', MIB);
        memcpy(body + MIB, tails[t], strlen(tails[t]));
        for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
            double t0 = cpu_ms(), ms;
            int rc = match(pats[i], body, len);

            ms = cpu_ms() - t0;
            print_message("%-42s tail %-4s rc %3d %8.1f ms\n", pats[i],
                          tails[t][0] == '\n' ? "\\n" : tails[t], rc, ms);
            assert_true(ms < 1000.0);
        }
    }
    free(body);
}

static void
test_ordinary_patterns_answer_as_before(void **state)
{
    const char *page = "{\"status\": \"ok\"}\nAll Systems Operational\n";
    size_t n = strlen(page);

    (void) state;
    assert_int_equal(match("\"status\": *\"o[k]\"", page, n), 1);
    assert_int_equal(match("All [Ss]ystems [Oo]perational", page, n), 1);
    assert_int_equal(match("^down$", page, n), 0);
    assert_int_equal(match("[[:alpha:]]+ [[:upper:]]", page, n), 1);
    assert_int_equal(match("ok.*Operational", page, n), 1);   /* . is \n */
    assert_int_equal(match("Operational$", page, n), 0);     /* $ is end */
    assert_int_equal(match("Operational\n$", page, n), 1);
}

static void
test_too_costly_is_an_error_not_a_miss(void **state)
{
    char *body = malloc(MIB);

    (void) state;
    assert_non_null(body);
    memset(body, 'a', MIB - 1);
    body[MIB - 1] = 'b';
    int rc = match("[a-z]{0,255}[a-z]{0,255}[a-z]{0,255}x", body, MIB);
    assert_true(rc < 0);
    assert_string_equal(hc_regex_why(rc), "match limit");
    free(body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_patterns_are_bounded),
        cmocka_unit_test(test_ordinary_patterns_answer_as_before),
        cmocka_unit_test(test_too_costly_is_an_error_not_a_miss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
