/*
 * test_registry.c - loading plugin modules and refusing bad ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "registry.h"

static int
nop_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    (void) inst;
    (void) run;
    return OUTPOST_RUN_DONE;
}

static int
nop_process(outpost_instance_t *inst, outpost_record_t *rec,
            outpost_emitter_t *out)
{
    (void) inst;
    (void) rec;
    (void) out;
    return OUTPOST_PASS;
}

struct two { char *s; int64_t n; };

static const outpost_plugin_t twin = {
    OUTPOST_PLUGIN_HEADER, .name = "goodplugin", .kind = OUTPOST_INPUT,
    .collect = nop_collect,
};

struct fixture {
    struct registry *reg;
    struct diag      d;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || (f->reg = registry_new()) == NULL)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    registry_free(f->reg);
    diag_free(&f->d);
    free(f);
    return 0;
}

static void
test_load_good(void **state)
{
    struct fixture *f = *state;
    const outpost_plugin_t *p;

    /* Without and with the extension: one module, loaded once. */
    assert_int_equal(registry_load_file(f->reg, TEST_PLUGIN_DIR "/goodplugin",
                                        &f->d), 0);
    assert_int_equal(registry_load_file(f->reg,
                                        TEST_PLUGIN_DIR "/goodplugin.so",
                                        &f->d), 0);
    assert_int_equal(f->d.n, 0);
    assert_int_equal(registry_count(f->reg), 1);
    p = registry_find(f->reg, "goodplugin");
    assert_non_null(p);
    assert_ptr_equal(registry_at(f->reg, 0), p);
    assert_null(registry_at(f->reg, 1));
    assert_int_equal(p->kind, OUTPOST_INPUT);
    assert_string_equal(p->options[0].name, "greeting");
    assert_null(registry_find(f->reg, "badabi"));
}

static void
test_bad_abi(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(registry_load_file(f->reg, TEST_PLUGIN_DIR "/badabi",
                                        &f->d), -1);
    assert_int_equal(f->d.n, 1);
    assert_string_equal(f->d.msgs[0], TEST_PLUGIN_DIR "/badabi.so: plugin "
                        "'badabi' was built for ABI version 99, this outpostd "
                        "has ABI version 1.3; rebuild it against this SDK");
    assert_int_equal(registry_count(f->reg), 0);
}

static void
test_unknown_file(void **state)
{
    struct fixture *f = *state;
    const char *prefix = TEST_PLUGIN_DIR "/nosuchplugin: cannot load plugin: ";

    assert_int_equal(registry_load_file(f->reg, TEST_PLUGIN_DIR
                                        "/nosuchplugin", &f->d), -1);
    assert_int_equal(f->d.n, 1);
    assert_memory_equal(f->d.msgs[0], prefix, strlen(prefix));
    assert_true(strlen(f->d.msgs[0]) > strlen(prefix));
}

static void
test_duplicate_name(void **state)
{
    struct fixture *f = *state;

    /* A module after a built-in of the same name... */
    assert_int_equal(registry_add(f->reg, &twin, "twin", &f->d), 0);
    assert_int_equal(registry_load_file(f->reg, TEST_PLUGIN_DIR "/goodplugin",
                                        &f->d), -1);
    assert_int_equal(f->d.n, 1);
    assert_string_equal(f->d.msgs[0], TEST_PLUGIN_DIR "/goodplugin.so: plugin "
                        "'goodplugin' is already loaded from twin");
    /* ...and a second built-in. */
    assert_int_equal(registry_add(f->reg, &twin, "twin2", &f->d), -1);
    assert_int_equal(f->d.n, 2);
    assert_string_equal(f->d.msgs[1], "twin2: plugin 'goodplugin' is already "
                        "loaded from twin");
    assert_int_equal(registry_count(f->reg), 1);
}

static void
test_load_dir(void **state)
{
    struct fixture *f = *state;
    int n;

    /* badabi is refused, goodplugin (and any other test module) added; the
     * second time round the registered names are skipped without opening
     * the modules again. */
    n = registry_load_dir(f->reg, TEST_PLUGIN_DIR, &f->d);
    assert_true(n >= 1);
    assert_non_null(registry_find(f->reg, "goodplugin"));
    assert_null(registry_find(f->reg, "badabi"));
    assert_int_equal(registry_load_dir(f->reg, TEST_PLUGIN_DIR, &f->d), 0);
    assert_int_equal(registry_count(f->reg), (size_t) n);
    for (size_t i = 0; i < f->d.n; i++)
        assert_non_null(strstr(f->d.msgs[i], "badabi.so: plugin 'badabi'"));
    assert_int_equal(registry_load_dir(f->reg, "/nonexistent/plugins",
                                       &f->d), -1);
    assert_string_equal(f->d.msgs[f->d.n - 1], "/nonexistent/plugins: cannot "
                        "read plugin directory: No such file or directory");
}

/* Plugins that must be refused, each with the message that says why. */
static const outpost_option_t enum_without_choices[] = {
    { "mode", OUTPOST_OPT_ENUM, 0, NULL, NULL, 0, 0, 0, NULL },
    OUTPOST_OPTION_END
};
static const outpost_option_t bad_default[] = {
    { "wait", OUTPOST_OPT_DURATION, offsetof(struct two, n), "soon", NULL, 0,
      0, 0, NULL },
    OUTPOST_OPTION_END
};
static const outpost_option_t outside[] = {
    { "n", OUTPOST_OPT_INT, sizeof(struct two), NULL, NULL, 0, 0, 0, NULL },
    OUTPOST_OPTION_END
};
static const outpost_option_t common_clash[] = {
    { "interval", OUTPOST_OPT_INT, offsetof(struct two, n), NULL, NULL, 0, 0,
      0, NULL },
    OUTPOST_OPTION_END
};
static const outpost_option_t twice[] = {
    { "key", OUTPOST_OPT_SECRET, offsetof(struct two, s), NULL, NULL, 0, 0, 0,
      NULL },
    { "key_env", OUTPOST_OPT_STRING, offsetof(struct two, s), NULL, NULL, 0,
      0, 0, NULL },
    OUTPOST_OPTION_END
};

#define PLUGIN(nm, k, ...) \
    { OUTPOST_PLUGIN_HEADER, .name = nm, .kind = k, \
      .conf_size = sizeof(struct two), __VA_ARGS__ }

static const struct {
    outpost_plugin_t p;
    const char      *msg;
} refused[] = {
    { { .abi_version = OUTPOST_ABI_VERSION, .struct_size = 8, .name = "old" },
      "t: plugin '?' has struct_size 8, not between "
      "%zu (ABI version 1.0) and 4096; rebuild it against this SDK" },
    { PLUGIN(NULL, OUTPOST_INPUT, .collect = nop_collect),
      "t: the plugin's name is missing or is not letters, digits, '_' and "
      "'-'" },
    { PLUGIN("api", OUTPOST_INPUT, .collect = nop_collect),
      "t: plugin name 'api' is reserved for the core's own settings" },
    { PLUGIN("k", (outpost_kind_t) 7, .collect = nop_collect),
      "t: plugin 'k' has invalid kind 7 (expected input, filter or output)" },
    { PLUGIN("in", OUTPOST_INPUT, .process = nop_process),
      "t: plugin 'in' is an input but has no collect callback" },
    { PLUGIN("fi", OUTPOST_FILTER, .collect = nop_collect),
      "t: plugin 'fi' is a filter but has no process callback" },
    { PLUGIN("out", OUTPOST_OUTPUT, .collect = nop_collect),
      "t: plugin 'out' is an output but has no write callback" },
    { PLUGIN("e", OUTPOST_FILTER, .process = nop_process,
             .options = enum_without_choices),
      "t: plugin 'e': option 'mode': an enum needs choices" },
    { PLUGIN("d", OUTPOST_FILTER, .process = nop_process,
             .options = bad_default),
      "t: plugin 'd': option 'wait': default soon: invalid duration \"soon\" "
      "(use e.g. 500ms, 30s, 5m, 1h, 90d)" },
    { PLUGIN("o", OUTPOST_FILTER, .process = nop_process, .options = outside),
      "t: plugin 'o': option 'n': offset 16 is outside the conf block "
      "(conf_size 16)" },
    { PLUGIN("c", OUTPOST_INPUT, .collect = nop_collect,
             .options = common_clash),
      "t: plugin 'c': option 'interval': 'interval' is defined twice or is a "
      "common option" },
    { PLUGIN("tw", OUTPOST_FILTER, .process = nop_process, .options = twice),
      "t: plugin 'tw': option 'key_env': 'key_env' is defined twice or is a "
      "common option" },
};

static const char *const two[] = { "a", "b", NULL };

static void
test_check_abi(void **state)
{
    char err[1024], want[1024];
    outpost_plugin_t v10 = PLUGIN("v10", OUTPOST_INPUT,
                                  .collect = nop_collect, .providers = two);
    outpost_plugin_t v11 = v10;

    (void) state;
    /* ABI 1.0 ended before providers: such a plugin loads, and the core
     * does not read past its struct. */
    v10.struct_size = offsetof(outpost_plugin_t, providers);
    assert_int_equal(registry_check_abi(&v10, "t", err, sizeof(err)), 0);
    assert_null(registry_providers(&v10));
    assert_null(registry_validate_provider(&v10));
    assert_ptr_equal(registry_providers(&v11), two);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(want, sizeof(want), refused[i].msg,
                 offsetof(outpost_plugin_t, providers));
        assert_int_equal(registry_check_abi(&refused[i].p, "t", err,
                                            sizeof(err)), -1);
        assert_string_equal(err, want);
    }
    assert_int_equal(registry_check_abi(&twin, "t", err, sizeof(err)), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_abi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_dir, setup, teardown),
        cmocka_unit_test(test_check_abi),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
