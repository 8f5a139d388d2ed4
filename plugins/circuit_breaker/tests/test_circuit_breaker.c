/*
 * The circuit_breaker filter: every transition (closed -> open after 5
 * failures, open -> half_open after open_for, half_open -> closed after 3
 * successes, half_open -> open on a failure), rate-based windows of
 * checks and of time with minimum_calls, slow calls, and a restart in the
 * middle of an open circuit. Time is the fake clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "harness.h"

#define S  1000000000LL
#define T0 (1710028800LL * S)           /* 2024-03-10 00:00:00 UTC */

static const char *
circuit_of(struct harness *h, const char *integration)
{
    for (size_t i = harness_count(h, NULL); i-- > 0;) {
        outpost_record_t *r = harness_at(h, NULL, i);
        const char *name = outpost_record_tag(r, "integration");
        if (r->kind == OUTPOST_MEASUREMENT && name
            && strcmp(name, integration) == 0) {
            const char *c = outpost_record_string(r, "circuit");
            assert_non_null(c);
            return c;
        }
    }
    fail_msg("no measurement of %s", integration);
    return NULL;
}

static size_t
circuits(struct harness *h)
{
    return harness_events(h, OUTPOST_EV_CIRCUIT, NULL, 0);
}

/* The only circuit event since the last harness_clear. */
static outpost_record_t *
one_event(struct harness *h, const char *from, const char *to,
          outpost_severity_t sev)
{
    outpost_record_t *ev[8];

    assert_int_equal(harness_events(h, OUTPOST_EV_CIRCUIT, ev, 8), 1);
    assert_string_equal(outpost_record_string(ev[0], "from"), from);
    assert_string_equal(outpost_record_string(ev[0], "to"), to);
    assert_string_equal(outpost_record_string(ev[0], "circuit"), to);
    assert_int_equal(ev[0]->severity, sev);
    assert_string_equal(ev[0]->event->dedup_key, "outpost/crm/circuit");
    assert_string_equal(outpost_record_tag(ev[0], "integration"), "crm");
    return ev[0];
}

static void
check(struct harness *h, int ok, double ms)
{
    harness_check(h, "crm", NULL, ok, ms);
    clock_fake_advance(10 * S);
}

/* Five failures open it (the fifth does). */
static void
open_it(struct harness *h)
{
    for (int i = 0; i < 4; i++)
        check(h, 0, 50);
    assert_string_equal(circuit_of(h, "crm"), "closed");
    assert_int_equal(circuits(h), 0);
    check(h, 0, 50);
    assert_string_equal(circuit_of(h, "crm"), "open");
}

static void
test_closed_opens_after_5_failures(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("circuit_breaker \"cb\" { }", NULL);
    check(h, 1, 50);
    assert_string_equal(circuit_of(h, "crm"), "closed");
    /* A success in between restarts the count. */
    for (int i = 0; i < 4; i++)
        check(h, 0, 50);
    check(h, 1, 50);
    harness_clear(h);
    open_it(h);
    ev = one_event(h, "closed", "open", OUTPOST_SEV_ERROR);
    assert_string_equal(ev->event->message, "crm circuit open (was closed): "
                        "5 consecutive failures");
    assert_int_equal(outpost_record_number(ev, "open_until_ns", 0),
                     T0 + 10 * 10 * S + 60 * S);
    harness_clear(h);
    /* Results while open do not change it, successes included. */
    check(h, 1, 50);
    check(h, 0, 50);
    assert_string_equal(circuit_of(h, "crm"), "open");
    assert_int_equal(circuits(h), 0);
    harness_free(h, 0);
}

static void
test_open_to_half_open_to_closed(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("circuit_breaker \"cb\" { }", NULL);
    open_it(h);                         /* opened at T0 + 40 s */
    harness_clear(h);
    clock_fake_set(T0 + 40 * S + 59 * S);
    harness_tick(h);
    assert_int_equal(circuits(h), 0);
    clock_fake_advance(1 * S);          /* open_for (60 s) has passed */
    harness_tick(h);
    ev = one_event(h, "open", "half_open", OUTPOST_SEV_INFO);
    assert_string_equal(ev->event->message,
                        "crm circuit half_open (was open): trial after 60s "
                        "open");
    harness_clear(h);
    check(h, 1, 50);
    check(h, 1, 50);
    assert_string_equal(circuit_of(h, "crm"), "half_open");
    assert_int_equal(circuits(h), 0);
    check(h, 1, 50);                    /* recovery_threshold = 3 */
    ev = one_event(h, "half_open", "closed", OUTPOST_SEV_INFO);
    assert_string_equal(ev->event->message, "crm circuit closed (was "
                        "half_open): 3 successful trial checks");
    assert_string_equal(circuit_of(h, "crm"), "closed");
    /* Closed again, it takes five fresh failures to open. */
    harness_clear(h);
    open_it(h);
    one_event(h, "closed", "open", OUTPOST_SEV_ERROR);
    harness_free(h, 0);
}

static void
test_half_open_failure_reopens(void **state)
{
    struct harness *h;
    outpost_record_t *ev[4];

    (void) state;
    clock_fake_set(T0);
    h = harness_new("circuit_breaker \"cb\" { open_for = \"30s\" "
                    "recovery_threshold = 2 }", NULL);
    open_it(h);
    harness_clear(h);
    /* No tick: the first result after open_for moves it to half_open
     * itself, and counts as the trial. */
    clock_fake_advance(30 * S);
    check(h, 1, 50);
    assert_string_equal(circuit_of(h, "crm"), "half_open");
    check(h, 0, 50);
    assert_string_equal(circuit_of(h, "crm"), "open");
    assert_int_equal(harness_events(h, OUTPOST_EV_CIRCUIT, ev, 4), 2);
    assert_string_equal(outpost_record_string(ev[0], "to"), "half_open");
    assert_string_equal(outpost_record_string(ev[1], "from"), "half_open");
    assert_string_equal(outpost_record_string(ev[1], "to"), "open");
    assert_string_equal(ev[1]->event->message, "crm circuit open (was "
                        "half_open): trial check failed");
    /* open_for counts again from the reopening. */
    harness_clear(h);
    clock_fake_advance(19 * S);
    harness_tick(h);
    assert_int_equal(circuits(h), 0);
    clock_fake_advance(1 * S);
    harness_tick(h);
    one_event(h, "open", "half_open", OUTPOST_SEV_INFO);
    harness_free(h, 0);
}

static void
test_rate_window_of_checks(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("circuit_breaker \"cb\" { failure_threshold = 0 "
                    "window_size = 10 minimum_calls = 10 "
                    "failure_rate_threshold = 50 }", NULL);
    /* Alternating: 4 failures in 9 checks, then a 5th failure at the
     * 10th check, the first with minimum_calls. */
    for (int i = 0; i < 9; i++)
        check(h, i % 2 == 0 ? 1 : 0, 50);
    assert_string_equal(circuit_of(h, "crm"), "closed");
    check(h, 0, 50);
    ev = one_event(h, "closed", "open", OUTPOST_SEV_ERROR);
    assert_string_equal(ev->event->message, "crm circuit open (was closed): "
                        "failure rate 50.0% over the last 10 checks");
    harness_free(h, 0);

    /* Under the threshold in a sliding window: stays closed. */
    clock_fake_set(T0);
    h = harness_new("circuit_breaker \"cb\" { failure_threshold = 0 "
                    "window_size = 10 minimum_calls = 5 "
                    "failure_rate_threshold = 50 }", NULL);
    for (int i = 0; i < 100; i++)
        check(h, i % 3 != 0, 50);       /* 33% failures */
    assert_string_equal(circuit_of(h, "crm"), "closed");
    assert_int_equal(circuits(h), 0);
    harness_free(h, 0);
}

static void
test_rate_window_of_time(void **state)
{
    struct harness *h;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("circuit_breaker \"cb\" { failure_threshold = 0 "
                    "window_time = \"60s\" minimum_calls = 4 "
                    "failure_rate_threshold = 60 }", NULL);
    /* Failures 2 minutes apart never share a 60 s window. */
    for (int i = 0; i < 12; i++) {
        harness_check(h, "crm", NULL, 0, 50);
        clock_fake_advance(120 * S);
    }
    assert_string_equal(circuit_of(h, "crm"), "closed");
    /* 3 failures, 1 success in 40 s: 75% of 4 calls. */
    harness_check(h, "crm", NULL, 1, 50);
    for (int i = 0; i < 3; i++) {
        clock_fake_advance(10 * S);
        harness_check(h, "crm", NULL, 0, 50);
    }
    assert_string_equal(circuit_of(h, "crm"), "open");
    assert_int_equal(circuits(h), 1);
    harness_free(h, 0);
}

static void
test_slow_calls_count_as_failures(void **state)
{
    struct harness *h;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("circuit_breaker \"cb\" { failure_threshold = 3 "
                    "slow_call_threshold = \"1s\" }", NULL);
    check(h, 1, 999);
    check(h, 1, 1000);
    check(h, 1, 4000);
    assert_string_equal(circuit_of(h, "crm"), "closed");
    check(h, 1, 1500);
    assert_string_equal(circuit_of(h, "crm"), "open");
    harness_free(h, 0);
}

static void
test_restart_mid_open(void **state)
{
    const char *conf = "circuit_breaker \"cb\" { }";
    struct harness *h;
    char dir[128];

    (void) state;
    clock_fake_set(T0);
    h = harness_new(conf, NULL);
    snprintf(dir, sizeof(dir), "%s", harness_state_dir(h));
    open_it(h);                         /* opened at T0 + 40 s */
    harness_free(h, 1);

    clock_fake_set(T0 + 70 * S);        /* 20 s into open_for */
    h = harness_new(conf, dir);
    harness_tick(h);
    check(h, 1, 50);
    assert_string_equal(circuit_of(h, "crm"), "open");
    assert_int_equal(circuits(h), 0);   /* no second "open" */
    clock_fake_set(T0 + 100 * S);       /* the original open_for ends */
    harness_tick(h);
    one_event(h, "open", "half_open", OUTPOST_SEV_INFO);
    harness_free(h, 0);
}

static void
test_events_and_other_records_pass(void **state)
{
    struct harness *h;
    outpost_record_t *r;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("circuit_breaker \"cb\" { }", NULL);
    r = harness_measurement("crm", NULL);
    outpost_record_add_str(r, "status_hint", "down");
    harness_submit(h, r);
    assert_null(outpost_record_field(harness_at(h, NULL, 0), "circuit"));
    r = outpost_event_new(OUTPOST_EV_ALERT, OUTPOST_SEV_ERROR, NULL, "x",
                          "x");
    harness_submit(h, r);
    assert_int_equal(harness_count(h, NULL), 2);
    assert_int_equal(circuits(h), 0);
    harness_free(h, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_opens_after_5_failures),
        cmocka_unit_test(test_open_to_half_open_to_closed),
        cmocka_unit_test(test_half_open_failure_reopens),
        cmocka_unit_test(test_rate_window_of_checks),
        cmocka_unit_test(test_rate_window_of_time),
        cmocka_unit_test(test_slow_calls_count_as_failures),
        cmocka_unit_test(test_restart_mid_open),
        cmocka_unit_test(test_events_and_other_records_pass),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    clock_fake_off();
    return rc;
}
