/*
 * config_internal.h - private to config.c, config_parse.c and
 * config_sections.c: the state of a load in progress (struct load) and
 * the functions these three files call in each other. Nothing else in the
 * core includes it; the public interface is config.h.
 */
#ifndef OUTPOST_CONFIG_INTERNAL_H
#define OUTPOST_CONFIG_INTERNAL_H

#include <stddef.h>
#include <confuse.h>
#include "config.h"
#include "options.h"

/* The core's own option tables (config.c): the top level, and the api
 * section. */
extern const outpost_option_t config_globals_table[];
extern const outpost_option_t config_api_table[];

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
    cfg_t      *sec;      /* NULL: freed as it closed (all but a plugin
                             called "root", alive until config_root_free) */
    long        section;  /* index in c->sections once set up, else -1 */
    int         bad;      /* has a problem of its own: never set up */
};

struct problem {
    int    line;
    size_t seq;
    char  *msg;
    int    syntax;    /* libconfuse's own message */
};

struct ref {              /* a value that names output instances */
    const char *file;     /* main_path or one of load.files */
    int         line;
    char       *what;     /* "option 'critical' in alert \"a\"" */
    char       *names;    /* "name" or "plugin:name", comma-separated */
};

struct set_opt {          /* a scalar option set in this pass */
    cfg_opt_t *opt;
    int        line;
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
    int              state_dir_line;
    int              api_line;       /* the api section's last option */
    int              api_listen_line, api_token_line, api_cert_line,
                     api_key_line;

    /* the file being parsed */
    const char      *file;
    const char      *text;
    const char     **starts;      /* of each line, see config_index_lines */
    size_t           nlines;
    int              dropin;
    cfg_t           *root;

    /* the current pass over it */
    struct problem  *probs;
    size_t           nprobs;
    int              marking;     /* problems now are syntax errors */
    int              syntax_line, syntax_all;  /* see scan_shape */
    struct ref      *refs;        /* checked once every file is read */
    size_t           nrefs, nrefs_committed;
    struct set_opt  *set_root, *set_sec;  /* see check_twice */
    size_t           nset_root, nset_sec;
    int              may_learn, learned_new;
    cfg_opt_t       *last_opt;    /* a list's last check, see on_value */
    unsigned         last_n;

    struct learned  *learned;
    size_t           nlearned;
    struct seen     *seen;        /* every instance, in config order */
    size_t           nseen, nseen_committed;
    size_t          *slots;       /* hash of seen: index + 1; 0 is free */
    size_t           nslots;      /* a power of two; 0: no hash */
    cfg_value_t    **closed;      /* titled sections taken out of root */
    size_t           nclosed;
    char           **files;
    size_t           nfiles;
};

/* config.c */

/* Makes room in *pv (an array of n elements of size) for one more. */
int config_grow(void *pv, size_t n, size_t size);
/* config_api.c: remembers the line of an option of the api section, and
 * checks the section once read (files readable, TLS pair complete). */
void config_api_line(struct load *L, const char *option, int line);
void config_api_check(struct load *L);
/* Converts a closed section of plugin p into c->sections (s->section);
 * a problem at s->line if it cannot. 0 / -1. */
int config_section_setup(struct load *L, const outpost_plugin_t *p,
                         cfg_t *sec, struct seen *s);
/* Frees c->sections[n..]. */
void config_sections_truncate(struct config *c, size_t n);

/* config_parse.c */

/* Records a problem of the current pass at line. */
void config_problem(struct load *L, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "unknown plugin 'x' (loaded: ...)", with a guess at what was meant. */
void config_unknown_plugin(struct load *L, int line, const char *name);
/* The names of the loaded plugins, for messages. */
const char *config_loaded(struct load *L);
/* Parses one file until no new name is learned (see config_parse.c); free
 * the root with config_root_free. */
cfg_t *config_parse_file(struct load *L, const char *file, const char *text,
                         int dropin);
void config_forget_learned(struct load *L);
/* Forgets the scalar options set in the section being read (and with
 * root, at the top level too). */
void config_forget_set(struct load *L, int root);

/* Forgets refs[n..] (those of a pass that is parsed again). */
void config_refs_truncate(struct load *L, size_t n);
/* Reports every ref naming an output instance the config lacks. */
void config_refs_check(struct load *L);

/* config_fallback.c */

/* Checks the outputs' `fallback` options once every file is read: only a
 * notifier has one, it names one other notifier, and following them
 * never comes back (a cycle). Problems at the option's line. */
void config_fallback_check(struct load *L);

/* config_sections.c */

int config_index_lines(struct load *L, const char *text);
/* The line of seen[i] (a section of the file being read) that sets the
 * option msg starts with ("json_path: ..."), so a plugin's complaint
 * about an option points at it; else the section's line. */
int config_option_line(struct load *L, size_t i, const char *msg);
void config_seen_truncate(struct load *L, size_t n);
/* on_value's work when a section closes (opt is of type CFGT_SEC). */
int config_section_closed(struct load *L, cfg_opt_t *opt);
/* Frees a parse's root and the sections taken out of it (L->closed). */
void config_root_free(struct load *L, cfg_t *root);

#endif
