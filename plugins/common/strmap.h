/*
 * strmap.h - a string-keyed hash map of pointers, for keyed state that is
 * looked up on every measurement but is not per integration: the alert
 * filter's alerts by dedup key, the failover filter's groups by group
 * name. Per-integration state has one table for every filter, rolling.h's
 * (section 4); this is the generic map for everything else.
 *
 * Keys are borrowed: the value must own its key string and keep it alive
 * as long as the entry exists. Entries are never removed; the filters keep
 * one entry per name they have seen (a bounded set: groups, deterministic
 * alert keys), so a map only grows.
 *
 * Shared by the failover and alert plugins, through outpost_common.
 */
#ifndef OUTPOST_STRMAP_H
#define OUTPOST_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_entry {
    uint64_t    hash;
    const char *key;       /* NULL: free slot */
    void       *value;
};

/* A remembered pointer -> value pair, see strmap_hint_get(). */
struct strmap_hint {
    const void *ptr;
    void       *value;
};

struct strmap {
    struct strmap_entry *slots;
    size_t               cap;   /* a power of two, or 0 */
    size_t               n;
    struct strmap_hint  *hints; /* 2 * cap, in sets of STRMAP_HINT_WAYS */
};

#define STRMAP_HINT_WAYS 4

void *strmap_get(const struct strmap *m, const char *key);
/* Adds key (borrowed) -> value; replaces the value if key is present.
 * 0, or -1 when memory runs out (the map is unchanged). */
int   strmap_put(struct strmap *m, const char *key, void *value);
void  strmap_free(struct strmap *m);   /* the slots, not keys or values */

/*
 * Hints: a set-associative cache from a pointer (a record's tag set) to
 * a value, so a lookup per record needs neither hashing nor comparing
 * the name. A hint is only a guess: the value strmap_hint_get() returns
 * for ptr was stored with ptr at some time, and the caller checks that it
 * still belongs (e.g. the value holds a reference to the tag set it was
 * last seen with, so the address cannot have been reused). NULL when
 * nothing is remembered. Growing the map forgets every hint.
 */
void *strmap_hint_get(const struct strmap *m, const void *ptr);
/* Starts loading where strmap_hint_get(m, ptr) looks. */
void  strmap_hint_prefetch(const struct strmap *m, const void *ptr);
/* Remembers ptr -> value (no-op while the map is empty or on ENOMEM). */
void  strmap_hint_put(struct strmap *m, const void *ptr, void *value);

/* Visits every value in slot order; fn may not change the map. */
void  strmap_each(const struct strmap *m, void (*fn)(void *value, void *arg),
                  void *arg);

#endif
