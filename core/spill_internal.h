/*
 * spill_internal.h - private to spill.c and spill_scan.c: the state of an
 * open spill, the entry and position file formats, and the helpers both
 * files use. The layout on disk and the numbered invariants are described
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

#define ENTRY_HDR       8
#define POS_FILE        "position"
#define POS_MAGIC       UINT32_C(0x5051504f)   /* "OPQP" */
#define POS_VERSION     1
#define POS_SIZE        32

struct seg {
    uint64_t seq;
    uint64_t size;              /* bytes in the file */
    uint64_t valid;             /* bytes of good entries (invariant 2) */
    uint64_t nrec;              /* good entries */
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

/* spill.c */

/* Saves the current read position; see the position file in spill.c. */
int spill_pos_save(struct spill *s);
/* Inserts sg at index at of the segment list and counts what it holds. */
int spill_segs_insert(struct spill *s, size_t at, const struct seg *sg);
/* Deletes the oldest segments while over disk_limit. */
void spill_enforce_limit(struct spill *s);

#endif
