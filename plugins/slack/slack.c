/*
 * slack.c - the `slack` notifier: alerts, escalations and resolves as
 * messages through a Slack incoming webhook.
 *
 * One message per event: `text` (the template, also the notification
 * text) and one attachment coloured by severity (outpost_severity_color)
 * holding Block Kit blocks with the facts a responder needs: status,
 * priority, reason, response time, consecutive failures, the last error,
 * what the vendor's status page says, where failover sent the traffic, a
 * button to the dashboard. An
 * acknowledgement is one short line, "stripe: health alert acknowledged
 * by ann". Over the rate limit, one summary message (notify.h).
 *
 * Slack answers 200 "ok"; 400 invalid_payload / no_text, 403/404
 * no_service, channel_not_found... are refused for good (dead letters);
 * 429 (Retry-After) and 5xx are retried. The webhook URL is the secret:
 * it never appears in a log line or a dead letter. write runs on the
 * output's own thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "notify.h"

struct slack_conf {
    char               *webhook_url;
    struct notify_conf  nc;
};

static const outpost_option_t slack_options[] = {
    { .name = "webhook_url", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct slack_conf, webhook_url),
      .flags = OUTPOST_OPT_REQUIRED,
      .help = "the incoming webhook, https://hooks.slack.com/services/..." },
    NOTIFY_OPTIONS(struct slack_conf, nc, "30/1m"),
    OUTPOST_OPTION_END
};

static const outpost_default_t slack_defaults[] = {
    NOTIFY_OUTPUT_DEFAULTS,
    OUTPOST_DEFAULT_END
};

struct slack {
    struct notify *n;
    const char    *secrets[2];
};

static int
slack_validate(const void *conf, char *err, size_t errlen)
{
    const struct slack_conf *c = conf;

    if (c->webhook_url
        && http_url_check("webhook_url", c->webhook_url, err, errlen) != 0)
        return -1;
    return notify_conf_check(&c->nc, err, errlen);
}

static int
slack_init(outpost_instance_t *inst)
{
    struct slack_conf *c = outpost_instance_conf(inst);
    struct slack *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return -1;
    s->secrets[0] = c->webhook_url;
    if ((s->n = notify_new(inst, &c->nc, s->secrets)) == NULL) {
        free(s);
        return -1;
    }
    outpost_instance_set_data(inst, s);
    return 0;
}

static void
slack_shutdown(outpost_instance_t *inst)
{
    struct slack *s = outpost_instance_data(inst);

    if (s == NULL)
        return;
    notify_free(s->n);
    free(s);
}

/* Slack's mrkdwn gives &, < and > a meaning: text from the event (an
 * error message, a vendor's description) is escaped there (plain_text
 * shows them as they are), then cut to at most
 * max bytes on a UTF-8 boundary (Block Kit's limits: 150 for a header,
 * 2,000 for a field, 3,000 for a section). */
static json_t *
mrkdwn_text(const char *type, const char *prefix, const char *text,
            size_t max)
{
    size_t n = 0, cap = strlen(prefix) + strlen(text) * 5 + 1;
    char *b = malloc(cap);
    int esc = strcmp(type, "mrkdwn") == 0;
    json_t *j;

    if (b == NULL)
        return NULL;
    n = (size_t) snprintf(b, cap, "%s", prefix);
    for (const char *p = text; *p; p++) {
        const char *r = !esc ? NULL : *p == '&' ? "&amp;"
                      : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;
        if (r) {
            memcpy(b + n, r, strlen(r));
            n += strlen(r);
        } else {
            b[n++] = *p;
        }
    }
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char) b[n] & 0xC0) == 0x80)
            n--;
    }
    b[n] = '\0';
    j = json_pack("{s:s, s:s}", "type", type, "text", b);
    free(b);
    return j;
}

static void
add_field(json_t *fields, const char *title, const char *value)
{
    char head[64];

    if (value == NULL || *value == '\0' || json_array_size(fields) >= 10)
        return;                 /* a section holds at most 10 fields */
    snprintf(head, sizeof(head), "*%s*\n", title);
    json_array_append_new(fields, mrkdwn_text("mrkdwn", head, value, 2000));
}

/* The section's facts, those the event has. */
static json_t *
facts(const outpost_record_t *ev)
{
    json_t *f = json_array();
    char b[256], b2[256];
    const char *v;

    add_field(f, "Status", notify_field(ev, OUTPOST_F_STATUS, b, sizeof(b)));
    add_field(f, "Priority", notify_field(ev, OUTPOST_F_PRIORITY, b,
                                          sizeof(b)));
    add_field(f, "Reason", notify_field(ev, OUTPOST_F_REASON, b, sizeof(b)));
    v = notify_field(ev, OUTPOST_F_RESPONSE_MS, b, sizeof(b));
    if (*v) {
        snprintf(b2, sizeof(b2), "%s ms", v);
        add_field(f, "Response time", b2);
    }
    add_field(f, "Consecutive failures",
              notify_field(ev, OUTPOST_F_CONSECUTIVE_FAILURES, b, sizeof(b)));
    add_field(f, "Occurrences", notify_field(ev, OUTPOST_F_OCCURRENCES, b,
                                             sizeof(b)));
    add_field(f, "Last error", notify_field(ev, OUTPOST_F_ERROR, b,
                                            sizeof(b)));
    v = notify_field(ev, OUTPOST_F_VENDOR_STATUS, b, sizeof(b));
    if (*v) {
        const char *d = notify_field(ev, OUTPOST_F_VENDOR_DESCRIPTION, b2,
                                     sizeof(b2));
        char both[600];

        snprintf(both, sizeof(both), "%s%s%s", v, *d ? ": " : "", d);
        add_field(f, "Vendor status page", both);
    }
    add_field(f, "Failover", notify_field(ev, "failover", b, sizeof(b)));
    return f;
}

/* The message: `text` (the template: what the notification and a client
 * without blocks show) and one attachment coloured by severity holding
 * the blocks: the headline, the event's message, the facts as fields,
 * a button to the dashboard when dashboard_url is set, and a footer. */
static char *
slack_payload(struct notify *n, const struct slack_conf *c,
              const outpost_record_t *ev)
{
    char head[256], when[96];
    char *text = notify_text(&c->nc, ev), *link = notify_dashboard(n, ev);
    json_t *blocks, *fields, *root;
    char *out;

    if (text == NULL) {
        free(link);
        return NULL;
    }
    if (notify_is_ack(ev)) {
        /* One short line: who took it; the facts were in the alert. */
        free(link);
        out = notify_dump(json_pack("{s:s}", "text", text));
        free(text);
        return out;
    }
    blocks = json_array();
    json_array_append_new(blocks, json_pack("{s:s, s:o}", "type", "header",
        "text", mrkdwn_text("plain_text", "",
                            notify_headline(ev, head, sizeof(head)), 150)));
    if (ev->event && ev->event->message && *ev->event->message)
        json_array_append_new(blocks, json_pack("{s:s, s:o}", "type",
            "section", "text",
            mrkdwn_text("mrkdwn", "", ev->event->message, 3000)));
    fields = facts(ev);
    if (json_array_size(fields) > 0)
        json_array_append_new(blocks, json_pack("{s:s, s:o}", "type",
                                                "section", "fields", fields));
    else
        json_decref(fields);
    if (link)
        json_array_append_new(blocks, json_pack(
            "{s:s, s:[{s:s, s:{s:s, s:s}, s:s}]}", "type", "actions",
            "elements", "type", "button", "text", "type", "plain_text",
            "text", "Open in the dashboard", "url", link));
    /* Slack shows the date in the reader's time zone; the fallback after
     * the | is for clients that cannot. */
    snprintf(when, sizeof(when), "outpost · <!date^%lld^{date_short_pretty} "
             "{time_secs}|%lld>", (long long) (ev->ts_ns / 1000000000),
             (long long) (ev->ts_ns / 1000000000));
    json_array_append_new(blocks, json_pack("{s:s, s:[{s:s, s:s}]}", "type",
        "context", "elements", "type", "mrkdwn", "text", when));
    root = json_pack("{s:s, s:[{s:s, s:s, s:o}]}", "text", text,
                     "attachments", "color", outpost_severity_color(
                         (outpost_severity_t) ev->severity),
                     "fallback", text, "blocks", blocks);
    out = notify_dump(root);
    free(text);
    free(link);
    return out;
}

static enum notify_verdict
post(outpost_instance_t *inst, char *body, struct notify_reply *rep)
{
    struct slack_conf *c = outpost_instance_conf(inst);
    struct slack *s = outpost_instance_data(inst);
    enum notify_verdict v;

    if (body == NULL) {
        memset(rep, 0, sizeof(*rep));
        rep->retry_after_ms = -1;
        snprintf(rep->why, sizeof(rep->why), "out of memory");
        return NOTIFY_RETRY;
    }
    v = notify_post(s->n, c->webhook_url, body, strlen(body), NULL, rep);
    free(body);
    return v;
}

static enum notify_verdict
slack_send(outpost_instance_t *inst, const outpost_record_t *ev,
           struct notify_reply *rep)
{
    struct slack_conf *c = outpost_instance_conf(inst);
    struct slack *s = outpost_instance_data(inst);

    return post(inst, slack_payload(s->n, c, ev), rep);
}

static enum notify_verdict
slack_summary(outpost_instance_t *inst, const outpost_record_t *const *evs,
              size_t n, struct notify_reply *rep)
{
    struct slack *s = outpost_instance_data(inst);
    outpost_severity_t worst = OUTPOST_SEV_INFO;
    char *text = notify_summary_text(s->n, evs, n);
    json_t *root;

    if (text == NULL)
        return post(inst, NULL, rep);
    for (size_t i = 0; i < n; i++)
        if (evs[i]->severity > worst)
            worst = (outpost_severity_t) evs[i]->severity;
    root = json_pack("{s:s, s:[{s:s, s:s, s:[o, o]}]}", "text", text,
                     "attachments", "color", outpost_severity_color(worst),
                     "fallback", text, "blocks",
                     json_pack("{s:s, s:{s:s, s:s}}", "type", "header",
                               "text", "type", "plain_text", "text",
                               "[SUMMARY] rate limit reached"),
                     json_pack("{s:s, s:o}", "type", "section", "text",
                               mrkdwn_text("mrkdwn", "", text, 3000)));
    free(text);
    return post(inst, notify_dump(root), rep);
}

static const struct notify_ops slack_ops = {
    .send = slack_send,
    .summary = slack_summary,
    .acks = 1,
};

static outpost_result_t
slack_write(outpost_instance_t *inst, const outpost_batch_t *batch)
{
    struct slack *s = outpost_instance_data(inst);

    return notify_write(s->n, batch, &slack_ops);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "slack",
    .description = "notify a Slack channel through an incoming webhook",
    .kind = OUTPOST_OUTPUT,
    .flags = OUTPOST_PLUGIN_NOTIFIER,
    .options = slack_options,
    .conf_size = sizeof(struct slack_conf),
    .init = slack_init,
    .write = slack_write,
    .shutdown = slack_shutdown,
    .validate = slack_validate,
    .output_defaults = slack_defaults,
};
