/*
 * test_state.c - the state store: what a check, an alert's events and a
 * failover event leave in it, the windows, the event ring and its resume,
 * and a waiter woken by a check from another thread.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <outpost/fields.h>
#include "clock.h"
#include "state.h"

#define NS    1000000000LL
#define T0    (1796600000LL * NS)     /* a fixed "now" */

static outpost_tagset_t *
tags(const char *name, const char *extra_k, const char *extra_v)
{
    outpost_tag_t t[] = {
        { outpost_intern("integration"), name },
        { outpost_intern("category"), "payments" },
        { outpost_intern("tier"), "enterprise" },
        { outpost_intern(extra_k ? extra_k : "team"),
          extra_v ? extra_v : "pay" },
    };
    return outpost_tagset_new(t, 4);
}

static void
check(struct state *st, const char *name, int64_t ts, int ok, double ms)
{
    outpost_tagset_t *ts_ = tags(name, NULL, NULL);
    outpost_record_t *r = outpost_measurement_new("http", ts_, ts);

    outpost_record_add_bool(r, OUTPOST_F_SUCCESS, ok);
    outpost_record_add_float(r, OUTPOST_F_RESPONSE_MS, ms);
    outpost_record_add_int(r, OUTPOST_F_STATUS_CODE, ok ? 200 : 503);
    if (!ok)
        outpost_record_add_str(r, OUTPOST_F_ERROR, "status: got 503");
    outpost_record_add_str(r, OUTPOST_F_STATUS, ok ? "healthy" : "down");
    outpost_record_add_float(r, OUTPOST_F_HEALTH_SCORE, ok ? 1.0 : 0.0);
    outpost_record_add_str(r, OUTPOST_F_CIRCUIT, "closed");
    state_record(st, r);
    outpost_record_unref(r);
    outpost_tagset_unref(ts_);
}

static outpost_record_t *
alert_event(outpost_event_kind_t kind, const char *action, int64_t ts)
{
    outpost_tagset_t *t = tags("stripe", NULL, NULL);
    outpost_record_t *m = outpost_measurement_new("http", t, ts);
    outpost_record_t *ev = outpost_event_new(kind, OUTPOST_SEV_CRITICAL, m,
                                             "stripe is down",
                                             "outpost/stripe/health");

    ev->ts_ns = ts;
    outpost_record_add_str(ev, OUTPOST_F_ACTION, action);
    outpost_record_add_str(ev, "condition", "health");
    outpost_record_add_str(ev, OUTPOST_F_PRIORITY, "critical");
    outpost_record_add_int(ev, OUTPOST_F_OCCURRENCES, 3);
    outpost_record_add_bool(ev, "acknowledged",
                            strcmp(action, "acknowledge") == 0);
    if (strcmp(action, "acknowledge") == 0)
        outpost_record_add_str(ev, "acknowledged_by", "alice");
    outpost_record_unref(m);
    outpost_tagset_unref(t);
    return ev;
}

static void
feed(struct state *st, outpost_record_t *rec)
{
    state_record(st, rec);
    outpost_record_unref(rec);
}

static void
test_check(void **unused)
{
    struct state *st = state_new();
    struct state_integration s, *v;
    size_t n;

    (void) unused;
    assert_int_equal(state_integration(st, "stripe", &s), -1);
    check(st, "stripe", T0, 1, 94.5);
    check(st, "stripe", T0 + NS, 0, 12.0);
    assert_int_equal(state_integration(st, "stripe", &s), 0);
    assert_string_equal(s.name, "stripe");
    assert_string_equal(s.category, "payments");
    assert_string_equal(s.tier, "enterprise");
    assert_string_equal(s.input, "http");
    assert_string_equal(s.tags, "team=pay");
    assert_int_equal(s.last.status, OUTPOST_STATUS_DOWN);
    assert_int_equal(s.last.success, 0);
    assert_int_equal(s.last.status_code, 503);
    assert_string_equal(s.last.error, "status: got 503");
    assert_true(s.last.response_ms == 12.0);
    assert_int_equal(s.last.circuit, OUTPOST_CIRCUIT_CLOSED);
    assert_true(isnan(s.last.uptime_30d));
    assert_int_equal(s.checks, 2);
    assert_int_equal(s.failures, 1);
    assert_int_equal(s.seq, 2);
    assert_true(s.status_since_ns == T0 + NS);

    /* The health filter's staleness: unknown and stale until a check. */
    {
        outpost_tagset_t *t = tags("stripe", NULL, NULL);
        outpost_record_t *m = outpost_measurement_new("http", t, T0 + 9 * NS);
        outpost_record_t *ev = outpost_event_new(OUTPOST_EV_STATE_CHANGE,
                                                 OUTPOST_SEV_WARNING, m,
                                                 "no result", "k");

        outpost_record_add_str(ev, "to_status", "unknown");
        outpost_record_add_bool(ev, "stale", 1);
        feed(st, ev);
        outpost_record_unref(m);
        outpost_tagset_unref(t);
    }
    assert_int_equal(state_integration(st, "stripe", &s), 0);
    assert_int_equal(s.last.status, OUTPOST_STATUS_UNKNOWN);
    assert_int_equal(s.stale, 1);
    check(st, "stripe", T0 + 10 * NS, 1, 20.0);
    assert_int_equal(state_integration(st, "stripe", &s), 0);
    assert_int_equal(s.stale, 0);

    check(st, "paypal", T0, 1, 5);
    n = state_integrations(st, &v);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "stripe");
    assert_string_equal(v[1].name, "paypal");
    free(v);
    state_free(st);
}

/* Many integrations: the map grows and every one is found again. */
static void
test_many(void **unused)
{
    struct state *st = state_new();
    struct state_integration s, *v;
    char name[32];

    (void) unused;
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof(name), "integ-%d", i);
        check(st, name, T0, i % 2, i);
    }
    for (int i = 0; i < 3000; i += 7) {
        snprintf(name, sizeof(name), "integ-%d", i);
        assert_int_equal(state_integration(st, name, &s), 0);
        assert_string_equal(s.name, name);
        assert_true(s.last.response_ms == i);
    }
    assert_int_equal(state_integrations(st, &v), 3000);
    free(v);
    state_free(st);
}

static void
test_windows(void **unused)
{
    struct state *st = state_new();
    struct state_bucket b[STATE_BUCKETS_1H];
    int64_t now = T0 - T0 % (3600 * NS);      /* an hour's start */

    (void) unused;
    /* Two checks a minute for the last 90 minutes, failing in minute 5
     * before now. */
    for (int m = 90; m >= 0; m--)
        for (int k = 0; k < 2; k++)
            check(st, "stripe", now - m * 60 * NS + k * NS, m != 5,
                  10 + k * 10);
    clock_fake_set(now + 30 * NS);
    assert_int_equal(state_history(st, "stripe", STATE_RES_1M, b, 60), 60);
    assert_true(b[59].start_s == now / NS);
    assert_int_equal(b[59].checks, 2);
    assert_int_equal(b[54].checks, 2);
    assert_int_equal(b[54].ok, 0);
    assert_int_equal(b[53].ok, 2);
    assert_true(b[59].avg_ms == 15.0);
    assert_true(b[59].max_ms == 20.0);
    /* 5-minute buckets: 10 checks each, except the newest (2). */
    assert_int_equal(state_history(st, "stripe", STATE_RES_5M, b, 3), 3);
    assert_int_equal(b[2].checks, 2);
    assert_int_equal(b[1].checks, 10);
    assert_int_equal(b[1].ok, 8);
    /* Hourly: the hour before now holds 60 minutes, the one before 30. */
    assert_int_equal(state_history(st, "stripe", STATE_RES_1H, b, 3), 3);
    assert_int_equal(b[2].checks, 2);
    assert_int_equal(b[1].checks, 120);
    assert_int_equal(b[0].checks, 60);
    /* A check older than the ring is ignored; nothing is shifted. */
    check(st, "stripe", now - 3 * 3600 * NS, 1, 1);
    assert_int_equal(state_history(st, "stripe", STATE_RES_1M, b, 60), 60);
    assert_int_equal(b[59].checks, 2);
    /* An hour later with no checks: the minute ring reads empty. */
    clock_fake_set(now + 3 * 3600 * NS);
    assert_int_equal(state_history(st, "stripe", STATE_RES_1M, b, 60), 60);
    for (int i = 0; i < 60; i++)
        assert_int_equal(b[i].checks, 0);
    assert_int_equal(state_history(st, "nobody", STATE_RES_1M, b, 60), 0);
    clock_fake_off();
    state_free(st);
}

static void
test_alerts(void **unused)
{
    struct state *st = state_new();
    struct state_alert a, *v;

    (void) unused;
    /* A resolve for an alert never seen open is not made up. */
    feed(st, alert_event(OUTPOST_EV_RESOLVE, "resolve", T0));
    assert_int_equal(state_alert(st, "outpost/stripe/health", &a), -1);

    feed(st, alert_event(OUTPOST_EV_ALERT, "open", T0 + NS));
    assert_int_equal(state_alert(st, "outpost/stripe/health", &a), 0);
    assert_int_equal(a.status, STATE_ALERT_ACTIVE);
    assert_string_equal(a.integration, "stripe");
    assert_string_equal(a.severity, "critical");
    assert_string_equal(a.priority, "critical");
    assert_string_equal(a.message, "stripe is down");
    assert_int_equal(a.occurrences, 3);

    feed(st, alert_event(OUTPOST_EV_ALERT, "acknowledge", T0 + 2 * NS));
    assert_int_equal(state_alert(st, "outpost/stripe/health", &a), 0);
    assert_int_equal(a.status, STATE_ALERT_ACKNOWLEDGED);
    assert_string_equal(a.acknowledged_by, "alice");
    assert_string_equal(a.message, "stripe is down");
    assert_true(a.first_seen_ns == T0 + NS);

    feed(st, alert_event(OUTPOST_EV_RESOLVE, "resolve", T0 + 3 * NS));
    assert_int_equal(state_alert(st, "outpost/stripe/health", &a), 0);
    assert_int_equal(a.status, STATE_ALERT_RESOLVED);
    assert_true(a.status_since_ns == T0 + 3 * NS);

    /* Opened again: a new alert under the same key. */
    feed(st, alert_event(OUTPOST_EV_ALERT, "open", T0 + 4 * NS));
    assert_int_equal(state_alert(st, "outpost/stripe/health", &a), 0);
    assert_int_equal(a.status, STATE_ALERT_ACTIVE);
    assert_true(a.first_seen_ns == T0 + 4 * NS);
    assert_string_equal(a.acknowledged_by, "");

    clock_fake_set(T0 + 5 * NS);
    assert_int_equal(state_alerts(st, &v), 1);
    free(v);
    /* Resolved alerts go after a day. */
    feed(st, alert_event(OUTPOST_EV_RESOLVE, "resolve", T0 + 6 * NS));
    clock_fake_set(T0 + 25LL * 3600 * NS);
    assert_int_equal(state_alerts(st, &v), 0);
    clock_fake_off();
    state_free(st);
}

static void
test_failover(void **unused)
{
    struct state *st = state_new();
    outpost_tagset_t *t = tags("stripe", "failover_group", "checkout");
    outpost_record_t *ev = outpost_event_new(OUTPOST_EV_FAILOVER,
                                             OUTPOST_SEV_WARNING, NULL,
                                             "moved", "outpost/failover/x");
    struct state_failover *g;

    (void) unused;
    outpost_record_set_tag(ev, "failover_group", "checkout");
    outpost_record_add_str(ev, "group", "checkout");
    outpost_record_add_str(ev, "active", "paypal");
    outpost_record_add_str(ev, "previous", "stripe");
    outpost_record_add_str(ev, "strategy", "primary_secondary");
    outpost_record_add_float(ev, "weight.paypal", 1.0);
    outpost_record_add_float(ev, "weight.stripe", 0.0);
    feed(st, ev);
    assert_int_equal(state_failover(st, &g), 1);
    assert_string_equal(g[0].group, "checkout");
    assert_string_equal(g[0].active, "paypal");
    assert_string_equal(g[0].previous, "stripe");
    assert_int_equal(g[0].nmembers, 2);
    assert_string_equal(g[0].members[0].name, "paypal");
    assert_true(g[0].members[0].weight == 1.0);
    free(g);
    outpost_tagset_unref(t);
    state_free(st);
}

static outpost_record_t *
circuit_event(int i)
{
    outpost_tagset_t *t = tags("stripe", NULL, NULL);
    outpost_record_t *m = outpost_measurement_new("http", t, T0);
    outpost_record_t *ev = outpost_event_new(OUTPOST_EV_CIRCUIT,
                                             OUTPOST_SEV_ERROR, m, "open",
                                             "k");

    outpost_record_add_str(ev, OUTPOST_F_CIRCUIT, i % 2 ? "open" : "closed");
    outpost_record_unref(m);
    outpost_tagset_unref(t);
    return ev;
}

static void
test_events(void **unused)
{
    struct state *st = state_new();
    struct state_event *ev;
    struct state_integration s;
    int gap;
    size_t n;

    (void) unused;
    check(st, "stripe", T0, 1, 1);
    for (int i = 1; i <= 10; i++)
        feed(st, circuit_event(i));
    assert_int_equal(state_integration(st, "stripe", &s), 0);
    assert_int_equal(s.last.circuit, OUTPOST_CIRCUIT_CLOSED);
    n = state_events_after(st, 7, 100, &ev, &gap);
    assert_int_equal(n, 3);
    assert_int_equal(gap, 0);
    assert_int_equal(ev[0].id, 8);
    assert_int_equal(ev[2].id, 10);
    assert_int_equal(ev[0].kind, OUTPOST_EV_CIRCUIT);
    assert_string_equal(ev[0].integration, "stripe");
    assert_non_null(strstr(ev[0].json, "\"kind\":\"circuit\""));
    state_events_free(ev, n);
    /* An id from before a restart: everything held. */
    n = state_events_after(st, 5000, 100, &ev, &gap);
    assert_int_equal(n, 10);
    assert_int_equal(ev[0].id, 1);
    state_events_free(ev, n);

    /* The ring overflows: a resume from before its oldest says so. */
    for (int i = 0; i < STATE_EVENTS_MAX; i++)
        feed(st, circuit_event(i));
    n = state_events_after(st, 3, 5, &ev, &gap);
    assert_int_equal(gap, 1);
    assert_int_equal(n, 5);
    assert_int_equal(ev[0].id, 11);
    state_events_free(ev, n);
    n = state_events_after(st, 10 + STATE_EVENTS_MAX, 5, &ev, &gap);
    assert_int_equal(n, 0);
    assert_int_equal(gap, 0);
    state_free(st);
}

struct later {
    struct state *st;
};

static void *
check_later(void *arg)
{
    struct later *l = arg;

    usleep(100 * 1000);
    check(l->st, "stripe", T0 + NS, 1, 1);
    return NULL;
}

static void
test_wait(void **unused)
{
    struct state *st = state_new();
    struct state_integration s;
    struct later l = { st };
    pthread_t t;
    int64_t start;

    (void) unused;
    check(st, "stripe", T0, 0, 1);
    start = clock_mono_ms();
    assert_int_equal(state_wait_check(st, "stripe", 1, start + 150, &s), -1);
    assert_true(clock_mono_ms() - start >= 140);
    pthread_create(&t, NULL, check_later, &l);
    assert_int_equal(state_wait_check(st, "stripe", 1,
                                      clock_mono_ms() + 5000, &s), 0);
    assert_int_equal(s.seq, 2);
    assert_int_equal(s.last.success, 1);
    pthread_join(t, NULL);
    assert_int_equal(state_wait_event(st, 0, 50), 0);
    state_free(st);
}

/* Text is cut at a character, never inside one. */
static void
test_utf8_cut(void **unused)
{
    struct state *st = state_new();
    outpost_tagset_t *t = tags("stripe", NULL, NULL);
    outpost_record_t *r = outpost_measurement_new("http", t, T0);
    char err[600];
    struct state_integration s;

    (void) unused;
    memset(err, 'a', sizeof(err));
    memcpy(err + STATE_TEXT_MAX - 2, "\xc3\xa9", 2);   /* straddles */
    err[sizeof(err) - 1] = '\0';
    outpost_record_add_bool(r, OUTPOST_F_SUCCESS, 0);
    outpost_record_add_str(r, OUTPOST_F_ERROR, err);
    state_record(st, r);
    assert_int_equal(state_integration(st, "stripe", &s), 0);
    assert_int_equal(strlen(s.last.error), STATE_TEXT_MAX - 2);
    /* No health filter: success decides. */
    assert_int_equal(s.last.status, OUTPOST_STATUS_DOWN);
    assert_int_equal(s.last.circuit, -1);
    outpost_record_unref(r);
    outpost_tagset_unref(t);
    state_free(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_alerts),
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_utf8_cut),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
