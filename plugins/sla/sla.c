/*
 * sla.c - the `sla` filter: per integration, availability, average
 * response, error rate and MTTR over rolling windows (window.c) and the
 * calendar month; compliance with the tier's targets; the error budget
 * left and when it runs out at the current burn rate; and multiwindow
 * burn-rate alerts (SRE Workbook, "Alerting on SLOs", table 5-8) as
 * `alert` / `resolve` events.
 *
 * State is one fixed-size slot per integration, saved like the health
 * filter's, so a restart keeps 30 days of windows and does not re-send an
 * alert that is already firing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "sla.h"

#define STATE_FILE    "sla.state"
#define STATE_VERSION 1
#define NS            1000000000LL
#define MS            1000000LL
#define FORGET_NS     (31LL * 86400 * NS)

#define O(f) offsetof(struct sla_conf, f)
#define DAY_MS 86400000.0

/* The three targets of one tier, e.g. enterprise_availability_target. */
#define TIER_OPTIONS(t)                                                    \
    { #t "_availability_target", OUTPOST_OPT_FLOAT, O(t##_availability),    \
      NULL, "availability_target for tier " #t, 0, 1, 99.9999, NULL },      \
    { #t "_response_target", OUTPOST_OPT_DURATION, O(t##_response_ms),      \
      NULL, "response_target for tier " #t, 0, 1, DAY_MS, NULL },           \
    { #t "_error_rate_target", OUTPOST_OPT_FLOAT, O(t##_error_rate),        \
      NULL, "error_rate_target for tier " #t, 0, 0.0001, 100, NULL }

static const outpost_option_t sla_options[] = {
    { "default_tier", OUTPOST_OPT_ENUM, O(default_tier), "basic",
      "tier of integrations without a tier tag", 0, 0, 0,
      "basic|professional|enterprise" },
    { "availability_target", OUTPOST_OPT_FLOAT, O(availability_target),
      NULL, "availability target in percent, for every tier (default: "
      "the tier's: 99.0, 99.5, 99.9)", 0, 1, 99.9999, NULL },
    { "response_target", OUTPOST_OPT_DURATION, O(response_target_ms), NULL,
      "average response time target, for every tier (default: the "
      "tier's: 1000ms, 750ms, 500ms)", 0, 1, DAY_MS, NULL },
    { "error_rate_target", OUTPOST_OPT_FLOAT, O(error_rate_target), NULL,
      "error rate target in percent, for every tier (default: the "
      "tier's: 2, 1.5, 0.5)", 0, 0.0001, 100, NULL },
    TIER_OPTIONS(basic),
    TIER_OPTIONS(professional),
    TIER_OPTIONS(enterprise),
    { "compliance_window", OUTPOST_OPT_ENUM, O(compliance_window), "30d",
      "the window that decides sla_compliant and the error budget",
      0, 0, 0, "30d|7d|24h|month" },
    { "burn_rate_alerts", OUTPOST_OPT_BOOL, O(burn_alerts), "true",
      "emit multiwindow burn-rate alert and resolve events", 0, 0, 0, NULL },
    { "burn_min_checks", OUTPOST_OPT_INT, O(burn_min_checks), "30",
      "checks a long window must hold before its burn rate can alert (a "
      "new integration's first failure is not a page)", 0, 1, 1e9, NULL },
    { "burn_min_coverage", OUTPOST_OPT_FLOAT, O(burn_min_coverage), "0.5",
      "fraction of a long window the integration's checks must span before "
      "its burn rate can alert (minutes of history are not an hour)",
      0, 0, 1, NULL },
    { "burn_resolve_ratio", OUTPOST_OPT_FLOAT, O(burn_resolve_ratio),
      "0.5", "a firing burn-rate alert resolves once either window burns "
      "at most this fraction of the rule's rate", 0, 0.01, 1, NULL },
    { "save_interval", OUTPOST_OPT_DURATION, O(save_interval_ms), "1m",
      "how often state is saved (and always at shutdown)",
      0, 1000, DAY_MS, NULL },
    OUTPOST_OPTION_END
};

const char *const sla_tier_names[3] = { "basic", "professional",
                                        "enterprise" };

static const struct sla_targets tier_targets[3] = {
    [TIER_BASIC]        = { 0.990, 1000, 0.020 },
    [TIER_PROFESSIONAL] = { 0.995,  750, 0.015 },
    [TIER_ENTERPRISE]   = { 0.999,  500, 0.005 },
};

/* Page on a fast burn, ticket a slow one; the short window is 1/12 of the
 * long one so an alert stops soon after the burning does. */
static const struct burn_rule {
    const char        *name;          /* in the dedup key */
    int                long_w, short_w;
    double             factor;
    outpost_severity_t severity;
    const char        *action;
} burn_rules[] = {
    { "burn_1h", W_1H, W_5M,  14.4, OUTPOST_SEV_CRITICAL, "page" },
    { "burn_6h", W_6H, W_30M,  6.0, OUTPOST_SEV_ERROR,    "page" },
    { "burn_3d", W_3D, W_6H,   1.0, OUTPOST_SEV_WARNING,  "ticket" },
};

struct sla {
    struct rolling_table *table;
    struct rolling_state *state;                   /* sla.state */
    int64_t               last_save_ns;
    int64_t               month_start, month_end;  /* cached month */
    int32_t               month;
    int                   default_tier;
    int                   budget_window;           /* W_*, W_COUNT: month */
    const char           *k_success, *k_status, *k_response_ms;
};

/* --- targets and budget -------------------------------------------------- */

/* The tier's defaults, then the instance's targets, then the tier's own
 * options: the most specific setting wins. */
struct sla_targets
sla_targets_for(const struct sla_conf *c, int tier)
{
    struct sla_targets t = tier_targets[tier];
    double a = 0, e = 0;
    int64_t r = 0;

    switch (tier) {
    case TIER_BASIC:
        a = c->basic_availability;
        r = c->basic_response_ms;
        e = c->basic_error_rate;
        break;
    case TIER_PROFESSIONAL:
        a = c->professional_availability;
        r = c->professional_response_ms;
        e = c->professional_error_rate;
        break;
    case TIER_ENTERPRISE:
        a = c->enterprise_availability;
        r = c->enterprise_response_ms;
        e = c->enterprise_error_rate;
        break;
    }
    a = a > 0 ? a : c->availability_target;
    r = r > 0 ? r : c->response_target_ms;
    e = e > 0 ? e : c->error_rate_target;
    if (a > 0)
        t.availability = a / 100.0;
    if (r > 0)
        t.response_ms = (double) r;
    if (e > 0)
        t.error_rate = e / 100.0;
    return t;
}

int
sla_budget_window_of(const char *name)
{
    for (int w = 0; w < W_COUNT; w++)
        if (strcmp(name, sla_windows[w].name) == 0)
            return w;
    return W_COUNT;                         /* "month" */
}

const struct sla_sums *
sla_budget_window(int which, const struct sla_slot *s, int64_t month_seconds,
                  int64_t *seconds)
{
    if (which == W_COUNT) {
        *seconds = month_seconds;
        return &s->month_sums;
    }
    *seconds = sla_windows[which].seconds;
    return &s->win[which];
}

static int
tier_of(const char *tag, int def)
{
    for (int i = 0; i < 3; i++)
        if (tag && strcmp(tag, sla_tier_names[i]) == 0)
            return i;
    return def;
}

/* How many times faster than "exactly spend the budget over the period"
 * the window burns it. */
double
sla_burn_rate(const struct sla_sums *w, const struct sla_targets *t)
{
    if (w->checks == 0)
        return 0.0;
    return ((double) w->bad / w->checks) / (1.0 - t->availability);
}

/* Budget spent / budget: 0 untouched, 1 all spent, over 1 overspent. */
double
sla_budget_spent(const struct sla_sums *w, const struct sla_targets *t)
{
    double allowed = (1.0 - t->availability) * w->checks;

    return w->checks ? w->bad / allowed : 0.0;
}

/* The part of the budget left, in [0, 1]: an overspent budget is 0 left,
 * and sla_budget_spent() says by how much. */
double
sla_budget_remaining(const struct sla_sums *w, const struct sla_targets *t)
{
    double left = 1.0 - sla_budget_spent(w, t);

    return left > 0 ? left : 0.0;
}

/* "42% of the error budget left", or how far over it went. */
static void
budget_text(double spent, char *buf, size_t len)
{
    if (spent < 1.0)
        snprintf(buf, len, "%.0f%% of the error budget left",
                 (1.0 - spent) * 100.0);
    else if (spent < 1.005)
        snprintf(buf, len, "the error budget is spent");
    else
        snprintf(buf, len, "the error budget is spent and overspent by "
                 "%.0f%%", (spent - 1.0) * 100.0);
}

/* --- burn-rate alerts ---------------------------------------------------- */

const char *
sla_burn_rule(unsigned i)
{
    return i < ROLLING_LEN(burn_rules) ? burn_rules[i].name : NULL;
}

static void
emit_burn(struct rolling_entry *e, outpost_record_t *rec,
          outpost_emitter_t *out, const struct burn_rule *r, int firing,
          double long_rate, double short_rate, double spent)
{
    const struct sla_window_def *lw = &sla_windows[r->long_w];
    const struct sla_window_def *sw = &sla_windows[r->short_w];
    char msg[512], key[300], budget[96];
    outpost_record_t *ev;

    budget_text(spent, budget, sizeof(budget));
    if (firing)
        snprintf(msg, sizeof(msg), "%s is burning its error budget %.1fx "
                 "over %s and %.1fx over %s (%s threshold %.1fx); %s",
                 e->name, long_rate, lw->name, short_rate, sw->name,
                 r->action, r->factor, budget);
    else
        snprintf(msg, sizeof(msg), "%s error budget burn has slowed to "
                 "%.1fx over %s and %.1fx over %s (%s threshold %.1fx)",
                 e->name, long_rate, lw->name, short_rate, sw->name,
                 r->action, r->factor);
    snprintf(key, sizeof(key), "outpost/%s/sla/%s", e->name, r->name);
    /* A resolve is good news: severity info, the alert's own kept as its
     * priority. */
    ev = outpost_event_new(firing ? OUTPOST_EV_ALERT : OUTPOST_EV_RESOLVE,
                           firing ? r->severity : OUTPOST_SEV_INFO, rec, msg,
                           key);
    if (ev == NULL)
        return;
    outpost_record_add_str(ev, OUTPOST_F_PRIORITY, outpost_priority_name(
                               outpost_severity_priority(r->severity)));
    outpost_record_add_str(ev, "rule", r->name);
    outpost_record_add_str(ev, OUTPOST_F_ACTION, r->action);
    outpost_record_add_float(ev, "burn_rate_long", long_rate);
    outpost_record_add_float(ev, "burn_rate_short", short_rate);
    outpost_record_add_float(ev, "burn_rate_threshold", r->factor);
    outpost_record_add_str(ev, "long_window", lw->name);
    outpost_record_add_str(ev, "short_window", sw->name);
    outpost_record_add_float(ev, OUTPOST_F_ERROR_BUDGET_REMAINING,
                             spent < 1.0 ? 1.0 - spent : 0.0);
    outpost_record_add_float(ev, "error_budget_spent", spent);
    outpost_emit(out, ev);
}

/*
 * A rule opens only when all of these hold, so that a few minutes of
 * history or a recovered integration never page:
 *   - the long window holds burn_min_checks checks AND its checks span
 *     burn_min_coverage of it (four minutes of checks are not "the last
 *     hour", however many there are);
 *   - both windows burn faster than the rule's factor;
 *   - the check at hand is bad: an integration that is up now is not
 *     burning now, whatever its windows still remember.
 * It resolves once either window burns under factor * burn_resolve_ratio.
 */
static void
check_burn(const struct sla_conf *c, struct rolling_entry *e,
           outpost_record_t *rec, outpost_emitter_t *out,
           const struct sla_targets *t, int bad_now, double spent)
{
    struct sla_slot *s = rolling_slot(e);

    for (size_t i = 0; i < ROLLING_LEN(burn_rules); i++) {
        const struct burn_rule *r = &burn_rules[i];
        const struct sla_sums *lw = &s->win[r->long_w];
        double lr = sla_burn_rate(lw, t);
        double sr = sla_burn_rate(&s->win[r->short_w], t);
        int was = (s->firing >> i) & 1, fire;

        /* A few probes a minute make the short window jumpy: a firing
         * rule holds until a window drops well under its rate, not just
         * under it, so it does not flap between two failed checks. */
        if (was) {
            double floor = r->factor * c->burn_resolve_ratio;
            fire = lr > floor && sr > floor;
        } else
            fire = bad_now && lw->checks >= (uint64_t) c->burn_min_checks
                   && lr > r->factor && sr > r->factor
                   && sla_window_span_s(s, r->long_w)
                      >= c->burn_min_coverage
                         * (double) sla_windows[r->long_w].seconds;
        if (fire == was)
            continue;
        s->firing ^= (uint8_t) (1u << i);
        emit_burn(e, rec, out, r, fire, lr, sr, spent);
    }
}

/* --- process ------------------------------------------------------------- */

/* Turns a check into a sample and follows outages for MTTR. Availability
 * follows the health filter's status when it ran (down includes checks
 * over down_latency); without it, a failed check is unavailable. */
static void
make_sample(struct sla_slot *s, const outpost_record_t *rec, int ok,
            const char *status, double ms, struct sla_sample *x)
{
    memset(x, 0, sizeof(*x));
    x->ns = rec->ts_ns;
    x->error = !ok;
    x->bad = status ? strcmp(status, "down") == 0 : !ok;
    x->ms = ms;
    if (x->bad && !s->in_outage) {
        s->in_outage = 1;
        s->outage_ns = x->ns;
    } else if (!x->bad && s->in_outage) {
        s->in_outage = 0;
        x->recovered = 1;
        x->repair_s = x->ns > s->outage_ns ? (x->ns - s->outage_ns) / NS : 0;
    }
}

static int32_t
month_of(struct sla *sla, int64_t ns)
{
    if (ns < sla->month_start || ns >= sla->month_end)
        sla->month = sla_month_of(ns, &sla->month_start, &sla->month_end);
    return sla->month;
}

static void
add_fields(outpost_record_t *rec, const struct sla_slot *s,
           const struct sla_targets *t, const struct sla_sums *bw,
           int64_t period_s, double spent)
{
    double remaining = spent < 1.0 ? 1.0 - spent : 0.0;
    double rate = sla_burn_rate(&s->win[W_1H], t);
    int compliant = sla_availability(bw) >= t->availability
                    && sla_avg_ms(bw) <= t->response_ms
                    && sla_error_rate(bw) <= t->error_rate;

    outpost_record_add_float(rec, "sla_availability_30d",
                             sla_availability(&s->win[W_30D]));
    outpost_record_add_bool(rec, "sla_compliant", compliant);
    outpost_record_add_float(rec, OUTPOST_F_SLA_AVAILABILITY_TARGET,
                             t->availability);
    outpost_record_add_float(rec, OUTPOST_F_ERROR_BUDGET_REMAINING, remaining);
    outpost_record_add_float(rec, "error_budget_spent", spent);
    /* The forecast, only while the budget burns: burn rate 1 spends the
     * whole budget in one period. */
    if (remaining <= 0)
        outpost_record_add_int(rec, "error_budget_exhausted_in_s", 0);
    else if (rate > 0)
        outpost_record_add_int(rec, "error_budget_exhausted_in_s",
                               (int64_t) (remaining * period_s / rate));
}

static int
sla_process(outpost_instance_t *inst, outpost_record_t *rec,
            outpost_emitter_t *out)
{
    struct sla *sla = outpost_instance_data(inst);
    const struct sla_conf *c = outpost_instance_conf(inst);
    const outpost_field_t *success;
    const char *status;
    struct rolling_entry *e;
    struct sla_slot *s;
    struct sla_sample x;
    struct sla_targets t;
    const struct sla_sums *bw;
    int64_t period_s;
    double spent;
    int retagged;

    if (rec->kind != OUTPOST_MEASUREMENT)
        return OUTPOST_PASS;
    rolling_table_prefetch(sla->table, rec);  /* while the fields are read */
    if ((success = lookup_field(rec, sla->k_success)) == NULL)
        return OUTPOST_PASS;
    status = lookup_str(rec, sla->k_status);
    if (status && strcmp(status, "unknown") == 0)
        return OUTPOST_PASS;    /* e.g. credentials missing: not counted */
    if ((e = rolling_table_get_rec(sla->table, rec, &retagged)) == NULL)
        return OUTPOST_PASS;    /* no integration tag (or ENOMEM) */
    s = rolling_slot(e);
    sla_prefetch(s, rec->ts_ns);
    if (retagged)
        s->tier = (uint8_t) tier_of(outpost_record_tag(rec, OUTPOST_TAG_TIER),
                                    sla->default_tier);
    if (rec->ts_ns > s->last_ns)
        s->last_ns = rec->ts_ns;
    make_sample(s, rec, outpost_field_number(success, 0) != 0, status,
                lookup_num(rec, sla->k_response_ms, 0),
                &x);
    sla_add(s, &x, month_of(sla, rec->ts_ns));

    t = sla_targets_for(c, s->tier);
    bw = sla_budget_window(sla->budget_window, s,
                           (sla->month_end - sla->month_start) / NS,
                           &period_s);
    spent = sla_budget_spent(bw, &t);
    if (c->burn_alerts)
        check_burn(c, e, rec, out, &t, x.bad, spent);
    add_fields(rec, s, &t, bw, period_s, spent);
    return OUTPOST_PASS;
}

/* --- persistence --------------------------------------------------------- */

/* Forget integrations not heard of for a month: most likely removed from
 * the config. */
static int
keep_slot(const char *name, void *slot, void *arg)
{
    const struct sla_slot *s = slot;

    (void) name;
    return !(s->last_ns > 0 && *(int64_t *) arg - s->last_ns > FORGET_NS);
}

/* --- lifecycle ----------------------------------------------------------- */

static int
sla_init(outpost_instance_t *inst)
{
    const struct sla_conf *c = outpost_instance_conf(inst);
    struct sla *sla = calloc(1, sizeof(*sla));

    if (sla == NULL
        || (sla->table = rolling_table_new(sizeof(struct sla_slot))) == NULL) {
        free(sla);
        return -1;
    }
    sla->default_tier = tier_of(c->default_tier, TIER_BASIC);
    sla->budget_window = sla_budget_window_of(c->compliance_window);
    sla->k_success = outpost_intern(OUTPOST_F_SUCCESS);
    sla->k_status = outpost_intern(OUTPOST_F_STATUS);
    sla->k_response_ms = outpost_intern(OUTPOST_F_RESPONSE_MS);
    sla->last_save_ns = outpost_time_now();
    sla->state = rolling_state_open(inst, STATE_FILE, STATE_VERSION);
    rolling_state_load(sla->state, sla->table, keep_slot,
                       &sla->last_save_ns);
    month_of(sla, sla->last_save_ns);
    outpost_instance_set_data(inst, sla);
    return 0;
}

static void
sla_tick(outpost_instance_t *inst, outpost_emitter_t *out)
{
    struct sla *sla = outpost_instance_data(inst);
    const struct sla_conf *c = outpost_instance_conf(inst);
    int64_t now = outpost_time_now();

    (void) out;
    if (rolling_state_tick(sla->state, sla->table,
                           now - sla->last_save_ns >= c->save_interval_ms * MS))
        sla->last_save_ns = now;
}

static int
sla_control(outpost_instance_t *inst, const char *cmd, const char *args,
            outpost_emitter_t *out, char **reply)
{
    struct sla *sla = outpost_instance_data(inst);

    (void) out;
    if (strcmp(cmd, "stats") == 0) {
        if (asprintf(reply, "{\"integrations\":%zu,\"state_bytes\":%zu}",
                     rolling_table_count(sla->table),
                     rolling_table_bytes(sla->table)) < 0) {
            *reply = NULL;
            return -1;
        }
        return 0;
    }
    if (strcmp(cmd, "report") != 0) {
        *reply = strdup("{\"error\":\"unknown command; try report or "
                        "stats\"}");
        return -1;
    }
    return sla_report(outpost_instance_conf(inst), sla->table, args,
                      outpost_time_now(), reply);
}

static void
sla_shutdown(outpost_instance_t *inst)
{
    struct sla *sla = outpost_instance_data(inst);

    if (sla == NULL)
        return;
    rolling_state_close(sla->state, sla->table);
    rolling_table_free(sla->table);
    free(sla);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "sla",
    .description = "SLA windows, compliance, error budget and multiwindow "
                   "burn-rate alerts per integration and tier",
    .kind = OUTPOST_FILTER,
    .options = sla_options,
    .conf_size = sizeof(struct sla_conf),
    .init = sla_init,
    .process = sla_process,
    .tick = sla_tick,
    .control = sla_control,
    .shutdown = sla_shutdown,
};
