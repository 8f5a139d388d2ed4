/*
 * bench.h - small helpers the benchmarks share (header-only, like
 * tests/unit/harness/tmpdir.h: each bench is one program).
 */
#ifndef OUTPOST_BENCH_H
#define OUTPOST_BENCH_H

#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* The plugin folder of the build tree this program was built in
 * (../plugins next to it), or "plugins". */
static inline void
bench_plugin_dir(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n <= 0) {
        snprintf(buf, len, "plugins");
        return;
    }
    exe[n] = '\0';
    snprintf(buf, len, "%s/../plugins", dirname(exe));
}

/* CPU time of the calling thread: what the work costs, whoever else the
 * machine runs meanwhile. */
static inline int64_t
bench_thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* For qsort of int64_t. */
static inline int
bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

static inline int
bench_rm_entry(const char *path, const struct stat *sb, int flag,
               struct FTW *ftw)
{
    (void) sb; (void) flag; (void) ftw;
    return remove(path);
}

/* Removes dir and everything under it. */
static inline void
bench_rm_tree(const char *dir)
{
    nftw(dir, bench_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
