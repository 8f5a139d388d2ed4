/*
 * http.c - the `http` input: any URL, checked by the shared probe engine
 * (plugins/common/httpcheck.h) with every option and condition it offers.
 * The plugin is only the glue: its conf is the engine's conf.
 */
#include <stdio.h>
#include <stdlib.h>
#include <outpost/plugin.h>
#include "../common/httpcheck.h"

struct http_conf {
    struct httpcheck_conf check;
};

static const outpost_option_t http_options[] = {
    HTTPCHECK_OPTIONS(struct http_conf, check)
    OUTPOST_OPTION_END
};

static int
http_init(outpost_instance_t *inst)
{
    struct http_conf *conf = outpost_instance_conf(inst);
    httpcheck_t *hc;
    char err[256];

    hc = httpcheck_new(inst, &conf->check, NULL, NULL, err, sizeof(err));
    if (hc == NULL) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "init", "%s", err);
        return -1;
    }
    outpost_instance_set_data(inst, hc);
    return 0;
}

static int
http_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    return httpcheck_start(outpost_instance_data(inst), run);
}

static void
http_shutdown(outpost_instance_t *inst)
{
    httpcheck_free(outpost_instance_data(inst));
}

static int
http_validate(const void *conf, char *err, size_t errlen)
{
    return httpcheck_validate(&((const struct http_conf *) conf)->check,
                              err, errlen);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "http",
    .description = "check any URL: status, phase timings, body, headers, "
                   "TLS expiry",
    .kind = OUTPOST_INPUT,
    .flags = OUTPOST_PLUGIN_ASYNC,
    .options = http_options,
    .conf_size = sizeof(struct http_conf),
    .init = http_init,
    .collect = http_collect,
    .shutdown = http_shutdown,
    .validate = http_validate,
};
