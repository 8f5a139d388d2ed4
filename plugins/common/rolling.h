/*
 * rolling.h - fixed-size rolling state shared by the decision filters
 * (health, circuit_breaker, sla, alert, and whoever else wants it):
 *
 *   0. field lookups by interned key (no string compares);
 *   1. rings of time buckets: the last n buckets of a series, moved
 *      forward by time, never by allocation;
 *   2. log-scale latency histograms small enough to keep one per bucket;
 *   3. a ring of the last N pass/fail outcomes (count-based windows);
 *   4. a table from integration name to a fixed-size slot, O(1), which
 *      can be saved to a state file (statefile.h) and restored from it;
 *   5. the few things every filter does with such a table.
 *
 * It is not a library the core exports: a filter links the static
 * library outpost_common (`outpost_plugin(x SOURCES x.c LIBS
 * outpost_common)`), so every module has its own copy with hidden
 * visibility.
 *
 * Nothing here takes a lock. Filters call it from process and tick, which
 * the core already serializes (plugin.h, lifetime rule 4); only the
 * state file's writer thread runs beside them, on copies.
 */
#ifndef OUTPOST_ROLLING_H
#define OUTPOST_ROLLING_H

#include <stddef.h>
#include <stdint.h>
#include <outpost/plugin.h>
#include "statefile.h"

#define ROLLING_LEN(a)  (sizeof(a) / sizeof((a)[0]))

/* --- 1. rings of time buckets ----------------------------------------- */

/*
 * A ring keeps the last n buckets of a series. Bucket k covers the time
 * [k * width, (k + 1) * width); k is the "absolute index" (time / width).
 * The caller owns the slots (an array of n elements of any plain type)
 * and an int64_t head: the absolute index of the newest bucket, 0 while
 * the ring is empty. Invariant: slot (k % n) holds bucket k for every k
 * in (head - n, head]; everything older has been zeroed away.
 */

/* Moves the ring forward to bucket idx, zeroing the slots of every bucket
 * it skips (a long silence clears the whole ring at once). Returns the
 * slot for idx, or NULL when idx is older than the ring holds (a record
 * that arrived too late to count). *advanced (may be NULL) tells whether
 * the head moved, i.e. whether a bucket fell out of the windows the
 * caller sums over the ring. */
static inline void *rolling_ring_touch(void *slots, size_t slot_size,
                                       uint32_t n, int64_t *head,
                                       int64_t idx, int *advanced);

/* The slot of bucket idx when the ring holds it, else NULL (never
 * written, or already rotated away). Inline, like rolling_ring_touch, so
 * that a ring length known at the call becomes a constant: a division by
 * a variable costs more than the rest of adding a result. */
static inline void *
rolling_ring_at(void *slots, size_t slot_size, uint32_t n, int64_t head,
                int64_t idx)
{
    if (idx > head || idx <= head - n || idx < 0)
        return NULL;
    return (char *) slots + (size_t) (idx % n) * slot_size;
}

/* rolling_ring_touch's slow path: moves the head forward to idx (which is
 * past it), zeroing the slots of the buckets in between. */
void rolling_ring_advance(void *slots, size_t slot_size, uint32_t n,
                          int64_t *head, int64_t idx);

static inline void *
rolling_ring_touch(void *slots, size_t slot_size, uint32_t n, int64_t *head,
                   int64_t idx, int *advanced)
{
    int moved = idx > *head;

    if (moved)
        rolling_ring_advance(slots, slot_size, n, head, idx);
    if (advanced)
        *advanced = moved;
    return rolling_ring_at(slots, slot_size, n, *head, idx);
}

#define ROLLING_TOUCH(arr, head, idx, adv) \
    rolling_ring_touch((arr), sizeof((arr)[0]), ROLLING_LEN(arr), \
                       (head), (idx), (adv))
#define ROLLING_AT(arr, head, idx) \
    rolling_ring_at((void *) (arr), sizeof((arr)[0]), ROLLING_LEN(arr), \
                    (head), (idx))

/* The absolute index of the bucket that holds time ns. */
static inline int64_t
rolling_index(int64_t ns, int64_t width_ns)
{
    return ns >= 0 ? ns / width_ns : 0;
}

/*
 * Counts in buckets are uint16_t to keep a month of buckets in a few KB.
 * A bucket is "full" once its check count reaches
 * ROLLING_U16_FULL: later samples of that bucket are not counted at all
 * (not in any of its counters), so the ratios it gives stay right. With
 * one check a second, an hourly bucket holds 3,600 and a 6-hour bucket
 * 21,600 checks, well under the limit.
 */
#define ROLLING_U16_FULL UINT16_MAX

/* --- 2. latency histograms -------------------------------------------- */

/*
 * ROLLING_HIST_BINS log-scale bins, three per doubling: bin 0 holds
 * [0, 1) ms, bin b >= 1 holds [2^((b-1)/3), 2^(b/3)) ms, and the last bin
 * everything from about 41 s up. A quantile is read by interpolating
 * inside its bin: typically within 5-10% of the true value, at worst a
 * bin (26%) off when the samples bunch at one edge of it.
 */
#define ROLLING_HIST_BINS 48

unsigned rolling_hist_bin(double ms);
/* The q-quantile (0 < q <= 1) of the samples counted in bins; 0 when
 * there are none. */
double   rolling_hist_quantile(const uint32_t *bins, double q);
/* Several at once, in one walk over the bins: qs must ascend. */
void     rolling_hist_quantiles(const uint32_t *bins, const double *qs,
                                double *out, unsigned nq);
/* The same when the caller keeps the count of samples in bins (their
 * sum), saving a walk over the bins. */
void     rolling_hist_quantiles_n(const uint32_t *bins, uint64_t total,
                                  const double *qs, double *out,
                                  unsigned nq);

/* --- 3. the last N outcomes ------------------------------------------- */

#define ROLLING_BITS_MAX 1024

/* A count-based window: a ring of the last `size` outcomes (1 = a
 * failure, say) with a running count of the ones, so the rate is O(1). */
struct rolling_bits {
    uint16_t size;                             /* window (<= MAX) */
    uint16_t next;                             /* where the next goes */
    uint16_t count;                            /* outcomes held */
    uint16_t ones;                             /* of which set */
    uint64_t word[ROLLING_BITS_MAX / 64];
};

void rolling_bits_init(struct rolling_bits *b, unsigned size);
void rolling_bits_push(struct rolling_bits *b, int one);

/* --- 4. the per-integration table --------------------------------------- */

/*
 * Maps an integration name to an entry: the name, the tags of its latest
 * record and a slot of slot_size bytes that belongs to the caller. This
 * is the one family of per-integration tables: every filter that keeps
 * state per integration keeps it here (health, circuit_breaker and sla
 * save it with rolling_state_*, alert with its own JSON). Keyed state
 * that is not per integration (alerts by dedup key, failover groups by
 * group name) goes in strmap.h's map.
 *
 * Lifetime rules:
 *  1. Entries are never moved or removed while the table lives, so an
 *     entry pointer (and its slot) stays valid until rolling_table_free().
 *  2. A new slot is zeroed. The table frees only what it owns, the names
 *     and its references to tag sets, never anything a slot points to:
 *     the owner frees that, e.g. walking rolling_table_at() over
 *     [0, rolling_table_count()) before rolling_table_free().
 *  3. A table saved with rolling_state_tick/close has its slots written
 *     byte for byte, so their type must be plain data (no pointers). A
 *     slot with pointers is allowed when the owner saves the table
 *     itself (as alert does, in its own statefile.h entries).
 */
struct rolling_table;

struct rolling_entry {
    char             *name;        /* owned by the table */
    outpost_tagset_t *tags;        /* latest record's, referenced, or NULL:
                                      events raised in tick carry them */
    uint64_t          hash;
    /* slot_size bytes of the caller's state follow, 16-byte aligned */
} __attribute__((aligned(16)));

static inline void *
rolling_slot(struct rolling_entry *e)
{
    return e + 1;
}

struct rolling_table *rolling_table_new(size_t slot_size);
void   rolling_table_free(struct rolling_table *t);

/* The entry for name; created (slot zeroed, *created set) when new.
 * NULL only when memory ran out. */
struct rolling_entry *rolling_table_get(struct rolling_table *t,
                                        const char *name, int *created);
/* The entry of the integration rec belongs to (its "integration" tag),
 * created when new, with rec's tags remembered (rolling_entry.tags).
 * NULL when rec has no such tag or memory ran out. Records that share a
 * tag set with the entry's latest record (every record of one input
 * instance does) are found by the tag set's address: no tag scan, no
 * string hashing. *retagged (may be NULL) is set when rec's tags are new
 * to the entry (a new entry, or other tags): the time to re-read what
 * the caller derives from tags, such as the tier. */
struct rolling_entry *rolling_table_get_rec(struct rolling_table *t,
                                            const outpost_record_t *rec,
                                            int *retagged);
/* Starts loading what rolling_table_get_rec(t, rec) reads first, so the
 * caller can read rec's fields meanwhile. */
void rolling_table_prefetch(const struct rolling_table *t,
                            const outpost_record_t *rec);
/* NULL when name has no entry. */
struct rolling_entry *rolling_table_find(const struct rolling_table *t,
                                         const char *name);
size_t rolling_table_count(const struct rolling_table *t);
/* Entries in the order they were created: for i in [0, count). */
struct rolling_entry *rolling_table_at(const struct rolling_table *t,
                                       size_t i);
/* Heap bytes the table holds (entries, names, index), for operators and
 * benchmarks. */
size_t rolling_table_bytes(const struct rolling_table *t);

/*
 * State files (for tables of plain-data slots, rule 3 above): the table
 * is saved in statefile.h's format, one entry per integration with its
 * tags and its slot, the slot's layout numbered by the caller (a new
 * number when the slot struct changes: files of another layout are
 * refused, the filter starts afresh).
 *
 * Saving copies the table under the pipeline lock and writes it on the
 * state file's writer thread. The copy is taken a slice at a time, at
 * most ROLLING_SAVE_SLICE_US of copying per call, so that a save of
 * 10,000 integrations with kilobytes of windows each delays no check:
 * every entry is copied whole, the entries of one file may be some
 * seconds apart (each integration's state stands alone). The copy costs
 * as much memory as the slots, until the writer has written it.
 */
#define ROLLING_SAVE_SLICE_US 1000

struct rolling_state;

/* The state file `file` of inst, slots of layout `layout`. NULL (logged)
 * when there is no state directory; the functions below take NULL and do
 * nothing. */
struct rolling_state *rolling_state_open(outpost_instance_t *inst,
                                         const char *file, uint32_t layout);
/* The same on any directory, for tests and tools (inst may be NULL). */
struct rolling_state *rolling_state_new(const char *dir, const char *file,
                                        const char *plugin, uint32_t layout,
                                        const outpost_instance_t *inst);

/* Fills the empty table t from the file, logging how many integrations
 * came back or why none did. keep (may be NULL) sees every entry read
 * and returns 0 to drop it (e.g. not seen for months). A file that
 * cannot be read leaves t empty. Returns what statefile_load does. */
long rolling_state_load(struct rolling_state *rs, struct rolling_table *t,
                        int (*keep)(const char *name, void *slot, void *arg),
                        void *arg);

/* From tick. due: the caller's save interval has passed; a save then
 * starts unless one is still being copied. A save under way copies its
 * next slice, and is handed to the writer once complete. Returns 1 when
 * a save started. */
int  rolling_state_tick(struct rolling_state *rs,
                        const struct rolling_table *t, int due);
/* Saves t whole (on this thread, waiting for the disk) and frees rs: for
 * shutdown. t NULL: saves only a snapshot still waiting for the writer. */
void rolling_state_close(struct rolling_state *rs,
                         const struct rolling_table *t);
/* The state file behind rs (statefile_wait, statefile_counts). */
struct statefile *rolling_state_file(struct rolling_state *rs);

/* A measurement named name, stamped ns, with e's latest tags (or just
 * its integration tag): the cause of an event raised in tick, when no
 * check is at hand. The caller owns it; NULL on ENOMEM. */
outpost_record_t *rolling_entry_measurement(const struct rolling_entry *e,
                                            const char *name, int64_t ns);

#endif /* OUTPOST_ROLLING_H */
