/*
 * test_redis.c - the `redis` output's stream ids against the suite's real
 * Redis, through the core's output worker: a late record (stamped before
 * the stream's last entry) gets an id after it, and a resend of that
 * record - in the same process, or replayed by a new process that never
 * saw the first write (an agent restarted with the batch still spilled)
 * - is recognised and not written twice. Works in a database of its own
 * (15), which it empties.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "config.h"
#include "instance.h"
#include "output.h"
#include "registry.h"
#include "servers.h"
#include "tmpdir.h"

#define DB 15

struct agent {
    char              state[256];
    struct registry  *reg;
    struct config    *cfg;
    outpost_instance_t *inst;
    struct output_worker *w;
};

/* A `redis "live"` output writing to database DB, driven by a worker:
 * what one run of the agent is. */
static struct agent *
agent_start(void)
{
    struct agent *a = calloc(1, sizeof(*a));
    char conf[320], text[1024];
    struct diag d = { 0 };
    int fd;

    assert_non_null(a);
    assert_int_equal(tmp_template(a->state, sizeof(a->state), "rdout"), 0);
    assert_non_null(mkdtemp(a->state));
    a->reg = registry_new();
    assert_int_equal(registry_load_file(a->reg, BUILD_PLUGIN_DIR "/redis",
                                        &d), 0);
    snprintf(text, sizeof(text), "state_dir = \"%s\"\n"
             "redis \"live\" { url = \"redis://127.0.0.1:%s/%d\" "
             "flush_interval = \"5ms\" retry_initial = \"5ms\" "
             "retry_max = \"20ms\" }\n", a->state,
             test_server("REDIS_PORT"), DB);
    snprintf(conf, sizeof(conf), "%s/outpost.conf", a->state);
    fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_true(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
    close(fd);
    a->cfg = config_load(conf, a->reg, NULL, &d);
    diag_print(&d, stderr);
    diag_free(&d);
    assert_non_null(a->cfg);
    a->inst = instance_new(&a->cfg->sections[0], a->cfg);
    assert_int_equal(instance_init(a->inst), 0);
    assert_non_null(a->w = output_start(a->inst, NULL));
    return a;
}

static void
agent_stop(struct agent *a)
{
    char cmd[300];

    output_stop(a->w);
    instance_shutdown(a->inst);
    instance_free(a->inst);
    config_free(a->cfg);
    registry_free(a->reg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->state);
    assert_int_equal(system(cmd), 0);
    free(a);
}

/* Pushes recs and waits until every one is delivered. */
static void
deliver(struct agent *a, outpost_record_t **recs, size_t n)
{
    output_push(a->w, recs, n);
    assert_int_equal(output_drain(a->w, clock_mono_ms() + 10000), 0);
}

static redisContext *
redis_db(void)
{
    redisContext *c = redisConnect("127.0.0.1",
                                   atoi(test_server("REDIS_PORT")));
    redisReply *r;

    assert_non_null(c);
    assert_int_equal(c->err, 0);
    r = redisCommand(c, "SELECT %d", DB);
    assert_non_null(r);
    freeReplyObject(r);
    r = redisCommand(c, "FLUSHDB");
    assert_non_null(r);
    freeReplyObject(r);
    return c;
}

/* How many entries of the stream carry ts_ns. */
static size_t
entries_at(redisContext *c, int64_t ts_ns)
{
    redisReply *r = redisCommand(c, "XRANGE outpost:events - +");
    char want[32];
    size_t n = 0;

    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    snprintf(want, sizeof(want), "%lld", (long long) ts_ns);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *f = r->element[i]->element[1];

        for (size_t k = 0; k + 1 < f->elements; k += 2)
            if (strcmp(f->element[k]->str, "ts_ns") == 0
                && strcmp(f->element[k + 1]->str, want) == 0)
                n++;
    }
    freeReplyObject(r);
    return n;
}

static size_t
stream_len(redisContext *c)
{
    redisReply *r = redisCommand(c, "XLEN outpost:events");
    size_t n;

    assert_non_null(r);
    n = (size_t) r->integer;
    freeReplyObject(r);
    return n;
}

/* 2026-12-07T12:00:00Z plus ms milliseconds, in ns. */
#define T0_NS 1796644800000000000LL

static outpost_record_t *
check(const char *integration, int64_t ms)
{
    outpost_tag_t t[] = { { "integration", integration } };
    outpost_tagset_t *ts = outpost_tagset_new(t, 1);
    outpost_record_t *r = outpost_measurement_new("http", ts,
                                                  T0_NS + ms * 1000000LL);

    outpost_tagset_unref(ts);
    outpost_record_add_bool(r, OUTPOST_F_SUCCESS, 1);
    outpost_record_add_float(r, OUTPOST_F_RESPONSE_MS, 42);
    return r;
}

/* --- tests ------------------------------------------------------------- */

/* A late record, then the same record again from the same process: it
 * is in the stream once, under an id after the entry written before it. */
static void
late_record_resent_in_process(void **state)
{
    redisContext *c = redis_db();
    struct agent *a = agent_start();
    outpost_record_t *first = check("stripe", 10000);
    outpost_record_t *late = check("paypal", 5000);

    (void) state;
    deliver(a, &first, 1);
    deliver(a, &late, 1);
    assert_int_equal(entries_at(c, late->ts_ns), 1);
    deliver(a, &late, 1);
    assert_int_equal(entries_at(c, late->ts_ns), 1);
    assert_int_equal(stream_len(c), 2);
    agent_stop(a);
    outpost_record_unref(first);
    outpost_record_unref(late);
    redisFree(c);
}

/* The same, but the resend comes from a new run of the agent (its memory
 * of late ids gone): what a batch replayed from the spill after a crash
 * is, when the crash came after Redis took it and before the core
 * learned so. Still once. */
static void
late_record_resent_after_restart(void **state)
{
    redisContext *c = redis_db();
    struct agent *a = agent_start();
    outpost_record_t *first = check("stripe", 10000);
    outpost_record_t *late = check("paypal", 5000);
    outpost_record_t *next = check("stripe", 20000);

    (void) state;
    deliver(a, &first, 1);
    deliver(a, &late, 1);
    agent_stop(a);
    assert_int_equal(entries_at(c, late->ts_ns), 1);

    a = agent_start();
    deliver(a, &late, 1);
    assert_int_equal(entries_at(c, late->ts_ns), 1);
    /* Records after it still go in, under their own ids. */
    deliver(a, &next, 1);
    assert_int_equal(stream_len(c), 3);
    /* And a record written after it as well as a late one resent
     * together: each once. */
    outpost_record_t *both[] = { next, late };
    deliver(a, both, 2);
    assert_int_equal(stream_len(c), 3);
    agent_stop(a);
    outpost_record_unref(first);
    outpost_record_unref(late);
    outpost_record_unref(next);
    redisFree(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(late_record_resent_in_process),
        cmocka_unit_test(late_record_resent_after_restart),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
