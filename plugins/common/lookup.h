/*
 * lookup.h - field and tag lookups by interned key. The core interns every
 * field and tag key (record.h, rule 3), so a key interned once at init
 * can be compared by pointer instead of strcmp: the decision filters look
 * up several fields of every measurement, after the filters before them
 * have added a dozen more.
 *
 * Shared by the decision filters (health, circuit_breaker, sla, failover,
 * alert).
 */
#ifndef OUTPOST_LOOKUP_H
#define OUTPOST_LOOKUP_H

#include <outpost/record.h>

/* key must come from outpost_intern(). */
static inline const outpost_field_t *
lookup_field(const outpost_record_t *rec, const char *key)
{
    for (uint16_t i = 0; i < rec->nfields; i++)
        if (rec->fields[i].key == key)
            return &rec->fields[i];
    return NULL;
}

static inline const char *
lookup_str(const outpost_record_t *rec, const char *key)
{
    return outpost_field_string(lookup_field(rec, key));
}

static inline double
lookup_num(const outpost_record_t *rec, const char *key, double def)
{
    return outpost_field_number(lookup_field(rec, key), def);
}

static inline const char *
lookup_tag(const outpost_record_t *rec, const char *key)
{
    size_t n = outpost_tagset_count(rec->tags);

    for (size_t i = 0; i < n; i++) {
        const outpost_tag_t *t = outpost_tagset_at(rec->tags, i);
        if (t->key == key)
            return t->value;
    }
    return NULL;
}

#endif
