/*
 * notify.c - templates, the services' answers, the rate limit and the
 * write loop of the notifier outputs. The rules are in notify.h.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <outpost/fields.h>
#include <outpost/http.h>
#include "notify.h"

const char *const notify_field_names[] = {
    "integration", "status", "severity", "priority", "reason", "message",
    "response_ms", "status_code", "vendor_status", "vendor_description",
    "vendor_incidents", "failover", "failover_active", "failover_group",
    "error", "occurrences", "consecutive_failures", "action", "kind",
    "condition", "dedup_key", "provider", "category", "tier", "time",
    "acknowledged_by", "health_score", "circuit", "since", "fallback_for",
    NULL
};

/* --- templates ------------------------------------------------------------ */

static int
known_field(const char *name, size_t len)
{
    for (size_t i = 0; notify_field_names[i]; i++)
        if (strlen(notify_field_names[i]) == len
            && strncmp(notify_field_names[i], name, len) == 0)
            return 1;
    return 0;
}

int
notify_tmpl_check(const char *option, const char *tmpl, char *err,
                  size_t errlen)
{
    for (const char *p = tmpl; p && *p; p++) {
        const char *end;

        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            p++;
            continue;
        }
        if (*p == '}') {
            snprintf(err, errlen, "%s: a lone '}' (write \"}}\" for a brace)",
                     option);
            return -1;
        }
        if (*p != '{')
            continue;
        end = strchr(p + 1, '}');
        if (end == NULL) {
            snprintf(err, errlen, "%s: '{' without a closing '}'", option);
            return -1;
        }
        if (!known_field(p + 1, (size_t) (end - p - 1))) {
            snprintf(err, errlen, "%s: unknown field {%.*s} (known: "
                     "integration, status, severity, priority, reason, "
                     "message, response_ms, vendor_status, failover, error, "
                     "occurrences, action... see the plugin's docs)",
                     option, (int) (end - p - 1), p + 1);
            return -1;
        }
        p = end;
    }
    return 0;
}

static const outpost_field_t *
lookup(const outpost_record_t *ev, const char *name)
{
    const outpost_field_t *f = outpost_record_field(ev, name);

    if (f == NULL && ev->event && ev->event->cause)
        f = outpost_record_field(ev->event->cause, name);
    return f;
}

static const char *
format_field(const outpost_field_t *f, char *buf, size_t len)
{
    double v;

    switch (f->type) {
    case OUTPOST_FIELD_STRING:
        return f->v.s;
    case OUTPOST_FIELD_BOOL:
        return f->v.b ? "true" : "false";
    case OUTPOST_FIELD_INT:
        snprintf(buf, len, "%" PRId64, f->v.i);
        return buf;
    default:
        v = f->v.f;
        if (isfinite(v) && v == floor(v) && fabs(v) < 1e15)
            snprintf(buf, len, "%.0f", v);
        else if (isfinite(v) && fabs(v) >= 1)
            snprintf(buf, len, "%.1f", v);
        else
            snprintf(buf, len, "%g", v);
        return buf;
    }
}

static const char *headline(const outpost_record_t *ev, char *buf,
                            size_t len);

const char *
notify_headline(const outpost_record_t *ev, char *buf, size_t len)
{
    const char *failed = outpost_record_string(ev, "fallback_for");
    size_t n;

    headline(ev, buf, len);
    n = strlen(buf);
    if (failed && n < len)
        snprintf(buf + n, len - n, " (via fallback: %s is failing)", failed);
    return buf;
}

static const char *
headline(const outpost_record_t *ev, char *buf, size_t len)
{
    char a[64], st[64], up[16];
    const char *action = notify_field(ev, OUTPOST_F_ACTION, a, sizeof(a));
    const char *integ = outpost_record_tag(ev, OUTPOST_TAG_INTEGRATION);
    const char *status = notify_field(ev, OUTPOST_F_STATUS, st, sizeof(st));
    const char *sev = outpost_severity_name((outpost_severity_t) ev->severity);
    size_t i;

    for (i = 0; sev[i] && i < sizeof(up) - 1; i++)
        up[i] = (char) (sev[i] >= 'a' && sev[i] <= 'z' ? sev[i] - 32 : sev[i]);
    up[i] = '\0';
    integ = integ ? integ : "outpost";
    if (strcmp(action, "test") == 0)
        snprintf(buf, len, "[TEST] outpost test notification");

    else if (ev->event_kind == OUTPOST_EV_RESOLVE)
        snprintf(buf, len, "[RESOLVED] %s recovered", integ);
    else if (strcmp(action, "acknowledge") == 0)
        snprintf(buf, len, "[ACKNOWLEDGED] %s", integ);
    else if (ev->event_kind == OUTPOST_EV_ESCALATE)
        snprintf(buf, len, "[ESCALATED %s] %s is %s", up, integ,
                 *status ? status : "failing");
    else if (ev->event_kind == OUTPOST_EV_ALERT || *status)
        snprintf(buf, len, "[%s] %s is %s", up, integ,
                 *status ? status : "failing");
    else
        snprintf(buf, len, "[%s] %s: %s", up, integ,
                 outpost_event_kind_name(
                     (outpost_event_kind_t) ev->event_kind));
    return buf;
}

const char *
notify_time(int64_t ts_ns, char *buf, size_t len)
{
    time_t s = (time_t) (ts_ns / 1000000000);
    struct tm tm;

    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int) (ts_ns / 1000000 % 1000));
    return buf;
}

const char *
notify_field(const outpost_record_t *ev, const char *name, char *buf,
             size_t len)
{
    const outpost_field_t *f;
    const char *s, *group, *integ;

    buf[0] = '\0';
    if (strcmp(name, "severity") == 0 && ev->kind == OUTPOST_EVENT)
        return outpost_severity_name((outpost_severity_t) ev->severity);
    if (strcmp(name, "kind") == 0 && ev->kind == OUTPOST_EVENT)
        return outpost_event_kind_name((outpost_event_kind_t) ev->event_kind);
    if (strcmp(name, "message") == 0)
        return ev->event && ev->event->message ? ev->event->message : "";
    if (strcmp(name, "dedup_key") == 0)
        return ev->event && ev->event->dedup_key ? ev->event->dedup_key : "";
    if (strcmp(name, "time") == 0)
        return notify_time(ev->ts_ns, buf, len);
    if (strcmp(name, "failover") == 0) {
        /* "checkout traffic moved to paypal": only when it moved away. */
        s = outpost_record_string(ev, OUTPOST_F_FAILOVER_ACTIVE);
        group = outpost_record_tag(ev, OUTPOST_TAG_FAILOVER_GROUP);
        integ = outpost_record_tag(ev, OUTPOST_TAG_INTEGRATION);
        if (s && *s && group && (integ == NULL || strcmp(s, integ) != 0))
            snprintf(buf, len, "%s traffic moved to %s", group, s);
        return buf;
    }
    if ((f = lookup(ev, name)) != NULL)
        return format_field(f, buf, len);
    if ((s = outpost_record_tag(ev, name)) != NULL)
        return s;
    return buf;
}

double
notify_number(const outpost_record_t *ev, const char *name, double def)
{
    return outpost_field_number(lookup(ev, name), def);
}

/* A growing string. */
struct sbuf {
    char   *p;
    size_t  len, cap;
    int     oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        if ((p = realloc(b->p, cap)) == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static char *
sb_done(struct sbuf *b)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (b->p == NULL)
        return strdup("");
    return b->p;
}

char *
notify_render(const char *tmpl, const outpost_record_t *ev)
{
    struct sbuf b = { 0 };
    char name[64], val[256];

    for (const char *p = tmpl ? tmpl : ""; *p; p++) {
        const char *end, *v;

        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
            sb_add(&b, p, 1);
            p++;
            continue;
        }
        if (*p != '{' || (end = strchr(p + 1, '}')) == NULL
            || (size_t) (end - p - 1) >= sizeof(name)) {
            sb_add(&b, p, 1);
            continue;
        }
        memcpy(name, p + 1, (size_t) (end - p - 1));
        name[end - p - 1] = '\0';
        v = notify_field(ev, name, val, sizeof(val));
        sb_add(&b, v, strlen(v));
        p = end;
    }
    return sb_done(&b);
}

char *
notify_text(const struct notify_conf *c, const outpost_record_t *ev)
{
    char *line = notify_render(ev->event_kind == OUTPOST_EV_RESOLVE
                               ? c->resolve_template : c->template, ev);
    const char *failed = outpost_record_string(ev, "fallback_for");
    char *out;

    if (line == NULL || failed == NULL)
        return line;
    /* A copy from a channel that is failing (core/output.c, Fallback). */
    if (asprintf(&out, "[via fallback: %s is failing] %s", failed,
                 line) < 0)
        out = NULL;
    free(line);
    return out;
}

/* --- options ---------------------------------------------------------------- */

int
notify_rate_parse(const char *s, int64_t *n, int64_t *per_ms)
{
    char *end;
    long long v;

    *n = 0;
    *per_ms = 0;
    if (s == NULL || *s == '\0')
        return 0;
    v = strtoll(s, &end, 10);
    if (end == s || *end != '/' || v < 1 || v > 1000000)
        return -1;
    if (outpost_duration_parse(end + 1, per_ms) != 0 || *per_ms < 1)
        return -1;
    *n = v;
    return 0;
}

int
notify_conf_check(const struct notify_conf *c, char *err, size_t errlen)
{
    int64_t n, per;

    if (notify_tmpl_check("template", c->template, err, errlen) != 0
        || notify_tmpl_check("resolve_template", c->resolve_template, err,
                             errlen) != 0)
        return -1;
    if (notify_rate_parse(c->rate_limit, &n, &per) != 0) {
        snprintf(err, errlen, "rate_limit: \"%s\" is not N/duration, e.g. "
                 "\"30/1m\"", c->rate_limit);
        return -1;
    }
    for (size_t i = 0; i < c->events.n; i++) {
        const char *k = c->events.v[i];

        if (strcmp(k, "alert") && strcmp(k, "resolve") && strcmp(k, "escalate")
            && strcmp(k, "state_change") && strcmp(k, "circuit")
            && strcmp(k, "failover")) {
            snprintf(err, errlen, "events: unknown event kind \"%s\" (alert, "
                     "resolve, escalate, state_change, circuit, failover)", k);
            return -1;
        }
    }
    if (c->dashboard_url && *c->dashboard_url) {
        /* Only {integration} and the like: check as a template. */
        if (notify_tmpl_check("dashboard_url", c->dashboard_url, err,
                              errlen) != 0)
            return -1;
    }
    return 0;
}

/* --- the channel ------------------------------------------------------------ */

struct notify {
    outpost_instance_t        *inst;
    const struct notify_conf  *conf;
    const char *const         *secrets;
    CURL                      *easy;
    int64_t                    rate_n, rate_per_ms;
    int64_t                    window_ms;       /* this window's start */
    int64_t                    used;            /* messages in it */
    int                        backlog;         /* over the limit and not
                                                   caught up since */
};

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct notify *
notify_new(outpost_instance_t *inst, const struct notify_conf *c,
           const char *const *secrets)
{
    struct notify *n = calloc(1, sizeof(*n));

    if (n == NULL)
        return NULL;
    n->inst = inst;
    n->conf = c;
    n->secrets = secrets;
    if ((n->easy = curl_easy_init()) == NULL) {
        free(n);
        return NULL;
    }
    (void) notify_rate_parse(c->rate_limit, &n->rate_n, &n->rate_per_ms);
    n->window_ms = mono_ms();
    return n;
}

void
notify_free(struct notify *n)
{
    if (n == NULL)
        return;
    curl_easy_cleanup(n->easy);
    free(n);
}

void
notify_redact(const struct notify *n, char *s)
{
    for (size_t i = 0; n->secrets && n->secrets[i]; i++) {
        const char *sec = n->secrets[i];
        size_t sl = strlen(sec);
        char *p;

        if (sl < 4)
            continue;
        while ((p = strstr(s, sec)) != NULL) {
            memcpy(p, "***", 3);
            memmove(p + 3, p + sl, strlen(p + sl) + 1);
        }
    }
    /* One line: no CR, LF or other control characters from the body. */
    for (char *p = s; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            *p = ' ';
}

char *
notify_dump(json_t *j)
{
    char *s;

    if (j == NULL)
        return NULL;
    s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

char *
notify_dashboard(const struct notify *n, const outpost_record_t *ev)
{
    const char *u = n->conf->dashboard_url;

    return u && *u ? notify_render(u, ev) : NULL;
}

/* --- HTTP ----------------------------------------------------------------- */

struct collect {
    struct notify_reply *rep;
    size_t               len;
};

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct collect *c = arg;
    size_t n = size * nmemb, room = sizeof(c->rep->body) - 1 - c->len;
    size_t take = n < room ? n : room;

    memcpy(c->rep->body + c->len, p, take);
    c->len += take;
    c->rep->body[c->len] = '\0';
    return n;
}

/* Retry-After: delta-seconds or an HTTP-date (RFC 9110 10.2.3). */
static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
    struct collect *c = arg;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    char v[64];
    size_t vl;

    if (n <= sizeof(name) - 1 || strncasecmp(p, name, sizeof(name) - 1))
        return n;
    vl = n - (sizeof(name) - 1);
    if (vl >= sizeof(v))
        return n;
    memcpy(v, p + sizeof(name) - 1, vl);
    v[vl] = '\0';
    {
        char *s = v, *end;
        long long secs;

        while (*s == ' ' || *s == '\t')
            s++;
        for (end = s + strlen(s); end > s && isspace((unsigned char) end[-1]);)
            *--end = '\0';
        if (*s == '\0')
            return n;
        if (isdigit((unsigned char) *s)) {
            secs = strtoll(s, &end, 10);
            if (*end == '\0' && secs >= 0 && secs < 86400LL * 365)
                c->rep->retry_after_ms = secs * 1000;
        } else {
            time_t t = curl_getdate(s, NULL);

            if (t != (time_t) -1) {
                long long d = (long long) t - (long long) time(NULL);
                c->rep->retry_after_ms = d > 0 ? d * 1000 : 0;
            }
        }
    }
    return n;
}

enum notify_verdict
notify_post(struct notify *n, const char *url, const char *body, size_t len,
            struct curl_slist *headers, struct notify_reply *rep)
{
    return notify_post_auth(n, url, body, len, headers, NULL, NULL, rep);
}

enum notify_verdict
notify_post_auth(struct notify *n, const char *url, const char *body,
                 size_t len, struct curl_slist *headers, const char *user,
                 const char *password, struct notify_reply *rep)
{
    struct curl_slist *h = NULL, *own = NULL;
    struct collect c = { rep, 0 };
    CURLcode rc;
    CURL *e = n->easy;

    memset(rep, 0, sizeof(*rep));
    rep->retry_after_ms = -1;
    if (headers == NULL) {
        own = curl_slist_append(NULL, "Content-Type: application/json");
        if (own == NULL) {
            snprintf(rep->why, sizeof(rep->why), "out of memory");
            return NOTIFY_RETRY;
        }
        h = own;
    } else {
        h = headers;
    }
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "outpost-notify/1");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &c);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    if (user) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, password);
    }
    rc = outpost_http_perform(e);
    curl_slist_free_all(own);
    if (rc != CURLE_OK) {
        /* curl's own words only: its error buffer could quote the URL,
         * and a webhook's URL is its secret. */
        snprintf(rep->why, sizeof(rep->why), "%s", curl_easy_strerror(rc));
        return NOTIFY_RETRY;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &rep->status);
    notify_redact(n, rep->body);
    snprintf(rep->why, sizeof(rep->why), "HTTP %ld: %.400s", rep->status,
             rep->body[0] ? rep->body : "(no body)");
    if (rep->status >= 200 && rep->status < 300)
        return NOTIFY_SENT;
    if (rep->status == 429 && rep->retry_after_ms < 0) {
        /* Discord says it in the body too: {"retry_after": 1.5, ...}. */
        const char *ra = strstr(rep->body, "\"retry_after\":");
        double secs = ra ? strtod(ra + 14, NULL) : -1;

        if (secs >= 0 && secs < 86400.0 * 365)
            rep->retry_after_ms = (int64_t) ceil(secs * 1000);
    }
    if (rep->status == 429 || rep->status >= 500 || rep->status < 200)
        return NOTIFY_RETRY;
    return NOTIFY_REFUSE;
}

/* --- the write loop ------------------------------------------------------- */

int
notify_is_ack(const outpost_record_t *ev)
{
    const char *a = outpost_record_string(ev, OUTPOST_F_ACTION);

    return ev->event_kind == OUTPOST_EV_ALERT && a
           && strcmp(a, "acknowledge") == 0;
}

int
notify_wanted(const struct notify *n, const outpost_record_t *ev,
              const struct notify_ops *ops)
{
    const char *kind;

    if (ev->kind != OUTPOST_EVENT)
        return 0;
    if (!ops->acks && notify_is_ack(ev))
        return 0;
    /* Routed here by name (the alert filter's policies, events_notify):
     * the operator asked for it. */
    if ((kind = outpost_record_tag(ev, OUTPOST_TAG_NOTIFY)) != NULL && *kind)
        return 1;
    kind = outpost_event_kind_name((outpost_event_kind_t) ev->event_kind);
    for (size_t i = 0; i < n->conf->events.n; i++)
        if (strcmp(n->conf->events.v[i], kind) == 0)
            return 1;
    return 0;
}

/* Fixed windows of rate_per_ms: at most rate_n messages (summaries
 * included) in each. */
static int64_t
budget(struct notify *n, int64_t now)
{
    if (now - n->window_ms >= n->rate_per_ms) {
        n->window_ms = now;
        n->used = 0;
    }
    return n->rate_n - n->used;
}

static void
log_failure(const struct notify *n, const char *what,
            const struct notify_reply *rep, enum notify_verdict v)
{
    outpost_log(n->inst, v == NOTIFY_REFUSE ? OUTPOST_LOG_ERROR
                                            : OUTPOST_LOG_WARN, "write",
                "%s %s: %s", what, v == NOTIFY_REFUSE ? "refused"
                                                      : "not accepted, retrying",
                rep->why);
}

/* The events of b from i on, over the limit, as one message. */
static outpost_result_t
send_summary(struct notify *n, const outpost_batch_t *b, size_t i,
             const struct notify_ops *ops)
{
    const outpost_record_t **evs = malloc((b->n - i) * sizeof(*evs));
    struct notify_reply rep;
    enum notify_verdict v;
    size_t k = 0;

    if (evs == NULL)
        return OUTPOST_RETRY;
    for (size_t j = i; j < b->n; j++)
        if (notify_wanted(n, b->records[j], ops))
            evs[k++] = b->records[j];
    n->used++;
    v = ops->summary(n->inst, evs, k, &rep);
    free(evs);
    if (v == NOTIFY_SENT) {
        outpost_log(n->inst, OUTPOST_LOG_WARN, "write",
                    "rate limit %s reached: %zu events sent as one summary",
                    n->conf->rate_limit, k);
        return OUTPOST_OK;
    }
    log_failure(n, "summary", &rep, v);
    n->used--;
    if (rep.retry_after_ms >= 0)
        outpost_batch_retry_after(b, rep.retry_after_ms);
    /* A refused summary is retried as a whole: no event is refused for a
     * message that was not its own. */
    return OUTPOST_RETRY;
}

outpost_result_t
notify_write(struct notify *n, const outpost_batch_t *b,
             const struct notify_ops *ops)
{
    struct notify_reply rep;
    enum notify_verdict v;
    size_t want = 0;
    int64_t singles = -1;       /* over the limit: singles still allowed */

    for (size_t i = 0; i < b->n; i++)
        want += notify_wanted(n, b->records[i], ops);
    for (size_t i = 0; i < b->n; i++) {
        const outpost_record_t *ev = b->records[i];

        if (!notify_wanted(n, ev, ops)) {
            outpost_batch_delivered(b, i + 1);
            continue;
        }
        if (n->rate_n > 0) {
            int64_t now = mono_ms(), left = budget(n, now);

            if (left <= 0) {
                /* Rule 3: wait for the next window. */
                outpost_batch_delivered(b, i);
                outpost_batch_retry_after(b, n->rate_per_ms
                                             - (now - n->window_ms));
                return OUTPOST_RETRY;
            }
            if (singles < 0 && (int64_t) want > left) {
                /* Over the limit: what fits goes out as usual, keeping
                 * one message for the summary of the rest; a backlog
                 * still over it in a later window is one summary. */
                singles = n->backlog ? 0 : left - 1;
                n->backlog = 1;
            } else if (singles < 0) {
                n->backlog = 0;
            }
            if (singles == 0) {
                outpost_batch_delivered(b, i);
                return send_summary(n, b, i, ops);
            }
            if (singles > 0)
                singles--;
            n->used++;
        }
        want--;
        v = ops->send(n->inst, ev, &rep);
        if (v == NOTIFY_SENT) {
            outpost_batch_delivered(b, i + 1);
            continue;
        }
        log_failure(n, "message", &rep, v);
        if (n->rate_n > 0)
            n->used--;          /* nobody was told: it takes no room */
        if (v == NOTIFY_REFUSE) {
            outpost_batch_reject(b, i, rep.why);
            continue;
        }
        outpost_batch_delivered(b, i);
        if (rep.retry_after_ms >= 0)
            outpost_batch_retry_after(b, rep.retry_after_ms);
        return OUTPOST_RETRY;
    }
    return OUTPOST_OK;
}

char *
notify_summary_text(const struct notify *n,
                    const outpost_record_t *const *evs, size_t count)
{
    struct sbuf b = { 0 };
    char line[256], st[64];
    size_t shown = count < (size_t) n->conf->summary_max
                   ? count : (size_t) n->conf->summary_max;
    size_t resolves = 0;

    for (size_t i = 0; i < count; i++)
        resolves += evs[i]->event_kind == OUTPOST_EV_RESOLVE;
    snprintf(line, sizeof(line), "%zu notifications over the rate limit "
             "(%s), grouped: %zu alerts, %zu resolves: ", count,
             n->conf->rate_limit, count - resolves, resolves);
    sb_add(&b, line, strlen(line));
    for (size_t i = 0; i < shown; i++) {
        const char *integ = outpost_record_tag(evs[i],
                                               OUTPOST_TAG_INTEGRATION);
        const char *what = evs[i]->event_kind == OUTPOST_EV_RESOLVE
                           ? "recovered"
                           : notify_field(evs[i], OUTPOST_F_STATUS, st,
                                          sizeof(st));

        snprintf(line, sizeof(line), "%s%s %s", i ? ", " : "",
                 integ ? integ : "?", *what ? what : "alert");
        sb_add(&b, line, strlen(line));
    }
    if (shown < count) {
        snprintf(line, sizeof(line), " and %zu more", count - shown);
        sb_add(&b, line, strlen(line));
    }
    return sb_done(&b);
}
