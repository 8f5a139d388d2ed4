/*
 * output_postgres.c - the `postgres` output into a real server, in
 * process: the core's output worker and queue, the real module. Prints a
 * table; never pass/fail. bench/output_postgres.sh starts the server and
 * runs collectd's postgresql writer beside it.
 *
 *   output_postgres PLUGIN_DIR CONNINFO [RECORDS] [INTEGRATIONS] [PHASE]
 *
 * Environment: PG_OPTIONS, more options of the output (writers = 1...).
 *
 * PHASE: sustained, overload or both (the default). The script runs each
 * phase apart, so that the server's CPU it measures around a run is that
 * phase's alone.
 *
 * Two phases:
 *   sustained  RECORDS checks (default 1,000,000) of INTEGRATIONS
 *              integrations (default 100) pushed as fast as the output
 *              takes them (the producer waits while 50,000 are queued),
 *              until every one is committed: rows/s, the agent's CPU per
 *              record (the producer's share measured apart and taken
 *              out), peak RSS.
 *   overload   the same producer never waits: the queue (queue_limit
 *              100,000, no disk) drops what does not fit; RSS must stay
 *              inside the queue's bound.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "config.h"
#include "heap.h"
#include "instance.h"
#include "output.h"
#include "registry.h"
#include "tmpdir.h"

#define CHUNK 1000

static outpost_tagset_t *tagsets[10000];
static int64_t next_ts;

static double
cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long
rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static long
maxrss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A check as an http input makes it, after the health filter. */
static void
make_chunk(outpost_record_t **r, size_t n, int integrations)
{
    for (size_t i = 0; i < n; i++) {
        int64_t k = next_ts++;

        r[i] = outpost_measurement_new("http", tagsets[k % integrations],
                                       1796644800000000000LL + k * 1000);
        outpost_record_add_bool(r[i], OUTPOST_F_SUCCESS, k % 50 != 0);
        outpost_record_add_int(r[i], OUTPOST_F_STATUS_CODE,
                               k % 50 ? 200 : 503);
        outpost_record_add_float(r[i], OUTPOST_F_RESPONSE_MS,
                                 40 + (double) (k % 300));
        outpost_record_add_float(r[i], "dns_ms", 1.25);
        outpost_record_add_float(r[i], "connect_ms", 2.5);
        outpost_record_add_str(r[i], OUTPOST_F_STATUS,
                               k % 50 ? "healthy" : "down");
        outpost_record_add_float(r[i], OUTPOST_F_HEALTH_SCORE, 0.98);
        if (k % 50 == 0)
            outpost_record_add_str(r[i], OUTPOST_F_ERROR,
                                   "status: got 503, expected 2xx");
    }
}

static void
unref_chunk(outpost_record_t **r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        outpost_record_unref(r[i]);
}

static struct output_worker *
start(struct registry *reg, struct config **cfg, outpost_instance_t **inst,
      const char *dir, const char *conninfo, const char *extra)
{
    char path[PATH_MAX], text[2048];
    struct diag d = { 0 };
    FILE *f;

    snprintf(path, sizeof(path), "%s/bench.conf", dir);
    snprintf(text, sizeof(text), "state_dir = \"%s\"\npostgres \"bench\" "
             "{ conninfo = \"%s\" %s %s }\n", dir, conninfo, extra,
             getenv("PG_OPTIONS") ? getenv("PG_OPTIONS") : "");
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    *cfg = config_load(path, reg, NULL, &d);
    if (*cfg == NULL) {
        diag_print(&d, stderr);
        exit(1);
    }
    diag_free(&d);
    *inst = instance_new(&(*cfg)->sections[0], *cfg);
    if (*inst == NULL || instance_init(*inst) != 0) {
        fprintf(stderr, "postgres output: init failed\n");
        exit(1);
    }
    return output_start(*inst, NULL);
}

static void
stop(struct output_worker *w, struct config *cfg, outpost_instance_t *inst)
{
    output_stop(w);
    instance_shutdown(inst);
    instance_free(inst);
    config_free(cfg);
}

int
main(int argc, char **argv)
{
    const char *plugins, *conninfo;
    long records, integrations;
    const char *phase;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    struct registry *reg;
    struct diag d = { 0 };
    struct config *cfg;
    outpost_instance_t *inst;
    struct output_worker *w;
    struct output_stats st;
    outpost_record_t *chunk[CHUNK];
    double gen_cpu, t0, c0, wall, cpu;
    long rss_sustained, rss_overload_peak = 0;

    heap_tune();                        /* as outpostd does */
    if (argc < 3) {
        fprintf(stderr, "usage: %s PLUGIN_DIR CONNINFO [RECORDS] "
                "[INTEGRATIONS] [sustained|overload|both]\n", argv[0]);
        return 2;
    }
    plugins = argv[1];
    conninfo = argv[2];
    records = argc > 3 ? atol(argv[3]) : 1000000;
    integrations = argc > 4 ? atol(argv[4]) : 100;
    phase = argc > 5 ? argv[5] : "both";
    if (integrations < 1 || integrations > 10000 || records < CHUNK
        || (strcmp(phase, "sustained") != 0 && strcmp(phase, "overload") != 0
            && strcmp(phase, "both") != 0))
        return 2;
    for (long i = 0; i < integrations; i++) {
        char name[32];
        outpost_tag_t t[3] = {
            { "integration", name }, { "category", "payments" },
            { "provider", name },
        };
        snprintf(name, sizeof(name), "bench-%ld", i);
        tagsets[i] = outpost_tagset_new(t, 3);
    }
    if (tmp_template(dir, sizeof(dir), "pgbench") != 0 || !mkdtemp(dir))
        return 1;
    reg = registry_new();
    snprintf(path, sizeof(path), "%s/postgres", plugins);
    if (registry_load_file(reg, path, &d) != 0) {
        diag_print(&d, stderr);
        return 1;
    }

    printf("%-10s %10s %10s %12s %14s %12s\n", "phase", "records",
           "seconds", "rows/s", "agent us/rec", "rss MiB");
    if (strcmp(phase, "overload") == 0)
        goto overload;

    /* The producer's own cost: make and free the records, no output. */
    c0 = cpu_s();
    for (long n = 0; n < records; n += CHUNK) {
        make_chunk(chunk, CHUNK, (int) integrations);
        unref_chunk(chunk, CHUNK);
    }
    gen_cpu = cpu_s() - c0;

    /* sustained */
    w = start(reg, &cfg, &inst, dir, conninfo, "queue_limit = 200000");
    next_ts = 0;
    t0 = (double) clock_mono_ms();
    c0 = cpu_s();
    for (long n = 0; n < records; n += CHUNK) {
        for (;;) {
            output_get_stats(w, &st);
            if (st.queued < 50000)
                break;
            usleep(500);
        }
        make_chunk(chunk, CHUNK, (int) integrations);
        output_push(w, chunk, CHUNK);
        unref_chunk(chunk, CHUNK);
    }
    if (output_drain(w, clock_mono_ms() + 600000) != 0)
        fprintf(stderr, "warning: not everything was delivered\n");
    wall = ((double) clock_mono_ms() - t0) / 1000;
    cpu = cpu_s() - c0 - gen_cpu;
    output_get_stats(w, &st);
    rss_sustained = maxrss_kb();
    stop(w, cfg, inst);
    printf("%-10s %10" PRIu64 " %10.2f %12.0f %14.2f %12.1f\n",
           "sustained", st.delivered, wall, (double) st.delivered / wall,
           cpu * 1e6 / (double) records, (double) rss_sustained / 1024);

    if (strcmp(phase, "sustained") == 0)
        goto out;

overload:
    /* overload: the producer never waits */
    next_ts = 2 * records;      /* rows of their own, not resends */
    w = start(reg, &cfg, &inst, dir, conninfo,
              "queue_limit = 100000 batch_size = 5000");
    t0 = (double) clock_mono_ms();
    for (long n = 0; n < 2 * records; n += CHUNK) {
        long r;

        make_chunk(chunk, CHUNK, (int) integrations);
        output_push(w, chunk, CHUNK);
        unref_chunk(chunk, CHUNK);
        if ((r = rss_kb()) > rss_overload_peak)
            rss_overload_peak = r;
    }
    output_drain(w, clock_mono_ms() + 600000);
    wall = ((double) clock_mono_ms() - t0) / 1000;
    output_get_stats(w, &st);
    stop(w, cfg, inst);
    printf("%-10s %10" PRIu64 " %10.2f %12.0f %14s %12.1f  "
           "(pushed %" PRIu64 ", dropped %" PRIu64 " at queue_limit "
           "100000)\n", "overload", st.delivered, wall,
           (double) st.delivered / wall, "-",
           (double) rss_overload_peak / 1024, st.pushed, st.dropped);

out:
    for (long i = 0; i < integrations; i++)
        outpost_tagset_unref(tagsets[i]);
    registry_free(reg);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    if (system(path) != 0)
        return 1;
    return 0;
}
