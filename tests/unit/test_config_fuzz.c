/*
 * test_config_fuzz.c - a bounded, deterministic mutation run of the config
 * loader over the corpus in tests/fuzz/config/: every seed and thousands
 * of mutants of them (bytes flipped, cut, doubled, spliced, and tokens the
 * grammar and the checks care about put in) are loaded with the real
 * plugins. None may crash, hang or leak (ASan and the ctest timeout see
 * to that), and each either loads or fails with problems that all name a
 * file.
 *
 * OUTPOST_FUZZ_SECONDS sets the time spent (default 4); the sequence of
 * mutants is the same on every run (a fixed seed), so a failure repeats.
 */
#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "config.h"
#include "options.h"
#include "tmpdir.h"

#define CORPUS_DIR  SOURCE_DIR "/tests/fuzz/config"
#define MAX_SEEDS   64
#define MAX_TEXT    (64 * 1024)

struct text {
    char  *p;
    size_t n;
};

static struct text seeds[MAX_SEEDS];
static size_t nseeds;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)                                          /* xorshift64 */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t
below(size_t n)
{
    return n ? (size_t) (next() % n) : 0;
}

static void
read_corpus(void)
{
    struct dirent **ents;
    int n = scandir(CORPUS_DIR, &ents, NULL, alphasort);

    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        char path[512], why[128];
        size_t len;
        char *text;

        snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, ents[i]->d_name);
        free(ents[i]);
        if (nseeds == MAX_SEEDS || strstr(path, ".conf") == NULL)
            continue;
        text = option_read_file(path, MAX_TEXT, &len, why, sizeof(why));
        assert_non_null(text);
        seeds[nseeds++] = (struct text) { text, len };
    }
    free(ents);
    assert_true(nseeds > 0);
}

/* Pieces the grammar, the lexer and the value checks react to. */
static const char *const tokens[] = {
    "{", "}", "\"", "'", "=", "+=", ",", "(", ")", "\n", "#", "//", "/*",
    "*/", "\\", "${", "${HOME}", "${OUTPOST_FUZZ_UNSET}", "}\"\"",
    "\"\"", "((((((((((", "a{255}", "[[:alpha:]", "\\1", "*", "\xff",
    "\xc3\xa9", "\x01", "\r\n", "http \"n\" {", "jsonl \"o\" {",
    "alert \"a\" {", "interval = ", "url = ", "match = {\"a=*\"}",
    "plugin_dir = \"\"", "state_dir = \"\"", "true", "yes",
    "2147483648", "99999999999", "-1", "1e309", "5 parsecs", "0s",
    "api {", "root \"r\" {", "\"x\\x00y\"",
};

static void
put_piece(struct text *t, size_t at, const char *p, size_t n)
{
    if (t->n + n > MAX_TEXT)
        return;
    memmove(t->p + at + n, t->p + at, t->n - at);
    memcpy(t->p + at, p, n);
    t->n += n;
}

/* One to eight mutations of a seed (or of two spliced). */
static struct text
mutant(void)
{
    const struct text *s = &seeds[below(nseeds)];
    struct text t = { malloc(MAX_TEXT + 1), 0 };
    int k = 1 + (int) below(8);

    assert_non_null(t.p);
    memcpy(t.p, s->p, s->n);
    t.n = s->n;
    while (k-- > 0) {
        size_t at = below(t.n + 1), len = below(t.n - at + 1) % 64;
        const struct text *o;
        const char *tok;

        switch (below(6)) {
        case 0:                                     /* flip a byte */
            if (t.n)
                t.p[below(t.n)] ^= (char) (1u << below(8));
            break;
        case 1:                                     /* cut */
            memmove(t.p + at, t.p + at + len, t.n - at - len);
            t.n -= len;
            break;
        case 2:                                     /* double */
            if (t.n + len <= MAX_TEXT) {
                char piece[64];

                memcpy(piece, t.p + at, len);
                put_piece(&t, at, piece, len);
            }
            break;
        case 3:                                     /* splice another */
            o = &seeds[below(nseeds)];
            put_piece(&t, at, o->p, o->n);
            break;
        default:                                    /* a token */
            tok = tokens[below(sizeof(tokens) / sizeof(tokens[0]))];
            put_piece(&t, at, tok, strlen(tok));
            break;
        }
    }
    return t;
}

static int
rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

static void
load_one(struct registry *reg, const char *path, const struct text *t)
{
    struct diag d = { 0 };
    struct config *c;
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(t->p, 1, t->n, fp), t->n);
    fclose(fp);
    c = config_load(path, reg, NULL, &d);
    if (c == NULL)
        assert_true(d.n > 0);
    for (size_t i = 0; i < d.n; i++)
        assert_non_null(strstr(d.msgs[i], "outpost.conf"));
    config_free(c);
    diag_free(&d);
}

static void
test_fuzz(void **state)
{
    const char *env = getenv("OUTPOST_FUZZ_SECONDS");
    double seconds = env ? atof(env) : 4.0;
    struct registry *reg = registry_new();
    struct diag d = { 0 };
    char dir[128], path[192];
    struct timespec t0, now;
    unsigned long runs = 0;

    (void) state;
    read_corpus();
    assert_int_equal(tmp_template(dir, sizeof(dir), "fuzz"), 0);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/outpost.conf", dir);
    registry_load_dir(reg, BUILD_PLUGIN_DIR, &d);
    assert_non_null(registry_find(reg, "http"));
    assert_non_null(registry_find(reg, "alert"));
    diag_free(&d);
    /* No conf.d: every mutant is outpost.conf itself. */
    setenv("HOME", "example.com", 1);
    unsetenv("OUTPOST_FUZZ_UNSET");
    for (size_t i = 0; i < nseeds; i++)
        load_one(reg, path, &seeds[i]);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        struct text t = mutant();

        load_one(reg, path, &t);
        free(t.p);
        runs++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((double) (now.tv_sec - t0.tv_sec)
             + (double) (now.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    fprintf(stderr, "fuzz: %lu mutants of %zu seeds in %.1f s\n", runs,
            nseeds, seconds);
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i].p);
    nftw(dir, rm, 8, FTW_DEPTH | FTW_PHYS);
    registry_free(reg);
    options_release_defaults();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
