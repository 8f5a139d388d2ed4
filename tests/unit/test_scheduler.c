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
#include <fcntl.h>
#include "agent.h"
#include "clock.h"
#include "log.h"
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

/* Burns the loop thread (an ASYNC plugin must never do this: it stands
 * for more checks than the machine can run). */
static int
burner_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    outpost_record_t *r = outpost_run_measurement(run);
    int64_t end = clock_mono_ms() + 120;

    (void) inst;
    while (clock_mono_ms() < end)
        ;
    outpost_record_add_bool(r, "success", 1);
    outpost_run_emit(run, r);
    return OUTPOST_RUN_DONE;
}

/* A check that always ends in its own timeout, as a transfer starved by a
 * busy loop would. */
static int
waiter_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    outpost_record_t *r = outpost_run_measurement(run);

    (void) inst;
    usleep(300 * 1000);
    outpost_record_add_bool(r, "success", 0);
    outpost_record_add_str(r, "error", "timeout: no answer in time");
    outpost_run_emit(run, r);
    return OUTPOST_RUN_DONE;
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
static const outpost_plugin_t burner = {
    OUTPOST_PLUGIN_HEADER, .name = "burner", .kind = OUTPOST_INPUT,
    .flags = OUTPOST_PLUGIN_ASYNC, .options = none,
    .collect = burner_collect,
};
static const outpost_plugin_t waiter = {
    OUTPOST_PLUGIN_HEADER, .name = "waiter", .kind = OUTPOST_INPUT,
    .options = none, .collect = waiter_collect,
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
    registry_add(reg, &burner, "test", &d);
    registry_add(reg, &waiter, "test", &d);
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

/* More work than the loop can do: eight inputs that each burn 120 ms of
 * the loop every 100 ms, beside twenty quick checks (collector threads)
 * with a 200 ms timeout, and three that always time out. The scheduler
 * skips what cannot start in time and counts it, warns once, keeps the
 * loop's lateness bounded (nothing piles up), never reports a quick check
 * as failed (their results were in time, only the agent was late), and
 * recasts the timeouts of runs it starved as unknown, "agent
 * overloaded", with no "success" to page anyone. */
static void
test_overload_is_bounded_and_never_blamed_on_the_vendor(void **state)
{
    char conf[4096], logp[96], text[1 << 16], *p;
    size_t len = 0, n;
    long skipped = -1, behind = -1, unknown = -1;
    int warnings = 0, fd;
    size_t ok = 0;
    struct agent *a;
    FILE *f;

    (void) state;
    for (int i = 0; i < 8; i++)
        len += (size_t) snprintf(conf + len, sizeof(conf) - len,
                                 "burner \"b%d\" { interval = \"100ms\" "
                                 "timeout = \"1s\" }\n", i);
    for (int i = 0; i < 20; i++)
        len += (size_t) snprintf(conf + len, sizeof(conf) - len,
                                 "quick \"q%d\" { interval = \"100ms\" "
                                 "timeout = \"200ms\" }\n", i);
    snprintf(conf + len, sizeof(conf) - len,
             "waiter \"w1\" { interval = \"500ms\" timeout = \"1s\" }\n"
             "waiter \"w2\" { interval = \"500ms\" timeout = \"1s\" }\n"
             "waiter \"w3\" { interval = \"500ms\" timeout = \"1s\" }\n"
             "keep \"k\" { flush_interval = \"10ms\" }\n");
    a = agent_for(conf);
    assert_int_equal(tmp_template(logp, sizeof(logp), "sched-log"), 0);
    fd = mkstemp(logp);
    assert_true(fd >= 0);
    log_configure(OUTPOST_LOG_INFO, LOG_FORMAT_TEXT, fd);

    assert_int_equal(agent_start(a, 0), 0);
    usleep(4000 * 1000);
    agent_stop(a, 1000);
    log_configure(OUTPOST_LOG_ERROR, LOG_FORMAT_TEXT, 2);
    close(fd);

    f = fopen(logp, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(logp);
    if (getenv("TEST_LOG"))
        fputs(text, stderr);
    for (p = text; (p = strstr(p, "agent overloaded:")) != NULL; p++)
        warnings++;
    assert_int_equal(warnings, 1);
    p = strstr(text, "since start the agent was overloaded: ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "since start the agent was overloaded: %ld "
                            "checks skipped, %ld timeouts reported unknown; "
                            "the loop ran at most %ld ms behind", &skipped,
                            &unknown, &behind), 3);
    assert_true(skipped > 20);
    /* Timeouts while the loop starved their runs are not the vendor's. */
    assert_true(unknown > 0);
    /* Bounded: late ticks cost nothing, so the loop catches up instead
     * of falling further behind for as long as the overload lasts. */
    assert_true(behind < 1500);

    /* The vendor is never blamed: no quick check failed. */
    for (int i = 0; i < 20; i++) {
        char name[8];

        snprintf(name, sizeof(name), "q%d", i);
        ok += count(name, 1);
        assert_int_equal(count(name, 0), 0);
    }
    assert_true(ok > 0);
    for (size_t i = 0; i < ngot; i++) {
        const char *reason = outpost_record_string(got[i], "reason");

        if (reason && strcmp(reason, "agent overloaded") == 0) {
            assert_null(outpost_record_field(got[i], "success"));
            assert_string_equal(outpost_record_string(got[i], "status_hint"),
                                "unknown");
        }
    }
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
        cmocka_unit_test(
            test_overload_is_bounded_and_never_blamed_on_the_vendor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
