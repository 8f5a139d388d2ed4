/*
 * tmpdir.h - scratch files for tests and benches: templates for
 * mkstemp()/mkdtemp() under $TMPDIR (else /tmp), as mktemp(1) and
 * Python's tempfile do, so a CI machine can point them elsewhere.
 * Header-only: the benches include it without the test harness.
 */
#ifndef OUTPOST_TEST_TMPDIR_H
#define OUTPOST_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

/* buf = "<tmpdir>/outpost-<name>-XXXXXX". 0, or -1 when it does not fit. */
static inline int
tmp_template(char *buf, size_t len, const char *name)
{
    const char *dir = getenv("TMPDIR");
    int n;

    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    n = snprintf(buf, len, "%s/outpost-%s-XXXXXX", dir, name);
    return n > 0 && (size_t) n < len ? 0 : -1;
}

#endif
