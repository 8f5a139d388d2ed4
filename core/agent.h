/*
 * agent.h - the whole agent as a library: load a config, run the pipeline,
 * reload, stop. outpostd is a thin main() around it; tests and benchmarks
 * run it in-process.
 */
#ifndef OUTPOST_AGENT_H
#define OUTPOST_AGENT_H

#include "diag.h"
#include "pipeline.h"
#include "registry.h"
#include "scheduler.h"

struct config;

struct agent;

struct agent_opts {
    const char      *config_path;
    const char      *default_plugin_dir; /* NULL: load no modules */
    struct registry *registry;           /* NULL: the agent makes one */
    int              collect_threads;    /* 0: default (4) */
    int              serve_api;          /* 1: the api section's server
                                            runs while the agent does
                                            (outpostd; not --once) */
};

/* Loads plugins and config. NULL (and d filled) on any problem. */
struct agent *agent_new(const struct agent_opts *o, struct diag *d);
void agent_free(struct agent *a);

/* Builds and starts every instance. once: each input runs one time. */
int  agent_start(struct agent *a, int once);

/* A dry run (`outpostd --test`): only the inputs whose instance name
 * matches the fnmatch(3) glob inputs (NULL: all) run, once, through the
 * filters; no output is started, and tap sees every record that leaves
 * the filter chain (see pipeline_set_tap: under the pipeline lock, on the
 * thread that submitted it). Instances get a throwaway state_dir, created
 * here and removed by agent_stop: filters start blank, as on a first
 * start, and nothing under the configured state_dir changes. Finish with
 * agent_finish_once() and agent_stop(). */
struct agent_dry_run {
    const char      *inputs;
    pipeline_tap_fn  tap;
    void            *arg;
};
int  agent_start_dry(struct agent *a, const struct agent_dry_run *dry);

/* The loaded config (borrowed; replaced by agent_reload). */
const struct config *agent_config(const struct agent *a);

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

/* Runs input instance `input` now, as its timer would (loop thread).
 * Any thread but the loop's. 0 when a run started, 1 when one is still
 * busy (nothing started), -1 when no input has that name. *timeout_ms
 * (may be NULL): the input's timeout. */
int  agent_run_now(struct agent *a, const char *input, int64_t *timeout_ms);

/* The alert filter instances, as agent_control names them
 * ("alert:<instance>"), for the API's ack, resolve and silences: a
 * malloc'ed array of malloc'ed names; returns the count. */
size_t agent_alert_filters(struct agent *a, char ***names);

/* What /health reports: every input that has not started a run for
 * twice its interval, every output whose backend has failed (a retry
 * pending) for longer than failing_ms or that spills to disk. One line
 * per problem into *reasons (malloc'ed array of malloc'ed text); returns
 * the count, or -1 when the agent is not running. */
int  agent_health(struct agent *a, int64_t failing_ms, char ***reasons);

/* Counters of the running agent, for /metrics: the scheduler's, the
 * pipeline's, and each output's. Any thread. 0, or -1 when the agent is
 * not running; free with agent_stats_free. */
struct agent_output_stats {
    char                name[128];      /* the instance */
    char                plugin[48];
    struct output_stats st;
};
struct agent_stats {
    struct scheduler_stats     sched;
    struct pipeline_stats      pipe;
    size_t                     ninputs, nfilters;
    size_t                     noutputs;
    struct agent_output_stats *outputs;  /* malloc'ed, noutputs */
};
int  agent_get_stats(struct agent *a, struct agent_stats *out);
void agent_stats_free(struct agent_stats *s);

/* The state store the pipeline feeds (lives as long as the agent). */
struct state *agent_state(struct agent *a);

/* The running agent's own counters for GET /metrics (metrics.h), copied;
 * free with metrics_agent_free. m->running is 0 while nothing runs. Any
 * thread. 0, or -1 when out of memory. */
struct metrics_agent;
int  agent_metrics_snapshot(struct agent *a, struct metrics_agent *m);

/* Milliseconds of the configured global timeout (the drain budget). */
int64_t agent_timeout_ms(const struct agent *a);

#endif
