/*
 * harness.c - see harness.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "clock.h"
#include "config.h"
#include "instance.h"
#include "output.h"
#include "pipeline.h"
#include "registry.h"
#include "harness.h"
#include "tmpdir.h"

#define MAX_CAPTURE 8192

struct capture {
    pthread_mutex_t   lock;
    outpost_record_t *recs[MAX_CAPTURE];
    size_t            n;
};

struct harness {
    struct registry       *reg;
    struct config         *cfg;
    char                   state[128];
    outpost_instance_t   **insts;
    size_t                 ninsts;
    outpost_instance_t    *filters[32], *outputs[8];
    struct output_worker  *workers[8];
    size_t                 nfilters, noutputs;
    struct pipeline       *pipeline;
};

static outpost_result_t
capture_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    struct capture *c = outpost_instance_data(inst);

    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < b->n && c->n < MAX_CAPTURE; i++)
        c->recs[c->n++] = outpost_record_ref(b->records[i]);
    pthread_mutex_unlock(&c->lock);
    return OUTPOST_OK;
}

static int
capture_init(outpost_instance_t *inst)
{
    struct capture *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return -1;
    pthread_mutex_init(&c->lock, NULL);
    outpost_instance_set_data(inst, c);
    return 0;
}

static void
capture_clear(struct capture *c)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n; i++)
        outpost_record_unref(c->recs[i]);
    c->n = 0;
    pthread_mutex_unlock(&c->lock);
}

static void
capture_shutdown(outpost_instance_t *inst)
{
    struct capture *c = outpost_instance_data(inst);

    capture_clear(c);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static const outpost_option_t none[] = { OUTPOST_OPTION_END };
/* `capture` sections, "all" among them, are notifiers: they get only the
 * events routed to them. "records" is a `record` section, an output that
 * records, so it gets every record: a NULL name means it. */
static const outpost_plugin_t capture_plugin = {
    OUTPOST_PLUGIN_HEADER, .name = "capture", .kind = OUTPOST_OUTPUT,
    .flags = OUTPOST_PLUGIN_NOTIFIER, .description = "test capture",
    .options = none, .init = capture_init, .write = capture_write,
    .shutdown = capture_shutdown,
};
static const outpost_plugin_t record_plugin = {
    OUTPOST_PLUGIN_HEADER, .name = "record", .kind = OUTPOST_OUTPUT,
    .description = "test capture of every record",
    .options = none, .init = capture_init, .write = capture_write,
    .shutdown = capture_shutdown,
};

static int
is_capture(const outpost_instance_t *out)
{
    return out->plugin == &capture_plugin || out->plugin == &record_plugin;
}

static void
load_config(struct harness *h, const char *config)
{
    char path[160];
    struct diag d = { 0 };
    FILE *f;

    snprintf(path, sizeof(path), "%s/harness.conf", h->state);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "state_dir = \"%s\"\ninterval = \"10s\"\n"
            "capture \"all\" { flush_interval = \"1ms\" }\n"
            "record \"records\" { flush_interval = \"1ms\" }\n%s\n", h->state,
            config);
    fclose(f);
    h->reg = registry_new();
    registry_add(h->reg, &capture_plugin, "harness", &d);
    registry_add(h->reg, &record_plugin, "harness", &d);
    registry_load_dir(h->reg, BUILD_PLUGIN_DIR, &d);
    h->cfg = config_load(path, h->reg, NULL, &d);
    if (h->cfg == NULL) {
        diag_print(&d, stderr);
        fail_msg("harness: config refused");
    }
    diag_free(&d);
}

struct harness *
harness_new(const char *config, const char *state_dir)
{
    struct harness *h = calloc(1, sizeof(*h));

    assert_non_null(h);
    if (state_dir)
        snprintf(h->state, sizeof(h->state), "%s", state_dir);
    else {
        assert_int_equal(tmp_template(h->state, sizeof(h->state), "harness"),
                         0);
        assert_non_null(mkdtemp(h->state));
    }
    load_config(h, config);
    h->insts = calloc(h->cfg->nsections, sizeof(*h->insts));
    for (size_t i = 0; i < h->cfg->nsections; i++) {
        outpost_instance_t *inst = instance_new(&h->cfg->sections[i],
                                                h->cfg);
        assert_non_null(inst);
        assert_int_equal(instance_init(inst), 0);
        h->insts[h->ninsts++] = inst;
        if (inst->plugin->kind == OUTPOST_FILTER)
            h->filters[h->nfilters++] = inst;
        else if (inst->plugin->kind == OUTPOST_OUTPUT) {
            h->workers[h->noutputs] = output_start(inst, NULL);
            h->outputs[h->noutputs++] = inst;
        }
    }
    h->pipeline = pipeline_new(h->filters, h->nfilters, h->outputs,
                               h->workers, h->noutputs);
    return h;
}

const char *
harness_state_dir(struct harness *h)
{
    return h->state;
}

void
harness_free(struct harness *h, int keep_state)
{
    for (size_t i = 0; i < h->noutputs; i++)
        output_stop(h->workers[i]);
    pipeline_free(h->pipeline);
    for (size_t i = 0; i < h->ninsts; i++) {
        instance_shutdown(h->insts[i]);
        instance_free(h->insts[i]);
    }
    free(h->insts);
    config_free(h->cfg);
    registry_free(h->reg);
    if (!keep_state) {
        char cmd[200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->state);
        if (system(cmd) != 0)
            fprintf(stderr, "harness: cannot remove %s\n", h->state);
    }
    free(h);
}

outpost_record_t *
harness_measurement(const char *integration, const char *extra_tags)
{
    outpost_tag_t tags[16];
    char buf[512], *save = NULL, *kv;
    size_t n = 0;
    outpost_tagset_t *ts;
    outpost_record_t *rec;

    tags[n++] = (outpost_tag_t) { "integration", integration };
    tags[n++] = (outpost_tag_t) { "provider", integration };
    tags[n++] = (outpost_tag_t) { "category", "http" };
    snprintf(buf, sizeof(buf), "%s", extra_tags ? extra_tags : "");
    for (kv = strtok_r(buf, ",", &save); kv && n < 16;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        tags[n++] = (outpost_tag_t) { kv, eq + 1 };
    }
    ts = outpost_tagset_new(tags, n);
    rec = outpost_measurement_new("http", ts, outpost_time_now());
    outpost_tagset_unref(ts);
    return rec;
}

static void
wait_outputs(struct harness *h)
{
    for (size_t i = 0; i < h->noutputs; i++)
        assert_int_equal(output_drain(h->workers[i],
                                      clock_mono_ms() + 10000), 0);
}

void
harness_submit(struct harness *h, outpost_record_t *rec)
{
    pipeline_submit(h->pipeline, &rec, 1);
    wait_outputs(h);
}

void
harness_check(struct harness *h, const char *integration,
              const char *extra_tags, int success, double response_ms)
{
    outpost_record_t *rec = harness_measurement(integration, extra_tags);

    outpost_record_add_bool(rec, "success", success);
    outpost_record_add_float(rec, "response_ms", response_ms);
    if (!success)
        outpost_record_add_str(rec, "error", "status: got 503, expected 2xx");
    harness_submit(h, rec);
}

void
harness_tick(struct harness *h)
{
    pipeline_tick(h->pipeline);
    wait_outputs(h);
}

int
harness_control(struct harness *h, const char *instance, const char *cmd,
                const char *args, char **reply)
{
    int rc = pipeline_control(h->pipeline, instance, cmd, args, reply);

    wait_outputs(h);
    return rc;
}

static struct capture *
capture_named(struct harness *h, const char *name)
{
    if (name == NULL)
        name = "records";
    for (size_t i = 0; i < h->noutputs; i++)
        if (is_capture(h->outputs[i])
            && strcmp(h->outputs[i]->name, name) == 0)
            return outpost_instance_data(h->outputs[i]);
    fail_msg("harness: no capture output named %s", name);
    return NULL;
}

size_t
harness_count(struct harness *h, const char *name)
{
    return capture_named(h, name)->n;
}

outpost_record_t *
harness_at(struct harness *h, const char *name, size_t i)
{
    struct capture *c = capture_named(h, name);

    return i < c->n ? c->recs[i] : NULL;
}

size_t
harness_events(struct harness *h, outpost_event_kind_t kind,
               outpost_record_t **out, size_t max)
{
    struct capture *c = capture_named(h, NULL);
    size_t n = 0;

    for (size_t i = 0; i < c->n; i++) {
        outpost_record_t *r = c->recs[i];
        if (r->kind != OUTPOST_EVENT || (kind && r->event_kind != kind))
            continue;
        if (n < max)
            out[n] = r;
        n++;
    }
    return n;
}

void
harness_clear(struct harness *h)
{
    for (size_t i = 0; i < h->noutputs; i++)
        if (is_capture(h->outputs[i]))
            capture_clear(outpost_instance_data(h->outputs[i]));
}

outpost_record_t *
harness_last(struct harness *h, const char *integration)
{
    for (size_t i = harness_count(h, NULL); i-- > 0;) {
        outpost_record_t *r = harness_at(h, NULL, i);
        const char *name = outpost_record_tag(r, "integration");

        if (r->kind == OUTPOST_MEASUREMENT && name
            && strcmp(name, integration) == 0)
            return r;
    }
    fail_msg("no measurement of %s", integration);
    return NULL;
}

double
harness_number(struct harness *h, const char *integration, const char *field)
{
    outpost_record_t *r = harness_last(h, integration);

    if (outpost_record_field(r, field) == NULL)
        fail_msg("%s has no field %s", integration, field);
    return outpost_record_number(r, field, NAN);
}

size_t
harness_count_files(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, part) != NULL)
            n++;
    closedir(d);
    return n;
}
