/*
 * metrics_store.c - what GET /metrics needs beyond the state store, kept
 * from every record that leaves the filter chain (rules in metrics.h).
 *
 * Layout: entries in the order first seen (a growing array of pointers)
 * and an open-addressing index over them by name (FNV-1a, linear probing,
 * at most half full). Both change only under `mu`; a renderer copies the
 * pointer array under `mu` and reads the entries after dropping it.
 *
 * What a measurement adds (fields.h names):
 *   response_ms and the five phase timings -> rt[phase] (us);
 *   success -> checks, failures (absent: an overloaded agent measured
 *     nothing, so it is not a check);
 *   cert_expiry_days, sla_availability_target, ratelimit_*remaining* ->
 *     the last value.
 * What an event adds: an alert opened -> alerts[severity]; a failover ->
 * the group's counter.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include "metrics_internal.h"

const char *const metrics_phase_names[METRICS_PHASES] = {
    "total", "dns", "connect", "tls", "ttfb", "transfer",
};

static const char *const phase_fields[METRICS_PHASES] = {
    OUTPOST_F_RESPONSE_MS, OUTPOST_F_DNS_MS, OUTPOST_F_CONNECT_MS,
    OUTPOST_F_TLS_MS, OUTPOST_F_TTFB_MS, OUTPOST_F_TRANSFER_MS,
};

struct store {
    pthread_mutex_t    mu;
    struct ms_entry  **entries;
    size_t             n, cap;
    struct ms_entry  **index;           /* cap_index slots, NULL: free */
    size_t             cap_index;
    struct ms_group  **groups;
    size_t             ngroups;
    char             **retired;         /* replaced label strings */
    size_t             nretired;
    _Atomic uint64_t   alerts[MS_SEVERITIES];
};

static struct store store = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* --- small helpers -------------------------------------------------------- */

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void
store_double(ms_double_t *d, double v)
{
    uint64_t bits;

    memcpy(&bits, &v, sizeof(bits));
    atomic_store_explicit(d, bits, memory_order_relaxed);
}

static int
same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static char *
dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* The label set of an entry, escaped, malloc'ed. */
static char *
make_labels(const char *name, const char *cat, const char *prov,
            const char *tier)
{
    static const char *const keys[4] = {
        "integration=\"", "\",category=\"", "\",provider=\"", "\",tier=\"",
    };
    const char *vals[4] = { name, cat, prov, tier };
    struct mbuf b = { 0 };

    for (int i = 0; i < 4; i++) {
        mbuf_add(&b, keys[i], strlen(keys[i]));
        metrics_escape(&b, vals[i] ? vals[i] : "");
    }
    mbuf_add(&b, "\"", 1);
    return mbuf_take(&b);
}

/* 'integration="name"', escaped, malloc'ed. */
static char *
name_label(const char *name)
{
    struct mbuf b = { 0 };

    mbuf_add(&b, "integration=\"", 13);
    metrics_escape(&b, name);
    mbuf_add(&b, "\"", 1);
    return mbuf_take(&b);
}

/* v escaped for a label value, malloc'ed. */
static char *
escaped(const char *v)
{
    struct mbuf b = { 0 };

    metrics_escape(&b, v);
    return mbuf_take(&b);
}

/* --- the index ------------------------------------------------------------- */

static struct ms_entry **
slot_of(struct ms_entry **index, size_t cap, const char *name, uint64_t h)
{
    size_t i = (size_t) h & (cap - 1);

    while (index[i] != NULL && (index[i]->hash != h
                                || strcmp(index[i]->name, name) != 0))
        i = (i + 1) & (cap - 1);
    return &index[i];
}

static int
index_grow(struct store *s)
{
    size_t cap = s->cap_index ? s->cap_index * 2 : 256;
    struct ms_entry **index = calloc(cap, sizeof(*index));

    if (index == NULL)
        return -1;
    for (size_t i = 0; i < s->n; i++)
        *slot_of(index, cap, s->entries[i]->name, s->entries[i]->hash)
            = s->entries[i];
    free(s->index);
    s->index = index;
    s->cap_index = cap;
    return 0;
}

static void
entry_free(struct ms_entry *e)
{
    free(e->name);
    free(e->name_label);
    free((char *) atomic_load(&e->labels));
    free(e->category);
    free(e->provider);
    free(e->tier);
    for (size_t i = 0; i < MS_LIMITS; i++)
        free((char *) e->limits[i].label);
    free(e);
}

static struct ms_entry *
entry_new(const char *name, uint64_t h, const char *cat, const char *prov,
          const char *tier)
{
    struct ms_entry *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->name = strdup(name);
    e->hash = h;
    e->category = dup_or_empty(cat);
    e->provider = dup_or_empty(prov);
    e->tier = dup_or_empty(tier);
    atomic_init(&e->labels, make_labels(name, cat, prov, tier));
    e->name_label = name_label(name);
    if (e->name == NULL || e->name_label == NULL || e->category == NULL
        || e->provider == NULL
        || e->tier == NULL || atomic_load(&e->labels) == NULL) {
        entry_free(e);
        return NULL;
    }
    for (size_t i = 0; i < METRICS_PHASES; i++)
        metrics_hist_init(&e->rt[i], &metrics_bounds_response);
    store_double(&e->cert_days, NAN);
    store_double(&e->sla_target, NAN);
    return e;
}

/* The entry for name, made when first seen. Under s->mu. */
static struct ms_entry *
lookup(struct store *s, const char *name, const char *cat, const char *prov,
       const char *tier)
{
    uint64_t h = fnv1a(name);
    struct ms_entry **slot, *e;

    if (s->cap_index) {
        slot = slot_of(s->index, s->cap_index, name, h);
        if (*slot)
            return *slot;
    }
    if ((s->n + 1) * 2 > s->cap_index && index_grow(s) != 0)
        return NULL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct ms_entry **v = realloc(s->entries, cap * sizeof(*v));

        if (v == NULL)
            return NULL;
        s->entries = v;
        s->cap = cap;
    }
    e = entry_new(name, h, cat, prov, tier);
    if (e == NULL)
        return NULL;
    *slot_of(s->index, s->cap_index, name, h) = e;
    s->entries[s->n++] = e;
    return e;
}

/* A tag changed (a reload gave the instance another tier): new labels.
 * The old string stays readable until the store is reset (rule 3).
 * Under s->mu. */
static void
relabel(struct store *s, struct ms_entry *e, const char *cat,
        const char *prov, const char *tier)
{
    char *labels = make_labels(e->name, cat, prov, tier);
    char **v = realloc(s->retired, (s->nretired + 1) * sizeof(*v));
    char *c = dup_or_empty(cat), *p = dup_or_empty(prov);
    char *t = dup_or_empty(tier);

    if (v)
        s->retired = v;
    if (labels == NULL || v == NULL || c == NULL || p == NULL || t == NULL) {
        free(labels);
        free(c);
        free(p);
        free(t);
        return;                 /* keep the old labels */
    }
    s->retired[s->nretired++] = (char *) atomic_exchange(&e->labels, labels);
    free(e->category);
    free(e->provider);
    free(e->tier);
    e->category = c;
    e->provider = p;
    e->tier = t;
}

/* --- observing -------------------------------------------------------------- */

/* "ratelimit_remaining_requests" -> "requests", "ratelimit_tokens_remaining"
 * -> "tokens", "ratelimit_remaining" -> "requests"; NULL when the field is
 * not headroom. */
static char *
limit_label(const char *field)
{
    const char *rest = field + strlen(OUTPOST_F_RATELIMIT_PREFIX);
    const char *rem = strstr(rest, "remaining");
    char buf[96];
    size_t n = 0;

    if (rem == NULL)
        return NULL;
    for (const char *p = rest; *p && n + 1 < sizeof(buf); p++) {
        if (p == rem) {
            p += strlen("remaining") - 1;
            continue;
        }
        buf[n++] = *p;
    }
    buf[n] = '\0';
    /* Trim the underscores "remaining" left behind. */
    while (n > 0 && buf[n - 1] == '_')
        buf[--n] = '\0';
    for (n = 0; buf[n] == '_'; n++)
        ;
    return escaped(buf[n] ? buf + n : "requests");
}

/* Writer only (entries' limits change under the pipeline lock and mu). */
static void
note_limit(struct ms_entry *e, const outpost_field_t *f)
{
    size_t n = atomic_load_explicit(&e->nlimits, memory_order_relaxed);
    double v = outpost_field_number(f, NAN);
    char *label;

    if (isnan(v))
        return;
    for (size_t i = 0; i < n; i++)
        if (e->limits[i].field == f->key) {     /* interned: == is enough */
            store_double(&e->limits[i].value, v);
            return;
        }
    if (n == MS_LIMITS || (label = limit_label(f->key)) == NULL)
        return;
    e->limits[n].field = f->key;
    e->limits[n].label = label;
    store_double(&e->limits[n].value, v);
    /* Published last: a reader that sees n + 1 sees the slot filled. */
    atomic_store_explicit(&e->nlimits, n + 1, memory_order_release);
}

static void
observe_measurement(struct store *s, const outpost_record_t *rec)
{
    const char *name = outpost_record_tag(rec, OUTPOST_TAG_INTEGRATION);
    const char *cat = outpost_record_tag(rec, OUTPOST_TAG_CATEGORY);
    const char *prov = outpost_record_tag(rec, OUTPOST_TAG_PROVIDER);
    const char *tier = outpost_record_tag(rec, OUTPOST_TAG_TIER);
    const outpost_field_t *ok = outpost_record_field(rec, OUTPOST_F_SUCCESS);
    size_t plen = strlen(OUTPOST_F_RATELIMIT_PREFIX);
    struct ms_entry *e;

    /* Only checks: a statuspage input's own measurement has no time. */
    if (name == NULL || ok == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    e = lookup(s, name, cat, prov, tier);
    if (e && (!same(e->category, cat) || !same(e->provider, prov)
              || !same(e->tier, tier)))
        relabel(s, e, cat, prov, tier);
    if (e)
        for (size_t i = 0; i < rec->nfields; i++)
            if (strncmp(rec->fields[i].key, OUTPOST_F_RATELIMIT_PREFIX,
                        plen) == 0)
                note_limit(e, &rec->fields[i]);
    pthread_mutex_unlock(&s->mu);
    if (e == NULL)
        return;

    atomic_fetch_add_explicit(&e->checks, 1, memory_order_relaxed);
    if (!outpost_field_number(ok, 0))
        atomic_fetch_add_explicit(&e->failures, 1, memory_order_relaxed);
    for (size_t i = 0; i < METRICS_PHASES; i++) {
        double ms = outpost_record_number(rec, phase_fields[i], NAN);

        if (!isnan(ms) && ms >= 0)
            metrics_hist_observe(&e->rt[i], (uint64_t) llround(ms * 1000));
    }
    {
        double d = outpost_record_number(rec, OUTPOST_F_CERT_EXPIRY_DAYS,
                                         NAN);
        double t = outpost_record_number(rec,
                                         OUTPOST_F_SLA_AVAILABILITY_TARGET,
                                         NAN);
        if (!isnan(d))
            store_double(&e->cert_days, d);
        if (!isnan(t))
            store_double(&e->sla_target, t);
    }
}

static void
observe_failover(struct store *s, const outpost_record_t *rec)
{
    const char *group = outpost_record_tag(rec, OUTPOST_TAG_FAILOVER_GROUP);
    struct ms_group *g = NULL, **v;
    char *esc;

    if (group == NULL || (esc = escaped(group)) == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->ngroups && g == NULL; i++)
        if (strcmp(s->groups[i]->name, esc) == 0)
            g = s->groups[i];
    if (g == NULL && (v = realloc(s->groups,
                                  (s->ngroups + 1) * sizeof(*v))) != NULL) {
        s->groups = v;
        if ((g = calloc(1, sizeof(*g))) != NULL) {
            g->name = esc;
            esc = NULL;
            s->groups[s->ngroups++] = g;
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(esc);
    if (g)
        atomic_fetch_add_explicit(&g->events, 1, memory_order_relaxed);
}

void
metrics_observe(const outpost_record_t *rec)
{
    struct store *s = &store;

    if (rec->kind == OUTPOST_MEASUREMENT) {
        observe_measurement(s, rec);
        return;
    }
    switch (rec->event_kind) {
    case OUTPOST_EV_ALERT: {
        const char *act = outpost_record_string(rec, OUTPOST_F_ACTION);

        if (act && strcmp(act, "open") == 0 && rec->severity >= 1
            && rec->severity <= MS_SEVERITIES)
            atomic_fetch_add_explicit(&s->alerts[rec->severity - 1], 1,
                                      memory_order_relaxed);
        break;
    }
    case OUTPOST_EV_FAILOVER:
        observe_failover(s, rec);
        break;
    default:
        break;
    }
}

/* --- reading ---------------------------------------------------------------- */

int
ms_view(struct ms_view *v)
{
    struct store *s = &store;
    int rc = 0;

    memset(v, 0, sizeof(*v));
    pthread_mutex_lock(&s->mu);
    if (s->n && (v->entries = malloc(s->n * sizeof(*v->entries))) == NULL)
        rc = -1;
    if (s->ngroups
        && (v->groups = malloc(s->ngroups * sizeof(*v->groups))) == NULL)
        rc = -1;
    if (rc == 0) {
        if (s->n)
            memcpy(v->entries, s->entries, s->n * sizeof(*v->entries));
        if (s->ngroups)
            memcpy(v->groups, s->groups, s->ngroups * sizeof(*v->groups));
        v->nentries = s->n;
        v->ngroups = s->ngroups;
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < MS_SEVERITIES; i++)
        v->alerts[i] = atomic_load_explicit(&s->alerts[i],
                                            memory_order_relaxed);
    if (rc != 0)
        ms_view_free(v);
    return rc;
}

void
ms_view_free(struct ms_view *v)
{
    free(v->entries);
    free(v->groups);
    memset(v, 0, sizeof(*v));
}

void
metrics_store_reset(void)
{
    struct store *s = &store;

    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        entry_free(s->entries[i]);
    for (size_t i = 0; i < s->ngroups; i++) {
        free(s->groups[i]->name);
        free(s->groups[i]);
    }
    for (size_t i = 0; i < s->nretired; i++)
        free(s->retired[i]);
    free(s->entries);
    free(s->index);
    free(s->groups);
    free(s->retired);
    s->entries = NULL;
    s->index = NULL;
    s->groups = NULL;
    s->retired = NULL;
    s->n = s->cap = s->cap_index = s->ngroups = s->nretired = 0;
    for (size_t i = 0; i < MS_SEVERITIES; i++)
        atomic_store(&s->alerts[i], 0);
    pthread_mutex_unlock(&s->mu);
}
