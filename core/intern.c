/*
 * intern.c - the process-wide table of interned strings (field keys, tag
 * keys, measurement names).
 *
 * Records point at interned keys instead of copying them, which keeps a
 * queued measurement small and lets a record outlive the plugin that made
 * it. Entries are never freed. Lookups first try a small per-thread cache
 * keyed by the caller's pointer, so the hot path takes no lock. A cached
 * pointer into heap memory is checked with strcmp (its address may have
 * been reused for another string); one into a loaded object's image (a
 * string literal: modules are never unloaded) or an interned string is
 * immortal and needs no check.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/record.h>

/* 512 sets of 2: a record's dozen keys, from two or three modules'
 * string tables, must not evict each other on every record. */
#define TLS_CACHE_SETS 512

struct entry {
    struct entry *next;
    uint64_t      hash;
    char          str[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry  **buckets;
static size_t          nbuckets;
static size_t          nentries;

struct cached {
    const char *from;
    const char *to;
    int         immortal;
};

static __thread struct cached tls_cache[TLS_CACHE_SETS][2];

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void
grow(void)
{
    size_t n = nbuckets ? nbuckets * 2 : 1024;
    struct entry **nb = calloc(n, sizeof(*nb));

    if (nb == NULL)
        abort();
    for (size_t i = 0; i < nbuckets; i++) {
        struct entry *e = buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
        }
    }
    free(buckets);
    buckets = nb;
    nbuckets = n;
}

static const char *
intern_locked(const char *s)
{
    uint64_t h = fnv1a(s);
    struct entry *e;
    size_t len;

    if (nbuckets == 0 || nentries > nbuckets)
        grow();
    for (e = buckets[h & (nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->str, s) == 0)
            return e->str;

    len = strlen(s);
    e = malloc(sizeof(*e) + len + 1);
    if (e == NULL)
        abort();
    e->hash = h;
    memcpy(e->str, s, len + 1);
    e->next = buckets[h & (nbuckets - 1)];
    buckets[h & (nbuckets - 1)] = e;
    nentries++;
    return e->str;
}

static int
cache_hit(const struct cached *c, const char *s)
{
    return c->from == s && (c->immortal || strcmp(c->to, s) == 0);
}

const char *
outpost_intern(const char *s)
{
    /* Fibonacci hashing: literals sit 8 or 16 bytes apart. */
    size_t set = (size_t) (((uintptr_t) s * 0x9E3779B97F4A7C15ULL) >> 55)
                 & (TLS_CACHE_SETS - 1);
    struct cached *way = tls_cache[set];
    const char *r;
    Dl_info info;

    if (cache_hit(&way[0], s))
        return way[0].to;
    if (cache_hit(&way[1], s))
        return way[1].to;

    pthread_mutex_lock(&lock);
    r = intern_locked(s);
    pthread_mutex_unlock(&lock);

    way[1] = way[0];
    way[0].from = s;
    way[0].to = r;
    way[0].immortal = r == s || dladdr(s, &info) != 0;
    return r;
}

/* Frees the table at exit so leak checkers see a clean heap. Only safe when
 * no other thread runs and no record is alive. */
void
intern_release_all(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nbuckets; i++) {
        struct entry *e = buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(buckets);
    buckets = NULL;
    nbuckets = nentries = 0;
    memset(tls_cache, 0, sizeof(tls_cache));
    pthread_mutex_unlock(&lock);
}
