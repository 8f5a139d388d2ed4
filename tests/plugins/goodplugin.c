/*
 * goodplugin.c - a minimal, valid input module for the registry tests.
 */
#include <stddef.h>
#include <outpost/plugin.h>

struct good_conf {
    char    *greeting;
    int64_t  count;
};

static const outpost_option_t good_options[] = {
    { .name = "greeting", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct good_conf, greeting), .def = "hello",
      .help = "what to say" },
    { .name = "count", .type = OUTPOST_OPT_INT,
      .offset = offsetof(struct good_conf, count), .def = "1",
      .min = 1, .max = 10, .help = "how often" },
    OUTPOST_OPTION_END
};

static int
good_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    (void) inst;
    (void) run;
    return OUTPOST_RUN_DONE;
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "goodplugin",
    .description = "does nothing, correctly",
    .kind = OUTPOST_INPUT,
    .options = good_options,
    .conf_size = sizeof(struct good_conf),
    .collect = good_collect,
};
