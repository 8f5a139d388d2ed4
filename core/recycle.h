/*
 * recycle.h - blocks of one size handed back and forth between threads
 * without the allocator's locks: records are made on one thread (the loop,
 * a probe, the pipeline) and freed on another (an output's worker), which
 * is the pattern malloc handles worst (recycle.c says why and how much).
 *
 * Rules:
 *  1. A class is a static struct recycle made with RECYCLE_INIT(size,
 *     bytes): blocks of `size` bytes, of which its depot keeps at most
 *     about `bytes` worth; the rest go back to free(). Classes live as
 *     long as the process.
 *  2. recycle_get() returns a block of the class's size (uninitialised) or
 *     NULL when malloc fails; recycle_put() takes it back. A block is a
 *     plain malloc() block: free() and realloc() may take it instead of
 *     recycle_put(), but recycle_put() must only ever see blocks of its
 *     own class's size (from recycle_get() or malloc(size)).
 *  3. Any thread may get and put; what a thread holds when it exits goes
 *     back to the depot (or to free()).
 */
#ifndef OUTPOST_RECYCLE_H
#define OUTPOST_RECYCLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

struct recycle_mag;

struct recycle {
    size_t               size;          /* of each block */
    size_t               keep;          /* full magazines the depot keeps */
    pthread_mutex_t      mu;            /* guards the lists below */
    struct recycle_mag  *full;          /* magazines of blocks */
    struct recycle_mag  *empty;         /* magazines without blocks */
    size_t               nfull, nempty;
    _Atomic int          slot;          /* in each thread's table, from 1 */
};

#define RECYCLE_INIT(sz, bytes) { .size = (sz),                           \
    .keep = (bytes) / ((sz) * RECYCLE_MAG) + 1,                           \
    .mu = PTHREAD_MUTEX_INITIALIZER }

/* Blocks a magazine holds: a thread takes the depot's lock once per this
 * many gets or puts. */
#define RECYCLE_MAG 64

void *recycle_get(struct recycle *c);
void  recycle_put(struct recycle *c, void *block);

#endif
