/*
 * rolling.c - see rolling.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "rolling.h"

/* --- rings ------------------------------------------------------------- */

void
rolling_ring_advance(void *slots, size_t slot_size, uint32_t n,
                     int64_t *head, int64_t idx)
{
    char *base = slots;
    /* Zero the buckets between the old head and idx; after n of them the
     * whole ring is clear and the rest would be repeats. */
    int64_t gap = idx - *head;
    int64_t from = gap >= n ? idx - n + 1 : *head + 1;

    for (int64_t k = from; k <= idx; k++)
        memset(base + (size_t) (k % n) * slot_size, 0, slot_size);
    *head = idx;
}

/* --- histograms -------------------------------------------------------- */

/* 2^(1/3) and 2^(2/3), halved: frexp() gives a mantissa in [0.5, 1). */
#define THIRD_1  0.6299605249474366
#define THIRD_2  0.7937005259840998

/* 2^(k/3): bin b >= 1 spans [edge[b - 1], edge[b]). */
static const double edge[ROLLING_HIST_BINS] = {
    1, 1.25992105, 1.587401052, 2, 2.5198421, 3.174802104,
    4, 5.0396842, 6.349604208, 8, 10.0793684, 12.69920842,
    16, 20.1587368, 25.39841683, 32, 40.3174736, 50.79683366,
    64, 80.63494719, 101.5936673, 128, 161.2698944, 203.1873347,
    256, 322.5397888, 406.3746693, 512, 645.0795775, 812.7493386,
    1024, 1290.159155, 1625.498677, 2048, 2580.31831, 3250.997354,
    4096, 5160.63662, 6501.994709, 8192, 10321.27324, 13003.98942,
    16384, 20642.54648, 26007.97884, 32768, 41285.09296, 52015.95767,
};

unsigned
rolling_hist_bin(double ms)
{
    int e;
    double m;
    unsigned b;

    if (!(ms >= 1.0))               /* also NaN and negatives */
        return 0;
    m = frexp(ms, &e);              /* ms = m * 2^e, e >= 1 */
    b = 1 + 3 * (unsigned) (e - 1) + (m >= THIRD_1) + (m >= THIRD_2);
    return b < ROLLING_HIST_BINS ? b : ROLLING_HIST_BINS - 1;
}

void
rolling_hist_quantiles(const uint32_t *bins, const double *qs, double *out,
                       unsigned nq)
{
    uint64_t total = 0;

    for (unsigned k = 0; k < ROLLING_HIST_BINS; k++)
        total += bins[k];
    rolling_hist_quantiles_n(bins, total, qs, out, nq);
}

void
rolling_hist_quantiles_n(const uint32_t *bins, uint64_t total,
                         const double *qs, double *out, unsigned nq)
{
    uint64_t cum = 0, need;
    unsigned b = 0;

    for (unsigned i = 0; i < nq; i++) {
        double rank = qs[i] * (double) total, f, lo, hi;

        if (total == 0) {
            out[i] = 0.0;
            continue;
        }
        rank = rank < 1.0 ? 1.0 : rank;
        /* qs ascend, so the walk goes on from where the last one ended.
         * For a whole number x, x < rank exactly when x < ceil(rank): the
         * walk compares integers. */
        need = (uint64_t) ceil(rank);
        while (b < ROLLING_HIST_BINS - 1 && cum + bins[b] < need)
            cum += bins[b++];
        /* Spread the bin's samples evenly over it, each at the middle of
         * its share, and read where rank falls: a lone sample reads as
         * the bin's middle. */
        f = bins[b] ? (rank - (double) cum - 0.5) / (double) bins[b] : 0.5;
        f = f < 0 ? 0 : f > 1 ? 1 : f;
        lo = b == 0 ? 0.0 : edge[b - 1];
        hi = b == 0 ? 1.0 : b < ROLLING_HIST_BINS - 1 ? edge[b]
                                                      : 2 * edge[b - 1];
        out[i] = lo + f * (hi - lo);
    }
}

double
rolling_hist_quantile(const uint32_t *bins, double q)
{
    double v;

    rolling_hist_quantiles(bins, &q, &v, 1);
    return v;
}

/* --- outcome bits ------------------------------------------------------ */

void
rolling_bits_init(struct rolling_bits *b, unsigned size)
{
    memset(b, 0, sizeof(*b));
    b->size = (uint16_t) (size < ROLLING_BITS_MAX ? size : ROLLING_BITS_MAX);
    if (b->size == 0)
        b->size = 1;
}

void
rolling_bits_push(struct rolling_bits *b, int one)
{
    uint64_t mask = 1ULL << (b->next % 64);
    uint64_t *w = &b->word[b->next / 64];

    if (b->count == b->size) {          /* the oldest outcome leaves */
        if (*w & mask)
            b->ones--;
    } else
        b->count++;
    if (one) {
        *w |= mask;
        b->ones++;
    } else
        *w &= ~mask;
    b->next = (uint16_t) ((b->next + 1) % b->size);
}

/* --- the table --------------------------------------------------------- */

/*
 * Entries live in chunks of CHUNK (entry header + slot) records, so the
 * table never moves an entry and grows by one chunk at a time: memory is
 * count * stride plus at most one partly used chunk. The index is open
 * addressing over entry numbers (+1, 0 = free), at most half full.
 */
#define CHUNK 64

struct rolling_table {
    size_t                 slot_size;
    size_t                 stride;     /* header + slot, 16-aligned */
    size_t                 count;
    char                 **chunks;
    size_t                 nchunks, capchunks;
    uint32_t              *index;
    size_t                 index_size; /* a power of two */
    struct tags_hit       *by_tags;    /* index_size slots, see below */
};

/*
 * By tag set address, TAGS_WAYS-way set associative: the entry whose
 * latest record had tag set ts. Invariant: a slot {ts, e} is only ever
 * present while e->tags == ts (retagging an entry clears its old slot).
 * Since e holds a reference to ts, the address cannot have been freed
 * and reused by another integration's tag set; so a hit needs no look at
 * the entry, whose memory is likely cold, before the caller prefetches
 * it.
 */
struct tags_hit {
    const outpost_tagset_t *ts;
    struct rolling_entry   *e;
};

#define TAGS_WAYS 4

static uint64_t
hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ULL;    /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 1099511628211ULL;
    }
    return h;
}

struct rolling_table *
rolling_table_new(size_t slot_size)
{
    struct rolling_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->slot_size = slot_size;
    t->stride = (sizeof(struct rolling_entry) + slot_size + 15) & ~(size_t) 15;
    return t;
}

void
rolling_table_free(struct rolling_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->count; i++) {
        struct rolling_entry *e = rolling_table_at(t, i);
        free(e->name);
        outpost_tagset_unref(e->tags);
    }
    for (size_t i = 0; i < t->nchunks; i++)
        free(t->chunks[i]);
    free(t->chunks);
    free(t->index);
    free(t->by_tags);
    free(t);
}

size_t
rolling_table_count(const struct rolling_table *t)
{
    return t->count;
}

struct rolling_entry *
rolling_table_at(const struct rolling_table *t, size_t i)
{
    if (i >= t->count)
        return NULL;
    return (struct rolling_entry *) (t->chunks[i / CHUNK]
                                     + (i % CHUNK) * t->stride);
}

struct rolling_entry *
rolling_table_find(const struct rolling_table *t, const char *name)
{
    uint64_t h;
    size_t mask, pos;

    if (t->index_size == 0)
        return NULL;
    h = hash_name(name);
    mask = t->index_size - 1;
    for (pos = h & mask; t->index[pos] != 0; pos = (pos + 1) & mask) {
        struct rolling_entry *e = rolling_table_at(t, t->index[pos] - 1);
        if (e->hash == h && strcmp(e->name, name) == 0)
            return e;
    }
    return NULL;
}

static void
index_put(uint32_t *index, size_t size, uint64_t h, uint32_t v)
{
    size_t mask = size - 1, pos;

    for (pos = h & mask; index[pos] != 0; pos = (pos + 1) & mask)
        ;
    index[pos] = v;
}

static int
index_grow(struct rolling_table *t)
{
    size_t size = t->index_size ? t->index_size * 2 : 64;
    uint32_t *index = calloc(size, sizeof(*index));
    /* A set is one cache line. */
    struct tags_hit *by_tags = aligned_alloc(64, size * sizeof(*by_tags));

    if (index == NULL || by_tags == NULL) {
        free(index);
        free(by_tags);
        return -1;
    }
    free(t->by_tags);
    memset(by_tags, 0, size * sizeof(*by_tags));
    t->by_tags = by_tags;
    for (size_t i = 0; i < t->count; i++)
        index_put(index, size, rolling_table_at(t, i)->hash,
                  (uint32_t) (i + 1));
    free(t->index);
    t->index = index;
    t->index_size = size;
    return 0;
}

/* Room for one more entry: a new chunk when the last one is full. */
static int
reserve(struct rolling_table *t)
{
    if (2 * (t->count + 1) > t->index_size && index_grow(t) != 0)
        return -1;
    if (t->count < t->nchunks * CHUNK)
        return 0;
    if (t->nchunks == t->capchunks) {
        size_t cap = t->capchunks ? t->capchunks * 2 : 16;
        char **c = realloc(t->chunks, cap * sizeof(*c));
        if (c == NULL)
            return -1;
        t->chunks = c;
        t->capchunks = cap;
    }
    t->chunks[t->nchunks] = aligned_alloc(16, CHUNK * t->stride);
    if (t->chunks[t->nchunks] == NULL)
        return -1;
    t->nchunks++;
    return 0;
}

struct rolling_entry *
rolling_table_get(struct rolling_table *t, const char *name, int *created)
{
    struct rolling_entry *e = rolling_table_find(t, name);
    char *copy;

    if (created)
        *created = 0;
    if (e)
        return e;
    if (t->count >= UINT32_MAX - 1 || reserve(t) != 0
        || (copy = strdup(name)) == NULL)
        return NULL;
    e = (struct rolling_entry *) (t->chunks[t->count / CHUNK]
                                  + (t->count % CHUNK) * t->stride);
    memset(e, 0, t->stride);
    e->name = copy;
    e->hash = hash_name(name);
    t->count++;
    index_put(t->index, t->index_size, e->hash, (uint32_t) t->count);
    if (created)
        *created = 1;
    return e;
}

/* The first of the TAGS_WAYS slots (one set) where ts may be cached. */
static size_t
tags_set(const struct rolling_table *t, const outpost_tagset_t *ts)
{
    uint64_t h = (uintptr_t) ts;

    /* murmur3's finalizer: heap addresses share most of their bits. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (size_t) h & (t->index_size - TAGS_WAYS);
}

static void
set_tags(struct rolling_entry *e, outpost_tagset_t *ts)
{
    if (e->tags == ts)
        return;
    outpost_tagset_unref(e->tags);
    e->tags = ts ? outpost_tagset_ref(ts) : NULL;
}

void
rolling_table_prefetch(const struct rolling_table *t,
                       const outpost_record_t *rec)
{
    if (t->index_size > 0)
        __builtin_prefetch(&t->by_tags[tags_set(t, rec->tags)]);
}

struct rolling_entry *
rolling_table_get_rec(struct rolling_table *t, const outpost_record_t *rec,
                      int *retagged)
{
    struct rolling_entry *e;
    struct tags_hit *set;
    const char *name;

    if (retagged)
        *retagged = 0;
    if (t->index_size > 0) {
        set = &t->by_tags[tags_set(t, rec->tags)];
        for (int w = 0; w < TAGS_WAYS; w++)
            if (set[w].ts == rec->tags) {
                /* The caller reads the slot next: start loading both
                 * lines its head may straddle. */
                __builtin_prefetch(set[w].e, 1);
                __builtin_prefetch((char *) set[w].e + 64, 1);
                return set[w].e;
            }
    }
    name = outpost_record_tag(rec, "integration");
    if (name == NULL || (e = rolling_table_get(t, name, NULL)) == NULL)
        return NULL;
    if (e->tags != rec->tags) {
        if (retagged)
            *retagged = 1;
        if (e->tags) {                  /* keep the invariant */
            set = &t->by_tags[tags_set(t, e->tags)];
            for (int w = 0; w < TAGS_WAYS; w++)
                if (set[w].e == e)
                    set[w].ts = NULL;
        }
        set_tags(e, rec->tags);
    }
    /* The newest goes first, the oldest drops out of the set. */
    set = &t->by_tags[tags_set(t, rec->tags)];
    memmove(&set[1], &set[0], (TAGS_WAYS - 1) * sizeof(*set));
    set[0].ts = rec->tags;
    set[0].e = e;
    return e;
}

size_t
rolling_table_bytes(const struct rolling_table *t)
{
    size_t bytes = sizeof(*t) + t->capchunks * sizeof(char *)
                   + t->nchunks * CHUNK * t->stride
                   + t->index_size * (sizeof(uint32_t)
                                      + sizeof(struct tags_hit));

    for (size_t i = 0; i < t->count; i++)
        bytes += strlen(rolling_table_at(t, i)->name) + 1;
    return bytes;
}

/* --- state files ------------------------------------------------------- */

struct rolling_state {
    struct statefile      *sf;
    struct statefile_snap *snap;    /* being copied, or NULL */
    size_t                 next;    /* the next entry to copy */
};

static struct rolling_state *
state_wrap(struct statefile *sf)
{
    struct rolling_state *rs;

    if (sf == NULL)
        return NULL;
    if ((rs = calloc(1, sizeof(*rs))) == NULL) {
        statefile_close(sf, NULL);
        return NULL;
    }
    rs->sf = sf;
    return rs;
}

struct rolling_state *
rolling_state_open(outpost_instance_t *inst, const char *file,
                   uint32_t layout)
{
    return state_wrap(statefile_for(inst, file, layout));
}

struct rolling_state *
rolling_state_new(const char *dir, const char *file, const char *plugin,
                  uint32_t layout, const outpost_instance_t *inst)
{
    return state_wrap(statefile_new(dir, file, plugin, layout, inst));
}

struct statefile *
rolling_state_file(struct rolling_state *rs)
{
    return rs ? rs->sf : NULL;
}

struct load_ctx {
    struct rolling_table *t;
    int (*keep)(const char *, void *, void *);
    void *arg;
    void *slot;                     /* keep may change it: a copy */
};

static int
load_entry(const struct statefile_entry *se, void *arg)
{
    struct load_ctx *c = arg;
    struct rolling_entry *e;

    if (se->slot == NULL || se->slot_len != c->t->slot_size)
        return -1;
    memcpy(c->slot, se->slot, se->slot_len);
    if (c->keep && !c->keep(se->name, c->slot, c->arg))
        return 0;
    e = rolling_table_get(c->t, se->name, NULL);
    if (e == NULL)
        return -1;
    memcpy(rolling_slot(e), c->slot, c->t->slot_size);
    set_tags(e, se->tags);
    return 0;
}

static void
table_clear(struct rolling_table *t)
{
    for (size_t i = 0; i < t->count; i++) {
        struct rolling_entry *e = rolling_table_at(t, i);
        free(e->name);
        outpost_tagset_unref(e->tags);
    }
    t->count = 0;
    if (t->index) {
        memset(t->index, 0, t->index_size * sizeof(*t->index));
        memset(t->by_tags, 0, t->index_size * sizeof(*t->by_tags));
    }
}

long
rolling_state_load(struct rolling_state *rs, struct rolling_table *t,
                   int (*keep)(const char *name, void *slot, void *arg),
                   void *arg)
{
    struct load_ctx c = { t, keep, arg, malloc(t->slot_size) };
    struct statefile_reader r = { .entry = load_entry, .arg = &c };
    long n;

    if (rs == NULL || c.slot == NULL) {
        free(c.slot);
        return 0;
    }
    n = statefile_restore(rs->sf, &r);
    if (n < 0)
        table_clear(t);
    free(c.slot);
    return n;
}

/* Copies entries into rs->snap until the table is done or the slice's
 * time is up (budget_ns < 0: no limit). 1 when the snapshot is whole. */
static int
copy_slice(struct rolling_state *rs, const struct rolling_table *t,
           int64_t budget_ns)
{
    struct timespec ts;
    int64_t start = 0;

    if (budget_ns >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        start = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    /* Entries made since the save began are in it too. */
    statefile_snap_reserve(rs->snap, t->count - rs->next);
    while (rs->next < t->count) {
        struct rolling_entry *e = rolling_table_at(t, rs->next++);

        statefile_snap_slot(rs->snap, e->name, e->tags, rolling_slot(e),
                            t->slot_size);
        if (budget_ns >= 0 && rs->next % 16 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            if ((int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec - start
                >= budget_ns)
                break;
        }
    }
    return rs->next >= t->count;
}

int
rolling_state_tick(struct rolling_state *rs, const struct rolling_table *t,
                   int due)
{
    int started = 0;

    if (rs == NULL)
        return 0;
    if (rs->snap == NULL) {
        if (!due || (rs->snap = statefile_snap_new(rs->sf)) == NULL)
            return 0;
        rs->next = 0;
        started = 1;
    }
    if (copy_slice(rs, t, ROLLING_SAVE_SLICE_US * 1000LL)) {
        statefile_submit(rs->sf, rs->snap);
        rs->snap = NULL;
    }
    return started;
}

void
rolling_state_close(struct rolling_state *rs, const struct rolling_table *t)
{
    if (rs == NULL)
        return;
    /* A fresh, whole copy: the one under way may be old. */
    statefile_snap_free(rs->snap);
    rs->snap = t ? statefile_snap_new(rs->sf) : NULL;
    rs->next = 0;
    if (rs->snap)
        copy_slice(rs, t, -1);
    statefile_close(rs->sf, rs->snap);
    free(rs);
}

outpost_record_t *
rolling_entry_measurement(const struct rolling_entry *e, const char *name,
                          int64_t ns)
{
    outpost_tag_t tag = { "integration", e->name };
    outpost_tagset_t *ts;
    outpost_record_t *m;

    ts = e->tags ? outpost_tagset_ref(e->tags) : outpost_tagset_new(&tag, 1);
    if (ts == NULL)
        return NULL;
    m = outpost_measurement_new(name, ts, ns);
    outpost_tagset_unref(ts);
    return m;
}
