/*
 * report.c - the sla filter's `report` command: every window of one
 * integration (args {"integration": "name"}) or of all of them, as JSON,
 * for the HTTP API (/api/v1/sla) and for operators.
 *
 * Windows are read as of now: the rings are moved to the current time
 * first, so an integration that went quiet shows its windows emptying.
 */
#include <string.h>
#include <jansson.h>
#include "sla.h"

#define NS 1000000000LL

static json_t *
window_json(const struct sla_sums *w, const struct sla_targets *t)
{
    double avail = sla_availability(w), avg = sla_avg_ms(w);
    double err = sla_error_rate(w);

    return json_pack("{s:I, s:f, s:f, s:f, s:I, s:f, s:f, s:{s:b, s:b, s:b}}",
                     "checks", (json_int_t) w->checks,
                     "availability", avail,
                     "avg_ms", avg,
                     "error_rate", err,
                     "recoveries", (json_int_t) w->recoveries,
                     "mttr_s", sla_mttr_s(w),
                     "burn_rate", sla_burn_rate(w, t),
                     "meets",
                       "availability", avail >= t->availability,
                       "response", avg <= t->response_ms,
                       "error_rate", err <= t->error_rate);
}

static json_t *
entry_json(const struct sla_conf *c, struct rolling_entry *e, int64_t now,
           int32_t month, int64_t month_s)
{
    struct sla_slot *s = rolling_slot(e);
    struct sla_targets t = sla_targets_for(c, s->tier);
    const struct sla_sums *bw;
    json_t *o, *wins, *firing;
    int64_t period_s;
    double remaining, spent, rate;

    sla_advance(s, now);
    if (s->month != month) {            /* quiet since last month */
        memset(&s->month_sums, 0, sizeof(s->month_sums));
        s->month = month;
    }
    bw = sla_budget_window(sla_budget_window_of(c->compliance_window), s,
                           month_s, &period_s);
    remaining = sla_budget_remaining(bw, &t);
    spent = sla_budget_spent(bw, &t);
    rate = sla_burn_rate(&s->win[W_1H], &t);

    wins = json_object();
    for (int w = 0; w < W_COUNT; w++)
        json_object_set_new(wins, sla_windows[w].name,
                            window_json(&s->win[w], &t));
    json_object_set_new(wins, "month", window_json(&s->month_sums, &t));
    firing = json_array();
    for (unsigned i = 0; sla_burn_rule(i); i++)
        if (s->firing & (1u << i))
            json_array_append_new(firing, json_string(sla_burn_rule(i)));

    o = json_pack("{s:s, s:s, s:{s:f, s:f, s:f}, s:s, s:b, s:f, s:f, s:f}",
                  "integration", e->name,
                  "tier", sla_tier_names[s->tier],
                  "targets", "availability", t.availability,
                             "response_ms", t.response_ms,
                             "error_rate", t.error_rate,
                  "compliance_window", c->compliance_window,
                  "compliant", sla_availability(bw) >= t.availability
                               && sla_avg_ms(bw) <= t.response_ms
                               && sla_error_rate(bw) <= t.error_rate,
                  "error_budget_remaining", remaining,
                  "error_budget_spent", spent,
                  "burn_rate_1h", rate);
    if (o == NULL) {
        json_decref(wins);
        json_decref(firing);
        return NULL;
    }
    if (remaining <= 0 || rate > 0)
        json_object_set_new(o, "error_budget_exhausted_in_s", json_integer(
            remaining <= 0 ? 0 : (json_int_t) (remaining * period_s / rate)));
    json_object_set_new(o, "windows", wins);
    json_object_set_new(o, "alerts_firing", firing);
    return o;
}

int
sla_report(const struct sla_conf *c, struct rolling_table *table,
           const char *args, int64_t now, char **reply)
{
    json_t *a = json_loads(args ? args : "{}", 0, NULL), *r;
    const char *only = NULL;
    int64_t start, end;
    int32_t month = sla_month_of(now, &start, &end);

    if (a && json_is_object(a))
        only = json_string_value(json_object_get(a, "integration"));
    if (only) {
        struct rolling_entry *e = rolling_table_find(table, only);
        if (e == NULL) {
            json_decref(a);
            *reply = strdup("{\"error\":\"no such integration\"}");
            return -1;
        }
        r = entry_json(c, e, now, month, (end - start) / NS);
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < rolling_table_count(table); i++)
            json_array_append_new(list, entry_json(c,
                rolling_table_at(table, i), now, month, (end - start) / NS));
        r = json_pack("{s:o}", "integrations", list);
    }
    json_decref(a);
    *reply = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    return *reply ? 0 : -1;
}
