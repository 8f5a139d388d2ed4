/*
 * instance.c - configured plugin instances: defaults, tags, match rules,
 * state directories, and the SDK's instance accessors.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <outpost/pattern.h>
#include "instance.h"
#include "log.h"
#include "options.h"

static char *
xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Resolves what the option table cannot: interval and timeout default to
 * the globals, and an input's timeout never exceeds its interval. Every
 * other common option already holds its table default. */
static void
resolve_common(outpost_instance_t *inst, const struct config *c)
{
    if (inst->common.interval_ms <= 0)
        inst->common.interval_ms = c->interval_ms > 0 ? c->interval_ms
                                                      : 30000;
    if (inst->common.timeout_ms <= 0)
        inst->common.timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 10000;
    if (inst->common.timeout_ms > inst->common.interval_ms
        && inst->plugin->kind == OUTPOST_INPUT)
        inst->common.timeout_ms = inst->common.interval_ms;
}

static int
add_tag(outpost_tag_t *tags, size_t *n, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return 0;
    tags[*n].key = key;
    tags[*n].value = value;
    (*n)++;
    return 0;
}

/* integration, category, provider, tier, failover_group, instance (this
 * host) and the user's tags, which win on conflict. */
static int
build_tags(outpost_instance_t *inst)
{
    const struct common_conf *cc = &inst->common;
    size_t cap = 8 + cc->tags.n, n = 0;
    outpost_tag_t tags[cap];
    char host[256] = "", *kv[cc->tags.n ? cc->tags.n : 1];
    char prio[24], weight[32];

    gethostname(host, sizeof(host) - 1);
    add_tag(tags, &n, "integration", inst->name);
    add_tag(tags, &n, "instance", host);
    if (inst->plugin->kind == OUTPOST_INPUT) {
        add_tag(tags, &n, "category",
                cc->category ? cc->category : inst->plugin->name);
        add_tag(tags, &n, "provider",
                cc->provider ? cc->provider : inst->name);
        add_tag(tags, &n, "tier", cc->tier);
        add_tag(tags, &n, "failover_group", cc->failover_group);
        if (cc->failover_group) {
            snprintf(prio, sizeof(prio), "%lld", (long long) cc->priority);
            add_tag(tags, &n, "priority", prio);
            snprintf(weight, sizeof(weight), "%g", cc->weight);
            add_tag(tags, &n, "weight", weight);
        }
    }
    for (size_t i = 0; i < cc->tags.n; i++) {
        char *eq;

        kv[i] = strdup(cc->tags.v[i]);
        if (kv[i] == NULL)
            continue;
        eq = strchr(kv[i], '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        add_tag(tags, &n, kv[i], eq + 1);
    }
    inst->tags = outpost_tagset_new(tags, n);
    for (size_t i = 0; i < cc->tags.n; i++)
        free(kv[i]);
    return inst->tags ? 0 : -1;
}

static int
build_match(outpost_instance_t *inst)
{
    const outpost_strlist_t *m = &inst->common.match;

    if (m->n == 0)
        return 0;
    inst->match = calloc(m->n, sizeof(*inst->match));
    if (inst->match == NULL)
        return -1;
    for (size_t i = 0; i < m->n; i++) {
        const char *eq = strchr(m->v[i], '=');
        char key[128], why[128];
        size_t klen;

        /* The config refused an unbounded glob at its line already; a
         * section built any other way is held to the same bounds. */
        if (outpost_glob_check(eq ? eq + 1 : m->v[i], why, sizeof(why))) {
            log_core(OUTPOST_LOG_ERROR, "start", "%s \"%s\": match \"%.60s\": "
                     "%s", inst->plugin->name, inst->name, m->v[i], why);
            return -1;
        }
        if (eq == NULL) {   /* a bare glob matches the integration */
            inst->match[i].key = outpost_intern("integration");
            inst->match[i].pattern = strdup(m->v[i]);
        } else {
            klen = (size_t) (eq - m->v[i]);
            if (klen >= sizeof(key))
                klen = sizeof(key) - 1;
            memcpy(key, m->v[i], klen);
            key[klen] = '\0';
            inst->match[i].key = outpost_intern(key);
            inst->match[i].pattern = strdup(eq + 1);
        }
        if (inst->match[i].pattern == NULL)
            return -1;
        inst->nmatch++;
    }
    return 0;
}

outpost_instance_t *
instance_new(struct section *s, const struct config *c)
{
    outpost_instance_t *inst = calloc(1, sizeof(*inst));

    if (inst == NULL)
        return NULL;
    inst->plugin = s->plugin;
    inst->name = strdup(s->instance);
    inst->file = xstrdup(s->file);
    inst->line = s->line;
    inst->conf = s->conf;
    s->conf = NULL;
    inst->common = s->common;
    /* The strings and lists of common now belong to the instance. */
    memset(&s->common, 0, sizeof(s->common));
    inst->state_root = xstrdup(c->state_dir);
    resolve_common(inst, c);
    if (inst->name == NULL || build_tags(inst) != 0
        || build_match(inst) != 0) {
        instance_free(inst);
        return NULL;
    }
    return inst;
}

int
instance_init(outpost_instance_t *inst)
{
    if (inst->plugin->init && inst->plugin->init(inst) != 0) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "init",
                    "initialisation failed (configured at %s:%d)",
                    inst->file ? inst->file : "?", inst->line);
        return -1;
    }
    inst->live = 1;
    return 0;
}

void
instance_shutdown(outpost_instance_t *inst)
{
    if (inst->live && inst->plugin->shutdown)
        inst->plugin->shutdown(inst);
    inst->live = 0;
}

void
instance_free(outpost_instance_t *inst)
{
    if (inst == NULL)
        return;
    if (inst->conf) {
        options_release(inst->plugin->options, inst->conf);
        free(inst->conf);
    }
    /* The common block came from the section, filled by the same table. */
    options_release(config_common_options(inst->plugin->kind), &inst->common);
    for (size_t i = 0; i < inst->nmatch; i++)
        free(inst->match[i].pattern);
    free(inst->match);
    outpost_tagset_unref(inst->tags);
    free(inst->state_root);
    free(inst->state_dir);
    free(inst->file);
    free(inst->name);
    free(inst);
}

static const char *
match_value(const outpost_record_t *rec, const char *key, char *buf,
            size_t len)
{
    const char *v = outpost_record_tag(rec, key);
    const outpost_field_t *f;

    if (v)
        return v;
    if (strcmp(key, "kind") == 0)
        return rec->kind == OUTPOST_EVENT ? "event" : "measurement";
    if (strcmp(key, "name") == 0)
        return rec->name;
    if (strcmp(key, "severity") == 0 && rec->kind == OUTPOST_EVENT)
        return outpost_severity_name(rec->severity);
    f = outpost_record_field(rec, key);
    if (f == NULL)
        return NULL;
    switch (f->type) {
    case OUTPOST_FIELD_STRING: return f->v.s;
    case OUTPOST_FIELD_BOOL:   return f->v.b ? "true" : "false";
    case OUTPOST_FIELD_INT:
        snprintf(buf, len, "%lld", (long long) f->v.i);
        return buf;
    default:
        snprintf(buf, len, "%g", f->v.f);
        return buf;
    }
}

int
instance_matches(const outpost_instance_t *inst, const outpost_record_t *rec)
{
    char buf[64];

    for (size_t i = 0; i < inst->nmatch; i++) {
        const char *v = match_value(rec, inst->match[i].key, buf,
                                    sizeof(buf));
        if (v == NULL || fnmatch(inst->match[i].pattern, v, 0) != 0)
            return 0;
    }
    return 1;
}

/* --- SDK accessors ------------------------------------------------------ */

const char *
outpost_instance_name(const outpost_instance_t *inst)
{
    return inst->name;
}

const char *
outpost_instance_plugin(const outpost_instance_t *inst)
{
    return inst->plugin->name;
}

void *
outpost_instance_conf(const outpost_instance_t *inst)
{
    return inst->conf;
}

void
outpost_instance_set_data(outpost_instance_t *inst, void *data)
{
    inst->data = data;
}

void *
outpost_instance_data(const outpost_instance_t *inst)
{
    return inst->data;
}

int64_t
outpost_instance_interval_ms(const outpost_instance_t *inst)
{
    return inst->common.interval_ms;
}

int64_t
outpost_instance_timeout_ms(const outpost_instance_t *inst)
{
    return inst->common.timeout_ms;
}

outpost_tagset_t *
outpost_instance_tags(const outpost_instance_t *inst)
{
    return inst->tags;
}

static int
mkdir_p(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

const char *
outpost_instance_state_dir(outpost_instance_t *inst)
{
    if (inst->state_dir)
        return inst->state_dir;
    if (inst->state_root == NULL)
        return NULL;
    if (asprintf(&inst->state_dir, "%s/%s/%s", inst->state_root,
                 inst->plugin->name, inst->name) < 0) {
        inst->state_dir = NULL;
        return NULL;
    }
    if (mkdir_p(inst->state_dir) != 0) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "state",
                    "cannot create %s: %s", inst->state_dir,
                    strerror(errno));
        free(inst->state_dir);
        inst->state_dir = NULL;
    }
    return inst->state_dir;
}

/* Exposed for the agent's spill directories. */
int
instance_mkdir_p(const char *path)
{
    return mkdir_p(path);
}
