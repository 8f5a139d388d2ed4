/*
 * test_output.c - the output worker against a scripted output plugin:
 * batching by size and by time, retries with backoff, failures, spilling
 * while the backend is down, replay after recovery and after a restart,
 * and drain deadlines. Delays are a few milliseconds; nothing sleeps for
 * seconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "instance.h"
#include "log.h"
#include "output.h"
#include "harness.h"
#include "tmpdir.h"

#define MAX_LOG 16384

/* What the fake backend answers and what it received. */
static struct {
    pthread_mutex_t   mu;
    outpost_result_t  steps[16];    /* answers for the first calls ... */
    size_t            nsteps;
    outpost_result_t  then;         /* ... and for every call after */
    int               down;         /* RETRY while set */
    unsigned          flap;         /* RETRY every flap-th call, if > 0 */
    size_t            calls;
    int64_t           first_call_ms;
    int64_t           delivered[MAX_LOG];     /* seq of every record OK'd */
    size_t            ndelivered;
    size_t            batch_sizes[1024];
    size_t            nbatches;
    int               flushes;
} be = { .mu = PTHREAD_MUTEX_INITIALIZER };

static char dir[64];
static outpost_tagset_t *tags;

static int64_t
seq_of(const outpost_record_t *r)
{
    return (int64_t) outpost_record_number(r, "seq", -1);
}

static outpost_result_t
script_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    outpost_result_t r;

    (void) inst;
    pthread_mutex_lock(&be.mu);
    be.calls++;
    if (be.first_call_ms == 0)
        be.first_call_ms = clock_mono_ms();
    if (be.down || (be.flap && be.calls % be.flap == 0))
        r = OUTPOST_RETRY;
    else if (be.calls <= be.nsteps)
        r = be.steps[be.calls - 1];
    else
        r = be.then;
    if (r == OUTPOST_OK) {
        for (size_t i = 0; i < b->n && be.ndelivered < MAX_LOG; i++)
            be.delivered[be.ndelivered++] = seq_of(b->records[i]);
        if (be.nbatches < 1024)
            be.batch_sizes[be.nbatches++] = b->n;
    }
    pthread_mutex_unlock(&be.mu);
    return r;
}

static int
script_flush(outpost_instance_t *inst)
{
    (void) inst;
    pthread_mutex_lock(&be.mu);
    be.flushes++;
    pthread_mutex_unlock(&be.mu);
    return 0;
}

static const outpost_plugin_t script_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "script",
    .kind = OUTPOST_OUTPUT,
    .write = script_write,
    .flush = script_flush,
};

static void
set_down(int down)
{
    pthread_mutex_lock(&be.mu);
    be.down = down;
    pthread_mutex_unlock(&be.mu);
}

static size_t
backend_read(const size_t *field)
{
    size_t v;

    pthread_mutex_lock(&be.mu);
    v = *field;
    pthread_mutex_unlock(&be.mu);
    return v;
}

/* --- fixtures -------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void) st; (void) flag; (void) f;
    return remove(path);
}

static int
setup(void **state)
{
    outpost_tag_t t[] = { { "integration", "stripe" } };

    (void) state;
    pthread_mutex_lock(&be.mu);
    memset(be.steps, 0, sizeof(be.steps));
    be.nsteps = 0;
    be.then = OUTPOST_OK;
    be.down = 0;
    be.flap = 0;
    be.calls = 0;
    be.first_call_ms = 0;
    be.ndelivered = 0;
    be.nbatches = 0;
    be.flushes = 0;
    pthread_mutex_unlock(&be.mu);
    if (tmp_template(dir, sizeof(dir), "output") != 0 || mkdtemp(dir) == NULL)
        return -1;
    tags = outpost_tagset_new(t, 1);
    return tags ? 0 : -1;
}

static int
teardown(void **state)
{
    (void) state;
    outpost_tagset_unref(tags);
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static outpost_instance_t *
make_inst(int64_t batch, int64_t flush_ms, int64_t queue_limit,
          int64_t spill_after_ms)
{
    outpost_instance_t *inst = calloc(1, sizeof(*inst));

    assert_non_null(inst);
    inst->plugin = &script_plugin;
    inst->name = (char *) "test";
    inst->common.batch_size = batch;
    inst->common.flush_interval_ms = flush_ms;
    inst->common.queue_limit = queue_limit;
    inst->common.retry_initial_ms = 1;
    inst->common.retry_max_ms = 8;
    inst->common.spill_after_ms = spill_after_ms;
    inst->common.disk_limit_mb = 64;
    return inst;
}

static void
push_range(struct output_worker *w, int64_t from, int64_t to)
{
    outpost_record_t *batch[32];

    while (from < to) {
        size_t n = 0;

        while (n < 32 && from < to) {
            batch[n] = outpost_measurement_new("probe", tags, 0);
            outpost_record_add_int(batch[n], "seq", from++);
            n++;
        }
        output_push(w, batch, n);
        for (size_t i = 0; i < n; i++)
            outpost_record_unref(batch[i]);
    }
}

/* Polls until the backend has accepted n records (or 5 s passed). */
static void
wait_delivered(size_t n)
{
    int64_t end = clock_mono_ms() + 5000;

    while (backend_read(&be.ndelivered) < n && clock_mono_ms() < end)
        usleep(1000);
    assert_int_equal(backend_read(&be.ndelivered), n);
}

/* Every record of [from, to) was delivered exactly once, in order. */
static void
assert_delivered_range(int64_t from, int64_t to)
{
    pthread_mutex_lock(&be.mu);
    assert_int_equal(be.ndelivered, (size_t) (to - from));
    for (size_t i = 0; i < be.ndelivered; i++)
        assert_int_equal(be.delivered[i], from + (int64_t) i);
    pthread_mutex_unlock(&be.mu);
}

/* --- tests ------------------------------------------------------------- */

static void
output_batches_by_size(void **state)
{
    outpost_instance_t *inst = make_inst(10, 60000, 1000, 60000);
    struct output_worker *w = output_start(inst, NULL);
    int64_t t0 = clock_mono_ms();

    (void) state;
    assert_non_null(w);
    push_range(w, 0, 30);
    wait_delivered(30);
    assert_true(clock_mono_ms() - t0 < 1000);   /* no flush_interval wait */
    assert_int_equal(backend_read(&be.nbatches), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(be.batch_sizes[i], 10);
    assert_delivered_range(0, 30);
    output_stop(w);
    assert_int_equal(be.flushes, 1);
    free(inst);
}

static void
output_batches_by_time(void **state)
{
    outpost_instance_t *inst = make_inst(100, 50, 1000, 60000);
    struct output_worker *w = output_start(inst, NULL);
    struct output_stats st;
    int64_t t0 = clock_mono_ms();

    (void) state;
    push_range(w, 0, 5);
    wait_delivered(5);
    assert_true(be.first_call_ms - t0 >= 45);
    assert_int_equal(backend_read(&be.nbatches), 1);
    assert_int_equal(be.batch_sizes[0], 5);
    output_get_stats(w, &st);
    assert_int_equal(st.delivered, 5);
    assert_int_equal(st.queued, 0);
    output_stop(w);
    free(inst);
}

static void
output_retry_then_ok_keeps_order(void **state)
{
    outpost_instance_t *inst = make_inst(10, 60000, 1000, 60000);
    struct output_worker *w;
    struct output_stats st;

    (void) state;
    be.nsteps = 5;
    for (int i = 0; i < 5; i++)
        be.steps[i] = OUTPOST_RETRY;
    w = output_start(inst, NULL);
    push_range(w, 0, 50);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), 0);
    assert_delivered_range(0, 50);
    output_get_stats(w, &st);
    assert_int_equal(st.retries, 5);
    assert_int_equal(st.delivered, 50);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.queued, 0);
    output_stop(w);
    free(inst);
}

static void
output_fail_is_counted_and_dropped(void **state)
{
    outpost_instance_t *inst = make_inst(10, 60000, 1000, 60000);
    struct output_worker *w;
    struct output_stats st;

    (void) state;
    be.nsteps = 1;
    be.steps[0] = OUTPOST_FAIL;
    w = output_start(inst, NULL);
    push_range(w, 0, 20);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), -1);
    assert_delivered_range(10, 20);
    output_get_stats(w, &st);
    assert_int_equal(st.failed, 10);
    assert_int_equal(st.delivered, 10);
    assert_int_equal(st.queued, 0);
    /* "no batch failed since start": still -1 with nothing queued. */
    assert_int_equal(output_drain(w, clock_mono_ms() + 100), -1);
    output_stop(w);
    free(inst);
}

static void
output_spills_while_down_then_replays(void **state)
{
    outpost_instance_t *inst = make_inst(10, 5, 1000, 20);
    struct output_worker *w;
    struct output_stats st;
    int64_t end;

    (void) state;
    set_down(1);
    w = output_start(inst, dir);
    push_range(w, 0, 100);
    /* Down for longer than spill_after: everything goes to disk. */
    end = clock_mono_ms() + 5000;
    do {
        usleep(1000);
        output_get_stats(w, &st);
    } while (st.spilled < 100 && clock_mono_ms() < end);
    assert_int_equal(st.spilled, 100);
    assert_true(harness_count_files(dir, ".seg") > 0);
    /* New records follow the backlog to disk, even with memory free. */
    push_range(w, 100, 150);
    output_get_stats(w, &st);
    assert_int_equal(st.spilled, 150);
    assert_int_equal(st.queued, 150);
    assert_true(st.retries > 0);
    assert_int_equal(backend_read(&be.ndelivered), 0);

    set_down(0);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), 0);
    assert_delivered_range(0, 150);
    output_get_stats(w, &st);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(harness_count_files(dir, ".seg"), 0);
    output_stop(w);
    free(inst);
}

static void
output_stop_while_down_then_new_worker_delivers(void **state)
{
    outpost_instance_t *inst = make_inst(10, 5, 1000, 60000);
    struct output_worker *w;
    int64_t t0, end;

    (void) state;
    set_down(1);
    w = output_start(inst, dir);
    push_range(w, 0, 40);
    end = clock_mono_ms() + 5000;
    while (backend_read(&be.calls) < 3 && clock_mono_ms() < end)
        usleep(1000);
    assert_true(backend_read(&be.calls) >= 3);      /* retrying */
    /* not spilled yet */
    assert_int_equal(harness_count_files(dir, ".seg"), 0);

    t0 = clock_mono_ms();
    output_stop(w);                                 /* interrupts backoff */
    assert_true(clock_mono_ms() - t0 < 1000);
    assert_int_equal(be.flushes, 1);
    /* spilled on stop */
    assert_true(harness_count_files(dir, ".seg") > 0);
    assert_int_equal(backend_read(&be.ndelivered), 0);

    set_down(0);
    w = output_start(inst, dir);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), 0);
    assert_delivered_range(0, 40);
    output_stop(w);
    assert_int_equal(harness_count_files(dir, ".seg"), 0);
    free(inst);
}

static void
output_drain_never_sleeps_past_deadline(void **state)
{
    outpost_instance_t *inst = make_inst(10, 5, 1000, 60000);
    struct output_worker *w;
    int64_t t0;

    (void) state;
    inst->common.retry_initial_ms = 2000;   /* backoff far past deadline */
    inst->common.retry_max_ms = 20000;
    set_down(1);
    w = output_start(inst, NULL);
    push_range(w, 0, 5);
    t0 = clock_mono_ms();
    assert_int_equal(output_drain(w, t0 + 100), -1);
    assert_true(clock_mono_ms() - t0 < 600);
    t0 = clock_mono_ms();
    output_stop(w);
    assert_true(clock_mono_ms() - t0 < 1000);
    free(inst);
}

/* Producers on several threads while the backend flaps and the queue
 * keeps crossing between memory and disk: every record arrives exactly
 * once, each producer's records in the order it pushed them. */
#define PRODUCERS 4
#define PER_PRODUCER 1500

static void *
producer(void *arg)
{
    struct output_worker *w = ((void **) arg)[0];
    int64_t base = (int64_t) (intptr_t) ((void **) arg)[1] * 1000000;

    for (int64_t i = 0; i < PER_PRODUCER; i += 5) {
        push_range(w, base + i, base + i + 5);
        if (i % 100 == 0)
            usleep(200);
    }
    return NULL;
}

static void
output_concurrent_producers_flapping_backend(void **state)
{
    outpost_instance_t *inst = make_inst(16, 2, 50, 3);
    struct output_worker *w;
    pthread_t t[PRODUCERS];
    void *args[PRODUCERS][2];
    int64_t next[PRODUCERS] = { 0 };
    struct output_stats st;

    (void) state;
    be.flap = 3;                            /* every third write: RETRY */
    w = output_start(inst, dir);
    for (intptr_t i = 0; i < PRODUCERS; i++) {
        args[i][0] = w;
        args[i][1] = (void *) i;
        assert_int_equal(pthread_create(&t[i], NULL, producer, args[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(output_drain(w, clock_mono_ms() + 20000), 0);
    pthread_mutex_lock(&be.mu);
    assert_int_equal(be.ndelivered, PRODUCERS * PER_PRODUCER);
    for (size_t i = 0; i < be.ndelivered; i++) {
        int64_t p = be.delivered[i] / 1000000, k = be.delivered[i] % 1000000;
        assert_true(p >= 0 && p < PRODUCERS);
        assert_int_equal(k, next[p]);
        next[p]++;
    }
    pthread_mutex_unlock(&be.mu);
    output_get_stats(w, &st);
    assert_int_equal(st.dropped, 0);
    assert_true(st.retries > 0);
    if (getenv("TEST_LOG"))
        fprintf(stderr, "spilled %" PRIu64 " retries %" PRIu64 "\n",
                st.spilled, st.retries);
    output_stop(w);
    free(inst);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(output_batches_by_size, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(output_batches_by_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(output_retry_then_ok_keeps_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(output_fail_is_counted_and_dropped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(output_spills_while_down_then_replays,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            output_stop_while_down_then_new_worker_delivers, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            output_drain_never_sleeps_past_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(
            output_concurrent_producers_flapping_backend, setup, teardown),
    };

    log_configure(getenv("TEST_LOG") ? OUTPOST_LOG_DEBUG : OUTPOST_LOG_ERROR,
                  LOG_FORMAT_TEXT, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
