/*
 * metrics.c - GET /metrics rendered as Prometheus text (format 0.0.4):
 * every family has its HELP and TYPE lines, then its samples; families
 * never interleave. docs/metrics.md lists them; a test compares.
 *
 * Cost: the text for 10,000 integrations is tens of megabytes, most of it
 * the response-time histograms. It is written into one growing buffer
 * (doubled as needed, so a scrape does a handful of reallocs) with no
 * printf on the hot path: label sets are escaped once (by the metrics
 * store per integration, or once per scrape for the state store's copy)
 * and copied with memcpy, integers and fixed-point numbers are formatted
 * by hand. Nothing here holds a lock while it writes: the state store and
 * the agent hand over copies, the metrics store's entries are read with
 * atomics (metrics.h).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include "metrics_internal.h"
#include "state.h"

/* --- the buffer -------------------------------------------------------------- */

void
mbuf_free(struct mbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

int
mbuf_reserve(struct mbuf *b, size_t n)
{
    size_t cap;
    char *p;

    if (b->failed)
        return -1;
    if (b->len + n + 1 <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
        cap *= 2;
    if ((p = realloc(b->p, cap)) == NULL) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void
mbuf_add(struct mbuf *b, const char *s, size_t n)
{
    if (n == 0 || mbuf_reserve(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

char *
mbuf_take(struct mbuf *b)
{
    char *p;

    if (mbuf_reserve(b, 0) != 0) {
        mbuf_free(b);
        return NULL;
    }
    b->p[b->len] = '\0';
    p = b->p;
    memset(b, 0, sizeof(*b));
    return p;
}

#define ADD(b, lit) mbuf_add((b), (lit), sizeof(lit) - 1)

static void
add_str(struct mbuf *b, const char *s)
{
    mbuf_add(b, s, strlen(s));
}

void
metrics_escape(struct mbuf *b, const char *v)
{
    size_t n = strlen(v);

    if (mbuf_reserve(b, 2 * n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];

        if (c == '\\' || c == '"') {
            b->p[b->len++] = '\\';
            b->p[b->len++] = c;
        } else if (c == '\n') {
            b->p[b->len++] = '\\';
            b->p[b->len++] = 'n';
        } else {
            b->p[b->len++] = c;
        }
    }
}

/* --- numbers ------------------------------------------------------------------ */

static void
add_u64(struct mbuf *b, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof(tmp);

    do {
        tmp[--n] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    mbuf_add(b, tmp + n, sizeof(tmp) - n);
}

/* whole.frac with frac of `digits` digits, trailing zeros dropped. */
static void
add_fixed(struct mbuf *b, int neg, uint64_t whole, uint64_t frac,
          int digits)
{
    char tmp[24];
    int n = digits;

    if (neg)
        ADD(b, "-");
    add_u64(b, whole);
    while (n > 0 && frac % 10 == 0) {
        frac /= 10;
        n--;
    }
    if (n == 0)
        return;
    tmp[0] = '.';
    for (int i = n; i >= 1; i--) {
        tmp[i] = (char) ('0' + frac % 10);
        frac /= 10;
    }
    mbuf_add(b, tmp, (size_t) n + 1);
}

/* Microseconds as seconds, exactly. */
static void
add_us_seconds(struct mbuf *b, uint64_t us)
{
    add_fixed(b, 0, us / 1000000, us % 1000000, 6);
}

/* A float: nine decimals below 1e9 (ratios, days, seconds), three up to
 * 1e15 (Unix times in ms), else what %.17g says. Fixed point, since
 * printf is most of the cost of a page of numbers. */
static void
add_double(struct mbuf *b, double v)
{
    char tmp[40];
    int n;

    if (isnan(v)) {
        ADD(b, "NaN");
        return;
    }
    if (isinf(v)) {
        if (v > 0)
            ADD(b, "+Inf");
        else
            ADD(b, "-Inf");
        return;
    }
    if (fabs(v) < 1e9) {
        double a = fabs(v);
        uint64_t scaled = (uint64_t) llround(a * 1e9);

        add_fixed(b, v < 0 && scaled != 0, scaled / 1000000000ULL,
                  scaled % 1000000000ULL, 9);
        return;
    }
    if (fabs(v) < 1e15) {
        uint64_t scaled = (uint64_t) llround(fabs(v) * 1e3);

        add_fixed(b, v < 0, scaled / 1000, scaled % 1000, 3);
        return;
    }
    n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    mbuf_add(b, tmp, (size_t) n);
}

/* --- families ------------------------------------------------------------------- */

static void
family(struct mbuf *b, const char *name, const char *type, const char *help)
{
    ADD(b, "# HELP ");
    add_str(b, name);
    ADD(b, " ");
    add_str(b, help);
    ADD(b, "\n# TYPE ");
    add_str(b, name);
    ADD(b, " ");
    add_str(b, type);
    ADD(b, "\n");
}

/* name{labels} value\n, labels already escaped (may be ""). */
static void
sample_name(struct mbuf *b, const char *name, const char *labels)
{
    add_str(b, name);
    if (labels[0]) {
        ADD(b, "{");
        add_str(b, labels);
        ADD(b, "}");
    }
    ADD(b, " ");
}

static void
sample_u64(struct mbuf *b, const char *name, const char *labels,
           uint64_t v)
{
    sample_name(b, name, labels);
    add_u64(b, v);
    ADD(b, "\n");
}

static void
sample_double(struct mbuf *b, const char *name, const char *labels,
              double v)
{
    sample_name(b, name, labels);
    add_double(b, v);
    ADD(b, "\n");
}

/* A histogram's _bucket, _sum and _count lines. labels: escaped, may be
 * ""; extra: an escaped 'k="v"' pair added after them, or NULL.
 *
 * Most of the text is these lines, so each is built from one prefix
 * ('name_bucket{labels,extra,le="') made once per series, and written
 * with one reservation. */
static void
histogram(struct mbuf *b, const char *name, size_t name_len,
          const char *labels, const char *extra,
          const struct metrics_hist_snap *h)
{
    const struct metrics_bounds *bd = h->b;
    struct mbuf pre = { 0 };
    size_t llen = strlen(labels), elen = extra ? strlen(extra) : 0;
    size_t inner_at, inner_len;

    mbuf_add(&pre, name, name_len);
    ADD(&pre, "_bucket{");
    inner_at = pre.len;
    mbuf_add(&pre, labels, llen);
    if (llen && elen)
        ADD(&pre, ",");
    mbuf_add(&pre, extra, elen);
    inner_len = pre.len - inner_at;
    if (inner_len)
        ADD(&pre, ",");
    ADD(&pre, "le=\"");
    if (pre.failed) {
        b->failed = 1;
        return;
    }
    for (size_t i = 0; i <= bd->n; i++) {
        const char *le = i < bd->n ? bd->le_text[i] : "+Inf";
        size_t lelen = strlen(le);

        if (mbuf_reserve(b, pre.len + lelen + 4 + 21) != 0)
            break;
        memcpy(b->p + b->len, pre.p, pre.len);
        b->len += pre.len;
        memcpy(b->p + b->len, le, lelen);
        b->len += lelen;
        memcpy(b->p + b->len, "\"} ", 3);
        b->len += 3;
        add_u64(b, h->cum[i]);
        b->p[b->len++] = '\n';
    }
    for (int k = 0; k < 2; k++) {
        mbuf_add(b, name, name_len);
        if (k == 0)
            ADD(b, "_sum");
        else
            ADD(b, "_count");
        if (inner_len) {
            ADD(b, "{");
            mbuf_add(b, pre.p + inner_at, inner_len);
            ADD(b, "}");
        }
        ADD(b, " ");
        if (k == 0)
            add_us_seconds(b, h->sum_us);
        else
            add_u64(b, h->cum[bd->n]);
        ADD(b, "\n");
    }
    mbuf_free(&pre);
}

/* --- integrations: the state store's view ------------------------------------------ */

/* The label sets of the state store's integrations, escaped once per
 * scrape: offsets into one buffer. */
struct labelset {
    struct mbuf  text;
    size_t      *off;
};

static int
labelset_build(struct labelset *ls, const struct state_integration *v,
               size_t n)
{
    memset(ls, 0, sizeof(*ls));
    if (n == 0)
        return 0;
    if ((ls->off = malloc(n * sizeof(*ls->off))) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        ls->off[i] = ls->text.len;
        ADD(&ls->text, "integration=\"");
        metrics_escape(&ls->text, v[i].name);
        ADD(&ls->text, "\",category=\"");
        metrics_escape(&ls->text, v[i].category);
        ADD(&ls->text, "\",provider=\"");
        metrics_escape(&ls->text, v[i].provider);
        ADD(&ls->text, "\",tier=\"");
        metrics_escape(&ls->text, v[i].tier);
        mbuf_add(&ls->text, "\"", 2);           /* with its NUL */
    }
    return ls->text.failed ? -1 : 0;
}

static void
labelset_free(struct labelset *ls)
{
    mbuf_free(&ls->text);
    free(ls->off);
}

#define LABELS(ls, i) ((ls)->text.p + (ls)->off[i])

/* integration_up's value for a status; NAN: unknown (no sample). */
static double
up_value(int status)
{
    switch (status) {
    case OUTPOST_STATUS_HEALTHY:  return 1.0;
    case OUTPOST_STATUS_DEGRADED: return 0.5;
    case OUTPOST_STATUS_DOWN:     return 0.0;
    default:                      return NAN;
    }
}

/* One gauge family over every integration; get returns NAN to skip. */
static void
gauge_family(struct mbuf *b, const char *name, const char *help,
             const struct state_integration *v, size_t n,
             const struct labelset *ls,
             double (*get)(const struct state_integration *))
{
    family(b, name, "gauge", help);
    for (size_t i = 0; i < n; i++) {
        double x = get(&v[i]);

        if (!isnan(x))
            sample_double(b, name, LABELS(ls, i), x);
    }
}

static double
get_up(const struct state_integration *s)
{
    return s->last.ts_ns ? up_value(s->last.status) : NAN;
}

static double
get_score(const struct state_integration *s)
{
    return s->last.ts_ns ? s->last.health_score : NAN;
}

static double
get_error_rate(const struct state_integration *s)
{
    return 1.0 - s->last.success_rate_24h;      /* NAN stays NAN */
}

static double
get_circuit(const struct state_integration *s)
{
    return s->last.circuit >= 0 ? (double) s->last.circuit : NAN;
}

static double
get_sla_compliant(const struct state_integration *s)
{
    return s->last.sla_compliant >= 0 ? (double) s->last.sla_compliant
                                      : NAN;
}

static double
get_budget(const struct state_integration *s)
{
    return s->last.error_budget_remaining;
}

static double
get_last_check(const struct state_integration *s)
{
    return s->last.ts_ns ? (double) (s->last.ts_ns / 1000000) / 1000.0
                         : NAN;
}

static void
render_state_integrations(struct mbuf *b, const struct state_integration *v,
                          size_t n, const struct labelset *ls)
{
    const char *name;

    gauge_family(b, "integration_up", "1 healthy, 0.5 degraded, 0 down; "
                 "absent while the status is unknown", v, n, ls, get_up);
    gauge_family(b, "integration_health_score", "The health filter's score, "
                 "0 (down) to 1 (healthy)", v, n, ls, get_score);
    gauge_family(b, "integration_error_rate", "Share of failed checks over "
                 "the last 24 hours (the health filter's window)", v, n, ls,
                 get_error_rate);

    name = "integration_uptime_ratio";
    family(b, name, "gauge", "Share of successful checks over the window "
           "(the health filter's 24h and 30d windows)");
    for (size_t i = 0; i < n; i++) {
        const double w[2] = { v[i].last.success_rate_24h,
                              v[i].last.uptime_30d };
        static const char *const wn[2] = { ",window=\"24h\"",
                                           ",window=\"30d\"" };

        for (int k = 0; k < 2; k++) {
            if (isnan(w[k]))
                continue;
            add_str(b, name);
            ADD(b, "{");
            add_str(b, LABELS(ls, i));
            add_str(b, wn[k]);
            ADD(b, "} ");
            add_double(b, w[k]);
            ADD(b, "\n");
        }
    }
    gauge_family(b, "integration_circuit_state", "Circuit breaker: 0 "
                 "closed, 1 open, 2 half open", v, n, ls, get_circuit);
    gauge_family(b, "integration_sla_compliant", "1 when every SLA target of "
                 "the tier is met over the compliance window, else 0", v, n,
                 ls, get_sla_compliant);
    gauge_family(b, "integration_error_budget_remaining", "Share of the SLA "
                 "error budget left over the compliance window (1 untouched, "
                 "0 spent)", v, n, ls, get_budget);
    gauge_family(b, "integration_last_check_timestamp_seconds", "Unix time "
                 "of the last check", v, n, ls, get_last_check);
}

/* --- integrations: the metrics store's view ---------------------------------------- */

static void
render_store_integrations(struct mbuf *b, const struct ms_view *mv,
                          unsigned phases)
{
    static const char rt[] = "integration_response_time_seconds";
    char phase[32];

    family(b, rt, "histogram", "Time a check took, per phase: total, "
           "and for HTTP checks dns, connect, tls, ttfb (request sent to "
           "first byte) and transfer (labels: integration and phase only; "
           "join on integration for the others)");
    for (size_t i = 0; i < mv->nentries; i++) {
        struct ms_entry *e = mv->entries[i];
        const char *labels = e->name_label;

        for (int p = 0; p < METRICS_PHASES; p++) {
            struct metrics_hist_snap h;

            if (!(phases & (1u << p)))
                continue;
            metrics_hist_read(&e->rt[p], &h);
            if (h.cum[h.b->n] == 0 && p > 0)
                continue;               /* not an HTTP check: no phases */
            snprintf(phase, sizeof(phase), "phase=\"%s\"",
                     metrics_phase_names[p]);
            histogram(b, rt, sizeof(rt) - 1, labels, phase, &h);
        }
    }

    family(b, "integration_checks_total", "counter", "Checks made since the "
           "agent started (an overloaded agent's skipped checks excluded)");
    for (size_t i = 0; i < mv->nentries; i++)
        sample_u64(b, "integration_checks_total",
                   atomic_load(&mv->entries[i]->labels),
                   atomic_load_explicit(&mv->entries[i]->checks,
                                        memory_order_relaxed));
    family(b, "integration_check_failures_total", "counter", "Checks that "
           "failed since the agent started");
    for (size_t i = 0; i < mv->nentries; i++)
        sample_u64(b, "integration_check_failures_total",
                   atomic_load(&mv->entries[i]->labels),
                   atomic_load_explicit(&mv->entries[i]->failures,
                                        memory_order_relaxed));

    family(b, "integration_sla_target_ratio", "gauge", "The SLA "
           "availability target of the integration's tier (0.999: 99.9 %)");
    for (size_t i = 0; i < mv->nentries; i++) {
        double t = ms_load_double(&mv->entries[i]->sla_target);

        if (!isnan(t))
            sample_double(b, "integration_sla_target_ratio",
                          atomic_load(&mv->entries[i]->labels), t);
    }

    family(b, "integration_rate_limit_remaining", "gauge", "Requests (or "
           "tokens) the vendor's rate-limit headers say are left, by limit");
    for (size_t i = 0; i < mv->nentries; i++) {
        struct ms_entry *e = mv->entries[i];
        size_t nl = atomic_load_explicit(&e->nlimits, memory_order_acquire);

        for (size_t k = 0; k < nl; k++) {
            ADD(b, "integration_rate_limit_remaining{");
            add_str(b, atomic_load(&e->labels));
            ADD(b, ",limit=\"");
            add_str(b, e->limits[k].label);
            ADD(b, "\"} ");
            add_double(b, ms_load_double(&e->limits[k].value));
            ADD(b, "\n");
        }
    }

    family(b, "integration_cert_expiry_days", "gauge", "Days until the "
           "earliest certificate of the integration's TLS chain expires");
    for (size_t i = 0; i < mv->nentries; i++) {
        double d = ms_load_double(&mv->entries[i]->cert_days);

        if (!isnan(d))
            sample_double(b, "integration_cert_expiry_days",
                          atomic_load(&mv->entries[i]->labels), d);
    }
}

/* --- failover and alerts ------------------------------------------------------------- */

static const char *const sev_names[MS_SEVERITIES] = {
    "info", "warning", "error", "critical",
};

static void
render_failover_alerts(struct mbuf *b, struct state *st,
                       const struct ms_view *mv)
{
    struct state_failover *fo = NULL;
    struct state_alert *al = NULL;
    size_t nfo = st ? state_failover(st, &fo) : 0;
    size_t nal = st ? state_alerts(st, &al) : 0;
    uint64_t active[MS_SEVERITIES] = { 0 };

    family(b, "failover_active", "gauge", "1 for the provider a failover "
           "group routes to, 0 for its other members");
    for (size_t i = 0; i < nfo; i++) {
        size_t nm = fo[i].nmembers;
        int listed = 0;

        for (size_t k = 0; k <= nm; k++) {
            const char *p = k < nm ? fo[i].members[k].name : fo[i].active;

            if (k == nm && (listed || p[0] == '\0'))
                break;              /* the active one was a member */
            if (strcmp(p, fo[i].active) == 0)
                listed = 1;
            ADD(b, "failover_active{group=\"");
            metrics_escape(b, fo[i].group);
            ADD(b, "\",provider=\"");
            metrics_escape(b, p);
            ADD(b, "\"} ");
            if (strcmp(p, fo[i].active) == 0)
                ADD(b, "1\n");
            else
                ADD(b, "0\n");
        }
    }
    family(b, "failover_events_total", "counter", "Failover events (the "
           "active provider of a group changed) since the agent started");
    for (size_t i = 0; i < mv->ngroups; i++) {
        ADD(b, "failover_events_total{group=\"");
        add_str(b, mv->groups[i]->name);
        ADD(b, "\"} ");
        add_u64(b, atomic_load_explicit(&mv->groups[i]->events,
                                        memory_order_relaxed));
        ADD(b, "\n");
    }

    family(b, "alerts_total", "counter", "Alerts opened since the agent "
           "started, by severity");
    for (int k = 0; k < MS_SEVERITIES; k++) {
        ADD(b, "alerts_total{severity=\"");
        add_str(b, sev_names[k]);
        ADD(b, "\"} ");
        add_u64(b, mv->alerts[k]);
        ADD(b, "\n");
    }
    for (size_t i = 0; i < nal; i++) {
        if (al[i].status == STATE_ALERT_RESOLVED)
            continue;
        for (int k = 0; k < MS_SEVERITIES; k++)
            if (strcmp(al[i].severity, sev_names[k]) == 0)
                active[k]++;
    }
    family(b, "alerts_active", "gauge", "Alerts open now (acknowledged "
           "ones included), by severity");
    for (int k = 0; k < MS_SEVERITIES; k++) {
        ADD(b, "alerts_active{severity=\"");
        add_str(b, sev_names[k]);
        ADD(b, "\"} ");
        add_u64(b, active[k]);
        ADD(b, "\n");
    }
    free(fo);
    free(al);
}

/* --- the agent ----------------------------------------------------------------------- */

static void
output_labels(struct mbuf *lb, const struct metrics_output *o)
{
    lb->len = 0;
    ADD(lb, "plugin=\"");
    metrics_escape(lb, o->plugin);
    ADD(lb, "\",output=\"");
    metrics_escape(lb, o->name);
    mbuf_add(lb, "\"", 2);
}

/* One counter or gauge per output, from a field of its stats. */
static void
output_family(struct mbuf *b, struct mbuf *lb, const struct metrics_agent *am,
              const char *name, const char *type, const char *help,
              size_t offset, size_t offset2)
{
    family(b, name, type, help);
    for (size_t i = 0; am && i < am->noutputs; i++) {
        const uint8_t *st = (const uint8_t *) &am->outputs[i].st;
        uint64_t v = *(const uint64_t *) (const void *) (st + offset);

        if (offset2 != (size_t) -1)
            v += *(const uint64_t *) (const void *) (st + offset2);
        output_labels(lb, &am->outputs[i]);
        sample_u64(b, name, lb->p, v);
    }
}

#define OST(f) offsetof(struct output_stats, f)

static void
render_agent(struct mbuf *b, const struct metrics_agent *am)
{
    static const char late[] = "outpost_check_lateness_seconds";
    static const char wr[] = "outpost_output_write_seconds";
    const struct scheduler_stats *s = am ? &am->sched : NULL;
    struct mbuf lb = { 0 };

    family(b, "outpost_build_info", "gauge", "The agent's version");
    ADD(b, "outpost_build_info{version=\"" OUTPOST_VERSION "\"} 1\n");

    family(b, "outpost_checks_total", "counter", "Checks (input runs) the "
           "scheduler started");
    sample_u64(b, "outpost_checks_total", "", s ? s->runs : 0);
    family(b, "outpost_check_timeouts_total", "counter", "Checks cancelled "
           "at their input's timeout");
    sample_u64(b, "outpost_check_timeouts_total", "", s ? s->timeouts : 0);
    family(b, "outpost_checks_skipped_total", "counter", "Checks not "
           "started: busy (the previous run of the input was still going), "
           "deferred (the input asked to wait, e.g. a rate limit), "
           "overloaded (the agent was too late to start them in time)");
    sample_u64(b, "outpost_checks_skipped_total", "reason=\"busy\"",
               s ? s->skipped : 0);
    sample_u64(b, "outpost_checks_skipped_total", "reason=\"deferred\"",
               s ? s->deferred : 0);
    sample_u64(b, "outpost_checks_skipped_total", "reason=\"overloaded\"",
               s ? s->overloaded : 0);
    family(b, late, "histogram", "How late the scheduler started checks "
           "after their due time");
    if (am && am->running)
        histogram(b, late, sizeof(late) - 1, "", NULL, &am->lateness);

    output_family(b, &lb, am, "outpost_output_queue_depth", "gauge",
                  "Records queued for an output, in memory and on disk",
                  OST(queued), (size_t) -1);
    output_family(b, &lb, am, "outpost_output_delivered_total", "counter",
                  "Records the output's backend accepted", OST(delivered),
                  (size_t) -1);
    output_family(b, &lb, am, "outpost_output_retries_total", "counter",
                  "Writes the backend answered with retry (or that timed "
                  "out)", OST(retries), (size_t) -1);
    output_family(b, &lb, am, "outpost_output_spilled_total", "counter",
                  "Records written to the spill files under state_dir",
                  OST(spilled), (size_t) -1);
    output_family(b, &lb, am, "outpost_output_spilled_bytes_total",
                  "counter", "Bytes written to the spill files",
                  OST(spilled_bytes), (size_t) -1);
    output_family(b, &lb, am, "outpost_output_dropped_total", "counter",
                  "Records lost: to a queue or disk limit, or rejected by "
                  "the backend when no dead letter could be kept",
                  OST(dropped), OST(dead_dropped));
    output_family(b, &lb, am, "outpost_output_dead_lettered_total",
                  "counter", "Records the backend refused for good, kept "
                  "in the output's dead-letter file", OST(dead_lettered),
                  (size_t) -1);
    family(b, wr, "histogram", "Time one call of an output's write took");
    for (size_t i = 0; am && i < am->noutputs; i++) {
        output_labels(&lb, &am->outputs[i]);
        histogram(b, wr, sizeof(wr) - 1, lb.p, NULL, &am->outputs[i].write);
    }

    family(b, "outpost_plugin_errors_total", "counter", "Messages a plugin "
           "instance logged at error level");
    for (size_t i = 0; am && i < am->ninstances; i++) {
        lb.len = 0;
        ADD(&lb, "plugin=\"");
        metrics_escape(&lb, am->instances[i].plugin);
        ADD(&lb, "\",instance=\"");
        metrics_escape(&lb, am->instances[i].name);
        mbuf_add(&lb, "\"", 2);
        sample_u64(b, "outpost_plugin_errors_total", lb.p,
                   am->instances[i].errors);
    }
    if (lb.failed)
        b->failed = 1;
    mbuf_free(&lb);
}

void
metrics_agent_free(struct metrics_agent *m)
{
    for (size_t i = 0; i < m->noutputs; i++) {
        free(m->outputs[i].plugin);
        free(m->outputs[i].name);
    }
    for (size_t i = 0; i < m->ninstances; i++) {
        free(m->instances[i].plugin);
        free(m->instances[i].name);
    }
    free(m->outputs);
    free(m->instances);
    memset(m, 0, sizeof(*m));
}

/* --- the whole ------------------------------------------------------------------------ */

int
metrics_parse_phases(const char *list, unsigned *mask, char *bad,
                     size_t badlen)
{
    const char *p = list;

    *mask = 0;
    if (strcmp(list, "all") == 0) {
        *mask = METRICS_PHASES_ALL;
        return 0;
    }
    while (*p) {
        size_t n = strcspn(p, ","), k;

        for (k = 0; k < METRICS_PHASES; k++)
            if (strlen(metrics_phase_names[k]) == n
                && strncmp(p, metrics_phase_names[k], n) == 0)
                break;
        if (k == METRICS_PHASES) {
            snprintf(bad, badlen, "%.*s", (int) (n < 64 ? n : 64), p);
            return -1;
        }
        *mask |= 1u << k;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

int
metrics_render(struct mbuf *b, struct state *st,
               const struct metrics_agent *am, unsigned phases)
{
    struct state_integration *v = NULL;
    size_t n = st ? state_integrations(st, &v) : 0;
    struct labelset ls;
    struct ms_view mv;

    if (ms_view(&mv) != 0) {
        free(v);
        return -1;
    }
    if (labelset_build(&ls, v, n) != 0) {
        labelset_free(&ls);
        ms_view_free(&mv);
        free(v);
        return -1;
    }
    /* A first guess at the size, so the buffer rarely grows: the
     * histograms are most of it. */
    mbuf_reserve(b, 4096 + n * 2048 + mv.nentries * 1024
                    * (size_t) __builtin_popcount(phases));
    render_state_integrations(b, v, n, &ls);
    render_store_integrations(b, &mv, phases);
    render_failover_alerts(b, st, &mv);
    render_agent(b, am);
    labelset_free(&ls);
    ms_view_free(&mv);
    free(v);
    return b->failed ? -1 : 0;
}
