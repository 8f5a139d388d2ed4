/*
 * diag.c - collected "FILE:LINE: message" problems and warnings.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include "diag.h"

static void
add(char ***v, size_t *n, size_t *cap, const char *file, int line,
    const char *kind, const char *fmt, va_list ap)
{
    char msg[1024], *full;
    int len;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (file && line > 0)
        len = asprintf(&full, "%s:%d: %s%s", file, line, kind, msg);
    else if (file)
        len = asprintf(&full, "%s: %s%s", file, kind, msg);
    else
        len = asprintf(&full, "%s%s", kind, msg);
    if (len < 0)
        return;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        char **m = realloc(*v, c * sizeof(*m));

        if (m == NULL) {
            free(full);
            return;
        }
        *v = m;
        *cap = c;
    }
    (*v)[(*n)++] = full;
}

void
diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    add(&d->msgs, &d->n, &d->cap, file, line, "", fmt, ap);
    va_end(ap);
}

void
diag_warn(struct diag *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    add(&d->warns, &d->nwarns, &d->capwarns, file, line, "warning: ", fmt,
        ap);
    va_end(ap);
}

void
diag_print(const struct diag *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(out, "%s\n", d->msgs[i]);
    for (size_t i = 0; i < d->nwarns; i++)
        fprintf(out, "%s\n", d->warns[i]);
}

void
diag_free(struct diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i]);
    for (size_t i = 0; i < d->nwarns; i++)
        free(d->warns[i]);
    free(d->msgs);
    free(d->warns);
    d->msgs = d->warns = NULL;
    d->n = d->cap = d->nwarns = d->capwarns = 0;
}
