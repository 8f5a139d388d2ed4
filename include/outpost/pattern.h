/*
 * outpost/pattern.h - bounded checks for patterns an operator writes in the
 * config: POSIX extended regular expressions, and fnmatch globs.
 *
 * regcomp recurses and expands without limit: a regex of 30,000 nested
 * groups overflows the stack in regcomp, and `((a{255}){255}){255}` expands
 * to 16 million nodes; fnmatch copies its pattern onto the stack. Every
 * pattern from the config goes through these checks before it is compiled
 * or matched, so a bad one is refused at `outpostd -t` (and on reload)
 * instead of crashing or stalling the agent. They are pure and run on any
 * thread.
 */
#ifndef OUTPOST_PATTERN_H
#define OUTPOST_PATTERN_H

#include <regex.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OUTPOST_PATTERN_MAX     1024  /* bytes of a regex or glob */
#define OUTPOST_REGEX_DEPTH     32    /* nested groups */
#define OUTPOST_REGEX_REPEAT    255   /* largest bound of {n,m} */
#define OUTPOST_REGEX_EXPANDED  20000 /* atoms once {n,m} are expanded */
#define OUTPOST_GLOB_STARS      16    /* runs of '*' in one glob */

/* 0 when re is within the bounds above (and has no back-reference, which
 * costs exponential time to match); else -1 with the reason in err. It
 * does not compile: see outpost_regex_compile. */
int outpost_regex_check(const char *re, char *err, size_t errlen);

/* outpost_regex_check, then regcomp(out, re, cflags). 0, or -1 with the
 * reason in err (out then needs no regfree). */
int outpost_regex_compile(regex_t *out, const char *re, int cflags,
                          char *err, size_t errlen);

/* 0 when glob is within the bounds above; else -1 with the reason. */
int outpost_glob_check(const char *glob, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
