/*
 * deadletter.h - the records an output's backend refused for good, kept in
 * one file per output so that an operator can read them and queue them
 * again (`outpostd --dead-letters OUTPUT`, `outpostd --requeue OUTPUT`).
 *
 * Threads: a dead-letter file is appended to by its output's thread only;
 * the commands run in another process. Each append opens and closes the
 * file, so a rename by --requeue never loses an entry.
 */
#ifndef OUTPOST_DEADLETTER_H
#define OUTPOST_DEADLETTER_H

#include <stdint.h>
#include <stdio.h>
#include <outpost/record.h>

/* "<state_dir>/deadletter/<plugin>.<instance>", malloc'ed; NULL when
 * state_dir is NULL or memory ran out. */
char *deadletter_path(const char *state_dir, const char *plugin,
                      const char *instance);

/* Appends rec with its reason and time (wall clock, ns) unless the file
 * would then exceed limit bytes. 0 when kept; 1 when the file is full;
 * -1 on an I/O error (errno set). Creates the directory if needed. */
int deadletter_append(const char *path, uint64_t limit,
                      const outpost_record_t *rec, const char *why,
                      int64_t time_ns);

/* Calls fn for every entry of the file at path, oldest first, until fn
 * returns non-zero. rec is borrowed for the call. Returns the number of
 * entries read, or -1 when the file cannot be read (errno set; ENOENT:
 * no dead letters). A damaged tail stops the walk; *damaged is then set
 * (if not NULL). */
typedef int (*deadletter_fn)(const outpost_record_t *rec, const char *why,
                             int64_t time_ns, void *arg);
long deadletter_walk(const char *path, deadletter_fn fn, void *arg,
                     int *damaged);

/* Prints every entry as one JSON line {"time","reason","record"}; the
 * number printed, or -1 (errno set). */
long deadletter_print(const char *path, FILE *out);

/* --requeue: moves the dead letters at path behind whatever already waits
 * in path.requeue, and empties path. The number moved, or -1. */
long deadletter_requeue(const char *path);

/* The file an output reads its requeued records from at start:
 * "<path>.requeue", malloc'ed. */
char *deadletter_requeue_path(const char *path);

#endif
