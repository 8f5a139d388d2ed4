/*
 * options_internal.h - private to options.c and options_table.c: the
 * helpers that both use. The options module's interface is options.h.
 */
#ifndef OUTPOST_OPTIONS_INTERNAL_H
#define OUTPOST_OPTIONS_INTERNAL_H

#include <stddef.h>
#include <outpost/plugin.h>

static inline int
option_is_list(const outpost_option_t *o)
{
    return o->type == OUTPOST_OPT_STRLIST || o->type == OUTPOST_OPT_INTLIST;
}

/* A bound of o (min or max) as config text, e.g. "365d" (options.c). */
void option_bound_text(const outpost_option_t *o, double v, char *buf,
                       size_t len);

/* "key=value" or "key=glob" for the common list options of such pairs
 * (tags, match); NULL for any other option (options_table.c). */
const char *option_pair_form(const outpost_option_t *o);

#endif
