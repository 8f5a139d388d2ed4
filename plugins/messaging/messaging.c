/*
 * messaging.c - the `messaging` input: one authenticated read per check
 * against a messaging provider, on the httpcheck engine through the
 * preset machinery (plugins/common/preset.h).
 *
 *   twilio    GET  /2010-04-01/Accounts/{sid}.json  Basic sid:auth_token
 *   slack     POST /api/auth.test                   Bearer xox...
 *   resend    GET  /domains                         Bearer re_..., User-Agent
 *   sendgrid  GET  /v3/scopes                       Bearer SG....
 *   whatsapp  GET  /v21.0/{phone_number_id}         Bearer (Graph API)
 *   discord   GET  /api/v10/users/@me               Bot <token>
 *
 * Vendor smarts in the hooks: Slack says "bad token" with a 200
 * {"ok":false}; the Graph API says it with error code 190 whatever the
 * status, and rate-limits with codes 4/17/32/613/80007 under a 400; a
 * Twilio account can authenticate and still be suspended; a sending-only
 * Resend key is refused /domains (401 restricted_api_key) yet works;
 * Discord puts retry_after in the 429's body.
 */
#include <stdlib.h>
#include <string.h>
#include "../common/preset.h"

/* The conf: the common preset part, then the providers' credentials. */
struct messaging_conf {
    struct preset_conf common;
    char              *secret;          /* token or API key */
    char              *account_sid;     /* twilio */
    char              *auth_token;      /* twilio (falls back to secret) */
    char              *phone_number_id; /* whatsapp */
};

enum messaging_cred {
    MSG_SECRET = 0,
    MSG_ACCOUNT_SID,
    MSG_AUTH_TOKEN,         /* auth_token, else secret */
    MSG_PHONE_NUMBER_ID
};

static const outpost_option_t messaging_options[] = {
    PRESET_OPTIONS_COMMON
    PRESET_OPTION_SECRET(struct messaging_conf, secret,
                         "the provider's token or API key (Twilio: "
                         "auth_token, or this)")
    PRESET_OPTION_SECRET(struct messaging_conf, account_sid,
                         "Twilio account SID (AC...)")
    PRESET_OPTION_SECRET(struct messaging_conf, auth_token,
                         "Twilio auth token")
    { .name = "phone_number_id", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct messaging_conf, phone_number_id),
      .help = "whatsapp: the business phone number's Graph API id" },
    PRESET_OPTIONS_ENGINE
    OUTPOST_OPTION_END
};

/* In enum messaging_cred order; phone_number_id is not a secret, but the
 * whatsapp path names it. */
static const struct preset_cred_def messaging_creds[] = {
    [MSG_SECRET] =          { "secret",
                              offsetof(struct messaging_conf, secret), -1 },
    [MSG_ACCOUNT_SID] =     { "account_sid",
                              offsetof(struct messaging_conf, account_sid),
                              -1 },
    [MSG_AUTH_TOKEN] =      { "auth_token",
                              offsetof(struct messaging_conf, auth_token),
                              MSG_SECRET },
    [MSG_PHONE_NUMBER_ID] = { "phone_number_id",
                              offsetof(struct messaging_conf,
                                       phone_number_id), -1 },
    { NULL, 0, -1 }
};

/* --- Twilio ------------------------------------------------------------------ */

static void
twilio_refine(preset_t *p, httpcheck_call_t *c)
{
    json_t *root;
    const char *status;

    (void) p;
    if (httpcheck_failed(c) || (root = httpcheck_json(c)) == NULL
        || (status = json_string_value(json_object_get(root, "status")))
           == NULL)
        return;
    preset_field_str(c, "account_status", status);
    if (strcmp(status, "active") != 0)
        preset_verdict(c, "down", "account", "the Twilio account is %.40s",
                       status);
}

/* --- Slack ------------------------------------------------------------------- */

/* auth.test answers 200 either way; the error word tells what failed. */
static const char *const slack_credentials[] = {
    "invalid_auth", "not_authed", "account_inactive", "token_revoked",
    "token_expired", "no_permission", "not_allowed_token_type",
    "org_login_required", "ekm_access_denied", "missing_scope", NULL
};
static const char *const slack_vendor[] = {
    "fatal_error", "internal_error", "service_unavailable",
    "request_timeout", NULL
};

static int
in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

static void
slack_refine(preset_t *p, httpcheck_call_t *c)
{
    json_t *root;
    const char *err;

    if (httpcheck_failed(c) || httpcheck_status(c) != 200
        || (root = httpcheck_json(c)) == NULL
        || json_is_true(json_object_get(root, "ok")))
        return;
    err = json_string_value(json_object_get(root, "error"));
    if (err == NULL)
        err = "ok is false";
    if (in_list(slack_credentials, err))
        preset_verdict(c, "down", "credentials", "HTTP 200: Slack says %s",
                       err);
    else if (strcmp(err, "ratelimited") == 0)
        preset_rate_limited(p, c, httpcheck_retry_after(c));
    else if (in_list(slack_vendor, err))
        preset_verdict(c, "down", "vendor", "HTTP 200: Slack says %s", err);
    else
        preset_verdict(c, "down", "request", "HTTP 200: Slack says %.100s",
                       err);
}

/* --- Resend ------------------------------------------------------------------ */

/* Resend's edge refuses requests without a User-Agent (403, "error code:
 * 1010"): never send one empty. */
static int
resend_prepare(preset_t *p, httpcheck_call_t *c)
{
    const char *ua = p->conf->check.user_agent;

    if ((ua == NULL || *ua == '\0')
        && httpcheck_add_header(c, "User-Agent: outpost/0.1") != 0) {
        httpcheck_fail(c, "internal", "out of memory");
        return HTTPCHECK_SKIP;
    }
    return HTTPCHECK_GO;
}

/* A key restricted to sending may not list domains, but it is a valid
 * key: what the probe set out to learn. Read before the common reading,
 * which would call a 401 a credentials failure. */
static int
resend_step(preset_t *p, httpcheck_call_t *c)
{
    json_t *root;
    const char *name;

    (void) p;
    if (httpcheck_status(c) != 401 || (root = httpcheck_json(c)) == NULL)
        return HTTPCHECK_DONE;
    name = json_string_value(json_object_get(root, "name"));
    if (name == NULL || strcmp(name, "restricted_api_key") != 0)
        return HTTPCHECK_DONE;
    httpcheck_pass(c);
    httpcheck_add_ratelimit_fields(c);
    preset_field_bool(c, "key_restricted", 1);
    return PRESET_HANDLED;
}

/* --- WhatsApp (Graph API) ------------------------------------------------------ */

/* Graph API throttling codes: app, user, page, API-specific, WhatsApp
 * business account, WhatsApp pair rate limit. */
static int
graph_rate_code(json_int_t code)
{
    return code == 4 || code == 17 || code == 32 || code == 613
           || code == 80007 || code == 130429 || code == 131056;
}

static void
whatsapp_refine(preset_t *p, httpcheck_call_t *c)
{
    json_t *root = httpcheck_json(c), *err;
    json_int_t code;
    const char *msg, *q;

    if (root == NULL)
        return;
    if (!json_is_object(err = json_object_get(root, "error"))) {
        q = json_string_value(json_object_get(root, "quality_rating"));
        if (q && !httpcheck_failed(c))
            preset_field_str(c, "quality_rating", q);
        return;
    }
    code = json_integer_value(json_object_get(err, "code"));
    msg = json_string_value(json_object_get(err, "message"));
    if (code == 190 || code == 102 || code == 10 || code == 200)
        preset_verdict(c, "down", "credentials", "HTTP %ld: Graph API "
                       "error %lld: %.200s", httpcheck_status(c),
                       (long long) code, msg ? msg : "");
    else if (graph_rate_code(code))
        preset_rate_limited(p, c, httpcheck_retry_after(c));
}

/* --- Discord ------------------------------------------------------------------ */

/* A 429 carries retry_after (seconds, a float) in its body as well; use it
 * when the header is missing. */
static void
discord_refine(preset_t *p, httpcheck_call_t *c)
{
    json_t *root;
    double s;

    if (httpcheck_status(c) != 429 || httpcheck_retry_after(c) >= 0
        || (root = httpcheck_json(c)) == NULL
        || !json_is_number(json_object_get(root, "retry_after")))
        return;
    s = json_number_value(json_object_get(root, "retry_after"));
    preset_defer(p, c, s);
}

/* --- the table ------------------------------------------------------------------ */

static const char *const json_accept[] = { "Accept: application/json", NULL };

/* What each provider's answer to the probe always has. */
static const struct preset_shape twilio_shape[] = {
    { "sid", PJ_STRING }, { "status", PJ_STRING }, { NULL, 0 }
};
static const struct preset_shape slack_shape[] = {
    { "ok", PJ_BOOL }, { NULL, 0 }
};
static const struct preset_shape resend_shape[] = {
    { "data", PJ_ARRAY }, { NULL, 0 }
};
static const struct preset_shape sendgrid_shape[] = {
    { "scopes", PJ_ARRAY }, { NULL, 0 }
};
static const struct preset_shape whatsapp_shape[] = {
    { "id", PJ_STRING }, { NULL, 0 }
};
static const struct preset_shape discord_shape[] = {
    { "id", PJ_STRING }, { "username", PJ_STRING }, { NULL, 0 }
};

static const struct preset_provider messaging_providers[] = {
    { .name = "twilio", .base_url = "https://api.twilio.com",
      .path = "/2010-04-01/Accounts/{account_sid}.json", .auth = PA_BASIC,
      .basic_user = MSG_ACCOUNT_SID, .basic_pass = MSG_AUTH_TOKEN,
      .needs = PC(MSG_ACCOUNT_SID) | PC(MSG_AUTH_TOKEN), .json = 1,
      .shape = twilio_shape, .error_path = "message",
      .refine = twilio_refine },
    { .name = "slack", .base_url = "https://slack.com",
      .path = "/api/auth.test", .method = "POST", .auth = PA_BEARER,
      .needs = PC(MSG_SECRET), .json = 1, .shape = slack_shape,
      .error_path = "error", .refine = slack_refine },
    { .name = "resend", .base_url = "https://api.resend.com",
      .path = "/domains", .auth = PA_BEARER, .needs = PC(MSG_SECRET),
      .headers = json_accept, .json = 1, .shape = resend_shape,
      .error_path = "message", .prepare = resend_prepare,
      .step = resend_step },
    { .name = "sendgrid", .base_url = "https://api.sendgrid.com",
      .path = "/v3/scopes", .auth = PA_BEARER, .needs = PC(MSG_SECRET),
      .headers = json_accept, .json = 1, .shape = sendgrid_shape,
      .error_path = "errors[0].message" },
    { .name = "whatsapp", .base_url = "https://graph.facebook.com",
      .path = "/{api_version}/{phone_number_id}", .api_version = "v21.0",
      .auth = PA_BEARER, .needs = PC(MSG_SECRET), .json = 1,
      .shape = whatsapp_shape, .error_path = "error.message",
      .refine = whatsapp_refine },
    { .name = "discord", .base_url = "https://discord.com",
      .path = "/api/v{api_version}/users/@me", .api_version = "10",
      .auth = PA_BOT, .needs = PC(MSG_SECRET), .headers = json_accept,
      .json = 1, .shape = discord_shape, .error_path = "message",
      .refine = discord_refine },
    { .name = NULL }
};

static const struct preset_plugin messaging = {
    .providers = messaging_providers,
    .creds = messaging_creds,
};

static int
messaging_init(outpost_instance_t *inst)
{
    return preset_init(inst, &messaging);
}

static int
messaging_validate_provider(const void *conf, const char *provider,
                            char *err, size_t errlen)
{
    return preset_validate_provider(conf, provider, &messaging, err,
                                    errlen);
}

/* The common option `provider` picks one (outpostd -t checks it). */
static const char *const provider_names[] = {
    "twilio", "slack", "resend", "sendgrid", "whatsapp", "discord", NULL
};

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "messaging",
    .description = "messaging providers: twilio, slack, resend, sendgrid, "
                   "whatsapp, discord (cheapest authenticated read)",
    .kind = OUTPOST_INPUT,
    .flags = OUTPOST_PLUGIN_ASYNC,
    .options = messaging_options,
    .conf_size = sizeof(struct messaging_conf),
    .init = messaging_init,
    .collect = preset_collect,
    .shutdown = preset_shutdown,
    .validate = preset_validate,
    .providers = provider_names,
    .validate_provider = messaging_validate_provider,
};
