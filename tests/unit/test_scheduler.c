/*
 * The scheduler: first runs spread over the interval; a run that outlives
 * its timeout is cancelled and reported as a failed check; a slow input
 * never delays another; --once runs every input exactly once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <outpost/plugin.h>
#include "agent.h"
#include "scheduler.h"
#include "tmpdir.h"

static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

static void
test_spread_is_even(void **state)
{
    enum { N = 1000 };
    int64_t off[N], interval = 10000;
    int per_10ms[1000] = { 0 }, per_100ms[100] = { 0 };

    (void) state;
    for (size_t i = 0; i < N; i++) {
        off[i] = scheduler_spread_offset(i, interval);
        assert_true(off[i] >= 0 && off[i] < interval);
        per_10ms[off[i] / 10]++;
        per_100ms[off[i] / 100]++;
    }
    qsort(off, N, sizeof(off[0]), cmp64);
    for (int b = 0; b < 1000; b++)
        assert_true(per_10ms[b] <= 3);
    for (int b = 0; b < 100; b++)
        assert_true(per_100ms[b] >= 7 && per_100ms[b] <= 13);
    /* A few instances are spread too, not bunched at the start. */
    assert_true(scheduler_spread_offset(1, interval) > interval / 2);
    assert_true(scheduler_spread_offset(2, interval) > interval / 5);
}

/* --- static plugins ------------------------------------------------------ */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static outpost_record_t *got[4096];
static size_t ngot;

static int
sleepy_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    (void) inst; (void) run;
    usleep(1500 * 1000);
    return OUTPOST_RUN_DONE;
}

static int
quick_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    outpost_record_t *r = outpost_run_measurement(run);

    (void) inst;
    outpost_record_add_bool(r, "success", 1);
    outpost_run_emit(run, r);
    return OUTPOST_RUN_DONE;
}

static outpost_result_t
keep_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    (void) inst;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < b->n && ngot < 4096; i++)
        got[ngot++] = outpost_record_ref(b->records[i]);
    pthread_mutex_unlock(&lock);
    return OUTPOST_OK;
}

static const outpost_option_t none[] = { OUTPOST_OPTION_END };
static const outpost_plugin_t sleepy = {
    OUTPOST_PLUGIN_HEADER, .name = "sleepy", .kind = OUTPOST_INPUT,
    .options = none, .collect = sleepy_collect,
};
static const outpost_plugin_t quick = {
    OUTPOST_PLUGIN_HEADER, .name = "quick", .kind = OUTPOST_INPUT,
    .options = none, .collect = quick_collect,
};
static const outpost_plugin_t keep = {
    OUTPOST_PLUGIN_HEADER, .name = "keep", .kind = OUTPOST_OUTPUT,
    .options = none, .write = keep_write,
};

static struct registry *cur_reg;
static char state_dir[64];

static struct agent *
agent_for(const char *text)
{
    static char path[64];
    struct agent_opts o = { 0 };
    struct registry *reg = registry_new();
    struct diag d = { 0 };
    struct agent *a;
    FILE *f;

    assert_int_equal(tmp_template(path, sizeof(path), "sched"), 0);
    close(mkstemp(path));
    assert_int_equal(tmp_template(state_dir, sizeof(state_dir),
                                  "sched-state"), 0);
    assert_non_null(mkdtemp(state_dir));
    f = fopen(path, "w");
    fprintf(f, "state_dir = \"%s\"\n", state_dir);
    fputs(text, f);
    fclose(f);
    registry_add(reg, &sleepy, "test", &d);
    registry_add(reg, &quick, "test", &d);
    registry_add(reg, &keep, "test", &d);
    o.config_path = path;
    o.registry = reg;
    cur_reg = reg;
    a = agent_new(&o, &d);
    diag_print(&d, stderr);
    diag_free(&d);
    unlink(path);
    assert_non_null(a);
    return a;
}

static size_t
count(const char *integration, int success)
{
    size_t n = 0;

    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < ngot; i++)
        if (strcmp(outpost_record_tag(got[i], "integration"),
                   integration) == 0
            && (success < 0
                || outpost_record_number(got[i], "success", -1) == success))
            n++;
    pthread_mutex_unlock(&lock);
    return n;
}

static void
reset(void)
{
    char cmd[128];

    registry_free(cur_reg);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
    if (system(cmd) != 0)
        fail_msg("cannot remove %s", state_dir);
    for (size_t i = 0; i < ngot; i++)
        outpost_record_unref(got[i]);
    ngot = 0;
}

static void
test_timeout_and_isolation(void **state)
{
    struct agent *a = agent_for(
        "sleepy \"slow\" { interval = \"400ms\" timeout = \"200ms\" }\n"
        "quick \"fast\" { interval = \"100ms\" }\n"
        "keep \"k\" { flush_interval = \"10ms\" }\n");
    const outpost_record_t *t = NULL;

    (void) state;
    assert_int_equal(agent_start(a, 0), 0);
    usleep(1200 * 1000);
    agent_stop(a, 1000);

    /* fast ran every 100 ms although slow blocked a thread each time. */
    assert_true(count("fast", 1) >= 9);
    /* slow was cancelled at its deadline and reported as failed, and its
     * busy runs made the next ticks skip rather than pile up. */
    assert_true(count("slow", 0) >= 1);
    assert_true(count("slow", 0) <= 3);
    for (size_t i = 0; i < ngot; i++)
        if (strcmp(outpost_record_tag(got[i], "integration"), "slow") == 0)
            t = got[i];
    assert_non_null(t);
    assert_non_null(outpost_record_string(t, "error"));
    assert_memory_equal(outpost_record_string(t, "error"), "timeout", 7);
    assert_string_equal(t->name, "sleepy");
    agent_free(a);
    reset();
}

static void
test_once_runs_each_input_once(void **state)
{
    struct agent *a = agent_for(
        "quick \"q1\" { }\nquick \"q2\" { }\nquick \"q3\" { }\n"
        "keep \"k\" { }\n");

    (void) state;
    assert_int_equal(agent_start(a, 1), 0);
    assert_int_equal(agent_finish_once(a), 0);
    agent_stop(a, 0);
    assert_int_equal(count("q1", 1), 1);
    assert_int_equal(count("q2", 1), 1);
    assert_int_equal(count("q3", 1), 1);
    agent_free(a);
    reset();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spread_is_even),
        cmocka_unit_test(test_timeout_and_isolation),
        cmocka_unit_test(test_once_runs_each_input_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
