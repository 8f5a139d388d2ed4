/*
 * agent.h - the whole agent as a library: load a config, run the pipeline,
 * reload, stop. outpostd is a thin main() around it; tests and benchmarks
 * run it in-process.
 */
#ifndef OUTPOST_AGENT_H
#define OUTPOST_AGENT_H

#include "diag.h"
#include "registry.h"

struct config;

struct agent;

struct agent_opts {
    const char      *config_path;
    const char      *default_plugin_dir; /* NULL: load no modules */
    struct registry *registry;           /* NULL: the agent makes one */
    int              collect_threads;    /* 0: default (4) */
};

/* Loads plugins and config. NULL (and d filled) on any problem. */
struct agent *agent_new(const struct agent_opts *o, struct diag *d);
void agent_free(struct agent *a);

/* Builds and starts every instance. once: each input runs one time. */
int  agent_start(struct agent *a, int once);

/* once mode: waits for every input's run, then drains every output.
 * 0 when everything was delivered, 1 when an output failed. */
int  agent_finish_once(struct agent *a);

/* Drains outputs for up to drain_ms, spills the rest, stops everything. */
void agent_stop(struct agent *a, int64_t drain_ms);

/* Re-reads the config. On a problem the running config stays and the
 * problems are logged; -1. Queued records are kept (spilled and replayed). */
int  agent_reload(struct agent *a);

/* An operator command for a filter instance (see pipeline_control). */
int  agent_control(struct agent *a, const char *instance, const char *cmd,
                   const char *args, char **reply);

/* Milliseconds of the configured global timeout (the drain budget). */
int64_t agent_timeout_ms(const struct agent *a);
/* The config in force (replaced by a reload). */
const struct config *agent_config(const struct agent *a);

#endif
