/*
 * test_notify.c - plugins/common/notify.c: templates (check and render),
 * the rate limit's grammar, summaries and cutting secrets out of answers.
 * The HTTP and the write loop are tested end to end
 * (tests/e2e/test_notify_channels.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include <outpost/fields.h>
#include "notify.h"

static outpost_record_t *
alert(const char *integ, const char *status)
{
    outpost_tag_t t[] = {
        { "integration", integ }, { "failover_group", "checkout" },
        { "tier", "enterprise" },
    };
    outpost_tagset_t *ts = outpost_tagset_new(t, 3);
    outpost_record_t *m = outpost_measurement_new("http", ts, 0), *ev;

    outpost_tagset_unref(ts);
    outpost_record_add_float(m, "response_ms", 2300.25);
    outpost_record_add_int(m, "status_code", 503);
    outpost_record_add_str(m, "error", "status: got 503, expected 2xx");
    outpost_record_add_int(m, "consecutive_failures", 5);
    ev = outpost_event_new(OUTPOST_EV_ALERT, OUTPOST_SEV_CRITICAL, m,
                           "stripe is down", "outpost/stripe/health");
    outpost_record_unref(m);
    outpost_record_add_str(ev, "status", status);
    outpost_record_add_str(ev, "priority", "critical");
    outpost_record_add_int(ev, "occurrences", 5);
    outpost_record_add_str(ev, "failover_active", "paypal");
    return ev;
}

static void
test_check(void **state)
{
    char err[256];

    (void) state;
    assert_int_equal(notify_tmpl_check("template", "{integration} is "
                                       "{status}: {reason} {{x}}", err,
                                       sizeof(err)), 0);
    assert_int_equal(notify_tmpl_check("template", "", err, sizeof(err)), 0);
    assert_int_equal(notify_tmpl_check("template", "{integration} {nope}",
                                       err, sizeof(err)), -1);
    assert_non_null(strstr(err, "template: unknown field {nope}"));
    assert_int_equal(notify_tmpl_check("resolve_template", "{status", err,
                                       sizeof(err)), -1);
    assert_non_null(strstr(err, "resolve_template: '{' without"));
    assert_int_equal(notify_tmpl_check("template", "a } b", err,
                                       sizeof(err)), -1);
    assert_int_equal(notify_tmpl_check("template", "{}", err, sizeof(err)),
                     -1);
}

static void
test_render(void **state)
{
    outpost_record_t *ev = alert("stripe", "down");
    char *s;

    (void) state;
    s = notify_render("[{severity}] {integration} {status} ({priority}, "
                      "{occurrences}x, {consecutive_failures} in a row, "
                      "HTTP {status_code}, {response_ms} ms): {error}; "
                      "{failover}; {tier} {{literal}} {vendor_status}.", ev);
    assert_string_equal(s, "[critical] stripe down (critical, 5x, 5 in a "
                        "row, HTTP 503, 2300.2 ms): status: got 503, "
                        "expected 2xx; checkout traffic moved to paypal; "
                        "enterprise {literal} .");
    free(s);
    s = notify_render("{kind} {dedup_key} {message}", ev);
    assert_string_equal(s, "alert outpost/stripe/health stripe is down");
    free(s);
    outpost_record_unref(ev);

    /* The failover only when the traffic went elsewhere. */
    ev = alert("paypal", "down");
    s = notify_render("[{failover}]", ev);
    assert_string_equal(s, "[]");
    free(s);
    outpost_record_unref(ev);
}

static void
test_rate(void **state)
{
    int64_t n, per;

    (void) state;
    assert_int_equal(notify_rate_parse("30/1m", &n, &per), 0);
    assert_int_equal(n, 30);
    assert_int_equal(per, 60000);
    assert_int_equal(notify_rate_parse("1/500ms", &n, &per), 0);
    assert_int_equal(per, 500);
    assert_int_equal(notify_rate_parse("", &n, &per), 0);
    assert_int_equal(n, 0);
    assert_int_equal(notify_rate_parse(NULL, &n, &per), 0);
    assert_int_equal(notify_rate_parse("30", &n, &per), -1);
    assert_int_equal(notify_rate_parse("0/1m", &n, &per), -1);
    assert_int_equal(notify_rate_parse("30/soon", &n, &per), -1);
    assert_int_equal(notify_rate_parse("x/1m", &n, &per), -1);
}

static void
test_summary_and_redact(void **state)
{
    char *names[] = { "alert", "resolve" };
    struct notify_conf c = {
        .template = "{message}", .resolve_template = "{message}",
        .rate_limit = "2/1m", .events = { 2, names }, .summary_max = 2,
    };
    const char *secrets[] = { "hooks-secret-token", NULL };
    struct notify *n = notify_new(NULL, &c, secrets);
    outpost_record_t *evs[3] = {
        alert("stripe", "down"), alert("paypal", "degraded"),
        alert("adyen", "down"),
    };
    char err[256], body[128];
    char *s;

    (void) state;
    assert_non_null(n);
    s = notify_summary_text(n, (const outpost_record_t *const *) evs, 3);
    assert_string_equal(s, "3 notifications over the rate limit (2/1m), "
                        "grouped: 3 alerts, 0 resolves: stripe down, "
                        "paypal degraded and 1 more");
    free(s);
    snprintf(body, sizeof(body), "bad url /services/hooks-secret-token\r\n"
             "forged: line");
    notify_redact(n, body);
    assert_string_equal(body, "bad url /services/***  forged: line");
    assert_int_equal(notify_conf_check(&c, err, sizeof(err)), 0);
    names[1] = "measurement";
    assert_int_equal(notify_conf_check(&c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "events: unknown event kind"));
    for (int i = 0; i < 3; i++)
        outpost_record_unref(evs[i]);
    notify_free(n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_summary_and_redact),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
