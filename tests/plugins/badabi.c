/*
 * badabi.c - a module built for another ABI version: the registry must
 * refuse it and say so.
 */
#include <outpost/plugin.h>

static int
bad_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    (void) inst;
    (void) run;
    return OUTPOST_RUN_DONE;
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    .abi_version = 99,
    .struct_size = sizeof(outpost_plugin_t),
    .name = "badabi",
    .kind = OUTPOST_INPUT,
    .collect = bad_collect,
};
