/*
 * bench/probe - the http input at scale, in-process: N configured `http`
 * checks against one fast local URL, run by the real scheduler, loop,
 * shared libcurl multi handle and pipeline (to a counting output), for a
 * while; then the numbers an operator sizes a machine by.
 *
 *   build/probe [-n checks] [-i interval_s] [-w warmup_s] [-d seconds]
 *               [-m new|reuse|both] [-p plugin_dir] [-x options] URL
 *
 * -x adds options to every check, as config text (e.g. -x 'ca_file =
 * "ca.pem"' for an https URL).
 *
 * Per mode (new: a new connection per check, the default; reuse:
 * reuse_connections = true) it prints a table row and a machine-readable
 * line for bench/probe.sh:
 *   RESULT mode=new checks=N rate=... cpu_us=... sys_us=... rss_b=...
 * checks/s and CPU come from the measuring window only (after warmup);
 * CPU is getrusage() of this process, which is the whole agent; sys_us is
 * its kernel part (syscalls, loopback TCP), included in cpu_us. RSS per
 * check is (RSS once running - RSS before the config was loaded) / N, so
 * it counts the config, instances, scheduler, engine and connections.
 * p99 lateness is the scheduler's own histogram (start - due, log2
 * buckets: the figure is the bucket's upper bound), over the whole run.
 *
 * Prints tables; never pass/fail.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <curl/curl.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "config.h"
#include "http.h"
#include "instance.h"
#include "loop.h"
#include "output.h"
#include "pipeline.h"
#include "registry.h"
#include "scheduler.h"
#include "tmpdir.h"

struct opts {
    long        checks;
    long        interval_s;
    long        warmup_s;
    long        seconds;
    const char *modes;
    const char *plugin_dir;
    const char *extra;
    const char *url;
};

/* --- a counting output -------------------------------------------------- */

/* delivered: checks that measured the target (they have "success");
 * failed: those that said no; unknown: "agent overloaded" results, where
 * the agent was too late to measure anything (they are not checks kept). */
static _Atomic long delivered, failed, unknown;

static outpost_result_t
count_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    long measured = 0;

    (void) inst;
    for (size_t i = 0; i < b->n; i++) {
        const outpost_record_t *r = b->records[i];

        if (outpost_record_field(r, "success") == NULL) {
            atomic_fetch_add(&unknown, 1);
            continue;
        }
        measured++;
        if (outpost_record_number(r, "success", 0) == 0
            && atomic_fetch_add(&failed, 1) == 0) {
            const char *e = outpost_record_string(r, "error");
            fprintf(stderr, "probe: first failed check: %s\n", e ? e : "?");
        }
    }
    atomic_fetch_add(&delivered, measured);
    return OUTPOST_OK;
}

static const outpost_option_t no_options[] = { OUTPOST_OPTION_END };

static const outpost_plugin_t count_plugin = {
    OUTPOST_PLUGIN_HEADER, .name = "count", .kind = OUTPOST_OUTPUT,
    .description = "counts records", .options = no_options,
    .write = count_write,
};

/* --- measuring ---------------------------------------------------------- */

/* The peak RSS of this process so far. */
static long
maxrss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static long
rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

/* Bytes the allocator has handed out and not had back. */
static long
heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();

    return (long) (mi.uordblks + mi.hblkhd);
}

/* CPU seconds of this process so far; *sys gets the kernel's part. */
static double
cpu_seconds(double *sys)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    *sys = (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6
         + *sys;
}

/* --- the agent, assembled as agent.c does it ----------------------------- */

struct rig {
    struct config         *cfg;
    struct loop           *loop;
    outpost_instance_t   **inputs;
    size_t                 ninputs;
    outpost_instance_t    *out;
    struct output_worker  *worker;
    struct pipeline       *pipeline;
    struct scheduler      *sched;
};

static char *
write_config(const struct opts *o, int reuse)
{
    char *p = malloc(PATH_MAX);
    int fd = p && tmp_template(p, PATH_MAX, "probe") == 0 ? mkstemp(p) : -1;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (f == NULL) {
        perror("probe: config");
        exit(1);
    }
    fprintf(f, "interval = \"%lds\"\ntimeout = \"5s\"\nlog_level = \"error\"\n"
            "log_format = \"text\"\n", o->interval_s);
    fprintf(f, "count \"n\" { batch_size = 1000 flush_interval = \"50ms\" "
            "queue_limit = 1000000 }\n");
    for (long i = 0; i < o->checks; i++)
        fprintf(f, "http \"c%06ld\" { url = \"%s\"%s %s }\n", i, o->url,
                reuse ? " reuse_connections = true" : "", o->extra);
    fclose(f);
    return p;
}

static void
rig_start(struct rig *r, struct registry *reg, const struct opts *o,
          int reuse)
{
    char *path = write_config(o, reuse);
    struct diag d = { 0 };

    r->cfg = config_load(path, reg, NULL, &d);
    unlink(path);
    free(path);
    if (r->cfg == NULL) {
        diag_print(&d, stderr);
        exit(1);
    }
    diag_free(&d);
    r->loop = loop_new();
    if (r->loop == NULL || loop_start(r->loop) != 0
        || http_client_start(r->loop) != 0)
        exit(1);
    r->inputs = calloc(r->cfg->nsections, sizeof(*r->inputs));
    for (size_t i = 0; i < r->cfg->nsections; i++) {
        outpost_instance_t *inst = instance_new(&r->cfg->sections[i], r->cfg);

        if (inst == NULL || instance_init(inst) != 0)
            exit(1);
        if (inst->plugin->kind == OUTPOST_OUTPUT)
            r->out = inst;
        else
            r->inputs[r->ninputs++] = inst;
    }
    r->worker = output_start(r->out, NULL);
    r->pipeline = pipeline_new(NULL, 0, &r->out, &r->worker, 1);
    r->sched = scheduler_new(r->loop, r->pipeline, 1);
    if (r->worker == NULL || r->pipeline == NULL || r->sched == NULL)
        exit(1);
    for (size_t i = 0; i < r->ninputs; i++)
        if (scheduler_add(r->sched, r->inputs[i]) != 0)
            exit(1);
    if (scheduler_start(r->sched, 0) != 0)
        exit(1);
}

static void
rig_stop(struct rig *r)
{
    scheduler_stop(r->sched);
    output_drain(r->worker, clock_mono_ms() + 5000);
    output_stop(r->worker);
    http_client_stop();
    loop_stop(r->loop);
    for (size_t i = 0; i < r->ninputs; i++) {
        instance_shutdown(r->inputs[i]);
        instance_free(r->inputs[i]);
    }
    instance_shutdown(r->out);
    scheduler_free(r->sched);
    pipeline_free(r->pipeline);
    instance_free(r->out);
    loop_free(r->loop);
    free(r->inputs);
    config_free(r->cfg);
}

static void
run_mode(struct registry *reg, const struct opts *o, int reuse)
{
    struct rig r = { 0 };
    struct scheduler_stats st;
    long rss0, rss1, heap0, heap1, n0, n1, f0, f1, u0, u1;
    double cpu0, cpu1, sys0, sys1, t0, t1, rate, cpu_us, sys_us;
    const char *mode = reuse ? "reuse" : "new";

    rss0 = rss_bytes();
    heap0 = heap_bytes();
    t0 = (double) clock_mono_ns() / 1e9;
    rig_start(&r, reg, o, reuse);
    t1 = (double) clock_mono_ns() / 1e9;
    fprintf(stderr, "probe: %s: config loaded and %ld checks started in "
            "%.1f s\n", mode, o->checks, t1 - t0);
    printf("STARTUP mode=%s seconds=%.2f\n", mode, t1 - t0);
    fflush(stdout);
    sleep((unsigned) o->warmup_s);
    n0 = atomic_load(&delivered);
    f0 = atomic_load(&failed);
    u0 = atomic_load(&unknown);
    cpu0 = cpu_seconds(&sys0);
    t0 = (double) clock_mono_ns() / 1e9;
    sleep((unsigned) o->seconds);
    n1 = atomic_load(&delivered);
    f1 = atomic_load(&failed);
    u1 = atomic_load(&unknown);
    cpu1 = cpu_seconds(&sys1);
    t1 = (double) clock_mono_ns() / 1e9;
    rss1 = rss_bytes();
    heap1 = heap_bytes();
    scheduler_get_stats(r.sched, &st);
    rig_stop(&r);

    rate = (double) (n1 - n0) / (t1 - t0);
    cpu_us = n1 > n0 ? (cpu1 - cpu0) * 1e6 / (double) (n1 - n0) : 0;
    sys_us = n1 > n0 ? (sys1 - sys0) * 1e6 / (double) (n1 - n0) : 0;
    printf("| %-6s | %8ld | %9.0f | %8.0f | %10.3f | %8.0f | %7.0f | "
           "%7.1f | %7" PRIu64 " | %6" PRIu64 " |\n",
           mode, o->checks, (double) o->checks / (double) o->interval_s,
           rate, cpu_us / 1000.0,
           cpu_us, (double) (rss1 - rss0) / (double) o->checks,
           (double) st.late_p99_us / 1000.0, st.skipped, st.timeouts);
    printf("RESULT mode=%s checks=%ld rate=%.1f cpu_us=%.2f sys_us=%.2f "
           "rss_b=%.0f heap_b=%.0f p99_ms=%.3f max_ms=%.3f failed=%ld "
           "skipped=%" PRIu64 " timeouts=%" PRIu64 " overloaded=%" PRIu64
           " unknown=%ld maxrss_kb=%ld\n", mode, o->checks,
           rate, cpu_us, sys_us,
           (double) (rss1 - rss0) / (double) o->checks,
           (double) (heap1 - heap0) / (double) o->checks,
           (double) st.late_p99_us / 1000.0, (double) st.late_max_us / 1000.0,
           f1 - f0, st.skipped, st.timeouts, st.overloaded, u1 - u0,
           maxrss_kb());
    fflush(stdout);
}

static void
usage(void)
{
    fprintf(stderr, "usage: probe [-n checks] [-i interval_s] [-w warmup_s] "
            "[-d seconds] [-m new|reuse|both] [-p plugin_dir] [-x options] "
            "URL\n");
    exit(2);
}

static void
parse(struct opts *o, int argc, char **argv)
{
    static char dir[PATH_MAX];
    int c;

    o->checks = 50000;
    o->interval_s = 10;
    o->warmup_s = 12;
    o->seconds = 20;
    o->modes = "both";
    o->extra = "";
    /* The build tree's plugins: next to the program's folder (bench/). */
    if (readlink("/proc/self/exe", dir, sizeof(dir) - 16) > 0) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        if ((slash = strrchr(dir, '/')) != NULL)
            strcpy(slash, "/plugins");
    }
    o->plugin_dir = dir;
    while ((c = getopt(argc, argv, "n:i:w:d:m:p:x:")) != -1) {
        switch (c) {
        case 'n': o->checks = atol(optarg); break;
        case 'i': o->interval_s = atol(optarg); break;
        case 'w': o->warmup_s = atol(optarg); break;
        case 'd': o->seconds = atol(optarg); break;
        case 'm': o->modes = optarg; break;
        case 'p': o->plugin_dir = optarg; break;
        case 'x': o->extra = optarg; break;
        default: usage();
        }
    }
    if (optind != argc - 1 || o->checks <= 0 || o->interval_s <= 0)
        usage();
    o->url = argv[optind];
}

int
main(int argc, char **argv)
{
    struct registry *reg = registry_new();
    struct diag d = { 0 };
    struct opts o;
    char path[PATH_MAX + 16];

    parse(&o, argc, argv);
    curl_global_init(CURL_GLOBAL_ALL);
    snprintf(path, sizeof(path), "%s/http.so", o.plugin_dir);
    if (registry_add(reg, &count_plugin, "bench", &d) != 0
        || registry_load_file(reg, path, &d) != 0) {
        diag_print(&d, stderr);
        return 1;
    }
    printf("bench/probe: %ld http checks every %lds on %s; warmup %lds, "
           "measured %lds\n\n", o.checks, o.interval_s, o.url, o.warmup_s,
           o.seconds);
    printf("| %-6s | %8s | %9s | %8s | %10s | %8s | %7s | %7s | %7s | %6s |\n",
           "mode", "checks", "target/s", "checks/s", "CPU s/1000",
           "CPU us", "RSS B", "p99 ms", "skipped", "tmout");
    printf("|--------|----------|-----------|----------|------------|"
           "----------|---------|---------|---------|--------|\n");
    fflush(stdout);
    if (strcmp(o.modes, "reuse") != 0)
        run_mode(reg, &o, 0);
    if (strcmp(o.modes, "new") != 0)
        run_mode(reg, &o, 1);
    registry_free(reg);
    curl_global_cleanup();
    return 0;
}
