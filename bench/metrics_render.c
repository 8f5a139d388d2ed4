/*
 * metrics_render.c - what rendering GET /metrics costs, in-process, with
 * no HTTP: N integrations (default 10,000) with every phase timed, a
 * filled state store, and the renderer run R times. Prints wall and CPU
 * time per render and the size of the text. bench/api.sh measures the
 * same over HTTP, with the agent running.
 *
 *   metrics_render [-n INTEGRATIONS] [-r RENDERS] [-p PHASES]
 *
 * PHASES as GET /metrics?phases= takes them: "total" (the default),
 * "all", or a list ("total,ttfb").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <outpost/fields.h>
#include "bench.h"
#include "clock.h"
#include "metrics.h"
#include "state.h"

static outpost_record_t *
measurement(int i, int64_t ts)
{
    static const char *const cats[] = { "payments", "ai", "messaging" };
    static const char *const tiers[] = { "basic", "professional",
                                         "enterprise" };
    char name[32];
    outpost_tag_t t[4];
    outpost_tagset_t *ts_;
    outpost_record_t *r;

    snprintf(name, sizeof(name), "api-%05d", i);
    t[0] = (outpost_tag_t) { OUTPOST_TAG_INTEGRATION, name };
    t[1] = (outpost_tag_t) { OUTPOST_TAG_CATEGORY, cats[i % 3] };
    t[2] = (outpost_tag_t) { OUTPOST_TAG_PROVIDER, "http" };
    t[3] = (outpost_tag_t) { OUTPOST_TAG_TIER, tiers[i % 3] };
    ts_ = outpost_tagset_new(t, 4);
    r = outpost_measurement_new("http", ts_, ts);
    outpost_tagset_unref(ts_);
    outpost_record_add_bool(r, OUTPOST_F_SUCCESS, i % 17 != 0);
    outpost_record_add_float(r, OUTPOST_F_RESPONSE_MS, 20.0 + i % 300);
    outpost_record_add_float(r, OUTPOST_F_DNS_MS, 0.1);
    outpost_record_add_float(r, OUTPOST_F_CONNECT_MS, 0.2);
    outpost_record_add_float(r, OUTPOST_F_TLS_MS, 5.0);
    outpost_record_add_float(r, OUTPOST_F_TTFB_MS, 10.0 + i % 250);
    outpost_record_add_float(r, OUTPOST_F_TRANSFER_MS, 0.3);
    outpost_record_add_str(r, OUTPOST_F_STATUS, i % 17 ? "healthy" : "down");
    outpost_record_add_float(r, OUTPOST_F_HEALTH_SCORE, i % 17 ? 1.0 : 0.0);
    outpost_record_add_float(r, "success_rate_24h", 0.998);
    outpost_record_add_float(r, "uptime_30d", 0.9995);
    outpost_record_add_str(r, OUTPOST_F_CIRCUIT, "closed");
    outpost_record_add_bool(r, "sla_compliant", 1);
    outpost_record_add_float(r, OUTPOST_F_ERROR_BUDGET_REMAINING, 0.75);
    outpost_record_add_float(r, OUTPOST_F_SLA_AVAILABILITY_TARGET, 0.999);
    outpost_record_add_float(r, OUTPOST_F_CERT_EXPIRY_DAYS, 40.5);
    return r;
}

int
main(int argc, char **argv)
{
    int n = 10000, renders = 20, c;
    struct state *st = state_new();
    int64_t *wall, *cpu;
    size_t bytes = 0;
    unsigned phases = METRICS_PHASE_TOTAL;
    const char *plist = "total";
    char bad[80];

    while ((c = getopt(argc, argv, "n:r:p:")) != -1) {
        if (c == 'n')
            n = atoi(optarg);
        else if (c == 'r')
            renders = atoi(optarg);
        else if (c == 'p')
            plist = optarg;
        else
            return 2;
    }
    if (metrics_parse_phases(plist, &phases, bad, sizeof(bad)) != 0) {
        fprintf(stderr, "metrics_render: %s is not a phase\n", bad);
        return 2;
    }
    wall = calloc((size_t) renders, sizeof(*wall));
    cpu = calloc((size_t) renders, sizeof(*cpu));
    if (st == NULL || wall == NULL || cpu == NULL || n < 1 || renders < 1)
        return 1;
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < n; i++) {
            outpost_record_t *r = measurement(i, outpost_time_now());

            state_record(st, r);
            metrics_observe(r);
            outpost_record_unref(r);
        }
    for (int k = 0; k < renders; k++) {
        struct mbuf b = { 0 };
        int64_t t0 = clock_mono_ns(), c0 = bench_thread_cpu_ns();

        if (metrics_render(&b, st, NULL, phases) != 0)
            return 1;
        cpu[k] = bench_thread_cpu_ns() - c0;
        wall[k] = clock_mono_ns() - t0;
        bytes = b.len;
        mbuf_free(&b);
    }
    qsort(wall, (size_t) renders, sizeof(*wall), bench_cmp_i64);
    qsort(cpu, (size_t) renders, sizeof(*cpu), bench_cmp_i64);
    printf("metrics_render: %d integrations, phases %s, %d renders; %zu "
           "bytes (%.1f MB)\n", n, plist, renders, bytes, bytes / 1e6);
    printf("| %-22s | %8s | %8s |\n", "per render", "p50 ms", "max ms");
    printf("|%s|%s|%s|\n", "------------------------", "----------",
           "----------");
    printf("| %-22s | %8.2f | %8.2f |\n", "wall", wall[renders / 2] / 1e6,
           wall[renders - 1] / 1e6);
    printf("| %-22s | %8.2f | %8.2f |\n", "CPU (this thread)",
           cpu[renders / 2] / 1e6, cpu[renders - 1] / 1e6);
    state_free(st);
    metrics_store_reset();
    free(wall);
    free(cpu);
    return 0;
}
