/*
 * httpcheck.h - the HTTP probe engine shared by the `http` input and the
 * provider presets (payments, ai, messaging, statuspage).
 *
 * A check is one request (or a short chain of requests, e.g. an OAuth token
 * then the call) on the core's shared libcurl loop (outpost/http.h),
 * measured and judged, and reported as one measurement:
 *
 *   success        bool    the engine's verdict, after the hooks
 *   status_code    int     the final response's status (absent without one)
 *   response_ms    float   total time of the check (all steps)
 *   dns_ms connect_ms tls_ms ttfb_ms transfer_ms
 *                  float   phase timings (see "Timings" below)
 *   bytes          int     response body bytes received (all steps)
 *   redirects      int     redirects followed (all steps)
 *   connections    int     new connections opened (0: an idle connection
 *                          was reused, see reuse_connections)
 *   cert_expiry_days float days until the earliest notAfter of the peer's
 *                          chain (https only; last known on reused
 *                          connections)
 *   error          string  only on failure: "<reason>: <detail>", reason
 *                          one of dns, connect, tls, timeout, status,
 *                          condition, transfer, internal, or whatever a
 *                          hook passes to httpcheck_fail()
 *   status_hint, reason, retry_after, ratelimit_*...
 *                          only when a hook sets them
 *
 * Timings: libcurl's cumulative CURLINFO_*_TIME_T cut points, as
 * differences (blackbox_exporter's phases): dns = name lookup; connect =
 * TCP connect; tls = handshake (0 for http); ttfb = connection ready to
 * first response byte (sending, server processing); transfer = first byte
 * to the end. A failed request charges the time since its last finished
 * phase to the phase that did not finish.
 * They add up to response_ms; with redirects or a chain they are summed
 * over every request, like blackbox_exporter does over redirects.
 *
 * Using it, in a plugin:
 *
 *     struct my_conf {
 *         struct httpcheck_conf check;    // anywhere in the conf
 *         char *api_key;
 *     };
 *     static const outpost_option_t my_options[] = {
 *         HTTPCHECK_OPTIONS(struct my_conf, check)    // or the groups;
 *                                                     // no comma: each
 *                                                     // row has its own
 *         { .name = "api_key", ... },
 *         OUTPOST_OPTION_END
 *     };
 *     init:     hc = httpcheck_new(inst, &conf->check, &hooks, arg,
 *                                  err, sizeof err);
 *               outpost_instance_set_data(inst, hc);
 *     collect:  return httpcheck_start(hc, run);
 *     shutdown: httpcheck_free(hc);
 *
 * Memory: an instance costs the engine about a hundred bytes. A curl easy
 * handle (several KB plus a 16 KB buffer once used) and the response
 * buffers belong to a check in flight, not to an instance: they come from
 * a small pool shared by every instance of the module and go back to it
 * when the check ends, so fifty thousand configured checks need only as
 * many handles as are in flight at once.
 *
 * Threads: httpcheck_start() and every hook run on the core's event-loop
 * thread (plugins that use the engine set OUTPOST_PLUGIN_ASYNC). Hooks
 * must not block: no synchronous I/O, no outpost_http_perform().
 *
 * Build: a plugin links the engine's static library (plugins/CMakeLists.txt):
 *     outpost_plugin(payments SOURCES payments.c LIBS outpost_httpcheck)
 */
#ifndef OUTPOST_HTTPCHECK_H
#define OUTPOST_HTTPCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <jansson.h>
#include <outpost/plugin.h>
#include "http_url.h"

/* --- configuration ------------------------------------------------------ */

/* Filled by the core from the option rows below. A plugin that sets a
 * field itself (a preset computing url from base_url, say) owns what it
 * puts in a field that is not in its option table, and must keep it alive
 * until httpcheck_free(). Unset strings are NULL, unset lists empty. */
struct httpcheck_conf {
    /* the request */
    char              *url;
    char              *method;            /* GET by default */
    outpost_strlist_t  headers;           /* "Name: value" */
    char              *body;
    /* auth */
    char              *username;          /* basic auth, with password */
    char              *password;          /* secret */
    char              *bearer;            /* secret: Authorization: Bearer */
    /* transport */
    int                follow_redirects;
    int64_t            max_redirects;     /* 0: 10 */
    char              *ca_file;
    int                insecure;
    char              *proxy;
    char              *ip_version;        /* any | ipv4 | ipv6 */
    char              *user_agent;
    int                reuse_connections;
    int64_t            max_body;          /* bytes of the body kept;
                                             0: 1 MiB */
    /* conditions: all optional, all must hold */
    outpost_intlist_t  expect_status;     /* empty: any 2xx */
    char              *body_contains;
    char              *body_regex;        /* PCRE2, POSIX ERE syntax */
    int64_t            max_match_bytes;   /* body_regex reads this prefix */
    char              *json_path;         /* e.g. data[0].id, status.indicator */
    char              *json_equals;       /* unset: json_path must exist */
    outpost_strlist_t  expect_header;     /* "Name" present, "Name: value" equal */
    int64_t            max_response;      /* ms; 0: no limit */
    int64_t            min_cert_days;     /* 0: no limit */
};

/* Option rows for a conf that embeds `struct httpcheck_conf m` in struct
 * T. Each macro expands to rows followed by a comma, so they concatenate
 * inside an option table (end it with OUTPOST_OPTION_END). Presets pick
 * the groups they expose: usually TRANSPORT and CONDITIONS, and set url,
 * method and auth from their hooks. */
#define HTTPCHECK_OFF(T, m, f)  offsetof(T, m) + offsetof(struct httpcheck_conf, f)

#define HTTPCHECK_OPTION_URL(T, m)                                          \
    { .name = "url", .type = OUTPOST_OPT_STRING,                            \
      .offset = HTTPCHECK_OFF(T, m, url), .flags = OUTPOST_OPT_REQUIRED,    \
      .help = "the URL to request (http:// or https://)" },

#define HTTPCHECK_OPTIONS_REQUEST(T, m)                                     \
    { .name = "method", .type = OUTPOST_OPT_ENUM,                           \
      .offset = HTTPCHECK_OFF(T, m, method), .def = "GET",                  \
      .choices = "GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS",                  \
      .help = "HTTP method" },                                              \
    { .name = "headers", .type = OUTPOST_OPT_STRLIST,                       \
      .offset = HTTPCHECK_OFF(T, m, headers),                               \
      .flags = OUTPOST_OPT_HEADER,                                          \
      .help = "extra request headers, \"Name: value\"" },                   \
    { .name = "body", .type = OUTPOST_OPT_STRING,                           \
      .offset = HTTPCHECK_OFF(T, m, body), .help = "request body" },

#define HTTPCHECK_OPTIONS_AUTH(T, m)                                        \
    { .name = "username", .type = OUTPOST_OPT_STRING,                       \
      .offset = HTTPCHECK_OFF(T, m, username), .flags = OUTPOST_OPT_HEADER, \
      .help = "basic auth user (with password)" },                          \
    { .name = "password", .type = OUTPOST_OPT_SECRET,                       \
      .offset = HTTPCHECK_OFF(T, m, password),                              \
      .help = "basic auth password" },                                      \
    { .name = "bearer", .type = OUTPOST_OPT_SECRET,                         \
      .offset = HTTPCHECK_OFF(T, m, bearer), .flags = OUTPOST_OPT_HEADER,   \
      .help = "token sent as \"Authorization: Bearer <token>\"" },

#define HTTPCHECK_OPTIONS_TRANSPORT(T, m)                                   \
    { .name = "follow_redirects", .type = OUTPOST_OPT_BOOL,                 \
      .offset = HTTPCHECK_OFF(T, m, follow_redirects), .def = "false",      \
      .help = "follow 3xx redirects" },                                     \
    { .name = "max_redirects", .type = OUTPOST_OPT_INT,                     \
      .offset = HTTPCHECK_OFF(T, m, max_redirects), .def = "10",            \
      .min = 1, .max = 100, .help = "redirects followed at most" },         \
    { .name = "ca_file", .type = OUTPOST_OPT_STRING,                        \
      .offset = HTTPCHECK_OFF(T, m, ca_file), .flags = OUTPOST_OPT_PATH,    \
      .help = "PEM file of CA certificates to trust (default: system's)" }, \
    { .name = "insecure", .type = OUTPOST_OPT_BOOL,                         \
      .offset = HTTPCHECK_OFF(T, m, insecure), .def = "false",              \
      .help = "do not verify the server's certificate or name" },          \
    { .name = "proxy", .type = OUTPOST_OPT_STRING,                          \
      .offset = HTTPCHECK_OFF(T, m, proxy),                                 \
      .help = "proxy URL, e.g. http://proxy:3128 (default: none)" },        \
    { .name = "ip_version", .type = OUTPOST_OPT_ENUM,                       \
      .offset = HTTPCHECK_OFF(T, m, ip_version), .def = "any",              \
      .choices = "any|ipv4|ipv6", .help = "address family to connect with" },\
    { .name = "user_agent", .type = OUTPOST_OPT_STRING,                     \
      .offset = HTTPCHECK_OFF(T, m, user_agent), .def = "outpost/0.1",      \
      .flags = OUTPOST_OPT_HEADER,                                          \
      .help = "User-Agent header" },                                        \
    { .name = "reuse_connections", .type = OUTPOST_OPT_BOOL,                \
      .offset = HTTPCHECK_OFF(T, m, reuse_connections), .def = "false",     \
      .help = "keep connections alive between checks (then connect and "    \
              "TLS times are mostly 0)" },                                  \
    { .name = "max_body", .type = OUTPOST_OPT_INT,                          \
      .offset = HTTPCHECK_OFF(T, m, max_body), .def = "1048576",            \
      .min = 1, .max = 67108864,                                            \
      .help = "bytes of the response body kept for conditions" },

#define HTTPCHECK_OPTIONS_CONDITIONS(T, m)                                  \
    { .name = "expect_status", .type = OUTPOST_OPT_INTLIST,                 \
      .offset = HTTPCHECK_OFF(T, m, expect_status), .min = 100, .max = 599, \
      .help = "status codes that count as success (default: any 2xx)" },   \
    { .name = "body_contains", .type = OUTPOST_OPT_STRING,                  \
      .offset = HTTPCHECK_OFF(T, m, body_contains),                         \
      .help = "text the body must contain" },                               \
    { .name = "body_regex", .type = OUTPOST_OPT_STRING,                     \
      .offset = HTTPCHECK_OFF(T, m, body_regex), .flags = OUTPOST_OPT_REGEX, \
      .help = "regular expression the body must match (PCRE2; POSIX "     \
              "extended patterns work as before)" },                        \
    { .name = "max_match_bytes", .type = OUTPOST_OPT_INT,                   \
      .offset = HTTPCHECK_OFF(T, m, max_match_bytes), .def = "65536",       \
      .min = 1, .max = 67108864,                                            \
      .help = "bytes at the start of the body that body_regex reads" },     \
    { .name = "json_path", .type = OUTPOST_OPT_STRING,                      \
      .offset = HTTPCHECK_OFF(T, m, json_path),                             \
      .help = "a value in the JSON body, e.g. status.indicator or "         \
              "data[0].id; must exist (and equal json_equals if set)" },    \
    { .name = "json_equals", .type = OUTPOST_OPT_STRING,                    \
      .offset = HTTPCHECK_OFF(T, m, json_equals),                           \
      .help = "what json_path must equal (strings as is, numbers, "         \
              "true, false, null)" },                                       \
    { .name = "expect_header", .type = OUTPOST_OPT_STRLIST,                 \
      .offset = HTTPCHECK_OFF(T, m, expect_header),                         \
      .flags = OUTPOST_OPT_HEADER,                                          \
      .help = "response headers: \"Name\" must be present, "                \
              "\"Name: value\" must equal" },                               \
    { .name = "max_response", .type = OUTPOST_OPT_DURATION,                 \
      .offset = HTTPCHECK_OFF(T, m, max_response), .max = 86400000,        \
      .help = "fail when the check takes longer (e.g. \"800ms\")" },        \
    { .name = "min_cert_days", .type = OUTPOST_OPT_INT,                     \
      .offset = HTTPCHECK_OFF(T, m, min_cert_days), .min = 0, .max = 36500, \
      .help = "fail when the certificate expires in fewer days (https)" },

/* Everything the `http` input offers. */
#define HTTPCHECK_OPTIONS(T, m)                                             \
    HTTPCHECK_OPTION_URL(T, m)                                              \
    HTTPCHECK_OPTIONS_REQUEST(T, m)                                         \
    HTTPCHECK_OPTIONS_AUTH(T, m)                                            \
    HTTPCHECK_OPTIONS_TRANSPORT(T, m)                                       \
    HTTPCHECK_OPTIONS_CONDITIONS(T, m)

/* --- the engine --------------------------------------------------------- */

typedef struct httpcheck      httpcheck_t;       /* one instance's engine */
typedef struct httpcheck_call httpcheck_call_t;  /* one check in flight */

/* What prepare returns. */
#define HTTPCHECK_GO     0   /* send the request */
#define HTTPCHECK_SKIP   1   /* send nothing; emit what the hook set */

/* What classify returns. */
#define HTTPCHECK_DONE   0   /* the check is over: emit */
#define HTTPCHECK_CHAIN  2   /* send another request (the setters below
                                describe it), then classify again */

#define HTTPCHECK_MAX_STEPS 4  /* a chain longer than this fails */

/* Hooks, all optional; arg is the one given to httpcheck_new(). */
struct httpcheck_hooks {
    /* Before the first request of a check. The request is already the
     * conf's (url, method, headers, body, auth); change it with the
     * setters below (add an API key header, a form body, basic auth from
     * the preset's secrets; start a token request instead of the call).
     * Return HTTPCHECK_GO, or HTTPCHECK_SKIP to emit without a request
     * (e.g. httpcheck_set_hint(c, "unknown", "credentials missing")). */
    int  (*prepare)(httpcheck_call_t *c, void *arg);

    /* After each request, once the engine has judged it: the transport
     * result, expect_status and the conditions (see httpcheck_failed()).
     * Look at the status, headers and body; change the verdict with
     * httpcheck_fail() / httpcheck_pass(); add fields to
     * httpcheck_record(); set status_hint / reason; back off with
     * httpcheck_defer(). Return HTTPCHECK_DONE, or set up the next request
     * with the setters and return HTTPCHECK_CHAIN. Not called for a
     * check the core cancelled. */
    int  (*classify)(httpcheck_call_t *c, void *arg);

    /* HTTPCHECK_KEEP_BODY: keep the body for classify even when no body
     * condition is configured (a hook that reads JSON needs it). */
    unsigned flags;
};

#define HTTPCHECK_KEEP_BODY  0x1u

/* Builds an instance's engine on conf (borrowed: it must outlive the
 * engine) and checks it: regex syntax, json_path syntax, header format,
 * method. hooks may be NULL; it is borrowed too (make it static const).
 * NULL with a message in err when conf is invalid or memory is short. */
httpcheck_t *httpcheck_new(outpost_instance_t *inst,
                           const struct httpcheck_conf *conf,
                           const struct httpcheck_hooks *hooks, void *arg,
                           char *err, size_t errlen);

/* For a plugin's validate hook, so `outpostd -t` says it: what
 * httpcheck_new() would refuse (it reads ca_file), and conf->url, when
 * set, as http_url_check() (http_url.h) sees it. 0, or -1 with why in err. */
int httpcheck_validate(const struct httpcheck_conf *conf, char *err,
                       size_t errlen);

/* Waits for nothing: checks in flight belong to runs, and the core cancels
 * runs before shutdown. */
void httpcheck_free(httpcheck_t *hc);

/* Starts one check as part of run; collect returns its value as is. The
 * engine ends the run itself (OUTPOST_RUN_PENDING), whether the check
 * finishes later or at once (a prepare hook skipped; the request could not
 * start: success=false, "internal: ..."); OUTPOST_RUN_DONE only when it
 * had no memory to start with. */
int  httpcheck_start(httpcheck_t *hc, outpost_run_t *run);

/* --- in hooks: the check ------------------------------------------------ */

outpost_instance_t *httpcheck_instance(const httpcheck_call_t *c);
const struct httpcheck_conf *httpcheck_conf(const httpcheck_call_t *c);
/* 0 for the first request of the check, 1 for the one chained after... */
int  httpcheck_step(const httpcheck_call_t *c);

/* --- in prepare, or in classify before HTTPCHECK_CHAIN: the request ----- */
/* Each request starts from the conf; these change the next request only.
 * Strings are copied. 0, or -1 when memory is short. */
int  httpcheck_set_url(httpcheck_call_t *c, const char *url);
int  httpcheck_set_method(httpcheck_call_t *c, const char *method);
/* The body (len bytes; sent as is, set Content-Type with a header). */
int  httpcheck_set_body(httpcheck_call_t *c, const char *body, size_t len);
/* Adds "Name: value" (or replaces a conf header of the same name). */
int  httpcheck_add_header(httpcheck_call_t *c, const char *header);
int  httpcheck_set_basic_auth(httpcheck_call_t *c, const char *user,
                              const char *password);
int  httpcheck_set_bearer(httpcheck_call_t *c, const char *token);
/* The pooled easy handle of this check, for anything else: options set
 * on it last for the next request only. Do not set CURLOPT_PRIVATE,
 * WRITEFUNCTION/WRITEDATA, HEADERFUNCTION/HEADERDATA or ERRORBUFFER. */
CURL *httpcheck_easy(httpcheck_call_t *c);

/* --- in classify: the answer -------------------------------------------- */

/* The transport result: CURLE_OK when an answer came. */
CURLcode    httpcheck_result(const httpcheck_call_t *c);
long        httpcheck_status(const httpcheck_call_t *c);   /* 0: none */
/* A header of the final response (after redirects), by name, any case;
 * the last one when repeated. NULL when absent. */
const char *httpcheck_header(const httpcheck_call_t *c, const char *name);
/* Walks the final response's headers: i from 0 until it returns 0. */
int         httpcheck_header_at(const httpcheck_call_t *c, size_t i,
                                const char **name, const char **value);
/* The body kept (up to max_body bytes, NUL-terminated; "" when none or
 * when neither a condition nor HTTPCHECK_KEEP_BODY asked for it). */
const char *httpcheck_body(const httpcheck_call_t *c, size_t *len);
/* max_body when the body went past it (what was kept is cut short), else
 * 0. */
size_t      httpcheck_body_over(const httpcheck_call_t *c);
/* The body parsed as JSON, once, owned by the call (NULL: not JSON, or
 * over max_body). */
json_t     *httpcheck_json(httpcheck_call_t *c);
/* Looks up a small path ("data[0].id", "status.indicator", "[2]") in
 * root. NULL when absent or the path is malformed. Borrowed from root. */
json_t     *httpcheck_json_get(json_t *root, const char *path);
/* Milliseconds since the check started (all steps so far). */
double      httpcheck_elapsed_ms(const httpcheck_call_t *c);

/* --- in classify: the verdict ------------------------------------------- */

/* Non-zero when the check has failed so far (transport, status or a
 * condition; or a hook's httpcheck_fail()). */
int         httpcheck_failed(const httpcheck_call_t *c);
/* The error text so far ("<reason>: <detail>"), or NULL. */
const char *httpcheck_error(const httpcheck_call_t *c);
/* Fails the check: error = "<reason>: <detail>". Replaces an earlier
 * error, so the most specific explanation wins. */
void        httpcheck_fail(httpcheck_call_t *c, const char *reason,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Clears the failure (e.g. a preset for which 404 means "key is fine"). */
void        httpcheck_pass(httpcheck_call_t *c);
/* Sets the fields status_hint ("healthy", "degraded", "down", "unknown")
 * and reason ("credentials", "rate_limited", "credentials missing"...)
 * that the health filter reads; either may be NULL (left unset). */
void        httpcheck_set_hint(httpcheck_call_t *c, const char *status_hint,
                               const char *reason);
/* The measurement being built, to add fields with outpost_record_add_*()
 * (the engine's own fields are added when the check ends and win on a
 * clash). NULL only when memory is short. */
outpost_record_t *httpcheck_record(httpcheck_call_t *c);
/* Asks the scheduler not to run this instance for seconds from now
 * (outpost_input_defer), e.g. to honour Retry-After. */
void        httpcheck_defer(httpcheck_call_t *c, double seconds);

/* --- helpers for API presets -------------------------------------------- */

/* Seconds from a Retry-After header: delta-seconds (digits only) or an
 * HTTP-date in any of its three forms (0 when past); at most 1e9; -1 when
 * absent or anything else ("-5", "1e3", "inf"). Callers cap the deferral
 * they derive from it (presets: max_retry_after). */
double      httpcheck_retry_after(const httpcheck_call_t *c);
/* Adds a field for every rate-limit header of the answer whose value is a
 * number: the header's name, lowercased, without a leading "x-" or
 * "<vendor>-" before "ratelimit", '-' turned to '_':
 *   x-ratelimit-remaining-requests        -> ratelimit_remaining_requests
 *   anthropic-ratelimit-tokens-remaining  -> ratelimit_tokens_remaining
 *   ratelimit-remaining                   -> ratelimit_remaining
 * Returns how many fields it added. */
int         httpcheck_add_ratelimit_fields(httpcheck_call_t *c);
/* The usual reading of a vendor API's answer, for a classify hook to call
 * first and then refine:
 *   401, 403   down,     reason "credentials"
 *   429        degraded, reason "rate_limited", field retry_after (s)
 *              when the answer has Retry-After, and httpcheck_defer() by
 *              it when defer is set; success is set true (the vendor
 *              answered, we are throttled: the health filter reads a
 *              failed check as down whatever the hint)
 *   5xx, timeout  down,   reason "vendor"
 *   dns, connect, tls (and other transport failures)
 *              down,     reason "network"
 * plus httpcheck_add_ratelimit_fields(). Otherwise success stays as the
 * engine judged it. */
void        httpcheck_classify_api(httpcheck_call_t *c, int defer);

#endif /* OUTPOST_HTTPCHECK_H */
