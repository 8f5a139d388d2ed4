/*
 * testnotify.h - `outpostd --test-notify OUTPUT`: one test message through
 * one configured notifier.
 */
#ifndef OUTPOST_TESTNOTIFY_H
#define OUTPOST_TESTNOTIFY_H

#include "config.h"

/* Sends a test event through the notifier section s of cf and waits for
 * the service's answer (retries on 5xx and 429 included) for at most the
 * output's timeout. Prints the outcome on stderr. Exit status: 0 when
 * the service accepted it, 1 otherwise. Takes s->conf. */
int testnotify_run(struct config *cf, struct section *s);

#endif
