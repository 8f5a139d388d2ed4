/*
 * preset.c - the machinery of the provider presets: look the provider up,
 * build its URL once, shape every request from the provider's row (auth,
 * headers, body, version), read the answer the way vendor APIs answer
 * (httpcheck_classify_api, then the vendor's error message in `error`),
 * count rate-limit hits and attach the vendor's status-page verdict.
 * Provider-specific behaviour lives in the hooks of each plugin's table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <outpost/fields.h>
#include "preset.h"

#define ERROR_TEXT_MAX 200     /* of a vendor's message, in `error` */

int64_t
preset_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The string field at off in the plugin's conf. */
static const char *
conf_str(const preset_t *p, size_t off)
{
    return *(char *const *) ((const char *) p->conf + off);
}

const char *
preset_cred(const preset_t *p, int which)
{
    const struct preset_cred_def *d = p->plugin->creds;
    const char *v;

    for (int i = 0; i < which; i++)
        if (d[i].name == NULL)
            return "";
    if (d[which].name == NULL)
        return "";
    v = conf_str(p, d[which].offset);
    if ((v == NULL || *v == '\0') && d[which].fallback >= 0)
        return preset_cred(p, d[which].fallback);
    return v ? v : "";
}

/* The index of the credential called name (n bytes), or -1. */
static int
cred_index(const struct preset_cred_def *d, const char *name, size_t n)
{
    for (int i = 0; d[i].name; i++)
        if (strlen(d[i].name) == n && strncmp(d[i].name, name, n) == 0)
            return i;
    return -1;
}

const char *
preset_api_version(const preset_t *p)
{
    if (p->conf->api_version && *p->conf->api_version)
        return p->conf->api_version;
    return p->prov->api_version ? p->prov->api_version : "";
}

/* --- the URL -------------------------------------------------------------- */

/* Appends n bytes of s to the growing string *out (of length *len). */
static int
grow_append(char **out, size_t *len, const char *s, size_t n)
{
    char *b = realloc(*out, *len + n + 1);

    if (b == NULL)
        return -1;
    memcpy(b + *len, s, n);
    *len += n;
    b[*len] = '\0';
    *out = b;
    return 0;
}

/* The value of a {placeholder} in a provider's path: api_version, or one
 * of the plugin's credentials by name. */
static const char *
placeholder(const preset_t *p, const char *name, size_t n)
{
    int i;

    if (n == 11 && strncmp(name, "api_version", n) == 0)
        return preset_api_version(p);
    if ((i = cred_index(p->plugin->creds, name, n)) >= 0)
        return preset_cred(p, i);
    return NULL;
}

char *
preset_url(const preset_t *p, const char *path)
{
    const char *base = p->conf->base_url && *p->conf->base_url
                       ? p->conf->base_url : p->prov->base_url;
    size_t blen = strlen(base), len = 0;
    char *out = NULL;

    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (grow_append(&out, &len, base, blen) != 0)
        return NULL;
    while (*path) {
        const char *open = strchr(path, '{'), *close, *v;

        if (open == NULL || (close = strchr(open, '}')) == NULL) {
            if (grow_append(&out, &len, path, strlen(path)) != 0)
                goto nomem;
            break;
        }
        v = placeholder(p, open + 1, (size_t) (close - open - 1));
        if (grow_append(&out, &len, path, (size_t) (open - path)) != 0
            || (v && grow_append(&out, &len, v, strlen(v)) != 0))
            goto nomem;
        path = close + 1;
    }
    return out;
nomem:
    free(out);
    return NULL;
}

/* --- verdicts --------------------------------------------------------------- */

void
preset_verdict(httpcheck_call_t *c, const char *hint, const char *reason,
               const char *fmt, ...)
{
    char detail[320];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    httpcheck_fail(c, reason, "%s", detail);
    httpcheck_set_hint(c, hint, reason);
}

void
preset_rate_limited(preset_t *p, httpcheck_call_t *c, double seconds)
{
    outpost_record_t *rec = httpcheck_record(c);

    httpcheck_pass(c);
    httpcheck_set_hint(c, "degraded", "rate_limited");
    p->rate_limit_hits++;
    if (rec)
        outpost_record_add_int(rec, "rate_limit_hits", p->rate_limit_hits);
    if (seconds >= 0)
        preset_defer(p, c, seconds);
}

void
preset_defer(preset_t *p, httpcheck_call_t *c, double seconds)
{
    outpost_record_t *rec = httpcheck_record(c);
    double max = (double) p->conf->max_retry_after / 1000;

    if (!(seconds >= 0))
        return;
    if (max <= 0)
        max = (double) outpost_instance_interval_ms(p->inst) / 1000
              * PRESET_RETRY_INTERVALS;
    if (rec)
        outpost_record_add_float(rec, OUTPOST_F_RETRY_AFTER_S, seconds);
    if (seconds > max) {
        seconds = max;
        if (rec)
            outpost_record_add_float(rec, "retry_after_capped_s", seconds);
    }
    httpcheck_defer(c, seconds);
}

void
preset_field_str(httpcheck_call_t *c, const char *key, const char *v)
{
    outpost_record_t *rec = httpcheck_record(c);

    if (rec)
        outpost_record_add_str(rec, key, v);
}

void
preset_field_float(httpcheck_call_t *c, const char *key, double v)
{
    outpost_record_t *rec = httpcheck_record(c);

    if (rec)
        outpost_record_add_float(rec, key, v);
}

void
preset_field_bool(httpcheck_call_t *c, const char *key, int v)
{
    outpost_record_t *rec = httpcheck_record(c);

    if (rec)
        outpost_record_add_bool(rec, key, v);
}

/* The vendor's own words for a refusal, from the JSON error body. */
static const char *
vendor_message(const preset_t *p, httpcheck_call_t *c)
{
    json_t *root, *v;

    if (p->prov->error_path == NULL || (root = httpcheck_json(c)) == NULL)
        return NULL;
    v = httpcheck_json_get(root, p->prov->error_path);
    return json_string_value(v);
}

static const struct {
    unsigned    type;
    const char *name;
} json_type_names[] = {
    { PJ_OBJECT, "an object" }, { PJ_ARRAY, "an array" },
    { PJ_STRING, "a string" }, { PJ_NUMBER, "a number" },
    { PJ_BOOL, "a boolean" }, { PJ_NULL, "null" },
};

static unsigned
json_type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return PJ_OBJECT;
    case JSON_ARRAY:   return PJ_ARRAY;
    case JSON_STRING:  return PJ_STRING;
    case JSON_INTEGER:
    case JSON_REAL:    return PJ_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE:   return PJ_BOOL;
    default:           return PJ_NULL;
    }
}

/* "a string or a number" into buf. */
static const char *
json_types_text(unsigned types, char *buf, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(json_type_names) / sizeof(*json_type_names);
         i++)
        if ((types & json_type_names[i].type) && n < len)
            n += (size_t) snprintf(buf + n, len - n, "%s%s", n ? " or " : "",
                                   json_type_names[i].name);
    return buf;
}

/* A 2xx JSON answer must have the fields the vendor's answer always has
 * (the provider's shape): else it is not the vendor talking (a captive
 * portal, a proxy's page, a misrouted base_url) and the check is down. */
static int
check_shape(const preset_t *p, httpcheck_call_t *c, long st)
{
    json_t *root = httpcheck_json(c), *v;
    char want[96], got[32];

    if (!json_is_object(root)) {
        preset_verdict(c, "down", "vendor", "HTTP %ld: the answer is %s, "
                       "not a %s object", st,
                       json_types_text(json_type_of(root), got, sizeof(got)),
                       p->prov->name);
        return -1;
    }
    for (const struct preset_shape *s = p->prov->shape; s->path; s++) {
        v = *s->path ? httpcheck_json_get(root, s->path) : root;
        if (v == NULL) {
            preset_verdict(c, "down", "vendor", "HTTP %ld: not a %s answer: "
                           "\"%s\" is missing", st, p->prov->name, s->path);
            return -1;
        }
        if (!(json_type_of(v) & s->types)) {
            preset_verdict(c, "down", "vendor", "HTTP %ld: not a %s answer: "
                           "\"%s\" is %s, not %s", st, p->prov->name, s->path,
                           json_types_text(json_type_of(v), got, sizeof(got)),
                           json_types_text(s->types, want, sizeof(want)));
            return -1;
        }
    }
    return 0;
}

/* The common reading of one answer: what httpcheck_classify_api says,
 * other 4xx as "request", a 2xx that should be JSON and is not (or is
 * over max_body, or lacks the provider's shape) as the vendor failing,
 * and the vendor's message in `error`. */
static void
read_answer(preset_t *p, httpcheck_call_t *c)
{
    long st = httpcheck_status(c);
    const char *msg, *reason = NULL;

    httpcheck_classify_api(c, 0);       /* deferral: ours, below */
    if (httpcheck_result(c) != CURLE_OK)
        return;
    if (st == 429) {
        preset_rate_limited(p, c, httpcheck_retry_after(c));
        return;
    }
    if (st == 401 || st == 403)
        reason = "credentials";
    else if (st >= 500)
        reason = "vendor";
    else if (st >= 400) {
        reason = "request";
        httpcheck_set_hint(c, "down", reason);
    } else if (st >= 200 && st < 300 && p->prov->json) {
        size_t len;
        if (httpcheck_body_over(c)) {
            preset_verdict(c, "down", "vendor", "HTTP %ld: response body "
                           "over max_body (%zu bytes)", st,
                           httpcheck_body_over(c));
            return;
        }
        if (httpcheck_json(c) == NULL) {
            httpcheck_body(c, &len);
            preset_verdict(c, "down", "vendor", "HTTP %ld with %s", st,
                           len ? "a body that is not JSON"
                               : "an empty body");
            return;
        }
        if (p->prov->shape && check_shape(p, c, st) != 0)
            return;
    }
    if (reason && httpcheck_failed(c)) {
        msg = vendor_message(p, c);
        if (msg)
            httpcheck_fail(c, reason, "HTTP %ld: %.*s", st, ERROR_TEXT_MAX,
                           msg);
        else
            httpcheck_fail(c, reason, "HTTP %ld", st);
    }
}

/* --- hooks for the engine --------------------------------------------------- */

static void
attach_vendor_status(preset_t *p, httpcheck_call_t *c)
{
    outpost_record_t *rec = httpcheck_record(c);
    struct sp_verdict v;

    if (rec == NULL || p->status == NULL)
        return;
    sp_cache_verdict(p->status, &v);
    if (!v.have) {
        outpost_record_add_str(rec, OUTPOST_F_VENDOR_STATUS, "unknown");
        return;
    }
    outpost_record_add_str(rec, OUTPOST_F_VENDOR_STATUS, v.indicator);
    outpost_record_add_str(rec, OUTPOST_F_VENDOR_HEALTH, sp_health_name(v.health));
    outpost_record_add_str(rec, OUTPOST_F_VENDOR_DESCRIPTION, v.description);
    outpost_record_add_str(rec, OUTPOST_F_VENDOR_INCIDENTS, v.incidents);
}

/* The first needed credential that is empty, or -1. */
static int
missing_cred(const preset_t *p)
{
    for (int i = 0; i < PRESET_CREDS_MAX && p->plugin->creds[i].name; i++)
        if ((p->prov->needs & PC(i)) && *preset_cred(p, i) == '\0')
            return i;
    return -1;
}

static int
set_auth(preset_t *p, httpcheck_call_t *c)
{
    const struct preset_provider *pv = p->prov;
    char *h = NULL;
    int rc = 0;

    switch (pv->auth) {
    case PA_BEARER:
        return httpcheck_set_bearer(c, preset_cred(p, 0));
    case PA_BOT:
        if (asprintf(&h, "Authorization: Bot %s",
                     preset_cred(p, 0)) < 0)
            return -1;
        break;
    case PA_HEADER:
        if (asprintf(&h, "%s: %s", pv->auth_header,
                     preset_cred(p, 0)) < 0)
            return -1;
        break;
    case PA_BASIC:
        return httpcheck_set_basic_auth(c, preset_cred(p, pv->basic_user),
                                        preset_cred(p, pv->basic_pass));
    default:
        return 0;
    }
    rc = httpcheck_add_header(c, h);
    explicit_bzero(h, strlen(h));
    free(h);
    return rc;
}

static int
on_prepare(httpcheck_call_t *c, void *arg)
{
    preset_t *p = arg;
    const struct preset_provider *pv = p->prov;
    outpost_record_t *rec = httpcheck_record(c);
    char *h;
    int missing;

    p->token_fresh = 0;
    attach_vendor_status(p, c);
    if (rec)
        outpost_record_add_int(rec, "rate_limit_hits", p->rate_limit_hits);
    if ((missing = missing_cred(p)) >= 0) {
        const char *name = p->plugin->creds[missing].name;
        /* nothing is sent: unknown, not down (it is not the vendor) */
        httpcheck_fail(c, "credentials", "%s is empty (set %s, %s_env or "
                       "%s_file)", name, name, name, name);
        httpcheck_set_hint(c, "unknown", "credentials missing");
        return HTTPCHECK_SKIP;
    }
    if (httpcheck_set_url(c, p->url) != 0
        || (pv->method && httpcheck_set_method(c, pv->method) != 0)
        || (pv->body && httpcheck_set_body(c, pv->body,
                                           strlen(pv->body)) != 0)
        || set_auth(p, c) != 0)
        goto nomem;
    for (size_t i = 0; pv->headers && pv->headers[i]; i++)
        if (httpcheck_add_header(c, pv->headers[i]) != 0)
            goto nomem;
    if (pv->version_header && *preset_api_version(p)) {
        if (asprintf(&h, "%s: %s", pv->version_header,
                     preset_api_version(p)) < 0)
            goto nomem;
        if (httpcheck_add_header(c, h) != 0) {
            free(h);
            goto nomem;
        }
        free(h);
    }
    return pv->prepare ? pv->prepare(p, c) : HTTPCHECK_GO;
nomem:
    httpcheck_fail(c, "internal", "out of memory");
    return HTTPCHECK_SKIP;
}

static int
on_classify(httpcheck_call_t *c, void *arg)
{
    preset_t *p = arg;
    int r = p->prov->step ? p->prov->step(p, c) : HTTPCHECK_DONE;

    if (r == HTTPCHECK_CHAIN)
        return HTTPCHECK_CHAIN;
    if (r == PRESET_HANDLED)
        return HTTPCHECK_DONE;
    read_answer(p, c);
    if (p->prov->refine)
        p->prov->refine(p, c);
    return HTTPCHECK_DONE;
}

static const struct httpcheck_hooks preset_hooks = {
    .prepare = on_prepare,
    .classify = on_classify,
    .flags = HTTPCHECK_KEEP_BODY,
};

/* --- the plugin callbacks ----------------------------------------------------- */

static const struct preset_provider *
find_provider(const struct preset_provider *list, const char *name)
{
    for (; list->name; list++)
        if (name && strcmp(list->name, name) == 0)
            return list;
    return NULL;
}

static void
preset_free(preset_t *p)
{
    if (p == NULL)
        return;
    httpcheck_free(p->hc);
    sp_cache_put(p->status);
    free(p->url);
    if (p->token)
        explicit_bzero(p->token, strlen(p->token));
    free(p->token);
    free(p);
}

int
preset_validate(const void *conf, char *err, size_t errlen)
{
    const struct preset_conf *c = conf;

    if (c->base_url
        && http_url_check("base_url", c->base_url, err, errlen) != 0)
        return -1;
    if (c->status_page
        && http_url_check("status_page", c->status_page, err,
                               errlen) != 0)
        return -1;
    return httpcheck_validate(&c->check, err, errlen);
}

/* What provider pv needs of the conf that no credential check covers:
 * each {name} of its path that is a credential it does not list in
 * needs (e.g. whatsapp's phone_number_id) must be set. */
static int
provider_needs(const struct preset_plugin *pl,
               const struct preset_provider *pv, const void *conf,
               char *err, size_t errlen)
{
    const char *s = pv->path, *open, *close, *v;
    int i;

    while ((open = strchr(s, '{')) && (close = strchr(open, '}'))) {
        i = cred_index(pl->creds, open + 1, (size_t) (close - open - 1));
        s = close + 1;
        if (i < 0 || (pv->needs & PC(i)))
            continue;
        v = *(char *const *) ((const char *) conf + pl->creds[i].offset);
        if (v == NULL || *v == '\0') {
            snprintf(err, errlen, "%s: required for provider %s",
                     pl->creds[i].name, pv->name);
            return -1;
        }
    }
    return 0;
}

/* Credentials and ids set for a provider that does not read them: the
 * core's warnings, one a line (see validate_provider in plugin.h). A
 * provider reads entry 0 (what bearer, bot and header auth send), what it
 * needs, its basic-auth pair, the {name}s of its path, and what those fall
 * back on (twilio's auth_token on the secret). */
static int
foreign_options(const struct preset_plugin *pl,
                const struct preset_provider *pv, const void *conf,
                char *err, size_t errlen)
{
    unsigned used = pv->needs | PC(0);
    size_t len = 0;
    char ref[64];

    if (pv->auth == PA_BASIC)
        used |= PC(pv->basic_user) | PC(pv->basic_pass);
    for (int i = 0; pl->creds[i].name; i++) {
        snprintf(ref, sizeof(ref), "{%s}", pl->creds[i].name);
        if (strstr(pv->path, ref))
            used |= PC(i);
    }
    for (int i = 0; pl->creds[i].name; i++)
        if ((used & PC(i)) && pl->creds[i].fallback >= 0)
            used |= PC(pl->creds[i].fallback);
    err[0] = '\0';
    for (int i = 0; pl->creds[i].name; i++) {
        const char *v = *(char *const *) ((const char *) conf
                                          + pl->creds[i].offset);
        if (v != NULL && !(used & PC(i)) && len < errlen)
            len += (size_t) snprintf(err + len, errlen - len, "%s%s: ignored "
                                     "by provider %s", len ? "\n" : "",
                                     pl->creds[i].name, pv->name);
    }
    return len > 0 ? 1 : 0;
}

int
preset_validate_provider(const void *conf, const char *provider,
                         const struct preset_plugin *pl, char *err,
                         size_t errlen)
{
    const struct preset_provider *pv = find_provider(pl->providers,
                                                     provider);

    if (pv == NULL)
        return 0;
    if (provider_needs(pl, pv, conf, err, errlen) != 0)
        return -1;
    return foreign_options(pl, pv, conf, err, errlen);
}

int
preset_init(outpost_instance_t *inst, const struct preset_plugin *pl)
{
    const struct preset_conf *cf = outpost_instance_conf(inst);
    const char *name = outpost_tagset_get(outpost_instance_tags(inst),
                                          "provider");
    const struct preset_provider *pv = find_provider(pl->providers, name);
    char err[256];
    preset_t *p;

    /* The provider, and what it needs, were checked when the config was
     * read (.providers, preset_validate_provider). */
    if (pv == NULL)
        return -1;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return -1;
    p->inst = inst;
    p->plugin = pl;
    p->prov = pv;
    p->conf = cf;
    if ((p->url = preset_url(p, pv->path)) == NULL)
        goto nomem;
    if (cf->status_page && *cf->status_page
        && (p->status = sp_cache_get(cf->status_page)) == NULL)
        goto nomem;
    p->hc = httpcheck_new(inst, &cf->check, &preset_hooks, p, err,
                          sizeof(err));
    if (p->hc == NULL) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "init", "%s", err);
        preset_free(p);
        return -1;
    }
    outpost_instance_set_data(inst, p);
    return 0;
nomem:
    outpost_log(inst, OUTPOST_LOG_ERROR, "init", "out of memory");
    preset_free(p);
    return -1;
}

/* The status page is fresh (or could not be had): the check proper. */
static void
status_then(outpost_run_t *run, void *arg, int aborted)
{
    preset_t *p = arg;

    if (aborted || httpcheck_start(p->hc, run) == OUTPOST_RUN_DONE)
        outpost_run_done(run);
}

int
preset_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    preset_t *p = outpost_instance_data(inst);
    int64_t t;

    p->run = run;
    if (p->status) {
        /* A slow status page must not eat the check's own time. */
        t = outpost_instance_timeout_ms(inst) / 4;
        t = t < 200 ? 200 : t > 3000 ? 3000 : t;
        if (sp_cache_refresh(p->status, run, t, p->conf->check.user_agent,
                             status_then, p) == 1)
            return OUTPOST_RUN_PENDING;
    }
    return httpcheck_start(p->hc, run);
}

void
preset_shutdown(outpost_instance_t *inst)
{
    preset_free(outpost_instance_data(inst));
}
