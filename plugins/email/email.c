/*
 * email.c - the `email` notifier: alerts, escalations and resolves as
 * mail through an SMTP server, with libcurl.
 *
 * One message per event (over the rate limit, one summary: notify.h), or
 * with `digest = true` one message per batch: the core's batching is the
 * digest's interval (the first event opens it, the batch is what queued
 * within the output's flush_interval, up to batch_size), so the events
 * stay in the output's queue (spilled across a restart) until the digest
 * mail was accepted; a refused digest sends each of its events to the
 * dead letters, one not accepted is sent again whole. The rate limit
 * does not apply to digests. A message is RFC 5322 with MIME (RFC
 * 2045/2046):
 *
 *   Date: <the event's time>            Message-ID: <stable, see below>
 *   From, To, Cc                        Subject: "[CRITICAL] stripe is down"
 *   MIME-Version: 1.0                   (RFC 2047 words when not ASCII)
 *   Content-Type: multipart/alternative; boundary="outpost-<id>"
 *     text/plain; charset=UTF-8, base64: the template's line, the facts
 *     text/html;  charset=UTF-8, base64: the same as a table
 *
 * The Message-ID is derived from the event's (dedup_key, kind, ts_ns):
 * "<outpost.<ts_ns>.<fnv-1a 64 of dedup_key and kind>@<from's domain>>",
 * the same on every retry, so a mailbox that already has it can tell.
 *
 * Transport: smtp:// (STARTTLS per `use_ssl`: try, all (required) or
 * none) or smtps:// (TLS from the start), AUTH with username/password
 * when given. The transfer runs through the core's client
 * (outpost_http_perform: any curl protocol, on the shared loop, within
 * what is left of the output's `timeout`). Answers: the message accepted
 * (250 after DATA): sent. A 4xx reply (451, 452, 421...): retry. A 5xx
 * reply (550 mailbox unavailable, 554...): that event is refused for
 * good (dead letters) with the server's code. No answer (connection
 * refused, TLS failure, timeout): retry. The password never appears in
 * a message. write runs on the output's own thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include <outpost/http.h>
#include <outpost/plugin.h>
#include "mime.h"
#include "notify.h"

struct email_conf {
    char               *smtp_url;
    char               *use_ssl;
    char               *from;
    outpost_strlist_t   to;
    outpost_strlist_t   cc;
    char               *username;
    char               *password;
    char               *subject_prefix;
    char               *ca_file;
    int                 insecure;
    int                 digest;
    struct notify_conf  nc;
};

/* Required options have no default, only an example (email_examples,
 * what --sample-config writes): a section without them fails -t. */
static const outpost_option_t email_options[] = {
    { .name = "smtp_url", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct email_conf, smtp_url),
      .flags = OUTPOST_OPT_REQUIRED,
      .help = "the mail server, smtp://host:587 or smtps://host:465" },
    { .name = "use_ssl", .type = OUTPOST_OPT_ENUM,
      .offset = offsetof(struct email_conf, use_ssl), .def = "try",
      .choices = "try|all|none",
      .help = "STARTTLS on smtp://: try, all (required) or none" },
    { .name = "from", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct email_conf, from),
      .flags = OUTPOST_OPT_REQUIRED,
      .help = "the sender address, outpost@example.com" },
    { .name = "to", .type = OUTPOST_OPT_STRLIST,
      .offset = offsetof(struct email_conf, to),
      .flags = OUTPOST_OPT_REQUIRED,
      .help = "recipient addresses" },
    { .name = "cc", .type = OUTPOST_OPT_STRLIST,
      .offset = offsetof(struct email_conf, cc),
      .help = "addresses in copy" },
    { .name = "username", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct email_conf, username),
      .help = "SMTP AUTH user (with password)" },
    { .name = "password", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct email_conf, password),
      .help = "SMTP AUTH password" },
    { .name = "subject_prefix", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct email_conf, subject_prefix), .def = "",
      .help = "text put before every subject, e.g. \"[prod] \"" },
    { .name = "ca_file", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct email_conf, ca_file),
      .flags = OUTPOST_OPT_PATH,
      .help = "CA certificates (PEM) to check the server's with" },
    { .name = "insecure", .type = OUTPOST_OPT_BOOL,
      .offset = offsetof(struct email_conf, insecure), .def = "false",
      .help = "accept any TLS certificate (tests only)" },
    { .name = "digest", .type = OUTPOST_OPT_BOOL,
      .offset = offsetof(struct email_conf, digest), .def = "false",
      .help = "one mail per interval listing its events; the interval is "
              "flush_interval (set it, e.g. \"5m\")" },
    NOTIFY_OPTIONS(struct email_conf, nc, "30/1m"),
    OUTPOST_OPTION_END
};

static const outpost_default_t email_examples[] = {
    { "smtp_url", "\"smtps://smtp.example.com:465\"" },
    { "from", "\"outpost@example.com\"" },
    { "to", "{\"oncall@example.com\"}" },
    OUTPOST_DEFAULT_END
};

static const outpost_default_t email_defaults[] = {
    NOTIFY_OUTPUT_DEFAULTS,
    OUTPOST_DEFAULT_END
};

struct email {
    struct notify     *n;
    CURL              *easy;
    struct curl_slist *rcpt;
    char               mail_from[320];
    const char        *domain;
    const char        *secrets[3];
};

/* A plausible address: something@something, no spaces or brackets. */
static int
address_ok(const char *a)
{
    const char *at = strchr(a, '@');

    return at && at > a && at[1] && strchr(at + 1, '@') == NULL
           && strpbrk(a, " \t\r\n<>,;\"") == NULL && strlen(a) < 300;
}

static int
email_validate(const void *conf, char *err, size_t errlen)
{
    const struct email_conf *c = conf;

    if (c->smtp_url && strncmp(c->smtp_url, "smtp://", 7) != 0
        && strncmp(c->smtp_url, "smtps://", 8) != 0) {
        snprintf(err, errlen, "smtp_url: not an smtp:// or smtps:// URL");
        return -1;
    }
    if (c->from && !address_ok(c->from)) {
        snprintf(err, errlen, "from: \"%s\" is not an address", c->from);
        return -1;
    }
    if (c->to.n == 0 && c->smtp_url) {
        snprintf(err, errlen, "to: at least one recipient");
        return -1;
    }
    for (size_t i = 0; i < c->to.n + c->cc.n; i++) {
        const char *a = i < c->to.n ? c->to.v[i] : c->cc.v[i - c->to.n];

        if (!address_ok(a)) {
            snprintf(err, errlen, "%s: \"%s\" is not an address",
                     i < c->to.n ? "to" : "cc", a);
            return -1;
        }
    }
    if ((c->username == NULL) != (c->password == NULL)) {
        snprintf(err, errlen, "%s: needed with %s",
                 c->username ? "password" : "username",
                 c->username ? "username" : "password");
        return -1;
    }
    return notify_conf_check(&c->nc, err, errlen);
}

static void
email_shutdown(outpost_instance_t *inst)
{
    struct email *m = outpost_instance_data(inst);

    if (m == NULL)
        return;
    notify_free(m->n);
    if (m->easy)
        curl_easy_cleanup(m->easy);
    curl_slist_free_all(m->rcpt);
    free(m);
}

static int
email_init(outpost_instance_t *inst)
{
    struct email_conf *c = outpost_instance_conf(inst);
    struct email *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return -1;
    outpost_instance_set_data(inst, m);
    snprintf(m->mail_from, sizeof(m->mail_from), "<%s>", c->from);
    m->domain = strchr(c->from, '@') + 1;
    m->secrets[0] = c->password;
    m->secrets[1] = c->password ? c->username : NULL;
    for (size_t i = 0; i < c->to.n + c->cc.n; i++) {
        const char *a = i < c->to.n ? c->to.v[i] : c->cc.v[i - c->to.n];
        char br[320];
        struct curl_slist *l;

        snprintf(br, sizeof(br), "<%s>", a);
        if ((l = curl_slist_append(m->rcpt, br)) == NULL)
            return -1;
        m->rcpt = l;
    }
    if ((m->easy = curl_easy_init()) == NULL
        || (m->n = notify_new(inst, &c->nc, m->secrets)) == NULL)
        return -1;              /* shutdown frees the rest */
    return 0;
}

/* --- the message ---------------------------------------------------------- */

static uint64_t
fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The facts a responder needs, those the event has: label, field. */
static const char *const facts[][2] = {
    { "Integration",          NULL },
    { "Status",               OUTPOST_F_STATUS },
    { "Priority",             OUTPOST_F_PRIORITY },
    { "Reason",               OUTPOST_F_REASON },
    { "Response time (ms)",   OUTPOST_F_RESPONSE_MS },
    { "Consecutive failures", OUTPOST_F_CONSECUTIVE_FAILURES },
    { "Occurrences",          OUTPOST_F_OCCURRENCES },
    { "Last error",           OUTPOST_F_ERROR },
    { "Vendor status page",   OUTPOST_F_VENDOR_STATUS },
    { "Failover",             "failover" },
};

/* The two bodies: text (lines) and html (a paragraph and a table). */
static void
bodies(struct notify *n, const char *line, const outpost_record_t *ev,
       struct mbuf *text, struct mbuf *html)
{
    char b[512], when[64];
    char *link = ev ? notify_dashboard(n, ev) : NULL;

    mbuf_str(text, line);
    mbuf_str(text, "\r\n");
    mbuf_str(html, "<!DOCTYPE html>\r\n<html><body>\r\n<p>");
    /* A digest's lines stay lines. */
    for (const char *p = line; *p;) {
        size_t n = strcspn(p, "\r\n");
        char *one = strndup(p, n);

        if (one == NULL) {
            html->oom = 1;
            break;
        }
        mime_html(html, one);
        free(one);
        p += n;
        if (*p) {
            mbuf_str(html, "<br>\r\n");
            p += strspn(p, "\r\n") > 2 ? 2 : strspn(p, "\r\n");
        }
    }
    mbuf_str(html, "</p>\r\n");
    if (ev) {
        mbuf_str(text, "\r\n");
        mbuf_str(html, "<table>\r\n");
        for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
            const char *v = facts[i][1]
                            ? notify_field(ev, facts[i][1], b, sizeof(b))
                            : outpost_record_tag(ev, OUTPOST_TAG_INTEGRATION);

            if (v == NULL || *v == '\0')
                continue;
            mbuf_fmt(text, "%s: %s\r\n", facts[i][0], v);
            mbuf_fmt(html, "<tr><th align=\"left\">%s</th><td>", facts[i][0]);
            mime_html(html, v);
            mbuf_str(html, "</td></tr>\r\n");
        }
        notify_time(ev->ts_ns, when, sizeof(when));
        mbuf_fmt(text, "Time: %s\r\n", when);
        mbuf_fmt(html, "<tr><th align=\"left\">Time</th><td>%s</td></tr>\r\n"
                 "</table>\r\n", when);
    }
    if (link) {
        mbuf_fmt(text, "\r\n%s\r\n", link);
        mbuf_str(html, "<p><a href=\"");
        mime_html(html, link);
        mbuf_str(html, "\">Dashboard</a></p>\r\n");
    }
    mbuf_str(text, "\r\n-- \r\noutpost\r\n");
    mbuf_str(html, "</body></html>\r\n");
    free(link);
}

/* The whole message for ev (or, ev NULL, a summary with this subject and
 * line, dated ts_ns). */
static char *
compose(outpost_instance_t *inst, const outpost_record_t *ev,
        const char *subject, const char *line, int64_t ts_ns, size_t *len)
{
    struct email_conf *c = outpost_instance_conf(inst);
    struct email *m = outpost_instance_data(inst);
    struct mbuf msg = { 0 }, text = { 0 }, html = { 0 }, list = { 0 };
    char date[64], subj[600], id[64];
    uint64_t h = 0xcbf29ce484222325ULL;

    if (ev) {
        h = fnv1a(h, ev->event && ev->event->dedup_key
                     ? ev->event->dedup_key : "");
        h = fnv1a(h, outpost_event_kind_name(
                         (outpost_event_kind_t) ev->event_kind));
    } else {
        h = fnv1a(h, line);
    }
    snprintf(id, sizeof(id), "%lld.%016llx", (long long) ts_ns,
             (unsigned long long) h);
    mbuf_fmt(&msg, "Date: %s\r\n", mime_date(ts_ns, date, sizeof(date)));
    mbuf_fmt(&msg, "Message-ID: <outpost.%s@%s>\r\n", id, m->domain);
    mbuf_fmt(&msg, "From: %s\r\n", c->from);
    for (size_t i = 0; i < c->to.n; i++)
        mbuf_fmt(&list, "%s%s", i ? ", " : "", c->to.v[i]);
    mbuf_fmt(&msg, "To: %s\r\n", list.s);
    if (c->cc.n) {
        list.len = 0;
        for (size_t i = 0; i < c->cc.n; i++)
            mbuf_fmt(&list, "%s%s", i ? ", " : "", c->cc.v[i]);
        mbuf_fmt(&msg, "Cc: %s\r\n", list.s);
    }
    free(list.s);
    snprintf(subj, sizeof(subj), "%s%s", c->subject_prefix, subject);
    mime_header(&msg, "Subject", subj);
    if (ev && ev->event && ev->event->dedup_key)
        mime_header(&msg, "X-Outpost-Dedup-Key", ev->event->dedup_key);
    mbuf_str(&msg, "MIME-Version: 1.0\r\n");
    mbuf_fmt(&msg, "Content-Type: multipart/alternative; "
             "boundary=\"outpost-%s\"\r\n\r\n", id);
    bodies(m->n, line, ev, &text, &html);
    mbuf_fmt(&msg, "--outpost-%s\r\nContent-Type: text/plain; charset=UTF-8"
             "\r\nContent-Transfer-Encoding: base64\r\n\r\n", id);
    if (text.s)
        mime_base64(&msg, (const unsigned char *) text.s, text.len);
    mbuf_fmt(&msg, "--outpost-%s\r\nContent-Type: text/html; charset=UTF-8"
             "\r\nContent-Transfer-Encoding: base64\r\n\r\n", id);
    if (html.s)
        mime_base64(&msg, (const unsigned char *) html.s, html.len);
    mbuf_fmt(&msg, "--outpost-%s--\r\n", id);
    if (text.oom || html.oom)
        msg.oom = 1;
    free(text.s);
    free(html.s);
    if (msg.oom) {
        free(msg.s);
        return NULL;
    }
    *len = msg.len;
    return msg.s;
}

/* --- SMTP ----------------------------------------------------------------- */

struct upload {
    const char *s;
    size_t      left;
};

static size_t
on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nitems < u->left ? size * nitems : u->left;

    memcpy(buf, u->s, n);
    u->s += n;
    u->left -= n;
    return n;
}

static size_t
on_discard(char *p, size_t size, size_t n, void *arg)
{
    (void) p;
    (void) arg;
    return size * n;
}

/* Sends msg to every recipient; sorts the server's answer. */
static enum notify_verdict
smtp_send(outpost_instance_t *inst, char *msg, size_t len,
          struct notify_reply *rep)
{
    struct email_conf *c = outpost_instance_conf(inst);
    struct email *m = outpost_instance_data(inst);
    struct upload up = { msg, len };
    CURL *e = m->easy;
    long code = 0;
    CURLcode rc;

    memset(rep, 0, sizeof(*rep));
    rep->retry_after_ms = -1;
    if (msg == NULL) {
        snprintf(rep->why, sizeof(rep->why), "out of memory");
        return NOTIFY_RETRY;
    }
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, c->smtp_url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, m->mail_from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, m->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, &up);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t) len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_discard);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(c->use_ssl, "all") == 0)
        curl_easy_setopt(e, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL);
    else if (strcmp(c->use_ssl, "try") == 0)
        curl_easy_setopt(e, CURLOPT_USE_SSL, (long) CURLUSESSL_TRY);
    if (c->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->username) {
        curl_easy_setopt(e, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, c->password);
    }
    rc = outpost_http_perform(e);
    free(msg);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    rep->status = code;
    if (rc == CURLE_OK) {
        snprintf(rep->why, sizeof(rep->why), "SMTP %ld", code);
        return NOTIFY_SENT;
    }
    /* curl's words and the code: its error buffer could quote a user. */
    snprintf(rep->why, sizeof(rep->why), "SMTP %ld: %s", code,
             curl_easy_strerror(rc));
    notify_redact(m->n, rep->why);
    if (code >= 500 && code < 600 && rc != CURLE_OPERATION_TIMEDOUT)
        return NOTIFY_REFUSE;
    return NOTIFY_RETRY;        /* 4xx, or no answer */
}

static enum notify_verdict
email_send(outpost_instance_t *inst, const outpost_record_t *ev,
           struct notify_reply *rep)
{
    struct email_conf *c = outpost_instance_conf(inst);
    char subject[256];
    char *line = notify_text(&c->nc, ev);
    size_t len = 0;
    char *msg = NULL;

    if (line)
        msg = compose(inst, ev, notify_headline(ev, subject, sizeof(subject)), line,
                      ev->ts_ns, &len);
    free(line);
    return smtp_send(inst, msg, len, rep);
}

static enum notify_verdict
email_summary(outpost_instance_t *inst, const outpost_record_t *const *evs,
              size_t n, struct notify_reply *rep)
{
    struct email *m = outpost_instance_data(inst);
    char *text = notify_summary_text(m->n, evs, n);
    char subject[128];
    size_t len = 0;
    char *msg = NULL;

    snprintf(subject, sizeof(subject), "[SUMMARY] %zu notifications over "
             "the rate limit", n);
    if (text)
        msg = compose(inst, NULL, subject, text, n ? evs[0]->ts_ns : 0, &len);
    free(text);
    return smtp_send(inst, msg, len, rep);
}

static const struct notify_ops email_ops = {
    .send = email_send,
    .summary = email_summary,
};

/* The digest of evs: the subject with the counts, one line per event
 * (its time, title and message). */
static char *
digest_text(const outpost_record_t *const *evs, size_t k, char *subject,
            size_t slen)
{
    struct mbuf t = { 0 };
    size_t alerts = 0, resolves = 0, escalations = 0;
    outpost_severity_t worst = OUTPOST_SEV_INFO;
    char when[40], head[300];

    for (size_t i = 0; i < k; i++) {
        resolves += evs[i]->event_kind == OUTPOST_EV_RESOLVE;
        escalations += evs[i]->event_kind == OUTPOST_EV_ESCALATE;
        alerts += evs[i]->event_kind == OUTPOST_EV_ALERT;
        if (evs[i]->event_kind != OUTPOST_EV_RESOLVE
            && evs[i]->severity > worst)
            worst = (outpost_severity_t) evs[i]->severity;
    }
    snprintf(subject, slen, "[DIGEST] %zu notification%s: %zu alert%s, "
             "%zu resolve%s, %zu escalation%s (worst: %s)", k,
             k == 1 ? "" : "s", alerts, alerts == 1 ? "" : "s", resolves,
             resolves == 1 ? "" : "s", escalations,
             escalations == 1 ? "" : "s", outpost_severity_name(worst));
    mbuf_fmt(&t, "%zu notifications since %s:", k,
             notify_time(evs[0]->ts_ns, when, sizeof(when)));
    for (size_t i = 0; i < k; i++)
        mbuf_fmt(&t, "\r\n%s %s: %s",
                 notify_time(evs[i]->ts_ns, when, sizeof(when)),
                 notify_headline(evs[i], head, sizeof(head)),
                 evs[i]->event && evs[i]->event->message
                 ? evs[i]->event->message : "");
    if (t.oom) {
        free(t.s);
        return NULL;
    }
    return t.s;
}

static outpost_result_t
digest_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    struct email *m = outpost_instance_data(inst);
    const outpost_record_t **evs = malloc(b->n * sizeof(*evs));
    struct notify_reply rep;
    enum notify_verdict v;
    char subject[256], *text = NULL, *msg = NULL;
    size_t k = 0, len = 0;

    if (evs == NULL)
        return OUTPOST_RETRY;
    for (size_t i = 0; i < b->n; i++)
        if (notify_wanted(m->n, b->records[i], &email_ops))
            evs[k++] = b->records[i];
    if (k == 0) {
        free(evs);
        return OUTPOST_OK;
    }
    if ((text = digest_text(evs, k, subject, sizeof(subject))) != NULL)
        msg = compose(inst, NULL, subject, text, evs[0]->ts_ns, &len);
    free(text);
    v = smtp_send(inst, msg, len, &rep);
    free(evs);
    if (v == NOTIFY_SENT)
        return OUTPOST_OK;
    outpost_log(inst, v == NOTIFY_REFUSE ? OUTPOST_LOG_ERROR
                                         : OUTPOST_LOG_WARN, "write",
                "digest of %zu events %s: %s", k, v == NOTIFY_REFUSE
                ? "refused" : "not accepted, retrying", rep.why);
    if (v == NOTIFY_RETRY)
        return OUTPOST_RETRY;
    for (size_t i = 0; i < b->n; i++)
        if (notify_wanted(m->n, b->records[i], &email_ops))
            outpost_batch_reject(b, i, rep.why);
    return OUTPOST_OK;
}

static outpost_result_t
email_write(outpost_instance_t *inst, const outpost_batch_t *batch)
{
    struct email_conf *c = outpost_instance_conf(inst);
    struct email *m = outpost_instance_data(inst);

    if (c->digest)
        return digest_write(inst, batch);
    return notify_write(m->n, batch, &email_ops);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "email",
    .description = "notify by email through an SMTP server",
    .kind = OUTPOST_OUTPUT,
    .flags = OUTPOST_PLUGIN_NOTIFIER,
    .options = email_options,
    .conf_size = sizeof(struct email_conf),
    .init = email_init,
    .write = email_write,
    .shutdown = email_shutdown,
    .validate = email_validate,
    .output_defaults = email_defaults,
    .option_examples = email_examples,
};
