/*
 * options.h - option tables (outpost_option_t) as the core uses them: the
 * core's own tables, checking one value, filling a conf block from a
 * libconfuse section, and building the libconfuse tables. Values are
 * handled in options.c, the tables as such in options_table.c.
 *
 * Every option is declared to libconfuse as a string (or a list of
 * strings): libconfuse only tokenizes, and all conversion and validation
 * happens here, so every message names the option and nothing aborts the
 * parse of a file on a bad value.
 */
#ifndef OUTPOST_OPTIONS_H
#define OUTPOST_OPTIONS_H

#include <confuse.h>
#include <outpost/plugin.h>

#define OPTION_NAME_MAX 48   /* longest option name; "<name>_file" fits */

/* How a SECRET option `x` was given. */
enum secret_variant {
    SECRET_VALUE = 0,   /* x = "..." */
    SECRET_ENV   = 1,   /* x_env = "VAR" */
    SECRET_FILE  = 2    /* x_file = "/path" */
};

/* Finds name in table (which may be NULL). `x_env` and `x_file` find the
 * SECRET row `x` and set *variant; otherwise *variant is SECRET_VALUE. */
const outpost_option_t *option_find(const outpost_option_t *table,
                                    const char *name,
                                    enum secret_variant *variant);

/* Checks one value (for list types: one element) against o's type,
 * bounds and choices. 0 when good; else -1 with the reason in err, e.g.
 * `expected an integer, got "high"`. */
int option_check_value(const outpost_option_t *o, const char *text,
                       char *err, size_t errlen);

/* Reads a secret given as x_env (arg is a variable name) or x_file (arg
 * is a path; one trailing newline is stripped). On success *out is a new
 * string; else -1 with the reason in err. */
int option_secret_read(enum secret_variant variant, const char *arg,
                       char **out, char *err, size_t errlen);

/* Does sec set o (for a SECRET: any of its three forms)? */
int option_is_set(const outpost_option_t *o, cfg_t *sec);

/* The libconfuse option called name in sec, without the error libconfuse
 * reports for unknown names. */
cfg_opt_t *option_cfg_find(cfg_t *sec, const char *name);

/* Fills conf from table: each option's default, then sec's value (sec may
 * be NULL: defaults only). Values were checked while parsing; returns -1
 * if one still does not convert (or memory ran out). */
int options_fill(const outpost_option_t *table, cfg_t *sec, void *conf);

/* Fills c from the common options of p's kind: each option's default
 * (the plugin's own from output_defaults, where it gives one), then sec's
 * value. As options_fill. */
struct common_conf;
int config_common_fill(const outpost_plugin_t *p, cfg_t *sec,
                       struct common_conf *c);

/* Checks that o's default reads as a value of its type. 0 when good; else
 * -1 with the reason in err. */
int option_check_default(const outpost_option_t *o, char *err, size_t errlen);
/* Parses table's defaults now, so that setting up a section never parses
 * one while a config file is being read (see options.c). */
void options_warm(const outpost_option_t *table);
/* Frees the parsed defaults; at exit, for leak checkers. */
void options_release_defaults(void);

/* The offset of the first byte of text[0..len) that is not valid UTF-8
 * (overlong forms and surrogates included); len when all is. */
size_t option_utf8_invalid(const char *text, size_t len);

/* The whole of a (small) regular file as a string, its length in *len
 * (it may hold NUL bytes). Never blocks: a FIFO, device or directory is
 * refused unread. NULL with the reason in why when it cannot be read, is
 * not a regular file or is larger than max bytes. */
char *option_read_file(const char *path, size_t max, size_t *len, char *why,
                       size_t whylen);

/* A libconfuse option array under construction. cfg_init() copies what
 * it is given, so a builder is freed right after cfg_init(). */
struct optv {
    cfg_opt_t *v;        /* always ends with CFG_END() */
    size_t     n, cap;
    char     **names;    /* names this builder allocated */
    size_t     nnames;
};

/* Appends a string option (list: a list of strings) or, with sub, a
 * section (flags: CFGF_MULTI, CFGF_TITLE). cb validates each value, or a
 * section when it closes. Skips a name that is already there. */
int optv_add(struct optv *ov, const char *name, int list, cfg_opt_t *sub,
             cfg_flag_t flags, cfg_validate_callback_t cb);
/* Appends every row of table; a SECRET `x` adds x, x_env and x_file. */
int optv_add_table(struct optv *ov, const outpost_option_t *table,
                   cfg_validate_callback_t cb);
int optv_has(const struct optv *ov, const char *name);
/* The array to hand to libconfuse (never NULL unless memory ran out). */
cfg_opt_t *optv_get(struct optv *ov);
void optv_free(struct optv *ov);

#endif
