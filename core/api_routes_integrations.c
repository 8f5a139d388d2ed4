/*
 * api_routes_integrations.c - GET /api/v1/integrations (filters: category,
 * status, tag), GET /api/v1/integrations/<name> (?period= history from
 * the store's windows), POST /api/v1/integrations/<name>/check.
 * The JSON shapes are documented in docs/api.md.
 *
 * The list is the API's biggest answer (7 MB of JSON for 10,000
 * integrations) and between two requests only the integrations checked
 * since have changed. So each integration's rendered object is kept with
 * the snapshot version it was made from (state.h) and reused while that
 * version holds; a request renders only what changed and copies the rest.
 * The kept objects are an array sorted by name, walked beside the sorted
 * snapshot, so no lookup structure is needed. One lock: list requests
 * take turns over it (each costs a few ms); other routes never touch it.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "agent.h"
#include "api_internal.h"
#include "clock.h"
#include "state.h"

#define CHECK_GRACE_MS 2000     /* beyond the input's timeout */

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const struct state_integration *) a)->name,
                  ((const struct state_integration *) b)->name);
}

static void
num_or_null(struct jw *w, const char *key, double v)
{
    jw_key(w, key);
    jw_num(w, v);
}

static void
tags_json(struct jw *w, const char *tags)
{
    jw_obj(w);
    while (*tags) {
        const char *end = strchr(tags, ','), *eq;
        size_t n = end ? (size_t) (end - tags) : strlen(tags);
        char k[STATE_TEXT_MAX], v[STATE_TEXT_MAX];

        eq = memchr(tags, '=', n);
        if (eq) {
            size_t kl = (size_t) (eq - tags);
            memcpy(k, tags, kl);
            k[kl] = '\0';
            memcpy(v, eq + 1, n - kl - 1);
            v[n - kl - 1] = '\0';
            jw_key(w, k);
            jw_str(w, v);
        }
        tags += n;
        if (*tags == ',')
            tags++;
    }
    jw_obj_end(w);
}

/* One integration, as in the list (docs/api.md, "Integration"). */
void
api_integration_json(struct jw *w, const struct state_integration *s)
{
    const struct state_check *c = &s->last;

    jw_obj(w);
    jw_key(w, "name");
    jw_str(w, s->name);
    jw_key(w, "input");
    jw_str_or_null(w, s->input);
    jw_key(w, "category");
    jw_str_or_null(w, s->category);
    jw_key(w, "provider");
    jw_str_or_null(w, s->provider);
    jw_key(w, "tier");
    jw_str_or_null(w, s->tier);
    jw_key(w, "failover_group");
    jw_str_or_null(w, s->failover_group);
    jw_key(w, "tags");
    tags_json(w, s->tags);
    jw_key(w, "status");
    jw_str(w, outpost_status_name(c->status));
    jw_key(w, "status_since");
    jw_time(w, s->status_since_ns);
    jw_key(w, "stale");
    jw_bool(w, s->stale);
    num_or_null(w, "health_score", c->health_score);
    num_or_null(w, "response_ms", c->response_ms);
    jw_key(w, "timings");
    if (isnan(c->dns_ms) && isnan(c->connect_ms) && isnan(c->ttfb_ms)) {
        jw_null(w);
    } else {
        jw_obj(w);
        num_or_null(w, "dns_ms", c->dns_ms);
        num_or_null(w, "connect_ms", c->connect_ms);
        num_or_null(w, "tls_ms", c->tls_ms);
        num_or_null(w, "ttfb_ms", c->ttfb_ms);
        num_or_null(w, "transfer_ms", c->transfer_ms);
        jw_obj_end(w);
    }
    jw_key(w, "status_code");
    if (c->status_code >= 0)
        jw_int(w, c->status_code);
    else
        jw_null(w);
    jw_key(w, "success");
    if (c->success >= 0)
        jw_bool(w, c->success);
    else
        jw_null(w);
    num_or_null(w, "success_rate_24h", c->success_rate_24h);
    num_or_null(w, "uptime_30d", c->uptime_30d);
    num_or_null(w, "p95_ms_1h", c->p95_ms_1h);
    jw_key(w, "consecutive_failures");
    if (c->consecutive_failures >= 0)
        jw_int(w, c->consecutive_failures);
    else
        jw_null(w);
    jw_key(w, "circuit");
    jw_str(w, c->circuit >= 0 ? outpost_circuit_name(c->circuit) : NULL);
    jw_key(w, "sla");
    if (c->sla_compliant < 0 && isnan(c->error_budget_remaining)) {
        jw_null(w);
    } else {
        jw_obj(w);
        jw_key(w, "compliant");
        if (c->sla_compliant >= 0)
            jw_bool(w, c->sla_compliant);
        else
            jw_null(w);
        num_or_null(w, "availability_30d", c->sla_availability_30d);
        num_or_null(w, "error_budget_remaining", c->error_budget_remaining);
        num_or_null(w, "error_budget_spent", c->error_budget_spent);
        jw_obj_end(w);
    }
    jw_key(w, "vendor_status");
    jw_str_or_null(w, c->vendor_status);
    jw_key(w, "vendor_description");
    jw_str_or_null(w, c->vendor_description);
    jw_key(w, "failover_active");
    jw_str_or_null(w, c->failover_active);
    jw_key(w, "last_error");
    jw_str_or_null(w, c->error);
    jw_key(w, "reason");
    jw_str_or_null(w, c->reason);
    jw_key(w, "last_check");
    jw_time(w, c->ts_ns);
    jw_key(w, "checks");
    jw_int(w, (int64_t) s->checks);
    jw_key(w, "failures");
    jw_int(w, (int64_t) s->failures);
    jw_obj_end(w);
}

/* ?tag=k=v (or ?tag=k: the tag is set) against "k=v,k=v". */
static int
has_tag(const char *tags, const char *want)
{
    size_t wl = strlen(want);
    int key_only = strchr(want, '=') == NULL;

    while (*tags) {
        size_t n = strcspn(tags, ",");

        if (key_only ? (n > wl && strncmp(tags, want, wl) == 0
                        && tags[wl] == '=')
                     : (n == wl && strncmp(tags, want, wl) == 0))
            return 1;
        tags += n;
        if (*tags == ',')
            tags++;
    }
    return 0;
}

struct frag {
    char     name[STATE_NAME_MAX];
    uint64_t version;
    char    *json;
};

struct list_cache {
    pthread_mutex_t  lock;
    struct frag     *frags;         /* sorted by name */
    size_t           n;
};

static void
list_cache_free(void *arg)
{
    struct list_cache *c = arg;

    for (size_t i = 0; i < c->n; i++)
        free(c->frags[i].json);
    free(c->frags);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* The objects of v (n, sorted by name) from c, rendered again where the
 * version moved; c then holds exactly v's integrations. Under c->lock.
 * -1 when out of memory (c is left as it was). */
static int
list_cache_update(struct list_cache *c, const struct state_integration *v,
                  size_t n)
{
    struct frag *next = calloc(n ? n : 1, sizeof(*next));
    size_t j = 0;

    if (next == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct frag *f = &next[i];
        struct jw w;
        int cmp = 1;

        while (j < c->n && (cmp = strcmp(c->frags[j].name, v[i].name)) < 0)
            free(c->frags[j++].json);           /* gone from the store */
        if (j < c->n && cmp == 0 && c->frags[j].version == v[i].version) {
            *f = c->frags[j];
            c->frags[j++].json = NULL;
            continue;
        }
        if (j < c->n && cmp == 0) {
            free(c->frags[j].json);
            c->frags[j++].json = NULL;
        }
        jw_init(&w, 1024);
        api_integration_json(&w, &v[i]);
        if ((f->json = jw_finish(&w, NULL)) == NULL) {
            while (i-- > 0)
                free(next[i].json);
            free(next);
            return -1;
        }
        memcpy(f->name, v[i].name, sizeof(f->name));
        f->version = v[i].version;
    }
    while (j < c->n)
        free(c->frags[j++].json);
    free(c->frags);
    c->frags = next;
    c->n = n;
    return 0;
}

static void
list(const struct api_request *req, struct api_response *res, void *arg)
{
    struct state *st = api_state(api_req_api(req));
    const char *category = api_req_query(req, "category");
    const char *status = api_req_query(req, "status");
    const char *tag = api_req_query(req, "tag");
    struct list_cache *cache = arg;
    struct state_integration *v;
    size_t n = state_integrations(st, &v), shown = 0;
    struct jw w;

    if (status && outpost_status_parse(status) < 0) {
        free(v);
        api_reply_error(res, 400, "status must be one of unknown, healthy, "
                        "degraded, down");
        return;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), by_name);
    pthread_mutex_lock(&cache->lock);
    if (list_cache_update(cache, v, n) != 0) {
        pthread_mutex_unlock(&cache->lock);
        free(v);
        api_reply_error(res, 503, "out of memory");
        return;
    }
    jw_init(&w, 256 + n * 900);
    jw_obj(&w);
    jw_key(&w, "integrations");
    jw_arr(&w);
    for (size_t i = 0; i < n; i++) {
        if ((category && strcmp(v[i].category, category) != 0)
            || (status && outpost_status_parse(status) != v[i].last.status)
            || (tag && !has_tag(v[i].tags, tag)))
            continue;
        jw_raw(&w, cache->frags[i].json);
        shown++;
    }
    pthread_mutex_unlock(&cache->lock);
    jw_arr_end(&w);
    jw_key(&w, "count");
    jw_int(&w, (int64_t) shown);
    jw_key(&w, "generated_at");
    jw_time(&w, outpost_time_now());
    jw_obj_end(&w);
    free(v);
    jw_reply(&w, res, 200);
}

/* The history of ?period=: the resolution that covers it. */
static void
history_json(struct jw *w, struct state *st, const char *name,
             int64_t period_s)
{
    enum state_res res = period_s <= 3600 ? STATE_RES_1M
                       : period_s <= 86400 ? STATE_RES_5M : STATE_RES_1H;
    int64_t width = res == STATE_RES_1M ? 60 : res == STATE_RES_5M ? 300
                                                                   : 3600;
    size_t count = (size_t) ((period_s + width - 1) / width);
    struct state_bucket *b = calloc(count, sizeof(*b));
    size_t n = b ? state_history(st, name, res, b, count) : 0;
    uint64_t checks = 0, ok = 0;

    jw_obj(w);
    jw_key(w, "period_s");
    jw_int(w, period_s);
    jw_key(w, "resolution_s");
    jw_int(w, width);
    jw_key(w, "buckets");
    jw_arr(w);
    for (size_t i = 0; i < n; i++) {
        checks += b[i].checks;
        ok += b[i].ok;
        jw_obj(w);
        jw_key(w, "start");
        jw_time(w, b[i].start_s * 1000000000LL);
        jw_key(w, "checks");
        jw_int(w, b[i].checks);
        jw_key(w, "ok");
        jw_int(w, b[i].ok);
        if (res != STATE_RES_1H) {
            num_or_null(w, "avg_ms", b[i].avg_ms);
            num_or_null(w, "max_ms", b[i].max_ms);
        }
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_key(w, "checks");
    jw_int(w, (int64_t) checks);
    num_or_null(w, "success_rate", checks ? (double) ok / (double) checks
                                          : NAN);
    jw_obj_end(w);
    free(b);
}

static void
alerts_of(struct jw *w, struct state *st, const char *name)
{
    struct state_alert *a;
    size_t n = state_alerts(st, &a);

    jw_arr(w);
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].integration, name) == 0
            && a[i].status != STATE_ALERT_RESOLVED)
            api_alert_json(w, &a[i]);
    jw_arr_end(w);
    free(a);
}

static void
one(const struct api_request *req, struct api_response *res,
    const char *name)
{
    struct state *st = api_state(api_req_api(req));
    struct state_integration s;
    int64_t period = api_period_s(api_req_query(req, "period"), 86400);
    struct jw w;

    if (period < 0 || period > 30 * 86400) {
        api_reply_error(res, 400, "period must be like 1h, 24h or 30d "
                        "(at most 30d)");
        return;
    }
    if (state_integration(st, name, &s) != 0) {
        api_reply_error(res, 404, "no integration \"%s\" has been checked",
                        name);
        return;
    }
    jw_init(&w, 16384);
    jw_obj(&w);
    jw_key(&w, "integration");
    api_integration_json(&w, &s);
    jw_key(&w, "history");
    history_json(&w, st, name, period);
    jw_key(&w, "alerts");
    alerts_of(&w, st, name);
    jw_obj_end(&w);
    jw_reply(&w, res, 200);
}

static void
get_one(const struct api_request *req, struct api_response *res, void *arg)
{
    const char *name = api_req_tail(req);

    (void) arg;
    if (*name == '\0' || strchr(name, '/')) {
        api_reply_error(res, 404, "no such path: %s", api_req_path(req));
        return;
    }
    one(req, res, name);
}

/* POST .../<name>/check: run the input now, wait for its result in the
 * store. Each wait holds one of the server's threads, so only
 * threads - 1 may wait at once; more get 503. */
static void
check(const struct api_request *req, struct api_response *res, void *arg)
{
    struct api *api = api_req_api(req);
    struct state *st = api_state(api);
    const char *tail = api_req_tail(req), *slash = strrchr(tail, '/');
    char name[STATE_NAME_MAX];
    struct state_integration s;
    uint64_t seq = 0;
    int64_t timeout_ms = 0;
    int rc;
    struct jw w;

    (void) arg;
    if (slash == NULL || strcmp(slash, "/check") != 0 || slash == tail
        || (size_t) (slash - tail) >= sizeof(name)
        || memchr(tail, '/', (size_t) (slash - tail))) {
        api_reply_error(res, 404, "no such path: %s (POST "
                        "/api/v1/integrations/<name>/check)",
                        api_req_path(req));
        return;
    }
    memcpy(name, tail, (size_t) (slash - tail));
    name[slash - tail] = '\0';
    if (atomic_fetch_add(&api->checks_waiting, 1) + 1
        >= (int) (api->threads > 1 ? api->threads : 2)) {
        atomic_fetch_sub(&api->checks_waiting, 1);
        api_reply_header(res, "Retry-After", "1");
        api_reply_error(res, 503, "too many checks waiting: try again");
        return;
    }
    if (state_integration(st, name, &s) == 0)
        seq = s.seq;
    rc = agent_run_now(api_agent(api), name, &timeout_ms);
    if (rc != 0) {
        atomic_fetch_sub(&api->checks_waiting, 1);
        if (rc > 0)
            api_reply_error(res, 409, "a check of %s is already running",
                            name);
        else
            api_reply_error(res, 404, "no input \"%s\"", name);
        return;
    }
    rc = state_wait_check(st, name, seq,
                          clock_mono_ms() + timeout_ms + CHECK_GRACE_MS, &s);
    atomic_fetch_sub(&api->checks_waiting, 1);
    if (rc != 0) {
        api_reply_error(res, 504, "%s did not report within %lld ms", name,
                        (long long) (timeout_ms + CHECK_GRACE_MS));
        return;
    }
    jw_init(&w, 2048);
    jw_obj(&w);
    jw_key(&w, "integration");
    api_integration_json(&w, &s);
    jw_obj_end(&w);
    jw_reply(&w, res, 200);
}

void
api_routes_integrations(struct api *api)
{
    struct list_cache *cache = calloc(1, sizeof(*cache));

    if (cache == NULL || api_at_free(api, list_cache_free, cache) != 0) {
        free(cache);
        return;
    }
    pthread_mutex_init(&cache->lock, NULL);
    api_route(api, "GET", "/api/v1/integrations", 0, list, cache);
    api_route(api, "GET", "/api/v1/integrations/", API_PREFIX, get_one,
              NULL);
    api_route(api, "POST", "/api/v1/integrations/", API_PREFIX | API_AUTH,
              check, NULL);
}
