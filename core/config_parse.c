/*
 * config_parse.c - one file of the config read with libconfuse: the passes
 * over it, the callbacks libconfuse calls while it reads, and the problems
 * they record.
 *
 * Goal (config.c): one run reports every problem, each as FILE:LINE.
 *  - Values are checked by validate callbacks, which libconfuse calls
 *    while it reads them, so a problem carries the line it is on. They
 *    never fail the parse: they record the problem and go on.
 *  - libconfuse stops reading a file at the first name it does not know.
 *    So a file is parsed again after each unknown name, with that name
 *    "learned": declared as a placeholder that reports itself when read.
 *    Only the problems of the last parse of a file are kept.
 *    libconfuse 3.3 (Debian 12) cannot report unknown names in one pass:
 *    CFGF_IGNORE_UNKNOWN skips them in silence (under the flag
 *    cfg_getopt() calls no error function, and the parser's skip states
 *    call nothing, so neither name nor line reaches us); the "__unknown"
 *    option that confuse.h's comment on cfg_init() still describes was
 *    dropped in 3.1 (its ChangeLog) and is never looked up;
 *    CFGF_KEYSTRVAL turns an unknown name into a string option, but only
 *    in the form `name = "value"`: `name = { list }`, `name += ...` and
 *    a section (`name "title" { ... }`, i.e. an unknown plugin) still
 *    stop the parse, and the added option keeps no line; validate
 *    callbacks (cfg_set_validate_func) attach to names known beforehand.
 * libconfuse callbacks take no user pointer, so the load in progress is
 * reached through `cur`; libconfuse itself (its lexer) is not reentrant
 * either, so configs are loaded from one thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config_internal.h"
#include "options_internal.h"

#define MAX_PASSES      256                /* per file: unknown names */

static struct load *cur;

/* --- problems ---------------------------------------------------------- */

void
config_problem(struct load *L, int line, const char *fmt, ...)
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
    if (config_grow(&L->probs, L->nprobs, sizeof(*p)) != 0) {
        free(msg);
        return;
    }
    p = L->probs;
    p[L->nprobs] = (struct problem) { line, L->nprobs, msg, L->marking };
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
        config_problem(L, cfg->line, "option '%s' in %s: %s", opt, w, why);
    else
        config_problem(L, cfg->line, "option '%s': %s", opt, why);
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

const char *
config_loaded(struct load *L)
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

static int tables_of(struct load *L, cfg_t *cfg, const outpost_option_t **t1,
                     const outpost_option_t **t2);

/* --- did you mean ------------------------------------------------------ */

/* Edit distance of a and b (both short names), or more than max. */
static size_t
distance(const char *a, const char *b, size_t max)
{
    size_t la = strlen(a), lb = strlen(b), row[OPTION_NAME_MAX + 9];

    if (la > OPTION_NAME_MAX + 8 || lb > OPTION_NAME_MAX + 8
        || (la > lb ? la - lb : lb - la) > max)
        return max + 1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

struct guess {
    const char *name, *best;
    size_t      dist, max;
};

static void
consider(struct guess *g, const char *candidate)
{
    size_t d = distance(g->name, candidate, g->max);

    if (d <= g->max && d < g->dist) {
        g->dist = d;
        g->best = candidate;
    }
}

static void
consider_table(struct guess *g, const outpost_option_t *t)
{
    for (const outpost_option_t *o = t; o && o->name; o++)
        consider(g, o->name);
}

/* "; did you mean 'x'?" for the closest known name within a third of
 * name's length (at least 1, at most 3 edits), else "". */
static const char *
suggest(struct load *L, cfg_t *cfg, const char *name, int plugin, char *buf,
        size_t len)
{
    const outpost_option_t *t1, *t2;
    size_t n = strlen(name) / 3;
    struct guess g = { name, NULL, (size_t) -1, n < 1 ? 1 : n > 3 ? 3 : n };

    if (plugin) {
        for (size_t i = 0; i < registry_count(L->reg); i++)
            consider(&g, registry_at(L->reg, i)->name);
    } else if (tables_of(L, cfg, &t1, &t2)) {
        consider_table(&g, t1);
        consider_table(&g, t2);
    }
    if (g.best == NULL)
        return "";
    snprintf(buf, len, "; did you mean '%s'?", g.best);
    return buf;
}

static void
unknown_name(struct load *L, cfg_t *cfg, const char *name)
{
    char buf[512], hint[OPTION_NAME_MAX + 32];
    const char *w = where(L, cfg, buf, sizeof(buf));

    if (cfg == L->root)
        config_problem(L, cfg->line, "unknown option '%s'%s", name,
                       suggest(L, cfg, name, 0, hint, sizeof(hint)));
    else if (cfg->title == NULL || registry_find(L->reg, cfg->name))
        config_problem(L, cfg->line, "unknown option '%s' in %s%s", name, w,
                       suggest(L, cfg, name, 0, hint, sizeof(hint)));
    /* else: inside an unknown plugin's section, which says so itself */
}

void
config_unknown_plugin(struct load *L, int line, const char *name)
{
    char hint[OPTION_NAME_MAX + 32];

    config_problem(L, line, "unknown plugin '%s' (loaded: %s)%s", name,
                   config_loaded(L),
                   suggest(L, L->root, name, 1, hint, sizeof(hint)));
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
        || config_grow(&L->learned, L->nlearned, sizeof(*v)) != 0)
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

void
config_forget_learned(struct load *L)
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
            config_unknown_plugin(L, cfg->line, name);
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
    L->marking = 1;             /* a syntax error, see scan_shape */
    config_problem(L, cfg->line, "%s", msg);
    L->marking = 0;
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
            /* What the value itself would have been checked for; the
             * message never shows the secret. */
            if (option_check_value(o, secret, why, sizeof(why)) != 0) {
                snprintf(why, sizeof(why), "the secret read from %s: %s",
                         text, strstr(why, "control") ? "holds a control "
                         "character" : "is not valid UTF-8 text");
                value_problem(L, cfg, opt->name, why);
            }
            explicit_bzero(secret, strlen(secret));
            free(secret);
        }
    } else if (option_check_value(o, text, why, sizeof(why)) != 0) {
        value_problem(L, cfg, opt->name, why);
    }
    if (o->type == OUTPOST_OPT_SECRET)
        check_secret_forms(L, cfg, o, opt->name);
}

/* An option set twice in one scope: libconfuse keeps the last value (a
 * list: the last list) silently. Options of the section being read are forgotten as it closes
 * (its cfg, and so the addresses of its options, go then). */
static void
check_twice(struct load *L, cfg_t *cfg, cfg_opt_t *opt)
{
    int root = cfg == L->root;
    struct set_opt **v = root ? &L->set_root : &L->set_sec;
    size_t *n = root ? &L->nset_root : &L->nset_sec;

    for (size_t i = 0; i < *n; i++) {
        if ((*v)[i].opt == opt) {
            char why[64];

            snprintf(why, sizeof(why), "set twice (first at line %d)",
                     (*v)[i].line);
            value_problem(L, cfg, opt->name, why);
            return;
        }
    }
    if (config_grow(v, *n, sizeof(**v)) == 0)
        (*v)[(*n)++] = (struct set_opt) { opt, cfg->line };
}

void
config_forget_set(struct load *L, int root)
{
    if (root) {
        free(L->set_root);
        L->set_root = NULL;
        L->nset_root = 0;
    }
    free(L->set_sec);
    L->set_sec = NULL;
    L->nset_sec = 0;
}

/* --- names of other instances ------------------------------------------ */

/* A value naming outputs (OUTPOST_OPT_OUTPUTS, or a "notify=" tag) is
 * kept with its line: the outputs it names may come in a later file. */
static void
add_ref(struct load *L, cfg_t *cfg, const char *opt, const char *names)
{
    char buf[512];
    const char *w = where(L, cfg, buf, sizeof(buf));
    struct ref *r;
    char *what;

    if (asprintf(&what, w ? "option '%s' in %s" : "option '%s'", opt, w) < 0)
        return;
    if (config_grow(&L->refs, L->nrefs, sizeof(*r)) != 0) {
        free(what);
        return;
    }
    r = &L->refs[L->nrefs];
    *r = (struct ref) { L->file, cfg->line, what, strdup(names) };
    if (r->names == NULL) {
        free(what);
        return;
    }
    L->nrefs++;
}

void
config_refs_truncate(struct load *L, size_t n)
{
    while (L->nrefs > n) {
        struct ref *r = &L->refs[--L->nrefs];

        free(r->what);
        free(r->names);
    }
    if (n == 0) {
        free(L->refs);
        L->refs = NULL;
    }
}

/* Is there an output instance called name ("plugin:name" or "name")? */
static int
output_exists(struct load *L, const char *name, size_t len)
{
    for (size_t i = 0; i < L->nseen; i++) {
        const struct seen *s = &L->seen[i];
        const outpost_plugin_t *p = registry_find(L->reg, s->plugin);
        size_t plen = strlen(s->plugin), tlen = strlen(s->title);

        if (p == NULL || p->kind != OUTPOST_OUTPUT)
            continue;
        if (len == tlen && memcmp(name, s->title, len) == 0)
            return 1;
        if (len == plen + 1 + tlen && memcmp(name, s->plugin, plen) == 0
            && name[plen] == ':' && memcmp(name + plen + 1, s->title,
                                           tlen) == 0)
            return 1;
    }
    return 0;
}

void
config_refs_check(struct load *L)
{
    for (size_t i = 0; i < L->nrefs; i++) {
        const struct ref *r = &L->refs[i];

        for (const char *p = r->names; *p; ) {
            size_t n;

            while (*p == ' ' || *p == ',')
                p++;
            n = strcspn(p, ",");
            while (n > 0 && p[n - 1] == ' ')
                n--;
            if (n > 0 && !output_exists(L, p, n))
                diag_add(L->d, r->file, r->line, "%s: no output instance "
                         "\"%.*s\" in the config", r->what, (int) n, p);
            p += strcspn(p, ",");
        }
    }
}

/* The option tables that apply in cfg; 0 in an unknown plugin's section. */
static int
tables_of(struct load *L, cfg_t *cfg, const outpost_option_t **t1,
          const outpost_option_t **t2)
{
    const outpost_plugin_t *p;

    *t2 = NULL;
    if (cfg == L->root) {
        *t1 = config_globals_table;
    } else if (cfg->title == NULL) {
        *t1 = config_api_table;
    } else {
        p = registry_find(L->reg, cfg->name);
        if (p == NULL)
            return 0;
        *t1 = p->options;
        *t2 = config_common_options(p->kind);
    }
    return 1;
}

/* Called by libconfuse after each value, and for a list once more at its
 * closing brace. Never fails the parse: problems are recorded instead. */
static int
on_value(cfg_t *cfg, cfg_opt_t *opt)
{
    struct load *L = cur;
    const outpost_option_t *t1, *t2, *o;
    enum secret_variant v;
    unsigned n = cfg_opt_size(opt);
    const char *text;

    if (L == NULL)
        return 0;
    if (opt->type == CFGT_SEC) {
        config_forget_set(L, 0);
        return config_section_closed(L, opt);
    }
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
        config_problem(L, cfg->line, "option '%s' is a global setting: set "
                       "it in %s, not in a conf_dir file", opt->name,
                       L->main_path);
        return 0;
    }
    if (cfg == L->root && strcmp(opt->name, "conf_dir") == 0)
        L->conf_dir_line = cfg->line;
    if (cfg == L->root && strcmp(opt->name, "state_dir") == 0)
        L->state_dir_line = cfg->line;
    if (t1 == config_api_table)
        config_api_line(L, opt->name, cfg->line);
    /* A list given with `=` starts again at one value (libconfuse drops
     * the old ones); with `+=` it grows. So a list whose value count is
     * back to one was set again. */
    if (!(opt->flags & CFGF_LIST) || n == 1)
        check_twice(L, cfg, opt);
    check_value(L, cfg, opt, o, v);
    text = cfg_opt_getnstr(opt, n - 1);
    if (text != NULL && v == SECRET_VALUE
        && ((o->flags & OUTPOST_OPT_OUTPUTS)
            || (option_pair_form(o) && strcmp(opt->name, "tags") == 0
                && strncmp(text, "notify=", 7) == 0)))
        add_ref(L, cfg, opt->name, o->flags & OUTPOST_OPT_OUTPUTS ? text
                                                                  : text + 7);
    return 0;
}

/* --- the shape of the text ------------------------------------------- */

/* What libconfuse reports late or not at all, found in one scan of the
 * text (comments already blanked) before it is parsed:
 *  - a quote not closed on its line, or a '{' never closed, at the line
 *    where it opened (libconfuse reads on to the next quote, or to the
 *    end of the file, and reports whatever it finds there);
 *  - a quoted string where a name is expected: libconfuse takes `}""`
 *    for an option without value and swallows the section after it;
 *  - ${VAR} naming an unset variable (libconfuse expands it to "").
 * Anything after the first unclosed quote or brace is a consequence of
 * it: libconfuse's own syntax messages from that line on are dropped
 * (L->syntax_line). The scan knows the grammar only roughly: where it
 * cannot tell what a token is, it stops judging names until the next
 * brace. */
enum shape { NAME, AFTER_NAME, TITLE, VALUE, LIST, LOST };

/* The line (from 1) p is on, by L->starts. */
static int
scan_line(struct load *L, const char *p)
{
    size_t lo = 0, hi = L->nlines;

    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;

        if (L->starts[mid] <= p)
            lo = mid;
        else
            hi = mid;
    }
    return (int) lo + 1;
}

static void
scan_env(struct load *L, const char *p, const char *end)
{
    for (; (p = memmem(p, (size_t) (end - p), "${", 2)) != NULL; p += 2) {
        const char *q = p + 2;
        char name[128];
        size_t n = strcspn(q, "}:");

        if (q + n >= end || n == 0 || n >= sizeof(name))
            continue;
        memcpy(name, q, n);
        name[n] = '\0';
        if (q[n] == '}' && getenv(name) == NULL)
            config_problem(L, scan_line(L, p), "environment variable %s is "
                           "not set (${%s})", name, name);
    }
}

static void
scan_shape(struct load *L)
{
    const char *p = L->text, *q;
    const char *opens[64];
    size_t depth = 0;
    enum shape st = NAME;

    L->syntax_line = 0;
    L->syntax_all = 0;
    while (*p) {
        char c = *p;

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            p++;
            continue;
        }
        if (c == '"' || c == '\'') {
            for (q = p + 1; *q && *q != c && *q != '\n'; q++)
                if (*q == '\\' && q[1] && q[1] != '\n')
                    q++;
            if (*q != c) {
                config_problem(L, scan_line(L, p), "unclosed quote: this %s "
                               "is not closed on its line (write \\n for a "
                               "newline)", c == '"' ? "\"" : "'");
                L->syntax_line = scan_line(L, p);
                L->syntax_all = 1;
                return;
            }
            if (c == '"')
                scan_env(L, p + 1, q);
            if (st == NAME) {
                config_problem(L, scan_line(L, p), "expected an option or "
                               "section name, got a quoted string");
                st = LOST;
            }
            st = st == AFTER_NAME ? TITLE : st == VALUE ? NAME : st;
            p = q + 1;
            continue;
        }
        if (c == '{') {
            if (depth < sizeof(opens) / sizeof(opens[0]))
                opens[depth] = p;
            depth++;
            st = st == VALUE ? LIST : NAME;
        } else if (c == '}') {
            if (depth > 0)
                depth--;
            st = NAME;
        } else if (c == '=' || (c == '+' && p[1] == '=')) {
            p += c == '+';
            st = st == AFTER_NAME ? VALUE : LOST;
        } else if (c == ',' || c == '(' || c == ')') {
            if (st != LIST)
                st = LOST;
        } else {
            q = p + strcspn(p, " \t\r\n\"'{}=,()");
            scan_env(L, p, q);
            st = st == NAME ? AFTER_NAME : st == AFTER_NAME ? TITLE
                 : st == VALUE ? NAME : st;
            p = q;
            continue;
        }
        p++;
    }
    if (depth > 0) {
        const char *o = opens[depth <= 64 ? depth - 1 : 63];

        config_problem(L, scan_line(L, o), "missing '}': this '{' is never "
                       "closed");
        L->syntax_line = scan_line(L, o);
    }
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
    cfg_flag_t flags = t1 == config_api_table ? CFGF_NONE
                                              : CFGF_MULTI | CFGF_TITLE;
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

    if (sub == NULL
        || optv_add_table(&root, config_globals_table, on_value) != 0
        || add_section_row(L, &root, &sub[k++], "api", config_api_table,
                           NULL))
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
    config_forget_set(L, 1);
    cur = L;
    cfg_parse_fp(cfg, fp);
    cur = NULL;
    config_forget_set(L, 1);
    fclose(fp);
    return cfg;
}

/* Parses file until no new name is learned; keeps the last parse's
 * problems and instances (none of either when quiet). The root it returns
 * is freed with config_root_free. */
/* The problems of the last pass past the text's first unclosed quote or
 * brace are its consequences: dropped (all of them after a quote, which
 * turns the rest of the file inside out; libconfuse's syntax messages
 * after a brace). Then shape's own problems join them. */
static void
keep_shape(struct load *L, struct problem *shape, size_t nshape)
{
    size_t n = 0;

    for (size_t i = 0; i < L->nprobs; i++) {
        struct problem *p = &L->probs[i];

        if (L->syntax_line > 0 && p->line >= L->syntax_line
            && (L->syntax_all || p->syntax))
            free(p->msg);
        else
            L->probs[n++] = *p;
    }
    L->nprobs = n;
    for (size_t i = 0; i < nshape; i++) {
        if (config_grow(&L->probs, L->nprobs, sizeof(*L->probs)) != 0) {
            free(shape[i].msg);
            continue;
        }
        shape[i].seq = L->nprobs;
        L->probs[L->nprobs++] = shape[i];
    }
    free(shape);
}

cfg_t *
config_parse_file(struct load *L, const char *file, const char *text,
                  int dropin)
{
    struct problem *shape;
    size_t nshape;
    cfg_t *cfg = NULL;

    L->file = file;
    L->text = text;
    L->dropin = dropin;
    if (config_index_lines(L, text) != 0) {
        diag_add(L->d, file, 0, "out of memory");
        return NULL;
    }
    drop_problems(L);
    scan_shape(L);
    shape = L->probs;
    nshape = L->nprobs;
    L->probs = NULL;
    L->nprobs = 0;
    for (int pass = 0;; pass++) {
        drop_problems(L);
        config_seen_truncate(L, L->nseen_committed);
        config_refs_truncate(L, L->nrefs_committed);
        L->may_learn = pass < MAX_PASSES;
        L->learned_new = 0;
        L->last_opt = NULL;
        cfg = parse_once(L);
        if (cfg == NULL || !L->learned_new)
            break;
        config_root_free(L, cfg);
    }
    if (cfg == NULL)
        config_problem(L, 0, "out of memory");
    keep_shape(L, shape, nshape);
    if (!L->quiet) {
        if (L->nprobs > 0)
            qsort(L->probs, L->nprobs, sizeof(*L->probs), by_line);
        for (size_t i = 0; i < L->nprobs; i++)
            diag_add(L->d, file, L->probs[i].line, "%s", L->probs[i].msg);
        L->nseen_committed = L->nseen;
        L->nrefs_committed = L->nrefs;
    }
    drop_problems(L);
    return cfg;
}
