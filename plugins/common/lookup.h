/*
 * lookup.h - field and tag lookups by interned key. The core interns every
 * field and tag key (record.h, rule 3), so a key interned once at init
 * can be compared by pointer instead of strcmp: the decision filters look
 * up several fields of every measurement, after the filters before them
 * have added a dozen more.
 *
 * Shared by the failover and alert plugins (alert includes it from here).
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
    const outpost_field_t *f = lookup_field(rec, key);

    return f && f->type == OUTPOST_FIELD_STRING ? f->v.s : NULL;
}

static inline double
lookup_num(const outpost_record_t *rec, const char *key, double def)
{
    const outpost_field_t *f = lookup_field(rec, key);

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
