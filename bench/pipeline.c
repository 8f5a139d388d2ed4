/*
 * bench/pipeline - measurements per second through the core (pipeline
 * lock, a pass-through filter, fan-out to an output queue and its worker
 * thread, a null output), and heap bytes per queued measurement.
 *
 *   build/pipeline [measurements]        (default 5,000,000)
 *
 * Prints a table; never pass/fail.
 */
#include <malloc.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "config.h"
#include "instance.h"
#include "output.h"
#include "pipeline.h"
#include "registry.h"
#include "tmpdir.h"

#define BATCH 64   /* records an input run hands over at once */

static int
pass_process(outpost_instance_t *inst, outpost_record_t *rec,
             outpost_emitter_t *out)
{
    (void) inst; (void) rec; (void) out;
    return OUTPOST_PASS;
}

static outpost_result_t
null_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    (void) inst; (void) b;
    return OUTPOST_OK;
}

static outpost_result_t
stuck_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    (void) inst; (void) b;
    return OUTPOST_RETRY;
}

static const outpost_option_t no_options[] = { OUTPOST_OPTION_END };

static const outpost_plugin_t pass_plugin = {
    OUTPOST_PLUGIN_HEADER, .name = "pass", .kind = OUTPOST_FILTER,
    .description = "pass-through", .options = no_options,
    .process = pass_process,
};
static const outpost_plugin_t null_plugin = {
    OUTPOST_PLUGIN_HEADER, .name = "null", .kind = OUTPOST_OUTPUT,
    .description = "accepts everything", .options = no_options,
    .write = null_write,
};
static const outpost_plugin_t stuck_plugin = {
    OUTPOST_PLUGIN_HEADER, .name = "stuck", .kind = OUTPOST_OUTPUT,
    .description = "backend down", .options = no_options,
    .write = stuck_write,
};

static struct config *
load(struct registry *reg, const char *text)
{
    char path[PATH_MAX];
    int fd = tmp_template(path, sizeof(path), "bench") == 0 ? mkstemp(path)
                                                            : -1;
    struct diag d = { 0 };
    struct config *c;

    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        exit(1);
    close(fd);
    c = config_load(path, reg, NULL, &d);
    unlink(path);
    if (c == NULL) {
        diag_print(&d, stderr);
        exit(1);
    }
    diag_free(&d);
    return c;
}

static outpost_instance_t *
make(struct config *c, size_t i)
{
    outpost_instance_t *inst = instance_new(&c->sections[i], c);

    if (inst == NULL || instance_init(inst) != 0)
        exit(1);
    return inst;
}

static outpost_record_t *
synthetic(outpost_tagset_t *tags, int64_t i)
{
    outpost_record_t *r = outpost_measurement_new("http", tags, 0);

    outpost_record_add_bool(r, "success", 1);
    outpost_record_add_int(r, "status_code", 200);
    outpost_record_add_float(r, "response_ms", (double) (i % 100));
    return r;
}

static size_t
heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

static void
bench_throughput(struct registry *reg, long n)
{
    struct config *c = load(reg,
        "pass \"p\" { }\n"
        "null \"n\" { batch_size = 1000 flush_interval = \"10ms\" "
        "queue_limit = 10000000 }\n");
    outpost_instance_t *f = make(c, 0), *o = make(c, 1);
    struct output_worker *w = output_start(o, NULL);
    struct pipeline *p = pipeline_new(&f, 1, &o, &w, 1);
    outpost_tagset_t *tags = outpost_instance_tags(o);
    outpost_record_t *batch[BATCH];
    struct output_stats st;
    int64_t t0, t1, t2;

    t0 = clock_mono_ns();
    for (long i = 0; i < n; i += BATCH) {
        for (int k = 0; k < BATCH; k++)
            batch[k] = synthetic(tags, i + k);
        pipeline_submit(p, batch, BATCH);
    }
    t1 = clock_mono_ns();
    output_drain(w, clock_mono_ms() + 60000);
    t2 = clock_mono_ns();
    output_get_stats(w, &st);

    printf("| %-44s | %12.0f |\n", "submit (make + filter + route) /s",
           (double) n / ((double) (t1 - t0) / 1e9));
    printf("| %-44s | %12.0f |\n", "end to end (delivered to null output) /s",
           (double) st.delivered / ((double) (t2 - t0) / 1e9));
    printf("| %-44s | %12.1f |\n", "ns per measurement, submitting thread",
           (double) (t1 - t0) / (double) n);
    output_stop(w);
    pipeline_free(p);
    instance_shutdown(f);
    instance_shutdown(o);
    instance_free(f);
    instance_free(o);
    config_free(c);
}

static void
bench_memory(struct registry *reg, long n)
{
    struct config *c = load(reg,
        "stuck \"s\" { batch_size = 1 retry_initial = \"1h\" "
        "retry_max = \"1h\" spill_after = \"1h\" queue_limit = 10000000 }\n");
    outpost_instance_t *o = make(c, 0);
    struct output_worker *w = output_start(o, NULL);
    struct pipeline *p = pipeline_new(NULL, 0, &o, &w, 1);
    outpost_tagset_t *tags = outpost_instance_tags(o);
    outpost_record_t *batch[BATCH];
    size_t before, after;

    malloc_trim(0);
    before = heap_used();
    for (long i = 0; i < n; i += BATCH) {
        for (int k = 0; k < BATCH; k++)
            batch[k] = synthetic(tags, i + k);
        pipeline_submit(p, batch, BATCH);
    }
    after = heap_used();
    printf("| %-44s | %12.1f |\n", "heap bytes per queued measurement",
           (double) (after - before) / (double) n);
    output_stop(w);
    pipeline_free(p);
    instance_shutdown(o);
    instance_free(o);
    config_free(c);
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 5000000;
    struct registry *reg = registry_new();
    struct diag d = { 0 };

    registry_add(reg, &pass_plugin, "bench", &d);
    registry_add(reg, &null_plugin, "bench", &d);
    registry_add(reg, &stuck_plugin, "bench", &d);
    n -= n % BATCH;
    printf("bench/pipeline: %ld synthetic measurements (3 fields, shared "
           "tags), batches of %d\n\n", n, BATCH);
    printf("| %-44s | %12s |\n|%s|%s|\n", "metric", "value",
           "----------------------------------------------",
           "--------------");
    bench_throughput(reg, n);
    bench_memory(reg, n > 1000000 ? 1000000 : n);
    registry_free(reg);
    return 0;
}
