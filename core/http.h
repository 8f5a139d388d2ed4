/*
 * http.h - private side of the shared HTTP client (include/outpost/http.h).
 */
#ifndef OUTPOST_HTTP_INTERNAL_H
#define OUTPOST_HTTP_INTERNAL_H

#include <stdint.h>
#include "loop.h"

/* Creates the one multi handle, driven by l. 0 / -1. */
int  http_client_start(struct loop *l);
/* Aborts every transfer still running and frees the multi handle. Must be
 * called before the loop stops. */
void http_client_stop(void);

/* The deadline (monotonic ms; 0: none) for outpost_http_perform() calls
 * made on this thread: the output worker sets it around write to the end
 * of the output's timeout. */
void http_set_thread_deadline(int64_t deadline_ms);

#endif
