/*
 * bench/statesave - how late checks are while the filters save their
 * state, against a run where they do not.
 *
 *   build/bench/statesave [-n integrations] [-d seconds] [-s interval]
 *                         [-c filter,...] [-p plugin_dir]
 *
 * Defaults: 10,000 integrations checked every 10 s (1,000 checks a
 * second), 30 s per run, save_interval 5s (far more often than the 1m
 * default, so that a run sees several saves), plugins from the build
 * tree. The real health > circuit_breaker > sla > failover > alert chain
 * (or the filters -c names, in that order) runs in the real pipeline on this one thread, which plays the event
 * loop in real time: each check is handed to the pipeline when it is
 * due, and pipeline_tick runs once a second, as on the loop thread. A
 * check's lateness is how long after its due time it entered the
 * pipeline: what a tick that holds the pipeline makes it wait.
 *
 * Two runs, each on a fresh state directory: save_interval 1d (the
 * rolling filters never save while measured; failover and alert save
 * when their state changes, in both runs) and save_interval as given.
 * Prints lateness percentiles of each, the p99 wall and CPU time of a
 * tick, and the difference; never pass/fail (tests/unit/test_statefile.c
 * holds the line).
 */
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "config.h"
#include "instance.h"
#include "log.h"
#include "pipeline.h"
#include "registry.h"
#include "bench.h"
#include "tmpdir.h"

#define S 1000000000LL

struct run {
    struct registry     *reg;
    struct config       *cfg;
    outpost_instance_t  *filters[8];
    size_t               nfilters;
    struct pipeline     *p;
    char                 state[128];
};

static outpost_tagset_t **tags;
static size_t             ntags = 10000;
static const char        *chain = "health,circuit_breaker,sla,failover,alert";

static void
start(struct run *r, const char *plugin_dir, const char *save_interval)
{
    static const char *const all[] = { "health", "circuit_breaker", "sla",
                                       "failover", "alert" };
    char path[256], text[2048], want[128];
    struct diag d = { 0 };
    size_t off;
    FILE *f;

    memset(r, 0, sizeof(*r));
    if (tmp_template(r->state, sizeof(r->state), "statesave") != 0
        || mkdtemp(r->state) == NULL)
        exit(1);
    off = (size_t) snprintf(text, sizeof(text), "state_dir = \"%s\"\n"
                            "interval = \"10s\"\n", r->state);
    snprintf(want, sizeof(want), ",%s,", chain);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        char name[40];

        snprintf(name, sizeof(name), ",%s,", all[i]);
        if (strstr(want, name) == NULL)
            continue;
        /* failover and alert save when their state changes. */
        off += (size_t) snprintf(text + off, sizeof(text) - off,
                                 "%s \"%s\" { %s%s%s}\n", all[i], all[i],
                                 i < 3 ? "save_interval = \"" : "",
                                 i < 3 ? save_interval : "",
                                 i < 3 ? "\" " : "");
    }
    snprintf(path, sizeof(path), "%s/bench.conf", r->state);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        exit(1);
    r->reg = registry_new();
    registry_load_dir(r->reg, plugin_dir, &d);
    r->cfg = config_load(path, r->reg, NULL, &d);
    if (r->cfg == NULL) {
        diag_print(&d, stderr);
        exit(1);
    }
    diag_free(&d);
    for (size_t i = 0; i < r->cfg->nsections; i++) {
        outpost_instance_t *inst = instance_new(&r->cfg->sections[i],
                                                r->cfg);
        if (inst == NULL || instance_init(inst) != 0)
            exit(1);
        r->filters[r->nfilters++] = inst;
    }
    r->p = pipeline_new(r->filters, r->nfilters, NULL, NULL, 0);
}

static void
stop(struct run *r)
{
    for (size_t i = 0; i < r->nfilters; i++)
        instance_shutdown(r->filters[i]);
    pipeline_free(r->p);
    for (size_t i = 0; i < r->nfilters; i++)
        instance_free(r->filters[i]);
    config_free(r->cfg);
    registry_free(r->reg);
    bench_rm_tree(r->state);
}

/* As bench/decide: 40% of integrations in failover pairs, tiers
 * rotating. */
static void
make_tags(void)
{
    static const char *const tiers[] = { "basic", "professional",
                                         "enterprise", NULL };

    tags = calloc(ntags, sizeof(*tags));
    for (size_t i = 0; i < ntags; i++) {
        char name[32], group[32], prio[8];
        outpost_tag_t t[8];
        size_t k = 0;

        snprintf(name, sizeof(name), "api-%05zu", i);
        t[k++] = (outpost_tag_t) { "integration", name };
        t[k++] = (outpost_tag_t) { "category", "http" };
        if (tiers[i % 4])
            t[k++] = (outpost_tag_t) { "tier", tiers[i % 4] };
        if (i % 10 < 4) {
            snprintf(group, sizeof(group), "group-%zu", i / 2);
            snprintf(prio, sizeof(prio), "%zu", 1 + i % 2);
            t[k++] = (outpost_tag_t) { "failover_group", group };
            t[k++] = (outpost_tag_t) { "priority", prio };
        }
        tags[i] = outpost_tagset_new(t, k);
    }
}

static void
check(struct run *r, size_t i, uint64_t n)
{
    outpost_record_t *rec = outpost_measurement_new("http", tags[i], 0);
    int fail = (i % 50 == 7) ? n % 5 == 0 : n % 100 == 0;

    outpost_record_add_bool(rec, "success", !fail);
    outpost_record_add_float(rec, "response_ms", 40.0 + (double) (n % 200));
    if (fail)
        outpost_record_add_str(rec, "error", "status: got 503");
    pipeline_submit(r->p, &rec, 1);
}

static void
sleep_until(int64_t mono_ns)
{
    struct timespec ts = { mono_ns / S, mono_ns % S };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
        ;
}

struct result {
    double p50, p99, p999, max;     /* ms */
    size_t checks, ticks;
    double tick_p99;                /* ms a tick held the pipeline */
    double tick_cpu_p99;            /* of which this thread ran, ms */
};

/* Plays the loop for seconds: every integration once per 10 s, spread
 * evenly, and a tick every second. */
static void
measure(struct run *r, long seconds, struct result *res)
{
    size_t cap = (size_t) seconds * (ntags / 10 + 1) + 16, n = 0, nt = 0;
    int64_t *late = malloc(cap * sizeof(*late));
    int64_t *held = malloc(((size_t) seconds + 2) * sizeof(*held));
    int64_t *cpu = malloc(((size_t) seconds + 2) * sizeof(*cpu));
    int64_t step = 10 * S / (int64_t) ntags, t0 = clock_mono_ns();
    int64_t next_check = t0, next_tick = t0 + S, end = t0 + seconds * S;
    uint64_t k = 0;

    while (next_check < end) {
        if (next_tick <= next_check) {
            int64_t a, c;

            sleep_until(next_tick);
            a = clock_mono_ns();
            c = bench_thread_cpu_ns();
            pipeline_tick(r->p);
            cpu[nt] = bench_thread_cpu_ns() - c;
            held[nt++] = clock_mono_ns() - a;
            next_tick += S;
            continue;
        }
        sleep_until(next_check);
        late[n++] = clock_mono_ns() - next_check;
        check(r, k % ntags, k / ntags);
        k++;
        next_check += step;
    }
    qsort(late, n, sizeof(*late), bench_cmp_i64);
    qsort(held, nt, sizeof(*held), bench_cmp_i64);
    qsort(cpu, nt, sizeof(*cpu), bench_cmp_i64);
    res->checks = n;
    res->ticks = nt;
    res->p50 = (double) late[n / 2] / 1e6;
    res->p99 = (double) late[n * 99 / 100] / 1e6;
    res->p999 = (double) late[n * 999 / 1000] / 1e6;
    res->max = (double) late[n - 1] / 1e6;
    res->tick_p99 = nt ? (double) held[nt * 99 / 100] / 1e6 : 0;
    res->tick_cpu_p99 = nt ? (double) cpu[nt * 99 / 100] / 1e6 : 0;
    free(late);
    free(held);
    free(cpu);
}

static void
one_run(const char *plugin_dir, const char *save_interval, long seconds,
        struct result *res)
{
    struct run r;

    start(&r, plugin_dir, save_interval);
    /* Every integration known and every window holding something. */
    for (uint64_t round = 0; round < 3; round++)
        for (size_t i = 0; i < ntags; i++)
            check(&r, i, round);
    /* The first ticks settle what the fill stirred up (failover's and
     * alert's first saves of 10,000 new integrations): not timed. */
    for (int i = 0; i < 2; i++)
        pipeline_tick(r.p);
    measure(&r, seconds, res);
    stop(&r);
}

static void
row(const char *what, const struct result *r)
{
    printf("| %-26s | %8.2f | %8.2f | %8.2f | %8.2f | %10.2f | %10.2f |\n",
           what, r->p50, r->p99, r->p999, r->max, r->tick_p99,
           r->tick_cpu_p99);
}

int
main(int argc, char **argv)
{
    char plugin_dir[PATH_MAX] = "", what[64];
    const char *interval = "5s";
    long seconds = 30;
    struct result quiet, saving;
    int opt;

    while ((opt = getopt(argc, argv, "n:d:s:c:p:")) != -1) {
        switch (opt) {
        case 'n': ntags = strtoul(optarg, NULL, 10); break;
        case 'd': seconds = strtol(optarg, NULL, 10); break;
        case 's': interval = optarg; break;
        case 'c': chain = optarg; break;
        case 'p': snprintf(plugin_dir, sizeof(plugin_dir), "%s", optarg);
                  break;
        default:
            fprintf(stderr, "usage: %s [-n integrations] [-d seconds] "
                    "[-s save_interval] [-c filter,...] [-p plugin_dir]\n",
                    argv[0]);
            return 2;
        }
    }
    if (ntags < 10 || seconds < 2) {
        fprintf(stderr, "%s: -n at least 10, -d at least 2\n", argv[0]);
        return 2;
    }
    if (plugin_dir[0] == '\0')
        bench_plugin_dir(plugin_dir, sizeof(plugin_dir));
    log_configure(OUTPOST_LOG_WARN, LOG_FORMAT_TEXT, 2);
    make_tags();

    one_run(plugin_dir, "1d", seconds, &quiet);
    one_run(plugin_dir, interval, seconds, &saving);

    printf("bench/statesave: %s; %zu integrations, %zu checks and %zu "
           "ticks per run of %ld s\n\n", chain, ntags, quiet.checks,
           quiet.ticks, seconds);
    printf("| %-26s | %8s | %8s | %8s | %8s | %10s | %10s |\n",
           "lateness of checks, ms", "p50", "p99", "p99.9", "max",
           "tick p99", "tick CPU");
    printf("|%s|%s|%s|%s|%s|%s|%s|\n", "----------------------------",
           "----------", "----------", "----------", "----------",
           "------------", "------------");
    row("no saves (1d)", &quiet);
    snprintf(what, sizeof(what), "saving every %s", interval);
    row(what, &saving);
    printf("\np99 lateness while saving minus without: %+.2f ms\n"
           "(tick p99: the wall time a tick held the pipeline; tick CPU:\n"
           "the p99 of the CPU time it ran, which a busy machine does not\n"
           "inflate)\n", saving.p99 - quiet.p99);
    for (size_t i = 0; i < ntags; i++)
        outpost_tagset_unref(tags[i]);
    free(tags);
    return 0;
}
