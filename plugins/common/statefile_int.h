/*
 * statefile_int.h - what statefile.c and statefile_load.c share: the
 * statefile itself. Not for plugins.
 */
#ifndef OUTPOST_STATEFILE_INT_H
#define OUTPOST_STATEFILE_INT_H

#include <pthread.h>
#include "statefile.h"

struct statefile {
    const outpost_instance_t *inst;     /* for logging; may be NULL */
    char                     *path;
    char                     *plugin;
    uint32_t                  layout;

    pthread_mutex_t           lock;     /* everything below */
    pthread_cond_t            wake;     /* the writer: work or stop */
    pthread_cond_t            idle;     /* statefile_wait */
    pthread_t                 thread;
    int                       started, stopping, busy;
    struct statefile_snap    *pending;
    struct statefile_snap    *discard;  /* replaced: the writer frees them */
    struct statefile_snap    *spare;    /* written, emptied: reused */
    uint64_t                  written, superseded;
};

#endif
