/*
 * notify.h - what the notifier outputs (slack, pagerduty, webhook...)
 * share: message templates with named fields, the options every channel
 * has, one HTTP POST with the services' answers sorted into sent / retry /
 * refused, a per-channel rate limit, and the write loop that sends one
 * message per event or, over the limit, one summary of the rest.
 *
 * Templates. A template is text with fields in braces, "{integration} is
 * {status}: {reason}"; "{{" and "}}" stand for a literal brace. The names
 * (notify_field_names) are looked up on the event, then on the check that
 * caused it, then on its tags; an unknown name is a config error that
 * notify_tmpl_check() reports for `-t`. A field the event lacks renders
 * as "" (numbers without a fraction print as integers).
 *
 * The write loop (notify_write) keeps the output contract (plugin.h):
 *  1. Events are taken in order. An event routed to every notifier (no
 *     "notify" tag) whose kind the channel does not notify (option
 *     `events`) is settled without a message; one routed to this channel
 *     by name is always sent. An acknowledgement (an alert event with
 *     action=acknowledge) is settled without a message by a channel
 *     whose ops do not send them (notify_ops.acks: email and SMS).
 *  2. While the rate limit allows, each event is one message, and it is
 *     settled (outpost_batch_delivered) the moment the service accepted
 *     it, so a failure later in the batch never sends it twice.
 *  3. The limit is N messages per window (fixed windows, summaries
 *     included, messages the service did not accept not counted). When a batch holds more events than the window has room
 *     for, the room but one goes to single messages and the rest of the
 *     batch becomes ONE summary; a backlog still over the limit in a
 *     later window is one summary, no singles. A summary's events are
 *     settled only once it was accepted; if it fails they are all
 *     retried. With no room left, the write pauses (RETRY, retry_after:
 *     the window's end). Nothing is dropped. (The core retries the rest
 *     of a batch as it was peeked, so what queued up meanwhile is the
 *     next window's.)
 *  4. 2xx: sent. 429 and 5xx: retry, honouring Retry-After. Any other 4xx:
 *     that event is refused for good (dead letters) with the service's
 *     answer; secrets are cut out of it. Network errors: retry.
 *
 * Lifetime: a struct notify lives in the plugin's instance data, made in
 * init (notify_init) and freed in shutdown (notify_free). All of it runs
 * on the output's own thread (output rule 8); nothing here locks.
 */
#ifndef OUTPOST_NOTIFY_H
#define OUTPOST_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <jansson.h>
#include <outpost/plugin.h>
#include "http_url.h"

/* The options every notifier has; a plugin embeds this struct in its conf
 * and lists NOTIFY_OPTIONS(its conf type, member, default rate_limit) in
 * its option table. */
struct notify_conf {
    char              *template;        /* the message line */
    char              *resolve_template;
    char              *rate_limit;      /* "30/1m"; NULL or "": none */
    outpost_strlist_t  events;          /* event kinds to notify */
    char              *dashboard_url;   /* may hold {integration} */
    int64_t            summary_max;     /* events named in a summary */
};

/* The alert filter's messages already say it all ("stripe is down: 3
 * failed checks in a row (HTTP 503); Stripe reports a major outage...;
 * checkout traffic moved to paypal"). */
#define NOTIFY_DEFAULT_TEMPLATE         "{message}"
#define NOTIFY_DEFAULT_RESOLVE_TEMPLATE "{message}"

#define NOTIFY_OPTIONS(T, M, RATE)                                      \
    { .name = "template", .type = OUTPOST_OPT_STRING,                      \
      .offset = offsetof(T, M.template),                               \
      .def = NOTIFY_DEFAULT_TEMPLATE,                                      \
      .help = "the message line; fields in braces, e.g. {integration}" },  \
    { .name = "resolve_template", .type = OUTPOST_OPT_STRING,              \
      .offset = offsetof(T, M.resolve_template),                       \
      .def = NOTIFY_DEFAULT_RESOLVE_TEMPLATE,                              \
      .help = "the message line of a resolve" },                           \
    { .name = "rate_limit", .type = OUTPOST_OPT_STRING,                    \
      .offset = offsetof(T, M.rate_limit), .def = RATE,                 \
      .help = "at most N messages per duration, \"30/1m\"; beyond it one " \
              "summary (\"\": no limit)" },                                \
    { .name = "events", .type = OUTPOST_OPT_STRLIST,                       \
      .offset = offsetof(T, M.events),                                  \
      .def = "{\"alert\", \"resolve\", \"escalate\"}",                     \
      .help = "event kinds that send a message unless routed here by "    \
              "name; others are skipped" },     \
    { .name = "dashboard_url", .type = OUTPOST_OPT_STRING,                 \
      .offset = offsetof(T, M.dashboard_url),                           \
      .help = "link added to messages; may hold {integration}" },          \
    { .name = "summary_max", .type = OUTPOST_OPT_INT,                      \
      .offset = offsetof(T, M.summary_max), .def = "20",                \
      .help = "events listed by name in a summary", .min = 1,              \
      .max = 1000 }

/* The notifiers' defaults for the core's output options: a batch only lets
 * the channel see a burst whole (each event is still its own message,
 * settled as soon as it was accepted), and a burst of 1,000 failing
 * integrations is 2,000 events or more (each state change comes with its
 * alert); the short flush keeps an alert's latency low (a burst is
 * grouped by the wait of rule 3 instead). */
#define NOTIFY_OUTPUT_DEFAULTS                                             \
    { "batch_size", "10000" }, { "flush_interval", "1ms" },                \
    { "timeout", "10s" }, { "retry_max", "5m" }

/* --- templates ------------------------------------------------------------ */

/* NULL-terminated list of the names a template may use. */
extern const char *const notify_field_names[];

/* 0, or -1 with "option: ..." in err when tmpl names an unknown field or
 * has an unbalanced brace. */
int notify_tmpl_check(const char *option, const char *tmpl, char *err,
                      size_t errlen);

/* The value of field name on ev in buf ("" when absent). Returns buf. */
const char *notify_field(const outpost_record_t *ev, const char *name,
                         char *buf, size_t len);

/* tmpl rendered for ev: malloc'ed, NULL on ENOMEM. */
char *notify_render(const char *tmpl, const outpost_record_t *ev);

/* The message line for ev: the resolve template for a resolve event, else
 * the template. malloc'ed. */
char *notify_text(const struct notify_conf *c, const outpost_record_t *ev);

/* The field as a number when it is one; def otherwise. */
double notify_number(const outpost_record_t *ev, const char *name,
                     double def);

/* ev's timestamp as RFC 3339 UTC with milliseconds. Returns buf. */
const char *notify_time(int64_t ts_ns, char *buf, size_t len);
/* A one-line title: "[CRITICAL] stripe is down", "[RESOLVED] stripe
 * recovered", "[ESCALATED HIGH] ...", "[ACKNOWLEDGED] stripe", "[TEST]
 * outpost test notification"; other events "[WARNING] crm is degraded"
 * or, without a status, "[WARNING] crm: circuit". A copy sent through a
 * fallback (field fallback_for, core/output.c) ends with " (via fallback:
 * slack:ops is failing)", and notify_text starts with "[via fallback:
 * slack:ops is failing] ". Returns buf. */
const char *notify_headline(const outpost_record_t *ev, char *buf,
                            size_t len);

/* --- HTTP ----------------------------------------------------------------- */

enum notify_verdict {
    NOTIFY_SENT   = 0,
    NOTIFY_RETRY  = 1,
    NOTIFY_REFUSE = 2           /* this message, for good */
};

/* One answer. body is the start of the service's answer (NUL-ended). */
struct notify_reply {
    long     status;            /* 0: no answer */
    int64_t  retry_after_ms;    /* -1: none given */
    char     body[1024];
    char     why[512];          /* for logs and dead letters, no secrets */
};

struct notify;

/* POSTs body (JSON unless headers say otherwise) to url through the
 * core's client, within the write's timeout. headers may be NULL; they
 * are borrowed. Sorts the answer (rule 4) and fills rep. */
enum notify_verdict notify_post(struct notify *n, const char *url,
                                const char *body, size_t len,
                                struct curl_slist *headers,
                                struct notify_reply *rep);

/* notify_post with HTTP basic auth user:password (both borrowed; NULL
 * user: none), e.g. Twilio's AccountSid:AuthToken. */
enum notify_verdict notify_post_auth(struct notify *n, const char *url,
                                     const char *body, size_t len,
                                     struct curl_slist *headers,
                                     const char *user, const char *password,
                                     struct notify_reply *rep);

/* --- the channel ---------------------------------------------------------- */

/* What a plugin supplies to notify_write. Both run inside write. */
struct notify_ops {
    /* Sends one message for ev. */
    enum notify_verdict (*send)(outpost_instance_t *inst,
                                const outpost_record_t *ev,
                                struct notify_reply *rep);
    /* Sends one message standing for the n events in evs (over the rate
     * limit). */
    enum notify_verdict (*summary)(outpost_instance_t *inst,
                                   const outpost_record_t *const *evs,
                                   size_t n, struct notify_reply *rep);
    /* Non-zero: acknowledgements are sent (PagerDuty acknowledges the
     * incident, Slack says who took it); zero: settled unsent. */
    int acks;
};

/* 1 when ev is an acknowledgement: an alert event, action=acknowledge. */
int notify_is_ack(const outpost_record_t *ev);

/* Parses "N/duration" ("30/1m", "1/1s"): 0, or -1. "" and NULL: none
 * (*n = 0). */
int notify_rate_parse(const char *s, int64_t *n, int64_t *per_ms);

/* Checks the common options (templates, rate limit, events); for a
 * plugin's validate. 0 or -1 with err. */
int notify_conf_check(const struct notify_conf *c, char *err, size_t errlen);

/* The channel's state. secrets: strings never to show (NULL-terminated
 * list, borrowed from the conf; may be NULL). NULL on ENOMEM. */
struct notify *notify_new(outpost_instance_t *inst,
                          const struct notify_conf *c,
                          const char *const *secrets);
void notify_free(struct notify *n);

/* Does this channel send a message for ev (rule 1)? */
int notify_wanted(const struct notify *n, const outpost_record_t *ev,
                  const struct notify_ops *ops);

/* The write loop (rules 1-3); the plugin's write returns it. */
outpost_result_t notify_write(struct notify *n, const outpost_batch_t *b,
                              const struct notify_ops *ops);

/* The summary's text: "412 more alerts over the rate limit: stripe down,
 * paypal down, ... and 392 more". malloc'ed. */
char *notify_summary_text(const struct notify *n,
                          const outpost_record_t *const *evs, size_t count);

/* dashboard_url with {integration} filled in for ev; NULL when unset.
 * malloc'ed. */
char *notify_dashboard(const struct notify *n, const outpost_record_t *ev);

/* Cuts the secrets out of s, in place ("***"). */
void notify_redact(const struct notify *n, char *s);

/* Serialises j (compact, keys in insertion order), then frees it.
 * malloc'ed, NULL on ENOMEM. */
char *notify_dump(json_t *j);

#endif
