/*
 * kafka.h - the `kafka` output's parts: the record encoders (encode.c)
 * and the producer (kafka.c).
 *
 * The value schema, version KAFKA_SCHEMA (docs/plugins/kafka.md):
 *   json    {"schema":1, ...the record as outpost_record_to_json()...}
 *   influx  one line of InfluxDB line protocol per record
 * Every message carries the headers outpost-type (measurement | event),
 * outpost-schema (KAFKA_SCHEMA) and outpost-format (json | influx).
 */
#ifndef OUTPOST_KAFKA_OUT_H
#define OUTPOST_KAFKA_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <outpost/record.h>

#define KAFKA_SCHEMA "1"

/* A growable byte buffer; the encoders append to it. */
struct kbuf {
    char    *p;
    size_t   len, cap;
    int64_t  ts_sec;            /* the second ts_text spells */
    char     ts_text[40];       /* "2026-12-07T17:38:11", or "" */
};

/* The record as the JSON value, in b after b->len is reset. 0, or -1
 * (out of memory, or jansson cannot encode it either). */
int kafka_encode_json(const outpost_record_t *rec, struct kbuf *b);

/* The record as one line of line protocol (no newline), appended to b
 * after b->len is reset. 0, or -1 with why (static text): a record
 * with no field the protocol can carry, or out of memory. */
int kafka_encode_influx(const outpost_record_t *rec, struct kbuf *b,
                        const char **why);

#endif /* OUTPOST_KAFKA_OUT_H */
