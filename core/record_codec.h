/*
 * record_codec.h - a record as compact bytes, for the spill files of the
 * output queues, and back.
 *
 * The encoding is private to this process family (outpostd writing its own
 * spill files and reading them after a restart); it is versioned so a newer
 * daemon can still read what an older one left behind.
 *
 * Ownership: record_encode() only reads the record. record_decode() returns
 * a new record with one reference, owned by the caller.
 */
#ifndef OUTPOST_RECORD_CODEC_H
#define OUTPOST_RECORD_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <outpost/record.h>

/* A growable byte buffer. Zero-initialise it; free with codec_buf_free(). */
struct codec_buf {
    uint8_t *p;
    size_t   len;
    size_t   cap;
};

/* Makes room for extra more bytes after len. 0, or -1 on ENOMEM. */
int  codec_buf_reserve(struct codec_buf *b, size_t extra);
void codec_buf_free(struct codec_buf *b);

/* Appends the encoding of rec to out. 0, or -1 on ENOMEM (out->len is then
 * unchanged). */
int record_encode(const outpost_record_t *rec, struct codec_buf *out);

#define CODEC_OK        0
#define CODEC_ECORRUPT (-1)     /* truncated, malformed or unknown version */
#define CODEC_ENOMEM   (-2)

/* Decoding state kept between records: consecutive records nearly always
 * carry the same tags, so the last tag set is reused when its bytes repeat
 * (one shared tagset instead of one per record). Zero-initialise it. */
struct record_decoder {
    outpost_tagset_t *tags;        /* last tag set built, one reference */
    struct codec_buf  tag_bytes;   /* its encoding */
    struct codec_buf  scratch;     /* NUL-terminated copies of strings */
    struct codec_buf  tag_array;   /* outpost_tag_t[] for tagset_new */
};

void record_decoder_free(struct record_decoder *d);

/* Decodes exactly len bytes at p into *out. Never reads outside [p, p+len).
 * CODEC_OK, CODEC_ECORRUPT or CODEC_ENOMEM; *out is set only on success. */
int record_decode(struct record_decoder *d, const uint8_t *p, size_t len,
                  outpost_record_t **out);

#endif
