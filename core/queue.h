/*
 * queue.h - one output's queue: a bounded ring in memory in front of
 * append-only segment files under the output's spill directory.
 *
 * Invariant: the queue is one FIFO. Memory always holds the oldest records;
 * once anything is on disk, every newer record goes to disk behind it
 * (until the disk part is drained), so order is kept across spills,
 * replays and restarts.
 */
#ifndef OUTPOST_QUEUE_H
#define OUTPOST_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <outpost/record.h>

struct queue_opts {
    size_t      mem_limit;        /* records held in memory */
    const char *spill_dir;        /* NULL: no disk (drop oldest when full) */
    uint64_t    disk_limit;       /* bytes on disk; oldest segment dropped */
    const char *name;             /* for log lines: "<plugin>.<instance>" */
};

struct queue_stats {
    uint64_t queued_mem;          /* records in memory now */
    uint64_t queued_disk;         /* records on disk now */
    uint64_t bytes_disk;
    uint64_t spilled;             /* records ever written to disk */
    uint64_t spilled_bytes;       /*   and their framed size in bytes */
    uint64_t dropped;             /* records lost to a limit */
};

struct queue;

/* Opens the queue; records found in spill_dir (from an earlier run) are
 * the head of the queue. NULL on error (logged). */
struct queue *queue_open(const struct queue_opts *o);
/* Spills what is in memory (unless spill_dir is NULL) and frees all. */
void queue_close(struct queue *q);

/* Appends n records in order, taking a new reference to each (the caller
 * keeps its own). Never blocks on the consumer. */
void queue_push(struct queue *q, outpost_record_t *const *recs, size_t n);

/* Waits until at least `want` records are queued or until deadline
 * (monotonic ms) or queue_wakeup(); returns the number queued. */
size_t queue_wait(struct queue *q, size_t want, int64_t deadline_ms);
void   queue_wakeup(struct queue *q);

/* Copies up to max of the oldest records into out, each with a reference
 * the caller must drop; they stay queued until queue_commit(). Reads from
 * disk when the oldest records are there. Returns the count. */
size_t queue_peek(struct queue *q, outpost_record_t **out, size_t max);
/* Removes the n oldest records (delivered or given up on). */
void   queue_commit(struct queue *q, size_t n);

/* Moves everything in memory to disk (the backend is down, or we stop). */
int    queue_spill(struct queue *q);

size_t queue_length(struct queue *q);
void   queue_get_stats(struct queue *q, struct queue_stats *st);

#endif
