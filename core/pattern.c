/*
 * pattern.c - see outpost/pattern.h. The regex check walks the pattern as
 * regcomp will, counting group depth and the atoms each {n,m} expands to,
 * without recursion, so any input text is checked in linear time and
 * constant stack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/pattern.h>

/* p is at '['; returns the character after its closing ']' (or the end:
 * regcomp then reports the unbalanced bracket). */
static const char *
bracket_end(const char *p)
{
    p++;
    if (*p == '^')
        p++;
    if (*p == ']')
        p++;
    while (*p && *p != ']') {
        if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            char close[3] = { p[1], ']', '\0' };
            const char *e = strstr(p + 2, close);

            p = e ? e + 2 : p + strlen(p);
        } else {
            p++;
        }
    }
    return *p ? p + 1 : p;
}

/* p is at '{'. Reads "{n}", "{n,}", "{n,m}" or "{,m}": returns the character after
 * '}' and the largest count in *k, or NULL if it is no bound. */
static const char *
read_bound(const char *p, unsigned long *k)
{
    char *end;
    unsigned long n, m;

    if (p[1] == ',' && p[2] >= '0' && p[2] <= '9') {   /* glibc: {,m} */
        n = 0;
        end = (char *) p + 1;
    } else if (p[1] < '0' || p[1] > '9') {
        return NULL;
    } else {
        n = strtoul(p + 1, &end, 10);
    }
    m = n;
    if (*end == ',') {
        if (end[1] >= '0' && end[1] <= '9')
            m = strtoul(end + 1, &end, 10);
        else {
            m = n + 1;                       /* {n,}: n copies and a star */
            end++;
        }
    }
    if (*end != '}')
        return NULL;
    *k = n > m ? n : m;
    return end + 1;
}

int
outpost_regex_check(const char *re, char *err, size_t errlen)
{
    size_t sums[OUTPOST_REGEX_DEPTH + 1] = { 0 }, last = 0;
    const char *p = re, *next;
    unsigned long k;
    int depth = 0;

    if (strlen(re) > OUTPOST_PATTERN_MAX) {
        snprintf(err, errlen, "longer than %d bytes", OUTPOST_PATTERN_MAX);
        return -1;
    }
    while (*p) {
        switch (*p) {
        case '\\':
            if (p[1] >= '1' && p[1] <= '9') {
                snprintf(err, errlen, "back-reference \\%c: not supported "
                         "(matching one can take exponential time)", p[1]);
                return -1;
            }
            p += p[1] ? 2 : 1;
            last = 1;
            break;
        case '[':
            p = bracket_end(p);
            last = 1;
            break;
        case '(':
            if (depth == OUTPOST_REGEX_DEPTH) {
                snprintf(err, errlen, "groups nested deeper than %d",
                         OUTPOST_REGEX_DEPTH);
                return -1;
            }
            sums[++depth] = 0;
            p++;
            continue;
        case ')':
            p++;
            if (depth == 0) {
                last = 1;
                break;
            }
            last = sums[depth] ? sums[depth] : 1;
            depth--;
            break;
        case '{':
            next = read_bound(p, &k);
            if (next == NULL) {
                p++;
                last = 1;
                break;
            }
            if (k > OUTPOST_REGEX_REPEAT) {
                snprintf(err, errlen, "repeat count %lu is over %d", k,
                         OUTPOST_REGEX_REPEAT);
                return -1;
            }
            p = next;
            /* The atom before it (counted once already) k times over. */
            if (k > 1) {
                sums[depth] += last * (k - 1);
                last *= k;
            }
            goto check;
        case '*': case '+': case '?': case '|': case '^': case '$':
            p++;
            continue;
        default:
            p++;
            last = 1;
            break;
        }
        sums[depth] += last;
check:
        if (sums[depth] > OUTPOST_REGEX_EXPANDED) {
            snprintf(err, errlen, "expands to more than %d atoms (repeat "
                     "counts multiply)", OUTPOST_REGEX_EXPANDED);
            return -1;
        }
    }
    return 0;
}

int
outpost_regex_compile(regex_t *out, const char *re, int cflags, char *err,
                      size_t errlen)
{
    int rc;

    if (outpost_regex_check(re, err, errlen) != 0)
        return -1;
    rc = regcomp(out, re, cflags);
    if (rc != 0) {
        regerror(rc, out, err, errlen);
        regfree(out);
        return -1;
    }
    return 0;
}

int
outpost_glob_check(const char *glob, char *err, size_t errlen)
{
    int stars = 0;

    if (strlen(glob) > OUTPOST_PATTERN_MAX) {
        snprintf(err, errlen, "longer than %d bytes", OUTPOST_PATTERN_MAX);
        return -1;
    }
    for (const char *p = glob; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == '*') {
            while (p[1] == '*')
                p++;
            stars++;
        }
    }
    if (stars > OUTPOST_GLOB_STARS) {
        snprintf(err, errlen, "more than %d '*'", OUTPOST_GLOB_STARS);
        return -1;
    }
    return 0;
}
