/*
 * httpcheck_conditions.c - the verdict on one answer: the transport
 * result, then expect_status, then each condition in a fixed order. The
 * first failure is the one reported, as "<reason>: <detail>".
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <outpost/pattern.h>
#include "httpcheck_int.h"

/* --- compiling ---------------------------------------------------------- */

/* Bounded like every pattern from the config (outpost/pattern.h): a
 * path is walked once per check, step by step. */
#define JSON_PATH_MAX   256
#define JSON_PATH_STEPS 32

int
hc_json_path_valid(const char *p)
{
    int steps = 0;

    if (p == NULL || *p == '\0' || strlen(p) > JSON_PATH_MAX)
        return 0;
    if (*p == '$')
        p++;
    while (*p) {
        if (++steps > JSON_PATH_STEPS)
            return 0;
        if (*p == '.') {
            p++;
            if (*p == '\0' || *p == '.' || *p == '[')
                return 0;
            p += strcspn(p, ".[");
        } else if (*p == '[') {
            char *end;
            errno = 0;
            strtol(p + 1, &end, 10);
            if (end == p + 1 || *end != ']' || errno)
                return 0;
            p = end + 1;
        } else
            p += strcspn(p, ".[");
    }
    return 1;
}

int
hc_conditions_compile(httpcheck_t *hc, char *err, size_t errlen)
{
    const struct httpcheck_conf *cf = hc->conf;
    char msg[256];

    if (cf->json_path && !hc_json_path_valid(cf->json_path)) {
        snprintf(err, errlen, "json_path: cannot read \"%.80s\" (write e.g. "
                 "status.indicator or data[0].id, at most %d steps and %d "
                 "bytes)", cf->json_path, JSON_PATH_STEPS, JSON_PATH_MAX);
        return -1;
    }
    if (cf->json_equals && !cf->json_path) {
        snprintf(err, errlen, "json_equals needs json_path");
        return -1;
    }
    for (size_t i = 0; i < cf->expect_header.n; i++) {
        const char *h = cf->expect_header.v[i];
        if (*h == '\0' || *h == ':' || isspace((unsigned char) *h)) {
            snprintf(err, errlen, "expect_header: \"%s\" is not \"Name\" "
                     "or \"Name: value\"", h);
            return -1;
        }
    }
    if (cf->body_regex == NULL)
        return 0;
    if ((hc->regex = hc_regex_new(cf->body_regex, msg, sizeof(msg)))
        == NULL) {
        snprintf(err, errlen, "body_regex: %s", msg);
        return -1;
    }
    return 0;
}

void
hc_conditions_free(httpcheck_t *hc)
{
    hc_regex_free(hc->regex);
    hc->regex = NULL;
}

/* --- body_regex --------------------------------------------------------
 *
 * Matched with PCRE2 (JIT when the platform has it) on the loop thread, so
 * every match is given a budget and gives up, rather than stalls, past it.
 * PCRE2's match_limit alone is not one: the JIT does not count what
 * character repeats scan and give back, and the interpreter counts afresh
 * at every start position, so `[a-z]{0,255}[a-z]{0,255}[a-z]{0,255}x`
 * costs over 20 s on 64 KiB of 'a' within it. The pattern is therefore compiled with
 * PCRE2_AUTO_CALLOUT, and the callout (count_item) charges the items the
 * matcher enters and the text it moves over, for the whole call, all start
 * positions together: past HC_REGEX_BUDGET it aborts with
 * PCRE2_ERROR_MATCHLIMIT. match_limit is set to the same figure, depth,
 * heap and the JIT stack are capped too (DEPTHLIMIT, HEAPLIMIT,
 * NOMEMORY): each of them fails the match fast instead of stalling.
 *
 * Flags give POSIX's meaning to patterns written for regcomp: '.' matches
 * a newline (DOTALL), '$' only the end (DOLLAR_ENDONLY). */
#define HC_REGEX_BUDGET     4000000     /* items + text moved, per match */
#define HC_REGEX_DEPTH      10000
#define HC_REGEX_HEAP_KIB   8192
#define HC_REGEX_JIT_STACK  (512 * 1024)

struct hc_regex {
    pcre2_code *code;
};

struct hc_regex *
hc_regex_new(const char *re, char *err, size_t errlen)
{
    struct hc_regex *r;
    PCRE2_SIZE off;
    int rc;

    if (outpost_regex_check(re, err, errlen) != 0)
        return NULL;
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->code = pcre2_compile((PCRE2_SPTR) re, PCRE2_ZERO_TERMINATED,
                            PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY
                            | PCRE2_AUTO_CALLOUT,
                            &rc, &off, NULL);
    if (r->code == NULL) {
        PCRE2_UCHAR why[160];

        pcre2_get_error_message(rc, why, sizeof(why));
        snprintf(err, errlen, "%s at offset %zu", (char *) why, (size_t) off);
        free(r);
        return NULL;
    }
    (void) pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE); /* else interpreted */
    return r;
}

/* The budget's account: a callout runs before each item the matcher
 * enters; it costs 1, plus the distance moved in the text since the last
 * one, which is what a character repeat scanned or gave back between them
 * (`a+x` scans to the end of the text at every start position: quadratic,
 * with few callouts). */
struct cost {
    size_t spent;
    size_t last;          /* position at the previous callout */
};

static int
count_item(pcre2_callout_block *b, void *arg)
{
    struct cost *c = arg;
    size_t pos = b->current_position;

    c->spent += 1 + (pos > c->last ? pos - c->last : c->last - pos);
    c->last = pos;
    return c->spent > HC_REGEX_BUDGET ? PCRE2_ERROR_MATCHLIMIT : 0;
}

int
hc_regex_match(const struct hc_regex *r, const char *s, size_t len)
{
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    pcre2_jit_stack *js = pcre2_jit_stack_create(32 * 1024,
                                                 HC_REGEX_JIT_STACK, NULL);
    struct cost n = { 0, 0 };
    int rc = PCRE2_ERROR_NOMEMORY;

    if (mc && md && js) {
        pcre2_set_match_limit(mc, HC_REGEX_BUDGET);
        pcre2_set_depth_limit(mc, HC_REGEX_DEPTH);
        pcre2_set_heap_limit(mc, HC_REGEX_HEAP_KIB);
        pcre2_set_callout(mc, count_item, &n);
        pcre2_jit_stack_assign(mc, NULL, js);
        rc = pcre2_match(r->code, (PCRE2_SPTR) s, len, 0, 0, md, mc);
    }
    pcre2_jit_stack_free(js);
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : rc;
}

/* Why a match was given up, for the record. */
const char *
hc_regex_why(int rc)
{
    switch (rc) {
    case PCRE2_ERROR_MATCHLIMIT: return "match limit";
    case PCRE2_ERROR_DEPTHLIMIT: return "depth limit";
    case PCRE2_ERROR_HEAPLIMIT:  return "heap limit";
    case PCRE2_ERROR_NOMEMORY:   return "stack limit";
    default:                     return "match error";
    }
}

void
hc_regex_free(struct hc_regex *r)
{
    if (r == NULL)
        return;
    pcre2_code_free(r->code);
    free(r);
}

/* --- json paths --------------------------------------------------------- */

json_t *
httpcheck_json_get(json_t *root, const char *p)
{
    json_t *cur = root;
    char key[256];

    if (root == NULL || !hc_json_path_valid(p))
        return NULL;
    if (*p == '$')
        p++;
    while (*p && cur) {
        if (*p == '[') {
            long i = strtol(p + 1, (char **) &p, 10);
            p++;                                    /* ']' */
            cur = json_is_array(cur) && i >= 0 ? json_array_get(cur, (size_t) i)
                                               : NULL;
            continue;
        }
        if (*p == '.')
            p++;
        size_t n = strcspn(p, ".[");
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        p += n;
        cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
    }
    return cur;
}

/* A JSON value as the text json_equals is compared with: strings as they
 * are, everything else as compact JSON. */
static char *
json_text(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int
json_matches(const json_t *v, const char *want)
{
    char *got, *end;
    double d;
    int eq;

    if (json_is_number(v)) {
        errno = 0;
        d = strtod(want, &end);
        if (end != want && *end == '\0' && errno == 0)
            return d == json_number_value(v);
    }
    if ((got = json_text(v)) == NULL)
        return 0;
    eq = strcmp(got, want) == 0;
    free(got);
    return eq;
}

/* --- judging ------------------------------------------------------------ */

int
hc_tls_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        return 1;
    default:
        return 0;
    }
}

static const char *
transport_reason(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "dns";
    case CURLE_COULDNT_CONNECT:
        return "connect";
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    default:
        return hc_tls_error(rc) ? "tls" : "transfer";
    }
}

static int
status_ok(const struct httpcheck_conf *cf, long status)
{
    if (cf->expect_status.n == 0)
        return status >= 200 && status < 300;
    for (size_t i = 0; i < cf->expect_status.n; i++)
        if (cf->expect_status.v[i] == status)
            return 1;
    return 0;
}

static void
fail_status(httpcheck_call_t *c)
{
    const struct httpcheck_conf *cf = c->hc->conf;
    char list[128] = "";
    size_t off = 0;

    if (cf->expect_status.n == 0) {
        httpcheck_fail(c, "status", "got %ld, expected 2xx", c->status);
        return;
    }
    for (size_t i = 0; i < cf->expect_status.n && off < sizeof(list); i++)
        off += (size_t) snprintf(list + off, sizeof(list) - off, "%s%lld",
                                 i ? ", " : "",
                                 (long long) cf->expect_status.v[i]);
    httpcheck_fail(c, "status", "got %ld, expected %s%s", c->status,
                   cf->expect_status.n > 1 ? "one of " : "", list);
}

/* "Name" or "Name: value". 0 when the answer has it. */
static int
check_header(httpcheck_call_t *c, const char *want)
{
    const char *colon = strchr(want, ':'), *got, *v;
    char name[128];
    size_t n = colon ? (size_t) (colon - want) : strlen(want);

    while (n > 0 && isspace((unsigned char) want[n - 1]))
        n--;
    if (n >= sizeof(name))
        n = sizeof(name) - 1;
    memcpy(name, want, n);
    name[n] = '\0';
    got = httpcheck_header(c, name);
    if (got == NULL) {
        httpcheck_fail(c, "condition", "header %s missing", name);
        return -1;
    }
    if (colon == NULL)
        return 0;
    for (v = colon + 1; isspace((unsigned char) *v); v++)
        ;
    if (strcmp(got, v) != 0) {
        httpcheck_fail(c, "condition", "header %s is \"%s\", expected \"%s\"",
                       name, got, v);
        return -1;
    }
    return 0;
}

static int
check_json(httpcheck_call_t *c)
{
    const struct httpcheck_conf *cf = c->hc->conf;
    json_t *root = httpcheck_json(c), *v;
    char *got;

    if (root == NULL) {
        if (httpcheck_body_over(c))
            httpcheck_fail(c, "condition", "json_path %s: response body "
                           "over max_body (%zu bytes)", cf->json_path,
                           httpcheck_body_over(c));
        else
            httpcheck_fail(c, "condition", "json_path %s: body is not JSON",
                           cf->json_path);
        return -1;
    }
    if ((v = httpcheck_json_get(root, cf->json_path)) == NULL) {
        httpcheck_fail(c, "condition", "json_path %s not found",
                       cf->json_path);
        return -1;
    }
    if (cf->json_equals == NULL || json_matches(v, cf->json_equals))
        return 0;
    got = json_text(v);
    httpcheck_fail(c, "condition", "json_path %s is %.80s, expected %s",
                   cf->json_path, got ? got : "?", cf->json_equals);
    free(got);
    return -1;
}

/* body_regex reads at most max_match_bytes of the body: the budget above
 * bounds backtracking, the prefix bounds the start positions, so the
 * server does not choose the cost. Only the prefix is read, rather than
 * failing any long body, because what a health page says is near its top;
 * when no match is found and the body was longer, the reason says so. A
 * match given up is the operator's pattern being too costly, not the
 * vendor failing: the check fails with reason "condition" and says so. */
static int
check_regex(httpcheck_call_t *c, const char *body, size_t len)
{
    const struct httpcheck_conf *cf = c->hc->conf;
    size_t cap = cf->max_match_bytes > 0 ? (size_t) cf->max_match_bytes
                                         : 65536;
    int rc = hc_regex_match(c->hc->regex, body, len < cap ? len : cap);

    if (rc == 1)
        return 0;
    if (rc < 0)
        httpcheck_fail(c, "condition", "body_regex \"%s\" is too costly to "
                       "match (%s)", cf->body_regex, hc_regex_why(rc));
    else if (len > cap)
        httpcheck_fail(c, "condition", "body_regex \"%s\" did not match "
                       "the first %zu bytes (max_match_bytes) of %zu",
                       cf->body_regex, cap, len);
    else
        httpcheck_fail(c, "condition", "body_regex \"%s\" did not match",
                       cf->body_regex);
    return -1;
}

static int
check_body(httpcheck_call_t *c)
{
    const struct httpcheck_conf *cf = c->hc->conf;
    size_t len;
    const char *body = httpcheck_body(c, &len);

    if (cf->body_contains && strstr(body, cf->body_contains) == NULL) {
        httpcheck_fail(c, "condition", "body_contains \"%s\" not found",
                       cf->body_contains);
        return -1;
    }
    if (c->hc->regex && check_regex(c, body, len) != 0)
        return -1;
    if (cf->json_path && check_json(c) != 0)
        return -1;
    return 0;
}

static int
check_timing(httpcheck_call_t *c)
{
    const struct httpcheck_conf *cf = c->hc->conf;
    double ms = (double) c->times.total / 1000.0;

    if (cf->max_response > 0 && ms > (double) cf->max_response) {
        httpcheck_fail(c, "condition", "max_response %lld ms: took %.0f ms",
                       (long long) cf->max_response, ms);
        return -1;
    }
    if (cf->min_cert_days <= 0)
        return 0;
    if (isnan(c->cert_days)) {
        httpcheck_fail(c, "condition", "min_cert_days %lld: no certificate "
                       "(not https?)", (long long) cf->min_cert_days);
        return -1;
    }
    if (c->cert_days < (double) cf->min_cert_days) {
        httpcheck_fail(c, "condition", "min_cert_days %lld: certificate "
                       "expires in %.1f days", (long long) cf->min_cert_days,
                       c->cert_days);
        return -1;
    }
    return 0;
}

void
hc_judge(httpcheck_call_t *c)
{
    const struct httpcheck_conf *cf = c->hc->conf;

    if (c->result != CURLE_OK) {
        httpcheck_fail(c, transport_reason(c->result), "%s",
                       c->errbuf[0] ? c->errbuf
                                    : curl_easy_strerror(c->result));
        return;
    }
    if (!status_ok(cf, c->status)) {
        fail_status(c);
        return;
    }
    if (check_body(c) != 0)
        return;
    for (size_t i = 0; i < cf->expect_header.n; i++)
        if (check_header(c, cf->expect_header.v[i]) != 0)
            return;
    check_timing(c);
}
