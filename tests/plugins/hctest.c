/*
 * hctest.c - a test input on the HTTP probe engine's hooks, the way a
 * provider preset uses them (tests/e2e/test_http.py drives it):
 *
 *   scenario "chain": an OAuth-style two-step check. Step 0 POSTs a form
 *     with basic auth to url (fakeapi's /echo); classify reads the JSON
 *     answer, makes a "token" of it and chains a GET to url with
 *     `Authorization: Bearer <token>`; step 1 checks that it was sent.
 *   scenario "skip": prepare reports "credentials missing", no request.
 *   scenario "api": classify is httpcheck_classify_api() (401, 429, 5xx,
 *     Retry-After, rate-limit headers).
 *
 * It links the engine's library, outpost_httpcheck, as the real plugins
 * do (tests/CMakeLists.txt, test_plugin_libs_hctest).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "httpcheck.h"

struct hctest_conf {
    struct httpcheck_conf check;
    char                 *scenario;
};

static const outpost_option_t hctest_options[] = {
    HTTPCHECK_OPTIONS(struct hctest_conf, check)
    { .name = "scenario", .type = OUTPOST_OPT_ENUM,
      .offset = offsetof(struct hctest_conf, scenario), .def = "chain",
      .choices = "chain|skip|api", .help = "which hooks to exercise" },
    OUTPOST_OPTION_END
};

static int
chain_prepare(httpcheck_call_t *c, void *arg)
{
    static const char form[] = "grant_type=client_credentials";

    (void) arg;
    if (httpcheck_set_method(c, "POST") != 0
        || httpcheck_set_body(c, form, sizeof(form) - 1) != 0
        || httpcheck_add_header(c, "Content-Type: "
                                "application/x-www-form-urlencoded") != 0
        || httpcheck_set_basic_auth(c, "client", "s3cret") != 0)
        return HTTPCHECK_SKIP;
    return HTTPCHECK_GO;
}

static const char *
json_str(httpcheck_call_t *c, const char *path)
{
    json_t *v = httpcheck_json_get(httpcheck_json(c), path);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
chain_classify(httpcheck_call_t *c, void *arg)
{
    const char *auth, *body;
    char token[128];

    (void) arg;
    if (httpcheck_failed(c))
        return HTTPCHECK_DONE;
    auth = json_str(c, "headers.Authorization");
    if (httpcheck_step(c) == 0) {
        body = json_str(c, "body");
        if (auth == NULL || strncmp(auth, "Basic ", 6) != 0 || body == NULL
            || strcmp(body, "grant_type=client_credentials") != 0) {
            httpcheck_fail(c, "credentials", "token request not as sent");
            return HTTPCHECK_DONE;
        }
        snprintf(token, sizeof(token), "tok-%s", json_str(c, "method"));
        outpost_record_add_float(httpcheck_record(c), "token_ms",
                                 httpcheck_elapsed_ms(c));
        if (httpcheck_set_bearer(c, token) != 0)
            return HTTPCHECK_DONE;
        return HTTPCHECK_CHAIN;
    }
    if (auth == NULL || strcmp(auth, "Bearer tok-POST") != 0
        || strcmp(json_str(c, "method"), "GET") != 0)
        httpcheck_fail(c, "credentials", "bearer not sent: %s",
                       auth ? auth : "none");
    outpost_record_add_int(httpcheck_record(c), "steps",
                           httpcheck_step(c) + 1);
    return HTTPCHECK_DONE;
}

static int
skip_prepare(httpcheck_call_t *c, void *arg)
{
    (void) arg;
    httpcheck_set_hint(c, "unknown", "credentials missing");
    return HTTPCHECK_SKIP;
}

static int
api_classify(httpcheck_call_t *c, void *arg)
{
    (void) arg;
    httpcheck_classify_api(c, 1);
    return HTTPCHECK_DONE;
}

static const struct httpcheck_hooks chain_hooks = {
    .prepare = chain_prepare, .classify = chain_classify,
    .flags = HTTPCHECK_KEEP_BODY,
};
static const struct httpcheck_hooks skip_hooks = { .prepare = skip_prepare };
static const struct httpcheck_hooks api_hooks = { .classify = api_classify };

static int
hctest_init(outpost_instance_t *inst)
{
    struct hctest_conf *conf = outpost_instance_conf(inst);
    const struct httpcheck_hooks *hooks =
        strcmp(conf->scenario, "chain") == 0 ? &chain_hooks
        : strcmp(conf->scenario, "skip") == 0 ? &skip_hooks : &api_hooks;
    httpcheck_t *hc;
    char err[256];

    hc = httpcheck_new(inst, &conf->check, hooks, NULL, err, sizeof(err));
    if (hc == NULL) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "init", "%s", err);
        return -1;
    }
    outpost_instance_set_data(inst, hc);
    return 0;
}

static int
hctest_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    return httpcheck_start(outpost_instance_data(inst), run);
}

static void
hctest_shutdown(outpost_instance_t *inst)
{
    httpcheck_free(outpost_instance_data(inst));
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "hctest",
    .description = "test input for the HTTP probe engine's hooks",
    .kind = OUTPOST_INPUT,
    .flags = OUTPOST_PLUGIN_ASYNC,
    .options = hctest_options,
    .conf_size = sizeof(struct hctest_conf),
    .init = hctest_init,
    .collect = hctest_collect,
    .shutdown = hctest_shutdown,
};
