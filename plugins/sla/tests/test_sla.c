/*
 * The sla filter: multiwindow burn-rate alerts fire once and resolve,
 * error budget remaining and its forecast, compliance per target and
 * with custom targets, the calendar month and MTTR, availability that
 * follows the health filter, and a restart that keeps a firing alert
 * quiet. Time is the fake clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "harness.h"

#define S  1000000000LL
#define T0 (1710028800LL * S)           /* 2024-03-10 00:00:00 UTC */

/* A number field of the latest measurement of integration. */
#define num(h, integration, field) harness_number(h, integration, field)

/* Events of kind with dedup key "outpost/<integration>/sla/<rule>". */
static size_t
burns(struct harness *h, outpost_event_kind_t kind, const char *integration,
      const char *rule, outpost_record_t **first)
{
    outpost_record_t *ev[64];
    size_t n = harness_events(h, kind, ev, 64), hits = 0;
    char key[128];

    snprintf(key, sizeof(key), "outpost/%s/sla/%s", integration, rule);
    for (size_t i = 0; i < n && i < 64; i++)
        if (strcmp(ev[i]->event->dedup_key, key) == 0) {
            if (hits++ == 0 && first)
                *first = ev[i];
        }
    return hits;
}

static void
check(struct harness *h, const char *name, const char *tags, int ok,
      double ms, int64_t every)
{
    harness_check(h, name, tags, ok, ms);
    clock_fake_advance(every);
}

/* The `report` of one integration, parsed. */
static json_t *
report(struct harness *h, const char *integration)
{
    char args[128], *reply = NULL;
    json_t *j;

    snprintf(args, sizeof(args), "{\"integration\":\"%s\"}", integration);
    assert_int_equal(harness_control(h, "s", "report", args, &reply), 0);
    assert_non_null(reply);
    j = json_loads(reply, 0, NULL);
    free(reply);
    assert_non_null(j);
    return j;
}

static double
jnum(json_t *j, const char *window, const char *key)
{
    json_t *w = json_object_get(json_object_get(j, "windows"), window);
    json_t *v = json_object_get(w, key);

    if (v == NULL)
        fail_msg("no %s.%s in the report", window, key);
    return json_number_value(v);
}

/* --- tests --------------------------------------------------------------- */

static void
test_burn_rate_page_fires_once_and_resolves(void **state)
{
    struct harness *h;
    outpost_record_t *ev = NULL;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("sla \"s\" { }", NULL);
    /* Enterprise (99.9%) failing 2% of checks burns its budget 20x: over
     * the 14.4x page threshold in both the hour and the 5 minutes, and
     * over 6x in 6 h / 30 m once 3 hours of checks cover half of 6 h. */
    for (int i = 0; i < 5400; i++)
        check(h, "pay", "tier=enterprise", i % 50 != 49, 100, 2 * S);
    assert_int_equal(burns(h, OUTPOST_EV_ALERT, "pay", "burn_1h", &ev), 1);
    assert_int_equal(ev->severity, OUTPOST_SEV_CRITICAL);
    assert_string_equal(outpost_record_string(ev, "action"), "page");
    assert_string_equal(outpost_record_string(ev, "long_window"), "1h");
    assert_string_equal(outpost_record_string(ev, "short_window"), "5m");
    assert_float_equal(outpost_record_number(ev, "burn_rate_long", 0), 20,
                       0.2);
    assert_string_equal(outpost_record_tag(ev, "integration"), "pay");
    assert_int_equal(burns(h, OUTPOST_EV_ALERT, "pay", "burn_6h", &ev), 1);
    assert_int_equal(ev->severity, OUTPOST_SEV_ERROR);
    /* Three hours are not half of three days: no slow-burn ticket yet. */
    assert_int_equal(burns(h, OUTPOST_EV_ALERT, "pay", "burn_3d", NULL), 0);
    assert_int_equal(harness_events(h, OUTPOST_EV_RESOLVE, NULL, 0), 0);

    /* Clean checks: the 5-minute window empties within 5 minutes and the
     * page resolves, as good news (info) with its priority kept; the
     * 30-minute one still holds failures. */
    for (int i = 0; i < 150; i++)
        check(h, "pay", "tier=enterprise", 1, 100, 2 * S);
    assert_int_equal(burns(h, OUTPOST_EV_RESOLVE, "pay", "burn_1h", &ev), 1);
    assert_int_equal(ev->severity, OUTPOST_SEV_INFO);
    assert_string_equal(outpost_record_string(ev, "priority"), "critical");
    assert_int_equal(burns(h, OUTPOST_EV_RESOLVE, "pay", "burn_6h", NULL), 0);
    for (int i = 0; i < 150; i++)
        check(h, "pay", "tier=enterprise", 1, 100, 2 * S);
    assert_int_equal(burns(h, OUTPOST_EV_ALERT, "pay", "burn_1h", NULL), 1);
    assert_int_equal(burns(h, OUTPOST_EV_RESOLVE, "pay", "burn_1h", NULL), 1);
    harness_free(h, 0);
}

/* Observed: two integrations paged critical, error and warning 20-26 s
 * after they recovered, on four minutes of history ("burning its error
 * budget 300.0x over 1h ... -29900% of the budget left"). */
static void
test_no_page_on_minutes_of_history_or_after_recovery(void **state)
{
    struct harness *h;
    outpost_record_t *ev[64];
    size_t n;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("sla \"s\" { }", NULL);
    /* Two minutes up, two minutes hard down, then up again: at 2 s a
     * check, the windows hold 30+ checks, most of them bad. */
    for (int i = 0; i < 60; i++)
        check(h, "pay", "tier=enterprise", 1, 100, 2 * S);
    for (int i = 0; i < 60; i++)
        check(h, "pay", "tier=enterprise", 0, 100, 2 * S);
    for (int i = 0; i < 30; i++)
        check(h, "pay", "tier=enterprise", 1, 100, 2 * S);
    n = harness_events(h, OUTPOST_EV_ALERT, ev, 64);
    assert_int_equal(n, 0);
    /* The budget reads as spent, never as a negative share left. */
    assert_float_equal(num(h, "pay", "error_budget_remaining"), 0, 0);
    assert_true(num(h, "pay", "error_budget_spent") > 1);

    /* Same history, longer: once the checks span half the hour, a hard
     * outage pages; the page names the budget as overspent; a good check
     * alone, with the short window still full of failures, does not
     * page a second time, and the burn stopping resolves it. */
    for (int i = 0; i < 900; i++)
        check(h, "pay", "tier=enterprise", 1, 100, 2 * S);
    for (int i = 0; i < 120; i++)
        check(h, "pay", "tier=enterprise", 0, 100, 2 * S);
    n = harness_events(h, OUTPOST_EV_ALERT, ev, 64);
    assert_true(n >= 1);
    assert_non_null(strstr(ev[0]->event->message, "overspent by"));
    assert_null(strstr(ev[0]->event->message, "-"));
    for (int i = 0; i < 200; i++)
        check(h, "pay", "tier=enterprise", 1, 100, 2 * S);
    assert_int_equal(harness_events(h, OUTPOST_EV_ALERT, NULL, 0), n);
    assert_int_equal(burns(h, OUTPOST_EV_RESOLVE, "pay", "burn_1h", NULL), 1);
    harness_free(h, 0);
}

static void
test_basic_tier_does_not_page_at_2_percent(void **state)
{
    struct harness *h;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("sla \"s\" { }", NULL);
    /* Basic allows 1%: 2% is a 2x burn, only the 1x ticket fires, once
     * 40 hours of checks cover half of its 3 days. */
    for (int i = 0; i < 2400; i++)
        check(h, "crm", NULL, i % 50 != 49, 100, 60 * S);
    assert_int_equal(burns(h, OUTPOST_EV_ALERT, "crm", "burn_1h", NULL), 0);
    assert_int_equal(burns(h, OUTPOST_EV_ALERT, "crm", "burn_6h", NULL), 0);
    assert_int_equal(burns(h, OUTPOST_EV_ALERT, "crm", "burn_3d", NULL), 1);
    harness_free(h, 0);
}

static void
test_budget_remaining_and_forecast(void **state)
{
    struct harness *h;
    double rate;
    json_t *j;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("sla \"s\" { }", NULL);
    /* Basic (99%): 1000 checks allow 10 bad ones; 5 in the last half
     * hour spend half the budget. */
    for (int i = 0; i < 1000; i++)
        check(h, "crm", NULL, !(i >= 900 && i % 20 == 0), 100, 6 * S);
    assert_float_equal(num(h, "crm", "error_budget_remaining"), 0.5, 1e-9);
    assert_float_equal(num(h, "crm", "sla_availability_30d"), 0.995, 1e-9);
    assert_true(outpost_record_field(harness_last(h, "crm"),
                                     "sla_compliant")->v.b);
    /* The last hour holds 600 checks (minutes 40..99): 5/600 bad is
     * 0.83x the rate that spends the budget in 30 days, so the half left
     * lasts 18 days. */
    rate = (5.0 / 600) / 0.01;
    assert_float_equal(num(h, "crm", "error_budget_exhausted_in_s"),
                       0.5 * 30 * 86400 / rate, 1);
    /* The report reads the windows as of now, 6 s later: minute 40 has
     * left the hour. */
    j = report(h, "crm");
    assert_float_equal(json_number_value(json_object_get(j, "burn_rate_1h")),
                       (5.0 / 590) / 0.01, 1e-9);
    assert_float_equal(jnum(j, "1h", "burn_rate"), (5.0 / 590) / 0.01, 1e-9);
    assert_int_equal(jnum(j, "1h", "checks"), 590);
    json_decref(j);

    /* 10 more failures overspend it: nothing left, not compliant. */
    for (int i = 0; i < 10; i++)
        check(h, "crm", NULL, 0, 100, 6 * S);
    assert_float_equal(num(h, "crm", "error_budget_remaining"), 0, 0);
    assert_float_equal(num(h, "crm", "error_budget_spent"),
                       15.0 / (0.01 * 1010), 1e-9);
    assert_int_equal(num(h, "crm", "error_budget_exhausted_in_s"), 0);
    assert_false(outpost_record_field(harness_last(h, "crm"),
                                      "sla_compliant")->v.b);
    harness_free(h, 0);
}

static void
test_compliance_per_target(void **state)
{
    struct harness *h;
    json_t *j;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("sla \"s\" { default_tier = \"professional\" }", NULL);
    /* Professional: 99.5%, 750 ms average, 1.5% errors. */
    for (int i = 0; i < 200; i++) {
        harness_check(h, "fast", NULL, 1, 100);
        harness_check(h, "slow", NULL, 1, 800);
        harness_check(h, "flaky", NULL, i % 100 != 0, 100);
        clock_fake_advance(30 * S);
    }
    assert_true(outpost_record_field(harness_last(h, "fast"),
                                     "sla_compliant")->v.b);
    assert_false(outpost_record_field(harness_last(h, "slow"),
                                      "sla_compliant")->v.b);
    assert_false(outpost_record_field(harness_last(h, "flaky"),
                                      "sla_compliant")->v.b);

    j = report(h, "slow");
    assert_string_equal(json_string_value(json_object_get(j, "tier")),
                        "professional");
    assert_float_equal(jnum(j, "30d", "avg_ms"), 800, 1e-3);
    assert_true(json_is_true(json_object_get(json_object_get(
        json_object_get(json_object_get(j, "windows"), "30d"), "meets"),
        "availability")));
    assert_true(json_is_false(json_object_get(json_object_get(
        json_object_get(json_object_get(j, "windows"), "30d"), "meets"),
        "response")));
    json_decref(j);
    j = report(h, "flaky");
    assert_float_equal(jnum(j, "30d", "availability"), 0.99, 1e-9);
    assert_float_equal(jnum(j, "30d", "error_rate"), 0.01, 1e-9);
    assert_true(json_is_true(json_object_get(json_object_get(
        json_object_get(json_object_get(j, "windows"), "30d"), "meets"),
        "error_rate")));
    json_decref(j);
    harness_free(h, 0);

    /* Custom targets apply to every tier. */
    clock_fake_set(T0);
    h = harness_new("sla \"s\" { availability_target = 98.5 "
                    "response_target = \"900ms\" }", NULL);
    for (int i = 0; i < 200; i++) {
        harness_check(h, "slow", "tier=enterprise", 1, 800);
        harness_check(h, "flaky", "tier=enterprise", i % 100 != 0, 100);
        clock_fake_advance(30 * S);
    }
    assert_true(outpost_record_field(harness_last(h, "slow"),
                                     "sla_compliant")->v.b);
    /* ...but enterprise's 0.5% error target still holds: 1% fails it. */
    assert_false(outpost_record_field(harness_last(h, "flaky"),
                                      "sla_compliant")->v.b);
    harness_free(h, 0);

    /* A tier's own target wins over the instance's and the tier's. */
    clock_fake_set(T0);
    h = harness_new("sla \"s\" { availability_target = 99.9 "
                    "professional_availability_target = 98.5 }", NULL);
    for (int i = 0; i < 200; i++) {
        harness_check(h, "pro", "tier=professional", i % 100 != 0, 100);
        harness_check(h, "bas", "tier=basic", i % 100 != 0, 100);
        clock_fake_advance(30 * S);
    }
    assert_true(outpost_record_field(harness_last(h, "pro"),
                                     "sla_compliant")->v.b);
    assert_false(outpost_record_field(harness_last(h, "bas"),
                                      "sla_compliant")->v.b);
    harness_free(h, 0);
}

static void
test_calendar_month_and_mttr(void **state)
{
    /* 2024-01-31 22:00 UTC, four hours across the month's end. */
    const int64_t start = 1706738400LL * S;
    struct harness *h;
    json_t *j;

    (void) state;
    clock_fake_set(start);
    h = harness_new("sla \"s\" { compliance_window = \"month\" }", NULL);
    for (int m = 0; m < 240; m++) {
        /* Out 23:00-23:10 (January) and 00:30-00:50 (February). */
        int down = (m >= 60 && m < 70) || (m >= 150 && m < 170);
        check(h, "crm", NULL, !down, 100, 60 * S);
    }
    j = report(h, "crm");
    assert_int_equal(jnum(j, "month", "checks"), 120);
    assert_float_equal(jnum(j, "month", "availability"), 100.0 / 120, 1e-9);
    assert_int_equal(jnum(j, "month", "recoveries"), 1);
    assert_float_equal(jnum(j, "month", "mttr_s"), 1200, 1e-9);
    assert_int_equal(jnum(j, "24h", "checks"), 240);
    assert_int_equal(jnum(j, "24h", "recoveries"), 2);
    assert_float_equal(jnum(j, "24h", "mttr_s"), 900, 1e-9);
    assert_string_equal(json_string_value(json_object_get(j,
                        "compliance_window")), "month");
    json_decref(j);
    /* The budget is the month's: 20 bad in 120 is far over 1%. */
    assert_float_equal(num(h, "crm", "error_budget_remaining"), 0, 0);
    assert_float_equal(num(h, "crm", "error_budget_spent"),
                       20 / (0.01 * 120), 1e-9);
    harness_free(h, 0);
}

static void
test_follows_health_status(void **state)
{
    struct harness *h;
    json_t *j;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("health \"h\" { }\nsla \"s\" { }", NULL);
    /* Succeeds but over down_latency: down for availability, not an
     * error; an unknown result (credentials missing) is not counted. */
    check(h, "crm", NULL, 1, 6000, 10 * S);
    check(h, "crm", NULL, 1, 100, 10 * S);
    {
        outpost_record_t *r = harness_measurement("crm", NULL);
        outpost_record_add_bool(r, "success", 0);
        outpost_record_add_str(r, "reason", "credentials missing");
        harness_submit(h, r);
    }
    j = report(h, "crm");
    assert_int_equal(jnum(j, "1h", "checks"), 2);
    assert_float_equal(jnum(j, "1h", "availability"), 0.5, 1e-9);
    assert_float_equal(jnum(j, "1h", "error_rate"), 0.0, 1e-9);
    json_decref(j);
    harness_free(h, 0);
}

static void
test_restart_keeps_alert_quiet(void **state)
{
    const char *conf = "sla \"s\" { }";
    struct harness *h;
    char dir[128];

    (void) state;
    clock_fake_set(T0);
    h = harness_new(conf, NULL);
    snprintf(dir, sizeof(dir), "%s", harness_state_dir(h));
    for (int i = 0; i < 900; i++)
        check(h, "pay", "tier=enterprise", i % 50 != 49, 100, 2 * S);
    assert_int_equal(burns(h, OUTPOST_EV_ALERT, "pay", "burn_1h", NULL), 1);
    harness_free(h, 1);

    clock_fake_advance(20 * S);
    h = harness_new(conf, dir);
    for (int i = 0; i < 300; i++)
        check(h, "pay", "tier=enterprise", i % 50 != 49, 100, 2 * S);
    assert_int_equal(burns(h, OUTPOST_EV_ALERT, "pay", "burn_1h", NULL), 0);
    for (int i = 0; i < 200; i++)
        check(h, "pay", "tier=enterprise", 1, 100, 2 * S);
    assert_int_equal(burns(h, OUTPOST_EV_RESOLVE, "pay", "burn_1h", NULL), 1);
    harness_free(h, 0);
}

/* The windows' running totals (kept by adding and subtracting buckets)
 * against a brute-force count over every check, after a month of
 * checks at random spacing, from a second to two hours. */
static void
test_windows_match_brute_force(void **state)
{
    static const struct { const char *name; int64_t width; int k; } wins[] = {
        { "5m", 60, 5 }, { "30m", 60, 30 }, { "1h", 60, 60 },
        { "6h", 3600, 6 }, { "24h", 3600, 24 }, { "3d", 3600, 72 },
        { "7d", 21600, 28 }, { "30d", 21600, 120 },
    };
    enum { N = 6000 };
    static int64_t ts[N];
    static int ok[N];
    static double ms[N];
    struct harness *h;
    uint64_t rng = 42;
    int64_t now = T0;
    json_t *j;

    (void) state;
    h = harness_new("sla \"s\" { }", NULL);
    for (int i = 0; i < N; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        now += (int64_t) (1 + (rng >> 33) % ((rng >> 20) % 8 ? 60 : 7200))
               * S;
        clock_fake_set(now);
        ts[i] = now / S;
        ok[i] = (rng >> 40) % 10 != 0;
        ms[i] = (double) ((rng >> 44) % 900) + 0.25;
        harness_check(h, "crm", NULL, ok[i], ms[i]);
        if (i % 1000 == 999)
            harness_clear(h);
    }
    j = report(h, "crm");          /* as of the last check: no rebuild */
    for (size_t w = 0; w < sizeof(wins) / sizeof(wins[0]); w++) {
        int64_t head = ts[N - 1] / wins[w].width, checks = 0, errors = 0;
        double sum = 0;

        for (int i = 0; i < N; i++)
            if (ts[i] / wins[w].width > head - wins[w].k) {
                checks++;
                errors += !ok[i];
                if (ok[i])
                    sum += (float) ms[i];
            }
        assert_int_equal(jnum(j, wins[w].name, "checks"), checks);
        assert_float_equal(jnum(j, wins[w].name, "error_rate"),
                           (double) errors / checks, 1e-12);
        assert_float_equal(jnum(j, wins[w].name, "avg_ms"),
                           sum / (checks - errors), 1e-3);
    }
    json_decref(j);
    harness_free(h, 0);
}

static void
test_report_all_and_unknown_command(void **state)
{
    struct harness *h;
    char *reply = NULL;
    json_t *j;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("sla \"s\" { }", NULL);
    harness_check(h, "a", NULL, 1, 100);
    harness_check(h, "b", NULL, 1, 100);
    assert_int_equal(harness_control(h, "s", "report", NULL, &reply), 0);
    j = json_loads(reply, 0, NULL);
    free(reply);
    assert_int_equal(json_array_size(json_object_get(j, "integrations")), 2);
    json_decref(j);
    assert_int_equal(harness_control(h, "s", "report",
                                     "{\"integration\":\"zz\"}", &reply), -1);
    free(reply);
    assert_int_equal(harness_control(h, "s", "frobnicate", NULL, &reply), -1);
    free(reply);
    harness_free(h, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burn_rate_page_fires_once_and_resolves),
        cmocka_unit_test(test_no_page_on_minutes_of_history_or_after_recovery),
        cmocka_unit_test(test_basic_tier_does_not_page_at_2_percent),
        cmocka_unit_test(test_budget_remaining_and_forecast),
        cmocka_unit_test(test_compliance_per_target),
        cmocka_unit_test(test_calendar_month_and_mttr),
        cmocka_unit_test(test_follows_health_status),
        cmocka_unit_test(test_restart_keeps_alert_quiet),
        cmocka_unit_test(test_windows_match_brute_force),
        cmocka_unit_test(test_report_all_and_unknown_command),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    clock_fake_off();
    return rc;
}
