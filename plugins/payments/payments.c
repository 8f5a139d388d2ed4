/*
 * payments.c - the `payments` input: one authenticated read per check
 * against a payment gateway, on the httpcheck engine through the preset
 * machinery (plugins/common/preset.h). The providers are the table below;
 * PayPal's OAuth dance is the only hook here, the Indian gateways' signed
 * requests (PayU, CCAvenue) are in payments_in.c.
 *
 *   stripe    GET  /v1/balance                 Bearer <secret key>
 *   paypal    POST /v1/oauth2/token, then      Basic client_id:secret,
 *             GET  /v1/notifications/webhooks  then Bearer <access token>
 *   razorpay  GET  /v1/payments?count=1        Basic key_id:secret
 *   payu      POST /merchant/postservice.php   form + sha512 hash (salt)
 *   ccavenue  POST /apis/servlet/DoWebTrans    AES-encrypted request
 *   adyen     GET  /v3/me                      X-API-Key
 *   square    GET  /v2/locations               Bearer + Square-Version
 */
#include <stdlib.h>
#include <string.h>
#include "../common/preset.h"
#include "payments.h"

#define TOKEN_MARGIN_MS 60000   /* renew a token this long before expiry */

#define PAY_OPTION(field, help) \
    PRESET_OPTION_SECRET(struct payments_conf, field, help)

static const outpost_option_t payments_options[] = {
    PRESET_OPTIONS_COMMON
    PAY_OPTION(secret, "the provider's secret: Stripe/Square/Adyen API key "
               "or token, PayPal client secret, Razorpay key secret, PayU "
               "salt, CCAvenue working key")
    PAY_OPTION(client_id, "PayPal REST app client id")
    PAY_OPTION(key_id, "Razorpay key id (rzp_live_... or rzp_test_...)")
    PAY_OPTION(merchant_key, "PayU merchant key")
    PAY_OPTION(access_code, "CCAvenue access code")
    PRESET_OPTIONS_ENGINE
    OUTPOST_OPTION_END
};

/* In enum payments_cred order. */
static const struct preset_cred_def payments_creds[] = {
    [PAY_SECRET] =       { "secret", offsetof(struct payments_conf, secret),
                           -1 },
    [PAY_CLIENT_ID] =    { "client_id",
                           offsetof(struct payments_conf, client_id), -1 },
    [PAY_KEY_ID] =       { "key_id", offsetof(struct payments_conf, key_id),
                           -1 },
    [PAY_MERCHANT_KEY] = { "merchant_key",
                           offsetof(struct payments_conf, merchant_key), -1 },
    [PAY_ACCESS_CODE] =  { "access_code",
                           offsetof(struct payments_conf, access_code), -1 },
    { NULL, 0, -1 }
};

/* --- PayPal: a client-credentials token, kept until it expires ------------- */

enum { PAYPAL_TOKEN = 0, PAYPAL_CALL = 1 };

static const char *const form_headers[] = {
    "Content-Type: application/x-www-form-urlencoded",
    "Accept: application/json",
    NULL
};

static int
paypal_token_request(preset_t *p, httpcheck_call_t *c)
{
    static const char body[] = "grant_type=client_credentials";

    p->phase = PAYPAL_TOKEN;
    if (httpcheck_set_url(c, p->url) != 0
        || httpcheck_set_method(c, "POST") != 0
        || httpcheck_set_body(c, body, sizeof(body) - 1) != 0
        || httpcheck_set_basic_auth(c, preset_cred(p, PAY_CLIENT_ID),
                                    preset_cred(p, PAY_SECRET)) != 0)
        return -1;
    for (size_t i = 0; form_headers[i]; i++)
        if (httpcheck_add_header(c, form_headers[i]) != 0)
            return -1;
    return 0;
}

static int
paypal_call_request(preset_t *p, httpcheck_call_t *c)
{
    char *url = preset_url(p, "/v1/notifications/webhooks");
    int rc;

    p->phase = PAYPAL_CALL;
    if (url == NULL)
        return -1;
    rc = httpcheck_set_url(c, url) != 0
         || httpcheck_set_method(c, "GET") != 0
         || httpcheck_add_header(c, "Accept: application/json") != 0
         || httpcheck_set_bearer(c, p->token) != 0 ? -1 : 0;
    free(url);
    return rc;
}

static void
paypal_drop_token(preset_t *p)
{
    if (p->token)
        explicit_bzero(p->token, strlen(p->token));
    free(p->token);
    p->token = NULL;
}

static int
paypal_prepare(preset_t *p, httpcheck_call_t *c)
{
    int rc;

    if (p->token && preset_now_ms() < p->token_expires_ms)
        rc = paypal_call_request(p, c);
    else {
        paypal_drop_token(p);
        rc = paypal_token_request(p, c);
    }
    if (rc != 0) {
        httpcheck_fail(c, "internal", "out of memory");
        return HTTPCHECK_SKIP;
    }
    return HTTPCHECK_GO;
}

/* Keeps the token of a 200 answer; 0, or -1 when the answer has none. */
static int
paypal_keep_token(preset_t *p, httpcheck_call_t *c)
{
    json_t *root = httpcheck_json(c);
    const char *tok = json_string_value(json_object_get(root,
                                                        "access_token"));
    json_int_t ttl = json_integer_value(json_object_get(root, "expires_in"));

    if (tok == NULL || *tok == '\0' || (p->token = strdup(tok)) == NULL)
        return -1;
    if (ttl <= 0)
        ttl = 300;
    p->token_expires_ms = preset_now_ms() + ttl * 1000 - TOKEN_MARGIN_MS;
    p->token_fresh = 1;
    return 0;
}

static int
paypal_step(preset_t *p, httpcheck_call_t *c)
{
    long st = httpcheck_status(c);

    if (httpcheck_result(c) != CURLE_OK)
        return HTTPCHECK_DONE;
    if (p->phase == PAYPAL_TOKEN) {
        if (st != 200)
            return HTTPCHECK_DONE;       /* invalid_client: credentials */
        if (paypal_keep_token(p, c) != 0) {
            preset_verdict(c, "down", "vendor", "HTTP 200: not a paypal "
                           "answer: \"access_token\" is missing");
            return PRESET_HANDLED;
        }
        return paypal_call_request(p, c) == 0 ? HTTPCHECK_CHAIN
                                              : HTTPCHECK_DONE;
    }
    if (st == 401 && !p->token_fresh) {
        /* The kept token expired or was revoked: get a new one once. */
        paypal_drop_token(p);
        if (paypal_token_request(p, c) == 0)
            return HTTPCHECK_CHAIN;
    }
    return HTTPCHECK_DONE;
}

/* --- the table ----------------------------------------------------------------- */

static const char *const json_accept[] = { "Accept: application/json", NULL };

/* What each gateway's answer to the probe always has. */
static const struct preset_shape stripe_shape[] = {
    { "object", PJ_STRING }, { "available", PJ_ARRAY },
    { "pending", PJ_ARRAY }, { NULL, 0 }
};
static const struct preset_shape paypal_shape[] = {
    { "webhooks", PJ_ARRAY }, { NULL, 0 }
};
static const struct preset_shape razorpay_shape[] = {
    { "entity", PJ_STRING }, { "items", PJ_ARRAY }, { NULL, 0 }
};
static const struct preset_shape payu_shape[] = {
    { "status", PJ_NUMBER | PJ_STRING }, { NULL, 0 }
};
static const struct preset_shape adyen_shape[] = {
    { "id", PJ_STRING }, { NULL, 0 }
};
static const struct preset_shape square_shape[] = {
    { "locations", PJ_ARRAY }, { NULL, 0 }
};

static const struct preset_provider payments_providers[] = {
    { .name = "stripe", .base_url = "https://api.stripe.com",
      .path = "/v1/balance", .auth = PA_BEARER, .needs = PC(PAY_SECRET),
      .json = 1, .shape = stripe_shape, .error_path = "error.message" },
    { .name = "paypal", .base_url = "https://api-m.paypal.com",
      .path = "/v1/oauth2/token", .auth = PA_HOOK,
      .needs = PC(PAY_CLIENT_ID) | PC(PAY_SECRET), .json = 1,
      .shape = paypal_shape, .error_path = "error_description",
      .prepare = paypal_prepare, .step = paypal_step },
    { .name = "razorpay", .base_url = "https://api.razorpay.com",
      .path = "/v1/payments?count=1", .auth = PA_BASIC,
      .basic_user = PAY_KEY_ID, .basic_pass = PAY_SECRET,
      .needs = PC(PAY_KEY_ID) | PC(PAY_SECRET), .json = 1,
      .shape = razorpay_shape, .error_path = "error.description" },
    { .name = "payu", .base_url = "https://info.payu.in",
      .path = "/merchant/postservice.php?form=2", .method = "POST",
      .auth = PA_HOOK, .needs = PC(PAY_MERCHANT_KEY) | PC(PAY_SECRET),
      .headers = form_headers, .json = 1, .shape = payu_shape,
      .error_path = "msg",
      .prepare = payu_prepare, .refine = payu_refine },
    { .name = "ccavenue", .base_url = "https://api.ccavenue.com",
      .path = "/apis/servlet/DoWebTrans", .method = "POST",
      .auth = PA_HOOK, .needs = PC(PAY_ACCESS_CODE) | PC(PAY_SECRET),
      .headers = form_headers, .json = 0,
      .prepare = ccavenue_prepare, .refine = ccavenue_refine },
    { .name = "adyen", .base_url = "https://management-live.adyen.com",
      .path = "/v3/me", .auth = PA_HEADER, .auth_header = "X-API-Key",
      .needs = PC(PAY_SECRET), .headers = json_accept, .json = 1,
      .shape = adyen_shape, .error_path = "detail" },
    { .name = "square", .base_url = "https://connect.squareup.com",
      .path = "/v2/locations", .auth = PA_BEARER, .needs = PC(PAY_SECRET),
      .api_version = "2024-10-17", .version_header = "Square-Version",
      .headers = json_accept, .json = 1, .shape = square_shape,
      .error_path = "errors[0].detail" },
    { .name = NULL }
};

static const struct preset_plugin payments = {
    .providers = payments_providers,
    .creds = payments_creds,
};

static int
payments_init(outpost_instance_t *inst)
{
    return preset_init(inst, &payments);
}

static int
payments_validate_provider(const void *conf, const char *provider, char *err,
                           size_t errlen)
{
    return preset_validate_provider(conf, provider, &payments, err, errlen);
}

/* The common option `provider` picks one (outpostd -t checks it). */
static const char *const provider_names[] = {
    "stripe", "paypal", "razorpay", "payu", "ccavenue", "adyen", "square", NULL
};

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "payments",
    .description = "payment gateways: stripe, paypal, razorpay, payu, "
                   "ccavenue, adyen, square (cheapest authenticated read)",
    .kind = OUTPOST_INPUT,
    .flags = OUTPOST_PLUGIN_ASYNC,
    .options = payments_options,
    .conf_size = sizeof(struct payments_conf),
    .init = payments_init,
    .collect = preset_collect,
    .shutdown = preset_shutdown,
    .validate = preset_validate,
    .providers = provider_names,
    .validate_provider = payments_validate_provider,
};
