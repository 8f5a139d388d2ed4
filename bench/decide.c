/*
 * bench/decide - measurements per second through the decision filters
 * (health > circuit_breaker > sla, plus failover and alert when those
 * modules are in the plugin folder) for many integrations, and the heap
 * each integration costs with every window held.
 *
 *   build/bench/decide [-n integrations] [-r rounds] [-f fill_rounds]
 *                      [-p plugin_dir]
 *
 * Defaults: 10,000 integrations, 100 timed rounds, plugins from the build
 * tree (../plugins next to this program). The real modules run in the
 * real pipeline on this one thread, with no outputs, on the fake clock:
 *
 *   1. fill: 31 days in 6-hour steps, every integration checked once a
 *      step, so every ring of every filter has turned over at least once;
 *   2. timed: `rounds` rounds of one check per integration, 10 s of fake
 *      time apart (a realistic interval, so minute buckets rotate);
 *   3. memory: heap in use (mallinfo2) and resident memory (RSS, which
 *      also counts the allocator's own overhead) after the fill minus
 *      before the first integration was seen, per integration; and what
 *      each filter's `stats` command says its state takes;
 *   4. shutdown: the time the filters take to save their state.
 *
 * Checks fail at random about 1% of the time (some integrations much
 * more), latency is spread log-normally-ish: state changes, circuit
 * transitions and burn-rate alerts all happen. Prints a table; never
 * pass/fail.
 */
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "config.h"
#include "instance.h"
#include "pipeline.h"
#include "registry.h"
#include "bench.h"
#include "tmpdir.h"

#define BATCH    64
#define S        1000000000LL
#define T0       (1704067200LL * S)     /* 2024-01-01 00:00:00 UTC */

struct bench {
    struct registry     *reg;
    struct config       *cfg;
    outpost_instance_t  *filters[8];
    size_t               nfilters;
    struct pipeline     *p;
    outpost_tagset_t   **tags;
    size_t               n;
    uint64_t             rng;
    char                 state[64];
};

/* --- setup --------------------------------------------------------------- */

static int
module_exists(const char *dir, const char *name)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s.so", dir, name);
    return access(path, R_OK) == 0;
}

static void
load(struct bench *b, const char *plugin_dir)
{
    static const char *const chain[] = {
        "health", "circuit_breaker", "sla", "failover", "alert",
    };
    char path[128], text[2048];
    size_t off;
    struct diag d = { 0 };
    FILE *f;

    if (tmp_template(b->state, sizeof(b->state), "decide") != 0
        || mkdtemp(b->state) == NULL)
        exit(1);
    /* Saving is timed on its own at shutdown, not every fake minute. */
    off = (size_t) snprintf(text, sizeof(text), "state_dir = \"%s\"\n"
                            "interval = \"10s\"\n", b->state);
    for (size_t i = 0; i < sizeof(chain) / sizeof(chain[0]); i++) {
        if (!module_exists(plugin_dir, chain[i])) {
            printf("(no %s module in %s: left out)\n", chain[i], plugin_dir);
            continue;
        }
        off += (size_t) snprintf(text + off, sizeof(text) - off,
                                 "%s \"%s\" { %s}\n", chain[i], chain[i],
                                 i < 3 ? "save_interval = \"1d\" " : "");
    }
    snprintf(path, sizeof(path), "%s/bench.conf", b->state);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        exit(1);
    b->reg = registry_new();
    registry_load_dir(b->reg, plugin_dir, &d);
    b->cfg = config_load(path, b->reg, NULL, &d);
    if (b->cfg == NULL) {
        diag_print(&d, stderr);
        exit(1);
    }
    diag_free(&d);
    for (size_t i = 0; i < b->cfg->nsections; i++) {
        outpost_instance_t *inst = instance_new(&b->cfg->sections[i],
                                                b->cfg);
        if (inst == NULL || instance_init(inst) != 0)
            exit(1);
        b->filters[b->nfilters++] = inst;
    }
    b->p = pipeline_new(b->filters, b->nfilters, NULL, NULL, 0);
}

/* What an input instance would carry: 40% of integrations are in
 * failover pairs; tiers rotate through basic, professional, enterprise
 * and none. */
static void
make_tags(struct bench *b)
{
    static const char *const tiers[] = { "basic", "professional",
                                         "enterprise", NULL };

    b->tags = calloc(b->n, sizeof(*b->tags));
    for (size_t i = 0; i < b->n; i++) {
        char name[32], provider[32], group[32], prio[8];
        outpost_tag_t t[8];
        size_t k = 0;

        snprintf(name, sizeof(name), "api-%05zu", i);
        snprintf(provider, sizeof(provider), "vendor-%zu", i % 97);
        t[k++] = (outpost_tag_t) { "integration", name };
        t[k++] = (outpost_tag_t) { "category", "http" };
        t[k++] = (outpost_tag_t) { "provider", provider };
        t[k++] = (outpost_tag_t) { "instance", "bench" };
        if (tiers[i % 4])
            t[k++] = (outpost_tag_t) { "tier", tiers[i % 4] };
        if (i % 10 < 4) {
            snprintf(group, sizeof(group), "group-%zu", i / 2);
            snprintf(prio, sizeof(prio), "%zu", 1 + i % 2);
            t[k++] = (outpost_tag_t) { "failover_group", group };
            t[k++] = (outpost_tag_t) { "priority", prio };
            t[k++] = (outpost_tag_t) { "weight", "1" };
        }
        b->tags[i] = outpost_tagset_new(t, k);
    }
}

/* --- load ---------------------------------------------------------------- */

static uint64_t
rnd(struct bench *b)
{
    b->rng ^= b->rng << 13;     /* xorshift64 */
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    return b->rng;
}

/* One check result: 1% failures, 20% for one integration in 50. */
static outpost_record_t *
check(struct bench *b, size_t i)
{
    outpost_record_t *r = outpost_measurement_new("http", b->tags[i], 0);
    uint64_t x = rnd(b);
    int fail = (x % 1000) < (i % 50 == 7 ? 200u : 10u);
    double ms = 40.0 + (double) ((x >> 10) % 200)
                * (1.0 + (double) ((x >> 20) % 8) * ((x >> 23) % 4 == 0));

    outpost_record_add_bool(r, "success", !fail);
    outpost_record_add_int(r, "status_code", fail ? 503 : 200);
    outpost_record_add_float(r, "response_ms", ms);
    if (fail)
        outpost_record_add_str(r, "error", "status: got 503, expected 2xx");
    return r;
}

/* One check of every integration; returns the CPU ns spent in
 * pipeline_submit. */
static int64_t
round_of_checks(struct bench *b)
{
    outpost_record_t *batch[BATCH];
    int64_t spent = 0;

    for (size_t i = 0; i < b->n; i += BATCH) {
        size_t k = 0;
        int64_t t0;

        for (; k < BATCH && i + k < b->n; k++)
            batch[k] = check(b, i + k);
        t0 = bench_thread_cpu_ns();
        pipeline_submit(b->p, batch, k);
        spent += bench_thread_cpu_ns() - t0;
    }
    return spent;
}

static size_t
heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

/* Resident memory of the process. */
static size_t
rss_used(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (size_t) resident * (size_t) sysconf(_SC_PAGESIZE);
}

/* The state_bytes a filter's `stats` command reports, or -1. */
static long
state_bytes(struct bench *b, const char *filter)
{
    char *reply = NULL;
    const char *p;
    long v = -1;

    if (pipeline_control(b->p, filter, "stats", NULL, &reply) == 0 && reply
        && (p = strstr(reply, "\"state_bytes\":")) != NULL)
        v = strtol(p + 14, NULL, 10);
    free(reply);
    return v;
}

static long state_total;     /* nftw has no argument for its callback */

static int
add_size(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) path; (void) ftw;
    if (flag == FTW_F)
        state_total += sb->st_size;
    return 0;
}

static long
dir_bytes(const char *dir)
{
    state_total = 0;
    return nftw(dir, add_size, 16, FTW_PHYS) == 0 ? state_total : -1;
}

/* --- main ---------------------------------------------------------------- */

static void
row(const char *what, const char *fmt, double v)
{
    char buf[64];

    snprintf(buf, sizeof(buf), fmt, v);
    printf("| %-50s | %14s |\n", what, buf);
}

int
main(int argc, char **argv)
{
    struct bench b = { .n = 10000, .rng = 0x9e3779b97f4a7c15ULL };
    char plugin_dir[PATH_MAX] = "";
    long rounds = 100, fill_rounds = 31 * 4;
    size_t heap0, heap1, rss0, rss1;
    int64_t spent = 0, wall0, wall, t0;   /* wall*: CPU time, see bench.h */
    int64_t *per_round;
    struct pipeline_stats ps;
    char names[128] = "";
    int opt;

    while ((opt = getopt(argc, argv, "n:r:f:p:")) != -1) {
        switch (opt) {
        case 'n': b.n = strtoul(optarg, NULL, 10); break;
        case 'r': rounds = strtol(optarg, NULL, 10); break;
        /* Fewer fill rounds (not every ring turned over) for profilers
         * that cannot skip the fill. */
        case 'f': fill_rounds = strtol(optarg, NULL, 10); break;
        case 'p': snprintf(plugin_dir, sizeof(plugin_dir), "%s", optarg);
                  break;
        default:
            fprintf(stderr, "usage: %s [-n integrations] [-r rounds] "
                    "[-f fill_rounds] [-p plugin_dir]\n", argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || b.n < 1 || fill_rounds < 0) {
        fprintf(stderr, "%s: -n and -r must be at least 1\n", argv[0]);
        return 2;
    }
    if (plugin_dir[0] == '\0')
        bench_plugin_dir(plugin_dir, sizeof(plugin_dir));
    log_configure(OUTPOST_LOG_WARN, LOG_FORMAT_TEXT, 2);
    clock_fake_set(T0);
    load(&b, plugin_dir);
    make_tags(&b);
    for (size_t i = 0; i < b.nfilters; i++) {
        strcat(names, i ? " > " : "");
        strcat(names, b.filters[i]->plugin->name);
    }

    /* 1. fill: every window of every ring has been written. */
    heap0 = heap_used();
    rss0 = rss_used();
    for (long r = 0; r < fill_rounds; r++) {
        clock_fake_advance(6 * 3600 * S);
        round_of_checks(&b);
    }
    heap1 = heap_used();
    rss1 = rss_used();

    /* 2. timed rounds, 10 s apart. */
    pipeline_get_stats(b.p, &ps);
    per_round = calloc((size_t) rounds, sizeof(*per_round));
    {
        uint64_t emitted0 = ps.emitted;

        wall0 = bench_thread_cpu_ns();
        for (long r = 0; r < rounds; r++) {
            clock_fake_advance(10 * S);
            per_round[r] = round_of_checks(&b);
            spent += per_round[r];
        }
        wall = bench_thread_cpu_ns() - wall0;
        pipeline_get_stats(b.p, &ps);
        ps.emitted -= emitted0;
    }
    qsort(per_round, (size_t) rounds, sizeof(*per_round), bench_cmp_i64);

    printf("bench/decide: %s\n\n", names);
    printf("| %-50s | %14s |\n", "what", "value");
    printf("|%s|%s|\n", "----------------------------------------------------",
           "----------------");
    row("integrations", "%.0f", (double) b.n);
    row("measurements timed", "%.0f", (double) rounds * (double) b.n);
    row("measurements/s through the filters (CPU time)", "%.0f",
        (double) rounds * (double) b.n / ((double) spent / 1e9));
    row("ns per measurement in the filter chain", "%.0f",
        (double) spent / ((double) rounds * (double) b.n));
    /* The machine may be busy: the median round is the steadier figure. */
    row("measurements/s, median round", "%.0f",
        (double) b.n / ((double) per_round[rounds / 2] / 1e9));
    row("... including making the records", "%.0f",
        (double) rounds * (double) b.n / ((double) wall / 1e9));
    row("events emitted per 1000 measurements", "%.2f",
        1000.0 * (double) ps.emitted / ((double) rounds * (double) b.n));
    row("heap bytes per integration (mallinfo2)", "%.0f",
        (double) (heap1 - heap0) / (double) b.n);
    row("resident bytes per integration (RSS)", "%.0f",
        (double) (rss1 - rss0) / (double) b.n);
    for (size_t i = 0; i < b.nfilters; i++) {
        long v = state_bytes(&b, b.filters[i]->plugin->name);
        char what[80];

        if (v < 0)
            continue;
        snprintf(what, sizeof(what), "  %s state, bytes per integration",
                 b.filters[i]->plugin->name);
        row(what, "%.0f", (double) v / (double) b.n);
    }

    /* 4. shutdown saves every filter's state. */
    t0 = clock_mono_ns();
    for (size_t i = 0; i < b.nfilters; i++)
        instance_shutdown(b.filters[i]);
    row("state save at shutdown, ms", "%.0f",
        (double) (clock_mono_ns() - t0) / 1e6);
    row("state on disk, bytes per integration", "%.0f",
        (double) dir_bytes(b.state) / (double) b.n);

    pipeline_free(b.p);
    for (size_t i = 0; i < b.nfilters; i++)
        instance_free(b.filters[i]);
    for (size_t i = 0; i < b.n; i++)
        outpost_tagset_unref(b.tags[i]);
    free(b.tags);
    free(per_round);
    config_free(b.cfg);
    registry_free(b.reg);
    bench_rm_tree(b.state);
    clock_fake_off();
    return 0;
}
