/*
 * sms.c - the `sms` notifier: alerts, escalations and resolves as text
 * messages through Twilio's Messages API.
 *
 * One message per event and recipient: POST
 * {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json, form
 * encoded To, From (or MessagingServiceSid, when messaging_service_sid
 * is set instead of from: Twilio picks the sender from the service's
 * pool) and Body, with HTTP basic
 * auth AccountSid:AuthToken. The body is the template's line, cut to fit
 * `max_segments` segments (segments.h: GSM-7 160/153, UCS-2 70/67),
 * then the dashboard link when set (kept whole: the line is cut first).
 * Over the rate limit, one summary per recipient (notify.h).
 *
 * Recipients are settled one by one. An event fans out to N recipients;
 * the core settles records, not recipients, so the plugin keeps the
 * progress of the one event in flight (notify_write stops at the first
 * event that is not settled): its key (dedup_key, kind, ts_ns) and the
 * next recipient. When the write is retried (429, 5xx, network), the
 * event resumes at that recipient: recipient 1 is never sent the same
 * alert twice because recipient 2 failed. The progress lives in memory:
 * after a restart an event half sent is sent again to all (at least
 * once). A recipient Twilio refuses (4xx: 21211 invalid 'To' number,
 * 21610 unsubscribed...) is skipped and the others still get the
 * message; the event then goes to the dead letters with Twilio's answer
 * for that recipient, once all were tried.
 *
 * Answers: 201 sent; 429 and 5xx retried (Retry-After honoured); other
 * 4xx refused for good. The auth token never appears in a message.
 * write runs on the output's own thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "notify.h"
#include "segments.h"

struct sms_conf {
    char               *provider;
    char               *account_sid;
    char               *auth_token;
    char               *from;
    char               *messaging_service_sid;
    outpost_strlist_t   to;
    char               *base_url;
    int64_t             max_segments;
    struct notify_conf  nc;
};

/* Required options have no default, only an example (sms_examples, what
 * --sample-config writes): a section without them fails -t. from and
 * messaging_service_sid: exactly one (sms_validate). */
static const outpost_option_t sms_options[] = {
    { .name = "provider", .type = OUTPOST_OPT_ENUM,
      .offset = offsetof(struct sms_conf, provider), .def = "twilio",
      .choices = "twilio",
      .help = "the SMS service" },
    { .name = "account_sid", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct sms_conf, account_sid),
      .flags = OUTPOST_OPT_REQUIRED,
      .help = "the Twilio account, AC..." },
    { .name = "auth_token", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct sms_conf, auth_token),
      .flags = OUTPOST_OPT_REQUIRED,
      .help = "the account's auth token" },
    { .name = "from", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct sms_conf, from),
      .help = "the sending number, E.164 (or messaging_service_sid)" },
    { .name = "messaging_service_sid", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct sms_conf, messaging_service_sid),
      .help = "a Messaging Service, MG..., sent as MessagingServiceSid "
              "instead of from" },
    { .name = "to", .type = OUTPOST_OPT_STRLIST,
      .offset = offsetof(struct sms_conf, to),
      .flags = OUTPOST_OPT_REQUIRED,
      .help = "recipient numbers, E.164 (+15551111111)" },
    { .name = "base_url", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct sms_conf, base_url),
      .def = "https://api.twilio.com",
      .help = "the API's address" },
    { .name = "max_segments", .type = OUTPOST_OPT_INT,
      .offset = offsetof(struct sms_conf, max_segments), .def = "1",
      .min = 1, .max = 10,
      .help = "segments a message may take; longer text is cut" },
    NOTIFY_OPTIONS(struct sms_conf, nc, "10/1m"),
    OUTPOST_OPTION_END
};

static const outpost_default_t sms_examples[] = {
    { "account_sid", "\"AC00000000000000000000000000000000\"" },
    { "from", "\"+15550000000\"" },
    { "to", "{\"+15551111111\"}" },
    OUTPOST_DEFAULT_END
};

static const outpost_default_t sms_defaults[] = {
    NOTIFY_OUTPUT_DEFAULTS,
    OUTPOST_DEFAULT_END
};

/* The event in flight (see the top): its key, the next recipient, and
 * the first refusal among those before it. */
struct progress {
    char     key[512];
    size_t   next;
    char     refused[512];      /* "" when none */
};

struct sms {
    struct notify   *n;
    CURL            *easy;
    char            *url;
    struct progress  p;
    const char      *secrets[3];
};

/* E.164: "+" and 8 to 15 digits. */
static int
e164(const char *s)
{
    size_t n = 0;

    if (*s++ != '+')
        return 0;
    for (; *s; s++, n++)
        if (*s < '0' || *s > '9')
            return 0;
    return n >= 8 && n <= 15;
}

static int
sms_validate(const void *conf, char *err, size_t errlen)
{
    const struct sms_conf *c = conf;
    const char *sid = c->messaging_service_sid;

    if ((c->from == NULL) == (sid == NULL)) {
        snprintf(err, errlen, "from: set one of from and "
                 "messaging_service_sid, not %s", c->from ? "both"
                                                         : "neither");
        return -1;
    }
    if (sid && (strlen(sid) != 34 || strncmp(sid, "MG", 2) != 0
                || strspn(sid + 2, "0123456789abcdefABCDEF") != 32)) {
        snprintf(err, errlen, "messaging_service_sid: \"%s\" is not MG "
                 "and 32 hex digits", sid);
        return -1;
    }
    if (c->from && !e164(c->from)) {
        snprintf(err, errlen, "from: \"%s\" is not an E.164 number "
                 "(+15550000000)", c->from);
        return -1;
    }
    for (size_t i = 0; i < c->to.n; i++)
        if (!e164(c->to.v[i])) {
            snprintf(err, errlen, "to: \"%s\" is not an E.164 number "
                     "(+15551111111)", c->to.v[i]);
            return -1;
        }
    if (c->to.n == 0) {
        snprintf(err, errlen, "to: at least one number");
        return -1;
    }
    if (http_url_check("base_url", c->base_url, err, errlen) != 0)
        return -1;
    return notify_conf_check(&c->nc, err, errlen);
}

static void
sms_shutdown(outpost_instance_t *inst)
{
    struct sms *s = outpost_instance_data(inst);

    if (s == NULL)
        return;
    notify_free(s->n);
    if (s->easy)
        curl_easy_cleanup(s->easy);
    free(s->url);
    free(s);
}

static int
sms_init(outpost_instance_t *inst)
{
    struct sms_conf *c = outpost_instance_conf(inst);
    struct sms *s = calloc(1, sizeof(*s));
    size_t len;

    if (s == NULL)
        return -1;
    outpost_instance_set_data(inst, s);
    s->secrets[0] = c->auth_token;
    s->secrets[1] = c->account_sid;
    len = strlen(c->base_url) + strlen(c->account_sid) + 64;
    if ((s->url = malloc(len)) == NULL
        || (s->easy = curl_easy_init()) == NULL
        || (s->n = notify_new(inst, &c->nc, s->secrets)) == NULL)
        return -1;              /* shutdown frees the rest */
    snprintf(s->url, len, "%s%s2010-04-01/Accounts/%s/Messages.json",
             c->base_url,
             c->base_url[strlen(c->base_url) - 1] == '/' ? "" : "/",
             c->account_sid);
    return 0;
}

/* Sends text to one number. */
static enum notify_verdict
send_one(outpost_instance_t *inst, const char *to, const char *text,
         struct notify_reply *rep)
{
    struct sms_conf *c = outpost_instance_conf(inst);
    struct sms *s = outpost_instance_data(inst);
    struct curl_slist *h;
    char *eto, *efrom, *ebody, *form;
    enum notify_verdict v = NOTIFY_RETRY;
    size_t len;

    memset(rep, 0, sizeof(*rep));
    rep->retry_after_ms = -1;
    eto = curl_easy_escape(s->easy, to, 0);
    efrom = curl_easy_escape(s->easy, c->from ? c->from
                                              : c->messaging_service_sid, 0);
    ebody = curl_easy_escape(s->easy, text, 0);
    h = curl_slist_append(NULL, "Content-Type: "
                          "application/x-www-form-urlencoded");
    form = NULL;
    if (eto && efrom && ebody && h) {
        len = strlen(eto) + strlen(efrom) + strlen(ebody) + 64;
        if ((form = malloc(len)) != NULL)
            snprintf(form, len, "To=%s&%s=%s&Body=%s", eto,
                     c->from ? "From" : "MessagingServiceSid", efrom, ebody);
    }
    if (form == NULL) {
        snprintf(rep->why, sizeof(rep->why), "out of memory");
    } else {
        v = notify_post_auth(s->n, s->url, form, strlen(form), h,
                             c->account_sid, c->auth_token, rep);
    }
    curl_free(eto);
    curl_free(efrom);
    curl_free(ebody);
    curl_slist_free_all(h);
    free(form);
    return v;
}

/* ev's key: (dedup_key, kind, ts_ns). */
static void
event_key(const outpost_record_t *ev, char *buf, size_t len)
{
    snprintf(buf, len, "%s\037%s\037%" PRId64,
             ev && ev->event && ev->event->dedup_key
             ? ev->event->dedup_key : "",
             ev ? outpost_event_kind_name(
                      (outpost_event_kind_t) ev->event_kind) : "summary",
             ev ? ev->ts_ns : 0);
}

/* Sends text to every recipient from the progress on (see the top). */
static enum notify_verdict
fan_out(outpost_instance_t *inst, const char *key, const char *text,
        struct notify_reply *rep)
{
    struct sms_conf *c = outpost_instance_conf(inst);
    struct sms *s = outpost_instance_data(inst);
    struct progress *p = &s->p;

    if (strcmp(p->key, key) != 0) {
        snprintf(p->key, sizeof(p->key), "%s", key);
        p->next = 0;
        p->refused[0] = '\0';
    }
    memset(rep, 0, sizeof(*rep));
    rep->retry_after_ms = -1;
    if (text == NULL) {
        snprintf(rep->why, sizeof(rep->why), "out of memory");
        return NOTIFY_RETRY;
    }
    for (; p->next < c->to.n; p->next++) {
        const char *to = c->to.v[p->next];
        enum notify_verdict v = send_one(inst, to, text, rep);

        if (v == NOTIFY_RETRY)
            return v;           /* resumes at this recipient */
        if (v == NOTIFY_REFUSE) {
            outpost_log(inst, OUTPOST_LOG_ERROR, "write", "to %s: refused: "
                        "%s", to, rep->why);
            if (p->refused[0] == '\0')
                snprintf(p->refused, sizeof(p->refused), "to %s: %.400s",
                         to, rep->why);
        }
    }
    p->key[0] = '\0';
    if (p->refused[0]) {
        snprintf(rep->why, sizeof(rep->why), "%s", p->refused);
        return NOTIFY_REFUSE;
    }
    return NOTIFY_SENT;
}

static enum notify_verdict
sms_send(outpost_instance_t *inst, const outpost_record_t *ev,
         struct notify_reply *rep)
{
    struct sms_conf *c = outpost_instance_conf(inst);
    struct sms *s = outpost_instance_data(inst);
    char key[512], *line = notify_text(&c->nc, ev), *text = NULL;
    char *link = notify_dashboard(s->n, ev);
    enum notify_verdict v;

    if (line)
        text = sms_fit_suffix(line, link, (int) c->max_segments);
    free(link);
    event_key(ev, key, sizeof(key));
    v = fan_out(inst, key, text, rep);
    free(line);
    free(text);
    return v;
}

static enum notify_verdict
sms_summary(outpost_instance_t *inst, const outpost_record_t *const *evs,
            size_t n, struct notify_reply *rep)
{
    struct sms_conf *c = outpost_instance_conf(inst);
    struct sms *s = outpost_instance_data(inst);
    char key[600], first[512], *line = notify_summary_text(s->n, evs, n);
    char *text = NULL;
    enum notify_verdict v;

    if (line)
        text = sms_fit(line, (int) c->max_segments);
    /* the summary of these events: the first one and how many */
    event_key(n ? evs[0] : NULL, first, sizeof(first));
    snprintf(key, sizeof(key), "summary\037%zu\037%s", n, first);
    v = fan_out(inst, key, text, rep);
    free(line);
    free(text);
    return v;
}

static const struct notify_ops sms_ops = {
    .send = sms_send,
    .summary = sms_summary,
};

static outpost_result_t
sms_write(outpost_instance_t *inst, const outpost_batch_t *batch)
{
    struct sms *s = outpost_instance_data(inst);

    return notify_write(s->n, batch, &sms_ops);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "sms",
    .description = "notify by SMS through Twilio",
    .kind = OUTPOST_OUTPUT,
    .flags = OUTPOST_PLUGIN_NOTIFIER,
    .options = sms_options,
    .conf_size = sizeof(struct sms_conf),
    .init = sms_init,
    .write = sms_write,
    .shutdown = sms_shutdown,
    .validate = sms_validate,
    .output_defaults = sms_defaults,
    .option_examples = sms_examples,
};
