/*
 * http.h - private side of the shared HTTP client (include/outpost/http.h).
 */
#ifndef OUTPOST_HTTP_INTERNAL_H
#define OUTPOST_HTTP_INTERNAL_H

#include "loop.h"

/* Creates the one multi handle, driven by l. 0 / -1. */
int  http_client_start(struct loop *l);
/* Aborts every transfer still running and frees the multi handle. Must be
 * called before the loop stops. */
void http_client_stop(void);

#endif
