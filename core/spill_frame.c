/*
 * spill_frame.c - the entry frames of a spill segment, checked over bytes
 * in memory: one frame, a forward scan that resynchronises after damage,
 * and the count of a whole segment. No I/O and no state: spill.c and
 * spill_scan.c read the bytes, these functions judge them (and a fuzz
 * test feeds them anything).
 *
 * The two frame formats are described at the top of spill.c.
 */
#include <string.h>
#include "spill_internal.h"

size_t
frame_hdr(int fmt)
{
    return fmt == SEG_V1 ? V1_HDR : FRAME_HDR;
}

int
frame_head_ok(int fmt, const uint8_t *h, uint64_t avail, uint32_t *elen)
{
    size_t hl = frame_hdr(fmt);

    if (avail < hl)
        return 0;
    if (fmt == SEG_V1)
        *elen = get_le32(h);
    else {
        if (get_le32(h) != FRAME_MAGIC
            || get_le32(h + 12) != spill_crc32(h, 12))
            return 0;
        *elen = get_le32(h + 4);
    }
    return *elen <= ENTRY_MAX && *elen <= avail - hl;
}

int
frame_body_ok(int fmt, const uint8_t *h, uint32_t elen)
{
    uint32_t crc = fmt == SEG_V1 ? get_le32(h + 4) : get_le32(h + 8);

    return spill_crc32(h + frame_hdr(fmt), elen) == crc;
}

int
frame_ok(int fmt, const uint8_t *p, uint64_t len, uint64_t off,
         uint32_t *elen)
{
    return off <= len && frame_head_ok(fmt, p + off, len - off, elen)
           && frame_body_ok(fmt, p + off, *elen);
}

/* Frame starts (the magic) in p[from, to): how many entries a damaged
 * span held, as far as can be told; at least one. */
static uint64_t
starts_in(const uint8_t *p, uint64_t from, uint64_t to)
{
    uint8_t m[4];
    uint64_t n = 0;

    put_le32(m, FRAME_MAGIC);
    while (to - from >= 4) {
        const uint8_t *q = memmem(p + from, (size_t) (to - from), m, 4);

        if (q == NULL)
            break;
        n++;
        from = (uint64_t) (q - p) + 1;
    }
    return n ? n : 1;
}

uint64_t
frame_resync(int fmt, const uint8_t *p, uint64_t len, uint64_t off,
             uint64_t *lost)
{
    uint8_t m[4];
    uint64_t at = off + 1;
    uint32_t elen;

    if (fmt == SEG_V1 || off >= len) {  /* v1 has no marks: the rest is lost */
        *lost = 1;
        return len;
    }
    /* A header that checks out has a true length: skip the whole entry. */
    if (off < len && frame_head_ok(fmt, p + off, len - off, &elen))
        at = off + FRAME_HDR + elen;
    put_le32(m, FRAME_MAGIC);
    while (at < len && len - at >= FRAME_HDR) {
        const uint8_t *q = memmem(p + at, (size_t) (len - at), m, 4);

        if (q == NULL)
            break;
        at = (uint64_t) (q - p);
        if (frame_ok(fmt, p, len, at, &elen)) {
            *lost = starts_in(p, off, at);
            return at;
        }
        at++;
    }
    at = len;
    *lost = starts_in(p, off, at);
    return at;
}

void
frame_scan(int fmt, const uint8_t *p, uint64_t len, uint64_t resume,
           struct frame_scan *fs)
{
    uint64_t off = 0;
    uint32_t elen;

    memset(fs, 0, sizeof(*fs));
    fs->first_bad = len;
    while (off < len) {
        uint64_t next, lost;

        if (frame_ok(fmt, p, len, off, &elen)) {
            off += frame_hdr(fmt) + elen;
            fs->good++;
            fs->end = off;
            if (off <= resume) {
                fs->done = fs->good;
                fs->rd_off = off;
            }
            continue;
        }
        next = frame_resync(fmt, p, len, off, &lost);
        if (fs->spans++ == 0)
            fs->first_bad = off;
        if (next > resume)          /* not consumed by an earlier run */
            fs->lost += lost;
        off = next;
    }
}

int
frame_detect(const uint8_t *p, uint64_t len)
{
    struct frame_scan v2, v1;

    if (len == 0)
        return SEG_V2;
    frame_scan(SEG_V2, p, len, 0, &v2);
    if (v2.good > 0)
        return SEG_V2;
    frame_scan(SEG_V1, p, len, 0, &v1);
    return v1.good > 0 ? SEG_V1 : SEG_V2;
}
