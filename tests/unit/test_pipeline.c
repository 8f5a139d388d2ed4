/*
 * The pipeline: filters run in config order; a filter may drop a record
 * or emit events, which enter the chain after it and reach outputs after
 * the record that caused them; outputs see only what their match allows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
#include <pthread.h>
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
#include "tmpdir.h"

struct sink {
    pthread_mutex_t   lock;
    outpost_record_t *recs[256];
    size_t            n;
};

static struct sink sinks[2] = {
    { PTHREAD_MUTEX_INITIALIZER, { 0 }, 0 },
    { PTHREAD_MUTEX_INITIALIZER, { 0 }, 0 },
};
static char trail[256];          /* which filters saw what, in order */

static int
tagger_process(outpost_instance_t *inst, outpost_record_t *rec,
               outpost_emitter_t *out)
{
    (void) out;
    strcat(trail, outpost_instance_name(inst));
    outpost_record_add_int(rec, outpost_instance_name(inst), 1);
    return OUTPOST_PASS;
}

/* Drops records of integration "junk"; emits an event for "bad". */
static int
judge_process(outpost_instance_t *inst, outpost_record_t *rec,
              outpost_emitter_t *out)
{
    const char *integ = outpost_record_tag(rec, "integration");

    strcat(trail, outpost_instance_name(inst));
    if (rec->kind == OUTPOST_EVENT)
        return OUTPOST_PASS;
    if (strcmp(integ, "junk") == 0)
        return OUTPOST_DROP;
    if (strcmp(integ, "bad") == 0)
        outpost_emit(out, outpost_event_new(OUTPOST_EV_STATE_CHANGE,
                                            OUTPOST_SEV_ERROR, rec,
                                            "bad is down", "bad/down"));
    return OUTPOST_PASS;
}

static outpost_result_t
sink_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    struct sink *s = &sinks[strcmp(outpost_instance_name(inst), "all")
                            == 0 ? 0 : 1];

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < b->n && s->n < 256; i++)
        s->recs[s->n++] = outpost_record_ref(b->records[i]);
    pthread_mutex_unlock(&s->lock);
    return OUTPOST_OK;
}

static const outpost_option_t none[] = { OUTPOST_OPTION_END };
static const outpost_plugin_t tagger = {
    OUTPOST_PLUGIN_HEADER, .name = "tagger", .kind = OUTPOST_FILTER,
    .options = none, .process = tagger_process,
};
static const outpost_plugin_t judge = {
    OUTPOST_PLUGIN_HEADER, .name = "judge", .kind = OUTPOST_FILTER,
    .options = none, .process = judge_process,
};
static const outpost_plugin_t sinkp = {
    OUTPOST_PLUGIN_HEADER, .name = "sink", .kind = OUTPOST_OUTPUT,
    .flags = OUTPOST_PLUGIN_NOTIFIER, .options = none, .write = sink_write,
};
/* The same sink, but an output that records (not a notifier). */
static const outpost_plugin_t recorderp = {
    OUTPOST_PLUGIN_HEADER, .name = "recorder", .kind = OUTPOST_OUTPUT,
    .options = none, .write = sink_write,
};

static outpost_record_t *
measurement(const char *integration)
{
    outpost_tag_t t = { "integration", integration };
    outpost_tagset_t *ts = outpost_tagset_new(&t, 1);
    outpost_record_t *r = outpost_measurement_new("http", ts, 0);

    outpost_tagset_unref(ts);
    return r;
}

static void
test_chain_order_drop_emit_and_match(void **state)
{
    const char *text =
        "tagger \"A\" { }\n"
        "judge  \"J\" { }\n"
        "tagger \"B\" { match = {\"integration=b*\"} }\n"
        "recorder \"all\" { flush_interval = \"5ms\" }\n"
        "sink \"events\" { flush_interval = \"5ms\" match = {\"kind=event\"} }\n";
    char path[PATH_MAX];
    struct registry *reg = registry_new();
    struct diag d = { 0 };
    struct config *c;
    outpost_instance_t *inst[5], *filters[3], *outputs[2];
    struct output_worker *workers[2];
    struct pipeline *p;
    outpost_record_t *in[3];
    int fd;

    (void) state;
    registry_add(reg, &tagger, "test", &d);
    registry_add(reg, &judge, "test", &d);
    registry_add(reg, &sinkp, "test", &d);
    registry_add(reg, &recorderp, "test", &d);
    assert_int_equal(tmp_template(path, sizeof(path), "pipe"), 0);
    fd = mkstemp(path);
    assert_true(write(fd, text, strlen(text)) > 0);
    close(fd);
    c = config_load(path, reg, NULL, &d);
    unlink(path);
    diag_print(&d, stderr);
    assert_non_null(c);
    for (int i = 0; i < 5; i++) {
        inst[i] = instance_new(&c->sections[i], c);
        assert_int_equal(instance_init(inst[i]), 0);
    }
    filters[0] = inst[0]; filters[1] = inst[1]; filters[2] = inst[2];
    outputs[0] = inst[3]; outputs[1] = inst[4];
    workers[0] = output_start(outputs[0], NULL);
    workers[1] = output_start(outputs[1], NULL);
    p = pipeline_new(filters, 3, outputs, workers, 2);

    in[0] = measurement("good");
    in[1] = measurement("junk");
    in[2] = measurement("bad");
    pipeline_submit(p, in, 3);
    assert_int_equal(output_drain(workers[0], clock_mono_ms() + 5000), 0);
    assert_int_equal(output_drain(workers[1], clock_mono_ms() + 5000), 0);

    /* good: A J B(skipped: no match); junk: A J (dropped); bad: A J, then
     * its event enters after J: B (no match: tag "bad" matches b*!). */
    assert_string_equal(trail, "AJAJAJBB");
    assert_int_equal(sinks[0].n, 3);
    assert_string_equal(outpost_record_tag(sinks[0].recs[0], "integration"),
                        "good");
    assert_string_equal(outpost_record_tag(sinks[0].recs[1], "integration"),
                        "bad");
    assert_int_equal(sinks[0].recs[2]->kind, OUTPOST_EVENT);
    assert_string_equal(sinks[0].recs[2]->event->dedup_key, "bad/down");
    assert_non_null(outpost_record_field(sinks[0].recs[0], "A"));
    assert_null(outpost_record_field(sinks[0].recs[0], "B"));
    assert_non_null(outpost_record_field(sinks[0].recs[1], "B"));
    /* The event outpout sees only the event. */
    assert_int_equal(sinks[1].n, 1);
    assert_int_equal(sinks[1].recs[0]->kind, OUTPOST_EVENT);

    /* An event naming a notifier ("plugin:instance") reaches only that
     * notifier, and every output that records. */
    {
        outpost_record_t *ev = outpost_event_new(OUTPOST_EV_ALERT,
                                                 OUTPOST_SEV_CRITICAL, NULL,
                                                 "page", "k");
        outpost_record_set_tag(ev, "integration", "x");
        outpost_record_set_tag(ev, "notify", "other, sink:events");
        pipeline_submit(p, &ev, 1);
        assert_int_equal(output_drain(workers[0], clock_mono_ms() + 5000), 0);
        assert_int_equal(output_drain(workers[1], clock_mono_ms() + 5000), 0);
        assert_int_equal(sinks[0].n, 4);
        assert_int_equal(sinks[1].n, 2);
        assert_string_equal(sinks[1].recs[1]->event->message, "page");
    }

    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sinks[s].n; i++)
            outpost_record_unref(sinks[s].recs[i]);
    output_stop(workers[0]);
    output_stop(workers[1]);
    pipeline_free(p);
    for (int i = 0; i < 5; i++) {
        instance_shutdown(inst[i]);
        instance_free(inst[i]);
    }
    config_free(c);
    registry_free(reg);
    diag_free(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_order_drop_emit_and_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
