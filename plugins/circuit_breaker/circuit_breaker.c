/*
 * circuit_breaker.c - the `circuit_breaker` filter: per integration a
 * breaker that is closed, open or half_open, added to every check as the
 * field `circuit`, with a `circuit` event on every transition.
 *
 *   closed    --failure_threshold failures in a row, or a failure rate
 *               over a window of checks / of time-->            open
 *   open      --open_for elapsed (tick, or the next result)-->  half_open
 *   half_open --recovery_threshold successes-->                 closed
 *   half_open --one failure-->                                  open
 *
 * While a circuit is open, probe_backoff asks the scheduler to run the
 * integration's input only once per open_for (outpost_input_defer), so a
 * dead vendor is not hammered; the deferral is lifted when it closes.
 * State is saved like the health filter's, so a restart in the middle of
 * an open circuit keeps it open until the original open_for ends.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "../common/lookup.h"
#include "../common/rolling.h"

#define STATE_FILE    "circuit_breaker.state"
#define STATE_VERSION 1
#define FORGET_NS     (31LL * 24 * 3600 * 1000000000LL)
#define MS            1000000LL
#define TIME_BUCKETS  20        /* a time window is this many buckets */

struct cb_conf {
    int64_t failure_threshold;
    int64_t window_size;
    int64_t window_time_ms;
    double  failure_rate_threshold;
    int64_t minimum_calls;
    int64_t open_for_ms;
    int64_t recovery_threshold;
    int64_t slow_call_ms;
    int     probe_backoff;
    int64_t save_interval_ms;
};

#define O(f) offsetof(struct cb_conf, f)
#define DAY_MS 86400000.0

static const outpost_option_t cb_options[] = {
    { "failure_threshold", OUTPOST_OPT_INT, O(failure_threshold), "5",
      "open after this many failed checks in a row (0: never)",
      0, 0, 1e6, NULL },
    { "window_size", OUTPOST_OPT_INT, O(window_size), "0",
      "also open on the failure rate of the last N checks (0: off)",
      0, 0, ROLLING_BITS_MAX, NULL },
    { "window_time", OUTPOST_OPT_DURATION, O(window_time_ms), NULL,
      "also open on the failure rate of the checks of the last T",
      0, 1000, 7 * DAY_MS, NULL },
    { "failure_rate_threshold", OUTPOST_OPT_FLOAT,
      O(failure_rate_threshold), "50",
      "failure rate (percent) at or over which a window opens the circuit",
      0, 0.001, 100, NULL },
    { "minimum_calls", OUTPOST_OPT_INT, O(minimum_calls), "10",
      "checks a window must hold before its rate counts", 0, 1, 1e6, NULL },
    { "open_for", OUTPOST_OPT_DURATION, O(open_for_ms), "60s",
      "time an open circuit waits before a trial (half_open)",
      0, 1, 7 * DAY_MS, NULL },
    { "recovery_threshold", OUTPOST_OPT_INT, O(recovery_threshold), "3",
      "successes in half_open that close the circuit", 0, 1, 1e6, NULL },
    { "slow_call_threshold", OUTPOST_OPT_DURATION, O(slow_call_ms), NULL,
      "a check this slow or slower counts as a failure (default: off)",
      0, 1, DAY_MS, NULL },
    { "probe_backoff", OUTPOST_OPT_BOOL, O(probe_backoff), "true",
      "while open, run the integration's input once per open_for",
      0, 0, 0, NULL },
    { "save_interval", OUTPOST_OPT_DURATION, O(save_interval_ms), "1m",
      "how often state is saved (and always at shutdown)",
      0, 1000, DAY_MS, NULL },
    OUTPOST_OPTION_END
};

/* Only ever append: the values are saved in state files. */
enum {
    CB_CLOSED = OUTPOST_CIRCUIT_CLOSED, CB_OPEN = OUTPOST_CIRCUIT_OPEN,
    CB_HALF_OPEN = OUTPOST_CIRCUIT_HALF_OPEN
};


struct tw_bucket {
    uint16_t calls, failures;
};

/* One integration's breaker: plain data, saved byte for byte. */
struct cb_slot {
    uint8_t             state;
    uint8_t             pad[3];
    uint32_t            consecutive_failures;
    uint32_t            half_open_successes;
    uint32_t            tw_calls, tw_failures;    /* sums of tw */
    int64_t             opened_ns;                /* open since */
    int64_t             last_ns;                  /* latest result */
    int64_t             tw_head;
    struct tw_bucket    tw[TIME_BUCKETS];         /* window_time */
    struct rolling_bits bits;                     /* window_size */
};

struct cb {
    struct rolling_table *table;
    struct rolling_state *state;           /* circuit_breaker.state */
    int64_t               last_save_ns;
    int                   deferrals_sent;  /* after a restart (first tick) */
    const char           *k_success;       /* interned field keys */
    const char           *k_response_ms;
};

/* --- transitions --------------------------------------------------------- */

static int64_t
open_until(const struct cb_conf *c, const struct cb_slot *s)
{
    return s->opened_ns + c->open_for_ms * MS;
}

static void
clear_windows(const struct cb_conf *c, struct cb_slot *s)
{
    s->consecutive_failures = 0;
    s->half_open_successes = 0;
    s->tw_calls = s->tw_failures = 0;
    s->tw_head = 0;
    memset(s->tw, 0, sizeof(s->tw));
    rolling_bits_init(&s->bits, (unsigned) c->window_size);
}

/* Moves e to state `to`, emits the event and keeps the input's probing in
 * step. rec is the check that caused it, or NULL (tick). */
static void
transition(outpost_instance_t *inst, outpost_emitter_t *out,
           struct rolling_entry *e, outpost_record_t *rec, int to,
           int64_t now, const char *why)
{
    const struct cb_conf *c = outpost_instance_conf(inst);
    struct cb_slot *s = rolling_slot(e);
    int from = s->state;
    outpost_record_t *cause, *ev;
    char msg[512], key[300];

    s->state = (uint8_t) to;
    if (to == CB_OPEN) {
        s->opened_ns = now;
        s->half_open_successes = 0;
        if (c->probe_backoff)
            outpost_input_defer(e->name, open_until(c, s));
    } else if (to == CB_HALF_OPEN)
        s->half_open_successes = 0;
    else {
        clear_windows(c, s);
        if (c->probe_backoff)
            outpost_input_defer(e->name, 0);
    }

    snprintf(msg, sizeof(msg), "%s circuit %s (was %s): %s", e->name,
             outpost_circuit_name(to), outpost_circuit_name(from), why);
    snprintf(key, sizeof(key), "outpost/%s/circuit", e->name);
    /* The check that caused it, or from tick a small measurement with
     * the integration's latest tags. */
    cause = rec ? outpost_record_ref(rec)
                : rolling_entry_measurement(e, "circuit_breaker", now);
    ev = outpost_event_new(OUTPOST_EV_CIRCUIT, to == CB_OPEN
                           ? OUTPOST_SEV_ERROR : OUTPOST_SEV_INFO,
                           cause, msg, key);
    outpost_record_unref(cause);
    if (ev == NULL)
        return;
    outpost_record_add_str(ev, OUTPOST_F_FROM, outpost_circuit_name(from));
    outpost_record_add_str(ev, OUTPOST_F_TO, outpost_circuit_name(to));
    outpost_record_add_str(ev, OUTPOST_F_CIRCUIT, outpost_circuit_name(to));
    if (to == CB_OPEN)
        outpost_record_add_int(ev, "open_until_ns", open_until(c, s));
    outpost_emit(out, ev);
}

/* --- counting checks while closed ---------------------------------------- */

static void
time_window_add(const struct cb_conf *c, struct cb_slot *s, int64_t ns,
                int failed)
{
    int64_t width = c->window_time_ms * MS / TIME_BUCKETS;
    int moved;
    struct tw_bucket *b;

    b = ROLLING_TOUCH(s->tw, &s->tw_head, rolling_index(ns, width), &moved);
    if (moved) {
        s->tw_calls = s->tw_failures = 0;
        for (size_t i = 0; i < TIME_BUCKETS; i++) {
            s->tw_calls += s->tw[i].calls;
            s->tw_failures += s->tw[i].failures;
        }
    }
    if (b == NULL || b->calls == ROLLING_U16_FULL)
        return;
    b->calls++;
    s->tw_calls++;
    if (failed) {
        b->failures++;
        s->tw_failures++;
    }
}

static int
rate_trips(const struct cb_conf *c, uint32_t calls, uint32_t failures)
{
    return calls > 0 && calls >= (uint64_t) c->minimum_calls
           && 100.0 * failures >= c->failure_rate_threshold * calls;
}

/* Counts a check of a closed circuit; 1 (and why) when it should open. */
static int
closed_should_open(const struct cb_conf *c, struct cb_slot *s, int64_t ns,
                   int failed, char *why, size_t len)
{
    s->consecutive_failures = failed ? s->consecutive_failures + 1 : 0;
    if (c->window_size > 0)
        rolling_bits_push(&s->bits, failed);
    if (c->window_time_ms > 0)
        time_window_add(c, s, ns, failed);

    if (c->failure_threshold > 0
        && s->consecutive_failures >= (uint64_t) c->failure_threshold) {
        snprintf(why, len, "%" PRIu32 " consecutive failures",
                 s->consecutive_failures);
        return 1;
    }
    if (c->window_size > 0 && rate_trips(c, s->bits.count, s->bits.ones)) {
        snprintf(why, len, "failure rate %.1f%% over the last %u checks",
                 100.0 * s->bits.ones / s->bits.count, s->bits.count);
        return 1;
    }
    if (c->window_time_ms > 0 && rate_trips(c, s->tw_calls, s->tw_failures)) {
        snprintf(why, len, "failure rate %.1f%% over %" PRIu32 " checks in "
                 "the last %" PRId64 "s",
                 100.0 * s->tw_failures / s->tw_calls, s->tw_calls,
                 c->window_time_ms / 1000);
        return 1;
    }
    return 0;
}

/* --- process and tick ---------------------------------------------------- */

static int
is_failure(const struct cb_conf *c, const struct cb *cb,
           const outpost_record_t *rec, const outpost_field_t *success)
{
    if (outpost_field_number(success, 0) == 0)
        return 1;
    return c->slow_call_ms > 0
           && lookup_num(rec, cb->k_response_ms, 0)
              >= (double) c->slow_call_ms;
}

static int
cb_process(outpost_instance_t *inst, outpost_record_t *rec,
           outpost_emitter_t *out)
{
    struct cb *cb = outpost_instance_data(inst);
    const struct cb_conf *c = outpost_instance_conf(inst);
    const outpost_field_t *success;
    struct rolling_entry *e;
    struct cb_slot *s;
    int64_t now = rec->ts_ns;
    char why[256];
    int failed;

    if (rec->kind != OUTPOST_MEASUREMENT)
        return OUTPOST_PASS;
    rolling_table_prefetch(cb->table, rec);  /* while the fields are read */
    if ((success = lookup_field(rec, cb->k_success)) == NULL
        || (e = rolling_table_get_rec(cb->table, rec, NULL)) == NULL)
        return OUTPOST_PASS;    /* not a check, no integration (or ENOMEM) */
    s = rolling_slot(e);
    __builtin_prefetch(s, 1);
    if (s->state == CB_CLOSED && s->bits.size == 0)
        clear_windows(c, s);            /* a new entry */
    if (now > s->last_ns)
        s->last_ns = now;
    failed = is_failure(c, cb, rec, success);

    if (s->state == CB_OPEN && now >= open_until(c, s)) {
        snprintf(why, sizeof(why), "trial after %" PRId64 "s open",
                 (int64_t) ((now - s->opened_ns) / 1000000000LL));
        transition(inst, out, e, rec, CB_HALF_OPEN, now, why);
    }
    switch (s->state) {
    case CB_CLOSED:
        if (closed_should_open(c, s, now, failed, why, sizeof(why)))
            transition(inst, out, e, rec, CB_OPEN, now, why);
        break;
    case CB_HALF_OPEN:
        if (failed)
            transition(inst, out, e, rec, CB_OPEN, now,
                       "trial check failed");
        else if (++s->half_open_successes
                 >= (uint64_t) c->recovery_threshold) {
            snprintf(why, sizeof(why), "%" PRIu32 " successful trial "
                     "checks", s->half_open_successes);
            transition(inst, out, e, rec, CB_CLOSED, now, why);
        }
        break;
    default:
        break;          /* open: results before open_for ends don't count */
    }
    outpost_record_add_str(rec, OUTPOST_F_CIRCUIT, outpost_circuit_name(s->state));
    return OUTPOST_PASS;
}

static void
cb_tick(outpost_instance_t *inst, outpost_emitter_t *out)
{
    struct cb *cb = outpost_instance_data(inst);
    const struct cb_conf *c = outpost_instance_conf(inst);
    int64_t now = outpost_time_now();
    char why[128];

    for (size_t i = 0; i < rolling_table_count(cb->table); i++) {
        struct rolling_entry *e = rolling_table_at(cb->table, i);
        struct cb_slot *s = rolling_slot(e);

        if (s->state != CB_OPEN)
            continue;
        if (now >= open_until(c, s)) {
            snprintf(why, sizeof(why), "trial after %" PRId64 "s open",
                     (int64_t) ((now - s->opened_ns) / 1000000000LL));
            transition(inst, out, e, NULL, CB_HALF_OPEN, now, why);
        } else if (!cb->deferrals_sent && c->probe_backoff)
            /* Restored open: the scheduler did not exist at init. */
            outpost_input_defer(e->name, open_until(c, s));
    }
    cb->deferrals_sent = 1;
    if (rolling_state_tick(cb->state, cb->table,
                           now - cb->last_save_ns >= c->save_interval_ms * MS))
        cb->last_save_ns = now;
}

/* --- persistence --------------------------------------------------------- */

/* Forget circuits not heard of for a month. A changed window_size
 * invalidates the count window (its ring would be read with the wrong
 * length); the rest of the state stays. */
struct load_ctx {
    const struct cb_conf *c;
    int64_t               now;
};

static int
keep_slot(const char *name, void *slot, void *arg)
{
    struct load_ctx *ctx = arg;
    struct cb_slot *s = slot;

    (void) name;
    if (s->last_ns > 0 && ctx->now - s->last_ns > FORGET_NS)
        return 0;
    if (s->bits.size != (ctx->c->window_size > 0 ? ctx->c->window_size : 1))
        rolling_bits_init(&s->bits, (unsigned) ctx->c->window_size);
    return 1;
}

/* --- lifecycle ----------------------------------------------------------- */

static int
cb_init(outpost_instance_t *inst)
{
    const struct cb_conf *c = outpost_instance_conf(inst);
    struct cb *cb;

    if (c->window_size > 0 && c->minimum_calls > c->window_size)
        outpost_log(inst, OUTPOST_LOG_WARN, "init", "minimum_calls (%" PRId64
                    ") exceeds window_size (%" PRId64 "): the count window "
                    "can never open the circuit", c->minimum_calls,
                    c->window_size);
    cb = calloc(1, sizeof(*cb));
    if (cb == NULL
        || (cb->table = rolling_table_new(sizeof(struct cb_slot))) == NULL) {
        free(cb);
        return -1;
    }
    cb->k_success = outpost_intern(OUTPOST_F_SUCCESS);
    cb->k_response_ms = outpost_intern(OUTPOST_F_RESPONSE_MS);
    cb->last_save_ns = outpost_time_now();
    {
        struct load_ctx ctx = { c, cb->last_save_ns };
        cb->state = rolling_state_open(inst, STATE_FILE, STATE_VERSION);
        rolling_state_load(cb->state, cb->table, keep_slot, &ctx);
    }
    outpost_instance_set_data(inst, cb);
    return 0;
}

/* `stats`: how many circuits, how many open, and the memory they take
 * (for operators and bench/decide). */
static int
cb_control(outpost_instance_t *inst, const char *cmd, const char *args,
           outpost_emitter_t *out, char **reply)
{
    struct cb *cb = outpost_instance_data(inst);
    size_t open = 0, n = rolling_table_count(cb->table);

    (void) args;
    (void) out;
    if (strcmp(cmd, "stats") != 0) {
        *reply = strdup("{\"error\":\"unknown command; try stats\"}");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct cb_slot *s = rolling_slot(rolling_table_at(cb->table, i));
        open += s->state != CB_CLOSED;
    }
    if (asprintf(reply, "{\"integrations\":%zu,\"not_closed\":%zu,"
                 "\"state_bytes\":%zu}", n, open,
                 rolling_table_bytes(cb->table)) < 0) {
        *reply = NULL;
        return -1;
    }
    return 0;
}

static void
cb_shutdown(outpost_instance_t *inst)
{
    struct cb *cb = outpost_instance_data(inst);

    if (cb == NULL)
        return;
    rolling_state_close(cb->state, cb->table);
    rolling_table_free(cb->table);
    free(cb);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "circuit_breaker",
    .description = "closed / open / half_open per integration; circuit "
                   "events; backs off probing while open",
    .kind = OUTPOST_FILTER,
    .options = cb_options,
    .conf_size = sizeof(struct cb_conf),
    .init = cb_init,
    .process = cb_process,
    .tick = cb_tick,
    .control = cb_control,
    .shutdown = cb_shutdown,
};
