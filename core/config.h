/*
 * config.h - outpost.conf plus every *.conf in conf_dir (name order), parsed
 * with libconfuse from the loaded plugins' option tables.
 *
 * Ownership: config_load() returns a config that owns every string and every
 * section's conf block. instance_new() takes a section's conf block (the
 * section's pointer is set to NULL), so config_free() never double-frees.
 */
#ifndef OUTPOST_CONFIG_H
#define OUTPOST_CONFIG_H

#include <stdint.h>
#include <outpost/plugin.h>
#include "diag.h"
#include "log.h"
#include "registry.h"

/* Options the core owns for every section of a kind. */
struct common_conf {
    /* inputs */
    int64_t           interval_ms;    /* 0: the global interval */
    int64_t           timeout_ms;     /* 0: the global timeout (inputs'
                                         runs and outputs' writes) */
    outpost_strlist_t tags;           /* "key=value" */
    char             *category;       /* default: the plugin's name */
    char             *provider;       /* default: the instance's name */
    char             *tier;
    char             *failover_group;
    int64_t           priority;
    double            weight;
    /* filters and outputs */
    outpost_strlist_t match;          /* "key=glob"; all must hold */
    /* outputs */
    int64_t           batch_size;
    int64_t           flush_interval_ms;
    int64_t           queue_limit;    /* records held in memory */
    int64_t           retry_initial_ms;
    int64_t           retry_max_ms;
    int64_t           spill_after_ms; /* backend down this long: spill */
    int64_t           disk_limit_mb;
    int64_t           tick_interval_ms;     /* output_tick period */
    int64_t           dead_letter_limit_mb; /* dead-letter file size cap */
    char             *fallback;       /* notifiers: another notifier's
                                         name; NULL: none (output.c) */
    int64_t           fallback_after_ms;
};

struct section {
    const outpost_plugin_t *plugin;
    char                   *instance;
    char                   *file;
    int                     line;
    void                   *conf;     /* plugin conf block, filled */
    struct common_conf      common;
};

struct config {
    char                *path;
    int64_t              interval_ms;
    int64_t              timeout_ms;
    char                *plugin_dir;
    char                *conf_dir;
    char                *state_dir;
    outpost_log_level_t  log_level;
    enum log_format      log_format;
    int                  api_enabled;
    int                  api_require_token;
    char                *api_listen;          /* "host:port" */
    char                *api_token_file;      /* NULL: none */
    char                *api_tls_cert_file;   /* both or neither */
    char                *api_tls_key_file;
    int64_t              api_max_body;
    int64_t              api_max_connections;
    int64_t              api_connection_timeout_ms;
    int64_t              api_threads;
    int64_t              api_failing_after_ms;  /* /health: output down */
    struct section      *sections;    /* config order */
    size_t               nsections;
};

/* Reads path's globals, loads every plugin in plugin_dir (the config's, or
 * else default_plugin_dir) into reg, then parses path and every *.conf in
 * conf_dir. With default_plugin_dir NULL and no plugin_dir in the file, no
 * module is loaded (tests register plugins themselves). Relative conf_dir,
 * state_dir and plugin_dir are taken from the directory of path. Every
 * problem is added to d; returns NULL if there was any. */
struct config *config_load(const char *path, struct registry *reg,
                           const char *default_plugin_dir, struct diag *d);
void config_free(struct config *c);

/* One line per instance, for `outpostd -t`: FILE:LINE, plugin, name,
 * kind; for an input its interval and the outputs that take its records
 * (as far as their match can tell from the input's own tags). */
void config_summary(const struct config *c, FILE *out);

/* The plugin_dir config_load would use for path (the file's, or else
 * default_plugin_dir), without loading anything: for --list-plugins,
 * --describe and --sample-config with -C. Malloc'ed; NULL with d filled
 * when path cannot be read. */
char *config_plugin_dir(const char *path, const char *default_plugin_dir,
                        struct diag *d);

/* Core option tables, for --describe and the docs. */
const outpost_option_t *config_common_options(outpost_kind_t kind);

/* Checks p's output_defaults: each names a common output option other
 * than match, with a value of its type. 0, or -1 with the reason in err. */
int config_check_output_defaults(const outpost_plugin_t *p, char *err,
                                 size_t errlen);

/* Prints every option of p (common ones included) with type, default and
 * help: the text of `outpostd --describe NAME`. */
void config_describe(const outpost_plugin_t *p, FILE *out);

/* The same for outpost.conf's own options and its api section: the text
 * of `outpostd --describe global`. */
void config_describe_globals(FILE *out);

/* A commented section of plugin p, ready to paste into a conf_dir file:
 * every option with its help as a comment, those with a default left
 * commented out at it, the required ones set to a placeholder (so the
 * section passes `outpostd -t` as printed), then the common options of
 * p's kind. The text of `outpostd --sample-config NAME` (sample.c). */
void config_sample(const outpost_plugin_t *p, FILE *out);

/* Frees strings and lists that the option table placed in conf. */
void options_release(const outpost_option_t *table, void *conf);

#endif
