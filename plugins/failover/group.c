/*
 * group.c - see group.h for the model. The invariant decide() keeps:
 * active is -1 or an index into members, and the shares of a decided group
 * add up to 1 (or are all 0 when no member is eligible).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include "group.h"

const char *
fo_status_name(enum fo_status s)
{
    return outpost_status_name(s);
}

enum fo_status
fo_status_parse(const char *s)
{
    int st = outpost_status_parse(s);

    return st < 0 ? FO_UNKNOWN : (enum fo_status) st;
}

const char *
fo_circuit_name(enum fo_circuit c)
{
    return outpost_circuit_name(c);
}

enum fo_circuit
fo_circuit_parse(const char *s)
{
    int c = outpost_circuit_parse(s);

    return c < 0 ? FO_CLOSED : (enum fo_circuit) c;
}

const char *
fo_strategy_name(enum fo_strategy s)
{
    return s == FO_WEIGHTED ? "weighted" : "primary_secondary";
}

struct fo_group *
fo_group_new(const char *name)
{
    struct fo_group *g = calloc(1, sizeof(*g));

    if (g == NULL || (g->name = strdup(name)) == NULL) {
        free(g);
        return NULL;
    }
    g->active = g->previous = -1;
    return g;
}

void
fo_group_free(struct fo_group *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->members[i].name);
        outpost_tagset_unref(g->members[i].tags);
    }
    free(g->members);
    free(g->name);
    free(g);
}

struct fo_member *
fo_group_member(struct fo_group *g, const char *name)
{
    struct fo_member *m;

    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->members[i].name, name) == 0)
            return &g->members[i];
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4;
        m = realloc(g->members, cap * sizeof(*m));
        if (m == NULL)
            return NULL;
        g->members = m;
        g->cap = cap;
    }
    m = &g->members[g->n];
    memset(m, 0, sizeof(*m));
    if ((m->name = strdup(name)) == NULL)
        return NULL;
    m->weight = 1.0;
    g->n++;
    return m;
}

int
fo_group_index(const struct fo_group *g, const struct fo_member *m)
{
    return (int) (m - g->members);
}

int
fo_member_status_ok(const struct fo_params *p, const struct fo_member *m)
{
    return m->status == FO_HEALTHY
           || (m->status == FO_DEGRADED && !p->avoid_degraded);
}

int
fo_member_eligible(const struct fo_params *p, const struct fo_member *m)
{
    if (m->circuit == FO_OPEN)
        return 0;
    if (m->circuit == FO_HALF_OPEN
        && (p->strategy != FO_WEIGHTED || p->half_open_weight <= 0))
        return 0;
    return fo_member_status_ok(p, m) || m->bad_streak < p->failover_after;
}

void
fo_member_observe(const struct fo_params *p, struct fo_member *m,
                  int64_t now_ns)
{
    int ok = fo_member_status_ok(p, m);

    m->bad_streak = ok ? 0 : m->bad_streak + 1;
    if (!fo_member_eligible(p, m)) {
        m->seen_bad = 1;
        m->usable = 0;
        m->ok_streak = 0;
        return;
    }
    if (!ok) {                  /* tolerated for now, but not good */
        m->ok_streak = 0;
        return;
    }
    if (m->ok_streak++ == 0)
        m->ok_since_ns = now_ns;
    /* A member that never failed needs no probation. */
    if (!m->seen_bad
        || (m->ok_streak >= p->failback_after
            && now_ns - m->ok_since_ns >= p->failback_hold_ns))
        m->usable = 1;
}

/* Does a come before b in preference order (priority, then name)? */
static int
before(const struct fo_member *a, const struct fo_member *b)
{
    if (a->priority != b->priority)
        return a->priority < b->priority;
    return strcmp(a->name, b->name) < 0;
}

static int
in_pool(const struct fo_params *p, const struct fo_member *m, int usable)
{
    return usable ? m->usable && fo_member_eligible(p, m)
                  : fo_member_eligible(p, m);
}

static int
first_in_pool(const struct fo_params *p, const struct fo_group *g,
              int usable)
{
    int best = -1;

    for (size_t i = 0; i < g->n; i++)
        if (in_pool(p, &g->members[i], usable)
            && (best < 0 || before(&g->members[i], &g->members[best])))
            best = (int) i;
    return best;
}

/* primary_secondary: the first member by priority, but a better-priority
 * member only displaces an active one that can still serve. */
static int
choose_primary(const struct fo_params *p, struct fo_group *g)
{
    int usable = 1, cand = first_in_pool(p, g, 1);

    if (cand < 0) {
        usable = 0;
        cand = first_in_pool(p, g, 0);
    }
    if (g->active >= 0 && cand >= 0 && cand != g->active) {
        struct fo_member *a = &g->members[g->active];
        if (in_pool(p, a, usable)
            && g->members[cand].priority >= a->priority)
            cand = g->active;
    }
    for (size_t i = 0; i < g->n; i++)
        g->members[i].share = (int) i == cand ? 1.0 : 0.0;
    return cand;
}

static double
raw_weight(const struct fo_params *p, const struct fo_member *m, int usable)
{
    double w;

    if (!in_pool(p, m, usable))
        return 0.0;
    w = m->weight * m->score;
    if (m->circuit == FO_HALF_OPEN)
        w *= p->half_open_weight;
    return w > 0 ? w : 0.0;
}

/* weighted: shares proportional to weight x health_score; the active
 * provider (the one to name in a single-provider view) is the largest
 * share, kept unless another is clearly larger. */
static int
choose_weighted(const struct fo_params *p, struct fo_group *g)
{
    double sum = 0;
    int usable = 1, cand = -1;

    for (size_t i = 0; i < g->n; i++)
        sum += raw_weight(p, &g->members[i], 1);
    if (sum <= 0) {
        usable = 0;
        for (size_t i = 0; i < g->n; i++)
            sum += raw_weight(p, &g->members[i], 0);
    }
    for (size_t i = 0; i < g->n; i++) {
        struct fo_member *m = &g->members[i];
        m->share = sum > 0 ? raw_weight(p, m, usable) / sum : 0.0;
        if (m->share > 0 && (cand < 0 || m->share > g->members[cand].share
                             || (m->share == g->members[cand].share
                                 && before(m, &g->members[cand]))))
            cand = (int) i;
    }
    if (g->active >= 0 && cand >= 0 && cand != g->active
        && g->members[g->active].share > 0
        && g->members[g->active].share
           >= g->members[cand].share - p->weight_change)
        cand = g->active;
    return cand;
}

static void
explain(struct fo_group *g, const struct fo_params *p, int cand)
{
    const struct fo_member *old = g->active >= 0 ? &g->members[g->active]
                                                 : NULL;
    const struct fo_member *new = cand >= 0 ? &g->members[cand] : NULL;

    if (new == NULL)
        snprintf(g->reason, sizeof(g->reason), "no provider available");
    else if (old == NULL)
        snprintf(g->reason, sizeof(g->reason), "%s is %s", new->name,
                 fo_status_name(new->status));
    else if (old->circuit == FO_OPEN)
        snprintf(g->reason, sizeof(g->reason), "%s circuit is open",
                 old->name);
    else if (!fo_member_eligible(p, old))
        snprintf(g->reason, sizeof(g->reason), "%s is %s", old->name,
                 old->circuit == FO_HALF_OPEN
                     ? fo_circuit_name(FO_HALF_OPEN)
                     : fo_status_name(old->status));
    else if (p->strategy == FO_WEIGHTED)
        snprintf(g->reason, sizeof(g->reason), "%s has the largest share",
                 new->name);
    else
        snprintf(g->reason, sizeof(g->reason), "%s is %s",
                 new->name, new->seen_bad ? "back" : "preferred");
}

enum fo_change
fo_group_decide(const struct fo_params *p, struct fo_group *g,
                int64_t now_ns)
{
    int cand = p->strategy == FO_WEIGHTED ? choose_weighted(p, g)
                                          : choose_primary(p, g);
    int moved = 0;

    /* Nothing to report until some member can take traffic: at start-up
     * the other members may simply not have been checked yet. */
    if (!g->decided && cand < 0)
        return FO_NO_CHANGE;
    for (size_t i = 0; i < g->n; i++)
        if (fabs(g->members[i].share - g->members[i].reported)
            > p->weight_change)
            moved = 1;
    if (g->decided && cand == g->active && !moved)
        return FO_NO_CHANGE;
    for (size_t i = 0; i < g->n; i++)
        g->members[i].reported = g->members[i].share;
    if (g->decided && cand == g->active)
        return FO_REWEIGHTED;
    explain(g, p, cand);
    g->previous = g->active;
    g->active = cand;
    g->since_ns = now_ns;
    g->decided = 1;
    return FO_SWITCHED;
}
