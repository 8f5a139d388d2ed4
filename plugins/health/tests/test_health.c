/*
 * The health filter: every status transition and its state_change event,
 * thresholds per tier, health_score, success rate / uptime / percentiles
 * after days of scripted checks, staleness in tick, and a restart that
 * keeps uptime and status. Time is the fake clock throughout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "harness.h"

#define S  1000000000LL
#define T0 (1710028800LL * S)           /* 2024-03-10 00:00:00 UTC */

/* A number field of the latest measurement of integration. */
#define num(h, integration, field) harness_number(h, integration, field)

/* --- helpers ------------------------------------------------------------- */

static const char *
status_of(struct harness *h, const char *integration)
{
    const char *s = outpost_record_string(harness_last(h, integration),
                                          "status");

    assert_non_null(s);
    return s;
}

static size_t
changes(struct harness *h, outpost_record_t **ev, size_t max)
{
    return harness_events(h, OUTPOST_EV_STATE_CHANGE, ev, max);
}

/* Checks the only state_change since the last harness_clear. */
static outpost_record_t *
one_change(struct harness *h, const char *from, const char *to,
           outpost_severity_t sev)
{
    outpost_record_t *ev[8];

    assert_int_equal(changes(h, ev, 8), 1);
    assert_string_equal(outpost_record_string(ev[0], "from_status"), from);
    assert_string_equal(outpost_record_string(ev[0], "to_status"), to);
    assert_string_equal(outpost_record_string(ev[0], "status"), to);
    assert_int_equal(ev[0]->severity, sev);
    return ev[0];
}

static void
submit_hint(struct harness *h, const char *integration, int success,
            const char *hint, const char *reason)
{
    outpost_record_t *r = harness_measurement(integration, NULL);

    outpost_record_add_bool(r, "success", success);
    outpost_record_add_float(r, "response_ms", 120);
    if (hint)
        outpost_record_add_str(r, "status_hint", hint);
    if (reason)
        outpost_record_add_str(r, "reason", reason);
    harness_submit(h, r);
}

static void
step(struct harness *h, const char *name, const char *tags, int ok,
     double ms, int64_t every_ns)
{
    harness_check(h, name, tags, ok, ms);
    clock_fake_advance(every_ns);
}

/* --- tests --------------------------------------------------------------- */

static void
test_every_transition_and_event(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("health \"h\" { }", NULL);

    harness_check(h, "crm", NULL, 1, 120);          /* never checked: */
    ev = one_change(h, "unknown", "healthy", OUTPOST_SEV_INFO);
    assert_string_equal(ev->event->dedup_key, "outpost/crm/status");
    assert_string_equal(ev->event->message, "crm is healthy (was unknown)");
    assert_string_equal(outpost_record_tag(ev, "integration"), "crm");
    assert_string_equal(status_of(h, "crm"), "healthy");
    harness_clear(h);

    harness_check(h, "crm", NULL, 1, 300);          /* same status: quiet */
    assert_int_equal(changes(h, NULL, 0), 0);

    harness_check(h, "crm", NULL, 1, 2500);
    ev = one_change(h, "healthy", "degraded", OUTPOST_SEV_WARNING);
    assert_string_equal(ev->event->message,
                        "crm is degraded (was healthy): response 2500 ms "
                        ">= 2000 ms");
    harness_clear(h);

    harness_check(h, "crm", NULL, 0, 40);
    ev = one_change(h, "degraded", "down", OUTPOST_SEV_ERROR);
    assert_string_equal(ev->event->message, "crm is down (was degraded): "
                        "status: got 503, expected 2xx");
    assert_int_equal((int) num(h, "crm", "consecutive_failures"), 1);
    harness_clear(h);

    harness_check(h, "crm", NULL, 1, 100);
    one_change(h, "down", "healthy", OUTPOST_SEV_INFO);
    harness_clear(h);

    harness_check(h, "crm", NULL, 1, 5000);         /* at down_latency */
    ev = one_change(h, "healthy", "down", OUTPOST_SEV_ERROR);
    assert_string_equal(ev->event->message, "crm is down (was healthy): "
                        "response 5000 ms >= 5000 ms");
    harness_clear(h);

    submit_hint(h, "crm", 1, "degraded", NULL);     /* a status page */
    one_change(h, "down", "degraded", OUTPOST_SEV_WARNING);
    harness_clear(h);

    submit_hint(h, "crm", 1, "down", NULL);
    one_change(h, "degraded", "down", OUTPOST_SEV_ERROR);
    harness_clear(h);

    submit_hint(h, "crm", 0, NULL, "credentials missing");
    ev = one_change(h, "down", "unknown", OUTPOST_SEV_WARNING);
    assert_string_equal(ev->event->message,
                        "crm is unknown (was down): credentials missing");
    harness_clear(h);

    submit_hint(h, "crm", 1, "unknown", NULL);      /* still unknown */
    assert_int_equal(changes(h, NULL, 0), 0);
    assert_string_equal(status_of(h, "crm"), "unknown");

    harness_check(h, "crm", NULL, 1, 10);
    one_change(h, "unknown", "healthy", OUTPOST_SEV_INFO);
    /* Each event reaches the outputs after the measurement behind it. */
    assert_int_equal(harness_count(h, NULL), 3);
    assert_int_equal(harness_at(h, NULL, 1)->kind, OUTPOST_MEASUREMENT);
    assert_int_equal(harness_at(h, NULL, 2)->kind, OUTPOST_EVENT);
    harness_free(h, 0);
}

static void
test_thresholds_per_tier(void **state)
{
    struct harness *h;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("health \"h\" {\n"
                    "  enterprise_degraded_latency = \"500ms\"\n"
                    "  enterprise_down_latency = \"1s\"\n"
                    "  basic_down_latency = \"3s\"\n"
                    "}", NULL);
    harness_check(h, "ent", "tier=enterprise", 1, 499);
    assert_string_equal(status_of(h, "ent"), "healthy");
    harness_check(h, "ent", "tier=enterprise", 1, 800);
    assert_string_equal(status_of(h, "ent"), "degraded");
    harness_check(h, "ent", "tier=enterprise", 1, 1000);
    assert_string_equal(status_of(h, "ent"), "down");

    harness_check(h, "bas", "tier=basic", 1, 800);      /* instance: 2s */
    assert_string_equal(status_of(h, "bas"), "healthy");
    harness_check(h, "bas", "tier=basic", 1, 2100);
    assert_string_equal(status_of(h, "bas"), "degraded");
    harness_check(h, "bas", "tier=basic", 1, 3000);     /* tier: 3s */
    assert_string_equal(status_of(h, "bas"), "down");

    harness_check(h, "none", NULL, 1, 4999);            /* no tier: 5s */
    assert_string_equal(status_of(h, "none"), "degraded");
    harness_free(h, 0);
}

static void
test_health_score(void **state)
{
    struct harness *h;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("health \"h\" { }", NULL);

    step(h, "fast", NULL, 1, 100, 10 * S);
    assert_float_equal(num(h, "fast", "health_score"), 1.0, 1e-9);

    /* One failure in ten over the hour: availability 0.9 weighs 0.7. */
    for (int i = 0; i < 100; i++)
        step(h, "flaky", NULL, i % 10 != 5, 100, 30 * S);
    assert_float_equal(num(h, "flaky", "health_score"), 0.7 * 0.9 + 0.3,
                       0.02);

    /* p95 at 3.5 s is halfway from degraded (2 s) to down (5 s): the
     * latency half scores 0.5, and degraded caps the score at 0.5. */
    for (int i = 0; i < 20; i++)
        step(h, "slow", NULL, 1, 3500, 30 * S);
    assert_string_equal(status_of(h, "slow"), "degraded");
    assert_float_equal(num(h, "slow", "health_score"), 0.5, 1e-9);
    step(h, "slowish", NULL, 1, 1900, 30 * S);
    assert_float_equal(num(h, "slowish", "health_score"), 1.0, 1e-9);

    step(h, "fast", NULL, 0, 100, 30 * S);
    assert_float_equal(num(h, "fast", "health_score"), 0.0, 1e-9);

    harness_free(h, 0);
    h = harness_new("health \"h\" { availability_weight = 0 "
                    "latency_weight = 1 }", NULL);
    for (int i = 0; i < 10; i++)
        step(h, "flaky", NULL, i % 2, 100, 30 * S);
    harness_check(h, "flaky", NULL, 1, 100);
    assert_float_equal(num(h, "flaky", "health_score"), 1.0, 1e-9);
    harness_free(h, 0);
}

static void
test_windows_over_days(void **state)
{
    struct harness *h;
    int64_t total = 0, up = 0;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("health \"h\" { }", NULL);

    /* 30 days at 30 minutes, one check in 20 failing: then a day at one
     * minute, all fine, latency 100..690 ms evenly every hour. */
    for (int i = 0; i < 30 * 48; i++) {
        int ok = i % 20 != 7;
        step(h, "crm", NULL, ok, 200, 1800 * S);
        if (i >= 48 && i % 1000 == 0)
            harness_clear(h);
        if (i >= 48) {          /* the 30-day window will start here */
            total++;
            up += ok;
        }
    }
    assert_float_equal(num(h, "crm", "success_rate_24h"), 46.0 / 48, 0.03);
    harness_clear(h);
    for (int i = 0; i < 24 * 60; i++) {
        step(h, "crm", NULL, 1, 100 + (i % 60) * 10, 60 * S);
        if (i % 1000 == 999)
            harness_clear(h);
        total++;
        up++;
    }
    assert_float_equal(num(h, "crm", "success_rate_24h"), 1.0, 1e-9);
    assert_float_equal(num(h, "crm", "uptime_30d"), (double) up / total,
                       0.005);
    assert_float_equal(num(h, "crm", "avg_ms_1h"), 395, 5);
    assert_float_equal(num(h, "crm", "avg_ms_24h"), 395, 1);
    /* Percentiles come from log-scale bins 26% wide. Inside the
     * distribution they are close; at its edge (p99 here, with the top
     * samples bunched at the bottom of their bin) up to a bin off. */
    assert_float_equal(num(h, "crm", "p50_ms_1h"), 395, 0.08 * 395);
    assert_float_equal(num(h, "crm", "p95_ms_1h"), 665, 0.12 * 665);
    assert_float_equal(num(h, "crm", "p99_ms_1h"), 685, 0.20 * 685);
    assert_float_equal(num(h, "crm", "p95_ms_24h"), 665, 0.12 * 665);
    assert_float_equal(num(h, "crm", "p99_ms_24h"), 685, 0.20 * 685);
    /* The last failure was check 1427 of the 30 days. */
    assert_int_equal((int) num(h, "crm", "consecutive_successes"),
                     12 + 24 * 60);
    assert_int_equal((int) num(h, "crm", "consecutive_failures"), 0);

    /* A bad hour: 10 failures in 60 checks; the day is 50 in 1440 + 10. */
    harness_clear(h);
    for (int i = 0; i < 60; i++)
        step(h, "crm", NULL, i % 6 != 0, 300, 60 * S);
    assert_float_equal(num(h, "crm", "success_rate_24h"), 1.0 - 10.0 / 1440,
                       0.01);
    harness_free(h, 0);
}

static void
test_stale_turns_unknown_in_tick(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("health \"h\" { }", NULL);
    for (int i = 0; i < 6; i++)
        step(h, "crm", NULL, 1, 100, 10 * S);
    clock_fake_advance(-10 * S);            /* now = the last check */
    harness_clear(h);

    clock_fake_advance(19 * S);
    harness_tick(h);
    assert_int_equal(changes(h, NULL, 0), 0);
    clock_fake_advance(2 * S);              /* 21 s: over 2 x 10 s */
    harness_tick(h);
    ev = one_change(h, "healthy", "unknown", OUTPOST_SEV_WARNING);
    assert_string_equal(ev->event->message, "crm is unknown (was healthy): "
                        "no result for 21s (expected every 10s)");
    assert_string_equal(outpost_record_tag(ev, "integration"), "crm");
    assert_string_equal(outpost_record_tag(ev, "provider"), "crm");
    harness_clear(h);
    clock_fake_advance(60 * S);
    harness_tick(h);                        /* said once */
    assert_int_equal(changes(h, NULL, 0), 0);

    harness_check(h, "crm", NULL, 1, 100);
    one_change(h, "unknown", "healthy", OUTPOST_SEV_INFO);
    harness_clear(h);

    /* A down integration may be probed once per open_for: it goes stale
     * only after down_stale_after (10m). */
    harness_check(h, "crm", NULL, 0, 100);
    harness_clear(h);
    clock_fake_advance(9 * 60 * S);
    harness_tick(h);
    assert_int_equal(changes(h, NULL, 0), 0);
    clock_fake_advance(61 * S);
    harness_tick(h);
    one_change(h, "down", "unknown", OUTPOST_SEV_WARNING);
    harness_free(h, 0);

    /* stale_after overrides the observed interval. */
    clock_fake_set(T0);
    h = harness_new("health \"h\" { stale_after = \"5m\" }", NULL);
    for (int i = 0; i < 3; i++)
        step(h, "crm", NULL, 1, 100, 10 * S);
    harness_clear(h);
    clock_fake_advance(4 * 60 * S);
    harness_tick(h);
    assert_int_equal(changes(h, NULL, 0), 0);
    clock_fake_advance(61 * S);
    harness_tick(h);
    one_change(h, "healthy", "unknown", OUTPOST_SEV_WARNING);
    harness_free(h, 0);
}

static void
test_restart_keeps_uptime_and_status(void **state)
{
    const char *conf = "health \"h\" { }";
    struct harness *h;
    char dir[128], path[200];
    double uptime;

    (void) state;
    clock_fake_set(T0);
    h = harness_new(conf, NULL);
    snprintf(dir, sizeof(dir), "%s", harness_state_dir(h));
    for (int i = 0; i < 3 * 96; i++)        /* 3 days at 15 min, 1 in 8 */
        step(h, "crm", NULL, i % 8 != 3, 150, 900 * S);
    for (int i = 0; i < 4; i++)             /* and now it is down */
        step(h, "crm", NULL, 0, 150, 900 * S);
    uptime = num(h, "crm", "uptime_30d");
    assert_string_equal(status_of(h, "crm"), "down");
    /* tick saves every save_interval (1m), not only shutdown; on the
     * state file's own thread, so the file comes a moment later. */
    snprintf(path, sizeof(path), "%s/health/h/health.state", dir);
    assert_int_equal(access(path, F_OK), -1);
    harness_tick(h);
    for (int i = 0; i < 500 && access(path, F_OK) != 0; i++)
        usleep(10000);
    assert_int_equal(access(path, F_OK), 0);
    harness_free(h, 1);

    clock_fake_advance(30 * 60 * S);        /* the agent was off 30 min */
    h = harness_new(conf, dir);
    harness_tick(h);                        /* no stale event at start */
    assert_int_equal(changes(h, NULL, 0), 0);
    harness_check(h, "crm", NULL, 0, 150);
    assert_int_equal(changes(h, NULL, 0), 0);    /* still down: no page */
    assert_int_equal((int) num(h, "crm", "consecutive_failures"), 5);
    /* 36 + 4 + 1 down in 3 * 96 + 5 checks. */
    assert_float_equal(num(h, "crm", "uptime_30d"),
                       uptime * 292 / 293, 1e-6);
    harness_check(h, "crm", NULL, 1, 150);
    one_change(h, "down", "healthy", OUTPOST_SEV_INFO);
    harness_free(h, 0);
}

/* Over a thousand integrations (the table's index grows several times,
 * and its later chunks come from slabs) keep apart, across a restart
 * too; a corrupt state file means a fresh start, not a crash. */
static void
test_many_integrations_and_bad_state(void **state)
{
    struct harness *h;
    char dir[128], name[32], path[200];
    FILE *f;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("health \"h\" { }", NULL);
    snprintf(dir, sizeof(dir), "%s", harness_state_dir(h));
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 1300; i++) {
            snprintf(name, sizeof(name), "api-%04d", i);
            harness_check(h, name, NULL, i % 7 != 0, 100 + i);
        }
        harness_clear(h);
        clock_fake_advance(10 * S);
    }
    harness_free(h, 1);
    h = harness_new("health \"h\" { }", dir);
    for (int i = 0; i < 1300; i++) {
        snprintf(name, sizeof(name), "api-%04d", i);
        harness_check(h, name, NULL, i % 7 != 0, 100 + i);
        assert_string_equal(status_of(h, name),
                            i % 7 ? "healthy" : "down");
        assert_int_equal((int) num(h, name, i % 7 ? "consecutive_successes"
                                               : "consecutive_failures"), 4);
        if (i % 7)          /* failures have no latency */
            assert_float_equal(num(h, name, "avg_ms_1h"), 100 + i, 1e-3);
    }
    assert_int_equal(changes(h, NULL, 0), 0);
    harness_free(h, 1);

    snprintf(path, sizeof(path), "%s/health/h/health.state", dir);
    f = fopen(path, "r+");
    assert_non_null(f);
    fseek(f, 100, SEEK_SET);
    fputs("garbage", f);
    fclose(f);
    assert_int_equal(truncate(path, 5000), 0);
    h = harness_new("health \"h\" { }", dir);
    harness_check(h, "api-0001", NULL, 1, 100);
    one_change(h, "unknown", "healthy", OUTPOST_SEV_INFO);
    harness_free(h, 0);
}

static void
test_events_and_non_checks_pass(void **state)
{
    struct harness *h;
    outpost_record_t *r;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("health \"h\" { }", NULL);
    r = harness_measurement("cpu", NULL);        /* no success, no hint */
    outpost_record_add_float(r, "load", 1.5);
    harness_submit(h, r);
    assert_null(outpost_record_field(harness_last(h, "cpu"), "status"));
    assert_int_equal(changes(h, NULL, 0), 0);
    harness_free(h, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_transition_and_event),
        cmocka_unit_test(test_thresholds_per_tier),
        cmocka_unit_test(test_health_score),
        cmocka_unit_test(test_windows_over_days),
        cmocka_unit_test(test_stale_turns_unknown_in_tick),
        cmocka_unit_test(test_restart_keeps_uptime_and_status),
        cmocka_unit_test(test_many_integrations_and_bad_state),
        cmocka_unit_test(test_events_and_non_checks_pass),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    clock_fake_off();
    return rc;
}
