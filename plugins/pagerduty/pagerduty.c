/*
 * pagerduty.c - the `pagerduty` notifier: PagerDuty Events API v2.
 *
 * POST {base_url}/v2/enqueue, the routing key in the body:
 *   alert (open, repeat, update) and escalate  -> event_action "trigger"
 *   alert action=acknowledge                   -> "acknowledge"
 *   resolve                                    -> "resolve"
 * The dedup_key is the alert's own (outpost/<integration>/health...), so
 * it is the same across restarts and agents: a repeated trigger updates
 * the open incident instead of paging again, and the resolve closes it.
 * Severity maps with outpost_severity_pagerduty(); component is the
 * integration, group its category, class the alert's condition;
 * custom_details carry the check's facts; links the dashboard and the
 * vendor's status page (option status_pages, "integration=URL": the
 * records do not carry the page's address).
 *
 * PagerDuty answers 202; 400 (invalid event) is refused for good (dead
 * letters, with PagerDuty's errors), 429 and 5xx are retried. The routing
 * key never appears in a log line or a dead letter. Over the rate limit
 * (PagerDuty allows about 120 events a minute per key), one trigger
 * summarises the rest. write runs on the output's own thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "notify.h"

#define PD_SUMMARY_MAX  1024    /* PagerDuty's limit on payload.summary */
#define PD_DEDUP_MAX    255

struct pd_conf {
    char               *routing_key;
    char               *base_url;
    char               *source;
    char               *client_url;
    outpost_strlist_t   status_pages;
    struct notify_conf  nc;
};

static const outpost_option_t pd_options[] = {
    { .name = "routing_key", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct pd_conf, routing_key),
      .flags = OUTPOST_OPT_REQUIRED,
      .help = "the integration's 32-character routing key" },
    { .name = "base_url", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct pd_conf, base_url),
      .def = "https://events.pagerduty.com",
      .help = "where the Events API is; events go to {base_url}/v2/enqueue" },
    { .name = "source", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct pd_conf, source),
      .help = "payload.source (default: this host's name)" },
    { .name = "client_url", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct pd_conf, client_url),
      .help = "client_url of the events; may hold {integration} "
              "(default: the dashboard_url)" },
    { .name = "status_pages", .type = OUTPOST_OPT_STRLIST,
      .offset = offsetof(struct pd_conf, status_pages),
      .help = "vendors' status pages linked from their incidents, "
              "\"integration=https://status.example.com\"" },
    NOTIFY_OPTIONS(struct pd_conf, nc, "120/1m"),
    OUTPOST_OPTION_END
};

static const outpost_default_t pd_defaults[] = {
    NOTIFY_OUTPUT_DEFAULTS,
    OUTPOST_DEFAULT_END
};

struct pd {
    struct notify *n;
    const char    *secrets[2];
    char          *url;
    char           host[256];
};

static int
pd_validate(const void *conf, char *err, size_t errlen)
{
    const struct pd_conf *c = conf;

    if (c->base_url
        && http_url_check("base_url", c->base_url, err, errlen) != 0)
        return -1;
    /* The key's length is PagerDuty's to judge (a 400, dead-lettered):
     * a placeholder must pass -t. Only what cannot be a key is refused. */
    for (const char *k = c->routing_key; k && *k; k++) {
        if (*k <= ' ' || *k == 0x7f) {
            snprintf(err, errlen, "routing_key: contains a blank or a "
                     "control character");
            return -1;
        }
    }
    if (c->client_url && *c->client_url
        && notify_tmpl_check("client_url", c->client_url, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < c->status_pages.n; i++) {
        const char *e = c->status_pages.v[i], *eq = strchr(e, '=');

        if (eq == NULL || eq == e) {
            snprintf(err, errlen, "status_pages: \"%s\" is not "
                     "integration=URL", e);
            return -1;
        }
        if (http_url_check("status_pages", eq + 1, err, errlen) != 0)
            return -1;
    }
    return notify_conf_check(&c->nc, err, errlen);
}

static int
pd_init(outpost_instance_t *inst)
{
    struct pd_conf *c = outpost_instance_conf(inst);
    struct pd *p = calloc(1, sizeof(*p));
    size_t len;

    if (p == NULL)
        return -1;
    len = strlen(c->base_url);
    while (len > 0 && c->base_url[len - 1] == '/')
        len--;
    if ((p->url = malloc(len + sizeof("/v2/enqueue"))) == NULL) {
        free(p);
        return -1;
    }
    memcpy(p->url, c->base_url, len);
    strcpy(p->url + len, "/v2/enqueue");
    if (gethostname(p->host, sizeof(p->host) - 1) != 0)
        strcpy(p->host, "outpost");
    p->secrets[0] = c->routing_key;
    if ((p->n = notify_new(inst, &c->nc, p->secrets)) == NULL) {
        free(p->url);
        free(p);
        return -1;
    }
    outpost_instance_set_data(inst, p);
    return 0;
}

static void
pd_shutdown(outpost_instance_t *inst)
{
    struct pd *p = outpost_instance_data(inst);

    if (p == NULL)
        return;
    notify_free(p->n);
    free(p->url);
    free(p);
}

/* custom_details: the facts, as numbers where they are numbers. */
static json_t *
details(const outpost_record_t *ev)
{
    static const char *const names[] = {
        "status", "priority", "reason", "error", "vendor_status",
        "vendor_description", "failover_active", "action", "condition",
        "tier", "provider",
    };
    static const char *const numbers[] = {
        "response_ms", "status_code", "consecutive_failures", "occurrences",
    };
    json_t *d = json_object();
    char b[256];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = notify_field(ev, names[i], b, sizeof(b));

        if (*v)
            json_object_set_new(d, names[i], json_string(v));
    }
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        double v = notify_number(ev, numbers[i], -1);

        if (v >= 0)
            json_object_set_new(d, numbers[i], v == (double) (json_int_t) v
                                ? json_integer((json_int_t) v)
                                : json_real(v));
    }
    if (*notify_field(ev, "failover", b, sizeof(b)))
        json_object_set_new(d, "failover", json_string(b));
    return d;
}

static const char *
action_of(const outpost_record_t *ev)
{
    const char *a = outpost_record_string(ev, OUTPOST_F_ACTION);

    if (ev->event_kind == OUTPOST_EV_RESOLVE)
        return "resolve";
    if (a && strcmp(a, "acknowledge") == 0)
        return "acknowledge";
    return "trigger";
}

/* The dedup key: the alert's, else one made of the event's kind and
 * integration; at most PagerDuty's 255 characters. */
static void
dedup_of(const outpost_record_t *ev, char *buf, size_t len)
{
    const char *k = ev->event ? ev->event->dedup_key : NULL;
    const char *integ = outpost_record_tag(ev, OUTPOST_TAG_INTEGRATION);

    if (k && *k)
        snprintf(buf, len, "%s", k);
    else
        snprintf(buf, len, "outpost/%s/%s", integ ? integ : "outpost",
                 outpost_event_kind_name(
                     (outpost_event_kind_t) ev->event_kind));
    if (strlen(buf) > PD_DEDUP_MAX)
        buf[PD_DEDUP_MAX] = '\0';
}

/* The status page status_pages names for ev's integration, or NULL. */
static const char *
status_page(const struct pd_conf *c, const outpost_record_t *ev)
{
    const char *integ = outpost_record_tag(ev, OUTPOST_TAG_INTEGRATION);
    size_t len = integ ? strlen(integ) : 0;

    for (size_t i = 0; integ && i < c->status_pages.n; i++) {
        const char *e = c->status_pages.v[i];

        if (strncmp(e, integ, len) == 0 && e[len] == '=')
            return e + len + 1;
    }
    return NULL;
}

/* links: the dashboard, then the vendor's status page. */
static void
add_links(json_t *root, const char *link, const char *page,
          const char *integ)
{
    json_t *links = json_array();
    char text[300];

    if (link && *link)
        json_array_append_new(links, json_pack("{s:s, s:s}", "href", link,
                                               "text", "outpost dashboard"));
    if (page) {
        snprintf(text, sizeof(text), "%s status page", integ);
        json_array_append_new(links, json_pack("{s:s, s:s}", "href", page,
                                               "text", text));
    }
    if (json_array_size(links) > 0)
        json_object_set_new(root, "links", links);
    else
        json_decref(links);
}

static enum notify_verdict
send_json(outpost_instance_t *inst, json_t *root, struct notify_reply *rep)
{
    struct pd *p = outpost_instance_data(inst);
    char *body = notify_dump(root);
    enum notify_verdict v;

    if (body == NULL) {
        memset(rep, 0, sizeof(*rep));
        rep->retry_after_ms = -1;
        snprintf(rep->why, sizeof(rep->why), "out of memory");
        return NOTIFY_RETRY;
    }
    v = notify_post(p->n, p->url, body, strlen(body), NULL, rep);
    free(body);
    return v;
}

static char *
client_url(struct pd *p, const struct pd_conf *c, const outpost_record_t *ev)
{
    if (c->client_url && *c->client_url)
        return notify_render(c->client_url, ev);
    return notify_dashboard(p->n, ev);
}

static enum notify_verdict
pd_send(outpost_instance_t *inst, const outpost_record_t *ev,
        struct notify_reply *rep)
{
    struct pd_conf *c = outpost_instance_conf(inst);
    struct pd *p = outpost_instance_data(inst);
    const char *action = action_of(ev);
    char dedup[PD_DEDUP_MAX + 1], ts[40], b[256];
    json_t *root;
    char *link, *text;

    dedup_of(ev, dedup, sizeof(dedup));
    root = json_pack("{s:s, s:s, s:s}", "routing_key", c->routing_key,
                     "event_action", action, "dedup_key", dedup);
    if (root == NULL)
        return send_json(inst, NULL, rep);
    if (strcmp(action, "trigger") != 0)
        return send_json(inst, root, rep);

    text = notify_text(&c->nc, ev);
    if (text && strlen(text) > PD_SUMMARY_MAX)
        text[PD_SUMMARY_MAX] = '\0';
    json_object_set_new(root, "payload", json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
        "summary", text ? text : "",
        "source", c->source && *c->source ? c->source : p->host,
        "severity", outpost_severity_pagerduty(
            (outpost_severity_t) ev->severity),
        "timestamp", notify_time(ev->ts_ns, ts, sizeof(ts)),
        "component", notify_field(ev, OUTPOST_TAG_INTEGRATION, b, sizeof(b)),
        "group", outpost_record_tag(ev, OUTPOST_TAG_CATEGORY)
                 ? outpost_record_tag(ev, OUTPOST_TAG_CATEGORY) : "",
        "class", outpost_record_string(ev, "condition")
                 ? outpost_record_string(ev, "condition") : "availability",
        "custom_details", details(ev)));
    free(text);
    json_object_set_new(root, "client", json_string("outpost"));
    link = client_url(p, c, ev);
    if (link && *link)
        json_object_set_new(root, "client_url", json_string(link));
    add_links(root, link, status_page(c, ev),
              notify_field(ev, OUTPOST_TAG_INTEGRATION, b, sizeof(b)));
    free(link);
    return send_json(inst, root, rep);
}

static enum notify_verdict
pd_summary(outpost_instance_t *inst, const outpost_record_t *const *evs,
           size_t n, struct notify_reply *rep)
{
    struct pd_conf *c = outpost_instance_conf(inst);
    struct pd *p = outpost_instance_data(inst);
    outpost_severity_t worst = OUTPOST_SEV_INFO;
    char *text = notify_summary_text(p->n, evs, n);
    char dedup[64], ts[40];
    json_t *keys = json_array(), *root;

    for (size_t i = 0; i < n; i++) {
        if (evs[i]->severity > worst)
            worst = (outpost_severity_t) evs[i]->severity;
        if (evs[i]->event && evs[i]->event->dedup_key)
            json_array_append_new(keys,
                                  json_string(evs[i]->event->dedup_key));
    }
    if (text && strlen(text) > PD_SUMMARY_MAX)
        text[PD_SUMMARY_MAX] = '\0';
    /* One key per summary moment: a later burst is a new incident. */
    snprintf(dedup, sizeof(dedup), "outpost/summary/%lld",
             (long long) (evs[0]->ts_ns / 1000000));
    root = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:{s:I, "
                     "s:o}}, s:s}",
                     "routing_key", c->routing_key,
                     "event_action", "trigger", "dedup_key", dedup,
                     "payload", "summary", text ? text : "",
                     "source", c->source && *c->source ? c->source : p->host,
                     "severity", outpost_severity_pagerduty(worst),
                     "timestamp", notify_time(evs[0]->ts_ns, ts, sizeof(ts)),
                     "class", "summary",
                     "custom_details", "events", (json_int_t) n,
                     "dedup_keys", keys,
                     "client", "outpost");
    free(text);
    return send_json(inst, root, rep);
}

static const struct notify_ops pd_ops = {
    .send = pd_send,
    .summary = pd_summary,
    .acks = 1,
};

static outpost_result_t
pd_write(outpost_instance_t *inst, const outpost_batch_t *batch)
{
    struct pd *p = outpost_instance_data(inst);

    return notify_write(p->n, batch, &pd_ops);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "pagerduty",
    .description = "trigger, acknowledge and resolve PagerDuty incidents "
                   "(Events API v2)",
    .kind = OUTPOST_OUTPUT,
    .flags = OUTPOST_PLUGIN_NOTIFIER,
    .options = pd_options,
    .conf_size = sizeof(struct pd_conf),
    .init = pd_init,
    .write = pd_write,
    .shutdown = pd_shutdown,
    .validate = pd_validate,
    .output_defaults = pd_defaults,
};
