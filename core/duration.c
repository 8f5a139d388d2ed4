/*
 * duration.c - human durations. Written here because none of our libraries
 * parses "1h30m"; libconfuse only hands us the string.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/plugin.h>
#include "duration.h"

static const struct {
    const char *suffix;
    int64_t     ms;
} units[] = {
    { "ms", 1 },
    { "s",  1000 },
    { "m",  60 * 1000 },
    { "h",  3600 * 1000 },
    { "d",  86400 * 1000LL },
    { "w",  7 * 86400 * 1000LL },
};

static int
unit_ms(const char **p, int64_t *ms)
{
    size_t best = 0;

    /* Longest match first, so "ms" is not read as "m" followed by "s". */
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t len = strlen(units[i].suffix);
        if (len > best && strncmp(*p, units[i].suffix, len) == 0) {
            best = len;
            *ms = units[i].ms;
        }
    }
    if (best == 0)
        return -1;
    *p += best;
    return 0;
}

int
duration_parse(const char *s, int64_t *out)
{
    const char *p = s;
    int64_t total = 0;
    int parts = 0;

    if (s == NULL)
        return -1;
    while (isspace((unsigned char) *p))
        p++;
    while (*p && !isspace((unsigned char) *p)) {
        char *end;
        double v;
        int64_t unit = 1000;  /* a bare number is seconds */

        if (!isdigit((unsigned char) *p) && *p != '.')
            return -1;
        errno = 0;
        v = strtod(p, &end);
        if (end == p || errno != 0 || v < 0)
            return -1;
        p = end;
        if (*p && !isspace((unsigned char) *p) && unit_ms(&p, &unit) != 0)
            return -1;
        if (v * (double) unit > 9.2e18 - (double) total)
            return -1;
        total += (int64_t) (v * (double) unit + 0.5);
        parts++;
    }
    while (isspace((unsigned char) *p))
        p++;
    if (parts == 0 || *p != '\0')
        return -1;
    *out = total;
    return 0;
}

void
duration_format(int64_t ms, char *buf, size_t len)
{
    for (size_t i = sizeof(units) / sizeof(units[0]); i-- > 0;) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(buf, len, "%lld%s", (long long) (ms / units[i].ms),
                     units[i].suffix);
            return;
        }
    }
    snprintf(buf, len, "%lldms", (long long) ms);
}

int
outpost_duration_parse(const char *s, int64_t *ms)
{
    return duration_parse(s, ms);
}
