/*
 * output.h - the worker that drives one output instance: its own thread and
 * queue, batching by size or time, partial acceptance, full-jitter
 * exponential backoff (or the backend's retry_after) on OUTPOST_RETRY,
 * dead letters for rejected records, spilling to disk while the backend
 * stays down. The contract with the plugin is in outpost/plugin.h.
 */
#ifndef OUTPOST_OUTPUT_H
#define OUTPOST_OUTPUT_H

#include <stdint.h>
#include <outpost/plugin.h>

struct output_worker;

/* pushed = delivered + failed + dropped + queued whenever the thread is
 * between batches (and so whenever the queue is empty); failed =
 * dead_lettered + dead_dropped. */
struct output_stats {
    uint64_t pushed;              /* records handed to the output (those
                                     found on disk and requeued included) */
    uint64_t delivered;           /* records the backend accepted */
    uint64_t failed;              /* records the backend rejected for good */
    uint64_t dead_lettered;       /*   of those: kept in the dead letters */
    uint64_t dead_dropped;        /*   of those: lost (file full, no
                                     state_dir, I/O error), logged */
    uint64_t retries;             /* write attempts that got RETRY */
    uint64_t timeouts;            /*   of those: write outlived timeout */
    uint64_t dropped;             /* records lost to a queue limit */
    uint64_t spilled;
    uint64_t spilled_bytes;       /* framed bytes those took on disk */
    uint64_t queued;
    uint64_t requeued;            /* dead letters queued again at start */
    int64_t  next_attempt_ms;     /* monotonic ms of the next write of a
                                     retried batch; 0: none pending */
    int64_t  failing_since_ms;    /* monotonic ms of the first retry of
                                     the outage under way; 0: none */
    int      spilling;            /* the outage moved the queue to disk */
};

/* Starts the thread for inst (already initialised). spill_dir may be NULL
 * (no disk). Dead letters go to deadletter_path(inst->state_root, ...);
 * what `outpostd --requeue` left there is queued first. NULL on failure. */
struct output_worker *output_start(outpost_instance_t *inst,
                                   const char *spill_dir);

/* Queues records (takes its own references). Thread-safe, never blocks. */
void output_push(struct output_worker *w, outpost_record_t *const *recs,
                 size_t n);

/* Delivers everything queued, retrying until deadline (monotonic ms).
 * 0 when all was delivered and no record was rejected since the start,
 * -1 otherwise. */
int  output_drain(struct output_worker *w, int64_t deadline_ms);

/* Stops the thread; anything still queued is spilled to disk. Calls the
 * plugin's flush but not its shutdown. */
void output_stop(struct output_worker *w);

void output_get_stats(struct output_worker *w, struct output_stats *st);

/* Makes fb w's fallback (NULL: none): while w's writes have failed for
 * its fallback_after, its events are also copied into fb's queue (see
 * "Fallback" in output.c). fb must outlive the link: unlink (NULL) before
 * stopping fb. No cycles (the config refuses them). */
void output_set_fallback(struct output_worker *w, struct output_worker *fb);

/* How long calls of write took, for /metrics. Any thread, no lock
 * (metrics_hist.h). */
struct metrics_hist_snap;
void output_get_write_time(struct output_worker *w,
                           struct metrics_hist_snap *snap);

#endif
