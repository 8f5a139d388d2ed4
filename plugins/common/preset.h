/*
 * preset.h - provider presets (`payments`, `ai`, `messaging`) on the
 * httpcheck engine: each provider is a row of data (default base URL,
 * path, method, auth scheme, secrets it needs, headers and body, where the
 * vendor's error message is) plus, where the vendor needs more, small
 * hooks. This file is the machinery every preset plugin shares: the conf
 * and its option rows, building the request, the common reading of the
 * answer, Retry-After, rate_limit_hits, the status_page verdict.
 *
 * A preset plugin is its conf (struct preset_conf first, then its own
 * credentials), its credential table, its provider table and three
 * one-line callbacks:
 *
 *     static const struct preset_cred_def creds[] = {
 *         { "secret", offsetof(struct x_conf, secret), -1 }, ..., { 0 } };
 *     static const struct preset_provider providers[] = { {...}, { 0 } };
 *     static const struct preset_plugin x = { providers, creds };
 *     static int x_init(outpost_instance_t *inst)
 *     { return preset_init(inst, &x); }
 *     ... .conf_size = sizeof(struct x_conf), .init = x_init,
 *         .collect = preset_collect, .shutdown = preset_shutdown,
 *         .flags = OUTPOST_PLUGIN_ASYNC ...
 *
 * So a plugin's credentials are declared by that plugin alone: adding one
 * to messaging touches neither payments nor ai nor this engine.
 *
 * Every check reports, besides the engine's fields (success, status_code,
 * response_ms, phases, error):
 *   status_hint    down | degraded | unknown (unset when nothing to say:
 *                  the health filter then judges by latency)
 *   reason         credentials         401/403 or the vendor's own way of
 *                                      saying the key is bad (Slack's 200
 *                                      {"ok":false}, Gemini's 400...)
 *                  credentials missing a secret is empty: nothing sent,
 *                                      status_hint unknown
 *                  rate_limited        429 (or the vendor's equivalent):
 *                                      degraded, success stays true
 *                  vendor              5xx, timeout, an answer we cannot
 *                                      read: not JSON, over max_body, or
 *                                      JSON without the fields the
 *                                      vendor's answer always has
 *                  network             dns, connect, tls
 *                  request             another 4xx: the probe itself is
 *                                      refused (wrong id, bad version)
 *                  account             the account is suspended/closed
 *   retry_after_s  seconds from Retry-After on a 429 (the next check is
 *                  deferred by as much, at most max_retry_after)
 *   rate_limit_hits 429s this instance has met since the agent started
 *   ratelimit_*    the vendor's headroom headers, as numbers
 *   vendor_status, vendor_health, vendor_description, vendor_incidents
 *                  the status_page verdict, when the option is set
 */
#ifndef OUTPOST_PRESET_H
#define OUTPOST_PRESET_H

#include <stddef.h>
#include <stdint.h>
#include <outpost/plugin.h>
#include "httpcheck.h"
#include "preset_statuspage.h"

/* --- the conf: the common part, then the plugin's own ------------------ */

/* What every preset has. A plugin's conf starts with it and adds its own
 * credentials and options after it:
 *
 *     struct payments_conf {
 *         struct preset_conf common;      (first: the engine reads it)
 *         char *secret, *client_id, ...;
 *     };
 *
 * so the engine's option rows (PRESET_OPTIONS_COMMON, _ENGINE) address the
 * plugin's conf as well. */
struct preset_conf {
    struct httpcheck_conf check;    /* transport and conditions */
    char    *base_url;              /* overrides the provider's host */
    char    *status_page;           /* the vendor's summary.json */
    char    *api_version;           /* default: the provider's */
    int64_t  max_retry_after;       /* ms a 429 may defer checks by;
                                       0: PRESET_RETRY_INTERVALS intervals */
};

#define PRESET_RETRY_INTERVALS 5

#define PRESET_OFF(f) offsetof(struct preset_conf, f)

/* Rows every preset has: base_url, status_page, api_version (first), then
 * the plugin's own credentials and options, then PRESET_OPTIONS_ENGINE:
 * the engine's transport and condition options. */
#define PRESET_OPTIONS_COMMON                                                \
    { .name = "base_url", .type = OUTPOST_OPT_STRING,                        \
      .offset = PRESET_OFF(base_url),                                        \
      .help = "scheme://host[:port][/prefix] to send the probe to instead "  \
              "of the provider's (a proxy, a test server)" },                \
    { .name = "status_page", .type = OUTPOST_OPT_STRING,                     \
      .offset = PRESET_OFF(status_page),                                     \
      .help = "the vendor's Statuspage summary.json; its verdict is added "  \
              "to every check as vendor_status, vendor_incidents "           \
              "(fetched at most once a minute, shared by instances)" },     \
    { .name = "api_version", .type = OUTPOST_OPT_STRING,                     \
      .offset = PRESET_OFF(api_version),                                     \
      .help = "the vendor API version the probe asks for (default: the "     \
              "provider's, see the docs)" },                                 \
    { .name = "max_retry_after", .type = OUTPOST_OPT_DURATION,               \
      .offset = PRESET_OFF(max_retry_after), .def = "0s",                    \
      .help = "the longest a 429's Retry-After (seconds or a date) defers "  \
              "the next check (0s: 5 intervals)" },

#define PRESET_OPTIONS_ENGINE                                                \
    HTTPCHECK_OPTIONS_TRANSPORT(struct preset_conf, check)                   \
    HTTPCHECK_OPTIONS_CONDITIONS(struct preset_conf, check)

/* A credential option of the plugin's conf type T (a secret: also
 * <field>_env, <field>_file). */
#define PRESET_OPTION_SECRET(T, field, help_text)                            \
    { .name = #field, .type = OUTPOST_OPT_SECRET,                            \
      .offset = offsetof(T, field), .flags = OUTPOST_OPT_HEADER,             \
      .help = help_text },

/* --- the plugin's credentials ---------------------------------------------- */

/* One credential (or other per-instance string) of a plugin's conf, by
 * the option's name: a provider row names credentials by their index in
 * the plugin's table, and a provider's path may say {name}. Entry 0 is
 * what PA_BEARER, PA_BOT and PA_HEADER send. The table ends with a row
 * whose name is NULL; at most PRESET_CREDS_MAX rows. */
struct preset_cred_def {
    const char *name;       /* the option, e.g. "client_id" */
    size_t      offset;     /* of its char * in the plugin's conf */
    int         fallback;   /* index read when this one is empty, or -1 */
};

#define PRESET_CREDS_MAX 16
#define PC(x) (1u << (x))

enum preset_auth {
    PA_HOOK = 0,            /* the provider's prepare hook does it */
    PA_BEARER,              /* Authorization: Bearer <secret> */
    PA_BOT,                 /* Authorization: Bot <secret> (Discord) */
    PA_HEADER,              /* <auth_header>: <secret> */
    PA_BASIC                /* Basic <basic_user>:<basic_pass> */
};

/* What a check of a vendor's 2xx answer requires of its JSON: the value
 * at path (httpcheck_json_get syntax) has one of the types. */
enum preset_json_type {
    PJ_OBJECT = 1u << 0,
    PJ_ARRAY  = 1u << 1,
    PJ_STRING = 1u << 2,
    PJ_NUMBER = 1u << 3,
    PJ_BOOL   = 1u << 4,
    PJ_NULL   = 1u << 5
};

struct preset_shape {
    const char *path;       /* "" is the root */
    unsigned    types;      /* PJ_* bits */
};

typedef struct preset preset_t;

/* prepare: after the common setup (URL, auth, headers, body); may change
 * the request with the httpcheck setters. Returns HTTPCHECK_GO or _SKIP.
 * step: before the common reading of an answer; return HTTPCHECK_CHAIN
 * (having set up the next request) to go on without reading this one,
 * PRESET_HANDLED when it has read the answer itself (no common reading,
 * no refine), or HTTPCHECK_DONE. refine: after the common reading, to
 * correct it (a 200 that is a refusal, an error code in the body). */
#define PRESET_HANDLED 3
typedef int  (*preset_prepare_fn)(preset_t *p, httpcheck_call_t *c);
typedef int  (*preset_step_fn)(preset_t *p, httpcheck_call_t *c);
typedef void (*preset_refine_fn)(preset_t *p, httpcheck_call_t *c);

struct preset_provider {
    const char         *name;
    const char         *base_url;    /* default scheme://host */
    const char         *path;        /* {account_sid} {phone_number_id}
                                        {api_version} are filled in */
    const char         *method;      /* NULL: GET */
    enum preset_auth    auth;
    const char         *auth_header; /* PA_HEADER */
    int                 basic_user;  /* PA_BASIC: credential indexes */
    int                 basic_pass;
    unsigned            needs;       /* PC() bits of credentials that must
                                        be non-empty */
    const char         *api_version; /* default api_version, or NULL */
    const char         *version_header; /* sends "<it>: <api_version>" */
    const char         *const *headers; /* fixed "Name: value", NULL-ended */
    const char         *body;        /* fixed body (set Content-Type) */
    int                 json;        /* a 2xx answer must be JSON */
    const struct preset_shape *shape; /* ...with these fields, {NULL}-ended
                                        (the fields the vendor's answer
                                        always has) */
    const char         *error_path;  /* JSON path of the vendor's message */
    preset_prepare_fn   prepare;
    preset_step_fn      step;
    preset_refine_fn    refine;
};

/* A preset plugin: its providers and its credentials. */
struct preset_plugin {
    const struct preset_provider  *providers;   /* name NULL ends it */
    const struct preset_cred_def  *creds;       /* name NULL ends it */
};

/* --- an instance ----------------------------------------------------------- */

struct preset {
    outpost_instance_t           *inst;
    const struct preset_plugin   *plugin;
    const struct preset_provider *prov;
    const struct preset_conf     *conf;       /* the start of the plugin's
                                                 conf */
    httpcheck_t                  *hc;
    char                         *url;       /* base + path, built once */
    outpost_run_t                *run;       /* the run in progress */
    int64_t                       rate_limit_hits;
    sp_cache_t                   *status;    /* status_page, or NULL */
    /* provider scratch, e.g. an OAuth token (freed with free()) */
    char                         *token;
    int64_t                       token_expires_ms;  /* monotonic */
    int                           token_fresh;       /* fetched this check */
    int                           phase;             /* which request of a
                                                        chain is in flight */
};

/* Plugin callbacks: init looks the instance's provider tag up in the
 * plugin's providers. */
int  preset_init(outpost_instance_t *inst, const struct preset_plugin *pl);
int  preset_collect(outpost_instance_t *inst, outpost_run_t *run);
void preset_shutdown(outpost_instance_t *inst);
/* The plugins' validate hook: base_url, status_page and the engine's
 * options, when the config is read. */
int  preset_validate(const void *conf, char *err, size_t errlen);
/* For a plugin's validate_provider hook: what the named provider (one of
 * the plugin's) needs of conf: a {name} of its path that is not one of
 * the credentials it needs (checked per check) must be set (-1); else the
 * credentials set that it would ignore, as warnings (1), or 0. */
int  preset_validate_provider(const void *conf, const char *provider,
                              const struct preset_plugin *pl,
                              char *err, size_t errlen);

/* --- for hooks ------------------------------------------------------------- */

/* The value of credential `which` (an index in the plugin's table; its
 * fallback when empty; "" when unset). */
const char *preset_cred(const preset_t *p, int which);
/* The API version in use (the option, else the provider's default). */
const char *preset_api_version(const preset_t *p);
/* base_url (or the provider's) + path, path given by the hook. malloc'ed;
 * NULL when memory is short. */
char       *preset_url(const preset_t *p, const char *path);
/* Marks the check: fail it (reason: detail), set status_hint and reason. */
void        preset_verdict(httpcheck_call_t *c, const char *hint,
                           const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Counts a rate-limit hit: success true, degraded, rate_limited, the
 * counter, and retry_after_s / a deferral when seconds >= 0. */
void        preset_rate_limited(preset_t *p, httpcheck_call_t *c,
                                double seconds);
/* Defers the next check by seconds (the vendor's word), capped at
 * max_retry_after; records retry_after_s (the vendor's) and, when capped,
 * retry_after_capped_s. */
void        preset_defer(preset_t *p, httpcheck_call_t *c, double seconds);
/* Adds a field to the check's measurement (nothing when memory is
 * short and there is no measurement). */
void        preset_field_str(httpcheck_call_t *c, const char *key,
                             const char *v);
void        preset_field_float(httpcheck_call_t *c, const char *key,
                               double v);
void        preset_field_bool(httpcheck_call_t *c, const char *key, int v);
/* Monotonic milliseconds, for token lifetimes. */
int64_t     preset_now_ms(void);

#endif /* OUTPOST_PRESET_H */
