/*
 * spill.c - append-only segment files behind an output queue.
 *
 * Directory layout:
 *
 *   0000000100000000.seg   segments, named by a 64-bit sequence number in
 *   0000000100000001.seg   fixed-width hex, so name order is FIFO order
 *   position               the read position (and an flock(2) lock, so two
 *                          agents never share a directory)
 *
 * A segment is a run of entries, each one frame (all integers little-endian):
 *
 *   [u32 magic "OPR2" = 0x3252504f][u32 len][u32 crc32(payload)]
 *   [u32 crc32 of the 12 bytes before][payload: len bytes]
 *
 * payload is one record in the binary encoding of record_codec.h. The
 * magic and the header checksum let a reader that meets damage (a flipped
 * bit, a torn or overwritten stretch) resynchronise: it scans forward for
 * the next magic whose header and payload both check out, so damage costs
 * the entries it touches and nothing after them. A header that checks out
 * but a payload that does not costs exactly that entry. Lost entries are
 * counted from the frame marks found in the damaged span (at least one a
 * span), logged in records and counted in `dropped`.
 *
 * Segments written before frame marks existed ("v1") hold entries
 * [u32 len][u32 crc32(payload)][payload]. They are still read (a segment
 * with no good v2 frame but good v1 ones is v1); damage in one costs the
 * rest of that segment, as it always did. New entries are always v2, and
 * a v1 segment is never appended to (invariant 3).
 *
 * Segments rotate once they reach seg_max (4 MiB, less under a small
 * disk_limit). New segments are numbered after the newest; a segment put
 * in front (spill_prepend) is numbered before the oldest, which is why
 * numbering starts at 2^32 and not 0. An entry in the directory named like
 * a segment that is not a regular file is reported and left alone.
 *
 * The position file is one 32-byte record rewritten in place with pwrite:
 * [u32 magic "OPQP"][u32 version][u64 segment seq][u64 byte offset]
 * [u32 crc32 of the first 24 bytes][u32 0]. A damaged one means "replay
 * every segment from its start": duplicates, never a loss.
 *
 * Invariants:
 *  1. segs[] is sorted by seq and holds every segment with unconsumed
 *     entries; the read position (rd_off, rd_done) is in segs[0].
 *  2. Bytes before seg->valid hold the seg->nrec good entries (checked on
 *     open or written by us), possibly with damaged spans between them
 *     that every reader steps over the same way (frame_resync); nothing
 *     after valid is ever read.
 *  3. Appends only go to the newest segment and only when wr_fd is open;
 *     a segment found on open, or one whose write failed, is never
 *     appended to again, so a torn tail is never followed by good data.
 *  4. The position file is written before a segment is deleted or put in
 *     front, so after a crash a segment older than the position is known
 *     to be consumed and a position older than every segment means "start
 *     at the oldest". No interleaving loses an entry or replays one that
 *     was consumed.
 *
 * This file writes, reads and consumes entries. Opening a directory
 * (scanning and replaying the segments an earlier run left) is in
 * spill_scan.c; spill_internal.h is what the two share.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "spill.h"
#include "spill_internal.h"

#define READ_CHUNK      (256u << 10)

/* --- small helpers ------------------------------------------------------ */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t
spill_crc32(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint32_t c = 0xffffffffu;

    pthread_once(&crc_once, crc_init);
    while (len--)
        c = crc_table[(c ^ *b++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static int
write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/* --- the position file --------------------------------------------------- */

static int
pos_write(struct spill *s, uint64_t seq, uint64_t off)
{
    uint8_t b[POS_SIZE] = { 0 };
    ssize_t n;

    put_le32(b, POS_MAGIC);
    put_le32(b + 4, POS_VERSION);
    put_le64(b + 8, seq);
    put_le64(b + 16, off);
    put_le32(b + 24, spill_crc32(b, 24));
    do
        n = pwrite(s->pos_fd, b, sizeof(b), 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t) sizeof(b)) {
        spill_log(s, OUTPOST_LOG_ERROR, "spill",
                  "cannot save the read position in %s/" POS_FILE ": %s",
                  s->dir, n < 0 ? strerror(errno) : "short write");
        return -1;
    }
    return 0;
}

/* The current read position; with no segment, "the next one". */
int
spill_pos_save(struct spill *s)
{
    if (s->nsegs == 0)
        return pos_write(s, s->next_seq, 0);
    return pos_write(s, s->segs[0].seq, s->rd_off);
}

/* --- the segment list ---------------------------------------------------- */

int
spill_segs_insert(struct spill *s, size_t at, const struct seg *sg)
{
    if (s->nsegs == s->capsegs) {
        size_t cap = s->capsegs ? s->capsegs * 2 : 8;
        struct seg *n = realloc(s->segs, cap * sizeof(*n));

        if (n == NULL)
            return -1;
        s->segs = n;
        s->capsegs = cap;
    }
    memmove(&s->segs[at + 1], &s->segs[at], (s->nsegs - at) * sizeof(*sg));
    s->segs[at] = *sg;
    s->nsegs++;
    s->records += sg->nrec;
    s->bytes += sg->size;
    return 0;
}

static void
forget_cached(struct spill *s, uint64_t seq)
{
    if (s->rd_fd >= 0 && s->rd_seq == seq) {
        close(s->rd_fd);
        s->rd_fd = -1;
    }
    if (s->rbuf_seq == seq)
        s->rbuf.len = 0;
}

/* Deletes the oldest segment, whatever is left in it. The position is
 * saved first (invariant 4). */
static void
pop_head(struct spill *s)
{
    struct seg old = s->segs[0];
    char path[PATH_MAX];

    if (s->nsegs == 1 && s->wr_fd >= 0) {
        close(s->wr_fd);
        s->wr_fd = -1;
    }
    s->records -= old.nrec - s->rd_done;
    s->bytes -= old.size;
    memmove(&s->segs[0], &s->segs[1], (s->nsegs - 1) * sizeof(old));
    s->nsegs--;
    s->rd_off = s->rd_done = 0;
    spill_pos_save(s);
    forget_cached(s, old.seq);
    seg_path(s, old.seq, "", path, sizeof(path));
    if (unlink(path) != 0 && errno != ENOENT)
        spill_log(s, OUTPOST_LOG_WARN, "spill", "cannot delete %s: %s", path,
                  strerror(errno));
}

/* Deletes the oldest segments while over disk_limit, counting what they
 * held as dropped. The newest segment stays: it is being written. */
void
spill_enforce_limit(struct spill *s)
{
    while (s->disk_limit && s->bytes > s->disk_limit && s->nsegs > 1) {
        uint64_t lost = s->segs[0].nrec - s->rd_done;

        spill_log(s, OUTPOST_LOG_WARN, "drop",
                  "disk limit of %" PRIu64 " bytes reached: deleting the "
                  "oldest segment %016" PRIx64 ".seg and its %" PRIu64
                  " records", s->disk_limit, s->segs[0].seq, lost);
        s->dropped += lost;
        pop_head(s);
    }
}

/* --- writing -------------------------------------------------------------- */

int
spill_frame_begin(struct codec_buf *b, size_t *mark)
{
    if (codec_buf_reserve(b, FRAME_HDR) != 0)
        return -1;
    *mark = b->len;
    b->len += FRAME_HDR;
    return 0;
}

void
spill_frame_end(struct codec_buf *b, size_t mark)
{
    uint8_t *h = b->p + mark;
    uint32_t len = (uint32_t) (b->len - mark - FRAME_HDR);

    put_le32(h, FRAME_MAGIC);
    put_le32(h + 4, len);
    put_le32(h + 8, spill_crc32(h + FRAME_HDR, len));
    put_le32(h + 12, spill_crc32(h, 12));
}

void
spill_frame_cancel(struct codec_buf *b, size_t mark)
{
    b->len = mark;
}

/* Starts a new newest segment for appends. */
static int
rotate(struct spill *s)
{
    char path[PATH_MAX];
    struct seg sg = { 0 };
    int fd = -1;

    if (s->wr_fd >= 0) {
        close(s->wr_fd);
        s->wr_fd = -1;
    }
    for (int tries = 0; fd < 0 && tries < 16; tries++) {
        sg.seq = s->next_seq++;
        seg_path(s, sg.seq, "", path, sizeof(path));
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
                  0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        spill_log(s, OUTPOST_LOG_ERROR, "spill", "cannot create %s: %s",
                  path, strerror(errno));
        return -1;
    }
    if (spill_segs_insert(s, s->nsegs, &sg) != 0) {
        close(fd);
        unlink(path);
        return -1;
    }
    if (s->nsegs == 1)
        s->rd_off = s->rd_done = 0;
    s->wr_fd = fd;
    return 0;
}

int
spill_append(struct spill *s, const struct codec_buf *framed, size_t n)
{
    struct seg *tail;

    if (n == 0)
        return 0;
    if (s->wr_fd < 0 || s->segs[s->nsegs - 1].size >= s->seg_max)
        if (rotate(s) != 0)
            return -1;
    tail = &s->segs[s->nsegs - 1];
    if (write_all(s->wr_fd, framed->p, framed->len) != 0) {
        spill_log(s, OUTPOST_LOG_ERROR, "spill",
                  "cannot write %zu records to %016" PRIx64 ".seg: %s", n,
                  tail->seq, strerror(errno));
        /* Cut off a partial entry; failing that, never append to this
         * segment again (invariant 3). */
        if (ftruncate(s->wr_fd, (off_t) tail->size) != 0) {
            close(s->wr_fd);
            s->wr_fd = -1;
        }
        return -1;
    }
    tail->size += framed->len;
    tail->valid += framed->len;
    tail->nrec += n;
    s->records += n;
    s->bytes += framed->len;
    s->written += n;
    spill_enforce_limit(s);
    return 0;
}

int
spill_prepend(struct spill *s, const struct codec_buf *framed, size_t n)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    struct seg sg;
    int fd;

    if (n == 0)
        return 0;
    if (s->nsegs == 0)
        return spill_append(s, framed, n);
    if (s->rd_off != 0 || s->rd_done != 0 || s->segs[0].seq == 0) {
        spill_log(s, OUTPOST_LOG_ERROR, "spill",
                  "cannot put records in front of a segment being read");
        return -1;
    }
    sg.seq = s->segs[0].seq - 1;
    sg.fmt = SEG_V2;
    sg.size = sg.valid = framed->len;
    sg.nrec = n;
    seg_path(s, sg.seq, ".tmp", tmp, sizeof(tmp));
    seg_path(s, sg.seq, "", path, sizeof(path));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, framed->p, framed->len) != 0) {
        spill_log(s, OUTPOST_LOG_ERROR, "spill", "cannot write %s: %s", tmp,
                  strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    /* Position first, then the name (invariant 4): dying in between
     * leaves a position older than every segment, which means "start at
     * the oldest", and a stray .tmp that the next open deletes. */
    if (pos_write(s, sg.seq, 0) != 0 || rename(tmp, path) != 0) {
        spill_log(s, OUTPOST_LOG_ERROR, "spill", "cannot create %s: %s",
                  path, strerror(errno));
        unlink(tmp);
        spill_pos_save(s);
        return -1;
    }
    forget_cached(s, sg.seq);
    if (spill_segs_insert(s, 0, &sg) != 0) {
        /* The file is in place and the position points at it: a restart
         * would deliver it; this run cannot track it. */
        unlink(path);
        spill_pos_save(s);
        return -1;
    }
    s->written += n;
    spill_enforce_limit(s);
    return 0;
}

/* --- reading ------------------------------------------------------------- */

static int
reader_fd(struct spill *s, uint64_t seq)
{
    char path[PATH_MAX];

    if (s->rd_fd >= 0 && s->rd_seq == seq)
        return s->rd_fd;
    if (s->rd_fd >= 0)
        close(s->rd_fd);
    seg_path(s, seq, "", path, sizeof(path));
    s->rd_fd = open(path, O_RDONLY | O_CLOEXEC);
    s->rd_seq = seq;
    if (s->rd_fd < 0)
        spill_log(s, OUTPOST_LOG_ERROR, "replay", "cannot open %s: %s",
                  path, strerror(errno));
    return s->rd_fd;
}

/* Points *p at need bytes of segment sg from off, reading (a chunk at a
 * time) only when the cache does not hold them. The caller has checked
 * that off + need <= sg->valid. */
static int
read_at(struct spill *s, const struct seg *sg, uint64_t off, size_t need,
        const uint8_t **p)
{
    size_t want;
    int fd;

    if (s->rbuf_seq == sg->seq && off >= s->rbuf_off
        && off + need <= s->rbuf_off + s->rbuf.len) {
        *p = s->rbuf.p + (off - s->rbuf_off);
        return 0;
    }
    fd = reader_fd(s, sg->seq);
    if (fd < 0)
        return -1;
    want = need > READ_CHUNK ? need : READ_CHUNK;
    if (want > sg->valid - off)
        want = (size_t) (sg->valid - off);
    s->rbuf.len = 0;
    s->rbuf_seq = sg->seq;
    s->rbuf_off = off;
    if (codec_buf_reserve(&s->rbuf, want) != 0)
        return -1;
    while (s->rbuf.len < want) {
        ssize_t n = pread(fd, s->rbuf.p + s->rbuf.len, want - s->rbuf.len,
                          (off_t) (off + s->rbuf.len));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            spill_log(s, OUTPOST_LOG_ERROR, "replay",
                      "cannot read %016" PRIx64 ".seg at %" PRIu64 ": %s",
                      sg->seq, off, n < 0 ? strerror(errno) : "file shrank");
            s->rbuf.len = 0;
            return -1;
        }
        s->rbuf.len += (size_t) n;
    }
    *p = s->rbuf.p;
    return 0;
}

void
spill_cursor_init(struct spill *s, struct spill_cursor *c)
{
    c->seg = 0;
    c->off = s->rd_off;
    c->idx = s->rd_done;
    c->pos = 0;
}

/* Reads and checks the frame at off of sg: 1 good (*h, *elen), 0 damaged,
 * -1 I/O error (logged). */
static int
frame_read(struct spill *s, const struct seg *sg, uint64_t off,
           const uint8_t **h, uint32_t *elen)
{
    size_t hl = frame_hdr(sg->fmt);

    if (off > sg->valid || sg->valid - off < hl)
        return 0;
    if (read_at(s, sg, off, hl, h) != 0)
        return -1;
    if (!frame_head_ok(sg->fmt, *h, sg->valid - off, elen))
        return 0;
    if (read_at(s, sg, off, hl + (size_t) *elen, h) != 0)
        return -1;
    return frame_body_ok(sg->fmt, *h, *elen);
}

/* The frame expected at *off in segment i, entry idx, is damaged: moves
 * *off to the next good frame (sg->valid when none is left) and books
 * the entries lost in between (invariant 2): those of nrec that the rest
 * of the segment no longer holds. A span found on open was booked then,
 * so stepping over it again loses nothing more. 0, or -1 (logged). */
static int
resync(struct spill *s, size_t i, uint64_t *off, uint64_t idx,
       uint64_t *lost)
{
    struct seg *sg = &s->segs[i];
    struct codec_buf b = { 0 };
    struct frame_scan fs;
    uint64_t at = *off, left = sg->nrec - idx, next, hint;
    int fd = reader_fd(s, sg->seq);

    *lost = 0;
    if (fd < 0 || codec_buf_reserve(&b, (size_t) (sg->valid - at) + 1) != 0)
        goto fail;
    while (b.len < sg->valid - at) {
        ssize_t n = pread(fd, b.p + b.len, (size_t) (sg->valid - at) - b.len,
                          (off_t) (at + b.len));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        b.len += (size_t) n;
    }
    next = frame_resync(sg->fmt, b.p, b.len, 0, &hint);
    frame_scan(sg->fmt, b.p + next, b.len - next, 0, &fs);
    codec_buf_free(&b);
    if (fs.good < left) {
        *lost = left - fs.good;
        s->corrupt++;
        s->dropped += *lost;
        s->records -= *lost;
        sg->nrec -= *lost;
        spill_log(s, OUTPOST_LOG_ERROR, "replay",
                  "%016" PRIx64 ".seg: damaged entry at offset %" PRIu64
                  ": %" PRIu64 " record%s lost, reading on at offset %"
                  PRIu64, sg->seq, at, *lost, *lost == 1 ? "" : "s",
                  at + next);
    }
    *off = at + next;
    return 0;
fail:
    spill_log(s, OUTPOST_LOG_ERROR, "replay",
              "cannot read %016" PRIx64 ".seg after offset %" PRIu64 ": %s",
              sg->seq, at, strerror(errno));
    codec_buf_free(&b);
    return -1;
}

int
spill_cursor_next(struct spill *s, struct spill_cursor *c,
                  const uint8_t **p, uint32_t *len, uint64_t *lost)
{
    for (;;) {
        const uint8_t *h;
        struct seg *sg;
        uint32_t elen;
        int rc;

        while (c->seg < s->nsegs && c->idx >= s->segs[c->seg].nrec) {
            c->seg++;
            c->off = c->idx = 0;
        }
        if (c->seg >= s->nsegs)
            return SPILL_END;
        sg = &s->segs[c->seg];
        rc = frame_read(s, sg, c->off, &h, &elen);
        if (rc < 0)
            return SPILL_ERROR;
        if (rc == 0) {
            if (resync(s, c->seg, &c->off, c->idx, lost) != 0)
                return SPILL_ERROR;
            if (*lost > 0)
                return SPILL_LOST;
            continue;
        }
        *p = h + frame_hdr(sg->fmt);
        *len = elen;
        c->off += frame_hdr(sg->fmt) + elen;
        c->idx++;
        c->pos++;
        return SPILL_ENTRY;
    }
}

/* Drops leading segments with nothing left to read. */
static void
pop_consumed(struct spill *s)
{
    while (s->nsegs > 0 && s->rd_done >= s->segs[0].nrec)
        pop_head(s);
}

int
spill_consume(struct spill *s, uint64_t n)
{
    int rc = 0;

    while (n > 0 && s->nsegs > 0) {
        struct seg *sg = &s->segs[0];
        uint64_t rem = sg->nrec - s->rd_done, lost;
        const uint8_t *h;
        uint32_t elen;
        int got;

        if (n >= rem) {
            n -= rem;
            pop_head(s);
            continue;
        }
        /* Part of the head segment: step over good frames (usually still
         * in the read cache from the peek that preceded this), and over
         * damage exactly as the cursor did. */
        got = frame_read(s, sg, s->rd_off, &h, &elen);
        if (got == 0 && resync(s, 0, &s->rd_off, s->rd_done, &lost) == 0)
            continue;
        if (got <= 0) {
            spill_log(s, OUTPOST_LOG_ERROR, "spill",
                      "%016" PRIx64 ".seg: cannot step over entry at "
                      "%" PRIu64 "; it may be delivered again",
                      sg->seq, s->rd_off);
            rc = -1;
            break;
        }
        s->rd_off += frame_hdr(sg->fmt) + elen;
        s->rd_done++;
        s->records--;
        n--;
    }
    pop_consumed(s);
    if (spill_pos_save(s) != 0)
        rc = -1;
    return rc;
}

uint64_t
spill_count(const struct spill *s)
{
    return s->records;
}

void
spill_get_stats(const struct spill *s, struct spill_stats *st)
{
    st->records = s->records;
    st->bytes = s->bytes;
    st->segments = s->nsegs;
    st->written = s->written;
    st->dropped = s->dropped;
    st->corrupt = s->corrupt;
}
