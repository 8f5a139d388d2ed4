/*
 * test_output.c - the output worker against a scripted output plugin:
 * batching by size and by time, retries with backoff, failures, spilling
 * while the backend is down, replay after recovery and after a restart,
 * and drain deadlines; the output contract (plugin.h): partial acceptance,
 * retry_after, dead letters and their requeue, the write timeout (also
 * against a server that never answers), output_tick, plugin defaults and
 * notifier routing. Delays are a few milliseconds; nothing sleeps for
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <signal.h>
#include <curl/curl.h>
#include <jansson.h>
#include <outpost/http.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "config.h"
#include "deadletter.h"
#include "http.h"
#include "instance.h"
#include "log.h"
#include "output.h"
#include "pipeline.h"
#include "registry.h"
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
    int64_t           sent[MAX_LOG];          /* seq of every record written */
    size_t            nsent;
    size_t            accept_first;   /* next call: deliver these, RETRY */
    int64_t           poison;         /* seq rejected for good */
    int64_t           retry_after_ms; /* with every RETRY */
    int64_t           sleep_ms;       /* next call: sleep this long first */
    int               hang_port;      /* > 0: every call asks this server */
    CURLcode          http_result;
    int64_t           http_ms;        /* how long that request took */
    int               ticks;
    int               tick_on_out_thread;
} be = { .mu = PTHREAD_MUTEX_INITIALIZER };

static char dir[64];
static outpost_tagset_t *tags;

static int64_t
seq_of(const outpost_record_t *r)
{
    return (int64_t) outpost_record_number(r, "seq", -1);
}

/* A request to a server that accepts connections and never answers. */
static void
ask_hung_server(int port)
{
    CURL *easy = curl_easy_init();
    char url[64];
    int64_t t0 = clock_mono_ms();
    CURLcode rc;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    rc = outpost_http_perform(easy);
    curl_easy_cleanup(easy);
    pthread_mutex_lock(&be.mu);
    be.http_result = rc;
    be.http_ms = clock_mono_ms() - t0;
    pthread_mutex_unlock(&be.mu);
}

static outpost_result_t
script_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    outpost_result_t r;
    int64_t sleep_ms;
    int port;

    (void) inst;
    pthread_mutex_lock(&be.mu);
    port = be.hang_port;
    sleep_ms = be.sleep_ms;
    be.sleep_ms = 0;
    pthread_mutex_unlock(&be.mu);
    if (port > 0)
        ask_hung_server(port);
    if (sleep_ms > 0)
        usleep((useconds_t) sleep_ms * 1000);
    pthread_mutex_lock(&be.mu);
    be.calls++;
    if (be.first_call_ms == 0)
        be.first_call_ms = clock_mono_ms();
    for (size_t i = 0; i < b->n && be.nsent < MAX_LOG; i++)
        be.sent[be.nsent++] = seq_of(b->records[i]);
    if (be.accept_first > 0) {
        size_t n = be.accept_first < b->n ? be.accept_first : b->n;

        be.accept_first = 0;
        for (size_t i = 0; i < n && be.ndelivered < MAX_LOG; i++)
            be.delivered[be.ndelivered++] = seq_of(b->records[i]);
        outpost_batch_delivered(b, n);
        pthread_mutex_unlock(&be.mu);
        return OUTPOST_RETRY;
    }
    if (port > 0 || be.down || (be.flap && be.calls % be.flap == 0))
        r = OUTPOST_RETRY;
    else if (be.calls <= be.nsteps)
        r = be.steps[be.calls - 1];
    else
        r = be.then;
    if (r == OUTPOST_RETRY && be.retry_after_ms > 0)
        outpost_batch_retry_after(b, be.retry_after_ms);
    if (r == OUTPOST_OK) {
        for (size_t i = 0; i < b->n && be.ndelivered < MAX_LOG; i++) {
            if (seq_of(b->records[i]) == be.poison) {
                outpost_batch_reject(b, i, "poison record");
                continue;
            }
            be.delivered[be.ndelivered++] = seq_of(b->records[i]);
        }
        if (be.nbatches < 1024)
            be.batch_sizes[be.nbatches++] = b->n;
    }
    pthread_mutex_unlock(&be.mu);
    return r;
}

static void
script_tick(outpost_instance_t *inst)
{
    char name[16] = "";

    (void) inst;
    pthread_getname_np(pthread_self(), name, sizeof(name));
    pthread_mutex_lock(&be.mu);
    be.ticks++;
    if (strcmp(name, "out:test") == 0)
        be.tick_on_out_thread++;
    pthread_mutex_unlock(&be.mu);
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
    .output_tick = script_tick,
};

/* The same backend as a notifier, with its own defaults. */
static const outpost_default_t notifier_defaults[] = {
    { "batch_size", "1" },
    { "timeout", "2s" },
    OUTPOST_DEFAULT_END
};
static const outpost_plugin_t notifier_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "notifier",
    .kind = OUTPOST_OUTPUT,
    .flags = OUTPOST_PLUGIN_NOTIFIER,
    .write = script_write,
    .output_defaults = notifier_defaults,
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
    be.nsent = 0;
    be.accept_first = 0;
    be.poison = INT64_MIN;
    be.retry_after_ms = 0;
    be.sleep_ms = 0;
    be.hang_port = 0;
    be.http_result = CURLE_OK;
    be.http_ms = 0;
    be.ticks = 0;
    be.tick_on_out_thread = 0;
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
    inst->common.timeout_ms = 10000;
    inst->common.tick_interval_ms = 3600000;
    inst->common.dead_letter_limit_mb = 1;
    inst->live = 1;
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

/* pushed = delivered + failed + dropped + queued (output.h). */
static void
assert_accounted(struct output_worker *w)
{
    struct output_stats st;

    output_get_stats(w, &st);
    assert_int_equal(st.pushed,
                     st.delivered + st.failed + st.dropped + st.queued);
    assert_int_equal(st.failed, st.dead_lettered + st.dead_dropped);
}

struct dl_seen {
    int64_t seq[64];
    char    why[64][64];
    size_t  n;
};

static int
collect_dl(const outpost_record_t *rec, const char *why, int64_t t,
           void *arg)
{
    struct dl_seen *seen = arg;

    assert_true(t > 0);
    if (seen->n < 64) {
        seen->seq[seen->n] = seq_of(rec);
        snprintf(seen->why[seen->n], sizeof(seen->why[0]), "%s", why);
        seen->n++;
    }
    return 0;
}

static char *
dl_path_of(outpost_instance_t *inst)
{
    char *path = deadletter_path(dir, inst->plugin->name, inst->name);

    assert_non_null(path);
    return path;
}

/* Without a state_dir a FAIL cannot be kept: counted as dead_dropped. */
static void
output_fail_without_state_dir_is_counted(void **state)
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
    assert_int_equal(st.dead_dropped, 10);
    assert_int_equal(st.delivered, 10);
    assert_int_equal(st.queued, 0);
    assert_accounted(w);
    /* "no record rejected since start": still -1 with nothing queued. */
    assert_int_equal(output_drain(w, clock_mono_ms() + 100), -1);
    output_stop(w);
    free(inst);
}

/* A FAIL puts the batch in the dead letters; the queue goes on. */
static void
output_fail_goes_to_dead_letters(void **state)
{
    outpost_instance_t *inst = make_inst(10, 60000, 1000, 60000);
    struct output_worker *w;
    struct output_stats st;
    struct dl_seen seen = { .n = 0 };
    char *path;

    (void) state;
    inst->state_root = dir;
    path = dl_path_of(inst);
    be.nsteps = 1;
    be.steps[0] = OUTPOST_FAIL;
    w = output_start(inst, NULL);
    push_range(w, 0, 20);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), -1);
    assert_delivered_range(10, 20);
    output_get_stats(w, &st);
    assert_int_equal(st.failed, 10);
    assert_int_equal(st.dead_lettered, 10);
    assert_accounted(w);
    assert_int_equal(deadletter_walk(path, collect_dl, &seen, NULL), 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(seen.seq[i], (int64_t) i);
        assert_string_equal(seen.why[i], "backend rejected the batch");
    }
    output_stop(w);
    inst->state_root = NULL;
    free(path);
    free(inst);
}

/* A dead-letter file at its limit: rejected records are counted as
 * dropped, never written past it. */
static void
output_dead_letters_are_bounded(void **state)
{
    outpost_instance_t *inst = make_inst(10, 60000, 1000, 60000);
    struct output_worker *w;
    struct output_stats st;
    outpost_record_t *r = outpost_measurement_new("probe", tags, 0);
    char *path;

    (void) state;
    /* The limit in bytes, through the file API. */
    inst->state_root = dir;
    path = dl_path_of(inst);
    assert_int_equal(deadletter_append(path, 4096, r, "x", 1), 0);
    assert_int_equal(deadletter_append(path, 1, r, "x", 1), 1);
    outpost_record_unref(r);
    unlink(path);
    /* And through the worker: dead_letter_limit_mb = 0. */
    inst->common.dead_letter_limit_mb = 0;
    be.poison = 3;
    w = output_start(inst, NULL);
    push_range(w, 0, 10);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), -1);
    output_get_stats(w, &st);
    assert_int_equal(st.dead_dropped, 1);
    assert_int_equal(st.dead_lettered, 0);
    assert_int_equal(st.delivered, 9);
    assert_accounted(w);
    assert_int_equal(access(path, F_OK), 0);    /* created, but empty */
    assert_int_equal(deadletter_walk(path, collect_dl, &(struct dl_seen)
                                     { .n = 0 }, NULL), 0);
    output_stop(w);
    inst->state_root = NULL;
    free(path);
    free(inst);
}

/* The backend takes 7 of 10 and asks to retry: the next write holds
 * only the 3 others, and nothing is delivered twice. */
static void
output_partial_acceptance_resends_nothing_accepted(void **state)
{
    outpost_instance_t *inst = make_inst(10, 60000, 1000, 60000);
    struct output_worker *w;
    struct output_stats st;
    static const int64_t want[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                    7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19 };

    (void) state;
    be.accept_first = 7;
    w = output_start(inst, NULL);
    push_range(w, 0, 20);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), 0);
    assert_delivered_range(0, 20);
    pthread_mutex_lock(&be.mu);
    /* The second write is the 3 unanswered ones, then the next batch. */
    assert_int_equal(be.nsent, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < be.nsent; i++)
        assert_int_equal(be.sent[i], want[i]);
    assert_int_equal(be.batch_sizes[0], 3);
    pthread_mutex_unlock(&be.mu);
    output_get_stats(w, &st);
    assert_int_equal(st.delivered, 20);
    assert_int_equal(st.retries, 1);
    assert_accounted(w);
    output_stop(w);
    free(inst);
}

/* Retry-After: 30 s is longer than the backoff (at most 8 ms here), so
 * the next write is scheduled 30 s after the first, and neither the
 * backoff nor a drain brings it forward. */
static void
output_retry_after_is_honoured(void **state)
{
    outpost_instance_t *inst = make_inst(10, 5, 1000, 60000);
    struct output_worker *w;
    struct output_stats st;
    int64_t end, t0;

    (void) state;
    be.nsteps = 1;
    be.steps[0] = OUTPOST_RETRY;
    be.retry_after_ms = 30000;
    w = output_start(inst, NULL);
    push_range(w, 0, 5);
    end = clock_mono_ms() + 5000;
    do {
        usleep(1000);
        output_get_stats(w, &st);
    } while (st.next_attempt_ms == 0 && clock_mono_ms() < end);
    assert_int_equal(st.retries, 1);
    pthread_mutex_lock(&be.mu);
    assert_true(st.next_attempt_ms - be.first_call_ms >= 30000);
    assert_true(st.next_attempt_ms - be.first_call_ms < 31000);
    pthread_mutex_unlock(&be.mu);
    /* A drain with a near deadline does not cut a firm pause short. */
    t0 = clock_mono_ms();
    assert_int_equal(output_drain(w, t0 + 200), -1);
    usleep(100 * 1000);
    assert_int_equal(backend_read(&be.calls), 1);
    output_get_stats(w, &st);
    assert_int_equal(st.queued, 5);
    assert_accounted(w);
    t0 = clock_mono_ms();
    output_stop(w);                         /* stop still interrupts it */
    assert_true(clock_mono_ms() - t0 < 1000);
    free(inst);
}

/* A poison record goes to the dead letters; the records after it are
 * delivered. The command's reader prints it as a JSON line, and after a
 * requeue the next worker delivers it. */
static void
output_poison_record_to_dead_letters_then_requeued(void **state)
{
    outpost_instance_t *inst = make_inst(10, 60000, 1000, 60000);
    struct output_worker *w;
    struct output_stats st;
    struct dl_seen seen = { .n = 0 };
    char *path, *text = NULL, *line;
    size_t len = 0;
    FILE *mem;

    (void) state;
    inst->state_root = dir;
    path = dl_path_of(inst);
    be.poison = 13;
    w = output_start(inst, dir);
    push_range(w, 0, 20);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), -1);
    pthread_mutex_lock(&be.mu);
    assert_int_equal(be.ndelivered, 19);
    for (size_t i = 0; i < be.ndelivered; i++)
        assert_int_equal(be.delivered[i], (int64_t) (i < 13 ? i : i + 1));
    pthread_mutex_unlock(&be.mu);
    output_get_stats(w, &st);
    assert_int_equal(st.delivered, 19);
    assert_int_equal(st.dead_lettered, 1);
    assert_int_equal(st.queued, 0);
    assert_accounted(w);
    output_stop(w);

    assert_int_equal(deadletter_walk(path, collect_dl, &seen, NULL), 1);
    assert_int_equal(seen.seq[0], 13);
    assert_string_equal(seen.why[0], "poison record");
    mem = open_memstream(&text, &len);
    assert_int_equal(deadletter_print(path, mem), 1);
    fclose(mem);
    line = strstr(text, "\"reason\":\"poison record\"");
    assert_non_null(line);
    assert_non_null(strstr(text, "\"record\":{\"type\":\"measurement\""));
    assert_non_null(strstr(text, "\"seq\":13"));
    assert_int_equal(strchr(text, '\n') - text + 1, (long) len);
    free(text);

    /* --requeue, then the next start delivers it. */
    assert_int_equal(deadletter_requeue(path), 1);
    assert_int_not_equal(access(path, F_OK), 0);
    be.poison = INT64_MIN;
    w = output_start(inst, dir);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), 0);
    output_get_stats(w, &st);
    assert_int_equal(st.requeued, 1);
    assert_int_equal(st.delivered, 1);
    assert_accounted(w);
    pthread_mutex_lock(&be.mu);
    assert_int_equal(be.ndelivered, 20);
    assert_int_equal(be.delivered[19], 13);
    pthread_mutex_unlock(&be.mu);
    output_stop(w);
    /* Requeued once: a later start does not deliver it again. */
    w = output_start(inst, dir);
    assert_int_equal(output_drain(w, clock_mono_ms() + 1000), 0);
    assert_int_equal(backend_read(&be.ndelivered), 20);
    output_stop(w);
    inst->state_root = NULL;
    free(path);
    free(inst);
}

/* A write that outlives timeout counts as a retry even though it said
 * OK; the records are written again. */
static void
output_slow_write_is_a_retry(void **state)
{
    outpost_instance_t *inst = make_inst(10, 5, 1000, 60000);
    struct output_worker *w;
    struct output_stats st;

    (void) state;
    inst->common.timeout_ms = 50;
    be.sleep_ms = 150;
    w = output_start(inst, NULL);
    push_range(w, 0, 5);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), 0);
    output_get_stats(w, &st);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.retries, 1);
    assert_int_equal(backend_read(&be.calls), 2);
    output_stop(w);
    free(inst);
}

/* write blocks in outpost_http_perform against a server that accepts and
 * never answers: the request ends within the output's timeout, the write
 * is retried, and the thread is never stuck. With the agent's shared
 * client on its event loop (with_loop), and without one (plain curl). */
static void
hung_backend_case(int with_loop)
{
    outpost_instance_t *inst = make_inst(10, 5, 1000, 60000);
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof(a);
    struct output_worker *w;
    struct output_stats st;
    struct loop *l = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int64_t end;

    if (with_loop) {
        l = loop_new();
        assert_non_null(l);
        assert_int_equal(loop_start(l), 0);
        assert_int_equal(http_client_start(l), 0);
    }
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &alen), 0);
    inst->common.timeout_ms = 300;
    inst->common.retry_initial_ms = 1;
    be.hang_port = ntohs(a.sin_port);
    w = output_start(inst, NULL);
    push_range(w, 0, 3);
    end = clock_mono_ms() + 5000;
    while (backend_read(&be.calls) < 2 && clock_mono_ms() < end)
        usleep(5000);
    assert_true(backend_read(&be.calls) >= 2);      /* retried */
    pthread_mutex_lock(&be.mu);
    assert_int_equal(be.http_result, CURLE_OPERATION_TIMEDOUT);
    assert_true(be.http_ms >= 250 && be.http_ms < 1000);
    be.hang_port = 0;
    pthread_mutex_unlock(&be.mu);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), 0);
    output_get_stats(w, &st);
    assert_true(st.retries >= 1);
    assert_int_equal(st.delivered, 3);
    output_stop(w);
    if (with_loop) {
        http_client_stop();
        loop_stop(l);
        loop_free(l);
    }
    close(fd);
    free(inst);
}

static void
output_hung_backend_hits_timeout(void **state)
{
    (void) state;
    hung_backend_case(0);
}

static void
output_hung_backend_hits_timeout_on_the_loop(void **state)
{
    (void) state;
    hung_backend_case(1);
}

/* output_tick runs every tick_interval, on the output's own thread, while
 * idle and between writes. */
static void
output_tick_runs_on_output_thread(void **state)
{
    outpost_instance_t *inst = make_inst(10, 5, 1000, 60000);
    struct output_worker *w;
    int64_t end;

    (void) state;
    inst->common.tick_interval_ms = 20;
    w = output_start(inst, NULL);
    end = clock_mono_ms() + 5000;
    for (int n = 0; n < 3 && clock_mono_ms() < end; usleep(2000)) {
        pthread_mutex_lock(&be.mu);
        n = be.ticks;
        pthread_mutex_unlock(&be.mu);
    }
    output_stop(w);
    pthread_mutex_lock(&be.mu);
    assert_true(be.ticks >= 3);
    assert_int_equal(be.tick_on_out_thread, be.ticks);
    pthread_mutex_unlock(&be.mu);
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

/* A plugin's own defaults apply; the operator's value wins; --describe
 * shows them; a bad default keeps the module out. */
static void
output_plugin_defaults_and_override(void **state)
{
    const char *text =
        "notifier \"quiet\" { }\n"
        "notifier \"busy\" { batch_size = 50 timeout = \"7s\" }\n"
        "script \"plain\" { }\n";
    static const outpost_default_t bad_name[] = {
        { "match", "{\"kind=event\"}" }, OUTPOST_DEFAULT_END
    };
    static const outpost_default_t bad_value[] = {
        { "batch_size", "0" }, OUTPOST_DEFAULT_END
    };
    outpost_plugin_t bad = notifier_plugin;
    struct registry *reg = registry_new();
    struct diag d = { 0 };
    struct config *c;
    char path[PATH_MAX], *desc = NULL, err[512];
    size_t len;
    FILE *mem;
    int fd;

    (void) state;
    assert_int_equal(registry_add(reg, &notifier_plugin, "test", &d), 0);
    assert_int_equal(registry_add(reg, &script_plugin, "test", &d), 0);
    assert_int_equal(tmp_template(path, sizeof(path), "defaults"), 0);
    fd = mkstemp(path);
    assert_true(write(fd, text, strlen(text)) > 0);
    close(fd);
    c = config_load(path, reg, NULL, &d);
    unlink(path);
    diag_print(&d, stderr);
    assert_non_null(c);
    assert_int_equal(c->sections[0].common.batch_size, 1);
    assert_int_equal(c->sections[0].common.timeout_ms, 2000);
    assert_int_equal(c->sections[1].common.batch_size, 50);
    assert_int_equal(c->sections[1].common.timeout_ms, 7000);
    assert_int_equal(c->sections[2].common.batch_size, 500);
    assert_int_equal(c->sections[2].common.timeout_ms, 0);  /* global */
    config_free(c);

    mem = open_memstream(&desc, &len);
    config_describe(&notifier_plugin, mem);
    fclose(mem);
    assert_non_null(strstr(desc, "batch_size         integer, default 1,"));
    free(desc);

    bad.output_defaults = bad_name;
    assert_int_equal(registry_check_abi(&bad, "test", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'match'"));
    bad.output_defaults = bad_value;
    assert_int_equal(registry_check_abi(&bad, "test", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "out of range"));
    registry_free(reg);
    diag_free(&d);
}

/* A notifier gets the events routed to it, never measurements. */
static void
output_notifier_sees_no_measurements(void **state)
{
    outpost_instance_t *inst = make_inst(10, 5, 1000, 60000);
    outpost_instance_t *outs[1];
    struct output_worker *workers[1];
    struct pipeline *p;
    outpost_record_t *in[3];

    (void) state;
    inst->plugin = &notifier_plugin;
    outs[0] = inst;
    workers[0] = output_start(inst, NULL);
    p = pipeline_new(NULL, 0, outs, workers, 1);
    in[0] = outpost_measurement_new("probe", tags, 0);
    outpost_record_add_int(in[0], "seq", 1);
    in[1] = outpost_event_new(OUTPOST_EV_ALERT, OUTPOST_SEV_CRITICAL, NULL,
                              "down", "k");
    outpost_record_add_int(in[1], "seq", 2);
    in[2] = outpost_event_new(OUTPOST_EV_ALERT, OUTPOST_SEV_CRITICAL, NULL,
                              "for someone else", "k2");
    outpost_record_set_tag(in[2], "notify", "pager");
    outpost_record_add_int(in[2], "seq", 3);
    pipeline_submit(p, in, 3);
    assert_int_equal(output_drain(workers[0], clock_mono_ms() + 5000), 0);
    assert_delivered_range(2, 3);
    output_stop(workers[0]);
    pipeline_free(p);
    free(inst);
}

/* The real jsonl module, its file capped with RLIMIT_FSIZE so that a
 * write stops in the middle of a batch (and of a line): the lines that
 * made it are not written again, the torn one stands alone, and every
 * record is in the file exactly once as a whole line. */
static void
jsonl_partial_write_resends_nothing_written(void **state)
{
    struct registry *reg = registry_new();
    struct diag d = { 0 };
    struct config *c;
    outpost_instance_t *inst;
    struct output_worker *w;
    struct output_stats st;
    struct rlimit old, cap;
    char conf[PATH_MAX], out[PATH_MAX], text[PATH_MAX + 256], line[4096];
    char pad[301];
    int count[20] = { 0 }, torn = 0, fd;
    int64_t end;
    FILE *fp;

    (void) state;
    assert_int_equal(registry_load_file(reg, BUILD_PLUGIN_DIR "/jsonl", &d),
                     0);
    snprintf(out, sizeof(out), "%s/out.jsonl", dir);
    snprintf(text, sizeof(text), "jsonl \"j\" { path = \"%s\" "
             "batch_size = 20 flush_interval = \"5ms\" "
             "retry_initial = \"1ms\" retry_max = \"5ms\" }\n", out);
    assert_int_equal(tmp_template(conf, sizeof(conf), "jsonl"), 0);
    fd = mkstemp(conf);
    assert_true(write(fd, text, strlen(text)) > 0);
    close(fd);
    c = config_load(conf, reg, NULL, &d);
    unlink(conf);
    diag_print(&d, stderr);
    assert_non_null(c);
    inst = instance_new(&c->sections[0], c);
    assert_int_equal(instance_init(inst), 0);

    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    cap = old;
    cap.rlim_cur = 2500;                    /* about 5 of 20 lines */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &cap), 0);
    w = output_start(inst, NULL);
    {
        outpost_record_t *recs[20];

        for (int i = 0; i < 20; i++) {
            recs[i] = outpost_measurement_new("probe", tags, 0);
            outpost_record_add_int(recs[i], "seq", i);
            outpost_record_add_str(recs[i], "pad", pad);
        }
        output_push(w, recs, 20);
        for (int i = 0; i < 20; i++)
            outpost_record_unref(recs[i]);
    }
    end = clock_mono_ms() + 5000;
    do {
        usleep(1000);
        output_get_stats(w, &st);
    } while (st.retries < 2 && clock_mono_ms() < end);
    setrlimit(RLIMIT_FSIZE, &old);
    assert_true(st.retries >= 2);
    assert_int_equal(output_drain(w, clock_mono_ms() + 5000), 0);
    output_get_stats(w, &st);
    assert_int_equal(st.delivered, 20);
    output_stop(w);
    instance_shutdown(inst);
    instance_free(inst);
    config_free(c);
    registry_free(reg);
    diag_free(&d);

    fp = fopen(out, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        json_t *j = json_loads(line, 0, NULL);
        json_int_t seq;

        if (j == NULL) {
            torn++;
            continue;
        }
        seq = json_integer_value(json_object_get(json_object_get(j,
                                                 "fields"), "seq"));
        assert_true(seq >= 0 && seq < 20);
        count[seq]++;
        json_decref(j);
    }
    fclose(fp);
    assert_int_equal(torn, 1);
    for (int i = 0; i < 20; i++)
        assert_int_equal(count[i], 1);
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
        cmocka_unit_test_setup_teardown(
            output_fail_without_state_dir_is_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(output_fail_goes_to_dead_letters,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(output_dead_letters_are_bounded,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            output_partial_acceptance_resends_nothing_accepted, setup,
            teardown),
        cmocka_unit_test_setup_teardown(output_retry_after_is_honoured,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            output_poison_record_to_dead_letters_then_requeued, setup,
            teardown),
        cmocka_unit_test_setup_teardown(output_slow_write_is_a_retry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(output_hung_backend_hits_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            output_hung_backend_hits_timeout_on_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(output_tick_runs_on_output_thread,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            output_plugin_defaults_and_override, setup, teardown),
        cmocka_unit_test_setup_teardown(
            output_notifier_sees_no_measurements, setup, teardown),
        cmocka_unit_test_setup_teardown(
            jsonl_partial_write_resends_nothing_written, setup, teardown),
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
