/*
 * test_metrics.c - the metrics store and renderer without a running agent:
 * label escaping, the histogram's buckets and sum, counters of checks and
 * failures, the last certificate and rate-limit values, alerts and
 * failovers counted from events, the agent's output and plugin-error
 * families, number formatting, and the atomic histogram itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <outpost/fields.h>
#include <outpost/record.h>
#include "metrics.h"

static outpost_record_t *
check(const char *name, const char *tier, int ok, double total_ms,
      double ttfb_ms)
{
    outpost_tag_t t[] = { { OUTPOST_TAG_INTEGRATION, name },
                          { OUTPOST_TAG_CATEGORY, "pay\"ments\\eu\nx" },
                          { OUTPOST_TAG_PROVIDER, "stripe" },
                          { OUTPOST_TAG_TIER, tier } };
    outpost_tagset_t *ts = outpost_tagset_new(t, 4);
    outpost_record_t *r = outpost_measurement_new("http", ts, 1);

    outpost_tagset_unref(ts);
    outpost_record_add_bool(r, OUTPOST_F_SUCCESS, ok);
    outpost_record_add_float(r, OUTPOST_F_RESPONSE_MS, total_ms);
    if (!isnan(ttfb_ms))
        outpost_record_add_float(r, OUTPOST_F_TTFB_MS, ttfb_ms);
    return r;
}

static char *
render_phases(const struct metrics_agent *am, unsigned phases)
{
    struct mbuf b = { 0 };

    assert_int_equal(metrics_render(&b, NULL, am, phases), 0);
    return mbuf_take(&b);
}

static char *
render(const struct metrics_agent *am)
{
    return render_phases(am, METRICS_PHASES_ALL);
}

/* The text has this exact line. */
static void
has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    fail_msg("no line \"%s\" in:\n%.4000s", line, text);
}

static int
teardown(void **state)
{
    (void) state;
    metrics_store_reset();
    return 0;
}

#define H "integration=\"pay\""
#define L "integration=\"pay\",category=\"pay\\\"ments\\\\eu\\nx\"," \
          "provider=\"stripe\",tier=\"enterprise\""

static void
test_checks_and_histogram(void **state)
{
    outpost_record_t *r[3] = {
        check("pay", "enterprise", 1, 50.0, 30.0),      /* le 0.05: on the bound */
        check("pay", "enterprise", 1, 300.0, 200.0),    /* 0.5 */
        check("pay", "enterprise", 0, 7000.0, NAN),     /* +Inf */
    };
    char *t;

    (void) state;
    for (int i = 0; i < 3; i++) {
        metrics_observe(r[i]);
        outpost_record_unref(r[i]);
    }
    t = render(NULL);
    has_line(t, "integration_checks_total{" L "} 3");
    has_line(t, "integration_check_failures_total{" L "} 1");
    has_line(t, "integration_response_time_seconds_bucket{" H
             ",phase=\"total\",le=\"0.025\"} 0");
    has_line(t, "integration_response_time_seconds_bucket{" H
             ",phase=\"total\",le=\"0.05\"} 1");
    has_line(t, "integration_response_time_seconds_bucket{" H
             ",phase=\"total\",le=\"0.25\"} 1");
    has_line(t, "integration_response_time_seconds_bucket{" H
             ",phase=\"total\",le=\"0.5\"} 2");
    has_line(t, "integration_response_time_seconds_bucket{" H
             ",phase=\"total\",le=\"5\"} 2");
    has_line(t, "integration_response_time_seconds_bucket{" H
             ",phase=\"total\",le=\"+Inf\"} 3");
    has_line(t, "integration_response_time_seconds_sum{" H
             ",phase=\"total\"} 7.35");
    has_line(t, "integration_response_time_seconds_count{" H
             ",phase=\"total\"} 3");
    has_line(t, "integration_response_time_seconds_count{" H
             ",phase=\"ttfb\"} 2");
    has_line(t, "integration_response_time_seconds_sum{" H
             ",phase=\"ttfb\"} 0.23");
    /* No dns timing was given: no dns histogram. */
    assert_null(strstr(t, "phase=\"dns\""));
    has_line(t, "# TYPE integration_response_time_seconds histogram");
    free(t);
}

static void
test_fields_and_relabel(void **state)
{
    outpost_record_t *a = check("pay", "enterprise", 1, 10, NAN);
    outpost_record_t *b = check("pay", "basic", 1, 10, NAN);
    char *t;

    (void) state;
    outpost_record_add_float(a, OUTPOST_F_CERT_EXPIRY_DAYS, 12.25);
    outpost_record_add_float(a, OUTPOST_F_SLA_AVAILABILITY_TARGET, 0.999);
    outpost_record_add_int(a, "ratelimit_remaining_requests", 4999);
    outpost_record_add_int(a, "ratelimit_tokens_remaining", 150000);
    outpost_record_add_int(a, "ratelimit_limit_requests", 5000);
    metrics_observe(a);
    t = render(NULL);
    has_line(t, "integration_cert_expiry_days{" L "} 12.25");
    has_line(t, "integration_sla_target_ratio{" L "} 0.999");
    has_line(t, "integration_rate_limit_remaining{" L
             ",limit=\"requests\"} 4999");
    has_line(t, "integration_rate_limit_remaining{" L
             ",limit=\"tokens\"} 150000");
    assert_null(strstr(t, "limit=\"limit"));        /* not headroom */
    free(t);

    /* A reload moved it to another tier: same counters, new labels. */
    metrics_observe(b);
    t = render(NULL);
    assert_non_null(strstr(t, "integration_checks_total{integration=\"pay\","
                           "category=\"pay\\\"ments\\\\eu\\nx\",provider="
                           "\"stripe\",tier=\"basic\"} 2\n"));
    assert_null(strstr(t, "tier=\"enterprise\""));
    free(t);
    outpost_record_unref(a);
    outpost_record_unref(b);
}

static void
test_events(void **state)
{
    outpost_record_t *m = check("pay", "enterprise", 0, 10, NAN);
    outpost_record_t *open = outpost_event_new(OUTPOST_EV_ALERT,
                                               OUTPOST_SEV_CRITICAL, m,
                                               "down", "k1");
    outpost_record_t *repeat = outpost_event_new(OUTPOST_EV_ALERT,
                                                 OUTPOST_SEV_CRITICAL, m,
                                                 "down", "k1");
    outpost_record_t *fo = outpost_event_new(OUTPOST_EV_FAILOVER,
                                             OUTPOST_SEV_WARNING, m,
                                             "to paypal", "f1");
    char *t;

    (void) state;
    outpost_record_add_str(open, OUTPOST_F_ACTION, "open");
    outpost_record_add_str(repeat, OUTPOST_F_ACTION, "repeat");
    outpost_record_set_tag(fo, OUTPOST_TAG_FAILOVER_GROUP, "check\"out");
    metrics_observe(open);
    metrics_observe(repeat);
    metrics_observe(fo);
    metrics_observe(fo);
    t = render(NULL);
    has_line(t, "alerts_total{severity=\"critical\"} 1");
    has_line(t, "alerts_total{severity=\"warning\"} 0");
    has_line(t, "failover_events_total{group=\"check\\\"out\"} 2");
    /* Without a state store: the families are there, with no samples. */
    has_line(t, "# TYPE alerts_active gauge");
    has_line(t, "alerts_active{severity=\"critical\"} 0");
    free(t);
    outpost_record_unref(open);
    outpost_record_unref(repeat);
    outpost_record_unref(fo);
    outpost_record_unref(m);
}

static void
test_agent_families(void **state)
{
    struct metrics_output o = { .plugin = "jsonl", .name = "o\"ut" };
    struct metrics_instance in[2] = {
        { .plugin = "http", .name = "crm", .errors = 3 },
        { .plugin = "jsonl", .name = "o\"ut", .errors = 0 },
    };
    struct metrics_agent am = {
        .running = 1, .outputs = &o, .noutputs = 1, .instances = in,
        .ninstances = 2,
    };
    struct metrics_hist h;
    char *t;

    (void) state;
    am.sched.runs = 42;
    am.sched.overloaded = 5;
    o.st.queued = 7;
    o.st.spilled_bytes = 12345;
    o.st.dropped = 2;
    o.st.dead_dropped = 1;
    o.st.dead_lettered = 4;
    o.st.retries = 9;
    metrics_hist_init(&h, &metrics_bounds_agent);
    metrics_hist_observe(&h, 500);          /* 0.0005 s: le 0.001 */
    metrics_hist_observe(&h, 2000000);      /* 2 s: le 2.5 */
    metrics_hist_read(&h, &o.write);
    metrics_hist_read(&h, &am.lateness);
    t = render(&am);
    has_line(t, "outpost_checks_total 42");
    has_line(t, "outpost_checks_skipped_total{reason=\"overloaded\"} 5");
    has_line(t, "outpost_output_queue_depth{plugin=\"jsonl\","
             "output=\"o\\\"ut\"} 7");
    has_line(t, "outpost_output_spilled_bytes_total{plugin=\"jsonl\","
             "output=\"o\\\"ut\"} 12345");
    has_line(t, "outpost_output_dropped_total{plugin=\"jsonl\","
             "output=\"o\\\"ut\"} 3");
    has_line(t, "outpost_output_dead_lettered_total{plugin=\"jsonl\","
             "output=\"o\\\"ut\"} 4");
    has_line(t, "outpost_output_retries_total{plugin=\"jsonl\","
             "output=\"o\\\"ut\"} 9");
    has_line(t, "outpost_output_write_seconds_bucket{plugin=\"jsonl\","
             "output=\"o\\\"ut\",le=\"0.001\"} 1");
    has_line(t, "outpost_output_write_seconds_bucket{plugin=\"jsonl\","
             "output=\"o\\\"ut\",le=\"1\"} 1");
    has_line(t, "outpost_output_write_seconds_bucket{plugin=\"jsonl\","
             "output=\"o\\\"ut\",le=\"2.5\"} 2");
    has_line(t, "outpost_output_write_seconds_sum{plugin=\"jsonl\","
             "output=\"o\\\"ut\"} 2.0005");
    has_line(t, "outpost_check_lateness_seconds_bucket{le=\"+Inf\"} 2");
    has_line(t, "outpost_check_lateness_seconds_count 2");
    has_line(t, "outpost_plugin_errors_total{plugin=\"http\","
             "instance=\"crm\"} 3");
    free(t);
}

static void
test_numbers(void **state)
{
    outpost_record_t *r = check("n", "basic", 1, 10, NAN);
    char *t;

    (void) state;
    outpost_record_add_float(r, OUTPOST_F_CERT_EXPIRY_DAYS, -3.5);
    outpost_record_add_float(r, OUTPOST_F_SLA_AVAILABILITY_TARGET,
                             1796673000.481);
    outpost_record_add_float(r, "ratelimit_remaining", 0.000000001);
    metrics_observe(r);
    t = render(NULL);
    assert_non_null(strstr(t, "integration_cert_expiry_days{integration="
                           "\"n\",category=\"pay\\\"ments\\\\eu\\nx\","
                           "provider=\"stripe\",tier=\"basic\"} -3.5\n"));
    assert_non_null(strstr(t, "tier=\"basic\"} 1796673000.481\n"));
    assert_non_null(strstr(t, "limit=\"requests\"} 0.000000001\n"));
    free(t);
    outpost_record_unref(r);
}

static void
test_phases(void **state)
{
    outpost_record_t *r = check("pay", "enterprise", 1, 40.0, 30.0);
    unsigned mask;
    char bad[80], *t;

    (void) state;
    assert_int_equal(metrics_parse_phases("total,ttfb", &mask, bad,
                                          sizeof(bad)), 0);
    assert_int_equal(mask, 0x11);
    assert_int_equal(metrics_parse_phases("all", &mask, bad, sizeof(bad)),
                     0);
    assert_int_equal(mask, METRICS_PHASES_ALL);
    assert_int_equal(metrics_parse_phases("total,latency", &mask, bad,
                                          sizeof(bad)), -1);
    assert_string_equal(bad, "latency");
    metrics_observe(r);
    t = render_phases(NULL, METRICS_PHASE_TOTAL);
    has_line(t, "integration_response_time_seconds_count{" H
             ",phase=\"total\"} 1");
    assert_null(strstr(t, "phase=\"ttfb\""));
    free(t);
    outpost_record_unref(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_checks_and_histogram, teardown),
        cmocka_unit_test_teardown(test_fields_and_relabel, teardown),
        cmocka_unit_test_teardown(test_events, teardown),
        cmocka_unit_test_teardown(test_agent_families, teardown),
        cmocka_unit_test_teardown(test_numbers, teardown),
        cmocka_unit_test_teardown(test_phases, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
