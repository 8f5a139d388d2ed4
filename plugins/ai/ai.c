/*
 * ai.c - the `ai` input: one authenticated read per check against an AI
 * API, on the httpcheck engine through the preset machinery
 * (plugins/common/preset.h). Listing models is every vendor's cheapest
 * authenticated call (no tokens spent); Cohere has a call made for it.
 *
 *   openai     GET  /v1/models                  Bearer
 *   anthropic  GET  /v1/models?limit=1          x-api-key + anthropic-version
 *   gemini     GET  /v1beta/models?pageSize=1   x-goog-api-key (or ?key=)
 *   mistral    GET  /v1/models                  Bearer
 *   cohere     POST /v1/check-api-key           Bearer
 *
 * Vendor smarts in the hooks: OpenAI's 429 insufficient_quota is an
 * exhausted account, not a rate limit; Gemini answers a bad key with 400
 * API_KEY_INVALID; Cohere may answer 200 {"valid":false}.
 */
#include <stdlib.h>
#include <string.h>
#include "../common/preset.h"

/* The conf: the common preset part, then the AI APIs' own. */
struct ai_conf {
    struct preset_conf common;
    char              *secret;          /* the API key */
    int                key_in_query;    /* gemini: ?key= */
};

enum ai_cred { AI_SECRET = 0 };

static const outpost_option_t ai_options[] = {
    PRESET_OPTIONS_COMMON
    PRESET_OPTION_SECRET(struct ai_conf, secret, "the provider's API key")
    { .name = "key_in_query", .type = OUTPOST_OPT_BOOL,
      .offset = offsetof(struct ai_conf, key_in_query), .def = "false",
      .help = "gemini: send the key as ?key= instead of x-goog-api-key" },
    PRESET_OPTIONS_ENGINE
    OUTPOST_OPTION_END
};

static const struct preset_cred_def ai_creds[] = {
    [AI_SECRET] = { "secret", offsetof(struct ai_conf, secret), -1 },
    { NULL, 0, -1 }
};

/* --- OpenAI ---------------------------------------------------------------- */

/* A 429 whose code is insufficient_quota: the account is out of credit
 * (or over its spending limit); waiting does not help, so it is down,
 * not rate-limited. */
static int
openai_step(preset_t *p, httpcheck_call_t *c)
{
    json_t *root;
    const char *code, *type, *msg;

    (void) p;
    if (httpcheck_status(c) != 429 || (root = httpcheck_json(c)) == NULL)
        return HTTPCHECK_DONE;
    code = json_string_value(httpcheck_json_get(root, "error.code"));
    type = json_string_value(httpcheck_json_get(root, "error.type"));
    if (!(code && strcmp(code, "insufficient_quota") == 0)
        && !(type && strcmp(type, "insufficient_quota") == 0))
        return HTTPCHECK_DONE;
    msg = json_string_value(httpcheck_json_get(root, "error.message"));
    httpcheck_add_ratelimit_fields(c);
    preset_verdict(c, "down", "account", "HTTP 429: %.200s",
                   msg ? msg : "insufficient_quota");
    return PRESET_HANDLED;
}

/* --- Gemini ---------------------------------------------------------------- */

static int
gemini_prepare(preset_t *p, httpcheck_call_t *c)
{
    const char *key = preset_cred(p, AI_SECRET);
    char *h = NULL, *url = NULL, *ekey;
    int rc = -1;

    if (!((const struct ai_conf *) p->conf)->key_in_query) {
        if (asprintf(&h, "x-goog-api-key: %s", key) >= 0) {
            rc = httpcheck_add_header(c, h);
            explicit_bzero(h, strlen(h));
            free(h);
        }
    } else if ((ekey = curl_easy_escape(httpcheck_easy(c), key, 0))) {
        if (asprintf(&url, "%s%ckey=%s", p->url,
                     strchr(p->url, '?') ? '&' : '?', ekey) >= 0) {
            rc = httpcheck_set_url(c, url);
            explicit_bzero(url, strlen(url));
            free(url);
        }
        curl_free(ekey);
    }
    if (rc != 0) {
        httpcheck_fail(c, "internal", "out of memory");
        return HTTPCHECK_SKIP;
    }
    return HTTPCHECK_GO;
}

/* Google says "bad key" with 400 INVALID_ARGUMENT, reason API_KEY_INVALID
 * (and "expired" with API_KEY_EXPIRED... under the same 400). */
static void
gemini_refine(preset_t *p, httpcheck_call_t *c)
{
    json_t *root, *details, *d;
    const char *msg;
    size_t i;

    (void) p;
    if (httpcheck_status(c) != 400 || (root = httpcheck_json(c)) == NULL)
        return;
    msg = json_string_value(httpcheck_json_get(root, "error.message"));
    details = httpcheck_json_get(root, "error.details");
    json_array_foreach(details, i, d) {
        const char *reason = json_string_value(json_object_get(d, "reason"));
        if (reason && strncmp(reason, "API_KEY_", 8) == 0) {
            preset_verdict(c, "down", "credentials", "HTTP 400: %s: %.200s",
                           reason, msg ? msg : "");
            return;
        }
    }
    if (msg && strstr(msg, "API key"))
        preset_verdict(c, "down", "credentials", "HTTP 400: %.200s", msg);
}

/* --- Cohere ---------------------------------------------------------------- */

static void
cohere_refine(preset_t *p, httpcheck_call_t *c)
{
    json_t *root;

    (void) p;
    if (httpcheck_failed(c) || httpcheck_status(c) != 200
        || (root = httpcheck_json(c)) == NULL)
        return;
    if (json_is_false(json_object_get(root, "valid")))
        preset_verdict(c, "down", "credentials",
                       "HTTP 200: Cohere says the key is not valid");
}

/* --- the table --------------------------------------------------------------- */

static const char *const json_accept[] = { "Accept: application/json", NULL };

/* What each API's answer to the probe always has. */
static const struct preset_shape list_shape[] = {       /* openai, mistral */
    { "object", PJ_STRING }, { "data", PJ_ARRAY }, { NULL, 0 }
};
static const struct preset_shape anthropic_shape[] = {
    { "data", PJ_ARRAY }, { "has_more", PJ_BOOL }, { NULL, 0 }
};
static const struct preset_shape gemini_shape[] = {
    { "models", PJ_ARRAY }, { NULL, 0 }
};
static const struct preset_shape cohere_shape[] = {
    { "valid", PJ_BOOL }, { NULL, 0 }
};

static const struct preset_provider ai_providers[] = {
    { .name = "openai", .base_url = "https://api.openai.com",
      .path = "/v1/models", .auth = PA_BEARER, .needs = PC(AI_SECRET),
      .json = 1, .shape = list_shape, .error_path = "error.message",
      .step = openai_step },
    { .name = "anthropic", .base_url = "https://api.anthropic.com",
      .path = "/v1/models?limit=1", .auth = PA_HEADER,
      .auth_header = "x-api-key", .needs = PC(AI_SECRET),
      .api_version = "2023-06-01", .version_header = "anthropic-version",
      .headers = json_accept, .json = 1, .shape = anthropic_shape,
      .error_path = "error.message" },
    { .name = "gemini", .base_url = "https://generativelanguage.googleapis.com",
      .path = "/{api_version}/models?pageSize=1", .api_version = "v1beta",
      .auth = PA_HOOK, .needs = PC(AI_SECRET), .json = 1,
      .shape = gemini_shape, .error_path = "error.message",
      .prepare = gemini_prepare, .refine = gemini_refine },
    { .name = "mistral", .base_url = "https://api.mistral.ai",
      .path = "/v1/models", .auth = PA_BEARER, .needs = PC(AI_SECRET),
      .headers = json_accept, .json = 1, .shape = list_shape,
      .error_path = "message" },
    { .name = "cohere", .base_url = "https://api.cohere.com",
      .path = "/v1/check-api-key", .method = "POST", .auth = PA_BEARER,
      .needs = PC(AI_SECRET), .headers = json_accept, .json = 1,
      .shape = cohere_shape, .error_path = "message",
      .refine = cohere_refine },
    { .name = NULL }
};

static const struct preset_plugin ai = {
    .providers = ai_providers,
    .creds = ai_creds,
};

static int
ai_init(outpost_instance_t *inst)
{
    return preset_init(inst, &ai);
}

static int
ai_validate_provider(const void *conf, const char *provider, char *err,
                     size_t errlen)
{
    return preset_validate_provider(conf, provider, &ai, err, errlen);
}

/* The common option `provider` picks one (outpostd -t checks it). */
static const char *const provider_names[] = {
    "openai", "anthropic", "gemini", "mistral", "cohere", NULL
};

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "ai",
    .description = "AI APIs: openai, anthropic, gemini, mistral, cohere "
                   "(cheapest authenticated read)",
    .kind = OUTPOST_INPUT,
    .flags = OUTPOST_PLUGIN_ASYNC,
    .options = ai_options,
    .conf_size = sizeof(struct ai_conf),
    .init = ai_init,
    .collect = preset_collect,
    .shutdown = preset_shutdown,
    .validate = preset_validate,
    .providers = provider_names,
    .validate_provider = ai_validate_provider,
};
