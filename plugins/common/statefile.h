/*
 * statefile.h - the one on-disk format of filter state, and the one way
 * to save and load it. health, circuit_breaker, sla (through rolling.h),
 * alert and failover all use it.
 *
 * The format (outpost_state 2). A state file is JSON lines: UTF-8 text,
 * one JSON object per line, so `jq . health.state` reads it.
 *
 *   line 1, the envelope:
 *     {"outpost_state":2,"plugin":"health","layout":1,
 *      "saved_at":1733580000000000000,"entries":2,"global":{...}}
 *       outpost_state  this format's version
 *       plugin         the plugin that wrote it; another plugin's file
 *                      is refused
 *       layout         the plugin's own version of what an entry holds;
 *                      a file of another layout is refused, and the
 *                      filter starts afresh
 *       saved_at       wall-clock ns when the snapshot was taken
 *       entries        how many entry lines follow; fewer is a truncated
 *                      file, which is refused
 *       global         (optional) state that belongs to no integration,
 *                      such as the alert filter's silences
 *   then one line per integration (or failover group):
 *     {"name":"stripe","tags":{"integration":"stripe",...},"slot":"..."}
 *     {"name":"crm","state":{...}}
 *       name   the key
 *       tags   (optional) the tags of its latest record
 *       slot   a fixed-size block of plain data (a rolling.h table's
 *              slot) in base64, in native byte order: state never leaves
 *              the host, and the layout number changes with the block
 *       state  any JSON value (alert, failover)
 *
 * Files of the previous formats still load, and the next save replaces
 * them: the rolling tables' binary files (magic "OPROLL01": a header
 * with layout and slot size, then name, tags, slot per entry) are read
 * as entries with slots; a JSON document of the alert and failover
 * filters (one object, no "outpost_state") goes to the reader's legacy
 * callback, or is discarded with a warning when it has none.
 *
 * Saving never makes the caller wait for the disk. A snapshot is built
 * by the caller (a filter, in tick, under the pipeline lock: it copies
 * bytes and takes references, nothing more) and handed to the file's
 * writer thread, which encodes it, writes path.tmp, fsyncs it and
 * renames it over path: a crash leaves the old file or the new one.
 * A snapshot handed over while an older one still waits replaces it (the
 * older one is never written). statefile_close writes the last one on
 * the caller's thread, after the writer thread has finished, so nothing
 * is lost at exit.
 *
 * Lifetime rules:
 *  1. statefile_for/statefile_new at init, statefile_close at shutdown
 *     (it frees the statefile); both on the thread that runs them.
 *  2. A snapshot belongs to its builder until statefile_submit or
 *     statefile_close takes it; then it is the statefile's.
 *  3. Everything but the writer thread runs on the caller's thread, and
 *     one statefile is used by one filter instance: the core serializes
 *     its callbacks (plugin.h). The writer thread touches only the
 *     snapshots handed to it and the file.
 */
#ifndef OUTPOST_STATEFILE_H
#define OUTPOST_STATEFILE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <outpost/plugin.h>

#define STATEFILE_FORMAT 2

struct statefile;
struct statefile_snap;

/* The state file `file` in the instance's state directory, written as
 * plugin `outpost_instance_plugin(inst)` with the given layout. NULL
 * (logged) when there is no state directory: every function below takes
 * NULL and does nothing, so a filter keeps working without state. */
struct statefile *statefile_for(outpost_instance_t *inst, const char *file,
                                uint32_t layout);
/* The same for any directory; inst (may be NULL) is where problems are
 * logged. NULL when memory ran out. */
struct statefile *statefile_new(const char *dir, const char *file,
                                const char *plugin, uint32_t layout,
                                const outpost_instance_t *inst);
const char *statefile_path(const struct statefile *sf);

/* --- saving ------------------------------------------------------------ */

/* An empty snapshot stamped outpost_time_now(). NULL when sf is NULL or
 * memory ran out. It reuses the memory of the last snapshot written
 * (the statefile keeps it: a save allocates nothing once the table
 * stopped growing, at the price of that memory held between saves). */
struct statefile_snap *statefile_snap_new(struct statefile *sf);
/* Room for n more entries, so that adding them moves nothing: a builder
 * that knows its count calls it first. (Names and slots go into 1 MB
 * chunks, which never move.) */
void statefile_snap_reserve(struct statefile_snap *s, size_t n);
/* One entry with a slot of len bytes (copied) and tags (referenced; may
 * be NULL). */
void statefile_snap_slot(struct statefile_snap *s, const char *name,
                         outpost_tagset_t *tags, const void *slot,
                         size_t len);
/* One entry whose state is a JSON value (the snapshot takes the
 * reference: build it from copies, never share it with live state). */
void statefile_snap_json(struct statefile_snap *s, const char *name,
                         outpost_tagset_t *tags, json_t *state);
/* One entry whose state is JSON already written as text (len bytes,
 * copied); the caller promises it is one valid JSON value. */
void statefile_snap_text(struct statefile_snap *s, const char *name,
                         const char *text, size_t len);
/* The envelope's "global" (reference taken). */
void statefile_snap_global(struct statefile_snap *s, json_t *global);
size_t statefile_snap_count(const struct statefile_snap *s);
void statefile_snap_free(struct statefile_snap *s);

/* Hands s to the writer thread (started on first use) and returns at
 * once. s replaces a snapshot that still waits. A snapshot whose
 * building ran out of memory is dropped with a warning. */
void statefile_submit(struct statefile *sf, struct statefile_snap *s);
/* Waits until the writer has nothing left to do (for tests and tools). */
void statefile_wait(struct statefile *sf);
/* Stops the writer thread and frees sf. last (may be NULL) is written
 * on the caller's thread; without it, a snapshot that still waited is.
 * 0, or -1 when that write failed (logged). */
int  statefile_close(struct statefile *sf, struct statefile_snap *last);
/* Writes s to path at once on the caller's thread (statefile_close and
 * tests). 0, or -1 with errno. s stays the caller's. */
int  statefile_write(const struct statefile_snap *s, const char *path);

/* Counters, for tests and benches: snapshots written, and replaced
 * before they were. */
void statefile_counts(struct statefile *sf, uint64_t *written,
                      uint64_t *superseded);

/* --- loading ----------------------------------------------------------- */

/* One entry as read. Everything is borrowed for the call. */
struct statefile_entry {
    const char       *name;
    outpost_tagset_t *tags;       /* NULL: none saved; ref to keep */
    const void       *slot;       /* slot entries, else NULL */
    size_t            slot_len;
    const json_t     *state;      /* state entries, else NULL */
};

struct statefile_reader {
    /* Every entry, in file order. 0 to go on, -1 when the entry makes no
     * sense (a slot of the wrong size...): the file is then refused. */
    int  (*entry)(const struct statefile_entry *e, void *arg);
    /* Optional: the envelope's "global", when there is one. */
    void (*global)(const json_t *global, void *arg);
    /* Optional: a version 1 JSON document (the whole file). */
    int  (*legacy)(const json_t *doc, void *arg);
    void *arg;
    /* Read the whole file once before delivering anything, so that a
     * refused file delivers nothing (for callers that cannot undo what
     * entry did; the others undo it when statefile_load fails). */
    int   check_first;
};

/* Reads sf's file. The number of entries delivered (a legacy document
 * counts as 1), 0 when there is no file, or -1 when it is unreadable,
 * corrupt, truncated, another plugin's or of another layout: then err
 * says why, and entries may have been delivered (unless check_first). */
long statefile_load(const struct statefile *sf,
                    const struct statefile_reader *r, char *err,
                    size_t errlen);
/* The same, logging through the statefile's instance: how many entries
 * came back, or (a warning) why none did and that the filter starts
 * afresh. */
long statefile_restore(const struct statefile *sf,
                       const struct statefile_reader *r);

#endif
