/*
 * spill_internal.h - private to spill.c, spill_scan.c and spill_frame.c:
 * the state of an open spill, the entry and position file formats, and
 * the helpers they share. The layout on disk and the numbered invariants are described
 * at the top of spill.c. The interface is spill.h.
 */
#ifndef OUTPOST_SPILL_INTERNAL_H
#define OUTPOST_SPILL_INTERNAL_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "log.h"
#include "record_codec.h"
#include "spill.h"

#define FRAME_MAGIC     UINT32_C(0x3252504f)   /* "OPR2" */
#define FRAME_HDR       16
#define V1_HDR          8
#define ENTRY_MAX       (256u << 20)    /* a longer length is corruption */
#define POS_FILE        "position"
#define POS_MAGIC       UINT32_C(0x5051504f)   /* "OPQP" */
#define POS_VERSION     1
#define POS_SIZE        32

enum seg_fmt { SEG_V2 = 0, SEG_V1 = 1 };  /* v1: before frame marks */

struct seg {
    uint64_t seq;
    int      fmt;               /* enum seg_fmt */
    uint64_t size;              /* bytes in the file */
    uint64_t valid;             /* bytes that may be read (invariant 2) */
    uint64_t nrec;              /* good entries in them */
};

struct spill {
    char            *dir;
    char            *name;
    uint64_t         disk_limit;
    uint64_t         seg_max;
    struct seg      *segs;          /* oldest first */
    size_t           nsegs;
    size_t           capsegs;
    uint64_t         rd_off;        /* read position in segs[0] */
    uint64_t         rd_done;       /* entries of segs[0] consumed */
    uint64_t         next_seq;      /* for the next new segment */
    int              wr_fd;         /* newest segment, or -1 */
    int              rd_fd;         /* cached reader of segment rd_seq */
    uint64_t         rd_seq;
    int              pos_fd;
    struct codec_buf rbuf;          /* cached bytes of rbuf_seq ... */
    uint64_t         rbuf_seq;
    uint64_t         rbuf_off;      /* ... starting at this offset */
    uint64_t         records;       /* unconsumed entries */
    uint64_t         bytes;         /* sum of seg sizes */
    uint64_t         written;
    uint64_t         dropped;
    uint64_t         corrupt;
};

static inline void
put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static inline uint32_t
get_le32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}

static inline void
put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t) v);
    put_le32(p + 4, (uint32_t) (v >> 32));
}

static inline uint64_t
get_le64(const uint8_t *p)
{
    return (uint64_t) get_le32(p) | (uint64_t) get_le32(p + 4) << 32;
}

static inline void
seg_path(const struct spill *s, uint64_t seq, const char *suffix,
         char *buf, size_t len)
{
    snprintf(buf, len, "%s/%016" PRIx64 ".seg%s", s->dir, seq, suffix);
}

#define spill_log(s, level, op, ...) \
    log_write((level), "queue", (op), (s)->name, NULL, 0, __VA_ARGS__)

/* spill_frame.c: frames judged in memory. h points at a frame header,
 * avail bytes from it are readable. */
size_t frame_hdr(int fmt);
/* 1 when the header is sound and its entry fits in avail (*elen). */
int    frame_head_ok(int fmt, const uint8_t *h, uint64_t avail,
                     uint32_t *elen);
/* 1 when the payload matches its checksum. */
int    frame_body_ok(int fmt, const uint8_t *h, uint32_t elen);
/* Both, for the frame at off of p[0, len). */
int    frame_ok(int fmt, const uint8_t *p, uint64_t len, uint64_t off,
                uint32_t *elen);
/* The frame at off is damaged: the offset of the next good frame after
 * it (len when none), and in *lost how many entries the damaged span
 * held as far as their frame marks tell (at least 1). v1 frames have no
 * marks: the rest of the segment is lost. */
uint64_t frame_resync(int fmt, const uint8_t *p, uint64_t len, uint64_t off,
                      uint64_t *lost);

struct frame_scan {
    uint64_t good;              /* good frames */
    uint64_t end;               /* just past the last good frame */
    uint64_t spans;             /* damaged spans */
    uint64_t lost;              /* entries they held, after `resume` */
    uint64_t first_bad;         /* offset of the first span, or len */
    uint64_t done;              /* good frames ending at or before resume */
    uint64_t rd_off;            /* where the last of those ends */
};
/* Counts the frames of a whole segment, stepping over damage. */
void frame_scan(int fmt, const uint8_t *p, uint64_t len, uint64_t resume,
                struct frame_scan *fs);
/* The format of a segment found on disk: v2 when any v2 frame is good. */
int  frame_detect(const uint8_t *p, uint64_t len);

/* spill.c */

/* Saves the current read position; see the position file in spill.c. */
int spill_pos_save(struct spill *s);
/* Inserts sg at index at of the segment list and counts what it holds. */
int spill_segs_insert(struct spill *s, size_t at, const struct seg *sg);
/* Deletes the oldest segments while over disk_limit. */
void spill_enforce_limit(struct spill *s);

#endif
