/*
 * pipeline.c - filter chain and routing.
 *
 * A record enters at filter 0. A filter may pass it, drop it, or emit new
 * records; those enter the chain right after the filter that emitted them
 * and are processed once the current record has left the chain, so a
 * measurement reaches the outputs before the events it caused.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "instance.h"
#include "log.h"
#include "pipeline.h"

struct work {
    outpost_record_t *rec;
    size_t            first_filter;
};

struct outpost_emitter {
    struct pipeline *p;
    size_t           next_filter;
};

struct pipeline {
    pthread_mutex_t        lock;
    outpost_instance_t   **filters;
    size_t                 nfilters;
    outpost_instance_t   **outputs;
    struct output_worker **workers;
    size_t                 noutputs;

    /* Under lock: records waiting for the chain, and those that left it. */
    struct work           *pending;
    size_t                 npending, cappending, headpending;
    outpost_record_t     **done;
    size_t                 ndone, capdone;

    struct pipeline_stats  stats;
    pipeline_tap_fn        tap;
    void                  *tap_arg;
    pipeline_tap_fn        observer;
    void                  *observer_arg;
};

struct pipeline *
pipeline_new(outpost_instance_t **filters, size_t nfilters,
             outpost_instance_t **outputs, struct output_worker **workers,
             size_t noutputs)
{
    struct pipeline *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->filters = filters;
    p->nfilters = nfilters;
    p->outputs = outputs;
    p->workers = workers;
    p->noutputs = noutputs;
    return p;
}

void
pipeline_free(struct pipeline *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p->pending);
    free(p->done);
    free(p);
}

static int
push_pending(struct pipeline *p, outpost_record_t *rec, size_t first)
{
    if (p->npending == p->cappending) {
        size_t cap = p->cappending ? p->cappending * 2 : 64;
        struct work *w = realloc(p->pending, cap * sizeof(*w));
        if (w == NULL)
            return -1;
        p->pending = w;
        p->cappending = cap;
    }
    p->pending[p->npending].rec = rec;
    p->pending[p->npending].first_filter = first;
    p->npending++;
    return 0;
}

static int
push_done(struct pipeline *p, outpost_record_t *rec)
{
    if (p->ndone == p->capdone) {
        size_t cap = p->capdone ? p->capdone * 2 : 256;
        outpost_record_t **d = realloc(p->done, cap * sizeof(*d));
        if (d == NULL)
            return -1;
        p->done = d;
        p->capdone = cap;
    }
    p->done[p->ndone++] = rec;
    return 0;
}

void
outpost_emit(outpost_emitter_t *out, outpost_record_t *rec)
{
    if (rec == NULL)
        return;
    out->p->stats.emitted++;
    if (push_pending(out->p, rec, out->next_filter) != 0) {
        log_core(OUTPOST_LOG_ERROR, "emit", "out of memory: record dropped");
        outpost_record_unref(rec);
    }
}

/* Runs one record through the filters from `first`; returns 1 if it
 * survived (and was added to done). Lock held. */
static int
run_chain(struct pipeline *p, outpost_record_t *rec, size_t first)
{
    for (size_t i = first; i < p->nfilters; i++) {
        outpost_instance_t *f = p->filters[i];
        outpost_emitter_t em = { p, i + 1 };

        if (!f->live || !instance_matches(f, rec))
            continue;
        if (f->plugin->process(f, rec, &em) == OUTPOST_DROP) {
            p->stats.dropped++;
            outpost_record_unref(rec);
            return 0;
        }
    }
    if (push_done(p, rec) != 0) {
        outpost_record_unref(rec);
        return 0;
    }
    return 1;
}

static void
drain_pending(struct pipeline *p)
{
    /* pending may grow while we walk it: index, don't hold pointers. */
    for (size_t i = 0; i < p->npending; i++)
        run_chain(p, p->pending[i].rec, p->pending[i].first_filter);
    p->npending = 0;
}

/* Is out in the comma-separated list, as "instance" or "plugin:instance"? */
static int
listed(const char *list, const outpost_instance_t *out)
{
    const char *name = out->name;
    size_t len = strlen(name), plen = strlen(out->plugin->name);

    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t) (end - p) : strlen(p);

        while (n > 0 && *p == ' ') {
            p++;
            n--;
        }
        if (n == len && strncmp(p, name, len) == 0)
            return 1;
        if (n == plen + 1 + len && strncmp(p, out->plugin->name, plen) == 0
            && p[plen] == ':' && strncmp(p + plen + 1, name, len) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* Outputs that record get every record their match rules let through;
 * notifiers only events, and of those only the ones routed to them (a
 * "notify" tag naming them, or none). */
static int
wants(const outpost_instance_t *out, const outpost_record_t *rec)
{
    const char *notify;

    if (out->nmatch > 0 && !instance_matches(out, rec))
        return 0;
    if (!(out->plugin->flags & OUTPOST_PLUGIN_NOTIFIER))
        return 1;
    if (rec->kind != OUTPOST_EVENT)
        return 0;
    notify = outpost_record_tag(rec, "notify");
    return notify == NULL || listed(notify, out);
}

/* The story an operator reads in the log alone: one line per event that
 * left the chain (a failover, a circuit opening, an alert opened or
 * resolved...), at info; an alert repeat grouped into an open one at
 * debug. */
static void
log_event(const outpost_record_t *rec)
{
    const char *mute = outpost_record_string(rec, "mute_reason");

    log_write(mute && strcmp(mute, "grouped") == 0 ? OUTPOST_LOG_DEBUG
                                                   : OUTPOST_LOG_INFO,
              outpost_event_kind_name(rec->event_kind), "event",
              outpost_record_tag(rec, "integration"), NULL, 0, "%s",
              rec->event->message ? rec->event->message : "");
}

/* Hands the records that left the chain to the outputs. Lock held, so
 * records reach every queue in the order they left the chain. */
static void
route_done(struct pipeline *p)
{
    outpost_record_t *sel[256];

    for (size_t i = 0; p->tap && i < p->ndone; i++)
        p->tap(p->done[i], p->tap_arg);
    for (size_t i = 0; p->observer && i < p->ndone; i++)
        p->observer(p->done[i], p->observer_arg);
    for (size_t o = 0; o < p->noutputs; o++) {
        outpost_instance_t *out = p->outputs[o];
        size_t nsel = 0;

        if (!out->live)
            continue;
        for (size_t i = 0; i < p->ndone; i++) {
            if (!wants(out, p->done[i]))
                continue;
            sel[nsel++] = p->done[i];
            if (nsel == sizeof(sel) / sizeof(sel[0])) {
                output_push(p->workers[o], sel, nsel);
                p->stats.out += nsel;
                nsel = 0;
            }
        }
        if (nsel) {
            output_push(p->workers[o], sel, nsel);
            p->stats.out += nsel;
        }
    }
    for (size_t i = 0; i < p->ndone; i++) {
        if (p->done[i]->kind == OUTPOST_EVENT)
            log_event(p->done[i]);
        outpost_record_unref(p->done[i]);
    }
    p->ndone = 0;
}

void
pipeline_submit(struct pipeline *p, outpost_record_t **recs, size_t n)
{
    pthread_mutex_lock(&p->lock);
    p->stats.in += n;
    for (size_t i = 0; i < n; i++) {
        run_chain(p, recs[i], 0);
        drain_pending(p);
    }
    route_done(p);
    pthread_mutex_unlock(&p->lock);
}

void
pipeline_tick(struct pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->nfilters; i++) {
        outpost_instance_t *f = p->filters[i];
        outpost_emitter_t em = { p, i + 1 };

        if (f->live && f->plugin->tick) {
            f->plugin->tick(f, &em);
            drain_pending(p);
        }
    }
    route_done(p);
    pthread_mutex_unlock(&p->lock);
}

void
pipeline_set_tap(struct pipeline *p, pipeline_tap_fn fn, void *arg)
{
    p->tap = fn;
    p->tap_arg = arg;
}

void
pipeline_set_observer(struct pipeline *p, pipeline_tap_fn fn, void *arg)
{
    p->observer = fn;
    p->observer_arg = arg;
}

void
pipeline_get_stats(struct pipeline *p, struct pipeline_stats *st)
{
    pthread_mutex_lock(&p->lock);
    *st = p->stats;
    pthread_mutex_unlock(&p->lock);
}

/* "instance" or "plugin:instance" names filter f? */
static int
control_names(const outpost_instance_t *f, const char *name)
{
    const char *colon = strchr(name, ':');
    size_t plen = colon ? (size_t) (colon - name) : 0;

    if (colon == NULL)
        return strcmp(f->name, name) == 0;
    return strlen(f->plugin->name) == plen
        && strncmp(f->plugin->name, name, plen) == 0
        && strcmp(f->name, colon + 1) == 0;
}

int
pipeline_control(struct pipeline *p, const char *instance, const char *cmd,
                 const char *args, char **reply)
{
    int rc = -2;

    *reply = NULL;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->nfilters; i++) {
        outpost_instance_t *f = p->filters[i];
        outpost_emitter_t em = { p, i + 1 };

        if (!f->live || f->plugin->control == NULL
            || !control_names(f, instance))
            continue;
        rc = f->plugin->control(f, cmd, args ? args : "{}", &em, reply);
        drain_pending(p);
        break;
    }
    route_done(p);
    pthread_mutex_unlock(&p->lock);
    return rc;
}
