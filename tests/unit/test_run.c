/*
 * A run's cancel hooks (core/run.h): a hook registered is called once
 * when the run is cancelled, never after the run is done, not at all once
 * removed; on a run that is no longer running nothing registers. First on
 * a bare run, then through the scheduler (timeouts and a stopping agent),
 * then with the hook http.c registers for a transfer: a server that never
 * answers, a run that outlives its timeout, the transfer aborted once.
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <outpost/http.h>
#include <outpost/plugin.h>
#include "agent.h"
#include "run.h"
#include "tmpdir.h"

#define MAX_HOOKS 256

struct hook {
    struct run_hook  h;
    outpost_run_t   *run;
    int              calls;
    int              end_run;      /* the hook ends the run, as http.c's */
    struct hook     *remove;       /* the hook takes this one off first */
};

static void
hook_fn(void *arg)
{
    struct hook *k = arg;

    k->calls++;
    if (k->remove)
        run_hook_remove(&k->remove->h);
    if (k->end_run)
        outpost_run_done(k->run);
}

/* --- the list on a bare run ------------------------------------------- */

static void
test_hooks_on_a_bare_run(void **state)
{
    outpost_run_t run = { .state = RUN_RUNNING };
    struct hook a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 }, late = { 0 };

    (void) state;
    pthread_mutex_init(&run.lock, NULL);
    assert_int_equal(run_on_cancel(&run, &a.h, hook_fn, &a), 0);
    assert_int_equal(run_on_cancel(&run, &b.h, hook_fn, &b), 0);
    assert_int_equal(run_on_cancel(&run, &c.h, hook_fn, &c), 0);
    assert_int_equal(run_on_cancel(&run, &d.h, hook_fn, &d), 0);
    /* b is removed by its owner; c, once called, removes a. */
    run_hook_remove(&b.h);
    run_hook_remove(&b.h);                  /* twice is harmless */
    c.remove = &a;
    run.state = RUN_CANCELLED;
    run_hooks_fire(&run);
    assert_int_equal(b.calls, 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(d.calls, 1);
    /* hooks run newest first: d, c; c took a off before its turn */
    assert_int_equal(a.calls, 0);
    assert_null(run.cancel_hooks);
    run_hooks_fire(&run);                   /* called once, not again */
    assert_int_equal(c.calls, 1);
    assert_int_equal(d.calls, 1);
    /* A cancelled run takes no more hooks. */
    assert_int_equal(run_on_cancel(&run, &late.h, hook_fn, &late), -1);
    assert_null(run.cancel_hooks);

    /* A run that finishes drops its hooks uncalled; removing one later
     * does not touch the run. */
    run.state = RUN_RUNNING;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    assert_int_equal(run_on_cancel(&run, &a.h, hook_fn, &a), 0);
    assert_int_equal(run_on_cancel(&run, &b.h, hook_fn, &b), 0);
    run.state = RUN_FINISHED;
    run_hooks_drop(&run);
    assert_null(run.cancel_hooks);
    assert_null(a.h.pprev);
    run_hook_remove(&a.h);
    run_hooks_fire(&run);
    assert_int_equal(a.calls + b.calls, 0);
    assert_int_equal(run_on_cancel(&run, &late.h, hook_fn, &late), -1);
    pthread_mutex_destroy(&run.lock);
}

/* --- through the scheduler -------------------------------------------- */

/* Async collects and hooks both run on the loop thread. */
static struct hook hooks[3][MAX_HOOKS];
static int nhooks[3];
enum { HANG, PROMPT, REMOVED };

static struct hook *
new_hook(int kind, outpost_run_t *run)
{
    struct hook *k;

    assert_true(nhooks[kind] < MAX_HOOKS);
    k = &hooks[kind][nhooks[kind]++];
    k->run = run;
    assert_int_equal(run_on_cancel(run, &k->h, hook_fn, k), 0);
    return k;
}

/* Never ends by itself: only its hook, at the deadline, ends it. */
static int
hang_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    (void) inst;
    new_hook(HANG, run)->end_run = 1;
    return OUTPOST_RUN_PENDING;
}

/* Done at once: its hook must never be called (and, if it were, ends
 * nothing, so the test fails rather than hangs). */
static int
prompt_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    (void) inst;
    new_hook(PROMPT, run);
    return OUTPOST_RUN_DONE;
}

/* Registers two hooks and takes the first off again. */
static int
removed_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    struct hook *k = new_hook(REMOVED, run);

    (void) inst;
    run_hook_remove(&k->h);
    new_hook(REMOVED, run)->end_run = 1;
    return OUTPOST_RUN_PENDING;
}

static outpost_result_t
drop_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    (void) inst;
    (void) b;
    return OUTPOST_OK;
}

static const outpost_option_t none[] = { OUTPOST_OPTION_END };
#define INPUT(nm, fn) { OUTPOST_PLUGIN_HEADER, .name = nm, \
    .kind = OUTPOST_INPUT, .flags = OUTPOST_PLUGIN_ASYNC, .options = none, \
    .collect = fn }
static const outpost_plugin_t hang = INPUT("hang", hang_collect);
static const outpost_plugin_t prompt = INPUT("prompt", prompt_collect);
static const outpost_plugin_t removed = INPUT("removed", removed_collect);
static int hc_collect(outpost_instance_t *inst, outpost_run_t *run);
static const outpost_plugin_t hc = INPUT("hc", hc_collect);
static const outpost_plugin_t drop = {
    OUTPOST_PLUGIN_HEADER, .name = "drop", .kind = OUTPOST_OUTPUT,
    .options = none, .write = drop_write,
};

static struct registry *reg;
static char state_dir[64];

/* An agent with the plugins above over the config sections text. */
static struct agent *
agent_for(const char *text)
{
    char path[64];
    struct agent_opts o = { 0 };
    struct diag d = { 0 };
    struct agent *a;
    FILE *f;

    reg = registry_new();
    assert_int_equal(tmp_template(path, sizeof(path), "run"), 0);
    close(mkstemp(path));
    assert_int_equal(tmp_template(state_dir, sizeof(state_dir),
                                  "run-state"), 0);
    assert_non_null(mkdtemp(state_dir));
    f = fopen(path, "w");
    fprintf(f, "state_dir = \"%s\"\n%s", state_dir, text);
    fclose(f);
    registry_add(reg, &hang, "test", &d);
    registry_add(reg, &prompt, "test", &d);
    registry_add(reg, &removed, "test", &d);
    registry_add(reg, &hc, "test", &d);
    registry_add(reg, &drop, "test", &d);
    o.config_path = path;
    o.registry = reg;
    a = agent_new(&o, &d);
    diag_print(&d, stderr);
    diag_free(&d);
    unlink(path);
    assert_non_null(a);
    return a;
}

static void
agent_done(struct agent *a)
{
    char cmd[160];

    agent_free(a);
    registry_free(reg);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
    assert_int_equal(system(cmd), 0);
}

static void
test_hooks_through_the_scheduler(void **state)
{
    struct agent *a = agent_for(
        "hang \"h\" { interval = \"150ms\" timeout = \"50ms\" }\n"
        "prompt \"p\" { interval = \"50ms\" }\n"
        "removed \"r\" { interval = \"150ms\" timeout = \"50ms\" }\n"
        "drop \"d\" { }\n");

    (void) state;
    assert_int_equal(agent_start(a, 0), 0);
    usleep(700 * 1000);
    agent_stop(a, 200);     /* cancels the runs still open */

    /* Every run of hang and removed ended through a hook, called once. */
    assert_true(nhooks[HANG] >= 3);
    for (int i = 0; i < nhooks[HANG]; i++)
        assert_int_equal(hooks[HANG][i].calls, 1);
    assert_true(nhooks[REMOVED] >= 6);
    for (int i = 0; i < nhooks[REMOVED]; i++)
        assert_int_equal(hooks[REMOVED][i].calls, i % 2);
    /* prompt's runs were done before any deadline: hooks dropped. */
    assert_true(nhooks[PROMPT] >= 8);
    for (int i = 0; i < nhooks[PROMPT]; i++) {
        assert_int_equal(hooks[PROMPT][i].calls, 0);
        assert_null(hooks[PROMPT][i].h.pprev);
    }
    agent_done(a);
}

/* The transfers hc started and how they ended (loop thread; read after
 * the agent stopped). */
static int hc_port, hc_started, hc_aborted, hc_other;

static void
hc_done(CURL *easy, CURLcode rc, void *arg)
{
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        hc_aborted++;
    else
        hc_other++;
    curl_easy_cleanup(easy);
    outpost_run_done(arg);
}

static int
hc_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    char url[64];
    CURL *easy = curl_easy_init();

    (void) inst;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", hc_port);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    if (outpost_http_start(run, easy, hc_done, run) != 0) {
        curl_easy_cleanup(easy);
        return OUTPOST_RUN_DONE;
    }
    hc_started++;
    return OUTPOST_RUN_PENDING;
}

static void
test_http_transfer_cancelled_with_its_run(void **state)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct agent *a;

    (void) state;
    /* Listens, never accepts: connections complete in the backlog and
     * requests wait for an answer forever. */
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 64), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    hc_port = ntohs(sin.sin_port);
    a = agent_for("hc \"slow\" { interval = \"200ms\" timeout = \"60ms\" }\n"
                  "drop \"d\" { }\n");
    assert_int_equal(agent_start(a, 0), 0);
    usleep(700 * 1000);
    agent_stop(a, 200);
    /* Each transfer was aborted by its run's cancel hook, once. */
    assert_true(hc_started >= 3);
    assert_int_equal(hc_aborted, hc_started);
    assert_int_equal(hc_other, 0);
    agent_done(a);
    close(fd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks_on_a_bare_run),
        cmocka_unit_test(test_hooks_through_the_scheduler),
        cmocka_unit_test(test_http_transfer_cancelled_with_its_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
