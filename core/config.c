/*
 * config.c - outpost.conf, then every *.conf in conf_dir in name order,
 * read with libconfuse from the loaded plugins' option tables.
 *
 * Goal: one run reports every problem, each as FILE:LINE: message.
 *  - Values are checked by validate callbacks, which libconfuse calls
 *    while it reads them, so a problem carries the line it is on. They
 *    never fail the parse: they record the problem and go on.
 *  - libconfuse stops reading a file at the first name it does not know.
 *    So a file is parsed again after each unknown name, with that name
 *    "learned": declared as a placeholder that reports itself when read.
 *    Only the problems of the last parse of a file are kept.
 *  - libconfuse tells where a section ends, not where it starts; the
 *    start is found in the file's text (section_start).
 * libconfuse callbacks take no user pointer, so the load in progress is
 * reached through `cur`; libconfuse itself (its lexer) is not reentrant
 * either, so configs are loaded from one thread.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "options.h"

#define MAX_PASSES      256                /* per file: unknown names */
#define CONFIG_FILE_MAX (16 * 1024 * 1024)
#define DAYS_365_MS     31536000000.0

struct globals {
    int64_t interval_ms, timeout_ms;
    char *plugin_dir, *conf_dir, *state_dir, *log_level, *log_format;
};

struct api_conf {
    char *listen, *token_file;
};

#define G(f) offsetof(struct globals, f)
#define A(f) offsetof(struct api_conf, f)

static const outpost_option_t globals_table[] = {
    { "interval", OUTPOST_OPT_DURATION, G(interval_ms), "30s",
      "default time between runs of an input", 0, 1, DAYS_365_MS, NULL },
    { "timeout", OUTPOST_OPT_DURATION, G(timeout_ms), "10s",
      "default time limit of a run", 0, 1, DAYS_365_MS, NULL },
    { "plugin_dir", OUTPOST_OPT_STRING, G(plugin_dir), NULL,
      "where plugins are loaded from", 0, 0, 0, NULL },
    { "conf_dir", OUTPOST_OPT_STRING, G(conf_dir), "conf.d",
      "every *.conf here is read, in name order", 0, 0, 0, NULL },
    { "state_dir", OUTPOST_OPT_STRING, G(state_dir), "/var/lib/outpost",
      "state and spilled records", 0, 0, 0, NULL },
    { "log_level", OUTPOST_OPT_ENUM, G(log_level), "info", NULL,
      0, 0, 0, "debug|info|warn|error" },
    { "log_format", OUTPOST_OPT_ENUM, G(log_format), "json", NULL,
      0, 0, 0, "json|text" },
    OUTPOST_OPTION_END
};

static const outpost_option_t api_table[] = {
    { "listen", OUTPOST_OPT_STRING, A(listen), "127.0.0.1:8003",
      "address of the HTTP API", 0, 0, 0, NULL },
    { "token_file", OUTPOST_OPT_STRING, A(token_file), NULL,
      "bearer token for requests that change state", 0, 0, 0, NULL },
    OUTPOST_OPTION_END
};

struct learned {
    char *scope;          /* "" for the top level, else a section name */
    char *name;
    int   is_option;      /* top level: `name = ...`, not a section */
};

struct seen {             /* a section that closed */
    char       *plugin;
    char       *title;
    const char *file;     /* main_path or one of load.files */
    int         line;
    cfg_t      *sec;      /* valid while its file's root is */
};

struct problem {
    int    line;
    size_t seq;
    char  *msg;
};

struct load {
    struct config   *c;
    struct registry *reg;
    struct diag     *d;
    size_t           before;      /* d->n when the load began */
    const char      *main_path;
    char            *base_dir;    /* of main_path; NULL: the cwd */
    char            *loaded;      /* "http, jsonl", for messages */
    int              quiet;       /* first look at outpost.conf */
    int              conf_dir_set, conf_dir_line;

    /* the file being parsed */
    const char      *file;
    const char      *text;
    const char     **starts;      /* of each line, see index_lines */
    size_t           nlines;
    int              dropin;
    cfg_t           *root;

    /* the current pass over it */
    struct problem  *probs;
    size_t           nprobs;
    int              may_learn, learned_new;
    cfg_opt_t       *last_opt;    /* a list's last check, see on_value */
    unsigned         last_n;

    struct learned  *learned;
    size_t           nlearned;
    struct seen     *seen;        /* every instance, in config order */
    size_t           nseen, nseen_committed;
    size_t          *slots;       /* hash of seen: index + 1; 0 is free */
    size_t           nslots;      /* a power of two; 0: no hash */
    char           **files;
    size_t           nfiles;
};

static struct load *cur;

/* Makes room in *pv (n elements of size) for one more. The capacity is
 * implied: 8, then the next power of two, so appends cost O(1). */
static int
grow(void *pv, size_t n, size_t size)
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

/* --- problems ---------------------------------------------------------- */

static void
problem(struct load *L, int line, const char *fmt, ...)
{
    struct problem *p;
    va_list ap;
    char *msg;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (grow(&L->probs, L->nprobs, sizeof(*p)) != 0) {
        free(msg);
        return;
    }
    p = L->probs;
    p[L->nprobs] = (struct problem) { line, L->nprobs, msg };
    L->nprobs++;
}

static int
by_line(const void *a, const void *b)
{
    const struct problem *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
drop_problems(struct load *L)
{
    for (size_t i = 0; i < L->nprobs; i++)
        free(L->probs[i].msg);
    free(L->probs);
    L->probs = NULL;
    L->nprobs = 0;
}

/* `P "T"`, `api` or NULL (the top level), for messages. */
static const char *
where(struct load *L, cfg_t *cfg, char *buf, size_t len)
{
    if (cfg == L->root)
        return NULL;
    if (cfg->title == NULL)
        return cfg->name;
    snprintf(buf, len, "%s \"%s\"", cfg->name, cfg->title);
    return buf;
}

static void
value_problem(struct load *L, cfg_t *cfg, const char *opt, const char *why)
{
    char buf[512];
    const char *w = where(L, cfg, buf, sizeof(buf));

    if (w)
        problem(L, cfg->line, "option '%s' in %s: %s", opt, w, why);
    else
        problem(L, cfg->line, "option '%s': %s", opt, why);
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static const char *
loaded(struct load *L)
{
    size_t n = registry_count(L->reg), size;
    const char **names;
    FILE *f;

    if (L->loaded)
        return L->loaded;
    names = calloc(n + 1, sizeof(*names));
    if (names == NULL)
        return "?";
    for (size_t i = 0; i < n; i++)
        names[i] = registry_at(L->reg, i)->name;
    qsort(names, n, sizeof(*names), cmp_name);
    f = open_memstream(&L->loaded, &size);
    if (f != NULL) {
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%s%s", i ? ", " : "", names[i]);
        fputs(n ? "" : "none", f);
        fclose(f);
    }
    free(names);
    return L->loaded ? L->loaded : "?";
}

static void
unknown_name(struct load *L, cfg_t *cfg, const char *name)
{
    char buf[512];
    const char *w = where(L, cfg, buf, sizeof(buf));

    if (cfg == L->root)
        problem(L, cfg->line, "unknown option '%s'", name);
    else if (cfg->title == NULL || registry_find(L->reg, cfg->name))
        problem(L, cfg->line, "unknown option '%s' in %s", name, w);
    /* else: inside an unknown plugin's section, which says so itself */
}

/* --- learning unknown names -------------------------------------------- */

static struct learned *
find_learned(struct load *L, const char *scope, const char *name)
{
    for (size_t i = 0; i < L->nlearned; i++)
        if (strcmp(L->learned[i].scope, scope) == 0
            && strcmp(L->learned[i].name, name) == 0)
            return &L->learned[i];
    return NULL;
}

/* 1 when name is new in scope (the file is then parsed again). */
static int
learn(struct load *L, const char *scope, const char *name)
{
    struct learned *v;

    if (!L->may_learn || find_learned(L, scope, name)
        || grow(&L->learned, L->nlearned, sizeof(*v)) != 0)
        return 0;
    v = L->learned;
    v[L->nlearned] = (struct learned) { strdup(scope), strdup(name), 0 };
    if (v[L->nlearned].scope == NULL || v[L->nlearned].name == NULL) {
        free(v[L->nlearned].scope);
        free(v[L->nlearned].name);
        return 0;
    }
    L->nlearned++;
    return 1;
}

static void
forget_learned(struct load *L)
{
    for (size_t i = 0; i < L->nlearned; i++) {
        free(L->learned[i].scope);
        free(L->learned[i].name);
    }
    free(L->learned);
    L->learned = NULL;
    L->nlearned = 0;
}

/* If msg is prefix + "NAME'...", copies NAME. */
static int
quoted_name(const char *msg, const char *prefix, char *name, size_t len)
{
    size_t plen = strlen(prefix);
    const char *end = strrchr(msg, '\'');

    if (strncmp(msg, prefix, plen) != 0 || end < msg + plen)
        return 0;
    snprintf(name, len, "%.*s", (int) (end - msg - plen), msg + plen);
    return 1;
}

/* libconfuse's own messages. An unknown name is learned; at the top level
 * it is first taken for a plugin's section, and for an option once
 * libconfuse finds no title after it. */
static void
on_error(cfg_t *cfg, const char *fmt, va_list ap)
{
    struct load *L = cur;
    struct learned *l;
    char msg[512], name[256];

    if (L == NULL)              /* not while parsing: nothing to say */
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (quoted_name(msg, "no such option '", name, sizeof(name))) {
        if (learn(L, cfg == L->root ? "" : cfg->name, name))
            L->learned_new = 1;
        else if (cfg == L->root)
            problem(L, cfg->line, "unknown plugin '%s' (loaded: %s)", name,
                    loaded(L));
        else
            unknown_name(L, cfg, name);
        return;
    }
    if (cfg == L->root && L->may_learn
        && quoted_name(msg, "missing title for section '", name, sizeof(name))
        && (l = find_learned(L, "", name)) != NULL && !l->is_option) {
        l->is_option = 1;
        L->learned_new = 1;
        return;
    }
    problem(L, cfg->line, "%s", msg);
}

/* --- checking values as they are read ---------------------------------- */

static void
check_secret_forms(struct load *L, cfg_t *cfg, const outpost_option_t *o,
                   const char *name)
{
    static const char *const suffix[] = { "", "_env", "_file" };
    char buf[OPTION_NAME_MAX + 8], why[256];
    int n = 0;

    for (int i = 0; i < 3; i++) {
        snprintf(buf, sizeof(buf), "%s%s", o->name, suffix[i]);
        n += cfg_opt_size(option_cfg_find(cfg, buf)) > 0;
    }
    if (n < 2)
        return;
    snprintf(why, sizeof(why), "only one of %s, %s_env, %s_file may be set",
             o->name, o->name, o->name);
    value_problem(L, cfg, name, why);
}

static void
check_value(struct load *L, cfg_t *cfg, cfg_opt_t *opt,
            const outpost_option_t *o, enum secret_variant v)
{
    const char *text = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);
    char why[512], *secret;

    if (text == NULL)
        return;
    if (v != SECRET_VALUE) {
        /* Read now, so a missing variable or file is reported on its
         * line; options_fill reads it again into the conf block. */
        if (option_secret_read(v, text, &secret, why, sizeof(why)) != 0) {
            value_problem(L, cfg, opt->name, why);
        } else {
            explicit_bzero(secret, strlen(secret));
            free(secret);
        }
    } else if (option_check_value(o, text, why, sizeof(why)) != 0) {
        value_problem(L, cfg, opt->name, why);
    }
    if (o->type == OUTPOST_OPT_SECRET)
        check_secret_forms(L, cfg, o, opt->name);
}

/* The option tables that apply in cfg; 0 in an unknown plugin's section. */
static int
tables_of(struct load *L, cfg_t *cfg, const outpost_option_t **t1,
          const outpost_option_t **t2)
{
    const outpost_plugin_t *p;

    *t2 = NULL;
    if (cfg == L->root) {
        *t1 = globals_table;
    } else if (cfg->title == NULL) {
        *t1 = api_table;
    } else {
        p = registry_find(L->reg, cfg->name);
        if (p == NULL)
            return 0;
        *t1 = p->options;
        *t2 = config_common_options(p->kind);
    }
    return 1;
}

static int on_close(cfg_t *cfg, cfg_opt_t *opt);

/* Called by libconfuse after each value, and for a list once more at its
 * closing brace. Never fails the parse: problems are recorded instead. */
static int
on_value(cfg_t *cfg, cfg_opt_t *opt)
{
    struct load *L = cur;
    const outpost_option_t *t1, *t2, *o;
    enum secret_variant v;
    unsigned n = cfg_opt_size(opt);

    if (L == NULL)
        return 0;
    if (opt->type == CFGT_SEC)
        return on_close(cfg, opt);
    if (opt->flags & CFGF_LIST) {
        if (opt == L->last_opt && n == L->last_n)
            return 0;                       /* the closing brace */
        L->last_opt = opt;
        L->last_n = n;
    }
    if (n == 0 || !tables_of(L, cfg, &t1, &t2))
        return 0;
    o = option_find(t1, opt->name, &v);
    if (o == NULL && t2 != NULL)
        o = option_find(t2, opt->name, &v);
    if (o == NULL) {                        /* a learned name */
        if (n == 1)
            unknown_name(L, cfg, opt->name);
        return 0;
    }
    if (cfg == L->root && L->dropin) {
        problem(L, cfg->line, "option '%s' is a global setting: set it in "
                "%s, not in a conf_dir file", opt->name, L->main_path);
        return 0;
    }
    if (cfg == L->root && strcmp(opt->name, "conf_dir") == 0)
        L->conf_dir_line = cfg->line;
    check_value(L, cfg, opt, o, v);
    return 0;
}

/* --- sections ---------------------------------------------------------- */

static int
ident_char(char ch)
{
    return ch == '_' || ch == '-' || (ch >= '0' && ch <= '9')
           || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Does [p, eol) hold `name "title"` (or 'title', or title unquoted)? */
static int
line_opens(const char *p, const char *eol, const char *name,
           const char *title)
{
    size_t nlen = strlen(name), tlen = strlen(title);

    for (const char *s = p; (s = memmem(s, (size_t) (eol - s), name, nlen));
         s++) {
        const char *t = s + nlen;
        char q = 0;

        if (s > p && ident_char(s[-1]))
            continue;
        while (t < eol && (*t == ' ' || *t == '\t'))
            t++;
        if (t < eol && (*t == '"' || *t == '\''))
            q = *t++;
        if ((size_t) (eol - t) < tlen || memcmp(t, title, tlen) != 0)
            continue;
        t += tlen;
        if (q ? (t < eol && *t == q) : (t == eol || !ident_char(*t)))
            return 1;
    }
    return 0;
}

/* Where each line of text starts; starts[nlines] is one past the end. */
static int
index_lines(struct load *L, const char *text)
{
    size_t n = 1, len = strlen(text);

    for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    free(L->starts);
    L->starts = malloc((n + 1) * sizeof(*L->starts));
    if (L->starts == NULL)
        return -1;
    L->nlines = 0;
    L->starts[L->nlines++] = text;
    for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
        L->starts[L->nlines++] = p + 1;
    L->starts[L->nlines] = text + len + 1;
    return 0;
}

/* libconfuse knows where a section ends; it starts on the last line at or
 * before that which opens it. Falls back to the end. */
static int
section_start(struct load *L, int end, const char *name, const char *title)
{
    for (int line = end < (int) L->nlines ? end : (int) L->nlines; line > 0;
         line--)
        if (line_opens(L->starts[line - 1], L->starts[line] - 1, name, title))
            return line;
    return end;
}

/* libconfuse does not say which section closed, and it replaces a section
 * whose title repeats in place. So a closed section's line is stored
 * negated, and the one with a positive line is the one that just closed. */
static cfg_t *
just_closed(cfg_opt_t *opt)
{
    for (unsigned i = cfg_opt_size(opt); i-- > 0;) {
        cfg_t *sec = cfg_opt_getnsec(opt, i);

        if (sec != NULL && sec->line > 0)
            return sec;
    }
    return NULL;
}

/* Instances are looked up by (plugin, title) for every section closed, so
 * they are hashed: ten thousand checks must not cost 10^8 compares. */
static uint64_t
seen_hash(const char *plugin, const char *title)
{
    uint64_t h = 14695981039346656037ULL;               /* FNV-1a */

    for (const char *p = plugin; *p; p++)
        h = (h ^ (unsigned char) *p) * 1099511628211ULL;
    h *= 1099511628211ULL;                              /* a separator */
    for (const char *p = title; *p; p++)
        h = (h ^ (unsigned char) *p) * 1099511628211ULL;
    return h;
}

static void
seen_insert(struct load *L, size_t i)
{
    size_t mask = L->nslots - 1;
    size_t h = seen_hash(L->seen[i].plugin, L->seen[i].title) & mask;

    while (L->slots[h] != 0)
        h = (h + 1) & mask;
    L->slots[h] = i + 1;
}

/* Rebuilds the hash for seen[0..nseen) with room to grow. */
static void
seen_reindex(struct load *L)
{
    size_t n = 64;

    while (n < 4 * (L->nseen + 1))
        n *= 2;
    free(L->slots);
    L->slots = calloc(n, sizeof(*L->slots));
    L->nslots = L->slots ? n : 0;
    for (size_t i = 0; L->nslots && i < L->nseen; i++)
        seen_insert(L, i);
}

/* Forgets the instances of a pass that is parsed again. */
static void
seen_truncate(struct load *L, size_t n)
{
    if (L->nseen == n)
        return;
    while (L->nseen > n) {
        L->nseen--;
        free(L->seen[L->nseen].plugin);
        free(L->seen[L->nseen].title);
    }
    seen_reindex(L);
}

static struct seen *
find_seen(struct load *L, const char *plugin, const char *title)
{
    size_t mask = L->nslots - 1, h;

    if (L->nslots == 0)
        return NULL;
    for (h = seen_hash(plugin, title) & mask; L->slots[h]; h = (h + 1) & mask) {
        struct seen *s = &L->seen[L->slots[h] - 1];

        if (strcmp(s->title, title) == 0 && strcmp(s->plugin, plugin) == 0)
            return s;
    }
    return NULL;
}

static void
add_seen(struct load *L, const char *plugin, cfg_t *sec, int line)
{
    struct seen *v;

    if (grow(&L->seen, L->nseen, sizeof(*v)) != 0)
        return;
    v = L->seen;
    v[L->nseen] = (struct seen) { strdup(plugin), strdup(sec->title), L->file,
                                  line, sec };
    if (v[L->nseen].plugin == NULL || v[L->nseen].title == NULL) {
        free(v[L->nseen].plugin);
        free(v[L->nseen].title);
        return;
    }
    L->nseen++;
    if (4 * L->nseen > L->nslots)
        seen_reindex(L);
    else
        seen_insert(L, L->nseen - 1);
}

static void
check_required(struct load *L, cfg_t *sec, const outpost_plugin_t *p,
               int line)
{
    for (const outpost_option_t *o = p->options; o && o->name; o++)
        if ((o->flags & OUTPOST_OPT_REQUIRED) && !option_is_set(o, sec))
            problem(L, line, "missing required option '%s' in %s \"%s\"",
                    o->name, p->name, sec->title);
}

static int
on_close(cfg_t *cfg, cfg_opt_t *opt)
{
    struct load *L = cur;
    const outpost_plugin_t *p;
    struct seen *first;
    cfg_t *sec = just_closed(opt);
    int line;

    (void) cfg;
    L->last_opt = NULL;
    if (sec == NULL)
        return 0;
    line = section_start(L, sec->line, opt->name,
                         sec->title ? sec->title : "");
    sec->line = -line;
    if (sec->title == NULL) {
        if (L->dropin)
            problem(L, line, "section '%s' is a global setting: set it in "
                    "%s, not in a conf_dir file", opt->name, L->main_path);
        return 0;
    }
    p = registry_find(L->reg, opt->name);
    if (p == NULL) {
        problem(L, line, "unknown plugin '%s' (loaded: %s)", opt->name,
                loaded(L));
        return 0;
    }
    first = find_seen(L, opt->name, sec->title);
    if (first != NULL) {
        problem(L, line, "duplicate instance %s \"%s\" (first defined at "
                "%s:%d)", opt->name, sec->title, first->file, first->line);
        return 0;
    }
    add_seen(L, opt->name, sec, line);
    check_required(L, sec, p, line);
    return 0;
}

/* --- one parse of one file --------------------------------------------- */

static int
add_learned_rows(struct load *L, struct optv *ov, const char *scope)
{
    for (size_t i = 0; i < L->nlearned; i++) {
        struct learned *l = &L->learned[i];

        if (strcmp(l->scope, scope) == 0
            && optv_add(ov, l->name, 1, NULL, 0, on_value) != 0)
            return -1;
    }
    return 0;
}

/* A section of root: a plugin's (t1, t2 its tables), api, or a learned
 * unknown plugin (no tables). */
static int
add_section_row(struct load *L, struct optv *root, struct optv *sub,
                const char *name, const outpost_option_t *t1,
                const outpost_option_t *t2)
{
    cfg_flag_t flags = t1 == api_table ? CFGF_NONE : CFGF_MULTI | CFGF_TITLE;
    cfg_opt_t *opts;

    if (optv_add_table(sub, t1, on_value) != 0
        || optv_add_table(sub, t2, on_value) != 0
        || add_learned_rows(L, sub, name) != 0)
        return -1;
    opts = optv_get(sub);
    return opts ? optv_add(root, name, 0, opts, flags, on_value) : -1;
}

/* The top level: globals, api, every plugin, and learned names. */
static cfg_t *
init_root(struct load *L)
{
    size_t nreg = registry_count(L->reg), nsub = nreg + L->nlearned + 1;
    struct optv root = { 0 }, *sub = calloc(nsub, sizeof(*sub));
    cfg_t *cfg = NULL;
    size_t k = 0;

    if (sub == NULL || optv_add_table(&root, globals_table, on_value) != 0
        || add_section_row(L, &root, &sub[k++], "api", api_table, NULL))
        goto out;
    for (size_t i = 0; i < nreg; i++) {
        const outpost_plugin_t *p = registry_at(L->reg, i);

        if (add_section_row(L, &root, &sub[k++], p->name, p->options,
                            config_common_options(p->kind)) != 0)
            goto out;
    }
    for (size_t i = 0; i < L->nlearned; i++) {
        struct learned *l = &L->learned[i];

        if (l->scope[0] != '\0' || optv_has(&root, l->name))
            continue;
        if (l->is_option ? optv_add(&root, l->name, 1, NULL, 0, on_value)
            : add_section_row(L, &root, &sub[k++], l->name, NULL, NULL))
            goto out;
    }
    if (optv_get(&root) != NULL)
        cfg = cfg_init(root.v, 0);
out:
    for (size_t i = 0; sub && i < nsub; i++)
        optv_free(&sub[i]);
    free(sub);
    optv_free(&root);
    return cfg;
}

static cfg_t *
parse_once(struct load *L)
{
    static char empty[] = "\n";   /* fmemopen refuses a size of 0 */
    size_t len = strlen(L->text);
    cfg_t *cfg = init_root(L);
    FILE *fp;

    if (cfg == NULL)
        return NULL;
    cfg_set_error_function(cfg, on_error);
    cfg->filename = strdup(L->file);
    fp = len ? fmemopen((void *) L->text, len, "r") : fmemopen(empty, 1, "r");
    if (fp == NULL) {
        cfg_free(cfg);
        return NULL;
    }
    L->root = cfg;
    cur = L;
    cfg_parse_fp(cfg, fp);
    cur = NULL;
    fclose(fp);
    return cfg;
}

/* Parses file until no new name is learned; keeps the last parse's
 * problems and instances (none of either when quiet). */
static cfg_t *
parse_file(struct load *L, const char *file, const char *text, int dropin)
{
    cfg_t *cfg = NULL;

    L->file = file;
    L->text = text;
    L->dropin = dropin;
    if (index_lines(L, text) != 0) {
        diag_add(L->d, file, 0, "out of memory");
        return NULL;
    }
    for (int pass = 0;; pass++) {
        drop_problems(L);
        seen_truncate(L, L->nseen_committed);
        L->may_learn = pass < MAX_PASSES;
        L->learned_new = 0;
        L->last_opt = NULL;
        cfg = parse_once(L);
        if (cfg == NULL || !L->learned_new)
            break;
        cfg_free(cfg);
    }
    if (cfg == NULL)
        problem(L, 0, "out of memory");
    if (!L->quiet) {
        if (L->nprobs > 0)
            qsort(L->probs, L->nprobs, sizeof(*L->probs), by_line);
        for (size_t i = 0; i < L->nprobs; i++)
            diag_add(L->d, file, L->probs[i].line, "%s", L->probs[i].msg);
        L->nseen_committed = L->nseen;
    }
    drop_problems(L);
    return cfg;
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

static void
read_globals(struct load *L, cfg_t *root)
{
    struct config *c = L->c;
    struct globals g = { 0 };
    struct api_conf a = { 0 };

    /* Bad values were reported while parsing; what fails here stays at
     * its default. */
    options_fill(globals_table, root, &g);
    options_fill(api_table, cfg_getsec(root, "api"), &a);
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
    c->api_listen = a.listen;
    a.listen = NULL;
    c->api_token_file = resolve(L, a.token_file);
    L->conf_dir_set = cfg_opt_size(option_cfg_find(root, "conf_dir")) > 0;
    options_release(globals_table, &g);
    options_release(api_table, &a);
}

static int
add_section(struct config *c, const outpost_plugin_t *p, cfg_t *sec,
            const struct seen *s)
{
    struct section *n;

    if (grow(&c->sections, c->nsections, sizeof(*n)) != 0)
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
        || options_fill(config_common_options(p->kind), sec, &n->common))
        return -1;
    return 0;
}

/* The sections of the file just parsed, seen[from..], in config order.
 * Only called for a file without problems, so libconfuse replaced no
 * section of it and every seen[].sec is alive. */
static void
add_sections(struct load *L, size_t from)
{
    for (size_t i = from; i < L->nseen; i++) {
        struct seen *s = &L->seen[i];

        if (add_section(L->c, registry_find(L->reg, s->plugin), s->sec, s))
            diag_add(L->d, s->file, s->line, "cannot set up %s \"%s\": out "
                     "of memory, or a secret changed while loading",
                     s->plugin, s->title);
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

static char *
read_text(struct load *L, const char *path)
{
    char *text = option_read_file(path, CONFIG_FILE_MAX);

    if (text == NULL)
        diag_add(L->d, path, 0, "cannot read config file: %s",
                 strerror(errno));
    else
        blank_comments(text);
    return text;
}

static void
read_config(struct load *L, const char *path, char *text, int dropin)
{
    size_t from = L->nseen_committed;
    cfg_t *root = parse_file(L, path, text, dropin);

    if (root == NULL)
        return;
    if (!dropin)
        read_globals(L, root);
    /* With problems the load fails anyway, and a bad value would not
     * convert: sections are only set up while there are none. */
    if (L->d->n == L->before)
        add_sections(L, from);
    cfg_free(root);
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

/* plugin_dir is in the file that names the plugins, so outpost.conf is
 * read once quietly for it before the plugins are loaded. */
static void
load_plugins(struct load *L, const char *text, const char *default_dir)
{
    cfg_t *root;
    cfg_opt_t *opt;
    char *dir = NULL;

    L->quiet = 1;
    root = parse_file(L, L->main_path, text, 0);
    L->quiet = 0;
    forget_learned(L);
    opt = root ? option_cfg_find(root, "plugin_dir") : NULL;
    if (cfg_opt_size(opt) > 0)
        dir = resolve(L, cfg_opt_getnstr(opt, 0));
    else if (default_dir != NULL)
        dir = strdup(default_dir);
    if (root != NULL)
        cfg_free(root);
    if (dir != NULL)
        registry_load_dir(L->reg, dir, L->d);
    free(dir);
}

static void
load_free(struct load *L)
{
    forget_learned(L);
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

struct config *
config_load(const char *path, struct registry *reg,
            const char *default_plugin_dir, struct diag *d)
{
    struct load L = { .reg = reg, .d = d, .main_path = path,
                      .before = d->n };
    const char *slash = strrchr(path, '/');
    char *text = NULL;

    L.c = calloc(1, sizeof(*L.c));
    if (slash != NULL)
        L.base_dir = slash == path ? strdup("/")
                                   : strndup(path, (size_t) (slash - path));
    if (L.c == NULL || (L.c->path = strdup(path)) == NULL
        || (slash && L.base_dir == NULL)) {
        diag_add(d, path, 0, "out of memory");
        goto out;
    }
    text = read_text(&L, path);
    if (text == NULL)
        goto out;
    load_plugins(&L, text, default_plugin_dir);
    read_config(&L, path, text, 0);
    read_conf_dir(&L);
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
config_free(struct config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nsections; i++) {
        struct section *s = &c->sections[i];

        options_release(s->plugin->options, s->conf);
        options_release(config_common_options(s->plugin->kind), &s->common);
        free(s->conf);
        free(s->instance);
        free(s->file);
    }
    free(c->sections);
    free(c->path);
    free(c->plugin_dir);
    free(c->conf_dir);
    free(c->state_dir);
    free(c->api_listen);
    free(c->api_token_file);
    free(c);
}
