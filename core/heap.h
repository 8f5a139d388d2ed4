/*
 * heap.h - the process's malloc settings (heap.c says why).
 */
#ifndef OUTPOST_HEAP_H
#define OUTPOST_HEAP_H

/* Sets them; call once, first thing in main(), before any thread. */
void heap_tune(void);

#endif
