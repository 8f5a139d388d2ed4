/*
 * The failover filter: choosing by priority, hysteresis before failing
 * back (no flapping), weights proportional to weight x health_score,
 * never routing to an open circuit, decisions driven by circuit events,
 * control("status"), and a restart that keeps the decisions. Checks carry
 * the fields the earlier filters would add (status, health_score,
 * circuit), so only the failover module is loaded. Fake clock throughout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "harness.h"

#define S  1000000000LL
#define T0 (1710028800LL * S)           /* 2024-03-10 00:00:00 UTC */

#define STRIPE "failover_group=checkout,priority=1,weight=1"
#define PAYPAL "failover_group=checkout,priority=2,weight=1"

/* --- helpers ------------------------------------------------------------- */

/* One check as it leaves the circuit breaker. */
static void
check(struct harness *h, const char *integ, const char *tags,
      const char *status, double score, const char *circuit)
{
    outpost_record_t *r = harness_measurement(integ, tags);

    outpost_record_add_bool(r, "success", strcmp(status, "down") != 0);
    outpost_record_add_float(r, "response_ms", 100);
    outpost_record_add_str(r, "status", status);
    outpost_record_add_float(r, "health_score", score);
    outpost_record_add_str(r, "circuit", circuit);
    harness_submit(h, r);
    clock_fake_advance(10 * S);
}

static void
healthy(struct harness *h, const char *integ, const char *tags)
{
    check(h, integ, tags, "healthy", 1.0, "closed");
}

static void
down(struct harness *h, const char *integ, const char *tags)
{
    check(h, integ, tags, "down", 0.0, "closed");
}

/* failover_after (3) checks down in a row: the provider is out. */
static void
out3(struct harness *h, const char *integ, const char *tags)
{
    for (int i = 0; i < 3; i++)
        down(h, integ, tags);
}

static size_t
failovers(struct harness *h, outpost_record_t **ev, size_t max)
{
    return harness_events(h, OUTPOST_EV_FAILOVER, ev, max);
}

/* The only failover event since the last harness_clear. */
static outpost_record_t *
one_failover(struct harness *h, const char *from, const char *to)
{
    outpost_record_t *ev[8];

    assert_int_equal(failovers(h, ev, 8), 1);
    assert_string_equal(outpost_record_string(ev[0], "previous"), from);
    assert_string_equal(outpost_record_string(ev[0], "active"), to);
    assert_string_equal(ev[0]->event->dedup_key, "outpost/failover/checkout");
    assert_string_equal(outpost_record_tag(ev[0], "failover_group"),
                        "checkout");
    assert_string_equal(outpost_record_string(ev[0], "group"), "checkout");
    return ev[0];
}

static double
share(outpost_record_t *ev, const char *integ)
{
    char key[64];

    snprintf(key, sizeof(key), "weight.%s", integ);
    assert_non_null(outpost_record_field(ev, key));
    return outpost_record_number(ev, key, NAN);
}

static json_t *
status(struct harness *h, const char *args)
{
    char *reply = NULL;
    json_t *j;

    assert_int_equal(harness_control(h, "fo", "status", args, &reply), 0);
    assert_non_null(reply);
    j = json_loads(reply, 0, NULL);
    free(reply);
    assert_non_null(j);
    return j;
}

static const char *
active_in_status(json_t *j)
{
    json_t *g = json_array_get(json_object_get(j, "groups"), 0);

    return json_string_value(json_object_get(g, "active"));
}

/* --- tests --------------------------------------------------------------- */

static void
test_priority_chooses_first_healthy(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("failover \"fo\" { }", NULL);

    healthy(h, "paypal", PAYPAL);
    ev = one_failover(h, "", "paypal");
    assert_int_equal(ev->severity, OUTPOST_SEV_INFO);
    harness_clear(h);

    /* A provider of better priority seen for the first time has never
     * failed: it takes over at once. */
    healthy(h, "stripe", STRIPE);
    ev = one_failover(h, "paypal", "stripe");
    assert_string_equal(ev->event->message,
                        "checkout: paypal -> stripe (stripe is preferred)");
    assert_true(share(ev, "stripe") == 1.0);
    assert_true(share(ev, "paypal") == 0.0);
    harness_clear(h);

    healthy(h, "paypal", PAYPAL);
    healthy(h, "stripe", STRIPE);
    assert_int_equal(failovers(h, NULL, 0), 0);     /* nothing changed */

    /* One or two failed checks do not move the traffic; a third does. */
    down(h, "stripe", STRIPE);
    down(h, "stripe", STRIPE);
    healthy(h, "stripe", STRIPE);
    down(h, "stripe", STRIPE);
    down(h, "stripe", STRIPE);
    assert_int_equal(failovers(h, NULL, 0), 0);
    down(h, "stripe", STRIPE);
    ev = one_failover(h, "stripe", "paypal");
    assert_string_equal(ev->event->message,
                        "checkout: stripe -> paypal (stripe is down)");
    assert_int_equal(ev->severity, OUTPOST_SEV_WARNING);
    assert_string_equal(outpost_record_tag(ev, "integration"), "stripe");
    assert_string_equal(outpost_record_string(ev, "strategy"),
                        "primary_secondary");
    assert_true(share(ev, "paypal") == 1.0);
    harness_clear(h);

    /* Degraded still serves by default. */
    check(h, "paypal", PAYPAL, "degraded", 0.5, "closed");
    assert_int_equal(failovers(h, NULL, 0), 0);

    out3(h, "paypal", PAYPAL);
    ev = one_failover(h, "paypal", "");
    assert_int_equal(ev->severity, OUTPOST_SEV_CRITICAL);
    assert_string_equal(ev->event->message,
                        "checkout: paypal -> none (no provider available)");
    harness_free(h, 0);
}

static void
test_avoid_degraded(void **state)
{
    struct harness *h;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("failover \"fo\" { avoid_degraded = true }", NULL);
    healthy(h, "stripe", STRIPE);
    healthy(h, "paypal", PAYPAL);
    harness_clear(h);
    for (int i = 0; i < 3; i++)
        check(h, "stripe", STRIPE, "degraded", 0.5, "closed");
    one_failover(h, "stripe", "paypal");
    harness_free(h, 0);
}

static void
test_hysteresis_no_flapping_back(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("failover \"fo\" { failback_after = 3 }", NULL);
    healthy(h, "stripe", STRIPE);
    healthy(h, "paypal", PAYPAL);
    out3(h, "stripe", STRIPE);
    harness_clear(h);

    /* A flapping primary never gets the traffic back. */
    for (int i = 0; i < 10; i++) {
        healthy(h, "stripe", STRIPE);
        healthy(h, "stripe", STRIPE);
        down(h, "stripe", STRIPE);
        healthy(h, "paypal", PAYPAL);
    }
    assert_int_equal(failovers(h, NULL, 0), 0);

    /* Recovered: two good checks are not enough, the third is. */
    healthy(h, "stripe", STRIPE);
    healthy(h, "stripe", STRIPE);
    assert_int_equal(failovers(h, NULL, 0), 0);
    healthy(h, "stripe", STRIPE);
    ev = one_failover(h, "paypal", "stripe");
    assert_string_equal(ev->event->message,
                        "checkout: paypal -> stripe (stripe is back)");
    assert_int_equal(ev->severity, OUTPOST_SEV_INFO);
    harness_free(h, 0);
}

static void
test_failback_hold_time(void **state)
{
    struct harness *h;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("failover \"fo\" { failback_after = 2 "
                    "failback_hold = \"5m\" }", NULL);
    healthy(h, "stripe", STRIPE);
    healthy(h, "paypal", PAYPAL);
    out3(h, "stripe", STRIPE);
    harness_clear(h);

    for (int i = 0; i < 25; i++)            /* 10 s apart: 4 min */
        healthy(h, "stripe", STRIPE);
    assert_int_equal(failovers(h, NULL, 0), 0);
    clock_fake_advance(60 * S);
    healthy(h, "stripe", STRIPE);
    one_failover(h, "paypal", "stripe");
    harness_free(h, 0);
}

static void
test_weighted_shares_follow_health(void **state)
{
    struct harness *h;
    outpost_record_t *ev[8];

    (void) state;
    clock_fake_set(T0);
    h = harness_new("failover \"fo\" { strategy = \"weighted\" }", NULL);
    check(h, "stripe", "failover_group=checkout,priority=1,weight=3",
          "healthy", 1.0, "closed");
    check(h, "paypal", "failover_group=checkout,priority=2,weight=1",
          "healthy", 1.0, "closed");
    assert_int_equal(failovers(h, ev, 8), 2);
    assert_true(fabs(share(ev[1], "stripe") - 0.75) < 1e-9);
    assert_true(fabs(share(ev[1], "paypal") - 0.25) < 1e-9);
    assert_string_equal(outpost_record_string(ev[1], "change"), "weights");
    assert_string_equal(outpost_record_string(ev[1], "active"), "stripe");
    harness_clear(h);

    /* 3 x 0.5 : 1 x 1 -> 0.6 : 0.4, a move of 0.15: reported. */
    check(h, "stripe", "failover_group=checkout,priority=1,weight=3",
          "degraded", 0.5, "closed");
    assert_int_equal(failovers(h, ev, 8), 1);
    assert_true(fabs(share(ev[0], "stripe") - 0.6) < 1e-9);
    assert_true(fabs(share(ev[0], "paypal") - 0.4) < 1e-9);
    assert_string_equal(outpost_record_string(ev[0], "strategy"),
                        "weighted");
    harness_clear(h);

    /* 0.48 -> 0.59 : 0.41, under weight_change: not reported. */
    check(h, "stripe", "failover_group=checkout,priority=1,weight=3",
          "degraded", 0.48, "closed");
    assert_int_equal(failovers(h, NULL, 0), 0);

    /* Down: all to paypal, and paypal becomes the active one. */
    check(h, "stripe", "failover_group=checkout,priority=1,weight=3",
          "down", 0.0, "closed");
    assert_int_equal(failovers(h, ev, 8), 1);
    assert_string_equal(outpost_record_string(ev[0], "active"), "paypal");
    assert_true(share(ev[0], "stripe") == 0.0);
    assert_true(share(ev[0], "paypal") == 1.0);
    harness_free(h, 0);
}

static void
test_never_routes_to_open_circuit(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("failover \"fo\" { failback_after = 1 }", NULL);
    healthy(h, "stripe", STRIPE);
    healthy(h, "paypal", PAYPAL);
    harness_clear(h);

    /* The check was fine but the breaker says open: no traffic. */
    check(h, "stripe", STRIPE, "healthy", 1.0, "open");
    ev = one_failover(h, "stripe", "paypal");
    assert_string_equal(ev->event->message,
                        "checkout: stripe -> paypal (stripe circuit is open)");
    harness_clear(h);

    /* Half-open gets no traffic in primary_secondary either... */
    check(h, "stripe", STRIPE, "healthy", 1.0, "half_open");
    check(h, "stripe", STRIPE, "healthy", 1.0, "half_open");
    assert_int_equal(failovers(h, NULL, 0), 0);
    /* ...but a closed circuit and failback_after = 1 good check does. */
    healthy(h, "stripe", STRIPE);
    one_failover(h, "paypal", "stripe");
    harness_free(h, 0);
}

static void
test_weighted_half_open_gets_a_trickle(void **state)
{
    struct harness *h;
    outpost_record_t *ev[8];

    (void) state;
    clock_fake_set(T0);
    h = harness_new("failover \"fo\" { strategy = \"weighted\" "
                    "half_open_weight = 0.1 failback_after = 1 }", NULL);
    healthy(h, "stripe", STRIPE);
    healthy(h, "paypal", PAYPAL);
    check(h, "stripe", STRIPE, "down", 0.0, "open");
    harness_clear(h);
    check(h, "stripe", STRIPE, "healthy", 1.0, "half_open");
    assert_int_equal(failovers(h, ev, 8), 1);
    /* 1 x 1 x 0.1 : 1 x 1 -> 1/11 : 10/11 */
    assert_true(fabs(share(ev[0], "stripe") - 1.0 / 11) < 1e-9);
    assert_string_equal(outpost_record_string(ev[0], "active"), "paypal");
    harness_free(h, 0);
}

static void
test_circuit_event_moves_traffic(void **state)
{
    struct harness *h;
    outpost_record_t *cause, *ev;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("failover \"fo\" { }", NULL);
    healthy(h, "stripe", STRIPE);
    healthy(h, "paypal", PAYPAL);
    harness_clear(h);

    /* The breaker opened between checks (its own event, no check). */
    cause = harness_measurement("stripe", STRIPE);
    ev = outpost_event_new(OUTPOST_EV_CIRCUIT, OUTPOST_SEV_ERROR, cause,
                           "stripe circuit open", "outpost/stripe/circuit");
    outpost_record_unref(cause);
    outpost_record_add_str(ev, "from", "closed");
    outpost_record_add_str(ev, "to", "open");
    harness_submit(h, ev);
    ev = one_failover(h, "stripe", "paypal");
    assert_null(ev->event->cause);          /* triggered by an event */
    assert_string_equal(outpost_record_tag(ev, "integration"), "stripe");
    harness_free(h, 0);
}

static void
state_change(struct harness *h, const char *integ, const char *tags,
             const char *from, const char *to)
{
    outpost_record_t *cause = harness_measurement(integ, tags);
    outpost_record_t *ev = outpost_event_new(OUTPOST_EV_STATE_CHANGE,
                                             OUTPOST_SEV_INFO, cause, "",
                                             "outpost/x/status");

    outpost_record_unref(cause);
    outpost_record_add_str(ev, "from_status", from);
    outpost_record_add_str(ev, "to_status", to);
    harness_submit(h, ev);
}

static void
test_state_change_counts_once(void **state)
{
    struct harness *h;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("failover \"fo\" { }", NULL);
    healthy(h, "stripe", STRIPE);
    healthy(h, "paypal", PAYPAL);
    harness_clear(h);

    /* The health filter's event right after the check that caused it
     * says nothing new: two failed checks are still two. */
    down(h, "stripe", STRIPE);
    state_change(h, "stripe", STRIPE, "healthy", "down");
    down(h, "stripe", STRIPE);
    assert_int_equal(failovers(h, NULL, 0), 0);
    /* A change between checks (stale) is news: the third strike. */
    state_change(h, "stripe", STRIPE, "down", "unknown");
    one_failover(h, "stripe", "paypal");
    harness_free(h, 0);
}

static void
test_status_and_restart_keep_decisions(void **state)
{
    struct harness *h;
    char dir[160], *reply = NULL;
    json_t *j, *g, *m;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("failover \"fo\" { }", NULL);
    snprintf(dir, sizeof(dir), "%s", harness_state_dir(h));
    healthy(h, "stripe", STRIPE);
    healthy(h, "paypal", PAYPAL);
    healthy(h, "openai", "failover_group=ai,priority=1");
    out3(h, "stripe", STRIPE);

    j = status(h, "{}");
    assert_int_equal(json_array_size(json_object_get(j, "groups")), 2);
    g = json_array_get(json_object_get(j, "groups"), 0);  /* sorted: ai */
    assert_string_equal(json_string_value(json_object_get(g, "group")), "ai");
    json_decref(j);
    j = status(h, "{\"group\":\"checkout\"}");
    assert_string_equal(active_in_status(j), "paypal");
    g = json_array_get(json_object_get(j, "groups"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "previous")),
                        "stripe");
    assert_string_equal(json_string_value(json_object_get(g, "reason")),
                        "stripe is down");
    m = json_array_get(json_object_get(g, "members"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "integration")),
                        "stripe");
    assert_string_equal(json_string_value(json_object_get(m, "status")),
                        "down");
    assert_false(json_is_true(json_object_get(m, "eligible")));
    json_decref(j);
    assert_int_equal(harness_control(h, "fo", "nonsense", "{}", &reply), -1);
    assert_non_null(reply);                 /* says which commands exist */
    free(reply);
    harness_free(h, 1);

    /* After a restart the decision stands: a recovered stripe still has
     * to earn the traffic back, and nothing is re-announced. */
    h = harness_new("failover \"fo\" { }", dir);
    j = status(h, "{\"group\":\"checkout\"}");
    assert_string_equal(active_in_status(j), "paypal");
    json_decref(j);
    healthy(h, "paypal", PAYPAL);
    healthy(h, "stripe", STRIPE);
    assert_int_equal(failovers(h, NULL, 0), 0);
    healthy(h, "stripe", STRIPE);
    healthy(h, "stripe", STRIPE);
    one_failover(h, "paypal", "stripe");
    harness_free(h, 0);
}

static void
test_records_pass_untouched(void **state)
{
    struct harness *h;

    (void) state;
    clock_fake_set(T0);
    h = harness_new("failover \"fo\" { }", NULL);
    harness_check(h, "crm", NULL, 0, 100);      /* not in a group */
    assert_int_equal(harness_count(h, NULL), 1);
    assert_int_equal(failovers(h, NULL, 0), 0);
    harness_free(h, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority_chooses_first_healthy),
        cmocka_unit_test(test_avoid_degraded),
        cmocka_unit_test(test_hysteresis_no_flapping_back),
        cmocka_unit_test(test_failback_hold_time),
        cmocka_unit_test(test_weighted_shares_follow_health),
        cmocka_unit_test(test_never_routes_to_open_circuit),
        cmocka_unit_test(test_weighted_half_open_gets_a_trickle),
        cmocka_unit_test(test_circuit_event_moves_traffic),
        cmocka_unit_test(test_state_change_counts_once),
        cmocka_unit_test(test_status_and_restart_keep_decisions),
        cmocka_unit_test(test_records_pass_untouched),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
