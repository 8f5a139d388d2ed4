/*
 * spill.h - the on-disk part of an output queue: append-only segment files
 * plus a persisted read position, in one directory per output.
 *
 * A spill is a FIFO of opaque entries (encoded records). It is not
 * thread-safe: the queue that owns it calls it under its own mutex.
 * Entries are counted, not addressed: callers peek with a cursor from the
 * read position and consume the n oldest.
 *
 * Durability: every append reaches the kernel (write(2)) before the call
 * returns, and the read position is rewritten after every consume, so a
 * kill -9 of the process loses nothing that was appended and redelivers
 * nothing that was consumed. A power loss may lose the last seconds
 * (there is no fsync).
 */
#ifndef OUTPOST_SPILL_H
#define OUTPOST_SPILL_H

#include <stddef.h>
#include <stdint.h>
#include "record_codec.h"

struct spill_opts {
    const char *dir;            /* created (mkdir -p) if missing */
    uint64_t    disk_limit;     /* bytes; 0: unlimited */
    uint64_t    segment_size;   /* rotate after this many bytes; 0: auto */
    const char *name;           /* for log lines */
};

struct spill_stats {
    uint64_t records;           /* entries not consumed yet */
    uint64_t bytes;             /* size of the segment files */
    uint64_t segments;
    uint64_t written;           /* entries appended since open */
    uint64_t dropped;           /* entries deleted by disk_limit or lost to
                                   corruption found while reading */
    uint64_t corrupt;           /* torn or corrupt regions found */
};

struct spill;

/* Opens dir, replays the segments found in it (in order, from the saved
 * read position) and takes an exclusive lock on it. A torn or corrupt
 * tail is logged and skipped; the entries before it are kept. NULL on
 * error (logged). */
struct spill *spill_open(const struct spill_opts *o);
void spill_close(struct spill *s);

/* Framing: entries are built in place in a codec_buf:
 *     spill_frame_begin(b, &mark); record_encode(rec, b);
 *     spill_frame_end(b, mark);
 * spill_frame_cancel() undoes a begun frame. begin: 0 or -1 (ENOMEM). */
int  spill_frame_begin(struct codec_buf *b, size_t *mark);
void spill_frame_end(struct codec_buf *b, size_t mark);
void spill_frame_cancel(struct codec_buf *b, size_t mark);

/* Appends n framed entries behind everything else, in one write(2).
 * 0, or -1 (logged) when nothing was appended. */
int spill_append(struct spill *s, const struct codec_buf *framed, size_t n);

/* Puts n framed entries in front of everything else, as a new segment
 * numbered before the oldest. Only allowed while nothing of the oldest
 * segment has been consumed (the queue guarantees it: see queue.c).
 * 0, or -1 (logged) when nothing was written. */
int spill_prepend(struct spill *s, const struct codec_buf *framed, size_t n);

/* Reading: a cursor walks entries from the read position without
 * consuming them. Valid until the next call that changes s. */
struct spill_cursor {
    size_t   seg;               /* index into the segment list */
    uint64_t off;               /* byte offset in that segment */
    uint64_t idx;               /* entry index in that segment */
    uint64_t pos;               /* entries returned so far */
};

#define SPILL_ENTRY   1         /* *p, *len: the next entry */
#define SPILL_END     0         /* no more entries */
#define SPILL_ERROR  (-1)       /* I/O error (logged) */
#define SPILL_LOST   (-2)       /* a corrupt region: *lost entries starting
                                   at cursor->pos are gone (counted in
                                   dropped); call again for the rest */

void spill_cursor_init(struct spill *s, struct spill_cursor *c);
/* *p stays valid until the next spill call. */
int  spill_cursor_next(struct spill *s, struct spill_cursor *c,
                       const uint8_t **p, uint32_t *len, uint64_t *lost);

/* Removes the n oldest entries and saves the read position; segments
 * that are fully consumed are deleted. 0, or -1 (logged). */
int spill_consume(struct spill *s, uint64_t n);

uint64_t spill_count(const struct spill *s);
void     spill_get_stats(const struct spill *s, struct spill_stats *st);

/* CRC-32 (IEEE 802.3, as zlib's crc32), exposed for the tests. */
uint32_t spill_crc32(const void *p, size_t len);

#endif
