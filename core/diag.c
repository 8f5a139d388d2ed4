/*
 * diag.c - collected "FILE:LINE: message" problems.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include "diag.h"

void
diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
    char msg[1024], *full;
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (file && line > 0)
        n = asprintf(&full, "%s:%d: %s", file, line, msg);
    else if (file)
        n = asprintf(&full, "%s: %s", file, msg);
    else
        n = asprintf(&full, "%s", msg);
    if (n < 0)
        return;

    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **m = realloc(d->msgs, cap * sizeof(*m));
        if (m == NULL) {
            free(full);
            return;
        }
        d->msgs = m;
        d->cap = cap;
    }
    d->msgs[d->n++] = full;
}

void
diag_print(const struct diag *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(out, "%s\n", d->msgs[i]);
}

void
diag_free(struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i]);
    free(d->msgs);
    d->msgs = NULL;
    d->n = d->cap = 0;
}
