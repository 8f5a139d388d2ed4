/*
 * alert.c - the `alert` filter: turns checks into the few notifications
 * that matter. It opens an alert after consecutive failures or on a
 * change to a bad status, groups repeats, throttles reminders, resolves
 * on recovery, detects flapping, routes each notification to the output
 * instances its severity's policy names, escalates unacknowledged alerts,
 * and mutes (records without notifying) under silences and maintenance
 * windows. alert.h lists the files and the model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include "alert.h"

#define STATE_SAVE_EVERY_NS (30 * NS_PER_S)
#define DAYS_365_MS         31536000000.0

#define OFF(f) offsetof(struct alert_conf, f)
#define ROUTE(sev, opt, text)                                               \
    { .name = opt, .type = OUTPOST_OPT_STRLIST, .offset = OFF(route[sev]),   \
      .flags = OUTPOST_OPT_OUTPUTS, .help = text }
#define ESCALATE(sev, opt, text)                                            \
    { .name = opt, .type = OUTPOST_OPT_STRLIST,                             \
      .offset = OFF(escalate[sev]), .flags = OUTPOST_OPT_OUTPUTS,           \
      .help = text }
#define AFTER(sev, opt, value)                                              \
    { .name = opt, .type = OUTPOST_OPT_DURATION,                            \
      .offset = OFF(escalate_after_ms[sev]), .def = value, .min = 0,        \
      .max = DAYS_365_MS,                                                   \
      .help = "escalate an unacknowledged alert after this long" }

static const outpost_option_t alert_options[] = {
    { .name = "consecutive_failures", .type = OUTPOST_OPT_INT,
      .offset = OFF(consecutive_failures), .def = "3", .min = 1, .max = 1e6,
      .help = "failed checks in a row that open an alert" },
    { .name = "open_on", .type = OUTPOST_OPT_STRLIST, .offset = OFF(open_on),
      .def = "{\"degraded\", \"down\"}",
      .help = "statuses that open an alert at once when the check itself "
              "succeeded (slow, or a status page says so): degraded, down, "
              "unknown" },
    { .name = "success_threshold", .type = OUTPOST_OPT_INT,
      .offset = OFF(success_threshold), .def = "2", .min = 1, .max = 1e6,
      .help = "good checks in a row that resolve an open alert" },
    { .name = "repeat_interval", .type = OUTPOST_OPT_DURATION,
      .offset = OFF(repeat_interval_ms), .def = "1h", .min = 1000,
      .max = DAYS_365_MS,
      .help = "at most one notification per alert this often; repeats "
              "in between only count occurrences" },
    { .name = "flap_threshold", .type = OUTPOST_OPT_INT,
      .offset = OFF(flap_threshold), .def = "5", .min = 0,
      .max = AL_FLAP_MAX - 1,
      .help = "more status changes than this within flap_window is "
              "flapping (0: off)" },
    { .name = "flap_window", .type = OUTPOST_OPT_DURATION,
      .offset = OFF(flap_window_ms), .def = "10m", .min = 1000,
      .max = DAYS_365_MS, .help = "the window flapping is judged over" },
    { .name = "severity_rules", .type = OUTPOST_OPT_STRLIST,
      .offset = OFF(severity_rules),
      .def = "{\"condition=flapping:medium\", "
             "\"status=down,tier=enterprise:critical\", \"status=down:high\", "
             "\"status=degraded:medium\", \"*:low\"}",
      .help = "\"<key=glob,...>:<critical|high|medium|low>\", first match "
              "wins; keys: status, condition, integration and any tag" },
    { .name = "maintenance", .type = OUTPOST_OPT_STRLIST,
      .offset = OFF(maintenance),
      .help = "recurring windows that mute notifications: \"start=02:00,"
              "duration=1h[,weekdays=sat|sun][,timezone=Europe/Berlin]"
              "[,match=key=glob]...\"" },
    { .name = "events_notify", .type = OUTPOST_OPT_STRLIST,
      .offset = OFF(events_notify), .flags = OUTPOST_OPT_OUTPUTS,
      .help = "outputs that get state_change, circuit and failover events "
              "once any policy is set (default: none, recorded only)" },
    ROUTE(AL_CRITICAL, "critical", "outputs notified of critical alerts"),
    ROUTE(AL_HIGH, "high", "outputs notified of high alerts"),
    ROUTE(AL_MEDIUM, "medium", "outputs notified of medium alerts"),
    ROUTE(AL_LOW, "low", "outputs notified of low alerts"),
    ESCALATE(AL_CRITICAL, "critical_escalate",
             "outputs added when a critical alert stays unacknowledged"),
    ESCALATE(AL_HIGH, "high_escalate",
             "outputs added when a high alert stays unacknowledged"),
    ESCALATE(AL_MEDIUM, "medium_escalate",
             "outputs added when a medium alert stays unacknowledged"),
    ESCALATE(AL_LOW, "low_escalate",
             "outputs added when a low alert stays unacknowledged"),
    AFTER(AL_CRITICAL, "critical_escalate_after", "5m"),
    AFTER(AL_HIGH, "high_escalate_after", "10m"),
    AFTER(AL_MEDIUM, "medium_escalate_after", "30m"),
    AFTER(AL_LOW, "low_escalate_after", "1h"),
    OUTPOST_OPTION_END
};

/* --- names -------------------------------------------------------------- */

static const char *const action_names[] = {
    [AL_OPEN] = "open", [AL_REPEAT] = "repeat", [AL_UPDATE] = "update",
    [AL_ACK] = "acknowledge", [AL_RESOLVE] = "resolve",
    [AL_ESCALATE] = "escalate",
};

const char *
al_status_name(enum al_status s)
{
    return outpost_status_name(s);
}

enum al_status
al_status_parse(const char *s)
{
    int st = outpost_status_parse(s);

    return st < 0 ? AL_UNKNOWN : (enum al_status) st;
}

const char *
al_action_name(enum al_action a)
{
    return action_names[a];
}

/* --- alerts ------------------------------------------------------------- */

const char *
al_alert_attr(const void *obj, const char *key)
{
    const struct al_alert *a = obj;

    if (strcmp(key, "condition") == 0)
        return a->condition;
    if (strcmp(key, "status") == 0)
        return al_status_name(a->status);
    if (strcmp(key, "severity") == 0)
        return al_sev_name(a->sev);
    if (strcmp(key, "dedup_key") == 0)
        return a->key;
    if (strcmp(key, "integration") == 0)
        return a->integration;
    return a->tags ? outpost_tagset_get(a->tags, key) : NULL;
}

struct al_alert *
al_alert_get(struct alerter *st, const char *key, const char *integration,
             const char *condition)
{
    struct al_alert *a = strmap_get(&st->alerts, key);

    if (a != NULL)
        return a;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->key = strdup(key);
    a->integration = strdup(integration);
    a->condition = strdup(condition);
    if (a->key == NULL || a->integration == NULL || a->condition == NULL
        || strmap_put(&st->alerts, a->key, a) != 0) {
        free(a->key);
        free(a->integration);
        free(a->condition);
        free(a);
        return NULL;
    }
    return a;
}

void
al_alert_set_tags(struct al_alert *a, outpost_tagset_t *tags)
{
    if (tags == a->tags)
        return;
    if (tags)
        outpost_tagset_ref(tags);
    outpost_tagset_unref(a->tags);
    a->tags = tags;
}

/* Starts a new opening of a: the counters and timers of the last one go.
 * -1 when memory runs out (a stays closed; the next check retries). */
int
al_alert_opened(struct alerter *st, struct al_alert *a, int64_t now)
{
    if (st->nopen == st->capopen) {
        size_t cap = st->capopen ? st->capopen * 2 : 16;
        struct al_alert **v = realloc(st->open, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        st->open = v;
        st->capopen = cap;
    }
    a->open = 1;
    a->open_index = st->nopen;
    st->open[st->nopen++] = a;
    a->occurrences = 1;
    a->opened_ns = a->last_seen_ns = now;
    a->notified_ns = a->last_notify_ns = a->acked_ns = 0;
    a->pending = a->escalated = a->acked = 0;
    free(a->acked_by);
    free(a->told);
    a->acked_by = a->told = NULL;
    st->urgent = 1;
    return 0;
}

void
al_alert_closed(struct alerter *st, struct al_alert *a)
{
    struct al_alert *last;

    if (!a->open)
        return;
    last = st->open[--st->nopen];
    st->open[a->open_index] = last;
    last->open_index = a->open_index;
    a->open = 0;
    a->pending = 0;
    st->urgent = 1;
}

static void
alert_free(void *value, void *arg)
{
    struct al_alert *a = value;

    (void) arg;
    outpost_tagset_unref(a->tags);
    free(a->key);
    free(a->integration);
    free(a->condition);
    free(a->acked_by);
    free(a->told);
    free(a->message);
    free(a);
}

/* --- callbacks ---------------------------------------------------------- */

static int
parse_open_on(struct alerter *st, char *err, size_t errlen)
{
    const outpost_strlist_t *l = &st->conf->open_on;

    for (size_t i = 0; i < l->n; i++) {
        enum al_status s = al_status_parse(l->v[i]);
        if (s == AL_HEALTHY
            || (s == AL_UNKNOWN && strcmp(l->v[i], "unknown") != 0)) {
            snprintf(err, errlen, "open_on: \"%s\" is not one of degraded, "
                     "down, unknown", l->v[i]);
            return -1;
        }
        st->open_on |= 1u << s;
    }
    return 0;
}

static void
check_policies(struct alerter *st)
{
    for (int s = 0; s < AL_SEV_N; s++)
        if (st->conf->route[s].n || st->conf->escalate[s].n)
            st->has_policy = 1;
    for (int s = 0; st->has_policy && s < AL_SEV_N; s++)
        if (st->conf->route[s].n == 0)
            outpost_log(st->inst, OUTPOST_LOG_INFO, "init",
                        "%s alerts are recorded but notify no one (no "
                        "\"%s\" list while other policies are set)",
                        al_sev_name((enum al_sev) s),
                        al_sev_name((enum al_sev) s));
}

static void alert_shutdown(outpost_instance_t *inst);

/* Parses what the option table cannot check: severity rules, open_on and
 * maintenance windows. 0, or -1 with err set. */
static int
parse_conf(struct alerter *st, char *err, size_t errlen)
{
    return al_rules_parse(&st->conf->severity_rules, &st->rules, &st->nrules,
                          err, errlen) != 0
        || parse_open_on(st, err, errlen) != 0
        || al_windows_parse(st, err, errlen) != 0 ? -1 : 0;
}

/* Runs at config load, so outpostd -t and a reload refuse a bad rule. */
static int
alert_validate(const void *conf, char *err, size_t errlen)
{
    struct alerter st;
    int rc;

    memset(&st, 0, sizeof(st));
    st.conf = (struct alert_conf *) conf;
    rc = parse_conf(&st, err, errlen);
    al_rules_free(st.rules, st.nrules);
    al_windows_free(&st);
    return rc;
}

static int
alert_init(outpost_instance_t *inst)
{
    struct alerter *st = calloc(1, sizeof(*st));
    char err[600] = "";

    if (st == NULL)
        return -1;
    st->inst = inst;
    st->conf = outpost_instance_conf(inst);
    st->k_status = outpost_intern(OUTPOST_F_STATUS);
    st->k_success = outpost_intern(OUTPOST_F_SUCCESS);
    outpost_instance_set_data(inst, st);
    if ((st->integs = rolling_table_new(sizeof(struct al_integ))) == NULL
        || parse_conf(st, err, sizeof(err)) != 0) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "init", "%s", err[0] ? err
                    : "out of memory");
        alert_shutdown(inst);
        return -1;
    }
    check_policies(st);
    al_store_restore(st);
    st->saved_ns = outpost_time_now();
    return 0;
}

static int
alert_process(outpost_instance_t *inst, outpost_record_t *rec,
              outpost_emitter_t *out)
{
    struct alerter *st = outpost_instance_data(inst);

    if (rec->kind == OUTPOST_MEASUREMENT) {
        al_detect(st, rec, out);
        return OUTPOST_PASS;
    }
    switch (rec->event_kind) {
    case OUTPOST_EV_ALERT:
    case OUTPOST_EV_RESOLVE:
        al_upstream(st, rec);
        break;
    case OUTPOST_EV_STATE_CHANGE:
    case OUTPOST_EV_CIRCUIT:
    case OUTPOST_EV_FAILOVER:
        al_route_other(st, rec);
        break;
    default:
        break;
    }
    return OUTPOST_PASS;
}

/* Delivers an opening that was muted, once nothing mutes it any more
 * (unless someone acknowledged it meanwhile: they know). */
static void
deliver_pending(struct alerter *st, struct al_alert *a,
                outpost_emitter_t *out, int64_t now)
{
    char buf[48];

    if (a->open && a->pending && !a->acked
        && !al_mute_reason(st, a, now, buf, sizeof(buf)))
        al_notify(st, a, AL_OPEN, a->message ? a->message : a->key, NULL,
                  out, now);
}

static void
alert_tick(outpost_instance_t *inst, outpost_emitter_t *out)
{
    struct alerter *st = outpost_instance_data(inst);
    int64_t now = outpost_time_now();

    if (al_silences_expire(st, now) > 0)
        st->urgent = 1;
    /* Backwards: closing an alert moves the last one into its slot, which
     * has then been visited already. */
    for (size_t i = st->nopen; i-- > 0;) {
        struct al_alert *a;

        if (i >= st->nopen)
            continue;
        a = st->open[i];
        if (strcmp(a->condition, "flapping") == 0)
            al_flap_tick(st, a, out, now);
        deliver_pending(st, a, out, now);
        if (a->open)
            al_escalate_tick(st, a, out, now);
    }
    if (st->urgent || (st->dirty && now - st->saved_ns >= STATE_SAVE_EVERY_NS))
        al_store_save(st);
}

static int
alert_control(outpost_instance_t *inst, const char *cmd, const char *args,
              outpost_emitter_t *out, char **reply)
{
    return al_control(outpost_instance_data(inst), cmd, args, out, reply);
}

static void
alert_shutdown(outpost_instance_t *inst)
{
    struct alerter *st = outpost_instance_data(inst);

    if (st == NULL)
        return;
    al_store_close(st, st->rules != NULL && (st->dirty || st->urgent));
    strmap_each(&st->alerts, alert_free, NULL);
    strmap_free(&st->alerts);
    /* The slots' alerts went with st->alerts (alert.h, invariant 4). */
    rolling_table_free(st->integs);
    al_rules_free(st->rules, st->nrules);
    al_windows_free(st);
    al_silences_free(st);
    free(st->open);
    free(st);
    outpost_instance_set_data(inst, NULL);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "alert",
    .description = "open, group, route, escalate and resolve alerts; "
                   "silences and maintenance windows",
    .kind = OUTPOST_FILTER,
    .options = alert_options,
    .conf_size = sizeof(struct alert_conf),
    .init = alert_init,
    .process = alert_process,
    .tick = alert_tick,
    .control = alert_control,
    .validate = alert_validate,
    .shutdown = alert_shutdown,
};
