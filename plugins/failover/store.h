/*
 * store.h - failover groups as JSON: the reply to control("status") and
 * the state file (one format for both, so what the API shows is exactly
 * what a restart restores).
 *
 * Written as text straight into a buffer rather than built from jansson
 * objects: the state file is saved from tick, under the pipeline lock,
 * and a fleet of thousands of groups would otherwise cost a hundred
 * thousand allocations per save. Reading it back (once, at start) uses
 * jansson.
 */
#ifndef OUTPOST_FAILOVER_STORE_H
#define OUTPOST_FAILOVER_STORE_H

#include <jansson.h>
#include "group.h"

/* A growable text buffer; failed is set once memory ran out. */
struct fo_text {
    char   *s;
    size_t  len, cap;
    int     failed;
};

void fo_text_printf(struct fo_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends {"group":..,"strategy":..,"active":..|null,"previous":..|null,
 * "since_ns":..,"reason":..,"decided":..,"members":[{...}]}. */
void fo_group_write(struct fo_text *t, const struct fo_params *p,
                    const struct fo_group *g);
/* A group from fo_group_write's shape; NULL when o is not one. */
struct fo_group *fo_group_from_json(const json_t *o);

#endif
