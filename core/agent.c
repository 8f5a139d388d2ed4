/*
 * agent.c - wires config, instances, loop, HTTP client, pipeline, output
 * workers and scheduler together, and takes them apart again.
 *
 * Start order: loop, HTTP client, outputs, filters, inputs; stop order is
 * the reverse, so that nothing an input emits on its way out is lost.
 */
#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <outpost/fields.h>
#include "agent.h"
#include "api.h"
#include "clock.h"
#include "config.h"
#include "http.h"
#include "instance.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "output.h"
#include "pipeline.h"
#include "scheduler.h"
#include "state.h"

#define TICK_MS 1000

struct runtime {
    struct loop           *loop;
    outpost_instance_t   **insts;      /* every instance, config order */
    size_t                 ninsts;
    outpost_instance_t   **filters, **outputs;
    size_t                 nfilters, noutputs;
    struct output_worker **workers;
    struct pipeline       *pipeline;
    struct scheduler      *sched;
    struct loop_timer      tick;
};

struct agent {
    char            *config_path;
    char            *default_plugin_dir;
    struct registry *reg;
    int              own_reg;
    int              collect_threads;
    struct config   *cfg;
    struct runtime  *rt;
    const struct agent_dry_run *dry;  /* NULL: a real run */
    char            *dry_state;       /* the dry run's throwaway state_dir */
    int              serve_api;
    struct state    *state;           /* lives as long as the agent */
    struct api      *api;             /* NULL: no server */
    /* The API's threads use rt (control, run now, health) while the main
     * thread may stop or replace it: readers hold rt_lock shared, the
     * main thread takes it exclusively to set or clear rt. */
    pthread_rwlock_t rt_lock;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

struct agent *
agent_new(const struct agent_opts *o, struct diag *d)
{
    struct agent *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    a->config_path = strdup(o->config_path);
    a->default_plugin_dir = o->default_plugin_dir
                            ? strdup(o->default_plugin_dir) : NULL;
    a->collect_threads = o->collect_threads > 0 ? o->collect_threads : 4;
    a->serve_api = o->serve_api;
    pthread_rwlock_init(&a->rt_lock, NULL);
    a->reg = o->registry;
    if (a->reg == NULL) {
        a->reg = registry_new();
        a->own_reg = 1;
    }
    a->state = state_new();
    if (a->config_path == NULL || a->reg == NULL || a->state == NULL)
        goto fail;
    a->cfg = config_load(a->config_path, a->reg, a->default_plugin_dir, d);
    if (a->cfg == NULL)
        goto fail;
    log_configure(a->cfg->log_level, a->cfg->log_format, 2);
    return a;
fail:
    agent_free(a);
    return NULL;
}

const struct config *
agent_config(const struct agent *a)
{
    return a->cfg;
}

int64_t
agent_timeout_ms(const struct agent *a)
{
    return a->cfg->timeout_ms > 0 ? a->cfg->timeout_ms : 10000;
}

/* --- building a runtime ------------------------------------------------- */

static int
add_inst(outpost_instance_t ***v, size_t *n, outpost_instance_t *inst)
{
    outpost_instance_t **nv = realloc(*v, (*n + 1) * sizeof(*nv));

    if (nv == NULL)
        return -1;
    nv[(*n)++] = inst;
    *v = nv;
    return 0;
}

static char *
spill_dir_for(const struct config *c, const outpost_instance_t *inst)
{
    char *dir;

    if (c->state_dir == NULL)
        return NULL;
    if (asprintf(&dir, "%s/queue/%s.%s", c->state_dir, inst->plugin->name,
                 inst->name) < 0)
        return NULL;
    if (instance_mkdir_p(dir) != 0) {
        outpost_log(inst, OUTPOST_LOG_WARN, "spill",
                    "cannot create %s (%s): this output keeps its queue in "
                    "memory only", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    return dir;
}

/* A dry run leaves out every output and the inputs its glob does not
 * match. */
static int
dry_skips(const struct agent_dry_run *dry, const struct section *s)
{
    if (dry == NULL)
        return 0;
    if (s->plugin->kind == OUTPOST_OUTPUT)
        return 1;
    return s->plugin->kind == OUTPOST_INPUT && dry->inputs
           && fnmatch(dry->inputs, s->instance, 0) != 0;
}

static int
build_instances(struct runtime *rt, struct config *c,
                const struct agent_dry_run *dry, const char *dry_state)
{
    for (size_t i = 0; i < c->nsections; i++) {
        outpost_instance_t *inst;

        if (dry_skips(dry, &c->sections[i]))
            continue;
        inst = instance_new(&c->sections[i], c);
        if (inst && dry_state) {
            free(inst->state_root);
            inst->state_root = strdup(dry_state);
        }
        if (inst == NULL || (dry_state && inst->state_root == NULL)
            || add_inst(&rt->insts, &rt->ninsts, inst) != 0) {
            instance_free(inst);
            log_core(OUTPOST_LOG_ERROR, "start", "out of memory");
            return -1;
        }
    }
    return 0;
}

/* The `fallback` links between notifier outputs (core/output.c,
 * "Fallback"); the config has checked the names. On/off: fb NULL unlinks,
 * before any worker stops. */
static void
link_fallbacks(struct runtime *rt, int on)
{
    for (size_t i = 0; i < rt->noutputs; i++) {
        const char *fb = rt->outputs[i]->common.fallback;
        struct output_worker *to = NULL;

        if (fb == NULL || *fb == '\0')
            continue;
        for (size_t j = 0; on && j < rt->noutputs && to == NULL; j++) {
            const outpost_instance_t *t = rt->outputs[j];
            size_t pl = strlen(t->plugin->name);

            if (strcmp(fb, t->name) == 0
                || (strncmp(fb, t->plugin->name, pl) == 0 && fb[pl] == ':'
                    && strcmp(fb + pl + 1, t->name) == 0))
                to = rt->workers[j];
        }
        output_set_fallback(rt->workers[i], to);
    }
}

static int
start_outputs(struct runtime *rt, const struct config *c)
{
    for (size_t i = 0; i < rt->ninsts; i++) {
        outpost_instance_t *inst = rt->insts[i];
        struct output_worker *w, **nw;
        char *spill;

        if (inst->plugin->kind != OUTPOST_OUTPUT || instance_init(inst) != 0)
            continue;
        spill = spill_dir_for(c, inst);
        w = output_start(inst, spill);
        free(spill);
        if (w == NULL) {
            instance_shutdown(inst);
            continue;
        }
        nw = realloc(rt->workers, (rt->noutputs + 1) * sizeof(*nw));
        if (nw == NULL || add_inst(&rt->outputs, &rt->noutputs, inst) != 0) {
            if (nw)
                rt->workers = nw;
            output_stop(w);
            instance_shutdown(inst);
            return -1;
        }
        rt->workers = nw;
        rt->workers[rt->noutputs - 1] = w;
    }
    link_fallbacks(rt, 1);
    return 0;
}

static void
on_tick(void *arg)
{
    struct runtime *rt = arg;

    pipeline_tick(rt->pipeline);
    loop_timer_arm(rt->loop, &rt->tick, clock_mono_ms() + TICK_MS);
}

static void
arm_tick(void *arg)
{
    struct runtime *rt = arg;

    loop_timer_arm(rt->loop, &rt->tick, clock_mono_ms() + TICK_MS);
}

static void
disarm_tick(void *arg)
{
    struct runtime *rt = arg;

    loop_timer_disarm(rt->loop, &rt->tick);
}

static void
seed_text(char *dst, size_t size, json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));

    snprintf(dst, size, "%s", v ? v : "");
}

/* The open alerts each alert filter restored from state_dir, into the
 * state store, so the API lists them before their next event. */
static void
seed_alerts(struct state *st, struct runtime *rt)
{
    for (size_t i = 0; i < rt->nfilters; i++) {
        outpost_instance_t *f = rt->filters[i];
        char name[256], *reply = NULL;
        json_t *r, *list, *o;
        size_t k;

        if (strcmp(f->plugin->name, "alert") != 0 || !f->live)
            continue;
        snprintf(name, sizeof(name), "alert:%s", f->name);
        if (pipeline_control(rt->pipeline, name, "status", "{}", &reply) != 0
            || (r = json_loads(reply ? reply : "", 0, NULL)) == NULL) {
            free(reply);
            continue;
        }
        list = json_object_get(r, "alerts");
        json_array_foreach(list, k, o) {
            struct state_alert s = { 0 };
            const char *prio = json_string_value(json_object_get(o,
                                                                 "severity"));
            int64_t since = json_integer_value(json_object_get(o, "since"));

            seed_text(s.id, sizeof(s.id), o, "dedup_key");
            seed_text(s.integration, sizeof(s.integration), o,
                      "integration");
            seed_text(s.condition, sizeof(s.condition), o, "condition");
            seed_text(s.priority, sizeof(s.priority), o, "severity");
            seed_text(s.acknowledged_by, sizeof(s.acknowledged_by), o,
                      "acknowledged_by");
            seed_text(s.message, sizeof(s.message), o, "message");
            snprintf(s.severity, sizeof(s.severity), "%s",
                     outpost_severity_name(outpost_priority_severity(
                         outpost_priority_parse(prio))));
            s.status = json_is_true(json_object_get(o, "acknowledged"))
                       ? STATE_ALERT_ACKNOWLEDGED : STATE_ALERT_ACTIVE;
            s.escalated = json_is_true(json_object_get(o, "escalated"));
            s.muted = json_is_string(json_object_get(o, "muted"));
            s.occurrences = (uint64_t) json_integer_value(
                json_object_get(o, "occurrences"));
            s.first_seen_ns = s.last_seen_ns = s.status_since_ns
                = since * 1000000000LL;
            if (s.id[0])
                state_seed_alert(st, &s);
        }
        json_decref(r);
        free(reply);
    }
}

static void
observe(const outpost_record_t *rec, void *arg)
{
    state_record(arg, rec);
    metrics_observe(rec);
}

static int
start_inputs_and_filters(struct runtime *rt, int threads, int once,
                         const struct agent_dry_run *dry, struct state *st)
{
    for (size_t i = 0; i < rt->ninsts; i++) {
        outpost_instance_t *inst = rt->insts[i];

        if (inst->plugin->kind == OUTPOST_FILTER && instance_init(inst) == 0
            && add_inst(&rt->filters, &rt->nfilters, inst) != 0)
            return -1;
    }
    rt->pipeline = pipeline_new(rt->filters, rt->nfilters, rt->outputs,
                                rt->workers, rt->noutputs);
    rt->sched = rt->pipeline ? scheduler_new(rt->loop, rt->pipeline, threads)
                             : NULL;
    if (rt->sched == NULL)
        return -1;
    if (dry)
        pipeline_set_tap(rt->pipeline, dry->tap, dry->arg);
    else if (st) {
        pipeline_set_observer(rt->pipeline, observe, st);
        if (!once)
            seed_alerts(st, rt);    /* before any check can move them */
    }
    for (size_t i = 0; i < rt->ninsts; i++) {
        outpost_instance_t *inst = rt->insts[i];

        if (inst->plugin->kind == OUTPOST_INPUT && instance_init(inst) == 0
            && scheduler_add(rt->sched, inst) != 0)
            return -1;
    }
    loop_timer_init(&rt->tick, on_tick, rt);
    if (loop_call(rt->loop, arm_tick, rt) != 0)
        return -1;
    return scheduler_start(rt->sched, once);
}

static void runtime_stop(struct runtime *rt, int64_t drain_ms);

/* The API serves while the agent runs; a listener that cannot open is
 * logged and the agent monitors on without it. Kept across reloads. */
static void
start_api(struct agent *a)
{
    if (a->api == NULL && (a->api = api_new(a, a->state)) == NULL) {
        log_core(OUTPOST_LOG_ERROR, "api", "out of memory");
        return;
    }
    if (api_start(a->api, a->cfg) != 0)
        log_core(OUTPOST_LOG_ERROR, "api", "the HTTP API is not served");
}

static void
set_rt(struct agent *a, struct runtime *rt)
{
    pthread_rwlock_wrlock(&a->rt_lock);
    a->rt = rt;
    pthread_rwlock_unlock(&a->rt_lock);
}

int
agent_start(struct agent *a, int once)
{
    struct runtime *rt = calloc(1, sizeof(*rt));

    if (rt == NULL)
        return -1;
    pthread_once(&curl_once, curl_init_once);
    rt->loop = loop_new();
    if (rt->loop == NULL || loop_start(rt->loop) != 0
        || http_client_start(rt->loop) != 0
        || build_instances(rt, a->cfg, a->dry, a->dry_state) != 0
        || start_outputs(rt, a->cfg) != 0
        || start_inputs_and_filters(rt, a->collect_threads, once,
                                    a->dry, a->state) != 0) {
        log_core(OUTPOST_LOG_ERROR, "start", "cannot start the agent");
        runtime_stop(rt, 0);
        return -1;
    }
    set_rt(a, rt);
    log_core(OUTPOST_LOG_INFO, "start",
             "running %zu instances (%zu filters, %zu outputs)%s",
             rt->ninsts, rt->nfilters, rt->noutputs,
             a->dry ? ", dry run" : once ? ", once" : "");
    if (a->serve_api && !once && a->dry == NULL)
        start_api(a);
    return 0;
}

int
agent_start_dry(struct agent *a, const struct agent_dry_run *dry)
{
    const char *tmp = getenv("TMPDIR");

    if (asprintf(&a->dry_state, "%s/outpost-test-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp") < 0) {
        a->dry_state = NULL;
        return -1;
    }
    if (mkdtemp(a->dry_state) == NULL) {
        log_core(OUTPOST_LOG_ERROR, "start", "cannot create %s: %s",
                 a->dry_state, strerror(errno));
        free(a->dry_state);
        a->dry_state = NULL;
        return -1;
    }
    a->dry = dry;
    return agent_start(a, 1);
}

/* --- stopping ----------------------------------------------------------- */

static int
drain_outputs(struct runtime *rt, int64_t drain_ms)
{
    int64_t deadline = clock_mono_ms() + drain_ms;
    int rc = 0;

    for (size_t i = 0; i < rt->noutputs; i++)
        if (output_drain(rt->workers[i], deadline) != 0)
            rc = -1;
    return rc;
}

static void
runtime_stop(struct runtime *rt, int64_t drain_ms)
{
    if (rt->sched)
        scheduler_stop(rt->sched);
    if (rt->loop && rt->pipeline)
        loop_call_sync(rt->loop, disarm_tick, rt);
    if (drain_ms > 0)
        drain_outputs(rt, drain_ms);
    link_fallbacks(rt, 0);
    for (size_t i = 0; i < rt->noutputs; i++)
        output_stop(rt->workers[i]);
    http_client_stop();
    if (rt->loop)
        loop_stop(rt->loop);
    /* Inputs first, outputs last: the reverse of the start. */
    for (size_t k = 0; k < 3; k++) {
        outpost_kind_t kind = k == 0 ? OUTPOST_INPUT
                            : k == 1 ? OUTPOST_FILTER : OUTPOST_OUTPUT;
        for (size_t i = 0; i < rt->ninsts; i++)
            if (rt->insts[i]->plugin->kind == kind)
                instance_shutdown(rt->insts[i]);
    }
    scheduler_free(rt->sched);
    pipeline_free(rt->pipeline);
    for (size_t i = 0; i < rt->ninsts; i++)
        instance_free(rt->insts[i]);
    loop_free(rt->loop);
    free(rt->insts);
    free(rt->filters);
    free(rt->outputs);
    free(rt->workers);
    free(rt);
}

int
agent_finish_once(struct agent *a)
{
    struct runtime *rt = a->rt;
    int rc;

    if (rt == NULL)
        return 1;
    scheduler_wait_idle(rt->sched);
    /* The filters get one tick, as they would a second later. */
    pipeline_tick(rt->pipeline);
    rc = drain_outputs(rt, agent_timeout_ms(a));
    if (rc != 0)
        log_core(OUTPOST_LOG_ERROR, "once",
                 "an output did not deliver everything");
    return rc == 0 ? 0 : 1;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
             struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    if (remove(path) != 0)
        log_core(OUTPOST_LOG_WARN, "stop", "cannot remove %s: %s", path,
                 strerror(errno));
    return 0;
}

/* The dry run's state_dir goes once every filter has saved into it. */
static void
remove_dry_state(struct agent *a)
{
    if (a->dry_state == NULL)
        return;
    nftw(a->dry_state, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(a->dry_state);
    a->dry_state = NULL;
    a->dry = NULL;
}

void
agent_stop(struct agent *a, int64_t drain_ms)
{
    struct runtime *rt = a->rt;

    if (rt == NULL) {
        remove_dry_state(a);
        return;
    }
    set_rt(a, NULL);
    runtime_stop(rt, drain_ms);
    remove_dry_state(a);
    log_core(OUTPOST_LOG_INFO, "stop", "stopped");
}

int
agent_reload(struct agent *a)
{
    struct diag d = { 0 };
    struct config *c;

    c = config_load(a->config_path, a->reg, a->default_plugin_dir, &d);
    if (c == NULL) {
        for (size_t i = 0; i < d.n; i++)
            log_core(OUTPOST_LOG_ERROR, "reload", "%s", d.msgs[i]);
        log_core(OUTPOST_LOG_ERROR, "reload",
                 "config has %zu problem(s): keeping the running config",
                 d.n);
        diag_free(&d);
        return -1;
    }
    for (size_t i = 0; i < d.nwarns; i++)
        log_core(OUTPOST_LOG_WARN, "reload", "%s", d.warns[i]);
    diag_free(&d);
    /* Output queues spill to disk on stop; the new workers, whose spill
     * directories have the same names, replay them in order. */
    agent_stop(a, 0);
    config_free(a->cfg);
    a->cfg = c;
    log_configure(c->log_level, c->log_format, 2);
    if (agent_start(a, 0) != 0)
        return -1;
    log_core(OUTPOST_LOG_INFO, "reload", "config reloaded");
    return 0;
}

int
agent_control(struct agent *a, const char *instance, const char *cmd,
              const char *args, char **reply)
{
    int rc = -2;

    *reply = NULL;
    pthread_rwlock_rdlock(&a->rt_lock);
    if (a->rt && a->rt->pipeline)
        rc = pipeline_control(a->rt->pipeline, instance, cmd, args, reply);
    pthread_rwlock_unlock(&a->rt_lock);
    return rc;
}

int
agent_run_now(struct agent *a, const char *input, int64_t *timeout_ms)
{
    int rc = -1;

    pthread_rwlock_rdlock(&a->rt_lock);
    if (a->rt && a->rt->sched)
        rc = scheduler_run_now(a->rt->sched, input, timeout_ms);
    pthread_rwlock_unlock(&a->rt_lock);
    return rc;
}

size_t
agent_alert_filters(struct agent *a, char ***names)
{
    size_t n = 0;
    char **v;

    *names = NULL;
    pthread_rwlock_rdlock(&a->rt_lock);
    v = a->rt ? calloc(a->rt->nfilters + 1, sizeof(*v)) : NULL;
    for (size_t i = 0; v && i < a->rt->nfilters; i++) {
        const outpost_instance_t *f = a->rt->filters[i];

        if (strcmp(f->plugin->name, "alert") == 0 && f->live
            && asprintf(&v[n], "alert:%s", f->name) >= 0)
            n++;
    }
    pthread_rwlock_unlock(&a->rt_lock);
    *names = v;
    return n;
}

static int
add_reason(char ***v, int *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
add_reason(char ***v, int *n, const char *fmt, ...)
{
    char **nv = realloc(*v, (size_t) (*n + 1) * sizeof(*nv));
    va_list ap;

    if (nv == NULL)
        return -1;
    *v = nv;
    va_start(ap, fmt);
    if (vasprintf(&nv[*n], fmt, ap) < 0)
        nv[*n] = NULL;
    va_end(ap);
    if (nv[*n])
        (*n)++;
    return 0;
}

int
agent_health(struct agent *a, int64_t failing_ms, char ***reasons)
{
    struct runtime *rt;
    int64_t now = clock_mono_ms();
    int n = 0;

    *reasons = NULL;
    pthread_rwlock_rdlock(&a->rt_lock);
    rt = a->rt;
    if (rt == NULL || rt->sched == NULL) {
        pthread_rwlock_unlock(&a->rt_lock);
        return -1;
    }
    for (size_t i = 0; i < scheduler_input_count(rt->sched); i++) {
        struct scheduler_input_info in;

        scheduler_input_info(rt->sched, i, &in);
        if (in.last_tick_ms > 0 && now - in.last_tick_ms > 2 * in.interval_ms)
            add_reason(reasons, &n, "input %s has not run for %lld s "
                       "(interval %lld s)", in.name,
                       (long long) ((now - in.last_tick_ms) / 1000),
                       (long long) (in.interval_ms / 1000));
    }
    for (size_t i = 0; i < rt->noutputs; i++) {
        struct output_stats os;
        const outpost_instance_t *o = rt->outputs[i];

        output_get_stats(rt->workers[i], &os);
        if (os.failing_since_ms > 0 && now - os.failing_since_ms > failing_ms)
            add_reason(reasons, &n, "output %s: its backend has failed for "
                       "%lld s", o->name,
                       (long long) ((now - os.failing_since_ms) / 1000));
        if (os.spilling)
            add_reason(reasons, &n, "output %s: its queue spills to disk",
                       o->name);
    }
    pthread_rwlock_unlock(&a->rt_lock);
    return n;
}

int
agent_get_stats(struct agent *a, struct agent_stats *out)
{
    struct runtime *rt;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&a->rt_lock);
    rt = a->rt;
    if (rt && rt->sched && rt->pipeline) {
        scheduler_get_stats(rt->sched, &out->sched);
        pipeline_get_stats(rt->pipeline, &out->pipe);
        out->ninputs = scheduler_input_count(rt->sched);
        out->nfilters = rt->nfilters;
        out->outputs = rt->noutputs ? calloc(rt->noutputs,
                                             sizeof(*out->outputs)) : NULL;
        for (size_t i = 0; out->outputs && i < rt->noutputs; i++) {
            struct agent_output_stats *o = &out->outputs[i];

            snprintf(o->name, sizeof(o->name), "%s", rt->outputs[i]->name);
            snprintf(o->plugin, sizeof(o->plugin), "%s",
                     rt->outputs[i]->plugin->name);
            output_get_stats(rt->workers[i], &o->st);
            out->noutputs++;
        }
        rc = 0;
    }
    pthread_rwlock_unlock(&a->rt_lock);
    return rc;
}

void
agent_stats_free(struct agent_stats *s)
{
    free(s->outputs);
    s->outputs = NULL;
    s->noutputs = 0;
}

struct state *
agent_state(struct agent *a)
{
    return a->state;
}

void
agent_free(struct agent *a)
{
    if (a == NULL)
        return;
    agent_stop(a, 0);
    api_free(a->api);
    state_free(a->state);
    pthread_rwlock_destroy(&a->rt_lock);
    config_free(a->cfg);
    if (a->own_reg)
        registry_free(a->reg);
    free(a->config_path);
    free(a->default_plugin_dir);
    free(a);
}

/* --- GET /metrics ----------------------------------------------------------- */

static char *
copy_name(char **dst, const char *src)
{
    *dst = strdup(src ? src : "");
    return *dst;
}

static int
metrics_snapshot(struct runtime *rt, struct metrics_agent *m)
{
    m->running = 1;
    scheduler_get_stats(rt->sched, &m->sched);
    scheduler_get_lateness(rt->sched, &m->lateness);
    if (rt->noutputs
        && (m->outputs = calloc(rt->noutputs, sizeof(*m->outputs))) == NULL)
        return -1;
    for (size_t i = 0; i < rt->noutputs; i++) {
        struct metrics_output *o = &m->outputs[m->noutputs++];

        if (!copy_name(&o->plugin, rt->outputs[i]->plugin->name)
            || !copy_name(&o->name, rt->outputs[i]->name))
            return -1;
        output_get_stats(rt->workers[i], &o->st);
        output_get_write_time(rt->workers[i], &o->write);
    }
    if (rt->ninsts
        && (m->instances = calloc(rt->ninsts, sizeof(*m->instances))) == NULL)
        return -1;
    for (size_t i = 0; i < rt->ninsts; i++) {
        struct metrics_instance *in = &m->instances[m->ninstances++];

        if (!copy_name(&in->plugin, rt->insts[i]->plugin->name)
            || !copy_name(&in->name, rt->insts[i]->name))
            return -1;
        in->errors = atomic_load_explicit(&rt->insts[i]->errors,
                                          memory_order_relaxed);
    }
    return 0;
}

int
agent_metrics_snapshot(struct agent *a, struct metrics_agent *m)
{
    int rc = 0;

    memset(m, 0, sizeof(*m));
    pthread_rwlock_rdlock(&a->rt_lock);
    if (a->rt && a->rt->sched)
        rc = metrics_snapshot(a->rt, m);
    pthread_rwlock_unlock(&a->rt_lock);
    if (rc != 0)
        metrics_agent_free(m);
    return rc;
}
