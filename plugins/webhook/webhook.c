/*
 * webhook.c - the `webhook` notifier: alerts and resolves POSTed as JSON
 * to any URL, in one of three shapes (`format`):
 *
 *   generic       outpost's own, versioned schema (docs/plugins/webhook.md):
 *                 {"schema":"outpost.event/1","text":...,"dashboard_url":...,
 *                  "event":{the record, as jsonl writes it}}
 *                 and over the rate limit {"schema":"outpost.summary/1",
 *                  "text":...,"count":N,"dedup_keys":[...],"events":[the
 *                  first summary_max records]}
 *   discord       Discord's webhook: content, and one embed coloured by
 *                 severity (an integer colour), with the facts as fields
 *   alertmanager  what Alertmanager's webhook receiver sends (version "4",
 *                 status firing/resolved, alerts[] with labels,
 *                 annotations, startsAt, endsAt, fingerprint), so an
 *                 existing receiver takes our alerts
 *
 * Optional: `hmac_secret` signs the body, X-Outpost-Signature:
 * sha256=<hex of HMAC-SHA256(secret, body)>; `headers` adds "Name: value"
 * lines. 2xx is accepted; 429 and 5xx are retried (Retry-After honoured);
 * other 4xx refused for good. The URL (it holds a token for Discord) and
 * the HMAC secret never appear in logs or dead letters. write runs on the
 * output's own thread.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "notify.h"

#define DISCORD_CONTENT_MAX 2000

struct webhook_conf {
    char               *url;
    char               *format;
    char               *hmac_secret;
    outpost_strlist_t   headers;
    char               *username;
    struct notify_conf  nc;
};

static const outpost_option_t webhook_options[] = {
    { .name = "url", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct webhook_conf, url),
      .flags = OUTPOST_OPT_REQUIRED,
      .help = "where to POST (a secret: Discord's holds its token)" },
    { .name = "format", .type = OUTPOST_OPT_ENUM,
      .offset = offsetof(struct webhook_conf, format), .def = "generic",
      .choices = "generic|discord|alertmanager",
      .help = "the body's shape" },
    { .name = "hmac_secret", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct webhook_conf, hmac_secret),
      .help = "sign the body: X-Outpost-Signature: sha256=<hex>" },
    { .name = "headers", .type = OUTPOST_OPT_STRLIST,
      .offset = offsetof(struct webhook_conf, headers),
      .help = "extra request headers, \"Name: value\"" },
    { .name = "username", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct webhook_conf, username), .def = "outpost",
      .help = "discord: the name the messages show" },
    NOTIFY_OPTIONS(struct webhook_conf, nc, ""),
    OUTPOST_OPTION_END
};

static const outpost_default_t webhook_defaults[] = {
    NOTIFY_OUTPUT_DEFAULTS,
    OUTPOST_DEFAULT_END
};

enum wh_format { WH_GENERIC, WH_DISCORD, WH_ALERTMANAGER };

struct webhook {
    struct notify      *n;
    const char         *secrets[3];
    enum wh_format      format;
    struct curl_slist  *headers;        /* Content-Type and the user's */
};

static int
header_ok(const char *h)
{
    const char *colon = strchr(h, ':');

    if (colon == NULL || colon == h)
        return 0;
    for (const char *p = h; p < colon; p++)
        if (!isalnum((unsigned char) *p) && *p != '-' && *p != '_')
            return 0;
    for (const char *p = colon; *p; p++)
        if (*p == '\r' || *p == '\n' || *p == '\0')
            return 0;
    return 1;
}

static int
webhook_validate(const void *conf, char *err, size_t errlen)
{
    const struct webhook_conf *c = conf;

    if (c->url && http_url_check("url", c->url, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < c->headers.n; i++) {
        if (!header_ok(c->headers.v[i])) {
            snprintf(err, errlen, "headers: \"%.60s\" is not \"Name: value\" "
                     "(a token before the colon, no CR or LF)",
                     c->headers.v[i]);
            return -1;
        }
        if (strncasecmp(c->headers.v[i], "content-type:", 13) == 0
            || strncasecmp(c->headers.v[i], "x-outpost-signature:", 20) == 0) {
            snprintf(err, errlen, "headers: \"%.*s\" is set by the webhook",
                     (int) (strchr(c->headers.v[i], ':') - c->headers.v[i]),
                     c->headers.v[i]);
            return -1;
        }
    }
    return notify_conf_check(&c->nc, err, errlen);
}

static int
webhook_init(outpost_instance_t *inst)
{
    struct webhook_conf *c = outpost_instance_conf(inst);
    struct webhook *w = calloc(1, sizeof(*w));
    size_t k = 0;

    if (w == NULL)
        return -1;
    w->format = strcmp(c->format, "discord") == 0 ? WH_DISCORD
                : strcmp(c->format, "alertmanager") == 0 ? WH_ALERTMANAGER
                : WH_GENERIC;
    w->secrets[k++] = c->url;
    if (c->hmac_secret && *c->hmac_secret)
        w->secrets[k++] = c->hmac_secret;
    w->headers = curl_slist_append(NULL, "Content-Type: application/json");
    for (size_t i = 0; w->headers && i < c->headers.n; i++) {
        struct curl_slist *h = curl_slist_append(w->headers, c->headers.v[i]);

        if (h == NULL) {
            curl_slist_free_all(w->headers);
            w->headers = NULL;
        }
        w->headers = h;
    }
    if (w->headers == NULL
        || (w->n = notify_new(inst, &c->nc, w->secrets)) == NULL) {
        curl_slist_free_all(w->headers);
        free(w);
        return -1;
    }
    outpost_instance_set_data(inst, w);
    return 0;
}

static void
webhook_shutdown(outpost_instance_t *inst)
{
    struct webhook *w = outpost_instance_data(inst);

    if (w == NULL)
        return;
    notify_free(w->n);
    curl_slist_free_all(w->headers);
    free(w);
}

/* --- generic ------------------------------------------------------------ */

static json_t *
record_json(const outpost_record_t *ev)
{
    char *s;
    size_t len;
    json_t *j;

    if (outpost_record_to_json(ev, &s, &len) != 0)
        return NULL;
    j = json_loadb(s, len, 0, NULL);
    free(s);
    return j;
}

static json_t *
generic_one(struct webhook *w, const struct webhook_conf *c,
            const outpost_record_t *ev)
{
    char *text = notify_text(&c->nc, ev), *link = notify_dashboard(w->n, ev);
    json_t *rec = record_json(ev), *root;

    root = json_pack("{s:s, s:s, s:o*, s:o*}", "schema", "outpost.event/1",
                     "text", text ? text : "",
                     "dashboard_url", link ? json_string(link) : NULL,
                     "event", rec);
    free(text);
    free(link);
    return root;
}

static json_t *
generic_summary(struct webhook *w, const struct webhook_conf *c,
                const outpost_record_t *const *evs, size_t n)
{
    char *text = notify_summary_text(w->n, evs, n);
    json_t *keys = json_array(), *list = json_array(), *root;

    for (size_t i = 0; i < n; i++) {
        if (evs[i]->event && evs[i]->event->dedup_key)
            json_array_append_new(keys,
                                  json_string(evs[i]->event->dedup_key));
        if (i < (size_t) c->nc.summary_max)
            json_array_append_new(list, record_json(evs[i]));
    }
    root = json_pack("{s:s, s:s, s:I, s:o, s:o}",
                     "schema", "outpost.summary/1", "text", text ? text : "",
                     "count", (json_int_t) n, "dedup_keys", keys,
                     "events", list);
    free(text);
    return root;
}

/* --- discord ------------------------------------------------------------- */

static long
color_int(outpost_severity_t s)
{
    return strtol(outpost_severity_color(s) + 1, NULL, 16);
}

static void
embed_field(json_t *fields, const char *name, const char *value, int inl)
{
    if (value && *value)
        json_array_append_new(fields, json_pack("{s:s, s:s, s:b}", "name",
                                                name, "value", value,
                                                "inline", inl));
}

static json_t *
discord_one(struct webhook *w, const struct webhook_conf *c,
            const outpost_record_t *ev)
{
    char *text = notify_text(&c->nc, ev), *link = notify_dashboard(w->n, ev);
    char b[256], b2[300], title[300], ts[40];
    json_t *fields = json_array(), *embed, *root;
    const char *integ = outpost_record_tag(ev, OUTPOST_TAG_INTEGRATION);
    const char *v;

    if (text && strlen(text) > DISCORD_CONTENT_MAX)
        text[DISCORD_CONTENT_MAX] = '\0';
    embed_field(fields, "Status", notify_field(ev, OUTPOST_F_STATUS, b,
                                               sizeof(b)), 1);
    embed_field(fields, "Priority", notify_field(ev, OUTPOST_F_PRIORITY, b,
                                                 sizeof(b)), 1);
    embed_field(fields, "Reason", notify_field(ev, OUTPOST_F_REASON, b,
                                               sizeof(b)), 1);
    v = notify_field(ev, OUTPOST_F_RESPONSE_MS, b, sizeof(b));
    if (*v) {
        snprintf(b2, sizeof(b2), "%s ms", v);
        embed_field(fields, "Response time", b2, 1);
    }
    embed_field(fields, "Occurrences", notify_field(ev, OUTPOST_F_OCCURRENCES,
                                                    b, sizeof(b)), 1);
    embed_field(fields, "Last error", notify_field(ev, OUTPOST_F_ERROR, b,
                                                   sizeof(b)), 0);
    embed_field(fields, "Vendor status",
                notify_field(ev, OUTPOST_F_VENDOR_STATUS, b, sizeof(b)), 1);
    embed_field(fields, "Failover", notify_field(ev, "failover", b,
                                                 sizeof(b)), 0);
    snprintf(title, sizeof(title), "%s: %s", integ ? integ : "outpost",
             ev->event_kind == OUTPOST_EV_RESOLVE ? "resolved"
             : notify_field(ev, OUTPOST_F_ACTION, b, sizeof(b)));
    embed = json_pack("{s:s, s:s, s:i, s:o, s:s}", "title", title,
                      "description", ev->event && ev->event->message
                                     ? ev->event->message : "",
                      "color", (int) color_int(
                          (outpost_severity_t) ev->severity),
                      "fields", fields,
                      "timestamp", notify_time(ev->ts_ns, ts, sizeof(ts)));
    if (embed && link)
        json_object_set_new(embed, "url", json_string(link));
    root = json_pack("{s:s, s:s, s:{s:[]}, s:[o]}", "content",
                     text ? text : "", "username", c->username,
                     "allowed_mentions", "parse", "embeds", embed);
    free(text);
    free(link);
    return root;
}

static json_t *
discord_summary(struct webhook *w, const struct webhook_conf *c,
                const outpost_record_t *const *evs, size_t n)
{
    char *text = notify_summary_text(w->n, evs, n);
    outpost_severity_t worst = OUTPOST_SEV_INFO;
    json_t *root;

    for (size_t i = 0; i < n; i++)
        if (evs[i]->severity > worst)
            worst = (outpost_severity_t) evs[i]->severity;
    if (text && strlen(text) > DISCORD_CONTENT_MAX)
        text[DISCORD_CONTENT_MAX] = '\0';
    root = json_pack("{s:s, s:s, s:{s:[]}, s:[{s:s, s:s, s:i}]}",
                     "content", text ? text : "", "username", c->username,
                     "allowed_mentions", "parse", "embeds",
                     "title", "rate limit reached: summary",
                     "description", text ? text : "",
                     "color", (int) color_int(worst));
    free(text);
    return root;
}

/* --- alertmanager ------------------------------------------------------- */

/* 16 hex digits, as Alertmanager's fingerprints: from the dedup key, so
 * the firing and the resolved alert share it. */
static void
fingerprint(const outpost_record_t *ev, char out[17])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    const char *k = ev->event && ev->event->dedup_key
                    ? ev->event->dedup_key : "";

    SHA256((const unsigned char *) k, strlen(k), md);
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static json_t *
am_alert(struct webhook *w, const struct webhook_conf *c,
         const outpost_record_t *ev)
{
    int resolved = ev->event_kind == OUTPOST_EV_RESOLVE;
    char fp[17], starts[40], ends[40], b[256];
    double since = notify_number(ev, "since", -1);
    json_t *labels = json_object(), *ann = json_object();
    const char *cond = outpost_record_string(ev, "condition");
    char *text = notify_text(&c->nc, ev), *link = notify_dashboard(w->n, ev);
    const char *v;
    json_t *a;

    json_object_set_new(labels, "alertname", json_string(
        cond ? cond : outpost_event_kind_name(
                          (outpost_event_kind_t) ev->event_kind)));
    for (size_t i = 0; i < outpost_tagset_count(ev->tags); i++) {
        const outpost_tag_t *t = outpost_tagset_at(ev->tags, i);

        /* Not routing, nor the failover order and weight (the label
         * "severity" says the alert's priority). */
        if (strcmp(t->key, OUTPOST_TAG_NOTIFY) != 0
            && strcmp(t->key, OUTPOST_TAG_PRIORITY) != 0
            && strcmp(t->key, OUTPOST_TAG_WEIGHT) != 0)
            json_object_set_new(labels, t->key, json_string(t->value));
    }
    v = notify_field(ev, OUTPOST_F_PRIORITY, b, sizeof(b));
    json_object_set_new(labels, "severity", json_string(
        *v ? v : outpost_severity_name((outpost_severity_t) ev->severity)));
    if (ev->event && ev->event->dedup_key)
        json_object_set_new(labels, "dedup_key",
                            json_string(ev->event->dedup_key));
    json_object_set_new(ann, "summary", json_string(text ? text : ""));
    json_object_set_new(ann, "description", json_string(
        ev->event && ev->event->message ? ev->event->message : ""));
    if (*notify_field(ev, OUTPOST_F_VENDOR_STATUS, b, sizeof(b)))
        json_object_set_new(ann, "vendor_status", json_string(b));
    if (*notify_field(ev, "failover", b, sizeof(b)))
        json_object_set_new(ann, "failover", json_string(b));
    fingerprint(ev, fp);
    notify_time(since >= 0 ? (int64_t) since * 1000000000 : ev->ts_ns,
                starts, sizeof(starts));
    if (resolved)
        notify_time(ev->ts_ns, ends, sizeof(ends));
    else
        strcpy(ends, "0001-01-01T00:00:00Z");
    a = json_pack("{s:s, s:o, s:o, s:s, s:s, s:s, s:s}",
                  "status", resolved ? "resolved" : "firing",
                  "labels", labels, "annotations", ann,
                  "startsAt", starts, "endsAt", ends,
                  "generatorURL", link ? link : "", "fingerprint", fp);
    free(text);
    free(link);
    return a;
}

/* The webhook receiver's message for alerts[]; common labels and
 * annotations are those all alerts share. */
static json_t *
am_message(const outpost_instance_t *inst, json_t *alerts, size_t truncated)
{
    json_t *common = NULL, *common_ann = NULL, *a;
    const char *key;
    json_t *v, *tmp;
    size_t i;
    int firing = 0;
    char gk[512];

    json_array_foreach(alerts, i, a) {
        const char *st = json_string_value(json_object_get(a, "status"));

        firing |= st && strcmp(st, "firing") == 0;
        if (i == 0) {
            common = json_deep_copy(json_object_get(a, "labels"));
            common_ann = json_deep_copy(json_object_get(a, "annotations"));
            continue;
        }
        json_object_foreach_safe(common, tmp, key, v) {
            if (!json_equal(v, json_object_get(json_object_get(a, "labels"),
                                               key)))
                json_object_del(common, key);
        }
        json_object_foreach_safe(common_ann, tmp, key, v) {
            if (!json_equal(v, json_object_get(
                                   json_object_get(a, "annotations"), key)))
                json_object_del(common_ann, key);
        }
    }
    snprintf(gk, sizeof(gk), "{}:{alertname=\"%s\"}",
             json_string_value(json_object_get(common, "alertname"))
             ? json_string_value(json_object_get(common, "alertname")) : "");
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:{s:O*}, s:o, s:o, s:s, "
                     "s:o}",
                     "version", "4", "groupKey", gk,
                     "truncatedAlerts", (json_int_t) truncated,
                     "status", firing ? "firing" : "resolved",
                     "receiver", outpost_instance_name(inst),
                     "groupLabels", "alertname",
                     json_object_get(common, "alertname"),
                     "commonLabels", common ? common : json_object(),
                     "commonAnnotations",
                     common_ann ? common_ann : json_object(),
                     "externalURL", "", "alerts", alerts);
}

static json_t *
am_one(outpost_instance_t *inst, struct webhook *w,
       const struct webhook_conf *c, const outpost_record_t *ev)
{
    return am_message(inst, json_pack("[o]", am_alert(w, c, ev)), 0);
}

static json_t *
am_summary(outpost_instance_t *inst, struct webhook *w,
           const struct webhook_conf *c, const outpost_record_t *const *evs,
           size_t n)
{
    json_t *alerts = json_array();
    size_t shown = n < (size_t) c->nc.summary_max ? n
                   : (size_t) c->nc.summary_max;

    for (size_t i = 0; i < shown; i++)
        json_array_append_new(alerts, am_alert(w, c, evs[i]));
    return am_message(inst, alerts, n - shown);
}

/* --- sending ------------------------------------------------------------- */

static enum notify_verdict
send_json(outpost_instance_t *inst, json_t *root, struct notify_reply *rep)
{
    struct webhook_conf *c = outpost_instance_conf(inst);
    struct webhook *w = outpost_instance_data(inst);
    char *body = notify_dump(root), sig[20 + 2 * EVP_MAX_MD_SIZE + 1];
    struct curl_slist *h = w->headers, *signed_h = NULL;
    enum notify_verdict v;

    if (body == NULL) {
        memset(rep, 0, sizeof(*rep));
        rep->retry_after_ms = -1;
        snprintf(rep->why, sizeof(rep->why), "cannot encode the event");
        return NOTIFY_RETRY;
    }
    if (c->hmac_secret && *c->hmac_secret) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        int off;

        HMAC(EVP_sha256(), c->hmac_secret, (int) strlen(c->hmac_secret),
             (const unsigned char *) body, strlen(body), md, &mdlen);
        off = snprintf(sig, sizeof(sig), "X-Outpost-Signature: sha256=");
        for (unsigned i = 0; i < mdlen; i++)
            off += snprintf(sig + off, sizeof(sig) - (size_t) off, "%02x",
                            md[i]);
        /* A copy of the list with the signature in front. */
        signed_h = curl_slist_append(NULL, sig);
        for (struct curl_slist *p = w->headers; signed_h && p; p = p->next) {
            struct curl_slist *t = curl_slist_append(signed_h, p->data);

            if (t == NULL) {
                curl_slist_free_all(signed_h);
                signed_h = NULL;
                break;
            }
            signed_h = t;
        }
        if (signed_h == NULL) {
            free(body);
            memset(rep, 0, sizeof(*rep));
            rep->retry_after_ms = -1;
            snprintf(rep->why, sizeof(rep->why), "out of memory");
            return NOTIFY_RETRY;
        }
        h = signed_h;
    }
    v = notify_post(w->n, c->url, body, strlen(body), h, rep);
    curl_slist_free_all(signed_h);
    free(body);
    return v;
}

static enum notify_verdict
webhook_send(outpost_instance_t *inst, const outpost_record_t *ev,
             struct notify_reply *rep)
{
    struct webhook_conf *c = outpost_instance_conf(inst);
    struct webhook *w = outpost_instance_data(inst);

    switch (w->format) {
    case WH_DISCORD:
        return send_json(inst, discord_one(w, c, ev), rep);
    case WH_ALERTMANAGER:
        return send_json(inst, am_one(inst, w, c, ev), rep);
    default:
        return send_json(inst, generic_one(w, c, ev), rep);
    }
}

static enum notify_verdict
webhook_summary(outpost_instance_t *inst, const outpost_record_t *const *evs,
                size_t n, struct notify_reply *rep)
{
    struct webhook_conf *c = outpost_instance_conf(inst);
    struct webhook *w = outpost_instance_data(inst);

    switch (w->format) {
    case WH_DISCORD:
        return send_json(inst, discord_summary(w, c, evs, n), rep);
    case WH_ALERTMANAGER:
        return send_json(inst, am_summary(inst, w, c, evs, n), rep);
    default:
        return send_json(inst, generic_summary(w, c, evs, n), rep);
    }
}

static const struct notify_ops webhook_ops = {
    .send = webhook_send,
    .summary = webhook_summary,
    .acks = 1,
};

static outpost_result_t
webhook_write(outpost_instance_t *inst, const outpost_batch_t *batch)
{
    struct webhook *w = outpost_instance_data(inst);

    return notify_write(w->n, batch, &webhook_ops);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "webhook",
    .description = "POST alerts as JSON: outpost's schema, Discord or "
                   "Alertmanager's webhook",
    .kind = OUTPOST_OUTPUT,
    .flags = OUTPOST_PLUGIN_NOTIFIER,
    .options = webhook_options,
    .conf_size = sizeof(struct webhook_conf),
    .init = webhook_init,
    .write = webhook_write,
    .shutdown = webhook_shutdown,
    .validate = webhook_validate,
    .output_defaults = webhook_defaults,
};
