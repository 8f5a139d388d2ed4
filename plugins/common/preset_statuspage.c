/*
 * preset_statuspage.c - Statuspage summary.json reading, and the cache
 * that lets every preset instance naming the same status_page URL share
 * one fetch a minute.
 *
 * The cache is module-wide state (like the httpcheck pool): a list of
 * entries, one per URL, under one lock. Everything but sp_cache_put runs
 * on the core's event-loop thread; the lock is for the put at shutdown and
 * for safety. An entry lives while someone holds it: each preset instance
 * holds one reference, and a fetch in flight holds another, so an entry is
 * never freed under its transfer.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <outpost/http.h>
#include "preset_statuspage.h"

const char *
sp_health_name(int health)
{
    return outpost_status_name(health);
}

int
sp_indicator_health(const char *indicator)
{
    if (indicator == NULL)
        return -1;
    if (strcmp(indicator, "none") == 0)
        return SP_HEALTHY;
    if (strcmp(indicator, "minor") == 0)
        return SP_DEGRADED;
    if (strcmp(indicator, "major") == 0 || strcmp(indicator, "critical") == 0)
        return SP_DOWN;
    return -1;
}

int
sp_component_health(const char *status)
{
    if (status == NULL)
        return -1;
    if (strcmp(status, "operational") == 0)
        return SP_HEALTHY;
    if (strcmp(status, "degraded_performance") == 0
        || strcmp(status, "under_maintenance") == 0)
        return SP_DEGRADED;
    if (strcmp(status, "partial_outage") == 0
        || strcmp(status, "major_outage") == 0)
        return SP_DOWN;
    return -1;
}

/* --- parsing ------------------------------------------------------------ */

static const char *
str_at(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "";
}

static int
watched(const outpost_strlist_t *watch, const char *name)
{
    if (watch == NULL || watch->n == 0)
        return 1;
    for (size_t i = 0; i < watch->n; i++)
        if (strcmp(watch->v[i], name) == 0)
            return 1;
    return 0;
}

/* Appends s to *buf (malloc'ed, grown), with sep before it unless first. */
static int
append(char **buf, size_t *len, const char *sep, const char *s)
{
    size_t add = strlen(s) + (*len ? strlen(sep) : 0);
    char *b = realloc(*buf, *len + add + 1);

    if (b == NULL)
        return -1;
    if (*len) {
        memcpy(b + *len, sep, strlen(sep));
        *len += strlen(sep);
    }
    memcpy(b + *len, s, strlen(s) + 1);
    *len += strlen(s);
    *buf = b;
    return 0;
}

/* An incident counts when it names no component, or a watched one. */
static int
incident_relevant(json_t *inc, const outpost_strlist_t *watch)
{
    json_t *list = json_object_get(inc, "components"), *c;
    size_t i;

    if (watch == NULL || watch->n == 0 || !json_is_array(list)
        || json_array_size(list) == 0)
        return 1;
    json_array_foreach(list, i, c)
        if (watched(watch, str_at(c, "name")))
            return 1;
    return 0;
}

static int
parse_components(json_t *list, const outpost_strlist_t *watch,
                 struct sp_page *page)
{
    size_t i, n = json_array_size(list);
    json_t *c;

    page->components = calloc(n ? n : 1, sizeof(*page->components));
    if (page->components == NULL)
        return -1;
    json_array_foreach(list, i, c) {
        const char *name = str_at(c, "name");
        int group = json_is_true(json_object_get(c, "group"));
        struct sp_component *pc;

        if (!watched(watch, name) || (group && (watch == NULL
                                                || watch->n == 0)))
            continue;
        pc = &page->components[page->ncomponents++];
        pc->name = name;
        pc->status = str_at(c, "status");
        pc->health = sp_component_health(pc->status);
        if (pc->health > page->health)
            page->health = pc->health;
    }
    return 0;
}

static int
find_missing(json_t *list, const outpost_strlist_t *watch,
             struct sp_page *page)
{
    size_t len = 0;

    for (size_t w = 0; watch && w < watch->n; w++) {
        int found = 0;
        size_t i;
        json_t *c;

        json_array_foreach(list, i, c)
            if (strcmp(str_at(c, "name"), watch->v[w]) == 0)
                found = 1;
        if (!found && append(&page->missing, &len, ", ", watch->v[w]) != 0)
            return -1;
    }
    return 0;
}

int
sp_page_parse(json_t *root, const outpost_strlist_t *watch,
              struct sp_page *page, char *err, size_t errlen)
{
    json_t *status = json_object_get(root, "status");
    json_t *components = json_object_get(root, "components");
    json_t *incidents = json_object_get(root, "incidents"), *inc;
    size_t len = 0, i;
    int ind;

    memset(page, 0, sizeof(*page));
    if (!json_is_object(root) || !json_is_object(status)) {
        snprintf(err, errlen, "not a Statuspage answer (no status object)");
        return -1;
    }
    /* summary.json has both lists, status.json neither: present, they
     * must be lists */
    if ((components && !json_is_array(components))
        || (incidents && !json_is_array(incidents))) {
        snprintf(err, errlen, "not a Statuspage answer (%s is not an "
                 "array)", components && !json_is_array(components)
                           ? "components" : "incidents");
        return -1;
    }
    if (!json_is_string(json_object_get(status, "indicator"))) {
        snprintf(err, errlen, "not a Statuspage answer (status.indicator "
                 "is not a string)");
        return -1;
    }
    page->indicator = str_at(status, "indicator");
    page->description = str_at(status, "description");
    ind = sp_indicator_health(page->indicator);
    if (ind < 0) {
        snprintf(err, errlen, "unknown indicator \"%.40s\"", page->indicator);
        return -1;
    }
    page->health = SP_HEALTHY;
    if (watch == NULL || watch->n == 0)
        page->health = ind;
    if ((page->incidents = strdup("")) == NULL)
        goto nomem;
    if (json_is_array(components)
        && (parse_components(components, watch, page) != 0
            || find_missing(components, watch, page) != 0))
        goto nomem;
    if (!json_is_array(components) && watch && watch->n > 0) {
        /* a status.json: nothing to watch, so the indicator decides */
        page->health = ind;
    }
    json_array_foreach(incidents, i, inc) {
        if (!incident_relevant(inc, watch))
            continue;
        if (append(&page->incidents, &len, "; ", str_at(inc, "name")) != 0)
            goto nomem;
        page->nincidents++;
    }
    return 0;
nomem:
    sp_page_free(page);
    snprintf(err, errlen, "out of memory");
    return -1;
}

void
sp_page_free(struct sp_page *page)
{
    free(page->incidents);
    free(page->components);
    free(page->missing);
    memset(page, 0, sizeof(*page));
}

/* --- the shared cache --------------------------------------------------- */

struct sp_waiter {
    struct sp_waiter *next;
    outpost_run_t    *run;
    sp_cache_then_fn  then;
    void             *arg;
};

struct sp_cache {
    sp_cache_t        *next;
    unsigned           refs;
    char              *url;
    int64_t            fetched_ms;   /* monotonic; 0: never tried */
    int64_t            good_ms;      /* when the verdict was fetched */
    struct sp_verdict  v;
    /* the fetch in flight, if any */
    int                in_flight;
    outpost_run_t     *owner;        /* the run the transfer belongs to */
    struct sp_waiter  *waiters;
    CURL              *easy;
    struct curl_slist *headers;
    char              *buf;
    size_t             len;
    int                over;        /* the body went past SP_CACHE_BODY_MAX */
};

static pthread_mutex_t sp_lock = PTHREAD_MUTEX_INITIALIZER;
static sp_cache_t     *sp_all;

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sp_cache_t *
sp_cache_get(const char *url)
{
    sp_cache_t *sc;

    pthread_mutex_lock(&sp_lock);
    for (sc = sp_all; sc; sc = sc->next)
        if (strcmp(sc->url, url) == 0)
            break;
    if (sc == NULL && (sc = calloc(1, sizeof(*sc))) != NULL) {
        if ((sc->url = strdup(url)) == NULL) {
            free(sc);
            sc = NULL;
        } else {
            sc->next = sp_all;
            sp_all = sc;
        }
    }
    if (sc)
        sc->refs++;
    pthread_mutex_unlock(&sp_lock);
    return sc;
}

/* Call with sp_lock held. */
static void
release_locked(sp_cache_t *sc)
{
    sp_cache_t **pp;

    if (--sc->refs > 0)
        return;
    for (pp = &sp_all; *pp; pp = &(*pp)->next)
        if (*pp == sc) {
            *pp = sc->next;
            break;
        }
    free(sc->url);
    free(sc);
}

void
sp_cache_put(sp_cache_t *sc)
{
    if (sc == NULL)
        return;
    pthread_mutex_lock(&sp_lock);
    release_locked(sc);
    pthread_mutex_unlock(&sp_lock);
}

void
sp_cache_verdict(sp_cache_t *sc, struct sp_verdict *v)
{
    pthread_mutex_lock(&sp_lock);
    *v = sc->v;
    v->age_ms = sc->v.have ? mono_ms() - sc->good_ms : 0;
    pthread_mutex_unlock(&sp_lock);
}

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    sp_cache_t *sc = arg;
    size_t n = size * nmemb;
    char *b;

    if (sc->len + n > SP_CACHE_BODY_MAX) {
        sc->over = 1;
        return 0;                       /* aborts: not a status page */
    }
    if ((b = realloc(sc->buf, sc->len + n + 1)) == NULL)
        return 0;
    memcpy(b + sc->len, ptr, n);
    sc->len += n;
    b[sc->len] = '\0';
    sc->buf = b;
    return n;
}

/* Loop thread: the body of a finished fetch into the verdict. */
static void
take_answer(sp_cache_t *sc, CURLcode rc)
{
    struct sp_verdict v;
    struct sp_page page;
    long status = 0;
    json_t *root = NULL;
    char err[160] = "";

    curl_easy_getinfo(sc->easy, CURLINFO_RESPONSE_CODE, &status);
    if (sc->over)
        snprintf(err, sizeof(err), "response body over %d bytes",
                 SP_CACHE_BODY_MAX);
    else if (rc != CURLE_OK)
        snprintf(err, sizeof(err), "%s", curl_easy_strerror(rc));
    else if (status != 200)
        snprintf(err, sizeof(err), "HTTP status %ld", status);
    else if ((root = json_loadb(sc->buf ? sc->buf : "", sc->len, 0,
                                NULL)) == NULL)
        snprintf(err, sizeof(err), "the answer is not JSON");
    else if (sp_page_parse(root, NULL, &page, err, sizeof(err)) == 0) {
        memset(&v, 0, sizeof(v));
        v.have = 1;
        snprintf(v.indicator, sizeof(v.indicator), "%s", page.indicator);
        snprintf(v.description, sizeof(v.description), "%s",
                 page.description);
        if (snprintf(v.incidents, sizeof(v.incidents), "%s", page.incidents)
            >= (int) sizeof(v.incidents))
            memcpy(v.incidents + sizeof(v.incidents) - 4, "...", 4);
        v.health = page.health;
        sp_page_free(&page);
        pthread_mutex_lock(&sp_lock);
        sc->v = v;
        sc->good_ms = mono_ms();
        pthread_mutex_unlock(&sp_lock);
    }
    json_decref(root);
    if (err[0])
        outpost_log(NULL, OUTPOST_LOG_WARN, "status_page",
                    "%s: %s (keeping the last verdict)", sc->url, err);
}

static void
fetch_done(CURL *easy, CURLcode rc, void *arg)
{
    sp_cache_t *sc = arg;
    struct sp_waiter *w, *next;
    outpost_run_t *owner = sc->owner;

    (void) easy;
    if (rc != CURLE_ABORTED_BY_CALLBACK)
        take_answer(sc, rc);
    curl_easy_cleanup(sc->easy);
    curl_slist_free_all(sc->headers);
    free(sc->buf);
    pthread_mutex_lock(&sp_lock);
    sc->easy = NULL;
    sc->headers = NULL;
    sc->buf = NULL;
    sc->len = 0;
    sc->over = 0;
    sc->in_flight = 0;
    sc->owner = NULL;
    w = sc->waiters;
    sc->waiters = NULL;
    pthread_mutex_unlock(&sp_lock);
    /* Oldest first: the owner registered before the others. */
    {
        struct sp_waiter *rev = NULL;
        for (; w; w = next) {
            next = w->next;
            w->next = rev;
            rev = w;
        }
        w = rev;
    }
    for (; w; w = next) {
        next = w->next;
        w->then(w->run, w->arg,
                rc == CURLE_ABORTED_BY_CALLBACK && w->run == owner);
        free(w);
    }
    sp_cache_put(sc);               /* the fetch's reference */
}

static int
start_fetch(sp_cache_t *sc, outpost_run_t *run, int64_t timeout_ms,
            const char *user_agent)
{
    struct curl_slist *h;

    if ((sc->easy = curl_easy_init()) == NULL)
        return -1;
    h = curl_slist_append(NULL, "Accept: application/json");
    if (h == NULL) {
        curl_easy_cleanup(sc->easy);
        sc->easy = NULL;
        return -1;
    }
    sc->headers = h;
    curl_easy_setopt(sc->easy, CURLOPT_URL, sc->url);
    curl_easy_setopt(sc->easy, CURLOPT_HTTPHEADER, sc->headers);
    curl_easy_setopt(sc->easy, CURLOPT_USERAGENT,
                     user_agent && *user_agent ? user_agent : "outpost/0.1");
    curl_easy_setopt(sc->easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(sc->easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(sc->easy, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt(sc->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(sc->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(sc->easy, CURLOPT_WRITEDATA, sc);
    curl_easy_setopt(sc->easy, CURLOPT_PROXY, "");
    sc->owner = run;
    if (outpost_http_start(run, sc->easy, fetch_done, sc) != 0) {
        curl_easy_cleanup(sc->easy);
        curl_slist_free_all(sc->headers);
        sc->easy = NULL;
        sc->headers = NULL;
        sc->owner = NULL;
        return -1;
    }
    return 0;
}

int
sp_cache_refresh(sp_cache_t *sc, outpost_run_t *run, int64_t timeout_ms,
                 const char *user_agent, sp_cache_then_fn then, void *arg)
{
    struct sp_waiter *w;
    int64_t now = mono_ms();
    int start;

    pthread_mutex_lock(&sp_lock);
    if (!sc->in_flight && sc->fetched_ms != 0
        && now - sc->fetched_ms < SP_CACHE_TTL_MS) {
        pthread_mutex_unlock(&sp_lock);
        return 0;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        pthread_mutex_unlock(&sp_lock);
        return 0;                   /* go on with what we have */
    }
    w->run = run;
    w->then = then;
    w->arg = arg;
    w->next = sc->waiters;
    sc->waiters = w;
    start = !sc->in_flight;
    if (start) {
        sc->in_flight = 1;
        sc->fetched_ms = now;       /* tried: not again for a minute */
        sc->refs++;                 /* the fetch's own reference */
    }
    pthread_mutex_unlock(&sp_lock);
    if (!start)
        return 1;
    if (start_fetch(sc, run, timeout_ms, user_agent) != 0) {
        pthread_mutex_lock(&sp_lock);
        sc->in_flight = 0;
        sc->waiters = w->next;      /* ours is the only one: just added */
        release_locked(sc);
        pthread_mutex_unlock(&sp_lock);
        free(w);
        return 0;
    }
    return 1;
}
