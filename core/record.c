/*
 * record.c - measurements, events and their shared tag sets.
 *
 * A measurement is one block: the header followed by room for
 * INLINE_FIELDS fields, so the common probe result costs a single
 * allocation (recycled, see below) and stays well under 200 bytes while it
 * waits in an output queue. More fields move the array to its own
 * allocation; the record pointer never changes, so filters can add fields
 * to a record they were handed.
 *
 * Text enters a record only here (string fields, tag values, an event's
 * message and dedup key), and is scrubbed of known secrets on the way in
 * (secrets.h): every output, the spill and the API read records, so none
 * of them can leak what a server echoed back.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/record.h>
#include <outpost/plugin.h>
#include "recycle.h"
#include "secrets.h"

#define INLINE_FIELDS 4
#define HEAP_FIELDS   32

#define REC_FIELDS_HEAP 0x1u   /* fields were moved out of the header block */

struct outpost_tagset {
    _Atomic uint32_t refs;
    uint32_t         n;
    outpost_tag_t    tags[];   /* sorted by key; values follow the array */
};

/* --- tag sets ---------------------------------------------------------- */

static int
tag_cmp(const void *a, const void *b)
{
    const outpost_tag_t *x = a, *y = b;

    return strcmp(x->key, y->key);
}

outpost_tagset_t *
outpost_tagset_new(const outpost_tag_t *tags, size_t n)
{
    outpost_tag_t tmp[n ? n : 1];
    char *clean[n ? n : 1];
    size_t m = 0, bytes = 0;
    outpost_tagset_t *ts = NULL;
    char *p;

    /* Later duplicates win: keep the last occurrence of each key. */
    for (size_t i = 0; i < n; i++) {
        size_t j;
        if (tags[i].key == NULL || tags[i].value == NULL)
            continue;
        for (j = 0; j < m; j++)
            if (strcmp(tmp[j].key, tags[i].key) == 0)
                break;
        tmp[j] = tags[i];
        if (j == m)
            m++;
    }
    for (size_t i = 0; i < m; i++)
        clean[i] = NULL;
    for (size_t i = 0; i < m; i++) {
        int r = secrets_scrub(tmp[i].value, &clean[i]);
        if (r < 0)
            goto out;
        if (r > 0)
            tmp[i].value = clean[i];
    }
    for (size_t i = 0; i < m; i++)
        bytes += strlen(tmp[i].value) + 1;
    qsort(tmp, m, sizeof(tmp[0]), tag_cmp);

    ts = malloc(sizeof(*ts) + m * sizeof(outpost_tag_t) + bytes);
    if (ts == NULL)
        goto out;
    atomic_init(&ts->refs, 1);
    ts->n = (uint32_t) m;
    p = (char *) &ts->tags[m];
    for (size_t i = 0; i < m; i++) {
        size_t len = strlen(tmp[i].value) + 1;
        ts->tags[i].key = outpost_intern(tmp[i].key);
        ts->tags[i].value = memcpy(p, tmp[i].value, len);
        p += len;
    }
out:
    for (size_t i = 0; i < m; i++)
        free(clean[i]);
    return ts;
}

outpost_tagset_t *
outpost_tagset_ref(outpost_tagset_t *ts)
{
    atomic_fetch_add_explicit(&ts->refs, 1, memory_order_relaxed);
    return ts;
}

void
outpost_tagset_unref(outpost_tagset_t *ts)
{
    if (ts && atomic_fetch_sub_explicit(&ts->refs, 1,
                                        memory_order_acq_rel) == 1)
        free(ts);
}

size_t
outpost_tagset_count(const outpost_tagset_t *ts)
{
    return ts->n;
}

const outpost_tag_t *
outpost_tagset_at(const outpost_tagset_t *ts, size_t i)
{
    return i < ts->n ? &ts->tags[i] : NULL;
}

const char *
outpost_tagset_get(const outpost_tagset_t *ts, const char *key)
{
    /* Keys are interned: callers holding the interned pointer match
     * without a string compare. */
    for (uint32_t i = 0; i < ts->n; i++)
        if (ts->tags[i].key == key)
            return ts->tags[i].value;
    for (uint32_t i = 0; i < ts->n; i++)
        if (strcmp(ts->tags[i].key, key) == 0)
            return ts->tags[i].value;
    return NULL;
}

/* --- records ----------------------------------------------------------- */

/*
 * Three block sizes are recycled between threads (recycle.h): records are
 * made on one thread and freed on an output's worker, which malloc serves
 * worst. Each class's depot keeps at most the byte budget given here.
 *  - record blocks: the header and INLINE_FIELDS fields;
 *  - heap field arrays of HEAP_FIELDS fields (with their bloom filter, see
 *    field_slot): nearly every measurement that passes the decision
 *    filters gets one;
 *  - short string values: one shorter than SHORT_STR bytes (a status, a
 *    provider, a code) sits in a SHORT_STR block, so record_free tells
 *    which by its length (values never change); longer ones are malloc'ed.
 */
#define BLOOM_WORDS 2
#define REC_BYTES   (sizeof(outpost_record_t) \
                     + INLINE_FIELDS * sizeof(outpost_field_t))
#define POOL_BYTES  (HEAP_FIELDS * sizeof(outpost_field_t) \
                     + BLOOM_WORDS * sizeof(uint64_t))
#define SHORT_STR   32

static struct recycle record_blocks = RECYCLE_INIT(REC_BYTES, 4u << 20);
static struct recycle field_arrays = RECYCLE_INIT(POOL_BYTES, 4u << 20);
static struct recycle short_strings = RECYCLE_INIT(SHORT_STR, 1u << 20);

static void *
fields_alloc(void)
{
    return recycle_get(&field_arrays);
}

static void
fields_free(outpost_record_t *rec)
{
    if (rec->capfields == HEAP_FIELDS)
        recycle_put(&field_arrays, rec->fields);
    else
        free(rec->fields);
}

/* v scrubbed of secrets (secrets.h), as a string field keeps it. */
static char *
str_copy(const char *v)
{
    char *clean, *p;
    const char *s;
    size_t n;
    int r = secrets_scrub(v ? v : "", &clean);

    if (r < 0)
        return NULL;
    s = r > 0 ? clean : v ? v : "";
    n = strlen(s) + 1;
    if ((p = n <= SHORT_STR ? recycle_get(&short_strings) : malloc(n)))
        memcpy(p, s, n);
    free(clean);
    return p;
}

static void
str_free(const char *s)
{
    if (s && strlen(s) < SHORT_STR)
        recycle_put(&short_strings, (char *) s);
    else
        free((char *) s);
}

static outpost_record_t *
record_alloc(const char *name, outpost_tagset_t *tags, int64_t ts_ns)
{
    outpost_record_t *rec;

    rec = recycle_get(&record_blocks);
    if (rec == NULL)
        return NULL;
    memset(rec, 0, sizeof(*rec));
    rec->refs = 1;
    rec->capfields = INLINE_FIELDS;
    rec->fields = (outpost_field_t *) (rec + 1);
    rec->name = outpost_intern(name);
    rec->tags = tags;
    rec->ts_ns = ts_ns ? ts_ns : outpost_time_now();
    return rec;
}

outpost_record_t *
outpost_measurement_new(const char *name, outpost_tagset_t *tags,
                        int64_t ts_ns)
{
    outpost_record_t *rec;

    tags = tags ? outpost_tagset_ref(tags) : outpost_tagset_new(NULL, 0);
    if (tags == NULL)
        return NULL;
    rec = record_alloc(name, tags, ts_ns);
    if (rec == NULL) {
        outpost_tagset_unref(tags);
        return NULL;
    }
    rec->kind = OUTPOST_MEASUREMENT;
    return rec;
}

outpost_record_t *
outpost_event_new(outpost_event_kind_t kind, outpost_severity_t severity,
                  outpost_record_t *cause, const char *message,
                  const char *dedup_key)
{
    outpost_record_t *rec;
    outpost_event_info_t *ev;

    ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return NULL;
    ev->message = secrets_strdup(message);
    ev->dedup_key = secrets_strdup(dedup_key);
    rec = outpost_measurement_new(outpost_event_kind_name(kind),
                                  cause ? cause->tags : NULL, 0);
    if (rec == NULL || ev->message == NULL || ev->dedup_key == NULL) {
        free(ev->message);
        free(ev->dedup_key);
        free(ev);
        if (rec)
            outpost_record_unref(rec);
        return NULL;
    }
    rec->kind = OUTPOST_EVENT;
    rec->event_kind = (uint8_t) kind;
    rec->severity = (uint8_t) severity;
    ev->cause = cause ? outpost_record_ref(cause) : NULL;
    rec->event = ev;
    return rec;
}

outpost_record_t *
outpost_record_ref(outpost_record_t *rec)
{
    atomic_fetch_add_explicit((_Atomic uint32_t *) &rec->refs, 1,
                              memory_order_relaxed);
    return rec;
}

static void
record_free(outpost_record_t *rec)
{
    for (uint16_t i = 0; i < rec->nfields; i++)
        if (rec->fields[i].type == OUTPOST_FIELD_STRING)
            str_free(rec->fields[i].v.s);
    if (rec->flags & REC_FIELDS_HEAP)
        fields_free(rec);
    if (rec->event) {
        free(rec->event->message);
        free(rec->event->dedup_key);
        if (rec->event->cause)
            outpost_record_unref(rec->event->cause);
        free(rec->event);
    }
    outpost_tagset_unref(rec->tags);
    recycle_put(&record_blocks, rec);
}

void
outpost_record_unref(outpost_record_t *rec)
{
    if (rec && atomic_fetch_sub_explicit((_Atomic uint32_t *) &rec->refs, 1,
                                         memory_order_acq_rel) == 1)
        record_free(rec);
}

/*
 * A heap field array is followed by a bloom filter of its keys (BLOOM_WORDS
 * words, one bit per key), so adding the twentieth field need not compare
 * it against the other nineteen first: a clear bit proves the key new.
 */
static uint64_t *
bloom_of(const outpost_record_t *rec)
{
    return (uint64_t *) (rec->fields + rec->capfields);
}

static unsigned
bloom_bit(const char *k)
{
    uint64_t h = (uintptr_t) k * 0x9e3779b97f4a7c15ULL;

    return (unsigned) (h >> 57);        /* 0 .. 64 * BLOOM_WORDS - 1 */
}

static void
bloom_add(uint64_t *bloom, const char *k)
{
    unsigned b = bloom_bit(k);

    bloom[b / 64] |= 1ULL << (b % 64);
}

static int
bloom_has(const uint64_t *bloom, const char *k)
{
    unsigned b = bloom_bit(k);

    return (bloom[b / 64] >> (b % 64)) & 1;
}

/* Returns the slot for key: the existing one (its old string freed) or a
 * new one at the end. NULL on ENOMEM. Keys are interned, so comparing
 * pointers finds an existing field; filters add a dozen fields to a
 * record, so the first move to the heap makes room for them all. */
static outpost_field_t *
field_slot(outpost_record_t *rec, const char *key)
{
    const char *k = outpost_intern(key);
    outpost_field_t *f;

    if (!(rec->flags & REC_FIELDS_HEAP) || bloom_has(bloom_of(rec), k)) {
        for (uint16_t i = 0; i < rec->nfields; i++) {
            f = &rec->fields[i];
            if (f->key == k) {
                if (f->type == OUTPOST_FIELD_STRING)
                    str_free(f->v.s);
                return f;
            }
        }
    }
    if (rec->nfields == rec->capfields) {
        uint16_t cap = rec->capfields < HEAP_FIELDS ? HEAP_FIELDS
                                                    : rec->capfields * 2;
        outpost_field_t *nf;
        size_t bytes = cap * sizeof(*nf) + BLOOM_WORDS * sizeof(uint64_t);

        if (cap <= rec->capfields)
            return NULL;
        if (rec->flags & REC_FIELDS_HEAP) {
            nf = realloc(rec->fields, bytes);
        } else {
            nf = cap == HEAP_FIELDS ? fields_alloc() : malloc(bytes);
            if (nf)
                memcpy(nf, rec->fields, rec->nfields * sizeof(*nf));
        }
        if (nf == NULL)
            return NULL;
        rec->fields = nf;
        rec->capfields = cap;
        rec->flags |= REC_FIELDS_HEAP;
        memset(bloom_of(rec), 0, BLOOM_WORDS * sizeof(uint64_t));
        for (uint16_t i = 0; i < rec->nfields; i++)
            bloom_add(bloom_of(rec), rec->fields[i].key);
    }
    if (rec->flags & REC_FIELDS_HEAP)
        bloom_add(bloom_of(rec), k);
    f = &rec->fields[rec->nfields++];
    f->key = k;
    return f;
}

int
outpost_record_add_int(outpost_record_t *rec, const char *key, int64_t v)
{
    outpost_field_t *f = field_slot(rec, key);

    if (f == NULL)
        return -1;
    f->type = OUTPOST_FIELD_INT;
    f->v.i = v;
    return 0;
}

int
outpost_record_add_float(outpost_record_t *rec, const char *key, double v)
{
    outpost_field_t *f = field_slot(rec, key);

    if (f == NULL)
        return -1;
    f->type = OUTPOST_FIELD_FLOAT;
    f->v.f = v;
    return 0;
}

int
outpost_record_add_bool(outpost_record_t *rec, const char *key, int v)
{
    outpost_field_t *f = field_slot(rec, key);

    if (f == NULL)
        return -1;
    f->type = OUTPOST_FIELD_BOOL;
    f->v.b = v != 0;
    return 0;
}

int
outpost_record_add_str(outpost_record_t *rec, const char *key, const char *v)
{
    char *copy = str_copy(v);
    outpost_field_t *f;

    if (copy == NULL)
        return -1;
    f = field_slot(rec, key);
    if (f == NULL) {
        str_free(copy);
        return -1;
    }
    f->type = OUTPOST_FIELD_STRING;
    f->v.s = copy;
    return 0;
}

const outpost_field_t *
outpost_record_field(const outpost_record_t *rec, const char *key)
{
    /* Callers usually pass the interned pointer itself. */
    for (uint16_t i = 0; i < rec->nfields; i++)
        if (rec->fields[i].key == key)
            return &rec->fields[i];
    for (uint16_t i = 0; i < rec->nfields; i++)
        if (strcmp(rec->fields[i].key, key) == 0)
            return &rec->fields[i];
    return NULL;
}

double
outpost_record_number(const outpost_record_t *rec, const char *key,
                      double def)
{
    return outpost_field_number(outpost_record_field(rec, key), def);
}

const char *
outpost_record_string(const outpost_record_t *rec, const char *key)
{
    return outpost_field_string(outpost_record_field(rec, key));
}

const char *
outpost_record_tag(const outpost_record_t *rec, const char *key)
{
    return outpost_tagset_get(rec->tags, key);
}

int
outpost_record_set_tag(outpost_record_t *rec, const char *key,
                       const char *value)
{
    size_t n = rec->tags->n;
    outpost_tag_t tmp[n + 1];
    outpost_tagset_t *ts;

    memcpy(tmp, rec->tags->tags, n * sizeof(outpost_tag_t));
    tmp[n].key = key;
    tmp[n].value = value;
    ts = outpost_tagset_new(tmp, n + 1);
    if (ts == NULL)
        return -1;
    outpost_tagset_unref(rec->tags);
    rec->tags = ts;
    return 0;
}

/* --- names ------------------------------------------------------------- */

static const char *const event_names[] = {
    [OUTPOST_EV_STATE_CHANGE] = "state_change",
    [OUTPOST_EV_CIRCUIT]      = "circuit",
    [OUTPOST_EV_FAILOVER]     = "failover",
    [OUTPOST_EV_ALERT]        = "alert",
    [OUTPOST_EV_RESOLVE]      = "resolve",
    [OUTPOST_EV_ESCALATE]     = "escalate",
};

static const char *const severity_names[] = {
    [OUTPOST_SEV_INFO]     = "info",
    [OUTPOST_SEV_WARNING]  = "warning",
    [OUTPOST_SEV_ERROR]    = "error",
    [OUTPOST_SEV_CRITICAL] = "critical",
};

const char *
outpost_event_kind_name(outpost_event_kind_t kind)
{
    if ((size_t) kind < sizeof(event_names) / sizeof(event_names[0])
        && event_names[kind])
        return event_names[kind];
    return "event";
}

const char *
outpost_severity_name(outpost_severity_t sev)
{
    if ((size_t) sev < sizeof(severity_names) / sizeof(severity_names[0])
        && severity_names[sev])
        return severity_names[sev];
    return "info";
}

outpost_severity_t
outpost_severity_parse(const char *name)
{
    for (size_t i = 1; i < sizeof(severity_names) / sizeof(severity_names[0]);
         i++)
        if (strcmp(name, severity_names[i]) == 0)
            return (outpost_severity_t) i;
    return 0;
}
