/*
 * outpost/plugin.h - the whole plugin SDK a plugin author needs.
 *
 * A plugin is a shared object that exports one symbol:
 *
 *     OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
 *         OUTPOST_PLUGIN_HEADER,
 *         .name = "myinput", .description = "...", .kind = OUTPOST_INPUT,
 *         .options = my_options, .conf_size = sizeof(struct my_conf),
 *         .init = my_init, .collect = my_collect, .shutdown = my_shutdown,
 *     };
 *
 * Lifetime rules:
 *  1. For every config section `<plugin> "<instance>" { ... }` the core makes
 *     one instance: it allocates conf_size bytes, fills them from the option
 *     table (defaults, then the config) and calls init. If init fails the
 *     instance is not used and shutdown is not called.
 *  2. After a successful init, shutdown is called exactly once; the core then
 *     frees the conf block (strings and lists in it included). Anything the
 *     plugin set with outpost_instance_set_data() is the plugin's to free in
 *     shutdown.
 *  3. collect runs on one thread at a time per instance, never overlapping
 *     itself. Plugins with OUTPOST_PLUGIN_ASYNC promise that collect never
 *     blocks; it then runs on the core's event loop and may finish later.
 *     Others run on a collector thread.
 *  4. process and tick (filters) run under the pipeline lock: one at a time
 *     across all filters, so filter state needs no locking of its own.
 *  5. write, flush and output_tick (outputs) run on the output instance's
 *     own thread.
 *  6. Modules stay loaded until the process exits, even across a reload.
 *
 * Threads. Which thread runs each callback, in a running agent:
 *
 *   init, shutdown, validate  the main thread (start, reload, stop;
 *                             validate also in `outpostd -t`). Shutdown
 *                             comes after the instance's other callbacks
 *                             have stopped: an output's thread has been
 *                             joined, no collect or tick is running.
 *   collect (inputs)          the event-loop thread when the plugin has
 *                             OUTPOST_PLUGIN_ASYNC: it must not block
 *                             (start transfers with outpost_http_start);
 *                             otherwise one of the collector threads, and
 *                             it may block (past the instance's timeout
 *                             the run is cancelled: what it emits then is
 *                             dropped).
 *   done callbacks of         the event-loop thread; must not block.
 *   outpost_http_start
 *   process, tick (filters)   the event-loop thread (tick: also the main
 *                             thread once at the end of `--once`), always
 *                             under the pipeline lock: while one runs, no
 *                             check moves. They must not block and must
 *                             stay short: no file or network I/O, no
 *                             sleeping, no outpost_http_perform. A filter
 *                             that saves state hands a copy to a thread
 *                             of its own (plugins/common/statefile.h).
 *   control (filters)         the thread that asks (the operator's API,
 *                             a test), under the pipeline lock: the same
 *                             rules as process.
 *   write, flush, output_tick the output instance's own thread, one per
 *   (outputs)                 instance; they may block (write within the
 *                             output's timeout): a queue in front of the
 *                             output keeps the rest going.
 *
 * What may be called from where:
 *
 *   outpost_run_emit, outpost_run_done, outpost_run_cancelled,
 *   outpost_run_measurement     any thread, until outpost_run_done (after
 *                               it the run is gone).
 *   outpost_emit                only inside the process, tick or control
 *                               call that was given the emitter.
 *   outpost_http_start          any thread (off the loop it is handed to
 *                               the loop).
 *   outpost_http_perform        off the event-loop thread only, and never
 *                               from a filter (it would hold the pipeline
 *                               lock while it waits); on the loop thread
 *                               it fails at once (http.h).
 *   outpost_input_defer, outpost_log, outpost_time_now,
 *   outpost_duration_parse      any thread.
 *   outpost_instance_*          from the instance's own callbacks; the
 *                               read-only ones (name, plugin, conf, data,
 *                               tags, interval, timeout) from any thread
 *                               until shutdown.
 */
#ifndef OUTPOST_PLUGIN_H
#define OUTPOST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <outpost/record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The plugin ABI, VERSION.MINOR; `outpostd --version` prints it.
 * OUTPOST_ABI_VERSION is bumped whenever a type in the SDK changes layout
 * or meaning, or an SDK function goes away or changes: the core refuses a
 * plugin built for another version. OUTPOST_ABI_MINOR is bumped when the
 * SDK only grows: a function added (core/outpostd.sym lists them), a field
 * appended to outpost_plugin_t. A plugin built for an older minor loads
 * (its struct_size says which fields it has); one that sets a field this
 * core does not know is refused.
 *   1.0  the first ABI
 *   1.1  outpost_plugin_t gains providers and validate_provider
 *   1.2  outputs: outpost_batch_delivered/_reject/_retry_after;
 *        outpost_plugin_t gains output_defaults and output_tick;
 *        outpost/pattern.h: bounded regex and glob checks; option flags
 *        OUTPOST_OPT_PATH, _REGEX, _HEADER, _ADDRESS, _OUTPUTS
 *   1.3  outpost_plugin_t gains option_examples (the option table's
 *        layout stays: a field there would move every row after the
 *        first of an older plugin's table) */
#define OUTPOST_ABI_VERSION 1
#define OUTPOST_ABI_MINOR   3

typedef enum {
    OUTPOST_INPUT  = 1,
    OUTPOST_FILTER = 2,
    OUTPOST_OUTPUT = 3
} outpost_kind_t;

/* What an output's write returns for a batch; the output contract below
 * ("outputs") says what each means together with outpost_batch_*(). */
typedef enum {
    OUTPOST_OK    = 0,    /* every record answered (delivered or rejected) */
    OUTPOST_RETRY = 1,    /* the rest of the batch: try again later */
    OUTPOST_FAIL  = 2     /* the rest of the batch is rejected for good */
} outpost_result_t;

/* What collect returns. */
#define OUTPOST_RUN_DONE     0  /* the run is complete */
#define OUTPOST_RUN_PENDING  1  /* outpost_run_done() will be called later */

/* What a filter's process returns. */
#define OUTPOST_PASS 0          /* hand the record to the next filter */
#define OUTPOST_DROP 1          /* the record goes no further */

typedef enum {
    OUTPOST_LOG_DEBUG = 0,
    OUTPOST_LOG_INFO  = 1,
    OUTPOST_LOG_WARN  = 2,
    OUTPOST_LOG_ERROR = 3
} outpost_log_level_t;

/* --- options ----------------------------------------------------------- */

typedef enum {
    OUTPOST_OPT_STRING   = 1,  /* char *                                 */
    OUTPOST_OPT_INT      = 2,  /* int64_t                                */
    OUTPOST_OPT_FLOAT    = 3,  /* double                                 */
    OUTPOST_OPT_BOOL     = 4,  /* int (0 or 1)                           */
    OUTPOST_OPT_DURATION = 5,  /* int64_t milliseconds; "500ms", "30s"  */
    OUTPOST_OPT_SECRET   = 6,  /* char *; also <name>_env and <name>_file */
    OUTPOST_OPT_STRLIST  = 7,  /* outpost_strlist_t                      */
    OUTPOST_OPT_INTLIST  = 8,  /* outpost_intlist_t                      */
    OUTPOST_OPT_ENUM     = 9   /* char *, one of .choices "a|b|c"        */
} outpost_opt_type_t;

#define OUTPOST_OPT_REQUIRED 0x1u   /* the section must set it */
/* What a STRING (or STRLIST) value holds, checked as the config is read,
 * so `outpostd -t` reports it at its line. Every text value must be UTF-8
 * without control characters (tab and newline apart) in any case. */
#define OUTPOST_OPT_PATH     0x2u   /* a file or directory: not empty */
#define OUTPOST_OPT_REGEX    0x4u   /* a POSIX extended regex, within the
                                       bounds of outpost/pattern.h */
#define OUTPOST_OPT_HEADER   0x8u   /* goes into an HTTP header: no CR, LF */
#define OUTPOST_OPT_OUTPUTS  0x10u  /* names output instances, "name" or
                                       "plugin:name" (comma-separated):
                                       each must exist in the config */
#define OUTPOST_OPT_ADDRESS  0x20u  /* "host:port" or "[v6addr]:port",
                                       port 1..65535 */

typedef struct outpost_strlist {
    size_t  n;
    char  **v;
} outpost_strlist_t;

typedef struct outpost_intlist {
    size_t   n;
    int64_t *v;
} outpost_intlist_t;

/* One row of a plugin's option table. The table drives config parsing,
 * defaults, validation and `outpostd --describe`. */
typedef struct outpost_option {
    const char         *name;
    outpost_opt_type_t  type;
    size_t              offset;   /* offsetof(struct my_conf, field) */
    const char         *def;      /* default, written as in the config;
                                     NULL: unset (zero, NULL, empty) */
    const char         *help;
    unsigned            flags;    /* OUTPOST_OPT_REQUIRED, _PATH... */
    double              min, max; /* INT, FLOAT, DURATION (ms): inclusive
                                     bounds, checked when max > min */
    const char         *choices;  /* ENUM: "a|b|c" */
} outpost_option_t;

#define OUTPOST_OPTION_END { NULL, 0, 0, NULL, NULL, 0, 0, 0, NULL }

/* --- opaque handles ---------------------------------------------------- */

typedef struct outpost_instance outpost_instance_t;  /* one config section */
typedef struct outpost_run      outpost_run_t;       /* one input collection */
typedef struct outpost_emitter  outpost_emitter_t;   /* where filters emit */

/* A batch handed to an output's write: records in arrival order. What
 * write may say about it beyond its result: see "outputs" below. */
typedef struct outpost_batch {
    outpost_record_t *const *records;
    size_t                   n;
} outpost_batch_t;

/* A plugin's own default for one of the core's common output options
 * (batch_size, flush_interval, timeout...), written as in a config file.
 * The operator's value still wins. A table ends with OUTPOST_DEFAULT_END. */
typedef struct outpost_default {
    const char *name;
    const char *value;
} outpost_default_t;

#define OUTPOST_DEFAULT_END { NULL, NULL }

/* --- the plugin -------------------------------------------------------- */

#define OUTPOST_PLUGIN_ASYNC    0x1u  /* collect never blocks (rule 3) */
/* An output that notifies people (Slack, email, SMS, PagerDuty...). An
 * event with the tag "notify" (a comma-separated list of output instance
 * names, or "plugin:instance" where two outputs share a name, set by the
 * alert filter's escalation policies) reaches only the
 * notifiers it names; outputs that record (jsonl, postgres, kafka...)
 * still receive it. Without the tag every notifier gets it. Notifiers
 * never receive measurements (output rule 7). */
#define OUTPOST_PLUGIN_NOTIFIER 0x2u

typedef struct outpost_plugin {
    uint32_t                 abi_version;   /* OUTPOST_ABI_VERSION */
    uint32_t                 struct_size;   /* sizeof(outpost_plugin_t) */
    const char              *name;
    const char              *description;
    outpost_kind_t           kind;
    uint32_t                 flags;
    const outpost_option_t  *options;       /* ends with OUTPOST_OPTION_END */
    size_t                   conf_size;

    /* All kinds. 0 on success; on failure log why and return -1.
     * Main thread (see Threads above). */
    int  (*init)(outpost_instance_t *inst);
    void (*shutdown)(outpost_instance_t *inst);

    /* Inputs: start one collection, emit with outpost_run_emit(). Loop
     * thread (must not block) with OUTPOST_PLUGIN_ASYNC, else a collector
     * thread. */
    int  (*collect)(outpost_instance_t *inst, outpost_run_t *run);

    /* Filters: look at (and may change) rec; emit new records with
     * outpost_emit(); they enter the chain after this filter. Loop
     * thread, under the pipeline lock: must not block. */
    int  (*process)(outpost_instance_t *inst, outpost_record_t *rec,
                    outpost_emitter_t *out);
    /* Filters, optional: called about once a second for time-driven work
     * (staleness, escalation timers). Loop thread, under the pipeline
     * lock: must not block; periodic saves go to a writer thread. */
    void (*tick)(outpost_instance_t *inst, outpost_emitter_t *out);

    /* Outputs: deliver a batch. The batch and its records are borrowed. */
    outpost_result_t (*write)(outpost_instance_t *inst,
                              const outpost_batch_t *batch);
    /* Outputs, optional: push out anything buffered (before exit). */
    int  (*flush)(outpost_instance_t *inst);

    /* Filters, optional: a command from the operator (the HTTP API, or a
     * test): acknowledge an alert, add a silence... cmd is a verb, args a
     * JSON object text. Runs on the asking thread, under the pipeline
     * lock, with the rules of process. On
     * success return 0 and optionally set *reply to a malloc'ed JSON text;
     * return -1 for an unknown command or bad arguments (with *reply an
     * error message, malloc'ed, or NULL). */
    int  (*control)(outpost_instance_t *inst, const char *cmd,
                    const char *args, outpost_emitter_t *out, char **reply);

    /* All kinds, optional: checks the filled conf block beyond what the
     * option table can say (a rule's grammar, options that only make sense
     * together). Runs when the config is loaded, so `outpostd -t` and a
     * reload catch the mistake. 0, or -1 with a message in err; the core
     * adds "FILE:LINE: plugin \"instance\": " in front. Main thread,
     * before init: no instance exists yet. */
    int  (*validate)(const void *conf, char *err, size_t errlen);

    /* Inputs, optional (appended in ABI 1.1; older plugins leave it out):
     * the values the common option `provider` may take, NULL-terminated.
     * `provider` defaults to the instance's name; the core refuses any
     * other value when the config is loaded. NULL: any value. */
    const char *const *providers;
    /* Inputs with providers, optional (ABI 1.1): checks conf for the
     * provider the instance picked (the options that provider needs). It
     * runs after validate, when the config is read, and answers the same
     * way; or 1 with warnings in err, one a line, each starting with the
     * option's name ("brokers: ignored by provider redis"): options the
     * provider does not use. The core reports them at their lines and the
     * config stays valid. */
    int  (*validate_provider)(const void *conf, const char *provider,
                              char *err, size_t errlen);

    /* Outputs, optional (appended in ABI 1.2): the plugin's defaults for
     * the common output options, e.g. { "batch_size", "1" } for a
     * notifier. `match` cannot be given a default. Checked when the
     * module is loaded; `outpostd --describe` shows them. */
    const outpost_default_t *output_defaults;
    /* Outputs, optional (ABI 1.2): periodic work (retention, refreshing a
     * token), every `tick_interval`, on the output's own thread between
     * writes (output rule 8). */
    void (*output_tick)(outpost_instance_t *inst);

    /* All kinds, optional (appended in ABI 1.3): an example value per
     * option, { "from", "\"+15550000000\"" }, written as in a config;
     * ends with OUTPOST_DEFAULT_END. An example is not a default: a
     * required option stays unset (a -t error at the section's line)
     * until the operator sets it. `outpostd --sample-config` writes each
     * example set, so give them for what a working section needs (the
     * sample must pass -t). Checked when the module is loaded. */
    const outpost_default_t *option_examples;
} outpost_plugin_t;

#define OUTPOST_PLUGIN_HEADER \
    .abi_version = OUTPOST_ABI_VERSION, .struct_size = sizeof(outpost_plugin_t)

/* The symbol the core looks up in every module. Plugins are built with
 * hidden visibility; OUTPOST_EXPORT makes this one symbol visible:
 *     OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = { ... };   */
#define OUTPOST_PLUGIN_SYMBOL "outpost_plugin"
#define OUTPOST_EXPORT __attribute__((visibility("default")))

/* --- instances --------------------------------------------------------- */

const char *outpost_instance_name(const outpost_instance_t *inst);
const char *outpost_instance_plugin(const outpost_instance_t *inst);
/* The conf block filled from the option table; owned by the core. */
void       *outpost_instance_conf(const outpost_instance_t *inst);
/* Plugin-private state (set in init, freed by the plugin in shutdown). */
void        outpost_instance_set_data(outpost_instance_t *inst, void *data);
void       *outpost_instance_data(const outpost_instance_t *inst);
int64_t     outpost_instance_interval_ms(const outpost_instance_t *inst);
int64_t     outpost_instance_timeout_ms(const outpost_instance_t *inst);
/* The instance's tags: integration, category, provider, tier and the
 * user's `tags`. Borrowed; valid until shutdown. */
outpost_tagset_t *outpost_instance_tags(const outpost_instance_t *inst);
/* A directory under state_dir that belongs to this instance only (created
 * on first call). Borrowed string; NULL when it cannot be created. */
const char *outpost_instance_state_dir(outpost_instance_t *inst);

/* --- inputs ------------------------------------------------------------ */

/* A measurement named after the plugin, with the instance's tags, stamped
 * with the start of the run. The caller owns it. */
outpost_record_t *outpost_run_measurement(outpost_run_t *run);
/* Takes ownership of rec. Safe from any thread until outpost_run_done(). */
void outpost_run_emit(outpost_run_t *run, outpost_record_t *rec);
/* Ends a run that collect left OUTPOST_RUN_PENDING. After it, run is gone. */
void outpost_run_done(outpost_run_t *run);
/* Non-zero once the core has given up on the run (it outlived its
 * timeout); what is emitted after that is discarded. */
int  outpost_run_cancelled(const outpost_run_t *run);
outpost_instance_t *outpost_run_instance(const outpost_run_t *run);

/* --- filters ----------------------------------------------------------- */

/* Takes ownership of rec. */
void outpost_emit(outpost_emitter_t *out, outpost_record_t *rec);

/* Asks the scheduler not to run the input instance named integration
 * before until_ns (wall clock; 0 lifts it). The circuit breaker uses it to
 * probe an open circuit only once per open_for. Any thread; unknown names
 * are ignored. */
void outpost_input_defer(const char *integration, int64_t until_ns);

/* --- outputs ----------------------------------------------------------- */

/*
 * The output contract. write gets a batch of the oldest queued records and
 * answers for it; the core keeps a record queued until it is answered for,
 * so nothing is skipped and order is kept.
 *
 *  1. Inside write (and only there, on the batch it was given) the plugin
 *     may call:
 *       outpost_batch_delivered(b, n)   records 0..n-1 reached the backend;
 *       outpost_batch_reject(b, i, why) record i is refused for good (a
 *                                       poison record): it goes to the
 *                                       output's dead letters with why;
 *       outpost_batch_retry_after(b, ms) the backend asked for a pause
 *                                       (Retry-After).
 *     Calls may repeat; the last delivered count and the longest pause
 *     count. A count above b->n is taken as b->n; an index out of range
 *     is ignored.
 *  2. OUTPOST_OK: every record was answered: the rejected ones go to dead
 *     letters, all others count as delivered (the delivered count is not
 *     needed).
 *  3. OUTPOST_RETRY: records 0..n-1 (n from outpost_batch_delivered, 0 if
 *     not called) are settled, and so are rejected records directly after
 *     them; settled records are delivered, or dead letters if rejected.
 *     The rest (rejections among them forgotten) is written again as the
 *     next batch's front, never the settled part. The next write comes
 *     after the core's backoff (random, growing up to retry_max), or after
 *     the retry_after pause if that is longer.
 *  4. OUTPOST_FAIL: records 0..n-1 count as delivered (unless rejected),
 *     all others go to dead letters (reason: the one given with outpost_batch_reject, else
 *     "backend rejected the batch"). Any other result is taken as FAIL.
 *  5. A write that outlives the output's `timeout` is logged and taken as
 *     RETRY, whatever it returned (its delivered count still holds). While
 *     write runs, outpost_http_perform() never waits past that timeout.
 *  6. Dead letters are kept in a file per output under state_dir, bounded
 *     by dead_letter_limit_mb; `outpostd --dead-letters OUTPUT` prints
 *     them, `outpostd --requeue OUTPUT` queues them again for the next
 *     start. Beyond the limit (or with no state_dir) a rejected record is
 *     counted as dropped and logged. Nothing is dropped silently.
 *  7. Notifiers (OUTPOST_PLUGIN_NOTIFIER) get only the events routed to
 *     them, never measurements.
 *  8. write, flush and output_tick run on the output's own thread, one at
 *     a time; never on the event loop.
 */
void outpost_batch_delivered(const outpost_batch_t *b, size_t n);
void outpost_batch_reject(const outpost_batch_t *b, size_t i,
                          const char *why);
void outpost_batch_retry_after(const outpost_batch_t *b, int64_t ms);

/* --- services ---------------------------------------------------------- */

/* Wall-clock time in ns. Filters must use this (not time()) so that tests
 * can drive them with a controlled clock. */
int64_t outpost_time_now(void);

/* Parses a duration ("500ms", "30s", "5m", "1h30m", "90d"; a bare number
 * is seconds) into milliseconds: 0, or -1 when s is not one. */
int outpost_duration_parse(const char *s, int64_t *ms);

/* Structured log line: component = plugin, integration = instance.
 * op names the operation ("collect", "write", "connect"); may be NULL.
 * The message has no trailing newline. inst may be NULL. */
void outpost_log(const outpost_instance_t *inst, outpost_log_level_t level,
                 const char *op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#ifdef __cplusplus
}
#endif
#endif /* OUTPOST_PLUGIN_H */
