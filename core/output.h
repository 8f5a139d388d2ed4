/*
 * output.h - the worker that drives one output instance: its own thread and
 * queue, batching by size or time, full-jitter exponential backoff on
 * OUTPOST_RETRY, spilling to disk while the backend stays down.
 */
#ifndef OUTPOST_OUTPUT_H
#define OUTPOST_OUTPUT_H

#include <stdint.h>
#include <outpost/plugin.h>

struct output_worker;

struct output_stats {
    uint64_t delivered;           /* records the backend accepted */
    uint64_t failed;              /* records in batches that got FAIL */
    uint64_t retries;             /* write attempts that got RETRY */
    uint64_t dropped;             /* records lost to a queue limit */
    uint64_t spilled;
    uint64_t queued;
};

/* Starts the thread for inst (already initialised). spill_dir may be NULL
 * (no disk). NULL on failure. */
struct output_worker *output_start(outpost_instance_t *inst,
                                   const char *spill_dir);

/* Queues records (takes its own references). Thread-safe, never blocks. */
void output_push(struct output_worker *w, outpost_record_t *const *recs,
                 size_t n);

/* Delivers everything queued, retrying until deadline (monotonic ms).
 * 0 when all was delivered and no batch failed, -1 otherwise. */
int  output_drain(struct output_worker *w, int64_t deadline_ms);

/* Stops the thread; anything still queued is spilled to disk. Calls the
 * plugin's flush but not its shutdown. */
void output_stop(struct output_worker *w);

void output_get_stats(struct output_worker *w, struct output_stats *st);

#endif
