/*
 * health.c - the `health` filter: per integration, the status of every
 * check (healthy, degraded, down or unknown), a health score, success
 * rate, uptime and latency percentiles, added as fields to the check's
 * measurement; a `state_change` event whenever the status changes,
 * including to unknown when results stop coming (tick, stale.c). The
 * rolling windows are in window.c.
 *
 * State is one fixed-size slot per integration (health.h), kept in a
 * rolling table and saved under the instance's state directory every
 * save_interval and at shutdown, so a restart forgets neither 30-day
 * uptime nor the current status.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "health.h"
#include "verdict.h"

#define STATE_FILE    "health.state"
#define STATE_VERSION 1
#define FORGET_NS     (31LL * 24 * 3600 * 1000000000LL)
#define MS            1000000LL     /* ns per ms */

#define O(f) offsetof(struct health_conf, f)
#define DAY_MS 86400000.0

static const outpost_option_t health_options[] = {
    { "degraded_latency", OUTPOST_OPT_DURATION, O(degraded_ms), "2s",
      "a successful check this slow or slower is degraded", 0, 1, DAY_MS,
      NULL },
    { "down_latency", OUTPOST_OPT_DURATION, O(down_ms), "5s",
      "a successful check this slow or slower is down", 0, 1, DAY_MS, NULL },
    { "basic_degraded_latency", OUTPOST_OPT_DURATION,
      O(basic_degraded_ms), NULL,
      "degraded_latency for tier basic (default: degraded_latency)",
      0, 1, DAY_MS, NULL },
    { "basic_down_latency", OUTPOST_OPT_DURATION, O(basic_down_ms), NULL,
      "down_latency for tier basic (default: down_latency)",
      0, 1, DAY_MS, NULL },
    { "professional_degraded_latency", OUTPOST_OPT_DURATION,
      O(professional_degraded_ms), NULL,
      "degraded_latency for tier professional", 0, 1, DAY_MS, NULL },
    { "professional_down_latency", OUTPOST_OPT_DURATION,
      O(professional_down_ms), NULL,
      "down_latency for tier professional", 0, 1, DAY_MS, NULL },
    { "enterprise_degraded_latency", OUTPOST_OPT_DURATION,
      O(enterprise_degraded_ms), NULL,
      "degraded_latency for tier enterprise", 0, 1, DAY_MS, NULL },
    { "enterprise_down_latency", OUTPOST_OPT_DURATION,
      O(enterprise_down_ms), NULL,
      "down_latency for tier enterprise", 0, 1, DAY_MS, NULL },
    { "stale_after", OUTPOST_OPT_DURATION, O(stale_after_ms), NULL,
      "no result for this long turns an integration unknown (default: "
      "twice its observed interval, or twice the global interval)",
      0, 1, 30 * DAY_MS, NULL },
    { "down_stale_after", OUTPOST_OPT_DURATION, O(down_stale_after_ms),
      "10m", "a down integration turns unknown only after this long "
      "without results (an open circuit may be probing it rarely)",
      0, 0, 30 * DAY_MS, NULL },
    { "availability_weight", OUTPOST_OPT_FLOAT, O(availability_weight),
      "0.7", "weight of the last hour's success rate in health_score",
      0, 0, 1000, NULL },
    { "latency_weight", OUTPOST_OPT_FLOAT, O(latency_weight), "0.3",
      "weight of the last hour's p95 latency in health_score",
      0, 0, 1000, NULL },
    { "save_interval", OUTPOST_OPT_DURATION, O(save_interval_ms), "1m",
      "how often state is saved (and always at shutdown)",
      0, 1000, DAY_MS, NULL },
    OUTPOST_OPTION_END
};


/* --- classifying one result ---------------------------------------------- */

/* Only ever append: tier numbers are saved in state files. */
enum { TIER_NONE = 0, TIER_BASIC, TIER_PROFESSIONAL, TIER_ENTERPRISE };

static uint8_t
tier_of(const char *tier)
{
    if (tier == NULL)
        return TIER_NONE;
    if (strcmp(tier, "basic") == 0)
        return TIER_BASIC;
    if (strcmp(tier, "professional") == 0)
        return TIER_PROFESSIONAL;
    if (strcmp(tier, "enterprise") == 0)
        return TIER_ENTERPRISE;
    return TIER_NONE;
}

struct thresholds {
    int64_t degraded_ms, down_ms;
};

static struct thresholds
thresholds_for(const struct health_conf *c, uint8_t tier)
{
    struct thresholds t = { c->degraded_ms, c->down_ms };
    int64_t deg = 0, down = 0;

    switch (tier) {
    case TIER_BASIC:
        deg = c->basic_degraded_ms;
        down = c->basic_down_ms;
        break;
    case TIER_PROFESSIONAL:
        deg = c->professional_degraded_ms;
        down = c->professional_down_ms;
        break;
    case TIER_ENTERPRISE:
        deg = c->enterprise_degraded_ms;
        down = c->enterprise_down_ms;
        break;
    }
    if (deg > 0)
        t.degraded_ms = deg;
    if (down > 0)
        t.down_ms = down;
    return t;
}

/* What decided a status; turned into words only for an event. */
enum why {
    WHY_NONE, WHY_REASON, WHY_HINT, WHY_FAILED, WHY_SLOW
};

struct result {
    uint8_t     status;
    uint8_t     why;
    int         ok;         /* succeeded: success, or no success, not down */
    double      ms;         /* response_ms, 0 when absent */
    int64_t     limit_ms;   /* WHY_SLOW: the threshold crossed */
    const char *text;       /* WHY_REASON: reason; WHY_FAILED: error */
};

/* Field keys, interned once so lookups compare pointers. */
struct keys {
    const char *success, *status_hint, *reason, *error, *response_ms;
};

struct health {
    struct rolling_table *table;
    struct rolling_state *state;          /* health.state */
    int64_t               last_save_ns;
    struct keys           k;
    struct verdict_board  board;        /* statuspage inputs' verdicts */
};

/* The status of one check, by the rules in docs/plugins/health.md.
 * success and hint are what the record carries (at least one of them). */
static void
classify(const struct thresholds *t, const struct keys *k,
         const outpost_record_t *rec, const outpost_field_t *success,
         const char *hint, struct result *r)
{
    const char *reason = lookup_str(rec, k->reason);

    r->ms = lookup_num(rec, k->response_ms, 0);
    r->ok = success ? outpost_field_number(success, 0) != 0 : 1;
    r->why = WHY_NONE;
    r->text = NULL;
    r->limit_ms = 0;
    if (reason && strcmp(reason, "credentials missing") == 0) {
        r->status = ST_UNKNOWN;
        r->why = WHY_REASON;
        r->text = reason;
    } else if (hint && strcmp(hint, "unknown") == 0) {
        /* "agent overloaded" and the like: not the vendor's doing. */
        r->status = ST_UNKNOWN;
        r->why = reason ? WHY_REASON : WHY_HINT;
        r->text = reason;
    } else if (!r->ok) {
        r->status = ST_DOWN;
        r->why = WHY_FAILED;
        r->text = lookup_str(rec, k->error);
    } else if (hint && strcmp(hint, "down") == 0) {
        r->status = ST_DOWN;
        r->why = WHY_HINT;
    } else if (r->ms >= (double) t->down_ms) {
        r->status = ST_DOWN;
        r->why = WHY_SLOW;
        r->limit_ms = t->down_ms;
    } else if (hint && strcmp(hint, "degraded") == 0) {
        r->status = ST_DEGRADED;
        r->why = WHY_HINT;
    } else if (r->ms >= (double) t->degraded_ms) {
        r->status = ST_DEGRADED;
        r->why = WHY_SLOW;
        r->limit_ms = t->degraded_ms;
    } else
        r->status = ST_HEALTHY;
    if (!success)                   /* a status page: up unless down */
        r->ok = r->status != ST_DOWN;
}

static void
explain(const struct result *r, char *buf, size_t len)
{
    switch (r->why) {
    case WHY_REASON:
        snprintf(buf, len, "%s", r->text);
        break;
    case WHY_HINT:
        snprintf(buf, len, "status page says %s", outpost_status_name(r->status));
        break;
    case WHY_FAILED:
        snprintf(buf, len, "%s", r->text ? r->text : "check failed");
        break;
    case WHY_SLOW:
        snprintf(buf, len, "response %.0f ms >= %" PRId64 " ms", r->ms,
                 r->limit_ms);
        break;
    default:
        buf[0] = '\0';
    }
}

/* --- score and fields ---------------------------------------------------- */

/* Weighted mean of the last hour's success rate and a latency score (1 at
 * or under degraded_latency, 0 at down_latency, linear between), capped
 * by the status so failover weights follow the current state: down
 * scores 0, degraded and unknown at most 0.5. */
static double
health_score(const struct health_conf *c, const struct thresholds *t,
             uint8_t status, const struct health_stats *st)
{
    double a = st->have_1h ? st->success_rate_1h : 1.0;
    double l = 1.0, wsum = c->availability_weight + c->latency_weight;
    double score;

    if (status == ST_DOWN)
        return 0.0;
    if (st->have_lat_1h && st->p95_1h > (double) t->degraded_ms) {
        double span = (double) (t->down_ms - t->degraded_ms);
        l = span > 0 ? ((double) t->down_ms - st->p95_1h) / span : 0.0;
        l = l < 0 ? 0 : l;
    }
    score = wsum > 0 ? (c->availability_weight * a
                        + c->latency_weight * l) / wsum : a;
    if (status != ST_HEALTHY && score > 0.5)
        score = 0.5;
    return score;
}

static void
add_fields(outpost_record_t *rec, const struct health_slot *s, double score,
           const struct health_stats *st)
{
    outpost_record_add_str(rec, OUTPOST_F_STATUS, outpost_status_name(s->status));
    outpost_record_add_float(rec, OUTPOST_F_HEALTH_SCORE, score);
    outpost_record_add_int(rec, OUTPOST_F_CONSECUTIVE_FAILURES,
                           s->consecutive_failures);
    outpost_record_add_int(rec, "consecutive_successes",
                           s->consecutive_successes);
    if (st->have_24h)
        outpost_record_add_float(rec, "success_rate_24h",
                                 st->success_rate_24h);
    if (st->have_30d)
        outpost_record_add_float(rec, "uptime_30d", st->uptime_30d);
    if (st->have_lat_1h) {
        outpost_record_add_float(rec, "avg_ms_1h", st->avg_1h);
        outpost_record_add_float(rec, "p50_ms_1h", st->p50_1h);
        outpost_record_add_float(rec, "p95_ms_1h", st->p95_1h);
        outpost_record_add_float(rec, "p99_ms_1h", st->p99_1h);
    }
    if (st->have_lat_24h) {
        outpost_record_add_float(rec, "avg_ms_24h", st->avg_24h);
        outpost_record_add_float(rec, "p95_ms_24h", st->p95_24h);
        outpost_record_add_float(rec, "p99_ms_24h", st->p99_24h);
    }
}

/* --- events -------------------------------------------------------------- */

void
health_emit_change(outpost_emitter_t *out, outpost_record_t *cause,
            const char *integration, uint8_t from, uint8_t to,
            const char *why)
{
    char msg[512], key[300], vendor[256] = "";
    outpost_record_t *ev;

    /* "Is it us or them?": a change for the worse says what the vendor's
     * status page says, unless the status page is the reason already. */
    if (cause && (to == ST_DEGRADED || to == ST_DOWN))
        verdict_text(cause, vendor, sizeof(vendor));
    snprintf(msg, sizeof(msg), "%s is %s (was %s)%s%s%s%s", integration,
             outpost_status_name(to), outpost_status_name(from),
             why[0] ? ": " : "", why,
             vendor[0] ? (why[0] ? "; " : ": ") : "", vendor);
    snprintf(key, sizeof(key), "outpost/%s/status", integration);
    ev = outpost_event_new(OUTPOST_EV_STATE_CHANGE, outpost_status_severity(to),
                           cause, msg, key);
    if (ev == NULL)
        return;
    outpost_record_add_str(ev, "from_status", outpost_status_name(from));
    outpost_record_add_str(ev, "to_status", outpost_status_name(to));
    outpost_record_add_str(ev, OUTPOST_F_STATUS, outpost_status_name(to));
    if (cause)
        verdict_copy(cause, ev);
    outpost_emit(out, ev);
}

/* --- process ------------------------------------------------------------- */

static void
count_result(struct health_slot *s, const struct result *r, int64_t ns)
{
    if (r->status == ST_UNKNOWN)
        return;      /* not the vendor's doing: no effect on the windows */
    if (r->status == ST_DOWN) {
        s->consecutive_failures++;
        s->consecutive_successes = 0;
    } else {
        s->consecutive_successes++;
        s->consecutive_failures = 0;
    }
    window_add(&s->w, ns, r->status != ST_DOWN, r->ok, r->ms);
}

static int
health_process(outpost_instance_t *inst, outpost_record_t *rec,
               outpost_emitter_t *out)
{
    struct health *h = outpost_instance_data(inst);
    const struct health_conf *c = outpost_instance_conf(inst);
    const outpost_field_t *success;
    const char *hint;
    struct rolling_entry *e;
    struct health_slot *s;
    struct thresholds t;
    struct health_stats st;
    struct result r;
    int retagged;

    if (rec->kind != OUTPOST_MEASUREMENT)
        return OUTPOST_PASS;
    rolling_table_prefetch(h->table, rec);  /* while the fields are read */
    if (!verdict_board_observe(&h->board, rec))
        verdict_board_annotate(&h->board, rec);
    success = lookup_field(rec, h->k.success);
    hint = lookup_str(rec, h->k.status_hint);
    if (success == NULL && hint == NULL)
        return OUTPOST_PASS;            /* not the result of a check */
    if ((e = rolling_table_get_rec(h->table, rec, &retagged)) == NULL)
        return OUTPOST_PASS;            /* no integration tag (or ENOMEM) */
    s = rolling_slot(e);
    /* Ten thousand integrations' state fits no cache: start loading the
     * lines this result will touch, and read the record meanwhile. */
    __builtin_prefetch(s, 1);
    window_prefetch(&s->w, rec->ts_ns,
                    lookup_num(rec, h->k.response_ms, 0));
    if (retagged)
        s->tier = tier_of(outpost_record_tag(rec, OUTPOST_TAG_TIER));
    t = thresholds_for(c, s->tier);
    classify(&t, &h->k, rec, success, hint, &r);
    health_note_arrival(s, rec->ts_ns);
    count_result(s, &r, rec->ts_ns);
    if (r.status != s->status) {
        char why[256];

        explain(&r, why, sizeof(why));
        if (r.why == WHY_HINT && verdict_status(rec))
            why[0] = '\0';             /* the verdict says it in words */
        health_emit_change(out, rec, e->name, s->status, r.status, why);
        s->status = r.status;
    }
    s->stale = 0;
    window_stats(&s->w, &st);
    add_fields(rec, s, health_score(c, &t, s->status, &st), &st);
    return OUTPOST_PASS;
}

/* --- persistence --------------------------------------------------------- */

/* Forget integrations not heard of for a month: their windows are empty
 * and they were most likely removed from the config. A restart also
 * restarts the stale clock, so the agent's own downtime does not turn
 * every integration unknown at its first tick. */
static int
keep_slot(const char *name, void *slot, void *arg)
{
    struct health_slot *s = slot;
    int64_t now = *(int64_t *) arg;

    (void) name;
    if (s->last_ns > 0 && now - s->last_ns > FORGET_NS)
        return 0;
    s->grace_ns = now;
    return 1;
}

/* --- lifecycle ----------------------------------------------------------- */

static int
health_init(outpost_instance_t *inst)
{
    const struct health_conf *c = outpost_instance_conf(inst);
    struct health *h;

    if (c->down_ms < c->degraded_ms)
        outpost_log(inst, OUTPOST_LOG_WARN, "init", "down_latency is below "
                    "degraded_latency: slow checks go straight to down");
    h = calloc(1, sizeof(*h));
    if (h == NULL || (h->table = rolling_table_new(
                          sizeof(struct health_slot))) == NULL) {
        free(h);
        return -1;
    }
    h->k.success = outpost_intern(OUTPOST_F_SUCCESS);
    h->k.status_hint = outpost_intern(OUTPOST_F_STATUS_HINT);
    h->k.reason = outpost_intern(OUTPOST_F_REASON);
    h->k.error = outpost_intern(OUTPOST_F_ERROR);
    h->k.response_ms = outpost_intern(OUTPOST_F_RESPONSE_MS);
    h->last_save_ns = outpost_time_now();
    h->state = rolling_state_open(inst, STATE_FILE, STATE_VERSION);
    rolling_state_load(h->state, h->table, keep_slot, &h->last_save_ns);
    outpost_instance_set_data(inst, h);
    return 0;
}

static void
health_tick(outpost_instance_t *inst, outpost_emitter_t *out)
{
    struct health *h = outpost_instance_data(inst);
    const struct health_conf *c = outpost_instance_conf(inst);
    int64_t now = outpost_time_now();

    health_check_stale(c, h->table, outpost_instance_interval_ms(inst), out,
                       now);
    if (rolling_state_tick(h->state, h->table,
                           now - h->last_save_ns >= c->save_interval_ms * MS))
        h->last_save_ns = now;
}

/* `stats`: how many integrations and how much memory their state takes
 * (for operators and bench/decide). */
static int
health_control(outpost_instance_t *inst, const char *cmd, const char *args,
               outpost_emitter_t *out, char **reply)
{
    struct health *h = outpost_instance_data(inst);

    (void) args;
    (void) out;
    if (strcmp(cmd, "stats") != 0) {
        *reply = strdup("{\"error\":\"unknown command; try stats\"}");
        return -1;
    }
    if (asprintf(reply, "{\"integrations\":%zu,\"state_bytes\":%zu}",
                 rolling_table_count(h->table),
                 rolling_table_bytes(h->table)) < 0) {
        *reply = NULL;
        return -1;
    }
    return 0;
}

static void
health_shutdown(outpost_instance_t *inst)
{
    struct health *h = outpost_instance_data(inst);

    if (h == NULL)
        return;
    rolling_state_close(h->state, h->table);
    rolling_table_free(h->table);
    verdict_board_free(&h->board);
    free(h);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "health",
    .description = "status, health score, uptime and latency percentiles "
                   "per integration; state_change events",
    .kind = OUTPOST_FILTER,
    .options = health_options,
    .conf_size = sizeof(struct health_conf),
    .init = health_init,
    .process = health_process,
    .tick = health_tick,
    .control = health_control,
    .shutdown = health_shutdown,
};
