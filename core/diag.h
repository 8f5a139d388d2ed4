/*
 * diag.h - a list of problems found while loading plugins and config, each
 * already formatted as "FILE:LINE: message" so `outpostd -t` prints them as
 * they are and every caller reports all problems, not just the first.
 * Warnings ("FILE:LINE: warning: message") are kept apart: they do not
 * make a config invalid (an option the chosen provider ignores).
 */
#ifndef OUTPOST_DIAG_H
#define OUTPOST_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct diag {
    char   **msgs;      /* problems */
    size_t   n;
    size_t   cap;
    char   **warns;     /* warnings */
    size_t   nwarns;
    size_t   capwarns;
};

/* file may be NULL (no location); line <= 0 prints "FILE: message". */
void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_warn(struct diag *d, const char *file, int line, const char *fmt,
               ...) __attribute__((format(printf, 4, 5)));
/* Problems, then warnings, one a line. */
void diag_print(const struct diag *d, FILE *out);
void diag_free(struct diag *d);

#endif
