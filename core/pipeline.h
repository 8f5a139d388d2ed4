/*
 * pipeline.h - the filter chain and the fan-out to output queues.
 *
 * Records submitted by inputs pass the filters in config order under one
 * lock (so filter state needs no locking of its own), then each record is
 * pushed to the queue of every output whose `match` it satisfies.
 */
#ifndef OUTPOST_PIPELINE_H
#define OUTPOST_PIPELINE_H

#include <stdint.h>
#include <outpost/plugin.h>
#include "output.h"

struct pipeline;

struct pipeline_stats {
    uint64_t in;             /* records submitted by inputs */
    uint64_t emitted;        /* records emitted by filters */
    uint64_t dropped;        /* records dropped by filters */
    uint64_t out;            /* record deliveries queued to outputs */
};

/* filters and outputs are borrowed and must outlive the pipeline. */
struct pipeline *pipeline_new(outpost_instance_t **filters, size_t nfilters,
                              outpost_instance_t **outputs,
                              struct output_worker **workers,
                              size_t noutputs);
void pipeline_free(struct pipeline *p);

/* Takes ownership of the n records. Any thread. */
void pipeline_submit(struct pipeline *p, outpost_record_t **recs, size_t n);

/* Calls every filter's tick. Any thread. */
void pipeline_tick(struct pipeline *p);

/* Sends an operator command to the filter instance named instance
 * ("name", or "plugin:name" when filters of two plugins share a name; see
 * outpost_plugin_t.control). 0 on success, -1 when the filter refused it,
 * -2 when no filter of that name takes commands. *reply: malloc'ed JSON
 * or NULL, the caller's. */
int  pipeline_control(struct pipeline *p, const char *instance,
                      const char *cmd, const char *args, char **reply);

void pipeline_get_stats(struct pipeline *p, struct pipeline_stats *st);

/* Shows fn every record that leaves the chain, before it is routed to
 * the outputs (the dry run of `outpostd --test` has none). fn runs under
 * the pipeline lock, on the thread that submitted or ticked; it must not
 * keep rec past its return. Set it before the first record. */
typedef void (*pipeline_tap_fn)(const outpost_record_t *rec, void *arg);
void pipeline_set_tap(struct pipeline *p, pipeline_tap_fn fn, void *arg);

/* A second hook with the rules of the tap, for the state store (the dry
 * run's tap and the store can both watch). */
void pipeline_set_observer(struct pipeline *p, pipeline_tap_fn fn,
                           void *arg);

#endif
