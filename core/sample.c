/*
 * sample.c - `outpostd --sample-config NAME`: a plugin's section written
 * from its option table, to paste into a file of conf_dir.
 *
 * The text it prints, for a plugin with options a (required), b (default
 * "x") and c (no default):
 *
 *   # http (input plugin): <description>
 *   # ...
 *   http "example" {
 *     # <help of a> (required)
 *     a = <placeholder>
 *
 *     # <help of b>
 *     # b = "x"
 *     ...
 *   }
 *
 * Every line but the required ones is a comment, so the section, pasted
 * as printed, configures the plugin at its defaults and passes
 * `outpostd -t` (tests/e2e/test_dryrun.py checks it for every plugin).
 * An option with an example (option_examples, plugin.h) is written set
 * to it: examples are given for what a working section needs (a
 * required option, or one of two that exclude each other); other
 * required options get a placeholder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "options.h"
#include "registry.h"

#define WRAP 76

static const char *const kind_names[] = { "?", "input", "filter", "output" };

static const char *
kind_name(outpost_kind_t k)
{
    return k >= OUTPOST_INPUT && k <= OUTPOST_OUTPUT ? kind_names[k]
                                                     : kind_names[0];
}

/* Writes text as "<indent># " lines of at most WRAP columns, breaking at
 * spaces. */
static void
comment(FILE *out, const char *indent, const char *text)
{
    size_t width = WRAP - strlen(indent) - 2;

    while (*text) {
        size_t len = strlen(text), cut = len;

        if (len > width) {
            for (cut = width; cut > 0 && text[cut] != ' '; cut--)
                ;
            if (cut == 0)
                cut = strcspn(text, " ");
        }
        fprintf(out, "%s# %.*s\n", indent, (int) cut, text);
        text += cut;
        while (*text == ' ')
            text++;
    }
}

static int
quoted(const outpost_option_t *o)
{
    return o->type == OUTPOST_OPT_STRING || o->type == OUTPOST_OPT_ENUM
           || o->type == OUTPOST_OPT_SECRET || o->type == OUTPOST_OPT_DURATION;
}

/* A value of o's type for a required option that has no default. Only
 * URLs are required today; a string that is not one says what to put. */
static const char *
placeholder(const outpost_option_t *o)
{
    size_t len = strlen(o->name);

    switch (o->type) {
    case OUTPOST_OPT_INT:
    case OUTPOST_OPT_FLOAT:    return "0";
    case OUTPOST_OPT_BOOL:     return "false";
    case OUTPOST_OPT_DURATION: return "\"30s\"";
    case OUTPOST_OPT_STRLIST:  return "{}";
    case OUTPOST_OPT_INTLIST:  return "{}";
    default:
        if (len >= 3 && strcmp(o->name + len - 3, "url") == 0)
            return "\"https://example.com/\"";
        return "\"CHANGE-ME\"";
    }
}

/* What a commented-out option without a default shows. */
static const char *
unset_example(const outpost_option_t *o)
{
    switch (o->type) {
    case OUTPOST_OPT_INT:
    case OUTPOST_OPT_FLOAT:    return "0";
    case OUTPOST_OPT_BOOL:     return "false";
    case OUTPOST_OPT_STRLIST:  return "{\"...\"}";
    case OUTPOST_OPT_INTLIST:  return "{0}";
    default:                   return "\"...\"";
    }
}

/* The plugin's example for option name (ABI 1.3), or NULL. */
static const char *
example_of(const outpost_plugin_t *p, const char *name)
{
    const outpost_default_t *e = p ? registry_option_examples(p) : NULL;

    for (; e && e->name; e++)
        if (strcmp(e->name, name) == 0)
            return e->value;
    return NULL;
}

static void
sample_option(FILE *out, const outpost_option_t *o, const char *example)
{
    int required = (o->flags & OUTPOST_OPT_REQUIRED) != 0;
    int quote = o->def && quoted(o) && o->def[0] != '"' && o->def[0] != '{';
    char help[1024];

    snprintf(help, sizeof(help), "%s%s%s%s%s%s",
             o->help ? o->help : "",
             o->type == OUTPOST_OPT_ENUM && o->choices ? " (one of " : "",
             o->type == OUTPOST_OPT_ENUM && o->choices ? o->choices : "",
             o->type == OUTPOST_OPT_ENUM && o->choices ? ")" : "",
             o->type == OUTPOST_OPT_SECRET ? "; or set " : "",
             required ? " (required)" : "");
    if (o->type == OUTPOST_OPT_SECRET) {
        size_t len = strlen(help);
        snprintf(help + len, sizeof(help) - len, "%s_env = \"VAR\" or "
                 "%s_file = \"/path\"", o->name, o->name);
    }
    fputc('\n', out);
    if (help[0])
        comment(out, "  ", help);
    if (example)
        fprintf(out, "  %s = %s\n", o->name, example);
    else if (required)
        fprintf(out, "  %s = %s\n", o->name,
                o->def ? o->def : placeholder(o));
    else if (o->def)
        fprintf(out, "  # %s = %s%s%s\n", o->name, quote ? "\"" : "", o->def,
                quote ? "\"" : "");
    else
        fprintf(out, "  # %s = %s\n", o->name, unset_example(o));
}

/* The first provider whose checks accept the plugin's defaults (the
 * section sets nothing but the required options), else the first. A
 * provider that needs credentials or a connection string would make the
 * sample fail `outpostd -t`. */
static const char *
pick_provider(const outpost_plugin_t *p, const char *const *providers)
{
    registry_provider_check_fn check = registry_validate_provider(p);
    void *conf = p->conf_size ? calloc(1, p->conf_size) : NULL;
    const char *pick = providers[0];
    char err[512];

    if (check == NULL || (p->conf_size && conf == NULL))
        goto out;
    if (options_fill(p->options, NULL, conf) != 0)
        goto out;
    for (size_t i = 0; providers[i]; i++) {
        if (check(conf, providers[i], err, sizeof(err)) == 0) {
            pick = providers[i];
            break;
        }
    }
out:
    options_release(p->options, conf);
    free(conf);
    return pick;
}

void
config_sample(const outpost_plugin_t *p, FILE *out)
{
    const char *const *providers = registry_providers(p);
    const char *kind = kind_name(p->kind);
    const char *title = providers && providers[0]
                        ? pick_provider(p, providers)
                        : p->kind == OUTPOST_INPUT ? "example" : "default";
    char line[1024];

    snprintf(line, sizeof(line), "%s (%s plugin): %s", p->name, kind,
             p->description ? p->description : "");
    comment(out, "", line);
    comment(out, "", "Written by `outpostd --sample-config` from the "
            "plugin's option table. Options left commented out keep the "
            "default shown; required ones are set to a placeholder to "
            "replace. Paste into a *.conf file of conf_dir.");
    if (providers && providers[0]) {
        size_t len = (size_t) snprintf(line, sizeof(line), "The instance's "
                                       "name picks the provider, or set "
                                       "provider = one of:");
        for (size_t i = 0; providers[i] && len < sizeof(line); i++)
            len += (size_t) snprintf(line + len, sizeof(line) - len, "%s %s",
                                     i ? "," : "", providers[i]);
        comment(out, "", line);
    }
    fprintf(out, "%s \"%s\" {", p->name, title);
    for (const outpost_option_t *o = p->options; o && o->name; o++)
        sample_option(out, o, example_of(p, o->name));
    fprintf(out, "\n  # --- options every %s has ---\n", kind);
    for (const outpost_option_t *o = config_common_options(p->kind);
         o && o->name; o++)
        sample_option(out, o, NULL);
    fputs("}\n", out);
}
