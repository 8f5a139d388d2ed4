/*
 * strmap.c - open addressing with linear probing, kept under 3/4 full.
 * Without removals there are no tombstones, so a probe ends at the first
 * free slot.
 */
#include <stdlib.h>
#include <string.h>
#include "strmap.h"

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;        /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 1099511628211ULL;
    }
    return h;
}

static struct strmap_entry *
find_slot(struct strmap_entry *slots, size_t cap, uint64_t h,
          const char *key)
{
    size_t i = (size_t) h & (cap - 1);

    while (slots[i].key != NULL) {
        if (slots[i].hash == h && strcmp(slots[i].key, key) == 0)
            break;
        i = (i + 1) & (cap - 1);
    }
    return &slots[i];
}

void *
strmap_get(const struct strmap *m, const char *key)
{
    struct strmap_entry *e;

    if (m->cap == 0)
        return NULL;
    e = find_slot(m->slots, m->cap, hash_str(key), key);
    return e->key ? e->value : NULL;
}

static int
grow(struct strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct strmap_entry *slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        struct strmap_entry *old = &m->slots[i];
        if (old->key)
            *find_slot(slots, cap, old->hash, old->key) = *old;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    free(m->hints);                 /* sized by cap: start over */
    m->hints = NULL;
    return 0;
}

int
strmap_put(struct strmap *m, const char *key, void *value)
{
    uint64_t h = hash_str(key);
    struct strmap_entry *e;

    if ((m->n + 1) * 4 > m->cap * 3 && grow(m) != 0)
        return -1;
    e = find_slot(m->slots, m->cap, h, key);
    if (e->key == NULL)
        m->n++;
    e->hash = h;
    e->key = key;          /* the new value's own copy of the key */
    e->value = value;
    return 0;
}

void
strmap_each(const struct strmap *m, void (*fn)(void *value, void *arg),
            void *arg)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            fn(m->slots[i].value, arg);
}

/* The first hint of ptr's set. */
static size_t
hint_set(const struct strmap *m, const void *ptr)
{
    uint64_t h = (uintptr_t) ptr;

    /* murmur3's finalizer: heap addresses share most of their bits. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t) h & (2 * m->cap - STRMAP_HINT_WAYS);
}

void *
strmap_hint_get(const struct strmap *m, const void *ptr)
{
    const struct strmap_hint *set;

    if (m->hints == NULL)
        return NULL;
    set = &m->hints[hint_set(m, ptr)];
    for (int w = 0; w < STRMAP_HINT_WAYS; w++)
        if (set[w].ptr == ptr)
            return set[w].value;
    return NULL;
}

void
strmap_hint_prefetch(const struct strmap *m, const void *ptr)
{
    if (m->hints != NULL)
        __builtin_prefetch(&m->hints[hint_set(m, ptr)]);
}

void
strmap_hint_put(struct strmap *m, const void *ptr, void *value)
{
    struct strmap_hint *set;
    int w;

    if (m->cap == 0)
        return;
    if (m->hints == NULL
        && (m->hints = calloc(2 * m->cap, sizeof(*m->hints))) == NULL)
        return;
    set = &m->hints[hint_set(m, ptr)];
    /* The newest goes first; ptr's old place or the oldest drops out. */
    for (w = 0; w < STRMAP_HINT_WAYS - 1; w++)
        if (set[w].ptr == ptr)
            break;
    memmove(&set[1], &set[0], (size_t) w * sizeof(*set));
    set[0].ptr = ptr;
    set[0].value = value;
}

void
strmap_free(struct strmap *m)
{
    free(m->hints);
    m->hints = NULL;
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
