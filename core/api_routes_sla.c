/*
 * api_routes_sla.c - GET /api/v1/sla?period=30d and GET /api/v1/failover.
 *
 * SLA: per integration, the availability over the period from the
 * store's windows (5-minute buckets up to 24 h, hourly beyond), next to
 * what the sla filter says on each check (its own 30-day window:
 * compliance, error budget); per tier, the same summed up. Failover: each
 * group's active provider, the shares of traffic the failover filter
 * gave, and each member's status.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "api_internal.h"
#include "state.h"

struct tier_sum {
    const char *tier;
    uint64_t    checks, ok;
    size_t      n, compliant, known;
    double      budget_min;
};

static void
availability(struct state *st, const char *name, int64_t period_s,
             struct state_bucket *b, uint64_t *checks, uint64_t *ok)
{
    enum state_res res = period_s <= 86400 ? STATE_RES_5M : STATE_RES_1H;
    int64_t width = res == STATE_RES_5M ? 300 : 3600;
    size_t count = (size_t) ((period_s + width - 1) / width);
    size_t n = state_history(st, name, res, b, count);

    *checks = *ok = 0;
    for (size_t i = 0; i < n; i++) {
        *checks += b[i].checks;
        *ok += b[i].ok;
    }
}

static void
sla(const struct api_request *req, struct api_response *res, void *arg)
{
    struct state *st = api_state(api_req_api(req));
    int64_t period = api_period_s(api_req_query(req, "period"), 30 * 86400);
    struct state_integration *v;
    struct state_bucket *b;
    struct tier_sum *tiers;
    size_t n, ntiers = 0;
    struct jw w;

    (void) arg;
    if (period < 0 || period > 30 * 86400) {
        api_reply_error(res, 400, "period must be like 24h, 7d or 30d (at "
                        "most 30d)");
        return;
    }
    n = state_integrations(st, &v);
    b = malloc(STATE_BUCKETS_1H * sizeof(*b));
    tiers = calloc(n + 1, sizeof(*tiers));
    if (b == NULL || tiers == NULL) {
        free(v);
        free(b);
        free(tiers);
        api_reply_error(res, 503, "out of memory");
        return;
    }
    jw_init(&w, 256 + n * 300);
    jw_obj(&w);
    jw_key(&w, "period_s");
    jw_int(&w, period);
    jw_key(&w, "integrations");
    jw_arr(&w);
    for (size_t i = 0; i < n; i++) {
        const struct state_check *c = &v[i].last;
        const char *tier = v[i].tier[0] ? v[i].tier : "none";
        uint64_t checks, ok;
        size_t t;

        availability(st, v[i].name, period, b, &checks, &ok);
        for (t = 0; t < ntiers && strcmp(tiers[t].tier, tier) != 0; t++)
            ;
        if (t == ntiers) {
            tiers[ntiers].tier = tier;
            tiers[ntiers++].budget_min = NAN;
        }
        tiers[t].n++;
        tiers[t].checks += checks;
        tiers[t].ok += ok;
        if (c->sla_compliant >= 0) {
            tiers[t].known++;
            tiers[t].compliant += (size_t) c->sla_compliant;
        }
        if (!isnan(c->error_budget_remaining)
            && (isnan(tiers[t].budget_min)
                || c->error_budget_remaining < tiers[t].budget_min))
            tiers[t].budget_min = c->error_budget_remaining;
        jw_obj(&w);
        jw_key(&w, "name");
        jw_str(&w, v[i].name);
        jw_key(&w, "tier");
        jw_str_or_null(&w, v[i].tier);
        jw_key(&w, "checks");
        jw_int(&w, (int64_t) checks);
        jw_key(&w, "availability");
        jw_num(&w, checks ? (double) ok / (double) checks : NAN);
        jw_key(&w, "compliant");
        if (c->sla_compliant >= 0)
            jw_bool(&w, c->sla_compliant);
        else
            jw_null(&w);
        jw_key(&w, "availability_30d");
        jw_num(&w, c->sla_availability_30d);
        jw_key(&w, "error_budget_remaining");
        jw_num(&w, c->error_budget_remaining);
        jw_key(&w, "error_budget_spent");
        jw_num(&w, c->error_budget_spent);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "tiers");
    jw_arr(&w);
    for (size_t t = 0; t < ntiers; t++) {
        jw_obj(&w);
        jw_key(&w, "tier");
        jw_str(&w, tiers[t].tier);
        jw_key(&w, "integrations");
        jw_int(&w, (int64_t) tiers[t].n);
        jw_key(&w, "compliant");
        jw_int(&w, (int64_t) tiers[t].compliant);
        jw_key(&w, "not_compliant");
        jw_int(&w, (int64_t) (tiers[t].known - tiers[t].compliant));
        jw_key(&w, "checks");
        jw_int(&w, (int64_t) tiers[t].checks);
        jw_key(&w, "availability");
        jw_num(&w, tiers[t].checks ? (double) tiers[t].ok
                                     / (double) tiers[t].checks : NAN);
        jw_key(&w, "error_budget_remaining_min");
        jw_num(&w, tiers[t].budget_min);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "generated_at");
    jw_time(&w, outpost_time_now());
    jw_obj_end(&w);
    free(v);
    free(b);
    free(tiers);
    jw_reply(&w, res, 200);
}

static void
failover(const struct api_request *req, struct api_response *res, void *arg)
{
    struct state *st = api_state(api_req_api(req));
    struct state_failover *g;
    size_t n = state_failover(st, &g);
    struct jw w;

    (void) arg;
    jw_init(&w, 256 + n * 1024);
    jw_obj(&w);
    jw_key(&w, "groups");
    jw_arr(&w);
    for (size_t i = 0; i < n; i++) {
        jw_obj(&w);
        jw_key(&w, "group");
        jw_str(&w, g[i].group);
        jw_key(&w, "active");
        jw_str_or_null(&w, g[i].active);
        jw_key(&w, "previous");
        jw_str_or_null(&w, g[i].previous);
        jw_key(&w, "strategy");
        jw_str_or_null(&w, g[i].strategy);
        jw_key(&w, "reason");
        jw_str_or_null(&w, g[i].reason);
        jw_key(&w, "changed_at");
        jw_time(&w, g[i].changed_ns);
        jw_key(&w, "members");
        jw_arr(&w);
        for (size_t m = 0; m < g[i].nmembers; m++) {
            struct state_integration s;
            int known = state_integration(st, g[i].members[m].name, &s) == 0;

            jw_obj(&w);
            jw_key(&w, "name");
            jw_str(&w, g[i].members[m].name);
            jw_key(&w, "weight");
            jw_num(&w, g[i].members[m].weight);
            jw_key(&w, "active");
            jw_bool(&w, strcmp(g[i].members[m].name, g[i].active) == 0);
            jw_key(&w, "status");
            jw_str(&w, outpost_status_name(known ? s.last.status
                                                 : OUTPOST_STATUS_UNKNOWN));
            jw_key(&w, "circuit");
            jw_str(&w, known && s.last.circuit >= 0
                       ? outpost_circuit_name(s.last.circuit) : NULL);
            jw_obj_end(&w);
        }
        jw_arr_end(&w);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "count");
    jw_int(&w, (int64_t) n);
    jw_obj_end(&w);
    free(g);
    jw_reply(&w, res, 200);
}

void
api_routes_sla(struct api *api)
{
    api_route(api, "GET", "/api/v1/sla", 0, sla, NULL);
    api_route(api, "GET", "/api/v1/failover", 0, failover, NULL);
}
