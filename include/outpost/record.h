/*
 * outpost/record.h - measurements and events, the records that travel from
 * inputs through the filter chain to the outputs.
 *
 * Ownership rules, in one place:
 *  1. A record made by outpost_*_new() has one reference, owned by the
 *     caller. outpost_run_emit() and outpost_emit() take that reference.
 *  2. While a record is in the filter chain it is owned by the chain and a
 *     filter may change it (add fields and tags). Once it reaches the output
 *     queues it is shared and read-only: outputs must not change it.
 *  3. Field keys and tag keys are interned by the core, so a record never
 *     points into a plugin's memory; string values are copied.
 *  4. Every function here is safe to call from any thread on records the
 *     caller owns; reference counting is atomic.
 */
#ifndef OUTPOST_RECORD_H
#define OUTPOST_RECORD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    OUTPOST_MEASUREMENT = 1,
    OUTPOST_EVENT       = 2
} outpost_record_kind_t;

typedef enum {
    OUTPOST_FIELD_INT    = 1,
    OUTPOST_FIELD_FLOAT  = 2,
    OUTPOST_FIELD_BOOL   = 3,
    OUTPOST_FIELD_STRING = 4
} outpost_field_type_t;

/* Values are only ever appended to these enums, never renumbered. */
typedef enum {
    OUTPOST_EV_STATE_CHANGE = 1,
    OUTPOST_EV_CIRCUIT      = 2,
    OUTPOST_EV_FAILOVER     = 3,
    OUTPOST_EV_ALERT        = 4,
    OUTPOST_EV_RESOLVE      = 5,
    OUTPOST_EV_ESCALATE     = 6
} outpost_event_kind_t;

typedef enum {
    OUTPOST_SEV_INFO     = 1,
    OUTPOST_SEV_WARNING  = 2,
    OUTPOST_SEV_ERROR    = 3,
    OUTPOST_SEV_CRITICAL = 4
} outpost_severity_t;

typedef struct outpost_field {
    const char *key;            /* interned: valid for the process lifetime */
    uint32_t    type;           /* outpost_field_type_t */
    union {
        int64_t     i;
        double      f;
        int         b;
        const char *s;          /* owned by the record */
    } v;
} outpost_field_t;

/* A field's value as a number (INT, FLOAT or BOOL) or a string; def or
 * NULL when f is NULL or of another type. Inline: the decision filters
 * call them on every measurement. */
static inline double
outpost_field_number(const outpost_field_t *f, double def)
{
    if (f == NULL)
        return def;
    switch (f->type) {
    case OUTPOST_FIELD_INT:   return (double) f->v.i;
    case OUTPOST_FIELD_FLOAT: return f->v.f;
    case OUTPOST_FIELD_BOOL:  return f->v.b;
    default:                  return def;
    }
}

static inline const char *
outpost_field_string(const outpost_field_t *f)
{
    return f && f->type == OUTPOST_FIELD_STRING ? f->v.s : NULL;
}

typedef struct outpost_tag {
    const char *key;            /* interned */
    const char *value;          /* owned by the tag set */
} outpost_tag_t;

/* An immutable, reference-counted, key-sorted set of tags. Many records share
 * one: an input instance builds its tag set once and every measurement it
 * makes points to it. */
typedef struct outpost_tagset outpost_tagset_t;

typedef struct outpost_event_info {
    char                   *message;
    char                   *dedup_key;
    struct outpost_record  *cause;      /* referenced measurement, or NULL */
} outpost_event_info_t;

/* Read fields directly; change a record only through the functions below. */
typedef struct outpost_record {
    uint32_t              refs;         /* private: use ref/unref */
    uint8_t               kind;         /* outpost_record_kind_t */
    uint8_t               event_kind;   /* outpost_event_kind_t, events only */
    uint8_t               severity;     /* outpost_severity_t, events only */
    uint8_t               flags;        /* private */
    uint16_t              nfields;
    uint16_t              capfields;    /* private */
    int64_t               ts_ns;        /* Unix time in nanoseconds */
    const char           *name;         /* interned */
    outpost_tagset_t     *tags;         /* shared, never NULL */
    outpost_field_t      *fields;
    outpost_event_info_t *event;        /* NULL for measurements */
} outpost_record_t;

/* Returns the process-lifetime copy of s. Never fails (aborts on ENOMEM). */
const char *outpost_intern(const char *s);

/* --- tag sets -------------------------------------------------------- */

/* Builds a tag set from n key/value pairs; later duplicates of a key win.
 * Returns NULL on allocation failure. The caller owns one reference. */
outpost_tagset_t *outpost_tagset_new(const outpost_tag_t *tags, size_t n);
outpost_tagset_t *outpost_tagset_ref(outpost_tagset_t *ts);
void              outpost_tagset_unref(outpost_tagset_t *ts);
size_t            outpost_tagset_count(const outpost_tagset_t *ts);
const outpost_tag_t *outpost_tagset_at(const outpost_tagset_t *ts, size_t i);
const char       *outpost_tagset_get(const outpost_tagset_t *ts,
                                     const char *key);

/* --- records --------------------------------------------------------- */

/* A new measurement named name, sharing tags (a new reference is taken),
 * stamped ts_ns (0: now). NULL on allocation failure. */
outpost_record_t *outpost_measurement_new(const char *name,
                                          outpost_tagset_t *tags,
                                          int64_t ts_ns);

/* A new event. It copies the tags of cause (if any) and references cause;
 * message and dedup_key are copied. Its name is the kind's name. */
outpost_record_t *outpost_event_new(outpost_event_kind_t kind,
                                    outpost_severity_t severity,
                                    outpost_record_t *cause,
                                    const char *message,
                                    const char *dedup_key);

outpost_record_t *outpost_record_ref(outpost_record_t *rec);
void              outpost_record_unref(outpost_record_t *rec);

/* Adding a key that exists replaces its value. 0 on success, -1 on ENOMEM. */
int outpost_record_add_int(outpost_record_t *rec, const char *key, int64_t v);
int outpost_record_add_float(outpost_record_t *rec, const char *key,
                             double v);
int outpost_record_add_bool(outpost_record_t *rec, const char *key, int v);
int outpost_record_add_str(outpost_record_t *rec, const char *key,
                           const char *v);

const outpost_field_t *outpost_record_field(const outpost_record_t *rec,
                                            const char *key);
/* Numeric value of an INT, FLOAT or BOOL field; def when absent. */
double      outpost_record_number(const outpost_record_t *rec,
                                  const char *key, double def);
const char *outpost_record_string(const outpost_record_t *rec,
                                  const char *key);
const char *outpost_record_tag(const outpost_record_t *rec, const char *key);

/* Sets a tag on this record only (its tag set is copied on write). */
int outpost_record_set_tag(outpost_record_t *rec, const char *key,
                           const char *value);

const char *outpost_event_kind_name(outpost_event_kind_t kind);
const char *outpost_severity_name(outpost_severity_t sev);
/* Parses a severity name; 0 when unknown. */
outpost_severity_t outpost_severity_parse(const char *name);

/* One JSON object per record, no newline, as written by jsonl, kafka and
 * the webhooks. *out is malloc'ed and owned by the caller. 0 or -1. */
int outpost_record_to_json(const outpost_record_t *rec, char **out,
                           size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* OUTPOST_RECORD_H */
