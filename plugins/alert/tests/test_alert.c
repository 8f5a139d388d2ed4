/*
 * The alert filter: opening after consecutive failures or on a bad
 * status, throttling and grouping, resolve, routing by severity to named
 * outputs, escalation after the delay, acknowledgement, silences and
 * their expiry, maintenance windows (time zones included), flapping,
 * the per-integration state found by tag set, alerts raised upstream,
 * and a restart in the middle of an open alert.
 *
 * Several "capture" outputs stand for notifiers (slack, email, sms...);
 * a jsonl output stands for the recording outputs, which must receive
 * muted events too. Fake clock throughout: hours pass in microseconds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "harness.h"
#include "tmpdir.h"

#define S   1000000000LL
#define MIN (60 * S)
#define T0  (1710028800LL * S)          /* Sun 2024-03-10 00:00:00 UTC */

#define NOTIFIERS                                                       \
    "capture \"slack\" { flush_interval = \"1ms\" }\n"                  \
    "capture \"email\" { flush_interval = \"1ms\" }\n"                  \
    "capture \"sms\"   { flush_interval = \"1ms\" }\n"                  \
    "capture \"pd\"    { flush_interval = \"1ms\" }\n"

#define POLICIES                                                        \
    "  critical = {\"slack\", \"email\", \"sms\", \"pd\"}\n"            \
    "  high = {\"email\", \"slack\"}\n"                                 \
    "  high_escalate = {\"sms\"}\n"                                     \
    "  high_escalate_after = \"10m\"\n"                                 \
    "  medium = {\"email\", \"slack\"}\n"                               \
    "  low = {\"email\"}\n"

/* --- helpers ------------------------------------------------------------- */

static char recdir[64];             /* holds the jsonl "recorded" file */

static int
setup(void **state)
{
    (void) state;
    assert_int_equal(tmp_template(recdir, sizeof(recdir), "alert"), 0);
    assert_non_null(mkdtemp(recdir));
    clock_fake_set(T0);
    return 0;
}

static int
teardown(void **state)
{
    char path[128];

    (void) state;
    snprintf(path, sizeof(path), "%s/rec.jsonl", recdir);
    unlink(path);
    rmdir(recdir);
    return 0;
}

/* A harness with the alert filter "al" configured by body, the notifier
 * captures and a jsonl output that records every event. */
static struct harness *
start(const char *body, const char *state_dir)
{
    char conf[4096];

    snprintf(conf, sizeof(conf),
             "alert \"al\" {\n%s\n}\n" NOTIFIERS
             "jsonl \"rec\" { path = \"%s/rec.jsonl\" match = {\"kind=event\"}"
             " flush_interval = \"1ms\" }\n", body, recdir);
    return harness_new(conf, state_dir);
}

static void
bad(struct harness *h, const char *integ, const char *tags)
{
    harness_check(h, integ, tags, 0, 100);
    clock_fake_advance(10 * S);
}

static void
good(struct harness *h, const char *integ, const char *tags)
{
    harness_check(h, integ, tags, 1, 100);
    clock_fake_advance(10 * S);
}

/* A successful check with the status the health filter gave it. */
static void
with_status(struct harness *h, const char *integ, const char *status)
{
    outpost_record_t *r = harness_measurement(integ, NULL);

    outpost_record_add_bool(r, "success", 1);
    outpost_record_add_float(r, "response_ms", 2500);
    outpost_record_add_str(r, "status", status);
    harness_submit(h, r);
    clock_fake_advance(10 * S);
}

/* Events of kind (0: any) the capture named name received. */
static size_t
got(struct harness *h, const char *name, outpost_event_kind_t kind,
    outpost_record_t **out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < harness_count(h, name); i++) {
        outpost_record_t *r = harness_at(h, name, i);
        if (r->kind != OUTPOST_EVENT || (kind && r->event_kind != kind))
            continue;
        if (n < max)
            out[n] = r;
        n++;
    }
    return n;
}

static outpost_record_t *
only(struct harness *h, const char *name, outpost_event_kind_t kind)
{
    outpost_record_t *ev[16];

    assert_int_equal(got(h, name, kind, ev, 16), 1);
    return ev[0];
}

/* Events the jsonl output recorded, as JSON objects (caller decrefs). */
static json_t *
recorded(const char *dedup_key)
{
    char path[128], line[65536];
    json_t *all = json_array();
    FILE *f;

    snprintf(path, sizeof(path), "%s/rec.jsonl", recdir);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f)) {
        json_t *j = json_loads(line, 0, NULL);
        const char *key = json_string_value(json_object_get(j, "dedup_key"));
        if (j && key && strcmp(key, dedup_key) == 0)
            json_array_append(all, j);
        json_decref(j);
    }
    if (f)
        fclose(f);
    return all;
}

static json_t *
rec_field(json_t *ev, const char *field)
{
    return json_object_get(json_object_get(ev, "fields"), field);
}

static int
control(struct harness *h, const char *cmd, const char *args, json_t **out)
{
    char *reply = NULL;
    int rc = harness_control(h, "al", cmd, args, &reply);

    if (out)
        *out = reply ? json_loads(reply, 0, NULL) : NULL;
    free(reply);
    return rc;
}

static void
assert_str_field(outpost_record_t *ev, const char *field, const char *want)
{
    const char *v = outpost_record_string(ev, field);

    if (v == NULL)
        fail_msg("no field %s", field);
    assert_string_equal(v, want);
}

/* --- opening, throttling, grouping, resolve ------------------------------ */

static void
test_opens_after_three_failures_then_groups(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    h = start("", NULL);
    bad(h, "stripe", NULL);
    bad(h, "stripe", NULL);
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, NULL, 0), 0);
    bad(h, "stripe", NULL);

    ev = only(h, "all", OUTPOST_EV_ALERT);
    assert_string_equal(ev->event->dedup_key, "outpost/stripe/health");
    assert_string_equal(ev->event->message, "stripe is down: 3 failed "
                        "checks in a row (status: got 503, expected 2xx)");
    assert_int_equal(ev->severity, OUTPOST_SEV_ERROR);     /* high */
    assert_str_field(ev, "priority", "high");
    assert_str_field(ev, "status", "down");
    assert_str_field(ev, "action", "open");
    assert_str_field(ev, "condition", "health");
    /* The failed checks that opened it count, as the log counts them. */
    assert_int_equal(outpost_record_number(ev, "occurrences", 0), 3);
    assert_false(outpost_record_number(ev, "acknowledged", 1));
    assert_false(outpost_record_number(ev, "muted", 1));
    assert_null(outpost_record_tag(ev, "notify"));  /* no policy: all */
    assert_non_null(ev->event->cause);
    assert_string_equal(outpost_record_tag(ev, "integration"), "stripe");

    /* 50 minutes more of failures: grouped, not re-sent. */
    for (int i = 0; i < 300; i++)
        bad(h, "stripe", NULL);
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, NULL, 0), 1);

    /* Past repeat_interval (1h): one reminder with the count. */
    clock_fake_advance(10 * MIN);
    bad(h, "stripe", NULL);
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, NULL, 0), 2);
    ev = harness_at(h, "all", harness_count(h, "all") - 1);
    assert_str_field(ev, "action", "repeat");
    assert_int_equal(outpost_record_number(ev, "occurrences", 0), 304);
    assert_non_null(strstr(ev->event->message, "304 bad checks since"));
    harness_free(h, 0);
}

static void
test_resolve_after_success_threshold(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    h = start("", NULL);
    for (int i = 0; i < 5; i++)
        bad(h, "stripe", NULL);
    harness_clear(h);
    good(h, "stripe", NULL);                  /* one is not a recovery */
    assert_int_equal(got(h, "all", OUTPOST_EV_RESOLVE, NULL, 0), 0);
    bad(h, "stripe", NULL);                /* still the same alert */
    good(h, "stripe", NULL);
    good(h, "stripe", NULL);
    ev = only(h, "all", OUTPOST_EV_RESOLVE);
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, NULL, 0), 0);
    assert_string_equal(ev->event->dedup_key, "outpost/stripe/health");
    assert_string_equal(ev->event->message,
                        "stripe recovered: 6 bad checks in 1m");
    /* Good news: info, the alert's priority kept as a field. */
    assert_int_equal(ev->severity, OUTPOST_SEV_INFO);
    assert_str_field(ev, "priority", "high");
    assert_str_field(ev, "action", "resolve");
    assert_str_field(ev, "status", "healthy");

    /* A new failure run is a new alert with the same key. */
    harness_clear(h);
    for (int i = 0; i < 3; i++)
        bad(h, "stripe", NULL);
    ev = only(h, "all", OUTPOST_EV_ALERT);
    assert_string_equal(ev->event->dedup_key, "outpost/stripe/health");
    assert_int_equal(outpost_record_number(ev, "occurrences", 0), 3);
    harness_free(h, 0);
}

static void
test_degraded_opens_at_once_and_worse_is_told(void **state)
{
    struct harness *h;
    outpost_record_t *ev[8];

    (void) state;
    h = start("", NULL);
    with_status(h, "crm", "healthy");
    with_status(h, "crm", "degraded");
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, ev, 8), 1);
    assert_string_equal(ev[0]->event->message, "crm is degraded (2500 ms)");
    assert_str_field(ev[0], "priority", "medium");
    assert_int_equal(ev[0]->severity, OUTPOST_SEV_WARNING);
    harness_clear(h);

    with_status(h, "crm", "degraded");      /* grouped */
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, NULL, 0), 0);
    with_status(h, "crm", "down");          /* worse: told at once */
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, ev, 8), 1);
    assert_str_field(ev[0], "action", "update");
    assert_str_field(ev[0], "priority", "high");
    assert_string_equal(ev[0]->event->message,
                        "crm is now down (was degraded), high");
    harness_clear(h);

    with_status(h, "crm", "degraded");      /* better: kept high, quiet */
    assert_int_equal(got(h, "all", 0, NULL, 0), 0);
    with_status(h, "crm", "unknown");       /* neither bad nor good */
    with_status(h, "crm", "healthy");
    with_status(h, "crm", "healthy");
    assert_int_equal(got(h, "all", OUTPOST_EV_RESOLVE, NULL, 0), 1);
    harness_free(h, 0);
}

/* --- routing and escalation ---------------------------------------------- */

static void
test_routing_by_severity(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    h = start(POLICIES, NULL);
    for (int i = 0; i < 3; i++)
        bad(h, "stripe", "tier=enterprise");
    /* critical: every channel at once. */
    ev = only(h, "sms", OUTPOST_EV_ALERT);
    assert_int_equal(ev->severity, OUTPOST_SEV_CRITICAL);
    assert_string_equal(outpost_record_tag(ev, "notify"),
                        "slack,email,sms,pd");
    only(h, "pd", OUTPOST_EV_ALERT);
    only(h, "slack", OUTPOST_EV_ALERT);
    only(h, "email", OUTPOST_EV_ALERT);
    assert_int_equal(got(h, "all", 0, NULL, 0), 0);  /* not named */
    harness_clear(h);

    /* high: email and Slack only. */
    for (int i = 0; i < 3; i++)
        bad(h, "openai", "tier=basic");
    only(h, "email", OUTPOST_EV_ALERT);
    only(h, "slack", OUTPOST_EV_ALERT);
    assert_int_equal(got(h, "sms", 0, NULL, 0), 0);
    assert_int_equal(got(h, "pd", 0, NULL, 0), 0);
    harness_clear(h);

    /* The resolve goes back to those told, and only them. */
    good(h, "openai", "tier=basic");
    good(h, "openai", "tier=basic");
    ev = only(h, "email", OUTPOST_EV_RESOLVE);
    assert_string_equal(outpost_record_tag(ev, "notify"), "email,slack");
    only(h, "slack", OUTPOST_EV_RESOLVE);
    assert_int_equal(got(h, "sms", 0, NULL, 0), 0);

    /* Other events are recorded, not sent, once policies exist. */
    harness_clear(h);
    {
        outpost_record_t *cause = harness_measurement("openai", NULL);
        outpost_record_t *sc = outpost_event_new(
            OUTPOST_EV_STATE_CHANGE, OUTPOST_SEV_INFO, cause,
            "openai is healthy (was down)", "outpost/openai/status");
        outpost_record_unref(cause);
        harness_submit(h, sc);
    }
    assert_int_equal(got(h, "email", 0, NULL, 0), 0);
    assert_int_equal(got(h, "slack", 0, NULL, 0), 0);
    harness_free(h, 0);
}

static void
test_escalation_after_delay(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    h = start(POLICIES, NULL);
    for (int i = 0; i < 3; i++)
        bad(h, "stripe", NULL);            /* high, told at T0 + 20 s */
    harness_clear(h);

    clock_fake_advance(9 * MIN);
    harness_tick(h);
    assert_int_equal(got(h, "sms", 0, NULL, 0), 0);
    clock_fake_advance(1 * MIN);
    harness_tick(h);
    ev = only(h, "sms", OUTPOST_EV_ESCALATE);
    assert_string_equal(outpost_record_tag(ev, "notify"), "sms");
    assert_string_equal(ev->event->dedup_key, "outpost/stripe/health");
    assert_str_field(ev, "action", "escalate");
    assert_int_equal(ev->severity, OUTPOST_SEV_ERROR);
    assert_non_null(strstr(ev->event->message, "unacknowledged for 10m"));
    assert_int_equal(got(h, "email", 0, NULL, 0), 0);

    /* Once only; and from now on the resolve reaches SMS as well. */
    clock_fake_advance(30 * MIN);
    harness_tick(h);
    assert_int_equal(got(h, "sms", 0, NULL, 0), 1);
    good(h, "stripe", NULL);
    good(h, "stripe", NULL);
    ev = only(h, "email", OUTPOST_EV_RESOLVE);
    assert_string_equal(outpost_record_tag(ev, "notify"), "email,slack,sms");
    only(h, "sms", OUTPOST_EV_RESOLVE);
    harness_free(h, 0);
}

static void
test_ack_stops_escalation(void **state)
{
    struct harness *h;
    json_t *r, *recs, *ack;
    outpost_record_t *ev;

    (void) state;
    h = start(POLICIES, NULL);
    for (int i = 0; i < 3; i++)
        bad(h, "stripe", NULL);
    assert_int_equal(control(h, "ack", "{\"integration\":\"nope\"}", NULL),
                     -1);
    assert_int_equal(control(h, "ack", "{}", NULL), -1);
    clock_fake_advance(5 * MIN);
    harness_clear(h);
    assert_int_equal(control(h, "ack", "{\"dedup_key\":"
                             "\"outpost/stripe/health\",\"by\":\"ann\"}",
                             &r), 0);
    assert_string_equal(json_string_value(json_array_get(
        json_object_get(r, "acknowledged"), 0)), "outpost/stripe/health");
    json_decref(r);
    /* The acknowledgement goes to those told about the alert (PagerDuty
     * acknowledges its incident), not to the escalation's outputs. */
    ev = only(h, "email", OUTPOST_EV_ALERT);
    assert_str_field(ev, "action", "acknowledge");
    assert_string_equal(ev->event->dedup_key, "outpost/stripe/health");
    only(h, "slack", OUTPOST_EV_ALERT);
    assert_int_equal(got(h, "sms", 0, NULL, 0), 0);
    assert_int_equal(got(h, "pd", 0, NULL, 0), 0);
    recs = recorded("outpost/stripe/health");
    ack = json_array_get(recs, json_array_size(recs) - 1);
    assert_string_equal(json_string_value(rec_field(ack, "action")),
                        "acknowledge");
    assert_true(json_is_true(rec_field(ack, "acknowledged")));
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(ack, "tags"), "notify")), "email,slack");
    json_decref(recs);
    harness_clear(h);

    clock_fake_advance(20 * MIN);
    harness_tick(h);
    assert_int_equal(got(h, "sms", 0, NULL, 0), 0);
    /* Nor reminders: two hours later, failures stay quiet. */
    clock_fake_advance(2 * 60 * MIN);
    bad(h, "stripe", NULL);
    assert_int_equal(got(h, "email", 0, NULL, 0), 0);
    good(h, "stripe", NULL);
    good(h, "stripe", NULL);
    ev = only(h, "email", OUTPOST_EV_RESOLVE);
    assert_true(outpost_record_number(ev, "acknowledged", 0));
    assert_str_field(ev, "acknowledged_by", "ann");
    harness_free(h, 0);
}

static void
test_resolve_by_hand(void **state)
{
    struct harness *h;
    json_t *r;
    outpost_record_t *ev;

    (void) state;
    h = start("", NULL);
    for (int i = 0; i < 3; i++)
        bad(h, "legacy", NULL);
    harness_clear(h);
    /* The integration was removed from the config: it will never send
     * the good checks that would resolve its alert. */
    assert_int_equal(control(h, "resolve", "{\"integration\":\"legacy\","
                             "\"by\":\"bob\"}", &r), 0);
    assert_string_equal(json_string_value(json_array_get(
        json_object_get(r, "resolved"), 0)), "outpost/legacy/health");
    json_decref(r);
    ev = only(h, "all", OUTPOST_EV_RESOLVE);
    assert_string_equal(ev->event->message,
                        "legacy: health alert resolved by bob");
    assert_int_equal(control(h, "resolve", "{\"integration\":\"legacy\"}",
                             NULL), -1);
    assert_int_equal(control(h, "status", "{}", &r), 0);
    assert_int_equal(json_array_size(json_object_get(r, "alerts")), 0);
    json_decref(r);
    harness_free(h, 0);
}

/* --- silences and maintenance -------------------------------------------- */

static void
test_silence_mutes_but_records_then_expires(void **state)
{
    struct harness *h;
    json_t *r, *rec;
    outpost_record_t *ev;

    (void) state;
    h = start("", NULL);
    assert_int_equal(control(h, "silence", "{\"match\":\"integration=str*\","
                             "\"duration\":\"1h\",\"comment\":\"deploy\"}",
                             &r), 0);
    assert_string_equal(json_string_value(json_object_get(r, "id")), "s1");
    assert_int_equal(json_integer_value(json_object_get(r, "until")),
                     T0 / S + 3600);
    json_decref(r);
    assert_int_equal(control(h, "silence", "{\"match\":\"x\"}", NULL), -1);

    for (int i = 0; i < 3; i++) {
        bad(h, "stripe", NULL);
        bad(h, "openai", NULL);
    }
    /* openai is told; stripe only recorded, muted. */
    ev = only(h, "all", OUTPOST_EV_ALERT);
    assert_string_equal(outpost_record_tag(ev, "integration"), "openai");
    rec = recorded("outpost/stripe/health");
    assert_int_equal(json_array_size(rec), 1);
    assert_true(json_is_true(rec_field(json_array_get(rec, 0), "muted")));
    assert_string_equal(json_string_value(rec_field(json_array_get(rec, 0),
                                                    "mute_reason")),
                        "silence s1");
    json_decref(rec);
    assert_int_equal(control(h, "status", "{}", &r), 0);
    assert_int_equal(json_array_size(json_object_get(r, "silences")), 1);
    json_decref(r);
    harness_clear(h);

    /* Still failing when the silence ends: told once, then. */
    clock_fake_advance(30 * MIN);
    harness_tick(h);
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, NULL, 0), 0);
    clock_fake_advance(30 * MIN);
    harness_tick(h);
    ev = only(h, "all", OUTPOST_EV_ALERT);
    assert_string_equal(outpost_record_tag(ev, "integration"), "stripe");
    assert_false(outpost_record_number(ev, "muted", 1));
    harness_tick(h);
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, NULL, 0), 1);
    assert_int_equal(control(h, "status", "{}", &r), 0);
    assert_int_equal(json_array_size(json_object_get(r, "silences")), 0);
    json_decref(r);
    harness_free(h, 0);
}

static void
test_unsilence_and_quiet_resolve(void **state)
{
    struct harness *h;
    json_t *r;

    (void) state;
    h = start("", NULL);
    assert_int_equal(control(h, "silence", "{\"match\":\"stripe\","
                             "\"until\":1710032400}", &r), 0);  /* +1h */
    json_decref(r);
    for (int i = 0; i < 3; i++)
        bad(h, "stripe", NULL);
    /* Recovered while silenced: no one was told, no one hears of it. */
    good(h, "stripe", NULL);
    good(h, "stripe", NULL);
    assert_int_equal(got(h, "all", 0, NULL, 0), 0);
    r = recorded("outpost/stripe/health");
    assert_int_equal(json_array_size(r), 2);       /* open and resolve */
    assert_string_equal(json_string_value(rec_field(json_array_get(r, 1),
                                                    "mute_reason")),
                        "not notified");
    json_decref(r);

    for (int i = 0; i < 3; i++)
        bad(h, "stripe", NULL);
    assert_int_equal(control(h, "unsilence", "{\"id\":\"s9\"}", NULL), -1);
    assert_int_equal(control(h, "unsilence", "{\"id\":\"s1\"}", NULL), 0);
    harness_tick(h);
    only(h, "all", OUTPOST_EV_ALERT);
    harness_free(h, 0);
}

static void
test_maintenance_window(void **state)
{
    struct harness *h;
    json_t *r;

    (void) state;
    h = start("maintenance = {\"start=02:00,duration=1h,weekdays=sat|sun,"
              "timezone=UTC,match=integration=crm\"}", NULL);
    clock_fake_set(T0 + 150 * MIN);         /* Sunday 02:30 UTC */
    for (int i = 0; i < 3; i++) {
        bad(h, "crm", NULL);
        bad(h, "stripe", NULL);
    }
    only(h, "all", OUTPOST_EV_ALERT);       /* stripe's; crm's is muted */
    r = recorded("outpost/crm/health");
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(json_string_value(rec_field(json_array_get(r, 0),
                                                    "mute_reason")),
                        "maintenance");
    json_decref(r);
    assert_int_equal(control(h, "status", "{}", &r), 0);
    assert_true(json_is_true(json_object_get(json_array_get(
        json_object_get(r, "maintenance"), 0), "active")));
    json_decref(r);
    harness_clear(h);

    clock_fake_set(T0 + 181 * MIN);         /* 03:01: the window ended */
    harness_tick(h);
    only(h, "all", OUTPOST_EV_ALERT);
    harness_free(h, 0);

    /* Not on a weekday it does not list: Monday 02:30 is not muted. */
    clock_fake_set(T0 + (24 * 60 + 150) * MIN);
    h = start("maintenance = {\"start=02:00,duration=1h,weekdays=sat|sun\"}",
              NULL);
    for (int i = 0; i < 3; i++)
        bad(h, "crm", NULL);
    only(h, "all", OUTPOST_EV_ALERT);
    harness_free(h, 0);
}

static int
window_active_at(int64_t ns, const char *window)
{
    struct harness *h;
    char body[256];
    json_t *r;
    int active;

    clock_fake_set(ns);
    snprintf(body, sizeof(body), "maintenance = {\"%s\"}", window);
    h = start(body, NULL);
    assert_int_equal(control(h, "status", "{}", &r), 0);
    active = json_is_true(json_object_get(json_array_get(
        json_object_get(r, "maintenance"), 0), "active"));
    json_decref(r);
    harness_free(h, 0);
    return active;
}

static void
test_maintenance_time_zones(void **state)
{
    const char *berlin = "start=02:00,duration=1h,timezone=Europe/Berlin";
    const char *ny = "start=23:30,duration=2h,weekdays=fri,"
                     "timezone=America/New_York";
    int64_t winter = 1704159000LL * S;      /* Tue 2024-01-02 01:30 UTC */
    int64_t summer = 1719879000LL * S;      /* Tue 2024-07-02 00:10 UTC */
    int64_t future = 2224800600LL * S;      /* Mon 2040-07-02 00:10 UTC */

    (void) state;
    /* CET = UTC+1: 02:30 local. */
    assert_true(window_active_at(winter, berlin));
    assert_false(window_active_at(winter + 60 * MIN, berlin));
    /* CEST = UTC+2: 00:10 UTC is 02:10 local; 01:10 UTC is 03:10. */
    assert_true(window_active_at(summer, berlin));
    assert_false(window_active_at(summer + 60 * MIN, berlin));
    /* Beyond the zone file's table the POSIX rule still says CEST. */
    assert_true(window_active_at(future, berlin));
    assert_false(window_active_at(future + 60 * MIN, berlin));
    /* Friday 23:30 EST runs into Saturday: Sat 2024-01-06 05:00 UTC is
     * Sat 00:00 local, inside; 07:00 UTC (02:00 local) is past it. */
    assert_true(window_active_at(1704517200LL * S, ny));
    assert_false(window_active_at(1704524400LL * S, ny));
}

/* --- flapping ------------------------------------------------------------ */

static void
test_flapping_reported_once(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    h = start("flap_threshold = 5\nflap_window = \"10m\"", NULL);
    good(h, "crm", NULL);
    /* healthy / down every other check: never 3 failures in a row, so
     * no health alert, but a flapping one after the 6th change. */
    for (int i = 0; i < 3; i++) {
        bad(h, "crm", NULL);
        good(h, "crm", NULL);
    }
    ev = only(h, "all", OUTPOST_EV_ALERT);
    assert_string_equal(ev->event->dedup_key, "outpost/crm/flapping");
    assert_str_field(ev, "condition", "flapping");
    assert_str_field(ev, "priority", "medium");
    assert_non_null(strstr(ev->event->message, "6 status changes in 10m"));
    for (int i = 0; i < 20; i++) {
        bad(h, "crm", NULL);
        good(h, "crm", NULL);
    }
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, NULL, 0), 1);
    harness_clear(h);

    /* While flapping, the health alert of a bad spell is only recorded. */
    for (int i = 0; i < 3; i++)
        bad(h, "crm", NULL);
    assert_int_equal(got(h, "all", 0, NULL, 0), 0);

    /* Stable (down) for the window: flapping ends, and the health alert
     * that was held back is told. */
    for (int i = 0; i < 60; i++)
        bad(h, "crm", NULL);
    harness_tick(h);
    ev = only(h, "all", OUTPOST_EV_RESOLVE);
    assert_string_equal(ev->event->dedup_key, "outpost/crm/flapping");
    harness_tick(h);
    ev = only(h, "all", OUTPOST_EV_ALERT);
    assert_string_equal(ev->event->dedup_key, "outpost/crm/health");
    harness_free(h, 0);
}

/* --- the per-integration table ------------------------------------------- */

/* Tags as an input instance makes them: one set for all its checks. */
static outpost_tagset_t *
instance_tags(const char *integ, const char *region)
{
    outpost_tag_t t[] = { { "integration", integ }, { "region", region } };

    return outpost_tagset_new(t, 2);
}

/* A check carrying the tag set ts itself, not a copy of it. */
static void
check_tagged(struct harness *h, outpost_tagset_t *ts, int success)
{
    outpost_record_t *r = outpost_measurement_new("http", ts,
                                                  outpost_time_now());

    outpost_record_add_bool(r, "success", success);
    outpost_record_add_float(r, "response_ms", 100);
    harness_submit(h, r);
    clock_fake_advance(10 * S);
}

static json_int_t
integrations(struct harness *h)
{
    json_t *r = NULL;
    json_int_t n;

    assert_int_equal(control(h, "stats", NULL, &r), 0);
    assert_non_null(r);
    n = json_integer_value(json_object_get(r, "integrations"));
    json_decref(r);
    return n;
}

#define MANY 40

/* Checks find their integration's state by their tag set: checks of many
 * integrations, interleaved (more tag sets than the table's cache has
 * sets), each reach their own; an integration whose checks come with
 * other tags (another instance, a reload) keeps one state, so failures
 * in a row count across its tag sets. */
static void
test_integration_found_by_tag_set(void **state)
{
    outpost_tagset_t *eu = instance_tags("stripe", "eu");
    outpost_tagset_t *us = instance_tags("stripe", "us");
    outpost_tagset_t *other = instance_tags("adyen", "eu");
    outpost_tagset_t *many[MANY];
    outpost_record_t *ev[MANY];
    char name[16], key[64];
    struct harness *h;

    (void) state;
    h = start("", NULL);
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof(name), "api%02d", i);
        many[i] = instance_tags(name, "eu");
    }
    /* Three rounds; the odd ones succeed in the second: only the even
     * ones fail three times in a row. */
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < MANY; i++)
            check_tagged(h, many[i], round == 1 && i % 2);
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, ev, MANY), MANY / 2);
    for (int i = 0; i < MANY / 2; i++) {
        snprintf(key, sizeof(key), "outpost/api%02d/health", 2 * i);
        assert_string_equal(ev[i]->event->dedup_key, key);
    }
    assert_int_equal(integrations(h), MANY);
    for (int i = 0; i < MANY; i++)
        outpost_tagset_unref(many[i]);
    harness_free(h, 0);

    h = start("", NULL);
    /* adyen's good checks between stripe's failures would end stripe's
     * streak if they reached stripe's state. */
    check_tagged(h, eu, 0);
    check_tagged(h, other, 1);
    check_tagged(h, eu, 0);
    check_tagged(h, other, 1);
    assert_int_equal(got(h, "all", 0, NULL, 0), 0);
    assert_int_equal(integrations(h), 2);

    /* The third failure comes with stripe's other tags: same state. */
    check_tagged(h, us, 0);
    ev[0] = only(h, "all", OUTPOST_EV_ALERT);
    assert_string_equal(ev[0]->event->dedup_key, "outpost/stripe/health");
    assert_non_null(strstr(ev[0]->event->message,
                           "3 failed checks in a row"));
    assert_string_equal(outpost_record_tag(ev[0], "region"), "us");
    assert_int_equal(integrations(h), 2);
    harness_clear(h);

    /* Back to the first tag set, and adyen failing meanwhile: stripe's
     * failure is a repeat of its open alert; adyen opens on its own
     * third failure, not earlier. */
    check_tagged(h, eu, 0);
    check_tagged(h, other, 0);
    check_tagged(h, other, 0);
    assert_int_equal(got(h, "all", 0, NULL, 0), 0);
    check_tagged(h, other, 0);
    ev[0] = only(h, "all", OUTPOST_EV_ALERT);
    assert_string_equal(ev[0]->event->dedup_key, "outpost/adyen/health");
    harness_clear(h);

    /* stripe recovers through both tag sets: 4 bad checks, one alert. */
    check_tagged(h, us, 1);
    check_tagged(h, eu, 1);
    ev[0] = only(h, "all", OUTPOST_EV_RESOLVE);
    assert_string_equal(ev[0]->event->dedup_key, "outpost/stripe/health");
    assert_non_null(strstr(ev[0]->event->message, "4 bad checks"));
    assert_int_equal(integrations(h), 2);
    harness_free(h, 0);
    outpost_tagset_unref(eu);
    outpost_tagset_unref(us);
    outpost_tagset_unref(other);
}

/* --- upstream alerts ----------------------------------------------------- */

static outpost_record_t *
sla_event(outpost_event_kind_t kind, outpost_severity_t sev)
{
    outpost_record_t *cause = harness_measurement("stripe", "tier=basic");
    outpost_record_t *ev = outpost_event_new(
        kind, sev, cause, "stripe burns its error budget 14.4x",
        "outpost/stripe/sla/page-1h");

    outpost_record_unref(cause);
    return ev;
}

static void
test_upstream_alerts_are_routed_and_grouped(void **state)
{
    struct harness *h;
    outpost_record_t *ev;

    (void) state;
    h = start(POLICIES, NULL);
    harness_submit(h, sla_event(OUTPOST_EV_ALERT, OUTPOST_SEV_CRITICAL));
    ev = only(h, "pd", OUTPOST_EV_ALERT);
    assert_str_field(ev, "condition", "sla/page-1h");
    assert_str_field(ev, "priority", "critical");
    only(h, "sms", OUTPOST_EV_ALERT);
    harness_clear(h);

    clock_fake_advance(5 * MIN);
    harness_submit(h, sla_event(OUTPOST_EV_ALERT, OUTPOST_SEV_CRITICAL));
    assert_int_equal(got(h, "pd", 0, NULL, 0), 0);          /* grouped */
    ev = harness_at(h, "all", 0);
    assert_null(ev);                                         /* muted */

    assert_int_equal(control(h, "ack", "{\"integration\":\"stripe\"}",
                             NULL), 0);
    harness_submit(h, sla_event(OUTPOST_EV_RESOLVE, OUTPOST_SEV_INFO));
    ev = only(h, "pd", OUTPOST_EV_RESOLVE);
    assert_string_equal(outpost_record_tag(ev, "notify"),
                        "slack,email,sms,pd");
    harness_clear(h);

    /* A resolve of something never raised (as far as we know) is only
     * recorded. */
    harness_submit(h, sla_event(OUTPOST_EV_RESOLVE, OUTPOST_SEV_INFO));
    assert_int_equal(got(h, "pd", 0, NULL, 0), 0);
    assert_int_equal(got(h, "email", 0, NULL, 0), 0);
    harness_free(h, 0);
}

/* --- restart ------------------------------------------------------------- */

static void
test_restart_mid_alert_keeps_timer_no_second_page(void **state)
{
    struct harness *h;
    char dir[160];
    json_t *r;
    outpost_record_t *ev;

    (void) state;
    h = start(POLICIES, NULL);
    snprintf(dir, sizeof(dir), "%s", harness_state_dir(h));
    for (int i = 0; i < 3; i++)
        bad(h, "stripe", NULL);            /* told at T0 + 20 s */
    only(h, "email", OUTPOST_EV_ALERT);
    clock_fake_advance(4 * MIN);
    harness_free(h, 1);

    h = start(POLICIES, dir);
    assert_int_equal(control(h, "status", "{}", &r), 0);
    assert_int_equal(json_array_size(json_object_get(r, "alerts")), 1);
    json_decref(r);
    for (int i = 0; i < 10; i++)
        bad(h, "stripe", NULL);            /* no second page */
    assert_int_equal(got(h, "email", 0, NULL, 0), 0);
    assert_int_equal(got(h, "slack", 0, NULL, 0), 0);

    /* The escalation clock kept running through the restart. */
    clock_fake_set(T0 + 20 * S + 10 * MIN - S);
    harness_tick(h);
    assert_int_equal(got(h, "sms", 0, NULL, 0), 0);
    clock_fake_advance(S);
    harness_tick(h);
    ev = only(h, "sms", OUTPOST_EV_ESCALATE);
    assert_int_equal(outpost_record_number(ev, "occurrences", 0), 13);
    assert_string_equal(outpost_record_tag(ev, "integration"), "stripe");
    harness_free(h, 0);
}

/* --- "is it us or them?" ------------------------------------------------- */

/* A stripe check as the preset makes it, with or without the verdict of
 * the vendor's status page (vendor_status...), in a failover group. */
static void
stripe_check(struct harness *h, int ok, const char *indicator,
             const char *incident)
{
    outpost_record_t *r = harness_measurement("stripe",
                                              "failover_group=checkout,"
                                              "priority=1");

    outpost_record_add_bool(r, "success", ok);
    outpost_record_add_float(r, "response_ms", 120);
    if (!ok)
        outpost_record_add_str(r, "error", "HTTP 503");
    if (indicator) {
        outpost_record_add_str(r, "vendor_status", indicator);
        outpost_record_add_str(r, "vendor_description", "Partial outage");
        outpost_record_add_str(r, "vendor_incidents", incident);
    }
    harness_submit(h, r);
    clock_fake_advance(10 * S);
}

static void
paypal_check(struct harness *h)
{
    outpost_record_t *r = harness_measurement("paypal",
                                              "failover_group=checkout,"
                                              "priority=2");

    outpost_record_add_bool(r, "success", 1);
    outpost_record_add_float(r, "response_ms", 90);
    harness_submit(h, r);
}

/* The status page's verdict and where the traffic went are in the state
 * change, the alert (as words and as fields) and the escalation. */
static void
test_vendor_verdict_and_failover_in_every_message(void **state)
{
    struct harness *h;
    outpost_record_t *ev[8];
    const char *want = "Stripe reports a major outage: Elevated API errors";

    (void) state;
    h = harness_new("health \"h\" { }\n"
                    "failover \"f\" { failover_after = 1 }\n"
                    "alert \"al\" {\n" POLICIES
                    "  events_notify = {\"slack\"}\n}\n" NOTIFIERS, NULL);
    paypal_check(h);
    stripe_check(h, 1, "none", "");
    for (int i = 0; i < 3; i++)
        stripe_check(h, 0, "major", "Elevated API errors");

    /* unknown -> healthy for both, then stripe healthy -> down */
    assert_int_equal(got(h, "slack", OUTPOST_EV_STATE_CHANGE, ev, 8), 3);
    assert_string_equal(ev[2]->event->message, "stripe is down (was "
                        "healthy): HTTP 503; Stripe reports a major outage: "
                        "Elevated API errors");
    assert_str_field(ev[2], "vendor_status", "major");
    ev[0] = only(h, "email", OUTPOST_EV_ALERT);
    assert_non_null(strstr(ev[0]->event->message, want));
    assert_non_null(strstr(ev[0]->event->message,
                           "checkout traffic moved to paypal"));
    assert_str_field(ev[0], "vendor_status", "major");
    assert_str_field(ev[0], "vendor_incidents", "Elevated API errors");
    assert_str_field(ev[0], "failover_active", "paypal");

    /* Unacknowledged for 10 minutes: the escalation says it all again. */
    clock_fake_advance(10 * MIN);
    harness_tick(h);
    ev[0] = only(h, "sms", OUTPOST_EV_ESCALATE);
    assert_non_null(strstr(ev[0]->event->message, want));
    harness_free(h, 0);
}

/* A statuspage input for the same provider speaks for checks that carry
 * no verdict of their own; its own alert names the indicator and the
 * incident, not "is down (0 ms)". */
static void
test_statuspage_input_speaks_for_its_provider(void **state)
{
    struct harness *h;
    outpost_record_t *r, *ev[8];
    size_t n;

    (void) state;
    h = harness_new("health \"h\" { }\nalert \"al\" { }\n", NULL);
    r = harness_measurement("stripe-status", NULL);
    outpost_record_set_tag(r, "provider", "stripe");
    outpost_record_add_bool(r, "success", 1);
    outpost_record_add_float(r, "response_ms", 0);
    outpost_record_add_str(r, "status_hint", "down");
    outpost_record_add_str(r, "indicator", "critical");
    outpost_record_add_str(r, "description", "Major System Outage");
    outpost_record_add_str(r, "incidents", "Payments failing in EU");
    harness_submit(h, r);
    n = harness_events(h, OUTPOST_EV_ALERT, ev, 8);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0]->event->message, "stripe-status is down: "
                        "Stripe reports a critical outage: Payments "
                        "failing in EU");

    harness_clear(h);
    for (int i = 0; i < 3; i++) {
        r = harness_measurement("stripe", NULL);
        outpost_record_add_bool(r, "success", 0);
        outpost_record_add_str(r, "error", "HTTP 500");
        harness_submit(h, r);
        clock_fake_advance(10 * S);
    }
    n = harness_events(h, OUTPOST_EV_ALERT, ev, 8);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0]->event->message, "stripe is down: 3 failed "
                        "checks in a row (HTTP 500); Stripe reports a "
                        "critical outage: Payments failing in EU");
    assert_str_field(ev[0], "vendor_status", "critical");
    harness_free(h, 0);
}

/* Unknown says nothing of the vendor (credentials missing, the agent
 * overloaded): failed checks with status unknown open nothing. */
static void
test_unknown_checks_open_nothing(void **state)
{
    struct harness *h;

    (void) state;
    h = start("", NULL);
    for (int i = 0; i < 5; i++) {
        outpost_record_t *r = harness_measurement("stripe", NULL);
        outpost_record_add_bool(r, "success", 0);
        outpost_record_add_str(r, "status", "unknown");
        outpost_record_add_str(r, "reason", "agent overloaded");
        harness_submit(h, r);
        clock_fake_advance(10 * S);
    }
    assert_int_equal(got(h, "all", OUTPOST_EV_ALERT, NULL, 0), 0);
    harness_free(h, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_vendor_verdict_and_failover_in_every_message, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_statuspage_input_speaks_for_its_provider, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_checks_open_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_opens_after_three_failures_then_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_resolve_after_success_threshold, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_degraded_opens_at_once_and_worse_is_told, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_routing_by_severity, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_escalation_after_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_ack_stops_escalation, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_resolve_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_silence_mutes_but_records_then_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_unsilence_and_quiet_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_maintenance_window, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_maintenance_time_zones, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_flapping_reported_once, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_integration_found_by_tag_set, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_upstream_alerts_are_routed_and_grouped, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_restart_mid_alert_keeps_timer_no_second_page, setup,
            teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
