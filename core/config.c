/*
 * config.c - outpost.conf, then every *.conf in conf_dir in name order,
 * read with libconfuse from the loaded plugins' option tables. This file
 * holds the global settings, conf_dir, config_load() and config_free();
 * config_parse.c parses one file and config_sections.c tracks the
 * sections it closes (config_internal.h is what the three share).
 *
 * Goal: one run reports every problem, each as FILE:LINE: message.
 * libconfuse (its lexer) is not reentrant, so configs are loaded from one
 * thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "config.h"
#include "config_internal.h"
#include "duration.h"
#include "options.h"

#define CONFIG_FILE_MAX (16 * 1024 * 1024)
#define DAYS_365_MS     31536000000.0

struct globals {
    int64_t interval_ms, timeout_ms;
    char *plugin_dir, *conf_dir, *state_dir, *log_level, *log_format;
};

struct api_conf {
    int     enabled, require_token;
    char   *listen, *token_file, *tls_cert_file, *tls_key_file;
    int64_t max_body, max_connections, connection_timeout_ms, threads;
    int64_t failing_after_ms;
};

#define G(f) offsetof(struct globals, f)
#define A(f) offsetof(struct api_conf, f)

const outpost_option_t config_globals_table[] = {
    { "interval", OUTPOST_OPT_DURATION, G(interval_ms), "30s",
      "default time between runs of an input", 0, 1, DAYS_365_MS, NULL },
    { "timeout", OUTPOST_OPT_DURATION, G(timeout_ms), "10s",
      "default time limit of a run", 0, 1, DAYS_365_MS, NULL },
    { "plugin_dir", OUTPOST_OPT_STRING, G(plugin_dir), NULL,
      "where plugins are loaded from (default: <prefix>/lib/outpost/"
      "plugins of the installed outpostd, or build/plugins next to a "
      "freshly built one; $OUTPOST_PLUGIN_DIR overrides the default)",
      OUTPOST_OPT_PATH, 0, 0, NULL },
    { "conf_dir", OUTPOST_OPT_STRING, G(conf_dir), "conf.d",
      "every *.conf here is read, in name order (relative: to this "
      "file's folder)", OUTPOST_OPT_PATH, 0, 0, NULL },
    { "state_dir", OUTPOST_OPT_STRING, G(state_dir), "/var/lib/outpost",
      "filter state and spilled records", OUTPOST_OPT_PATH, 0, 0, NULL },
    { "log_level", OUTPOST_OPT_ENUM, G(log_level), "info",
      "least severe log line written", 0, 0, 0, "debug|info|warn|error" },
    { "log_format", OUTPOST_OPT_ENUM, G(log_format), "json",
      "log lines on stderr as JSON objects or plain text",
      0, 0, 0, "json|text" },
    OUTPOST_OPTION_END
};

const outpost_option_t config_api_table[] = {
    { "enabled", OUTPOST_OPT_BOOL, A(enabled), "true",
      "serve the HTTP API (false: nothing listens)", 0, 0, 0, NULL },
    { "listen", OUTPOST_OPT_STRING, A(listen), "127.0.0.1:8003",
      "address the HTTP API listens on, \"host:port\" or \"[v6]:port\"",
      OUTPOST_OPT_ADDRESS, 0, 0, NULL },
    { "token_file", OUTPOST_OPT_STRING, A(token_file), NULL,
      "file holding the bearer token that requests changing state must "
      "carry (without it such requests are refused)", OUTPOST_OPT_PATH, 0,
      0, NULL },
    { "require_token", OUTPOST_OPT_BOOL, A(require_token), "false",
      "reads need the token too (true), or are open (false)", 0, 0, 0,
      NULL },
    { "tls_cert_file", OUTPOST_OPT_STRING, A(tls_cert_file), NULL,
      "PEM certificate: serve HTTPS (with tls_key_file)", OUTPOST_OPT_PATH,
      0, 0, NULL },
    { "tls_key_file", OUTPOST_OPT_STRING, A(tls_key_file), NULL,
      "PEM private key of tls_cert_file", OUTPOST_OPT_PATH, 0, 0, NULL },
    { "max_body", OUTPOST_OPT_INT, A(max_body), "65536",
      "largest request body in bytes (a larger one gets 413)", 0, 1024,
      16777216, NULL },
    { "max_connections", OUTPOST_OPT_INT, A(max_connections), "256",
      "connections served at once (more are refused)", 0, 1, 65536, NULL },
    { "connection_timeout", OUTPOST_OPT_DURATION, A(connection_timeout_ms),
      "10s", "a connection idle this long is closed (slow clients)", 0,
      1000, 3600000, NULL },
    { "threads", OUTPOST_OPT_INT, A(threads), "4",
      "threads serving requests", 0, 1, 64, NULL },
    { "health_failing_after", OUTPOST_OPT_DURATION, A(failing_after_ms),
      "1m", "/health says 503 once an output's backend has failed this "
      "long", 0, 0, DAYS_365_MS, NULL },
    OUTPOST_OPTION_END
};

/* Makes room in *pv (n elements of size) for one more. The capacity is
 * implied: 8, then the next power of two, so appends cost O(1). */
int
config_grow(void *pv, size_t n, size_t size)
{
    void **v = pv, *p;

    if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
        return 0;
    p = realloc(*v, (n ? 2 * n : 8) * size);
    if (p == NULL)
        return -1;
    *v = p;
    return 0;
}

/* --- what a parse yields ----------------------------------------------- */

static char *
resolve(struct load *L, const char *path)
{
    char *s;

    if (path == NULL)
        return NULL;
    if (path[0] == '/' || L->base_dir == NULL)
        return strdup(path);
    return asprintf(&s, "%s/%s", L->base_dir, path) < 0 ? NULL : s;
}

/* state_dir is made when missing; one that exists must be a directory
 * (a file there would turn every save and spill into an error at run
 * time, long after -t said the config was valid). */
static void
check_state_dir(struct load *L, const char *dir)
{
    struct stat st;

    if (dir != NULL && stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        diag_add(L->d, L->main_path, L->state_dir_line,
                 "option 'state_dir': %s is not a directory", dir);
}

static void
read_globals(struct load *L, cfg_t *root)
{
    struct config *c = L->c;
    struct globals g = { 0 };
    struct api_conf a = { 0 };

    /* Bad values were reported while parsing; what fails here stays at
     * its default. */
    options_fill(config_globals_table, root, &g);
    options_fill(config_api_table, cfg_getsec(root, "api"), &a);
    c->interval_ms = g.interval_ms;
    c->timeout_ms = g.timeout_ms;
    c->log_level = OUTPOST_LOG_INFO;
    c->log_format = LOG_FORMAT_JSON;
    if (g.log_level)
        log_level_parse(g.log_level, &c->log_level);
    if (g.log_format)
        log_format_parse(g.log_format, &c->log_format);
    c->plugin_dir = resolve(L, g.plugin_dir);
    c->conf_dir = resolve(L, g.conf_dir);
    c->state_dir = resolve(L, g.state_dir);
    check_state_dir(L, c->state_dir);
    c->api_enabled = a.enabled;
    c->api_require_token = a.require_token;
    c->api_listen = a.listen;
    a.listen = NULL;
    c->api_token_file = resolve(L, a.token_file);
    c->api_tls_cert_file = resolve(L, a.tls_cert_file);
    c->api_tls_key_file = resolve(L, a.tls_key_file);
    c->api_max_body = a.max_body;
    c->api_max_connections = a.max_connections;
    c->api_connection_timeout_ms = a.connection_timeout_ms;
    c->api_threads = a.threads;
    c->api_failing_after_ms = a.failing_after_ms;
    config_api_check(L);
    L->conf_dir_set = cfg_opt_size(option_cfg_find(root, "conf_dir")) > 0;
    options_release(config_globals_table, &g);
    options_release(config_api_table, &a);
}

static int
add_section(struct config *c, const outpost_plugin_t *p, cfg_t *sec,
            const struct seen *s)
{
    struct section *n;

    if (config_grow(&c->sections, c->nsections, sizeof(*n)) != 0)
        return -1;
    n = &c->sections[c->nsections++];
    memset(n, 0, sizeof(*n));
    n->plugin = p;
    n->line = s->line;
    n->instance = strdup(s->title);
    n->file = strdup(s->file);
    n->conf = p->conf_size ? calloc(1, p->conf_size) : NULL;
    if (!n->instance || !n->file || (p->conf_size && !n->conf))
        return -1;
    if (options_fill(p->options, sec, n->conf) != 0
        || config_common_fill(p, sec, &n->common) != 0)
        return -1;
    return 0;
}

/* Converted as it closed when it could (config_section_closed); a
 * libconfuse copy is 8 KB a section, 400 MB for 50,000 if kept. */
int
config_section_setup(struct load *L, const outpost_plugin_t *p, cfg_t *sec,
                     struct seen *s)
{
    if (add_section(L->c, p, sec, s) != 0) {
        config_problem(L, s->line, "cannot set up %s \"%s\": out of memory, "
                       "or a secret changed while loading", s->plugin,
                       s->title);
        return -1;
    }
    s->section = (long) L->c->nsections - 1;
    return 0;
}

/* Warnings of validate_provider, one a line, each at its option's line. */
static void
provider_warnings(struct load *L, size_t si, char *text)
{
    const struct seen *s = &L->seen[si];

    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        diag_warn(L->d, s->file, config_option_line(L, si, line),
                  "%s \"%s\": %s", s->plugin, s->title, line);
}

/* The common option provider, or the instance's name it defaults to, must
 * be one the plugin knows (a preset picks its vendor by it); then the
 * plugin may check the options that provider needs. */
static void
check_provider(struct load *L, size_t si, const struct section *n)
{
    const struct seen *s = &L->seen[si];
    const char *const *list = registry_providers(n->plugin);
    registry_provider_check_fn check = registry_validate_provider(n->plugin);
    const char *v = n->common.provider ? n->common.provider : n->instance;
    char names[512] = "", err[1024] = "";
    size_t len = 0, i;
    int rc;

    if (list == NULL)
        return;
    for (i = 0; list[i] && strcmp(list[i], v) != 0; i++)
        ;
    if (list[i] != NULL) {
        rc = check ? check(n->conf, v, err, sizeof(err)) : 0;
        if (rc < 0)
            diag_add(L->d, s->file, config_option_line(L, si, err),
                     "%s \"%s\": %s", s->plugin, s->title,
                     err[0] ? err : "invalid configuration");
        else if (rc > 0)
            provider_warnings(L, si, err);
        return;
    }
    for (i = 0; list[i] && len < sizeof(names); i++)
        len += (size_t) snprintf(names + len, sizeof(names) - len, "%s%s",
                                 i ? ", " : "", list[i]);
    if (n->common.provider)
        diag_add(L->d, s->file, config_option_line(L, si, "provider"),
                 "option 'provider' in %s \"%s\": "
                 "\"%s\" is not one of %s", s->plugin, s->title, v, names);
    else
        diag_add(L->d, s->file, s->line, "%s \"%s\": no provider set, and "
                 "the instance's name is not one: set provider = one of %s",
                 s->plugin, s->title, names);
}

/* The sections of the file just parsed, seen[from..], in config order:
 * set up those that were not as they closed, then validate all. Their
 * seen[].sec, where set, are alive until the file's root is freed. */
static void
add_sections(struct load *L, size_t from)
{
    for (size_t i = from; i < L->nseen; i++) {
        struct seen *s = &L->seen[i];
        const outpost_plugin_t *p = registry_find(L->reg, s->plugin);
        char err[512] = "";

        if (s->bad || (s->section < 0 && s->sec == NULL))
            continue;               /* not set up: it has problems */
        if (s->section < 0 && add_section(L->c, p, s->sec, s) != 0) {
            diag_add(L->d, s->file, s->line, "cannot set up %s \"%s\": out "
                     "of memory, or a secret changed while loading",
                     s->plugin, s->title);
            continue;
        }
        if (s->section < 0)
            s->section = (long) L->c->nsections - 1;
        check_provider(L, i, &L->c->sections[s->section]);
        if (p->validate
            && p->validate(L->c->sections[s->section].conf, err,
                           sizeof(err)) != 0)
            diag_add(L->d, s->file, config_option_line(L, i, err),
                     "%s \"%s\": %s", s->plugin, s->title,
                     err[0] ? err : "invalid configuration");
    }
}

/* libconfuse 3.3 counts lines wrongly after a comment, and refuses one
 * inside a list (libconfuse issue #150). So comments are blanked out
 * before parsing, newlines kept: lines stay exact. Quoting follows the
 * lexer: "..." and '...' with backslash escapes. */
static void
blank_comments(char *s)
{
    char quote = 0, *end;

    while (*s) {
        if (quote) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == quote)
                quote = 0;
            s++;
        } else if (*s == '"' || *s == '\'') {
            quote = *s++;
        } else if (*s == '#' || (s[0] == '/' && s[1] == '/')) {
            while (*s && *s != '\n')
                *s++ = ' ';
        } else if (s[0] == '/' && s[1] == '*') {
            end = strstr(s + 2, "*/");
            end = end ? end + 2 : s + strlen(s);
            for (; s < end; s++)
                if (*s != '\n')
                    *s = ' ';
        } else {
            s++;
        }
    }
}

/* Line (from 1) of text + off. */
static int
line_at(const char *text, size_t off)
{
    int line = 1;

    for (const char *p = text; (p = memchr(p, '\n', (size_t) (text + off
                                                      - p))) != NULL; p++)
        line++;
    return line;
}

/* A config file is UTF-8 text: a NUL byte would silently end it for the
 * parser (and everything after it, sections included, would be ignored),
 * and a name that is not UTF-8 cannot be put in a JSON record. */
static char *
read_text(struct load *L, const char *path)
{
    char why[128], *text;
    size_t len, bad;

    text = option_read_file(path, CONFIG_FILE_MAX, &len, why, sizeof(why));
    if (text == NULL) {
        diag_add(L->d, path, 0, "cannot read config file: %s", why);
        return NULL;
    }
    if ((bad = strlen(text)) < len) {
        diag_add(L->d, path, line_at(text, bad), "NUL byte: a config file "
                 "is text");
    } else if ((bad = option_utf8_invalid(text, len)) < len) {
        diag_add(L->d, path, line_at(text, bad), "invalid UTF-8 (byte "
                 "0x%02x): a config file is UTF-8 text",
                 (unsigned char) text[bad]);
    } else {
        blank_comments(text);
        return text;
    }
    free(text);
    return NULL;
}

static void
read_config(struct load *L, const char *path, char *text, int dropin)
{
    size_t from = L->nseen_committed;
    cfg_t *root = config_parse_file(L, path, text, dropin);

    if (root == NULL)
        return;
    if (!dropin)
        read_globals(L, root);
    /* A section with a problem of its own is not set up (a bad value
     * would not convert); every other one is, and checked by its plugin,
     * so one run reports every plugin's problems. */
    add_sections(L, from);
    config_root_free(L, root);
}

static int
is_conf(const struct dirent *e)
{
    size_t len = strlen(e->d_name);

    return e->d_name[0] != '.' && len > 5
           && strcmp(e->d_name + len - 5, ".conf") == 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void
read_conf_dir(struct load *L)
{
    const char *dir = L->c->conf_dir;
    struct dirent **ents = NULL;
    char **files;
    int n;

    if (dir == NULL)
        return;
    n = scandir(dir, &ents, is_conf, by_name);
    if (n < 0) {
        /* The default conf.d need not exist; one that is named must. */
        if (errno != ENOENT || L->conf_dir_set)
            diag_add(L->d, L->main_path, L->conf_dir_line,
                     "cannot read conf_dir %s: %s", dir, strerror(errno));
        return;
    }
    files = n ? realloc(L->files, (L->nfiles + (size_t) n) * sizeof(*files))
              : NULL;
    if (files != NULL)
        L->files = files;
    for (int i = 0; i < n; i++) {
        char *path, *text;

        if (files != NULL
            && asprintf(&path, "%s/%s", dir, ents[i]->d_name) >= 0) {
            files[L->nfiles++] = path;
            text = read_text(L, path);
            if (text != NULL)
                read_config(L, path, text, 1);
            free(text);
        }
        free(ents[i]);
    }
    free(ents);
}

/* --- loading ----------------------------------------------------------- */

/* Every default a section can take, parsed before any file is read (see
 * options_warm). */
static void
warm_defaults(struct load *L)
{
    static const outpost_kind_t kinds[] = {
        OUTPOST_INPUT, OUTPOST_FILTER, OUTPOST_OUTPUT
    };

    for (size_t i = 0; i < registry_count(L->reg); i++)
        options_warm(registry_at(L->reg, i)->options);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        options_warm(config_common_options(kinds[i]));
}

/* plugin_dir is in the file that names the plugins, so outpost.conf is
 * read once quietly for it before the plugins are loaded. */
static char *
find_plugin_dir(struct load *L, const char *text, const char *default_dir)
{
    cfg_t *root;
    cfg_opt_t *opt;
    char *dir = NULL;

    L->quiet = 1;
    root = config_parse_file(L, L->main_path, text, 0);
    L->quiet = 0;
    config_forget_learned(L);
    opt = root ? option_cfg_find(root, "plugin_dir") : NULL;
    if (cfg_opt_size(opt) > 0)
        dir = resolve(L, cfg_opt_getnstr(opt, 0));
    else if (default_dir != NULL)
        dir = strdup(default_dir);
    config_root_free(L, root);
    return dir;
}

static void
load_plugins(struct load *L, const char *text, const char *default_dir)
{
    char *dir = find_plugin_dir(L, text, default_dir);

    if (dir != NULL)
        registry_load_dir(L->reg, dir, L->d);
    free(dir);
    /* The quiet parse named the plugins loaded before any was. */
    free(L->loaded);
    L->loaded = NULL;
    warm_defaults(L);
}

static void
load_free(struct load *L)
{
    config_forget_learned(L);
    config_refs_truncate(L, 0);
    for (size_t i = 0; i < L->nseen; i++) {
        free(L->seen[i].plugin);
        free(L->seen[i].title);
    }
    free(L->seen);
    free(L->slots);
    for (size_t i = 0; i < L->nfiles; i++)
        free(L->files[i]);
    free(L->files);
    free(L->loaded);
    free(L->base_dir);
    free(L->starts);
}

static int
load_begin(struct load *L, const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash != NULL)
        L->base_dir = slash == path ? strdup("/")
                                    : strndup(path, (size_t) (slash - path));
    return slash && L->base_dir == NULL ? -1 : 0;
}

char *
config_plugin_dir(const char *path, const char *default_plugin_dir,
                  struct diag *d)
{
    struct load L = { .d = d, .main_path = path, .before = d->n };
    struct registry *reg = registry_new();
    char *text = NULL, *dir = NULL;

    /* The quiet parse learns the names of sections from an empty
     * registry; it never loads a module. */
    L.reg = reg;
    if (reg == NULL || load_begin(&L, path) != 0)
        diag_add(d, path, 0, "out of memory");
    else if ((text = read_text(&L, path)) != NULL)
        dir = find_plugin_dir(&L, text, default_plugin_dir);
    free(text);
    load_free(&L);
    registry_free(reg);
    return dir;
}

struct config *
config_load(const char *path, struct registry *reg,
            const char *default_plugin_dir, struct diag *d)
{
    struct load L = { .reg = reg, .d = d, .main_path = path,
                      .before = d->n };
    char *text = NULL;

    L.c = calloc(1, sizeof(*L.c));
    if (L.c == NULL || (L.c->path = strdup(path)) == NULL
        || load_begin(&L, path) != 0) {
        diag_add(d, path, 0, "out of memory");
        goto out;
    }
    text = read_text(&L, path);
    if (text == NULL)
        goto out;
    load_plugins(&L, text, default_plugin_dir);
    read_config(&L, path, text, 0);
    read_conf_dir(&L);
    config_refs_check(&L);
    config_fallback_check(&L);
out:
    free(text);
    load_free(&L);
    if (d->n > L.before) {
        config_free(L.c);
        return NULL;
    }
    return L.c;
}

void
config_sections_truncate(struct config *c, size_t n)
{
    while (c->nsections > n) {
        struct section *s = &c->sections[--c->nsections];

        options_release(s->plugin->options, s->conf);
        options_release(config_common_options(s->plugin->kind), &s->common);
        free(s->conf);
        free(s->instance);
        free(s->file);
    }
}

void
config_free(struct config *c)
{
    if (c == NULL)
        return;
    config_sections_truncate(c, 0);
    free(c->sections);
    free(c->path);
    free(c->plugin_dir);
    free(c->conf_dir);
    free(c->state_dir);
    free(c->api_listen);
    free(c->api_token_file);
    free(c->api_tls_cert_file);
    free(c->api_tls_key_file);
    free(c);
}

/* --- the summary of `outpostd -t` ---------------------------------------- */

/* The value of tag key that every record of input s carries (as
 * instance.c tags them), or NULL when it depends on the record. */
static const char *
static_tag(const struct section *s, const char *key, size_t klen)
{
    const struct common_conf *cc = &s->common;
    const char *v = NULL;

    for (size_t i = 0; i < cc->tags.n; i++)      /* the user's tags win */
        if (strncmp(cc->tags.v[i], key, klen) == 0
            && cc->tags.v[i][klen] == '=')
            v = cc->tags.v[i] + klen + 1;
    if (v != NULL)
        return v;
#define IS(k) (klen == strlen(k) && strncmp(key, k, klen) == 0)
    if (IS("integration"))
        return s->instance;
    if (IS("category"))
        return cc->category ? cc->category : s->plugin->name;
    if (IS("provider"))
        return cc->provider ? cc->provider : s->instance;
    if (IS("tier"))
        return cc->tier ? cc->tier : "";
    if (IS("failover_group"))
        return cc->failover_group ? cc->failover_group : "";
#undef IS
    return NULL;
}

/* Does output o take records of input s: 1 always, 0 never, -1 only
 * some (its match names what only the record says); *cond is then the
 * first such term. */
static int
takes(const struct section *o, const struct section *s, const char **cond)
{
    int rc = 1;

    for (size_t i = 0; i < o->common.match.n; i++) {
        const char *m = o->common.match.v[i], *eq = strchr(m, '=');
        const char *v = eq ? static_tag(s, m, (size_t) (eq - m))
                           : s->instance;

        if (v == NULL) {
            if (rc == 1)
                *cond = m;
            rc = -1;
        } else if (fnmatch(eq ? eq + 1 : m, v, 0) != 0) {
            return 0;
        }
    }
    return rc;
}

static void
print_outputs(const struct config *c, const struct section *s, FILE *out)
{
    const char *sep = " -> ", *cond = NULL;

    for (size_t i = 0; i < c->nsections; i++) {
        const struct section *o = &c->sections[i];
        int t;

        if (o->plugin->kind != OUTPOST_OUTPUT || (t = takes(o, s, &cond)) == 0)
            continue;
        fprintf(out, "%s%s \"%s\"", sep, o->plugin->name, o->instance);
        if (t < 0)
            fprintf(out, " (when %s)", cond);
        sep = ", ";
    }
    if (strcmp(sep, " -> ") == 0)
        fputs(" -> no output takes its records", out);
}

void
config_summary(const struct config *c, FILE *out)
{
    for (size_t i = 0; i < c->nsections; i++) {
        const struct section *s = &c->sections[i];
        char every[32];

        fprintf(out, "%s:%d: %s \"%s\"", s->file, s->line, s->plugin->name,
                s->instance);
        switch (s->plugin->kind) {
        case OUTPOST_INPUT:
            duration_format(s->common.interval_ms > 0 ? s->common.interval_ms
                            : c->interval_ms, every, sizeof(every));
            fprintf(out, ": input every %s", every);
            print_outputs(c, s, out);
            break;
        case OUTPOST_FILTER:
            fputs(": filter", out);
            for (size_t k = 0; k < s->common.match.n; k++)
                fprintf(out, "%s%s", k ? ", " : " of records matching ",
                        s->common.match.v[k]);
            break;
        case OUTPOST_OUTPUT:
            fputs(": output", out);
            for (size_t k = 0; k < s->common.match.n; k++)
                fprintf(out, "%s%s", k ? ", " : " of records matching ",
                        s->common.match.v[k]);
            break;
        }
        fputc('\n', out);
    }
}
