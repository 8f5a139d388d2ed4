/*
 * The plugin ABI version check beyond the major version (test_registry
 * covers a plugin built for another major, tests/plugins/badabi.c): a
 * plugin built for a newer minor loads while it leaves the fields this
 * core does not know zero, and is refused, naming both sizes and the
 * core's version, once it sets one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <outpost/plugin.h>
#include "registry.h"

static int
nop_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    (void) inst;
    (void) run;
    return OUTPOST_RUN_DONE;
}

/* outpost_plugin_t as a later minor might append to it. */
struct newer_plugin {
    outpost_plugin_t p;
    void           (*later_callback)(void);
    uint64_t         later_flags;
};

static void
later(void)
{
}

static void
test_newer_minor(void **state)
{
    struct newer_plugin n = {
        .p = { OUTPOST_PLUGIN_HEADER, .name = "newer",
               .kind = OUTPOST_INPUT, .collect = nop_collect },
    };
    char err[512], want[512];

    (void) state;
    n.p.struct_size = sizeof(n);
    /* Built against newer headers but using nothing new: loads. */
    assert_int_equal(registry_check_abi(&n.p, "t", err, sizeof(err)), 0);

    n.later_callback = later;
    assert_int_equal(registry_check_abi(&n.p, "t", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "t: plugin 'newer' sets fields that ABI "
             "version %d.%d does not have (its struct_size is %zu, this "
             "outpostd knows %zu): it needs a newer outpostd",
             OUTPOST_ABI_VERSION, OUTPOST_ABI_MINOR, sizeof(n),
             sizeof(outpost_plugin_t));
    assert_string_equal(err, want);

    n.later_callback = NULL;
    n.later_flags = 1ull << 63;             /* the last byte counts too */
    assert_int_equal(registry_check_abi(&n.p, "t", err, sizeof(err)), -1);
    n.later_flags = 0;
    assert_int_equal(registry_check_abi(&n.p, "t", err, sizeof(err)), 0);

    /* A struct_size no struct has is refused before anything is read. */
    n.p.struct_size = 1u << 20;
    assert_int_equal(registry_check_abi(&n.p, "t", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "has struct_size 1048576, not between"));
}

static void
test_version_macros(void **state)
{
    outpost_plugin_t p = { OUTPOST_PLUGIN_HEADER };
    char err[512], want[512];

    (void) state;
    assert_int_equal(p.abi_version, OUTPOST_ABI_VERSION);
    assert_int_equal(p.struct_size, sizeof(outpost_plugin_t));
    /* option_examples is the 1.3 field, and the last. */
    assert_true(OUTPOST_ABI_MINOR >= 3);
    assert_int_equal(sizeof(outpost_plugin_t),
                     offsetof(outpost_plugin_t, option_examples)
                     + sizeof(p.option_examples));
    /* A plugin for another major names both versions. */
    p.abi_version = OUTPOST_ABI_VERSION + 1;
    p.name = "next";
    assert_int_equal(registry_check_abi(&p, "m.so", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "m.so: plugin 'next' was built for ABI "
             "version %d, this outpostd has ABI version %d.%d; rebuild it "
             "against this SDK", OUTPOST_ABI_VERSION + 1,
             OUTPOST_ABI_VERSION, OUTPOST_ABI_MINOR);
    assert_string_equal(err, want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newer_minor),
        cmocka_unit_test(test_version_macros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
