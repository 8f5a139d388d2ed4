/*
 * config_sections.c - the sections of a config file as libconfuse closes
 * them: the line each starts on, the instances seen so far (hashed by
 * plugin and title), duplicate instances and missing required options.
 *
 * libconfuse tells where a section ends, not where it starts; the start
 * is found in the file's text (section_start). A titled section is taken
 * out of libconfuse's tree as it closes (take_closed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "config_internal.h"

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

/* Does [p, eol) set name (`name =` or `name +=`)? */
static int
line_sets(const char *p, const char *eol, const char *name)
{
    size_t nlen = strlen(name);

    for (const char *s = p; (s = memmem(s, (size_t) (eol - s), name, nlen));
         s++) {
        const char *t = s + nlen;

        if ((s > p && ident_char(s[-1])) || (t < eol && ident_char(*t)))
            continue;
        while (t < eol && (*t == ' ' || *t == '\t'))
            t++;
        if (t < eol && (*t == '=' || (*t == '+' && t + 1 < eol
                                      && t[1] == '=')))
            return 1;
    }
    return 0;
}

int
config_option_line(struct load *L, size_t i, const char *msg)
{
    const struct seen *s = &L->seen[i];
    const outpost_plugin_t *p = registry_find(L->reg, s->plugin);
    int end = (int) L->nlines;
    enum secret_variant v;
    char name[OPTION_NAME_MAX + 8];
    size_t n = 0;

    if (s->file != L->file || p == NULL)
        return s->line;
    while (n + 1 < sizeof(name) && ident_char(msg[n]) && msg[n] != '-') {
        name[n] = msg[n];
        n++;
    }
    name[n] = '\0';
    if (n == 0 || (option_find(p->options, name, &v) == NULL
                   && option_find(config_common_options(p->kind), name,
                                  &v) == NULL))
        return s->line;
    if (i + 1 < L->nseen && L->seen[i + 1].file == s->file)
        end = L->seen[i + 1].line;
    for (int line = s->line; line <= end && line <= (int) L->nlines; line++)
        if (line_sets(L->starts[line - 1], L->starts[line] - 1, name))
            return line;
    return s->line;
}

/* Where each line of text starts; starts[nlines] is one past the end. */
int
config_index_lines(struct load *L, const char *text)
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

/* For each titled section it opens, libconfuse's cfg_setopt compares the
 * title with every section of that name so far, to replace a repeated one
 * in place (with or without CFGF_NO_TITLE_DUPES): n sections cost n^2/2
 * strcmp, 30-40 s for 50,000. So a titled section is taken out of its
 * option as soon as it closes and kept in L->closed until the root is
 * freed. The option never holds more than the section being read, the one
 * that just closed is its last, and duplicates are found in the hash of
 * seen. */
static cfg_t *
take_closed(struct load *L, cfg_opt_t *opt)
{
    cfg_value_t *val;

    if (opt->nvalues == 0)
        return NULL;
    val = opt->values[opt->nvalues - 1];
    if (!(opt->flags & CFGF_TITLE))
        return val->section;                /* api: cfg_getsec reads it */
    if (config_grow(&L->closed, L->nclosed, sizeof(val)) != 0) {
        config_problem(L, val->section->line, "out of memory");
        return NULL;
    }
    L->closed[L->nclosed++] = val;
    opt->nvalues--;
    return val->section;
}

/* After the parse, not as sections close: cfg_free of a section named
 * "root" (an unknown plugin's) resets libconfuse's lexer as for a root.
 * (When libconfuse itself replaced a repeated `root "x"`, that reset ended
 * the file there.) */
static void
free_closed(cfg_value_t *val)
{
    val->section->path = NULL;          /* root's, as cfg_free_value does */
    cfg_free(val->section);
    free(val);
}

void
config_root_free(struct load *L, cfg_t *root)
{
    for (size_t i = 0; i < L->nclosed; i++)
        free_closed(L->closed[i]);
    free(L->closed);
    L->closed = NULL;
    L->nclosed = 0;
    if (root != NULL)
        cfg_free(root);
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
void
config_seen_truncate(struct load *L, size_t n)
{
    if (L->nseen == n)
        return;
    while (L->nseen > n) {
        struct seen *s = &L->seen[--L->nseen];

        /* Set up in a pass that is being redone: in seen's order. */
        if (s->section >= 0)
            config_sections_truncate(L->c, (size_t) s->section);
        free(s->plugin);
        free(s->title);
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

static struct seen *
add_seen(struct load *L, const char *plugin, cfg_t *sec, int line)
{
    struct seen *v;

    if (config_grow(&L->seen, L->nseen, sizeof(*v)) != 0)
        return NULL;
    v = L->seen;
    v[L->nseen] = (struct seen) { strdup(plugin), strdup(sec->title), L->file,
                                  line, sec, -1, 0 };
    if (v[L->nseen].plugin == NULL || v[L->nseen].title == NULL) {
        free(v[L->nseen].plugin);
        free(v[L->nseen].title);
        return NULL;
    }
    L->nseen++;
    if (4 * L->nseen > L->nslots)
        seen_reindex(L);
    else
        seen_insert(L, L->nseen - 1);
    return &v[L->nseen - 1];
}

/* libconfuse's copy of s's section (the last one take_closed kept) goes
 * now. */
static void
drop_closed(struct load *L, struct seen *s)
{
    free_closed(L->closed[--L->nclosed]);
    s->sec = NULL;
}

static void
check_required(struct load *L, cfg_t *sec, const outpost_plugin_t *p,
               int line)
{
    for (const outpost_option_t *o = p->options; o && o->name; o++)
        if ((o->flags & OUTPOST_OPT_REQUIRED) && !option_is_set(o, sec))
            config_problem(L, line, "missing required option '%s' in %s "
                           "\"%s\"", o->name, p->name, sec->title);
}

/* An instance's name goes into every record's tags, log lines and file
 * names: UTF-8 without control characters, and not empty. */
static int
title_ok(struct load *L, int line, const char *plugin, const char *title)
{
    size_t len = strlen(title), bad = option_utf8_invalid(title, len);

    if (len == 0) {
        config_problem(L, line, "%s \"\": an instance needs a name", plugin);
        return 0;
    }
    if (bad < len) {
        config_problem(L, line, "%s instance name: invalid UTF-8 (byte 0x%02x "
                       "at offset %zu)", plugin, (unsigned char) title[bad],
                       bad);
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char) title[i] < 0x20 || title[i] == 0x7f) {
            config_problem(L, line, "%s instance name: control character "
                           "0x%02x at offset %zu", plugin,
                           (unsigned char) title[i], i);
            return 0;
        }
    }
    return 1;
}

/* Has this pass recorded a problem in the section that starts at line
 * (and has just closed)? Problems are recorded in reading order. */
static int
section_has_problems(struct load *L, int line)
{
    return L->nprobs > 0 && L->probs[L->nprobs - 1].line >= line;
}

int
config_section_closed(struct load *L, cfg_opt_t *opt)
{
    const outpost_plugin_t *p;
    struct seen *first, *s;
    cfg_t *sec = take_closed(L, opt);
    int line;

    L->last_opt = NULL;
    if (sec == NULL)
        return 0;
    line = section_start(L, sec->line, opt->name,
                         sec->title ? sec->title : "");
    if (sec->title == NULL) {
        if (L->dropin)
            config_problem(L, line, "section '%s' is a global setting: set "
                           "it in %s, not in a conf_dir file", opt->name,
                           L->main_path);
        return 0;
    }
    p = registry_find(L->reg, opt->name);
    if (p == NULL) {
        config_unknown_plugin(L, line, opt->name);
        return 0;
    }
    if (!title_ok(L, line, opt->name, sec->title))
        return 0;
    first = find_seen(L, opt->name, sec->title);
    if (first != NULL) {
        config_problem(L, line, "duplicate instance %s \"%s\" (first "
                       "defined at %s:%d)", opt->name, sec->title,
                       first->file, first->line);
        return 0;
    }
    s = add_seen(L, opt->name, sec, line);
    check_required(L, sec, p, line);
    /* Set up now unless the section itself has a problem (a bad value
     * would not convert), so that every other section is still checked by
     * its plugin in the same run; either way libconfuse's copy,
     * 8 KB a section, is not needed any more. Not for a plugin called
     * "root": freeing such a section resets libconfuse's lexer (see
     * config_root_free); add_sections sets it up after the parse. */
    if (s == NULL)
        return 0;
    s->bad = section_has_problems(L, line);
    if (strcmp(opt->name, "root") == 0)
        return 0;
    if (!L->quiet && !s->bad)
        config_section_setup(L, p, sec, s);
    drop_closed(L, s);
    return 0;
}
