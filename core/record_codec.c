/*
 * record_codec.c - compact binary encoding of records for the spill files.
 *
 * Layout (all integers little-endian; varint = LEB128, at most 10 bytes):
 *
 *   record  := u8 version (1) body
 *   body    := u8 kind  u8 event_kind  u8 severity  i64 ts_ns  str name
 *              varint tag_bytes  tags
 *              [event]                          only when kind is EVENT
 *              varint nfields  field*
 *   tags    := varint ntags  (str key  str value)*
 *   event   := str message  str dedup_key  u8 has_cause  [body of cause]
 *   field   := u8 type  str key  value
 *   value   := INT: zigzag varint | FLOAT: u64 of the IEEE bits |
 *              BOOL: u8 | STRING: str
 *   str     := varint len  len bytes (no NUL inside)
 *
 * The tag block is length-prefixed so the decoder can compare it, as raw
 * bytes, with the previous record's and share one tag set between them.
 * The event part comes before the fields so the decoder can build the
 * record (outpost_event_new needs the cause) before adding fields to it.
 *
 * Decoding trusts nothing: every length is checked against the bytes that
 * remain, the whole input must be consumed, and causes nest at most
 * MAX_CAUSE_DEPTH deep.
 */
#include <stdlib.h>
#include <string.h>
#include "record_codec.h"

#define CODEC_VERSION    1
#define MAX_CAUSE_DEPTH  4
#define MAX_FIELDS       32768   /* record.c's field array stops there */

/* --- buffers ------------------------------------------------------------ */

int
codec_buf_reserve(struct codec_buf *b, size_t extra)
{
    size_t cap;
    uint8_t *p;

    if (b->cap - b->len >= extra)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return -1;
    cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

void
codec_buf_free(struct codec_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* --- encoding ----------------------------------------------------------- */

/* Writers record the first failure in err and then do nothing, so the
 * encoder is straight-line code with one check at the end. */
struct enc {
    struct codec_buf *b;
    int               err;
};

static void
put_bytes(struct enc *e, const void *p, size_t n)
{
    if (e->err || codec_buf_reserve(e->b, n) != 0) {
        e->err = 1;
        return;
    }
    memcpy(e->b->p + e->b->len, p, n);
    e->b->len += n;
}

static void
put_u8(struct enc *e, unsigned v)
{
    uint8_t c = (uint8_t) v;

    put_bytes(e, &c, 1);
}

static void
put_u64le(struct enc *e, uint64_t v)
{
    uint8_t c[8];

    for (int i = 0; i < 8; i++)
        c[i] = (uint8_t) (v >> (8 * i));
    put_bytes(e, c, 8);
}

static void
put_varint(struct enc *e, uint64_t v)
{
    uint8_t c[10];
    size_t n = 0;

    while (v >= 0x80) {
        c[n++] = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    c[n++] = (uint8_t) v;
    put_bytes(e, c, n);
}

static size_t
varint_size(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void
put_str(struct enc *e, const char *s)
{
    size_t len = s ? strlen(s) : 0;

    put_varint(e, len);
    if (len)
        put_bytes(e, s, len);
}

static size_t
str_size(const char *s)
{
    size_t len = s ? strlen(s) : 0;

    return varint_size(len) + len;
}

static void
put_tags(struct enc *e, const outpost_tagset_t *ts)
{
    size_t n = outpost_tagset_count(ts), bytes = varint_size(n);

    for (size_t i = 0; i < n; i++) {
        const outpost_tag_t *t = outpost_tagset_at(ts, i);
        bytes += str_size(t->key) + str_size(t->value);
    }
    put_varint(e, bytes);
    put_varint(e, n);
    for (size_t i = 0; i < n; i++) {
        const outpost_tag_t *t = outpost_tagset_at(ts, i);
        put_str(e, t->key);
        put_str(e, t->value);
    }
}

static void
put_field(struct enc *e, const outpost_field_t *f)
{
    uint64_t bits;

    put_u8(e, f->type);
    put_str(e, f->key);
    switch (f->type) {
    case OUTPOST_FIELD_INT:
        /* zigzag: small negative numbers stay small */
        put_varint(e, ((uint64_t) f->v.i << 1)
                      ^ (0 - ((uint64_t) f->v.i >> 63)));
        break;
    case OUTPOST_FIELD_FLOAT:
        memcpy(&bits, &f->v.f, sizeof(bits));
        put_u64le(e, bits);
        break;
    case OUTPOST_FIELD_BOOL:
        put_u8(e, f->v.b != 0);
        break;
    default:
        put_str(e, f->v.s);
        break;
    }
}

static void
put_body(struct enc *e, const outpost_record_t *rec, int depth)
{
    const outpost_event_info_t *ev = rec->event;

    put_u8(e, rec->kind);
    put_u8(e, rec->event_kind);
    put_u8(e, rec->severity);
    put_u64le(e, (uint64_t) rec->ts_ns);
    put_str(e, rec->name);
    put_tags(e, rec->tags);
    if (rec->kind == OUTPOST_EVENT) {
        /* A cause nested deeper than the decoder accepts is left out
         * rather than making the whole record unreadable. */
        int cause = ev && ev->cause && depth < MAX_CAUSE_DEPTH;

        put_str(e, ev ? ev->message : NULL);
        put_str(e, ev ? ev->dedup_key : NULL);
        put_u8(e, cause);
        if (cause)
            put_body(e, ev->cause, depth + 1);
    }
    put_varint(e, rec->nfields);
    for (uint16_t i = 0; i < rec->nfields; i++)
        put_field(e, &rec->fields[i]);
}

int
record_encode(const outpost_record_t *rec, struct codec_buf *out)
{
    struct enc e = { out, 0 };
    size_t start = out->len;

    put_u8(&e, CODEC_VERSION);
    put_body(&e, rec, 0);
    if (e.err) {
        out->len = start;
        return -1;
    }
    return 0;
}

/* --- decoding ----------------------------------------------------------- */

struct dec {
    const uint8_t *p;
    const uint8_t *end;
};

static int
get_u8(struct dec *d, uint8_t *v)
{
    if (d->p >= d->end)
        return -1;
    *v = *d->p++;
    return 0;
}

static int
get_u64le(struct dec *d, uint64_t *v)
{
    if (d->end - d->p < 8)
        return -1;
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t) d->p[i] << (8 * i);
    d->p += 8;
    return 0;
}

static int
get_varint(struct dec *d, uint64_t *v)
{
    uint64_t r = 0;

    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t c;

        if (get_u8(d, &c) != 0)
            return -1;
        if (shift == 63 && c > 1)
            return -1;              /* more than 64 bits */
        r |= (uint64_t) (c & 0x7f) << shift;
        if ((c & 0x80) == 0) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* A string's bytes, checked to fit and to hold no NUL. */
static int
get_str_raw(struct dec *d, const uint8_t **s, size_t *len)
{
    uint64_t n;

    if (get_varint(d, &n) != 0 || n > (uint64_t) (d->end - d->p))
        return -1;
    if (memchr(d->p, '\0', (size_t) n) != NULL)
        return -1;
    *s = d->p;
    *len = (size_t) n;
    d->p += n;
    return 0;
}

/* The next string, NUL-terminated, in the decoder's scratch buffer (valid
 * until the next call). CODEC_* code. */
static int
get_str(struct record_decoder *rd, struct dec *d, const char **out)
{
    const uint8_t *s;
    size_t len;

    if (get_str_raw(d, &s, &len) != 0)
        return CODEC_ECORRUPT;
    rd->scratch.len = 0;
    if (codec_buf_reserve(&rd->scratch, len + 1) != 0)
        return CODEC_ENOMEM;
    memcpy(rd->scratch.p, s, len);
    rd->scratch.p[len] = '\0';
    *out = (const char *) rd->scratch.p;
    return CODEC_OK;
}

/* Builds the tag set of one block. Every string is copied NUL-terminated
 * into scratch; each replaces at least its one-byte length prefix, so
 * block_len bytes of scratch are always enough and nothing moves. */
static int
build_tags(struct record_decoder *rd, const uint8_t *block, size_t block_len,
           outpost_tagset_t **out)
{
    struct dec d = { block, block + block_len };
    outpost_tag_t *tags;
    uint64_t n;
    char *w;

    if (get_varint(&d, &n) != 0 || n > block_len / 2)
        return CODEC_ECORRUPT;
    rd->scratch.len = 0;
    rd->tag_array.len = 0;
    if (codec_buf_reserve(&rd->scratch, block_len + 1) != 0
        || codec_buf_reserve(&rd->tag_array,
                             (size_t) n * sizeof(outpost_tag_t) + 1) != 0)
        return CODEC_ENOMEM;
    tags = (outpost_tag_t *) (void *) rd->tag_array.p;
    w = (char *) rd->scratch.p;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *s;
        size_t len;

        for (int kv = 0; kv < 2; kv++) {
            if (get_str_raw(&d, &s, &len) != 0)
                return CODEC_ECORRUPT;
            memcpy(w, s, len);
            w[len] = '\0';
            if (kv == 0)
                tags[i].key = w;
            else
                tags[i].value = w;
            w += len + 1;
        }
    }
    if (d.p != d.end)
        return CODEC_ECORRUPT;
    *out = outpost_tagset_new(tags, (size_t) n);
    return *out ? CODEC_OK : CODEC_ENOMEM;
}

/* The tag set for a block: the previous one when the bytes are the same. */
static int
get_tags(struct record_decoder *rd, struct dec *d, outpost_tagset_t **out)
{
    const uint8_t *block;
    uint64_t len;
    outpost_tagset_t *ts;
    int rc;

    if (get_varint(d, &len) != 0 || len > (uint64_t) (d->end - d->p))
        return CODEC_ECORRUPT;
    block = d->p;
    d->p += len;
    if (rd->tags && rd->tag_bytes.len == len
        && memcmp(rd->tag_bytes.p, block, (size_t) len) == 0) {
        *out = outpost_tagset_ref(rd->tags);
        return CODEC_OK;
    }
    rc = build_tags(rd, block, (size_t) len, &ts);
    if (rc != CODEC_OK)
        return rc;
    rd->tag_bytes.len = 0;
    if (codec_buf_reserve(&rd->tag_bytes, (size_t) len + 1) == 0) {
        memcpy(rd->tag_bytes.p, block, (size_t) len);
        rd->tag_bytes.len = (size_t) len;
        outpost_tagset_unref(rd->tags);
        rd->tags = outpost_tagset_ref(ts);
    }
    *out = ts;
    return CODEC_OK;
}

static int
get_field(struct record_decoder *rd, struct dec *d, outpost_record_t *rec)
{
    const char *key;
    uint8_t type, b;
    uint64_t u;
    double f;
    int rc, added;

    if (get_u8(d, &type) != 0)
        return CODEC_ECORRUPT;
    rc = get_str(rd, d, &key);
    if (rc != CODEC_OK)
        return rc;
    /* The value may be a string too, which reuses scratch: hold the key
     * by its interned copy instead. */
    key = outpost_intern(key);
    switch (type) {
    case OUTPOST_FIELD_INT:
        if (get_varint(d, &u) != 0)
            return CODEC_ECORRUPT;
        added = outpost_record_add_int(rec, key,
                                       (int64_t) ((u >> 1) ^ (0 - (u & 1))));
        break;
    case OUTPOST_FIELD_FLOAT:
        if (get_u64le(d, &u) != 0)
            return CODEC_ECORRUPT;
        memcpy(&f, &u, sizeof(f));
        added = outpost_record_add_float(rec, key, f);
        break;
    case OUTPOST_FIELD_BOOL:
        if (get_u8(d, &b) != 0 || b > 1)
            return CODEC_ECORRUPT;
        added = outpost_record_add_bool(rec, key, b);
        break;
    case OUTPOST_FIELD_STRING: {
        const char *s;

        rc = get_str(rd, d, &s);
        if (rc != CODEC_OK)
            return rc;
        added = outpost_record_add_str(rec, key, s);
        break;
    }
    default:
        return CODEC_ECORRUPT;
    }
    return added == 0 ? CODEC_OK : CODEC_ENOMEM;
}

static int get_body(struct record_decoder *rd, struct dec *d, int depth,
                    outpost_record_t **out);

/* Makes the event record: message, dedup_key and the cause. */
static int
get_event(struct record_decoder *rd, struct dec *d, int depth,
          uint8_t ekind, uint8_t sev, outpost_record_t **out)
{
    outpost_record_t *cause = NULL;
    char *msg;
    const char *s;
    uint8_t has_cause;
    int rc;

    rc = get_str(rd, d, &s);
    if (rc != CODEC_OK)
        return rc;
    msg = strdup(s);
    if (msg == NULL)
        return CODEC_ENOMEM;
    rc = get_str(rd, d, &s);        /* dedup_key, in scratch */
    if (rc == CODEC_OK && (get_u8(d, &has_cause) != 0 || has_cause > 1))
        rc = CODEC_ECORRUPT;
    if (rc == CODEC_OK && has_cause) {
        char *dedup = strdup(s);

        if (dedup == NULL) {
            rc = CODEC_ENOMEM;
        } else {
            rc = depth < MAX_CAUSE_DEPTH
                 ? get_body(rd, d, depth + 1, &cause) : CODEC_ECORRUPT;
            if (rc == CODEC_OK)
                *out = outpost_event_new(ekind, sev, cause, msg, dedup);
            free(dedup);
        }
    } else if (rc == CODEC_OK) {
        *out = outpost_event_new(ekind, sev, NULL, msg, s);
    }
    free(msg);
    if (cause)
        outpost_record_unref(cause);    /* the event holds its own ref */
    if (rc == CODEC_OK && *out == NULL)
        rc = CODEC_ENOMEM;
    return rc;
}

static int
get_body(struct record_decoder *rd, struct dec *d, int depth,
         outpost_record_t **out)
{
    outpost_record_t *rec = NULL;
    outpost_tagset_t *tags = NULL;
    const char *name;
    uint8_t kind, ekind, sev;
    uint64_t ts, nfields;
    int rc;

    if (get_u8(d, &kind) != 0 || get_u8(d, &ekind) != 0
        || get_u8(d, &sev) != 0 || get_u64le(d, &ts) != 0)
        return CODEC_ECORRUPT;
    if (kind != OUTPOST_MEASUREMENT && kind != OUTPOST_EVENT)
        return CODEC_ECORRUPT;
    rc = get_str(rd, d, &name);
    if (rc != CODEC_OK)
        return rc;
    name = outpost_intern(name);
    rc = get_tags(rd, d, &tags);
    if (rc != CODEC_OK)
        return rc;

    if (kind == OUTPOST_EVENT) {
        rc = get_event(rd, d, depth, ekind, sev, &rec);
        if (rc == CODEC_OK) {
            /* outpost_event_new copied the cause's tags and named the
             * record after its kind; restore what was written. */
            outpost_tagset_unref(rec->tags);
            rec->tags = tags;
            tags = NULL;
            rec->name = name;
        }
    } else {
        rec = outpost_measurement_new(name, tags, 1);
        rc = rec ? CODEC_OK : CODEC_ENOMEM;
        if (rec) {
            rec->event_kind = ekind;
            rec->severity = sev;
        }
    }
    outpost_tagset_unref(tags);
    if (rc != CODEC_OK)
        return rc;
    rec->ts_ns = (int64_t) ts;

    if (get_varint(d, &nfields) != 0 || nfields > MAX_FIELDS)
        rc = CODEC_ECORRUPT;
    for (uint64_t i = 0; rc == CODEC_OK && i < nfields; i++)
        rc = get_field(rd, d, rec);
    if (rc != CODEC_OK) {
        outpost_record_unref(rec);
        return rc;
    }
    *out = rec;
    return CODEC_OK;
}

int
record_decode(struct record_decoder *rd, const uint8_t *p, size_t len,
              outpost_record_t **out)
{
    struct dec d = { p, p + len };
    outpost_record_t *rec;
    uint8_t version;
    int rc;

    if (get_u8(&d, &version) != 0 || version != CODEC_VERSION)
        return CODEC_ECORRUPT;
    rc = get_body(rd, &d, 0, &rec);
    if (rc != CODEC_OK)
        return rc;
    if (d.p != d.end) {
        outpost_record_unref(rec);
        return CODEC_ECORRUPT;
    }
    *out = rec;
    return CODEC_OK;
}

void
record_decoder_free(struct record_decoder *rd)
{
    outpost_tagset_unref(rd->tags);
    rd->tags = NULL;
    codec_buf_free(&rd->tag_bytes);
    codec_buf_free(&rd->scratch);
    codec_buf_free(&rd->tag_array);
}
