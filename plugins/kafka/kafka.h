/*
 * kafka.h - the `kafka` output's parts: the record encoders (encode.c),
 * the thread that runs them ahead of the producer (encoder.c) and the
 * producer (kafka.c).
 *
 * The value schema, version KAFKA_SCHEMA (docs/plugins/kafka.md):
 *   json    {"schema":1, ...the record as outpost_record_to_json()...}
 *   influx  one line of InfluxDB line protocol per record
 * Every message carries two headers: outpost-type (measurement | event)
 * and outpost-schema (KAFKA_SCHEMA); kafka.c reuses their sets. Each
 * header still costs librdkafka four writes into the request, so there
 * is no third one for the format: that is the output's `format` setting
 * (and a JSON value starts with '{').
 */
#ifndef OUTPOST_KAFKA_OUT_H
#define OUTPOST_KAFKA_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>
#include <outpost/record.h>

#define KAFKA_SCHEMA "1"

/*
 * A growable byte buffer the encoders write into, and what they keep
 * between records (one thread uses it, the encoder; kbuf_free() at the end):
 *   keys:  a key or name as a JSON string ("\"key\""), and ikeys: a
 *          field key escaped for line protocol, by the interned pointer
 *          (record.h rule 3: the text never changes nor moves);
 *   tags:  a tag set as the JSON object's members, and itags: as line
 *          protocol's ",k=v" tags, by the tag set, which the entry holds
 *          a reference to, so its address cannot come back as another
 *          set.
 * A miss renders the text and keeps it in one of 4 slots (encode.c).
 */
#define KBUF_KEYS 128
#define KBUF_TAGS 64

struct kbuf_text {
    const void *id;             /* interned key, or outpost_tagset_t * */
    char       *p;
    size_t      len;
};

struct kbuf {
    char    *p;
    size_t   len, cap;
    int64_t  ts_sec;            /* the second ts_text spells */
    char     ts_text[40];       /* "2026-12-07T17:38:11", or "" */
    struct kbuf_text keys[KBUF_KEYS];
    struct kbuf_text ikeys[KBUF_KEYS];
    struct kbuf_text tags[KBUF_TAGS];
    struct kbuf_text itags[KBUF_TAGS];
    unsigned         turn;      /* which slot a miss replaces */
};

/* Frees what b holds (and drops its tag set references); b is then as
 * zeroed. */
void kbuf_free(struct kbuf *b);

/* The record as the JSON value, in b after b->len is reset. 0, or -1
 * (out of memory, or jansson cannot encode it either). */
int kafka_encode_json(const outpost_record_t *rec, struct kbuf *b);

/* The record as one line of line protocol (no newline), appended to b
 * after b->len is reset. 0, or -1 with why (static text): a record
 * with no field the protocol can carry, or out of memory. */
int kafka_encode_influx(const outpost_record_t *rec, struct kbuf *b,
                        const char **why);

/* The encoder thread (encoder.c; all calls from the output's thread). */
struct kafka_encoder;

/* Starts the thread, named "enc:<name>": influx or JSON values. NULL
 * when it cannot. */
struct kafka_encoder *kafka_encoder_new(int influx, const char *name);

/* Stops and joins the thread, frees everything. */
void kafka_encoder_free(struct kafka_encoder *e);

/* Begins encoding recs[0..n), which must stay valid until
 * kafka_encoder_finish(). Pointers from an earlier batch are invalid from
 * here on. 0, or -1 (out of memory: nothing started). */
int kafka_encoder_start(struct kafka_encoder *e,
                        outpost_record_t *const *recs, size_t n);

/* Waits until record i (< n, in any order) is encoded: 0 with its
 * message in *p, *len (valid until the next start), or -1 with why
 * (static text) when it cannot be encoded. */
int kafka_encoder_get(struct kafka_encoder *e, size_t i, const char **p,
                      size_t *len, const char **why);

/* Stops encoding the batch and waits until the thread no longer reads
 * its records. */
void kafka_encoder_finish(struct kafka_encoder *e);

#endif /* OUTPOST_KAFKA_OUT_H */
