/*
 * state.c - the state store (see state.h for the rules).
 *
 * Layout. Integrations, alerts and failover groups each live in an array
 * of pointers (the order first seen) indexed by a small open-addressing
 * map from name to position; entries are allocated once and never move,
 * so updating one costs a map lookup and field copies. Alerts resolved
 * more than RESOLVED_KEEP_NS ago, or beyond RESOLVED_MAX, are removed
 * (the array is compacted and the map rebuilt: rare).
 *
 * Windows. Each integration has three rings of buckets (1 min x 60,
 * 5 min x 288, 1 h x 720). A ring remembers the number of its newest
 * bucket (ts / width); a check in a later bucket clears the buckets in
 * between, one in an older bucket still inside the ring is added where it
 * belongs, an older one is ignored. The hourly ring keeps counts only:
 * ~7 KB per integration in all.
 *
 * Events. A ring of STATE_EVENTS_MAX entries; the event with id i sits in
 * slot i % STATE_EVENTS_MAX, its JSON text rendered before the lock is
 * taken.
 *
 * Measurements' field keys are interned, so the fields of a check are
 * found in one pass comparing pointers with keys interned at state_new.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "state.h"

#define RESOLVED_MAX      1024
#define RESOLVED_KEEP_NS  (24LL * 3600 * 1000000000LL)
#define COPY_CHUNK        256     /* entries copied per lock hold */
#define NS_PER_S          1000000000LL

/* --- text --------------------------------------------------------------- */

/* Copies src into dst[size], cut at a UTF-8 character boundary. */
static void
put(char *dst, size_t size, const char *src)
{
    size_t n;

    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    n = strnlen(src, size);
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char) src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* --- a map from name to position ---------------------------------------- */

struct map {
    uint32_t *slots;          /* position + 1; 0: empty */
    size_t    cap;            /* a power of two, or 0 */
};

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;        /* FNV-1a */

    while (*s)
        h = (h ^ (unsigned char) *s++) * 1099511628211ULL;
    return h;
}

/* name_of(v, i): the name of entry i of the array v. */
typedef const char *(*name_fn)(void *const *v, size_t i);

static long
map_find(const struct map *m, void *const *v, name_fn name_of,
         const char *name)
{
    if (m->cap == 0)
        return -1;
    for (size_t i = hash_str(name) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        uint32_t s = m->slots[i];
        if (s == 0)
            return -1;
        if (strcmp(name_of(v, s - 1), name) == 0)
            return (long) s - 1;
    }
}

static void
map_put(struct map *m, const char *name, size_t pos)
{
    size_t i = hash_str(name) & (m->cap - 1);

    while (m->slots[i] != 0)
        i = (i + 1) & (m->cap - 1);
    m->slots[i] = (uint32_t) pos + 1;
}

/* Rebuilds m for the n entries of v, with room to grow. 0 / -1. */
static int
map_rebuild(struct map *m, void *const *v, name_fn name_of, size_t n)
{
    size_t cap = 16;
    uint32_t *slots;

    while (cap < 2 * (n + 1))
        cap *= 2;
    slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    for (size_t i = 0; i < n; i++)
        map_put(m, name_of(v, i), i);
    return 0;
}

/* Appends e (named name) to *v (n entries, capacity *capv) and m. */
static int
add_entry(void ***v, size_t *n, size_t *capv, struct map *m, name_fn name_of,
          void *e, const char *name)
{
    if (*n == *capv) {
        size_t cap = *capv ? 2 * *capv : 64;
        void **nv = realloc(*v, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        *v = nv;
        *capv = cap;
    }
    (*v)[(*n)++] = e;
    if (2 * (*n + 1) > m->cap)
        return map_rebuild(m, *v, name_of, *n);
    map_put(m, name, *n - 1);
    return 0;
}

/* --- windows ------------------------------------------------------------- */

struct slot {                 /* 1 min and 5 min buckets */
    uint16_t checks, ok, timed, pad;
    float    sum_ms, max_ms;
};

struct hslot {                /* hourly buckets: counts only */
    uint16_t checks, ok;
};

struct windows {
    int64_t      head[STATE_RES_COUNT];   /* newest bucket number */
    struct slot  m1[STATE_BUCKETS_1M];
    struct slot  m5[STATE_BUCKETS_5M];
    struct hslot h1[STATE_BUCKETS_1H];
};

static const int64_t res_width_s[STATE_RES_COUNT] = { 60, 300, 3600 };
static const size_t  res_count[STATE_RES_COUNT] = {
    STATE_BUCKETS_1M, STATE_BUCKETS_5M, STATE_BUCKETS_1H,
};

static void
res_clear(struct windows *w, int r, size_t i)
{
    if (r == STATE_RES_1M)
        memset(&w->m1[i], 0, sizeof(w->m1[i]));
    else if (r == STATE_RES_5M)
        memset(&w->m5[i], 0, sizeof(w->m5[i]));
    else
        memset(&w->h1[i], 0, sizeof(w->h1[i]));
}

/* The slot index of bucket b in ring r, or -1 when b is too old. */
static long
res_slot(struct windows *w, int r, int64_t b)
{
    int64_t n = (int64_t) res_count[r];

    if (b > w->head[r]) {
        int64_t clear = b - w->head[r] < n ? b - w->head[r] : n;
        for (int64_t k = 1; k <= clear; k++)
            res_clear(w, r, (size_t) ((b - clear + k) % n));
        w->head[r] = b;
    } else if (b <= w->head[r] - n) {
        return -1;
    }
    return (long) (b % n);
}

static void
slot_add(struct slot *s, int ok, double ms)
{
    if (s->checks < UINT16_MAX)
        s->checks++;
    if (ok && s->ok < UINT16_MAX)
        s->ok++;
    if (!isnan(ms) && ms >= 0 && s->timed < UINT16_MAX) {
        s->timed++;
        s->sum_ms += (float) ms;
        if ((float) ms > s->max_ms)
            s->max_ms = (float) ms;
    }
}

static void
windows_add(struct windows *w, int64_t ts_ns, int ok, double ms)
{
    int64_t secs = ts_ns / NS_PER_S;
    long i;

    if (secs <= 0)
        return;
    if ((i = res_slot(w, STATE_RES_1M, secs / 60)) >= 0)
        slot_add(&w->m1[i], ok, ms);
    if ((i = res_slot(w, STATE_RES_5M, secs / 300)) >= 0)
        slot_add(&w->m5[i], ok, ms);
    if ((i = res_slot(w, STATE_RES_1H, secs / 3600)) >= 0) {
        struct hslot *h = &w->h1[i];
        if (h->checks < UINT16_MAX)
            h->checks++;
        if (ok && h->ok < UINT16_MAX)
            h->ok++;
    }
}

/* --- the store ----------------------------------------------------------- */

struct integ {
    struct state_integration snap;
    struct windows           win;
};

struct group {
    struct state_failover snap;
};

/* Field keys, interned once. */
struct keys {
    const char *success, *status, *health_score, *response_ms, *status_code,
               *error, *reason, *consecutive_failures, *circuit,
               *failover_active, *error_budget_remaining,
               *error_budget_spent, *sla_availability_30d, *sla_compliant,
               *success_rate_24h, *uptime_30d, *p95_ms_1h, *vendor_status,
               *vendor_description, *dns_ms, *connect_ms, *tls_ms, *ttfb_ms,
               *transfer_ms;
};

struct state {
    pthread_mutex_t lock;
    pthread_cond_t  changed;      /* a check or an event came */
    int             waiters;

    struct integ  **integs;
    size_t          ninteg, capinteg;
    struct map      integ_map;

    struct state_alert **alerts;
    size_t          nalerts, capalerts, nresolved;
    struct map      alert_map;

    struct group  **groups;
    size_t          ngroups, capgroups;
    struct map      group_map;

    struct state_event ring[STATE_EVENTS_MAX];
    uint64_t        next_id;      /* the id the next event gets */
    uint64_t        records;
    struct keys     k;
};

static const char *
integ_name(void *const *v, size_t i)
{
    return ((struct integ *const *) v)[i]->snap.name;
}

static const char *
alert_name(void *const *v, size_t i)
{
    return ((struct state_alert *const *) v)[i]->id;
}

static const char *
group_name(void *const *v, size_t i)
{
    return ((struct group *const *) v)[i]->snap.group;
}

struct state *
state_new(void)
{
    struct state *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return NULL;
    pthread_mutex_init(&st->lock, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&st->changed, &ca);
        pthread_condattr_destroy(&ca);
    }
    st->next_id = 1;
#define K(f, s) st->k.f = outpost_intern(s)
    K(success, OUTPOST_F_SUCCESS);
    K(status, OUTPOST_F_STATUS);
    K(health_score, OUTPOST_F_HEALTH_SCORE);
    K(response_ms, OUTPOST_F_RESPONSE_MS);
    K(status_code, OUTPOST_F_STATUS_CODE);
    K(error, OUTPOST_F_ERROR);
    K(reason, OUTPOST_F_REASON);
    K(consecutive_failures, OUTPOST_F_CONSECUTIVE_FAILURES);
    K(circuit, OUTPOST_F_CIRCUIT);
    K(failover_active, OUTPOST_F_FAILOVER_ACTIVE);
    K(error_budget_remaining, OUTPOST_F_ERROR_BUDGET_REMAINING);
    K(error_budget_spent, "error_budget_spent");
    K(sla_availability_30d, "sla_availability_30d");
    K(sla_compliant, "sla_compliant");
    K(success_rate_24h, "success_rate_24h");
    K(uptime_30d, "uptime_30d");
    K(p95_ms_1h, "p95_ms_1h");
    K(vendor_status, OUTPOST_F_VENDOR_STATUS);
    K(vendor_description, OUTPOST_F_VENDOR_DESCRIPTION);
    K(dns_ms, OUTPOST_F_DNS_MS);
    K(connect_ms, OUTPOST_F_CONNECT_MS);
    K(tls_ms, OUTPOST_F_TLS_MS);
    K(ttfb_ms, OUTPOST_F_TTFB_MS);
    K(transfer_ms, OUTPOST_F_TRANSFER_MS);
#undef K
    return st;
}

void
state_free(struct state *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->ninteg; i++)
        free(st->integs[i]);
    for (size_t i = 0; i < st->nalerts; i++)
        free(st->alerts[i]);
    for (size_t i = 0; i < st->ngroups; i++)
        free(st->groups[i]);
    for (size_t i = 0; i < STATE_EVENTS_MAX; i++)
        free(st->ring[i].json);
    free(st->integs);
    free(st->alerts);
    free(st->groups);
    free(st->integ_map.slots);
    free(st->alert_map.slots);
    free(st->group_map.slots);
    pthread_cond_destroy(&st->changed);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* --- writing (under the pipeline lock, then the store's) ----------------- */

static void
check_reset(struct state_check *c)
{
    memset(c, 0, sizeof(*c));
    c->status = OUTPOST_STATUS_UNKNOWN;
    c->success = -1;
    c->health_score = c->response_ms = NAN;
    c->dns_ms = c->connect_ms = c->tls_ms = c->ttfb_ms = c->transfer_ms = NAN;
    c->status_code = -1;
    c->consecutive_failures = -1;
    c->circuit = -1;
    c->success_rate_24h = c->uptime_30d = c->p95_ms_1h = NAN;
    c->error_budget_remaining = c->error_budget_spent = NAN;
    c->sla_availability_30d = NAN;
    c->sla_compliant = -1;
}

static struct integ *
integ_get(struct state *st, const char *name, int create)
{
    long pos = map_find(&st->integ_map, (void *const *) st->integs,
                        integ_name, name);
    struct integ *e;

    if (pos >= 0)
        return st->integs[pos];
    if (!create || (e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    put(e->snap.name, sizeof(e->snap.name), name);
    check_reset(&e->snap.last);
    if (add_entry((void ***) &st->integs, &st->ninteg, &st->capinteg,
                  &st->integ_map, integ_name, e, e->snap.name) != 0) {
        free(e);
        return NULL;
    }
    return e;
}

static struct group *
group_get(struct state *st, const char *name)
{
    long pos = map_find(&st->group_map, (void *const *) st->groups,
                        group_name, name);
    struct group *g;

    if (pos >= 0)
        return st->groups[pos];
    if ((g = calloc(1, sizeof(*g))) == NULL)
        return NULL;
    put(g->snap.group, sizeof(g->snap.group), name);
    if (add_entry((void ***) &st->groups, &st->ngroups, &st->capgroups,
                  &st->group_map, group_name, g, g->snap.group) != 0) {
        free(g);
        return NULL;
    }
    return g;
}

/* The member named name of g (added when there is room), or NULL. */
static size_t
member_slot(struct state_failover *g, const char *name)
{
    for (size_t i = 0; i < g->nmembers; i++)
        if (strncmp(g->members[i].name, name, STATE_NAME_MAX - 1) == 0)
            return i;
    if (g->nmembers == STATE_GROUP_MEMBERS)
        return (size_t) -1;
    put(g->members[g->nmembers].name, STATE_NAME_MAX, name);
    g->members[g->nmembers].weight = NAN;
    return g->nmembers++;
}

static int
is_identity_tag(const char *k)
{
    return strcmp(k, OUTPOST_TAG_INTEGRATION) == 0
        || strcmp(k, OUTPOST_TAG_CATEGORY) == 0
        || strcmp(k, OUTPOST_TAG_PROVIDER) == 0
        || strcmp(k, OUTPOST_TAG_TIER) == 0
        || strcmp(k, OUTPOST_TAG_FAILOVER_GROUP) == 0
        || strcmp(k, OUTPOST_TAG_PRIORITY) == 0
        || strcmp(k, OUTPOST_TAG_WEIGHT) == 0
        || strcmp(k, OUTPOST_TAG_NOTIFY) == 0
        || strcmp(k, "instance") == 0;
}

static void
identity(struct state_integration *s, const outpost_record_t *rec)
{
    const outpost_tagset_t *ts = rec->tags;
    size_t n = outpost_tagset_count(ts), len = 0;

    put(s->input, sizeof(s->input), rec->name);
    put(s->category, sizeof(s->category),
        outpost_tagset_get(ts, OUTPOST_TAG_CATEGORY));
    put(s->provider, sizeof(s->provider),
        outpost_tagset_get(ts, OUTPOST_TAG_PROVIDER));
    put(s->tier, sizeof(s->tier), outpost_tagset_get(ts, OUTPOST_TAG_TIER));
    put(s->failover_group, sizeof(s->failover_group),
        outpost_tagset_get(ts, OUTPOST_TAG_FAILOVER_GROUP));
    s->tags[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const outpost_tag_t *t = outpost_tagset_at(ts, i);
        size_t kl = strlen(t->key), vl = strlen(t->value);

        if (is_identity_tag(t->key))
            continue;
        if (len + kl + vl + 3 > sizeof(s->tags))
            break;
        if (len > 0)
            s->tags[len++] = ',';
        memcpy(s->tags + len, t->key, kl);
        len += kl;
        s->tags[len++] = '=';
        memcpy(s->tags + len, t->value, vl);
        len += vl;
        s->tags[len] = '\0';
    }
}

static void
check_fields(const struct keys *k, struct state_check *c,
             const outpost_record_t *rec)
{
    for (uint16_t i = 0; i < rec->nfields; i++) {
        const outpost_field_t *f = &rec->fields[i];
        const char *key = f->key;

        if (key == k->success)
            c->success = outpost_field_number(f, 0) != 0;
        else if (key == k->status) {
            int s = outpost_status_parse(outpost_field_string(f));
            c->status = s < 0 ? OUTPOST_STATUS_UNKNOWN : s;
        }
        else if (key == k->health_score)
            c->health_score = outpost_field_number(f, NAN);
        else if (key == k->response_ms)
            c->response_ms = outpost_field_number(f, NAN);
        else if (key == k->status_code)
            c->status_code = (int) outpost_field_number(f, -1);
        else if (key == k->error)
            put(c->error, sizeof(c->error), outpost_field_string(f));
        else if (key == k->reason)
            put(c->reason, sizeof(c->reason), outpost_field_string(f));
        else if (key == k->consecutive_failures)
            c->consecutive_failures = (int64_t) outpost_field_number(f, -1);
        else if (key == k->circuit)
            c->circuit = outpost_circuit_parse(outpost_field_string(f));
        else if (key == k->failover_active)
            put(c->failover_active, sizeof(c->failover_active),
                outpost_field_string(f));
        else if (key == k->error_budget_remaining)
            c->error_budget_remaining = outpost_field_number(f, NAN);
        else if (key == k->error_budget_spent)
            c->error_budget_spent = outpost_field_number(f, NAN);
        else if (key == k->sla_availability_30d)
            c->sla_availability_30d = outpost_field_number(f, NAN);
        else if (key == k->sla_compliant)
            c->sla_compliant = outpost_field_number(f, 0) != 0;
        else if (key == k->success_rate_24h)
            c->success_rate_24h = outpost_field_number(f, NAN);
        else if (key == k->uptime_30d)
            c->uptime_30d = outpost_field_number(f, NAN);
        else if (key == k->p95_ms_1h)
            c->p95_ms_1h = outpost_field_number(f, NAN);
        else if (key == k->vendor_status)
            put(c->vendor_status, sizeof(c->vendor_status),
                outpost_field_string(f));
        else if (key == k->vendor_description)
            put(c->vendor_description, sizeof(c->vendor_description),
                outpost_field_string(f));
        else if (key == k->dns_ms)
            c->dns_ms = outpost_field_number(f, NAN);
        else if (key == k->connect_ms)
            c->connect_ms = outpost_field_number(f, NAN);
        else if (key == k->tls_ms)
            c->tls_ms = outpost_field_number(f, NAN);
        else if (key == k->ttfb_ms)
            c->ttfb_ms = outpost_field_number(f, NAN);
        else if (key == k->transfer_ms)
            c->transfer_ms = outpost_field_number(f, NAN);
    }
}

/* A measurement: the integration's latest check. */
static void
on_measurement(struct state *st, const outpost_record_t *rec,
               const char *name)
{
    struct integ *e = integ_get(st, name, 1);
    struct state_check c;
    struct state_integration *s;
    const struct keys *k = &st->k;
    int had;

    if (e == NULL)
        return;
    s = &e->snap;
    check_reset(&c);
    check_fields(k, &c, rec);
    had = outpost_record_field(rec, k->status) != NULL;
    if (!had && c.success >= 0)         /* no health filter */
        c.status = c.success ? OUTPOST_STATUS_HEALTHY : OUTPOST_STATUS_DOWN;
    if (c.circuit < 0)                  /* keep what the breaker said */
        c.circuit = s->last.circuit;
    c.ts_ns = rec->ts_ns;
    s->stale = 0;
    identity(s, rec);
    if (s->checks == 0 || c.status != s->last.status)
        s->status_since_ns = rec->ts_ns;
    s->last = c;
    s->checks++;
    s->seq++;
    s->version++;
    if (c.success == 0)
        s->failures++;
    if (c.success >= 0)
        windows_add(&e->win, rec->ts_ns, c.success == 1, c.response_ms);
    if (s->failover_group[0]) {
        struct group *g = group_get(st, s->failover_group);
        if (g) {
            member_slot(&g->snap, s->name);
            if (c.failover_active[0])
                put(g->snap.active, sizeof(g->snap.active),
                    c.failover_active);
        }
    }
}

static void
on_failover(struct state *st, const outpost_record_t *rec)
{
    const char *name = outpost_record_string(rec, "group");
    struct group *g;

    if (name == NULL
        && (name = outpost_record_tag(rec, OUTPOST_TAG_FAILOVER_GROUP)) == NULL)
        return;
    if ((g = group_get(st, name)) == NULL)
        return;
    put(g->snap.active, sizeof(g->snap.active),
        outpost_record_string(rec, "active"));
    put(g->snap.previous, sizeof(g->snap.previous),
        outpost_record_string(rec, "previous"));
    put(g->snap.strategy, sizeof(g->snap.strategy),
        outpost_record_string(rec, "strategy"));
    put(g->snap.reason, sizeof(g->snap.reason),
        outpost_record_string(rec, OUTPOST_F_REASON));
    g->snap.changed_ns = rec->ts_ns;
    for (uint16_t i = 0; i < rec->nfields; i++) {
        const outpost_field_t *f = &rec->fields[i];
        size_t m;

        if (strncmp(f->key, "weight.", 7) != 0)
            continue;
        m = member_slot(&g->snap, f->key + 7);
        if (m != (size_t) -1)
            g->snap.members[m].weight = outpost_field_number(f, NAN);
    }
}

/* Resolved alerts beyond RESOLVED_MAX, or older than a day, go. */
static void
prune_alerts(struct state *st, int64_t now)
{
    size_t w = 0, excess = st->nresolved > RESOLVED_MAX
                           ? st->nresolved - RESOLVED_MAX : 0;

    if (st->nresolved == 0)
        return;
    for (size_t i = 0; i < st->nalerts; i++) {
        struct state_alert *a = st->alerts[i];
        int old = a->status == STATE_ALERT_RESOLVED
                  && (excess > 0
                      || now - a->status_since_ns > RESOLVED_KEEP_NS);
        if (old) {
            excess -= excess > 0;
            st->nresolved--;
            free(a);
        } else {
            st->alerts[w++] = a;
        }
    }
    if (w != st->nalerts) {
        st->nalerts = w;
        map_rebuild(&st->alert_map, (void *const *) st->alerts, alert_name,
                    w);
    }
}

static void
on_alert(struct state *st, const outpost_record_t *rec)
{
    const char *key = rec->event->dedup_key, *action, *s;
    long pos;
    struct state_alert *a;
    int status, was;

    if (key == NULL || *key == '\0')
        return;
    pos = map_find(&st->alert_map, (void *const *) st->alerts, alert_name,
                   key);
    if (pos >= 0) {
        a = st->alerts[pos];
    } else {
        if (rec->event_kind == OUTPOST_EV_RESOLVE)
            return;             /* an alert this process never saw open */
        if ((a = calloc(1, sizeof(*a))) == NULL)
            return;
        put(a->id, sizeof(a->id), key);
        a->first_seen_ns = rec->ts_ns;
        a->status = -1;
        if (add_entry((void ***) &st->alerts, &st->nalerts, &st->capalerts,
                      &st->alert_map, alert_name, a, a->id) != 0) {
            free(a);
            return;
        }
    }
    action = outpost_record_string(rec, OUTPOST_F_ACTION);
    was = a->status;
    if (rec->event_kind == OUTPOST_EV_RESOLVE)
        status = STATE_ALERT_RESOLVED;
    else if ((action && strcmp(action, "acknowledge") == 0)
             || outpost_record_number(rec, "acknowledged", 0) != 0)
        status = STATE_ALERT_ACKNOWLEDGED;
    else
        status = STATE_ALERT_ACTIVE;
    if (was == STATE_ALERT_RESOLVED && status != STATE_ALERT_RESOLVED) {
        /* The same key opened again: a new alert. */
        st->nresolved--;
        a->first_seen_ns = rec->ts_ns;
        a->escalated = 0;
        a->acknowledged_by[0] = '\0';
    }
    if (status == STATE_ALERT_RESOLVED && was != STATE_ALERT_RESOLVED)
        st->nresolved++;
    if (status != was)
        a->status_since_ns = rec->ts_ns;
    a->status = status;
    a->last_seen_ns = rec->ts_ns;
    put(a->integration, sizeof(a->integration),
        outpost_record_tag(rec, OUTPOST_TAG_INTEGRATION));
    if ((s = outpost_record_string(rec, "condition")))
        put(a->condition, sizeof(a->condition), s);
    else if ((s = outpost_record_string(rec, "rule")))
        put(a->condition, sizeof(a->condition), s);
    if (rec->event_kind != OUTPOST_EV_RESOLVE)
        put(a->severity, sizeof(a->severity),
            outpost_severity_name(rec->severity));
    if ((s = outpost_record_string(rec, OUTPOST_F_PRIORITY)))
        put(a->priority, sizeof(a->priority), s);
    if ((s = outpost_record_string(rec, "acknowledged_by")))
        put(a->acknowledged_by, sizeof(a->acknowledged_by), s);
    if (outpost_record_field(rec, OUTPOST_F_OCCURRENCES))
        a->occurrences = (uint64_t) outpost_record_number(
            rec, OUTPOST_F_OCCURRENCES, 1);
    else if (a->occurrences == 0)
        a->occurrences = 1;
    a->muted = outpost_record_number(rec, OUTPOST_F_MUTED, 0) != 0;
    if (rec->event_kind == OUTPOST_EV_ESCALATE)
        a->escalated = 1;
    if (rec->event_kind == OUTPOST_EV_ALERT
        && (action == NULL || strcmp(action, "acknowledge") != 0))
        put(a->message, sizeof(a->message), rec->event->message);
    prune_alerts(st, rec->ts_ns);
}

static void
on_event(struct state *st, const outpost_record_t *rec, const char *name,
         char *json)
{
    struct state_event *ev = &st->ring[st->next_id % STATE_EVENTS_MAX];
    struct integ *e = name ? integ_get(st, name, 0) : NULL;
    const char *s;

    free(ev->json);
    ev->id = st->next_id++;
    ev->ts_ns = rec->ts_ns;
    ev->kind = rec->event_kind;
    ev->severity = rec->severity;
    put(ev->integration, sizeof(ev->integration), name);
    ev->json = json;
    if (e)
        e->snap.version++;             /* conservatively: any event */

    switch (rec->event_kind) {
    case OUTPOST_EV_STATE_CHANGE:
        s = outpost_record_string(rec, "to_status");
        if (e && s && outpost_status_parse(s) >= 0
            && outpost_status_parse(s) != e->snap.last.status) {
            e->snap.last.status = outpost_status_parse(s);
            e->snap.status_since_ns = rec->ts_ns;
        }
        if (e)
            e->snap.stale = outpost_record_number(rec, "stale", 0) != 0;
        break;
    case OUTPOST_EV_CIRCUIT:
        s = outpost_record_string(rec, OUTPOST_F_CIRCUIT);
        if (e && s)
            e->snap.last.circuit = outpost_circuit_parse(s);
        break;
    case OUTPOST_EV_FAILOVER:
        on_failover(st, rec);
        break;
    case OUTPOST_EV_ALERT:
    case OUTPOST_EV_RESOLVE:
    case OUTPOST_EV_ESCALATE:
        on_alert(st, rec);
        break;
    default:
        break;
    }
}

void
state_record(struct state *st, const outpost_record_t *rec)
{
    const char *name = outpost_record_tag(rec, OUTPOST_TAG_INTEGRATION);
    char *json = NULL;
    size_t len;

    if (rec->kind == OUTPOST_EVENT
        && outpost_record_to_json(rec, &json, &len) != 0)
        json = NULL;
    pthread_mutex_lock(&st->lock);
    st->records++;
    if (rec->kind == OUTPOST_MEASUREMENT) {
        if (name && (outpost_record_field(rec, st->k.success)
                     || outpost_record_field(rec, st->k.status)))
            on_measurement(st, rec, name);
    } else if (rec->event) {
        on_event(st, rec, name, json);
        json = NULL;
    }
    if (st->waiters > 0)
        pthread_cond_broadcast(&st->changed);
    pthread_mutex_unlock(&st->lock);
    free(json);
}

/* --- reading ------------------------------------------------------------- */

size_t
state_integrations(struct state *st, struct state_integration **out)
{
    struct state_integration *v = NULL;
    size_t n, i = 0;

    pthread_mutex_lock(&st->lock);
    n = st->ninteg;
    pthread_mutex_unlock(&st->lock);
    *out = NULL;
    if (n == 0 || (v = malloc(n * sizeof(*v))) == NULL)
        return 0;
    /* Entries never move and are only appended: copy in chunks, letting
     * the writer in between. */
    while (i < n) {
        pthread_mutex_lock(&st->lock);
        for (size_t end = i + COPY_CHUNK; i < n && i < end; i++)
            v[i] = st->integs[i]->snap;
        pthread_mutex_unlock(&st->lock);
    }
    *out = v;
    return n;
}

int
state_integration(struct state *st, const char *name,
                  struct state_integration *out)
{
    struct integ *e;

    pthread_mutex_lock(&st->lock);
    e = integ_get(st, name, 0);
    if (e)
        *out = e->snap;
    pthread_mutex_unlock(&st->lock);
    return e ? 0 : -1;
}

size_t
state_history(struct state *st, const char *name, enum state_res res,
              struct state_bucket *out, size_t count)
{
    int64_t width = res_width_s[res], now_b;
    int64_t n = (int64_t) res_count[res];
    struct integ *e;

    if (count > res_count[res])
        count = res_count[res];
    now_b = outpost_time_now() / NS_PER_S / width;
    pthread_mutex_lock(&st->lock);
    e = integ_get(st, name, 0);
    if (e == NULL) {
        pthread_mutex_unlock(&st->lock);
        return 0;
    }
    for (size_t k = 0; k < count; k++) {
        int64_t b = now_b - (int64_t) (count - 1 - k);
        struct state_bucket *o = &out[k];
        size_t i = (size_t) (((b % n) + n) % n);

        memset(o, 0, sizeof(*o));
        o->start_s = b * width;
        o->avg_ms = o->max_ms = NAN;
        if (b > e->win.head[res] || b <= e->win.head[res] - n)
            continue;
        if (res == STATE_RES_1H) {
            o->checks = e->win.h1[i].checks;
            o->ok = e->win.h1[i].ok;
        } else {
            const struct slot *s = res == STATE_RES_1M ? &e->win.m1[i]
                                                       : &e->win.m5[i];
            o->checks = s->checks;
            o->ok = s->ok;
            if (s->timed > 0) {
                o->avg_ms = (double) s->sum_ms / s->timed;
                o->max_ms = s->max_ms;
            }
        }
    }
    pthread_mutex_unlock(&st->lock);
    return count;
}

size_t
state_alerts(struct state *st, struct state_alert **out)
{
    struct state_alert *v;
    size_t n;

    *out = NULL;
    pthread_mutex_lock(&st->lock);
    prune_alerts(st, outpost_time_now());
    n = st->nalerts;
    v = n ? malloc(n * sizeof(*v)) : NULL;
    for (size_t i = 0; v && i < n; i++)
        v[i] = *st->alerts[i];
    pthread_mutex_unlock(&st->lock);
    *out = v;
    return v ? n : 0;
}

int
state_alert(struct state *st, const char *id, struct state_alert *out)
{
    long pos;

    pthread_mutex_lock(&st->lock);
    pos = map_find(&st->alert_map, (void *const *) st->alerts, alert_name,
                   id);
    if (pos >= 0)
        *out = *st->alerts[pos];
    pthread_mutex_unlock(&st->lock);
    return pos >= 0 ? 0 : -1;
}

size_t
state_failover(struct state *st, struct state_failover **out)
{
    struct state_failover *v;
    size_t n;

    *out = NULL;
    pthread_mutex_lock(&st->lock);
    n = st->ngroups;
    v = n ? malloc(n * sizeof(*v)) : NULL;
    for (size_t i = 0; v && i < n; i++)
        v[i] = st->groups[i]->snap;
    pthread_mutex_unlock(&st->lock);
    *out = v;
    return v ? n : 0;
}

size_t
state_events_after(struct state *st, uint64_t after, size_t max,
                   struct state_event **out, int *gap)
{
    struct state_event *v = NULL;
    uint64_t oldest, last;
    size_t n = 0;

    *out = NULL;
    if (gap)
        *gap = 0;
    pthread_mutex_lock(&st->lock);
    last = st->next_id - 1;
    oldest = st->next_id > STATE_EVENTS_MAX ? st->next_id - STATE_EVENTS_MAX
                                            : 1;
    if (after > last)           /* an id of an earlier process */
        after = 0;
    if (after + 1 < oldest) {
        if (gap && after > 0)
            *gap = 1;
        after = oldest - 1;
    }
    if (last > after && max > 0) {
        size_t want = (size_t) (last - after) < max ? (size_t) (last - after)
                                                    : max;
        v = calloc(want, sizeof(*v));
        for (uint64_t id = after + 1; v && n < want; id++) {
            const struct state_event *e = &st->ring[id % STATE_EVENTS_MAX];
            v[n] = *e;
            v[n].json = e->json ? strdup(e->json) : NULL;
            n++;
        }
    }
    pthread_mutex_unlock(&st->lock);
    *out = v;
    return v ? n : 0;
}

void
state_events_free(struct state_event *ev, size_t n)
{
    for (size_t i = 0; ev && i < n; i++)
        free(ev[i].json);
    free(ev);
}

static void
deadline_ts(struct timespec *ts, int64_t deadline_ms)
{
    ts->tv_sec = deadline_ms / 1000;
    ts->tv_nsec = (deadline_ms % 1000) * 1000000;
}

uint64_t
state_wait_event(struct state *st, uint64_t after, int64_t timeout_ms)
{
    struct timespec ts;
    uint64_t last;

    deadline_ts(&ts, clock_mono_ms() + timeout_ms);
    pthread_mutex_lock(&st->lock);
    st->waiters++;
    while (st->next_id - 1 <= after
           && pthread_cond_timedwait(&st->changed, &st->lock, &ts) == 0)
        ;
    st->waiters--;
    last = st->next_id - 1;
    pthread_mutex_unlock(&st->lock);
    return last;
}

int
state_wait_check(struct state *st, const char *name, uint64_t after_seq,
                 int64_t deadline_ms, struct state_integration *out)
{
    struct timespec ts;
    struct integ *e;
    int rc = -1;

    deadline_ts(&ts, deadline_ms);
    pthread_mutex_lock(&st->lock);
    st->waiters++;
    for (;;) {
        e = integ_get(st, name, 0);
        if (e && e->snap.seq > after_seq) {
            *out = e->snap;
            rc = 0;
            break;
        }
        if (pthread_cond_timedwait(&st->changed, &st->lock, &ts) != 0)
            break;
    }
    st->waiters--;
    pthread_mutex_unlock(&st->lock);
    return rc;
}

void
state_get_stats(struct state *st, struct state_stats *out)
{
    pthread_mutex_lock(&st->lock);
    out->integrations = st->ninteg;
    out->groups = st->ngroups;
    out->alerts_open = st->nalerts - st->nresolved;
    out->records = st->records;
    out->last_event_id = st->next_id - 1;
    out->oldest_event_id = st->next_id == 1 ? 0
                           : st->next_id > STATE_EVENTS_MAX
                           ? st->next_id - STATE_EVENTS_MAX : 1;
    pthread_mutex_unlock(&st->lock);
}

void
state_seed_alert(struct state *st, const struct state_alert *a)
{
    struct state_alert *n;

    pthread_mutex_lock(&st->lock);
    if (map_find(&st->alert_map, (void *const *) st->alerts, alert_name,
                 a->id) < 0 && (n = malloc(sizeof(*n))) != NULL) {
        *n = *a;
        n->id[sizeof(n->id) - 1] = '\0';
        if (n->status == STATE_ALERT_RESOLVED)
            n->status = STATE_ALERT_ACTIVE;
        if (add_entry((void ***) &st->alerts, &st->nalerts, &st->capalerts,
                      &st->alert_map, alert_name, n, n->id) != 0)
            free(n);
    }
    pthread_mutex_unlock(&st->lock);
}
