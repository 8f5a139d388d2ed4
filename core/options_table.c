/*
 * options_table.c - option tables as tables: the core's common options of
 * each kind of plugin, finding a row by name, the libconfuse option arrays
 * built from tables (struct optv), and config_describe() for
 * `outpostd --describe`. Values are read and checked in options.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "config_internal.h"
#include "options.h"
#include "options_internal.h"
#include "registry.h"

#define DAYS_365_MS     31536000000.0

#define C(field) offsetof(struct common_conf, field)

static const outpost_option_t input_common[] = {
    { "interval", OUTPOST_OPT_DURATION, C(interval_ms), NULL,
      "time between runs (default: the global interval)",
      0, 1, DAYS_365_MS, NULL },
    { "timeout", OUTPOST_OPT_DURATION, C(timeout_ms), NULL,
      "a run taking longer fails (default: the global timeout)",
      0, 1, DAYS_365_MS, NULL },
    { "tags", OUTPOST_OPT_STRLIST, C(tags), NULL,
      "extra tags on every record, \"key=value\"", 0, 0, 0, NULL },
    { "category", OUTPOST_OPT_STRING, C(category), NULL,
      "category tag (default: the plugin's name)", 0, 0, 0, NULL },
    { "provider", OUTPOST_OPT_STRING, C(provider), NULL,
      "provider tag (default: the instance's name)", 0, 0, 0, NULL },
    { "tier", OUTPOST_OPT_ENUM, C(tier), NULL,
      "SLA tier", 0, 0, 0, "basic|professional|enterprise" },
    { "failover_group", OUTPOST_OPT_STRING, C(failover_group), NULL,
      "inputs in one group stand in for each other", 0, 0, 0, NULL },
    { "priority", OUTPOST_OPT_INT, C(priority), "0",
      "order within the failover group, lowest first",
      0, -2147483647.0, 2147483647.0, NULL },
    { "weight", OUTPOST_OPT_FLOAT, C(weight), "1",
      "share of traffic within the failover group", 0, 0, 1e6, NULL },
    OUTPOST_OPTION_END
};

static const outpost_option_t filter_common[] = {
    { "match", OUTPOST_OPT_STRLIST, C(match), NULL,
      "only records whose tags match every \"key=glob\"", 0, 0, 0, NULL },
    OUTPOST_OPTION_END
};

static const outpost_option_t output_common[] = {
    { "match", OUTPOST_OPT_STRLIST, C(match), NULL,
      "only records whose tags match every \"key=glob\"", 0, 0, 0, NULL },
    { "batch_size", OUTPOST_OPT_INT, C(batch_size), "500",
      "records per write", 0, 1, 1e6, NULL },
    { "flush_interval", OUTPOST_OPT_DURATION, C(flush_interval_ms), "1s",
      "write a partial batch after this long", 0, 1, DAYS_365_MS, NULL },
    { "queue_limit", OUTPOST_OPT_INT, C(queue_limit), "100000",
      "records held in memory before spilling or dropping",
      0, 1, 1e9, NULL },
    { "retry_initial", OUTPOST_OPT_DURATION, C(retry_initial_ms), "500ms",
      "first retry delay; it doubles up to retry_max",
      0, 1, DAYS_365_MS, NULL },
    { "retry_max", OUTPOST_OPT_DURATION, C(retry_max_ms), "60s",
      "longest retry delay", 0, 1, DAYS_365_MS, NULL },
    { "spill_after", OUTPOST_OPT_DURATION, C(spill_after_ms), "10s",
      "spill to disk once the backend has been down this long",
      0, 0, DAYS_365_MS, NULL },
    { "disk_limit_mb", OUTPOST_OPT_INT, C(disk_limit_mb), "1024",
      "disk space for spilled records, in MiB", 0, 1, 1e7, NULL },
    { "timeout", OUTPOST_OPT_DURATION, C(timeout_ms), NULL,
      "a write taking longer is retried (default: the global timeout)",
      0, 1, DAYS_365_MS, NULL },
    { "tick_interval", OUTPOST_OPT_DURATION, C(tick_interval_ms), "1s",
      "how often the plugin's periodic work runs, if it has any",
      0, 10, DAYS_365_MS, NULL },
    { "dead_letter_limit_mb", OUTPOST_OPT_INT, C(dead_letter_limit_mb), "64",
      "size of the file keeping rejected records, in MiB; beyond it they "
      "are counted and dropped", 0, 1, 1e6, NULL },
    { "fallback", OUTPOST_OPT_STRING, C(fallback), NULL,
      "notifiers: another notifier that also gets this one's events while "
      "it has been failing for fallback_after", OUTPOST_OPT_OUTPUTS,
      0, 0, NULL },
    { "fallback_after", OUTPOST_OPT_DURATION, C(fallback_after_ms), "5m",
      "how long a notifier fails before its fallback is used",
      0, 0, DAYS_365_MS, NULL },
    OUTPOST_OPTION_END
};

#define COMMON_ROWS_MAX 32      /* rows in the longest table above */

const outpost_option_t *
config_common_options(outpost_kind_t kind)
{
    switch (kind) {
    case OUTPOST_INPUT:  return input_common;
    case OUTPOST_FILTER: return filter_common;
    case OUTPOST_OUTPUT: return output_common;
    }
    return NULL;
}

/* --- a plugin's own defaults ------------------------------------------- */

/* table with p's output_defaults put in; n rows at most (with the end). */
static const outpost_option_t *
with_plugin_defaults(const outpost_plugin_t *p, outpost_option_t *copy,
                     size_t n)
{
    const outpost_option_t *table = config_common_options(p->kind);
    const outpost_default_t *d = registry_output_defaults(p);
    size_t rows = 0;

    if (d == NULL || table == NULL)
        return table;
    while (table[rows].name)
        rows++;
    if (rows + 1 > n)
        return table;
    memcpy(copy, table, (rows + 1) * sizeof(*copy));
    for (; d->name; d++)
        for (size_t i = 0; i < rows; i++)
            if (strcmp(copy[i].name, d->name) == 0)
                copy[i].def = d->value;
    return copy;
}

int
config_common_fill(const outpost_plugin_t *p, cfg_t *sec,
                   struct common_conf *c)
{
    outpost_option_t copy[COMMON_ROWS_MAX];

    return options_fill(with_plugin_defaults(p, copy, COMMON_ROWS_MAX), sec,
                        c);
}

int
config_check_output_defaults(const outpost_plugin_t *p, char *err,
                             size_t errlen)
{
    const outpost_default_t *d = registry_output_defaults(p);
    enum secret_variant v;
    char why[256];

    if (d == NULL)
        return 0;
    if (p->kind != OUTPOST_OUTPUT) {
        snprintf(err, errlen, "output_defaults is set, but the plugin is "
                 "not an output");
        return -1;
    }
    for (; d->name; d++) {
        const outpost_option_t *o = option_find(output_common, d->name, &v);

        /* A list default would be parsed by libconfuse while a config file
         * is being read (see options.c); match has no sane default. */
        if (o == NULL || v != SECRET_VALUE || option_is_list(o)) {
            snprintf(err, errlen, "output_defaults: '%s' is not a common "
                     "output option a plugin can set", d->name);
            return -1;
        }
        if (d->value == NULL
            || option_check_value(o, d->value, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "output_defaults: '%s': %s", d->name,
                     d->value ? why : "no value");
            return -1;
        }
    }
    return 0;
}

/* tags and match are lists of "key=..." pairs; say which form. */
const char *
option_pair_form(const outpost_option_t *o)
{
    if (o == &input_common[2])
        return "key=value";
    if (o == &filter_common[0] || o == &output_common[0])
        return "key=glob";
    return NULL;
}

/* --- finding a row ----------------------------------------------------- */

const outpost_option_t *
option_find(const outpost_option_t *table, const char *name,
            enum secret_variant *variant)
{
    static const char *const suffix[] = { "", "_env", "_file" };

    *variant = SECRET_VALUE;
    for (const outpost_option_t *o = table; o && o->name; o++) {
        size_t len = strlen(o->name);

        if (strcmp(o->name, name) == 0)
            return o;
        if (o->type != OUTPOST_OPT_SECRET || strncmp(o->name, name, len))
            continue;
        for (int v = SECRET_ENV; v <= SECRET_FILE; v++) {
            if (strcmp(name + len, suffix[v]) == 0) {
                *variant = (enum secret_variant) v;
                return o;
            }
        }
    }
    return NULL;
}

/* --- libconfuse tables ------------------------------------------------- */

int
optv_has(const struct optv *ov, const char *name)
{
    for (size_t i = 0; i < ov->n; i++)
        if (strcmp(ov->v[i].name, name) == 0)
            return 1;
    return 0;
}

int
optv_add(struct optv *ov, const char *name, int list, cfg_opt_t *sub,
         cfg_flag_t flags, cfg_validate_callback_t cb)
{
    cfg_opt_t o = CFG_STR(name, NULL, CFGF_NODEFAULT);

    if (optv_has(ov, name))
        return 0;
    if (ov->n + 2 > ov->cap) {
        size_t cap = ov->cap ? ov->cap * 2 : 16;
        cfg_opt_t *v = realloc(ov->v, cap * sizeof(*v));

        if (v == NULL)
            return -1;
        ov->v = v;
        ov->cap = cap;
    }
    if (sub)
        o = (cfg_opt_t) CFG_SEC(name, sub, flags);
    else if (list)
        o = (cfg_opt_t) CFG_STR_LIST(name, NULL, CFGF_NODEFAULT);
    o.validcb = cb;
    ov->v[ov->n++] = o;
    ov->v[ov->n] = (cfg_opt_t) CFG_END();
    return 0;
}

static int
optv_add_owned(struct optv *ov, char *name, cfg_validate_callback_t cb)
{
    char **names = realloc(ov->names, (ov->nnames + 1) * sizeof(*names));

    if (names == NULL) {
        free(name);
        return -1;
    }
    ov->names = names;
    ov->names[ov->nnames++] = name;
    return optv_add(ov, name, 0, NULL, 0, cb);
}

int
optv_add_table(struct optv *ov, const outpost_option_t *table,
               cfg_validate_callback_t cb)
{
    for (const outpost_option_t *o = table; o && o->name; o++) {
        char *env = NULL, *file = NULL;

        if (optv_add(ov, o->name, option_is_list(o), NULL, 0, cb) != 0)
            return -1;
        if (o->type != OUTPOST_OPT_SECRET)
            continue;
        if (asprintf(&env, "%s_env", o->name) < 0
            || optv_add_owned(ov, env, cb) != 0)
            return -1;
        if (asprintf(&file, "%s_file", o->name) < 0
            || optv_add_owned(ov, file, cb) != 0)
            return -1;
    }
    return 0;
}

cfg_opt_t *
optv_get(struct optv *ov)
{
    if (ov->v == NULL) {
        ov->v = calloc(1, sizeof(*ov->v));
        if (ov->v == NULL)
            return NULL;
        ov->v[0] = (cfg_opt_t) CFG_END();
        ov->cap = 1;
    }
    return ov->v;
}

void
optv_free(struct optv *ov)
{
    for (size_t i = 0; i < ov->nnames; i++)
        free(ov->names[i]);
    free(ov->names);
    free(ov->v);
    memset(ov, 0, sizeof(*ov));
}

/* --- describe ---------------------------------------------------------- */

static const char *
type_name(const outpost_option_t *o, char *buf, size_t len)
{
    switch (o->type) {
    case OUTPOST_OPT_STRING:   return "string";
    case OUTPOST_OPT_INT:      return "integer";
    case OUTPOST_OPT_FLOAT:    return "float";
    case OUTPOST_OPT_BOOL:     return "boolean";
    case OUTPOST_OPT_DURATION: return "duration";
    case OUTPOST_OPT_STRLIST:  return "list of strings";
    case OUTPOST_OPT_INTLIST:  return "list of integers";
    case OUTPOST_OPT_SECRET:
        snprintf(buf, len, "secret (also %s_env, %s_file)", o->name, o->name);
        return buf;
    case OUTPOST_OPT_ENUM:
        snprintf(buf, len, "one of %s", o->choices ? o->choices : "");
        return buf;
    }
    return "?";
}

static void
describe_table(const outpost_option_t *table, FILE *out)
{
    if (table == NULL || table->name == NULL)
        fputs("  (none)\n", out);
    for (const outpost_option_t *o = table; o && o->name; o++) {
        int quote = o->def && o->def[0] != '"' && o->def[0] != '{'
                    && (o->type == OUTPOST_OPT_STRING
                        || o->type == OUTPOST_OPT_ENUM);
        char type[256], lo[32], hi[32];

        fprintf(out, "  %-18s %s", o->name, type_name(o, type, sizeof(type)));
        if (o->def)
            fprintf(out, ", default %s%s%s", quote ? "\"" : "", o->def,
                    quote ? "\"" : "");
        if (o->flags & OUTPOST_OPT_REQUIRED)
            fputs(", required", out);
        if (o->max > o->min) {
            option_bound_text(o, o->min, lo, sizeof(lo));
            option_bound_text(o, o->max, hi, sizeof(hi));
            fprintf(out, ", %s..%s", lo, hi);
        }
        fputc('\n', out);
        if (o->help)
            fprintf(out, "  %-18s %s\n", "", o->help);
    }
}

void
config_describe(const outpost_plugin_t *p, FILE *out)
{
    static const char *const kinds[] = { "?", "input", "filter", "output" };
    const char *kind = p->kind >= OUTPOST_INPUT && p->kind <= OUTPOST_OUTPUT
                       ? kinds[p->kind] : kinds[0];

    fprintf(out, "%s (%s plugin)\n", p->name, kind);
    if (p->description)
        fprintf(out, "  %s\n", p->description);
    fprintf(out, "\noptions:\n");
    describe_table(p->options, out);
    fprintf(out, "\ncommon %s options:\n", kind);
    {
        outpost_option_t copy[COMMON_ROWS_MAX];

        describe_table(with_plugin_defaults(p, copy, COMMON_ROWS_MAX), out);
    }
}

void
config_describe_globals(FILE *out)
{
    fputs("outpost.conf (global options; drop-in files in conf_dir hold "
          "sections only)\n\noptions:\n", out);
    describe_table(config_globals_table, out);
    fputs("\napi { ... } section (the HTTP API, docs/api.md; without the "
          "section it listens on 127.0.0.1:8003):\n", out);
    describe_table(config_api_table, out);
}
