/*
 * test_config.c - config_load: values, defaults, drop-ins, secrets, and
 * every problem reported as FILE:LINE: message.
 *
 * Each test writes its config files into a fresh temporary directory; in
 * expected messages '@' stands for that directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "config.h"
#include "tmpdir.h"

/* --- static test plugins ----------------------------------------------- */

struct probe_conf {
    char              *url;
    int64_t            retries;
    double             ratio;
    int                verbose;
    int64_t            wait_ms;
    char              *token;
    outpost_strlist_t  headers;
    outpost_intlist_t  codes;
    char              *mode;
    char              *pattern;
    char              *dir;
    outpost_strlist_t  send;
};

#define P(f) offsetof(struct probe_conf, f)

static const outpost_option_t probe_options[] = {
    { "url", OUTPOST_OPT_STRING, P(url), NULL, "where to look",
      OUTPOST_OPT_REQUIRED, 0, 0, NULL },
    { "retries", OUTPOST_OPT_INT, P(retries), "3", NULL, 0, 0, 10, NULL },
    { "ratio", OUTPOST_OPT_FLOAT, P(ratio), "0.5", NULL, 0, 0, 1, NULL },
    { "verbose", OUTPOST_OPT_BOOL, P(verbose), "false", NULL, 0, 0, 0, NULL },
    { "wait", OUTPOST_OPT_DURATION, P(wait_ms), "2s", NULL, 0, 100, 60000,
      NULL },
    { "token", OUTPOST_OPT_SECRET, P(token), NULL, "API token",
      OUTPOST_OPT_HEADER, 0, 0, NULL },
    { "headers", OUTPOST_OPT_STRLIST, P(headers), "{\"A: b\"}", NULL, 0, 0,
      0, NULL },
    { "codes", OUTPOST_OPT_INTLIST, P(codes), "{200, 204}", NULL, 0, 0, 0,
      NULL },
    { "mode", OUTPOST_OPT_ENUM, P(mode), "fast", NULL, 0, 0, 0, "fast|slow" },
    { "pattern", OUTPOST_OPT_STRING, P(pattern), NULL, NULL,
      OUTPOST_OPT_REGEX, 0, 0, NULL },
    { "dir", OUTPOST_OPT_STRING, P(dir), NULL, NULL, OUTPOST_OPT_PATH, 0, 0,
      NULL },
    { "send", OUTPOST_OPT_STRLIST, P(send), NULL, NULL, OUTPOST_OPT_HEADER,
      0, 0, NULL },
    OUTPOST_OPTION_END
};

struct gate_conf {
    int64_t           threshold;
    outpost_strlist_t notify;
};
struct sink_conf { char *path; };

static const outpost_option_t gate_options[] = {
    { "threshold", OUTPOST_OPT_INT, 0, "6", NULL, 0, 0, 0, NULL },
    { "notify", OUTPOST_OPT_STRLIST, offsetof(struct gate_conf, notify), NULL,
      NULL, OUTPOST_OPT_OUTPUTS, 0, 0, NULL },
    OUTPOST_OPTION_END
};

static const outpost_option_t sink_options[] = {
    { "path", OUTPOST_OPT_STRING, 0, "-", NULL, 0, 0, 0, NULL },
    OUTPOST_OPTION_END
};

static int
probe_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    (void) inst;
    (void) run;
    return OUTPOST_RUN_DONE;
}

static int
gate_process(outpost_instance_t *inst, outpost_record_t *rec,
             outpost_emitter_t *out)
{
    (void) inst;
    (void) rec;
    (void) out;
    return OUTPOST_PASS;
}

/* What the option table cannot say: a gate's threshold must be even. */
static int
gate_validate(const void *conf, char *err, size_t errlen)
{
    const struct gate_conf *g = conf;

    if (g->threshold % 2 == 0)
        return 0;
    snprintf(err, errlen, "threshold must be even, got %lld",
             (long long) g->threshold);
    return -1;
}

static outpost_result_t
sink_write(outpost_instance_t *inst, const outpost_batch_t *batch)
{
    (void) inst;
    (void) batch;
    return OUTPOST_OK;
}

/* A preset: its instances pick a vendor with the common option provider,
 * and one vendor needs what this config never gives it. */
static const char *const vendor_names[] = { "acme", "globex", "hooli",
                                            NULL };

struct vendor_conf { char *region; };

static const outpost_option_t vendor_options[] = {
    { "region", OUTPOST_OPT_STRING, offsetof(struct vendor_conf, region),
      NULL, "acme only", 0, 0, 0, NULL },
    OUTPOST_OPTION_END
};

static int
vendor_check(const void *conf, const char *provider, char *err,
             size_t errlen)
{
    const struct vendor_conf *v = conf;

    if (strcmp(provider, "hooli") != 0 && v->region != NULL
        && strcmp(provider, "acme") != 0) {
        snprintf(err, errlen, "region: ignored by provider %s\nregion: "
                 "really", provider);
        return 1;
    }
    if (strcmp(provider, "hooli") != 0)
        return 0;
    snprintf(err, errlen, "provider hooli needs an account");
    return -1;
}

static const outpost_plugin_t plugins[] = {
    { OUTPOST_PLUGIN_HEADER, .name = "probe", .kind = OUTPOST_INPUT,
      .description = "looks at things", .options = probe_options,
      .conf_size = sizeof(struct probe_conf), .collect = probe_collect },
    { OUTPOST_PLUGIN_HEADER, .name = "gate", .kind = OUTPOST_FILTER,
      .options = gate_options, .conf_size = sizeof(struct gate_conf),
      .process = gate_process, .validate = gate_validate },
    { OUTPOST_PLUGIN_HEADER, .name = "sink", .kind = OUTPOST_OUTPUT,
      .options = sink_options, .conf_size = sizeof(struct sink_conf),
      .write = sink_write },
    { OUTPOST_PLUGIN_HEADER, .name = "vendor", .kind = OUTPOST_INPUT,
      .options = vendor_options, .conf_size = sizeof(struct vendor_conf),
      .collect = probe_collect, .providers = vendor_names,
      .validate_provider = vendor_check },
};

/* --- fixture ----------------------------------------------------------- */

struct fixture {
    char             dir[64];
    char             path[128];   /* @/outpost.conf */
    struct registry *reg;
    struct diag      d;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    if (tmp_template(f->dir, sizeof(f->dir), "config") != 0
        || mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/outpost.conf", f->dir);
    f->reg = registry_new();
    for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++)
        if (registry_add(f->reg, &plugins[i], "test", &f->d) != 0)
            return -1;
    *state = f;
    return 0;
}

static int
rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    nftw(f->dir, rm, 8, FTW_DEPTH | FTW_PHYS);
    registry_free(f->reg);
    diag_free(&f->d);
    free(f);
    return 0;
}

/* s with every '@' replaced by the fixture's directory. */
static char *
at(const struct fixture *f, const char *s)
{
    size_t size;
    char *out = NULL;
    FILE *m = open_memstream(&out, &size);

    for (; *s; s++) {
        if (*s == '@')
            fputs(f->dir, m);
        else
            fputc(*s, m);
    }
    fclose(m);
    return out;
}

/* Writes @/name (directories included) with text, '@' expanded. */
static void
put(const struct fixture *f, const char *name, const char *text)
{
    char path[256], *body = at(f, text);
    char *slash;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    for (slash = strchr(path + strlen(f->dir) + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(body, fp);
    fclose(fp);
    free(body);
}

static struct config *
load(struct fixture *f)
{
    return config_load(f->path, f->reg, NULL, &f->d);
}

/* Loads and expects exactly these problems (NULL-terminated), in order. */
static void
expect(struct fixture *f, const char *const *want)
{
    struct config *c = load(f);
    size_t n = 0;

    while (want[n])
        n++;
    if (f->d.n != n)
        diag_print(&f->d, stderr);
    assert_null(c);
    assert_int_equal(f->d.n, n);
    for (size_t i = 0; i < n; i++) {
        char *w = at(f, want[i]);

        assert_string_equal(f->d.msgs[i], w);
        free(w);
    }
}

#define EXPECT(f, ...) expect((f), (const char *const[]) { __VA_ARGS__, NULL })

static const struct section *
section(const struct config *c, const char *plugin, const char *name)
{
    for (size_t i = 0; i < c->nsections; i++)
        if (strcmp(c->sections[i].plugin->name, plugin) == 0
            && strcmp(c->sections[i].instance, name) == 0)
            return &c->sections[i];
    fail_msg("no section %s \"%s\"", plugin, name);
    return NULL;
}

/* --- good configs ------------------------------------------------------ */

static void
test_good(void **state)
{
    struct fixture *f = *state;
    const struct probe_conf *a, *b;
    const struct section *s;
    struct config *c;
    char *want;

    setenv("OUTPOST_TEST_HOST", "crm.example.com", 1);
    setenv("OUTPOST_TEST_TOKEN", "tok-from-env", 1);
    put(f, "secret.txt", "tok-from-file\n");
    put(f, "api.token", "api-token\n");
    put(f, "outpost.conf",
        "# globals\n"
        "interval = \"15s\"\n"
        "state_dir = \"state\"\n"
        "log_level = \"debug\"  log_format = \"text\"\n"
        "api { listen = \"[::1]:9999\" token_file = \"api.token\" }\n"
        "probe \"a\" {\n"
        "  url = \"https://${OUTPOST_TEST_HOST}/health\"\n"
        "  retries = 7\n"
        "  ratio = 0.25\n"
        "  verbose = true\n"
        "  wait = \"1.5s\"\n"
        "  token_env = \"OUTPOST_TEST_TOKEN\"\n"
        "  headers = {\"X-A: 1\", \"X-B: 2\"}\n"
        "  codes = {200}\n"
        "  mode = \"slow\"\n"
        "  interval = \"5m\"  timeout = \"2s\"\n"
        "  tags = {\"team=payments\", \"env=prod\"}\n"
        "  failover_group = \"checkout\" priority = 2 weight = 0.5\n"
        "}\n");
    put(f, "conf.d/20-b.conf",
        "probe \"b\" {\n  url = \"http://b\"\n  token_file = \"@/secret.txt\"\n}\n");
    put(f, "conf.d/10-a.conf",
        "gate \"g\" { threshold = 8 match = {\"integration=pay*\"} }\n"
        "sink \"out\" { batch_size = 10 flush_interval = \"250ms\" }\n");
    put(f, "conf.d/README", "not a config\n");
    put(f, "conf.d/.hidden.conf", "nonsense {\n");

    c = load(f);
    diag_print(&f->d, stderr);
    assert_non_null(c);
    assert_int_equal(f->d.n, 0);

    assert_int_equal(c->interval_ms, 15000);
    assert_int_equal(c->timeout_ms, 10000);
    assert_int_equal(c->log_level, OUTPOST_LOG_DEBUG);
    assert_int_equal(c->log_format, LOG_FORMAT_TEXT);
    assert_null(c->plugin_dir);
    want = at(f, "@/state");
    assert_string_equal(c->state_dir, want);
    free(want);
    want = at(f, "@/conf.d");
    assert_string_equal(c->conf_dir, want);
    free(want);
    want = at(f, "@/api.token");
    assert_string_equal(c->api_token_file, want);
    free(want);
    assert_string_equal(c->api_listen, "[::1]:9999");

    /* outpost.conf first, then conf.d in name order. */
    assert_int_equal(c->nsections, 4);
    assert_string_equal(c->sections[0].instance, "a");
    assert_string_equal(c->sections[1].instance, "g");
    assert_string_equal(c->sections[2].instance, "out");
    assert_string_equal(c->sections[3].instance, "b");
    assert_string_equal(c->sections[0].file, f->path);
    assert_int_equal(c->sections[0].line, 6);
    assert_int_equal(c->sections[2].line, 2);

    s = section(c, "probe", "a");
    a = s->conf;
    assert_string_equal(a->url, "https://crm.example.com/health");
    assert_int_equal(a->retries, 7);
    assert_true(a->ratio == 0.25);
    assert_int_equal(a->verbose, 1);
    assert_int_equal(a->wait_ms, 1500);
    assert_string_equal(a->token, "tok-from-env");
    assert_int_equal(a->headers.n, 2);
    assert_string_equal(a->headers.v[1], "X-B: 2");
    assert_int_equal(a->codes.n, 1);
    assert_int_equal(a->codes.v[0], 200);
    assert_string_equal(a->mode, "slow");
    assert_int_equal(s->common.interval_ms, 300000);
    assert_int_equal(s->common.timeout_ms, 2000);
    assert_int_equal(s->common.tags.n, 2);
    assert_string_equal(s->common.tags.v[0], "team=payments");
    assert_string_equal(s->common.failover_group, "checkout");
    assert_int_equal(s->common.priority, 2);
    assert_true(s->common.weight == 0.5);

    /* Defaults, and a secret from a file without its newline. */
    s = section(c, "probe", "b");
    b = s->conf;
    assert_int_equal(b->retries, 3);
    assert_true(b->ratio == 0.5);
    assert_int_equal(b->verbose, 0);
    assert_int_equal(b->wait_ms, 2000);
    assert_string_equal(b->token, "tok-from-file");
    assert_int_equal(b->headers.n, 1);
    assert_string_equal(b->headers.v[0], "A: b");
    assert_int_equal(b->codes.n, 2);
    assert_int_equal(b->codes.v[1], 204);
    assert_string_equal(b->mode, "fast");
    assert_int_equal(s->common.interval_ms, 0);   /* the global one */
    assert_int_equal(s->common.priority, 0);
    assert_true(s->common.weight == 1.0);
    assert_null(s->common.category);
    want = at(f, "@/conf.d/20-b.conf");
    assert_string_equal(s->file, want);
    free(want);
    assert_int_equal(s->line, 1);

    s = section(c, "gate", "g");
    assert_int_equal(((struct gate_conf *) s->conf)->threshold, 8);
    assert_int_equal(s->common.match.n, 1);
    assert_string_equal(s->common.match.v[0], "integration=pay*");

    s = section(c, "sink", "out");
    assert_string_equal(((struct sink_conf *) s->conf)->path, "-");
    assert_int_equal(s->common.batch_size, 10);
    assert_int_equal(s->common.flush_interval_ms, 250);
    assert_int_equal(s->common.queue_limit, 100000);
    assert_int_equal(s->common.retry_initial_ms, 500);
    assert_int_equal(s->common.retry_max_ms, 60000);
    assert_int_equal(s->common.spill_after_ms, 10000);
    assert_int_equal(s->common.disk_limit_mb, 1024);
    config_free(c);
}

static void
test_defaults(void **state)
{
    struct fixture *f = *state;
    struct config *c;
    const struct probe_conf *p;

    /* An empty outpost.conf and no conf.d: every global at its default. */
    put(f, "outpost.conf", "");
    c = load(f);
    assert_non_null(c);
    assert_int_equal(c->interval_ms, 30000);
    assert_int_equal(c->timeout_ms, 10000);
    assert_string_equal(c->state_dir, "/var/lib/outpost");
    assert_string_equal(c->api_listen, "127.0.0.1:8003");
    assert_null(c->api_token_file);
    assert_true(c->api_enabled);
    assert_false(c->api_require_token);
    assert_int_equal(c->api_max_body, 65536);
    assert_int_equal(c->api_connection_timeout_ms, 10000);
    assert_null(c->api_tls_cert_file);
    assert_int_equal(c->log_level, OUTPOST_LOG_INFO);
    assert_int_equal(c->log_format, LOG_FORMAT_JSON);
    assert_int_equal(c->nsections, 0);
    config_free(c);

    /* A conf.d without any *.conf is fine too. */
    put(f, "conf.d/README", "nothing here\n");
    c = load(f);
    assert_non_null(c);
    assert_int_equal(c->nsections, 0);
    config_free(c);

    /* An explicit empty list replaces the default one. */
    put(f, "outpost.conf", "probe \"p\" { url = \"u\" codes = {} }\n");
    c = load(f);
    assert_non_null(c);
    p = c->sections[0].conf;
    assert_int_equal(p->codes.n, 0);
    assert_null(p->token);
    config_free(c);
}

static void
test_plugin_dir(void **state)
{
    struct fixture *f = *state;

    /* plugin_dir is read before the sections of the same file: goodplugin
     * is known, and badabi in the same directory is the only problem. */
    put(f, "outpost.conf",
        "plugin_dir = \"" TEST_PLUGIN_DIR "\"\n"
        "goodplugin \"g\" { count = 3 }\n");
    EXPECT(f, TEST_PLUGIN_DIR "/badabi.so: plugin 'badabi' was built for ABI "
           "version 99, this outpostd has ABI version 1.3; rebuild it against "
           "this SDK");
    assert_non_null(registry_find(f->reg, "goodplugin"));
}

/* --- problems ---------------------------------------------------------- */

static void
test_unknown_option(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "probe \"crm\" {\n  url = \"x\"\n  urll = \"y\"\n}\n");
    EXPECT(f, "@/outpost.conf:3: unknown option 'urll' in probe \"crm\"; "
           "did you mean 'url'?");
}

static void
test_wrong_type(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "probe \"x\" { url = \"u\"\n"
        "  retries = \"high\"\n"
        "  ratio = \"abc\"\n"
        "  verbose = \"maybe\"\n"
        "  tags = {\"team=a\",\n \"foo\"\n}\n"
        "  codes = {200, \"ok\"}\n"
        "}\n");
    EXPECT(f,
           "@/outpost.conf:2: option 'retries' in probe \"x\": expected an "
           "integer, got \"high\"",
           "@/outpost.conf:3: option 'ratio' in probe \"x\": expected a "
           "number, got \"abc\"",
           "@/outpost.conf:4: option 'verbose' in probe \"x\": expected true "
           "or false, got \"maybe\"",
           "@/outpost.conf:6: option 'tags' in probe \"x\": expected "
           "\"key=value\", got \"foo\"",
           "@/outpost.conf:8: option 'codes' in probe \"x\": expected an "
           "integer, got \"ok\"");
}

static void
test_bad_duration(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "probe \"crm\" {\n  url = \"u\"\n  interval = \"5 parsecs\"\n}\n");
    EXPECT(f, "@/outpost.conf:3: option 'interval' in probe \"crm\": invalid "
           "duration \"5 parsecs\" (use e.g. 500ms, 30s, 5m, 1h, 90d)");
}

static void
test_plugin_validate(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf", "gate \"g1\" { }\n\ngate \"g2\" {\n"
        "  threshold = 7\n}\n");
    /* At the line of the option the plugin names, not the section's. */
    EXPECT(f, "@/outpost.conf:4: gate \"g2\": threshold must be even, "
           "got 7");
}

static void
test_providers(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "vendor \"acme\" { }\n"
        "vendor \"eu\" { provider = \"globex\" }\n"
        "vendor \"x\" { provider = \"initech\" }\n"
        "vendor \"acme-2\" {\n  tier = \"basic\"\n}\n"
        "vendor \"h\" { provider = \"hooli\" }\n");
    EXPECT(f, "@/outpost.conf:3: option 'provider' in vendor \"x\": "
           "\"initech\" is not one of acme, globex, hooli",
           "@/outpost.conf:4: vendor \"acme-2\": no provider set, and the "
           "instance's name is not one: set provider = one of acme, globex, "
           "hooli",
           "@/outpost.conf:7: vendor \"h\": provider hooli needs an account");
}

static void
test_unknown_plugin(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "interval = \"10s\"\n\nprob \"a\" {\n  url = \"x\"\n  codes = {1}\n}\n"
        "probe \"b\" { url = \"x\" retries = 99 }\n");
    EXPECT(f, "@/outpost.conf:3: unknown plugin 'prob' (loaded: gate, probe, "
           "sink, vendor); did you mean 'probe'?",
           "@/outpost.conf:7: option 'retries' in probe \"b\": 99 is out of "
           "range (0..10)");
}

/* libconfuse frees a section named "root" as it frees a root: it resets
 * its lexer. Repeating one must not end the file there. */
static void
test_unknown_root(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "root \"x\" { a = 1 }\nroot \"x\" { }\n"
        "probe \"b\" { retries = 99 }\n");
    EXPECT(f, "@/outpost.conf:1: unknown plugin 'root' (loaded: gate, probe, "
           "sink, vendor)",
           "@/outpost.conf:2: unknown plugin 'root' (loaded: gate, probe, "
           "sink, vendor)",
           "@/outpost.conf:3: option 'retries' in probe \"b\": 99 is out of "
           "range (0..10)",
           "@/outpost.conf:3: missing required option 'url' in probe \"b\"");
}

static void
test_duplicate(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "# one\nprobe \"crm\" { url = \"a\" }\n"
        "probe \"crm\" {\n url = \"b\" }\n");
    put(f, "conf.d/10.conf",
        "\n\nprobe \"crm\" {\n  url = \"c\"\n}\nsink \"crm\" { }\n");
    EXPECT(f, "@/outpost.conf:3: duplicate instance probe \"crm\" (first "
           "defined at @/outpost.conf:2)",
           "@/conf.d/10.conf:3: duplicate instance probe \"crm\" (first "
           "defined at @/outpost.conf:2)");
}

static void
test_secrets(void **state)
{
    struct fixture *f = *state;

    unsetenv("OUTPOST_TEST_UNSET_VAR");
    put(f, "outpost.conf",
        "probe \"e\" { url = \"u\" token_env = \"OUTPOST_TEST_UNSET_VAR\" }\n"
        "probe \"f\" { url = \"u\"\n  token_file = \"/nonexistent/secret\" }\n"
        "probe \"g\" { url = \"u\" token = \"t\"\n  token_env = \"PATH\" }\n");
    EXPECT(f, "@/outpost.conf:1: option 'token_env' in probe \"e\": "
           "environment variable OUTPOST_TEST_UNSET_VAR is not set",
           "@/outpost.conf:3: option 'token_file' in probe \"f\": cannot read "
           "/nonexistent/secret: No such file or directory",
           "@/outpost.conf:5: option 'token_env' in probe \"g\": only one of "
           "token, token_env, token_file may be set");
}

static void
test_required_range_enum(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "probe \"x\" {\n"
        "  retries = 50\n"
        "  wait = \"2m\"\n"
        "  ratio = 1.5\n"
        "  mode = \"medium\"\n"
        "}\n"
        "probe \"y\" { token_file = \"/nonexistent\" url = \"u\" }\n");
    EXPECT(f, "@/outpost.conf:1: missing required option 'url' in probe \"x\"",
           "@/outpost.conf:2: option 'retries' in probe \"x\": 50 is out of "
           "range (0..10)",
           "@/outpost.conf:3: option 'wait' in probe \"x\": 2m is out of range "
           "(100ms..1m)",
           "@/outpost.conf:4: option 'ratio' in probe \"x\": 1.5 is out of "
           "range (0..1)",
           "@/outpost.conf:5: option 'mode' in probe \"x\": expected one of "
           "fast|slow, got \"medium\"",
           "@/outpost.conf:7: option 'token_file' in probe \"y\": cannot read "
           "/nonexistent: No such file or directory");
}

static void
test_globals(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "intervall = \"5s\"\n"
        "log_level = \"loud\"\n"
        "timeout = \"0s\"\n"
        "api {\n  listn = \"x\"\n}\n");
    put(f, "conf.d/10.conf", "probe \"p\" { url = \"u\" }\ninterval = \"5s\"\n"
        "api { listen = \"127.0.0.1:1\" }\n");
    EXPECT(f, "@/outpost.conf:1: unknown option 'intervall'; did you mean "
           "'interval'?",
           "@/outpost.conf:2: option 'log_level': expected one of "
           "debug|info|warn|error, got \"loud\"",
           "@/outpost.conf:3: option 'timeout': 0s is out of range "
           "(1ms..365d)",
           "@/outpost.conf:5: unknown option 'listn' in api; did you mean "
           "'listen'?",
           "@/conf.d/10.conf:2: option 'interval' is a global setting: set it "
           "in @/outpost.conf, not in a conf_dir file",
           "@/conf.d/10.conf:3: section 'api' is a global setting: set it in "
           "@/outpost.conf, not in a conf_dir file");
}

static void
test_missing_files(void **state)
{
    struct fixture *f = *state;
    char *want;

    snprintf(f->path, sizeof(f->path), "%s/nope.conf", f->dir);
    assert_null(load(f));
    assert_int_equal(f->d.n, 1);
    want = at(f, "@/nope.conf: cannot read config file: No such file or "
              "directory");
    assert_string_equal(f->d.msgs[0], want);
    free(want);
    diag_free(&f->d);

    snprintf(f->path, sizeof(f->path), "%s/outpost.conf", f->dir);
    put(f, "outpost.conf", "# conf_dir\nconf_dir = \"/nonexistent/conf.d\"\n");
    EXPECT(f, "@/outpost.conf:2: cannot read conf_dir /nonexistent/conf.d: No "
           "such file or directory");
}

/* Many problems, in several files, all in one run. */
static void
test_many(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "probe \"a\" {\n"
        "  url = \"u\"\n"
        "  codez = {1, 2}\n"
        "  retries = \"x\"\n"
        "}\n"
        "prob \"b\" { }\n"
        "sink \"s\" { batch_size = 0 pth = \"p\" }\n"
        "gate \"g\" { threshold = 1 }\n");
    put(f, "conf.d/10-syntax.conf", "probe \"c\" {\n  url = \"u\"\n  retries = }\n"
        "probe \"d\" { retries = 100 }\n");
    put(f, "conf.d/20-more.conf", "probe \"a\" { url = \"u\" }\n"
        "gate \"h\" { threshold = \"many\" matchh = \"x\" }\n");
    EXPECT(f, "@/outpost.conf:3: unknown option 'codez' in probe \"a\"; did you "
           "mean 'codes'?",
           "@/outpost.conf:4: option 'retries' in probe \"a\": expected an "
           "integer, got \"x\"",
           "@/outpost.conf:6: unknown plugin 'prob' (loaded: gate, probe, "
           "sink, vendor); did you mean 'probe'?",
           "@/outpost.conf:7: option 'batch_size' in sink \"s\": 0 is out of "
           "range (1..1000000)",
           "@/outpost.conf:7: unknown option 'pth' in sink \"s\"; did you mean "
           "'path'?",
           /* Every plugin checks its sections, problems elsewhere or not. */
           "@/outpost.conf:8: gate \"g\": threshold must be even, got 1",
           "@/conf.d/10-syntax.conf:3: unexpected token '}'",
           "@/conf.d/20-more.conf:1: duplicate instance probe \"a\" (first "
           "defined at @/outpost.conf:1)",
           "@/conf.d/20-more.conf:2: option 'threshold' in gate \"h\": "
           "expected an integer, got \"many\"",
           "@/conf.d/20-more.conf:2: unknown option 'matchh' in gate \"h\"; did "
           "you mean 'match'?");
}

/* libconfuse 3.3 miscounts lines after comments and refuses them inside
 * lists; neither may show. A '#' or '//' inside quotes is no comment. */
static void
test_comments(void **state)
{
    struct fixture *f = *state;
    struct config *c;
    const struct probe_conf *p;

    put(f, "outpost.conf",
        "# a comment\n"
        "// another\n"
        "/* and a\n   long one */\n"
        "probe \"p\" {   # the probe\n"
        "  url = \"http://example.com/#top\"  // trailing\n"
        "  headers = {\"A: #1\",  # first\n"
        "             'B: //2'}\n"
        "}\n");
    c = load(f);
    diag_print(&f->d, stderr);
    assert_non_null(c);
    assert_int_equal(c->sections[0].line, 5);
    p = c->sections[0].conf;
    assert_string_equal(p->url, "http://example.com/#top");
    assert_int_equal(p->headers.n, 2);
    assert_string_equal(p->headers.v[0], "A: #1");
    assert_string_equal(p->headers.v[1], "B: //2");
    config_free(c);

    put(f, "outpost.conf",
        "# one\n# two\n/* three\n four */\nprobe \"q\" { url = \"u\" }\n"
        "# six\nprobe \"q\" {\n  retries = 11 # eight\n}\n");
    EXPECT(f, "@/outpost.conf:7: duplicate instance probe \"q\" (first "
           "defined at @/outpost.conf:5)",
           "@/outpost.conf:8: option 'retries' in probe \"q\": 11 is out of "
           "range (0..10)");
}

/* Text of n sections `probe "<prefix>NNNN" { url = "u/NNNN" }`, one a line
 * (two a section when split), then extra. */
static char *
many_sections(const char *prefix, int n, int split, const char *extra)
{
    char *text = NULL;
    size_t size;
    FILE *m = open_memstream(&text, &size);

    for (int i = 0; i < n; i++)
        fprintf(m, "probe \"%s%04d\" {%s url = \"u/%d\" }\n", prefix, i,
                split ? "\n" : "", i);
    fputs(extra, m);
    fclose(m);
    return text;
}

/* Thousands of sections load in config order with their lines, and a
 * duplicate among them is still found, in its file and across files. */
static void
test_many_sections(void **state)
{
    struct fixture *f = *state;
    const struct section *s;
    struct config *c;
    char *text, *want;

    text = many_sections("p", 3000, 0, "");
    put(f, "outpost.conf", text);
    free(text);
    text = many_sections("q", 3000, 1, "");
    put(f, "conf.d/10.conf", text);
    free(text);
    c = load(f);
    diag_print(&f->d, stderr);
    assert_non_null(c);
    assert_int_equal(c->nsections, 6000);
    s = &c->sections[1234];
    assert_string_equal(s->instance, "p1234");
    assert_int_equal(s->line, 1235);
    assert_string_equal(((struct probe_conf *) s->conf)->url, "u/1234");
    s = &c->sections[3000 + 2999];
    assert_string_equal(s->instance, "q2999");
    assert_int_equal(s->line, 2 * 2999 + 1);
    want = at(f, "@/conf.d/10.conf");
    assert_string_equal(s->file, want);
    free(want);
    config_free(c);

    text = many_sections("p", 3000, 0, "probe \"p2500\" { url = \"x\" }\n");
    put(f, "outpost.conf", text);
    free(text);
    text = many_sections("q", 3000, 1, "sink \"p0007\" { }\n"
                         "probe \"q0042\" { url = \"x\" }\n"
                         "probe \"p0007\" { url = \"x\" }\n");
    put(f, "conf.d/10.conf", text);
    free(text);
    EXPECT(f, "@/outpost.conf:3001: duplicate instance probe \"p2500\" "
           "(first defined at @/outpost.conf:2501)",
           "@/conf.d/10.conf:6002: duplicate instance probe \"q0042\" "
           "(first defined at @/conf.d/10.conf:85)",
           "@/conf.d/10.conf:6003: duplicate instance probe \"p0007\" "
           "(first defined at @/outpost.conf:8)");
}

/* --- what must never crash or hang the agent --------------------------- */

static char *
repeat(const char *a, int n, const char *mid, const char *b)
{
    char *text = NULL;
    size_t size;
    FILE *m = open_memstream(&text, &size);

    for (int i = 0; i < n; i++)
        fputs(a, m);
    fputs(mid, m);
    for (int i = 0; i < n; i++)
        fputs(b, m);
    fclose(m);
    return text;
}

/* Every pattern is bounded before regcomp or fnmatch sees it: 30,000
 * nested groups overflowed the stack in regcomp. */
static void
test_patterns(void **state)
{
    struct fixture *f = *state;
    char *deep = repeat("(", 30000, "a", ")");
    char *nested = repeat("(", 40, "a", ")");
    char *text;

    assert_true(asprintf(&text,
        "probe \"a\" { url = \"u\" pattern = \"%s\" }\n"
        "probe \"b\" { url = \"u\" pattern = \"%s\" }\n"
        "probe \"c\" { url = \"u\" pattern = \"((a{200}){200})\" }\n"
        "probe \"d\" { url = \"u\" pattern = '(a)\\1' }\n"
        "probe \"e\" { url = \"u\" pattern = \"a(\" }\n"
        "probe \"f\" { url = \"u\" pattern = \"a{999}\" }\n"
        "probe \"ok\" { url = \"u\" pattern = \"^[a-z]{2,5}(x|[[:digit:]])+$\" }\n"
        "probe \"g\" { url = \"u\" pattern = \"(a{200}){,200}\" }\n"
        "gate \"g\" { match = {\"integration=*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*\"} }\n"
        "gate \"h\" { match = {\"integration=*pay*\"} }\n",
        deep, nested) > 0);
    put(f, "outpost.conf", text);
    free(text);
    free(deep);
    free(nested);
    EXPECT(f, "@/outpost.conf:1: option 'pattern' in probe \"a\": regex: "
           "longer than 1024 bytes",
           "@/outpost.conf:2: option 'pattern' in probe \"b\": regex: groups "
           "nested deeper than 32",
           "@/outpost.conf:3: option 'pattern' in probe \"c\": regex: expands "
           "to more than 20000 atoms (repeat counts multiply)",
           "@/outpost.conf:4: option 'pattern' in probe \"d\": regex: "
           "back-reference \\1: not supported (matching one can take "
           "exponential time)",
           "@/outpost.conf:5: option 'pattern' in probe \"e\": regex: "
           "Unmatched ( or \\(",
           "@/outpost.conf:6: option 'pattern' in probe \"f\": regex: repeat "
           "count 999 is over 255",
           "@/outpost.conf:8: option 'pattern' in probe \"g\": regex: expands "
           "to more than 20000 atoms (repeat counts multiply)",
           "@/outpost.conf:9: option 'match' in gate \"g\": glob "
           "\"integration=*a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*\": more than 16 "
           "'*'");
}

/* A FIFO, a directory or a device where a file is expected is refused
 * without reading it: reading a FIFO waits for a writer forever. */
static void
test_not_regular(void **state)
{
    struct fixture *f = *state;
    char path[256];

    put(f, "outpost.conf",
        "probe \"p\" { url = \"u\"\n  token_file = \"@/secret.fifo\" }\n"
        "probe \"q\" { url = \"u\" token_file = \"/dev/zero\" }\n");
    put(f, "conf.d/30-ok.conf", "probe \"r\" { url = \"u\" }\n");
    snprintf(path, sizeof(path), "%s/secret.fifo", f->dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(path, sizeof(path), "%s/conf.d/10-fifo.conf", f->dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(path, sizeof(path), "%s/conf.d/20-dir.conf", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    EXPECT(f, "@/outpost.conf:2: option 'token_file' in probe \"p\": cannot "
           "read @/secret.fifo: not a regular file",
           "@/outpost.conf:3: option 'token_file' in probe \"q\": cannot "
           "read /dev/zero: not a regular file",
           "@/conf.d/10-fifo.conf: cannot read config file: not a regular "
           "file",
           "@/conf.d/20-dir.conf: cannot read config file: not a regular "
           "file");

    /* The main file too. */
    diag_free(&f->d);
    snprintf(f->path, sizeof(f->path), "%s/main.fifo", f->dir);
    assert_int_equal(mkfifo(f->path, 0600), 0);
    EXPECT(f, "@/main.fifo: cannot read config file: not a regular file");
}

/* Writes @/name with len bytes of text (which may hold NUL bytes). */
static void
put_bytes(const struct fixture *f, const char *name, const char *text,
          size_t len)
{
    char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    fclose(fp);
}

/* What was accepted silently is an error at its line. */
static void
test_garbage(void **state)
{
    struct fixture *f = *state;
    static const char nul[] = "probe \"c\" { url = \"u\" }\n\0"
                              "probe \"d\" { retries = 99 }\n";

    unsetenv("OUTPOST_TEST_UNSET_VAR");
    put(f, "outpost.conf",
        "state_dir = \"\"\n"
        "probe \"a\" { url = \"u\" dir = \"\" }\n"
        "probe \"b\\x01\" { url = \"u\" }\n"
        "probe \"\" { url = \"u\" }\n"
        "probe \"e\" {\n  url = \"http://${OUTPOST_TEST_UNSET_VAR}/\"\n"
        "  send = {\"X-A: 1\\r\\nX-B: 2\"}\n}\n");
    put(f, "conf.d/05-x.conf", "probe \"x\" { url = \"u\" }\n");
    put_bytes(f, "conf.d/10-nul.conf", nul, sizeof(nul) - 1);
    put(f, "conf.d/20-utf.conf", "\nprobe \"caf\xe9\" { url = \"u\" }\n");
    put(f, "conf.d/30-quoted.conf",
        "probe \"f\" { url = \"u\" }\"\"\nprobe \"g\" { url = \"u\" }\n");
    put(f, "conf.d/40-quote.conf",
        "probe \"h\" { url = \"u\" }\nprobe \"i\" {\n  url = \"u\n"
        "  retries = \"3\"\n}\nprobe \"j\" { url = \"u\" }\n");
    put(f, "conf.d/50-brace.conf",
        "probe \"k\" { url = \"u\" }\nprobe \"l\" {\n  url = \"u\"\n\n"
        "probe \"m\" { url = \"u\" }\n");
    EXPECT(f, "@/outpost.conf:1: option 'state_dir': an empty path",
           "@/outpost.conf:2: option 'dir' in probe \"a\": an empty path",
           "@/outpost.conf:3: probe instance name: control character 0x01 "
           "at offset 1",
           "@/outpost.conf:4: probe \"\": an instance needs a name",
           "@/outpost.conf:6: environment variable OUTPOST_TEST_UNSET_VAR is "
           "not set (${OUTPOST_TEST_UNSET_VAR})",
           "@/outpost.conf:7: option 'send' in probe \"e\": control "
           "character 0x0d at offset 6 (a value cannot span lines here)",
           "@/conf.d/10-nul.conf:2: NUL byte: a config file is text",
           "@/conf.d/20-utf.conf:2: invalid UTF-8 (byte 0xe9): a config file "
           "is UTF-8 text",
           "@/conf.d/30-quoted.conf:1: expected an option or section name, "
           "got a quoted string",
           "@/conf.d/40-quote.conf:3: unclosed quote: this \" is not closed "
           "on its line (write \\n for a newline)",
           "@/conf.d/50-brace.conf:2: missing '}': this '{' is never closed");
}

/* Values the option table can judge, judged everywhere; an option set
 * twice is an error, not a silent override (a list appended to with +=
 * is not set twice; one given again with = is). */
static void
test_values(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "probe \"a\" {\n"
        "  url = \"u\"\n"
        "  tier = \"gold\"\n"
        "  priority = 2147483648\n"
        "  verbose = yes\n"
        "  url = \"v\"\n"
        "  tags = {\"a=1\"}\n"
        "  tags += {\"b=2\"}\n"
        "  tags = {\"c=3\"}\n"
        "}\n"
        "interval = \"5s\"\ninterval = \"6s\"\n"
        "api { listen = \"localhost\" }\n");
    EXPECT(f, "@/outpost.conf:3: option 'tier' in probe \"a\": expected one "
           "of basic|professional|enterprise, got \"gold\"",
           "@/outpost.conf:4: option 'priority' in probe \"a\": 2147483648 is "
           "out of range (-2147483647..2147483647)",
           "@/outpost.conf:5: option 'verbose' in probe \"a\": expected true "
           "or false, got \"yes\"",
           "@/outpost.conf:6: option 'url' in probe \"a\": set twice (first "
           "at line 2)",
           "@/outpost.conf:9: option 'tags' in probe \"a\": set twice (first "
           "at line 7)",
           "@/outpost.conf:12: option 'interval': set twice (first at line "
           "11)",
           "@/outpost.conf:13: option 'listen' in api: expected "
           "\"host:port\" (port 1..65535), got \"localhost\"");
}

/* state_dir is made when missing, but a file in its place would make
 * every save and spill fail at run time: -t says so at its line. */
static void
test_state_dir_not_a_directory(void **state)
{
    struct fixture *f = *state;

    put(f, "afile", "not a directory\n");
    put(f, "outpost.conf", "interval = \"5s\"\nstate_dir = \"afile\"\n");
    EXPECT(f, "@/outpost.conf:2: option 'state_dir': @/afile is not a "
           "directory");
}

/* A name that refers to another instance must name one, in any file. */
static void
test_references(void **state)
{
    struct fixture *f = *state;

    put(f, "outpost.conf",
        "gate \"g\" { notify = {\"out\", \"sink:out\", \"nope, sink:gone\",\n"
        "                     \"p\"} }\n"
        "probe \"p\" { url = \"u\"\n  tags = {\"notify=out,pager\"} }\n");
    put(f, "conf.d/10.conf", "sink \"out\" { }\n");
    EXPECT(f, "@/outpost.conf:1: option 'notify' in gate \"g\": no output "
           "instance \"nope\" in the config",
           "@/outpost.conf:1: option 'notify' in gate \"g\": no output "
           "instance \"sink:gone\" in the config",
           "@/outpost.conf:2: option 'notify' in gate \"g\": no output "
           "instance \"p\" in the config",
           "@/outpost.conf:4: option 'tags' in probe \"p\": no output "
           "instance \"pager\" in the config");
}

/* An option the chosen provider does not use is a warning at its line;
 * the config stays valid. */
static void
test_provider_warnings(void **state)
{
    struct fixture *f = *state;
    struct config *c;
    char *want;

    put(f, "outpost.conf",
        "vendor \"acme\" { region = \"eu\" }\n"
        "vendor \"globex\" {\n  tier = \"basic\"\n  region = \"eu\"\n}\n");
    c = load(f);
    diag_print(&f->d, stderr);
    assert_non_null(c);
    assert_int_equal(f->d.n, 0);
    assert_int_equal(f->d.nwarns, 2);
    want = at(f, "@/outpost.conf:4: warning: vendor \"globex\": region: "
              "ignored by provider globex");
    assert_string_equal(f->d.warns[0], want);
    free(want);
    want = at(f, "@/outpost.conf:4: warning: vendor \"globex\": region: "
              "really");
    assert_string_equal(f->d.warns[1], want);
    free(want);
    config_free(c);
}

/* A secret that goes into a header is checked wherever it comes from,
 * and never shown. */
static void
test_secret_text(void **state)
{
    struct fixture *f = *state;

    put(f, "s.txt", "tok\r\ninjected: 1\n");
    setenv("OUTPOST_TEST_CRLF", "tok\r\nx: 1", 1);
    put(f, "outpost.conf",
        "probe \"a\" { url = \"u\" token_file = \"@/s.txt\" }\n"
        "probe \"b\" { url = \"u\" token_env = \"OUTPOST_TEST_CRLF\" }\n"
        "probe \"c\" { url = \"u\" token = \"tok\\r\\nx: 1\" }\n");
    EXPECT(f, "@/outpost.conf:1: option 'token_file' in probe \"a\": the "
           "secret read from @/s.txt: holds a control character",
           "@/outpost.conf:2: option 'token_env' in probe \"b\": the secret "
           "read from OUTPOST_TEST_CRLF: holds a control character",
           "@/outpost.conf:3: option 'token' in probe \"c\": control "
           "character 0x0d at offset 3 (a value cannot span lines here)");
    unsetenv("OUTPOST_TEST_CRLF");
}

static void
test_describe(void **state)
{
    char *text = NULL;
    size_t size;
    FILE *m = open_memstream(&text, &size);

    (void) state;
    config_describe(&plugins[0], m);
    fclose(m);
    assert_non_null(strstr(text, "probe (input plugin)\n  looks at things\n"));
    assert_non_null(strstr(text, "  url                string, required\n"
                                 "                     where to look\n"));
    assert_non_null(strstr(text, "  retries            integer, default 3, "
                                 "0..10\n"));
    assert_non_null(strstr(text, "  wait               duration, default 2s, "
                                 "100ms..1m\n"));
    assert_non_null(strstr(text, "  token              secret (also "
                                 "token_env, token_file)\n"));
    assert_non_null(strstr(text, "  codes              list of integers, "
                                 "default {200, 204}\n"));
    assert_non_null(strstr(text, "  mode               one of fast|slow, "
                                 "default \"fast\"\n"));
    assert_non_null(strstr(text, "\ncommon input options:\n"));
    assert_non_null(strstr(text, "  interval           duration, 1ms..365d\n"));
    assert_non_null(strstr(text, "  weight             float, default 1, "
                                 "0..1e+06\n"));
    free(text);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_good),
        T(test_defaults),
        T(test_plugin_dir),
        T(test_unknown_option),
        T(test_wrong_type),
        T(test_bad_duration),
        T(test_unknown_plugin),
        T(test_plugin_validate),
        T(test_providers),
        T(test_duplicate),
        T(test_unknown_root),
        T(test_secrets),
        T(test_required_range_enum),
        T(test_globals),
        T(test_missing_files),
        T(test_many),
        T(test_comments),
        T(test_many_sections),
        T(test_patterns),
        T(test_not_regular),
        T(test_garbage),
        T(test_values),
        T(test_state_dir_not_a_directory),
        T(test_references),
        T(test_provider_warnings),
        T(test_secret_text),
        cmocka_unit_test(test_describe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
