/*
 * test_spill_fuzz.c - a bounded, deterministic fuzz run of the spill
 * reader: the segments in tests/fuzz/spill/ (the corpus) are mutated with
 * a seeded generator (bit flips, overwritten, inserted, deleted and
 * duplicated stretches, stray frame marks, truncation, splices, and
 * payload changes with their checksums fixed so the record decoder sees
 * them too), put in a spill directory with a random saved position, and
 * read to the end through a queue. Nothing may crash, hang or leak (the
 * suite runs under ASan), every record the queue held must come out or be
 * counted as dropped, and one flipped bit in an intact segment must cost
 * exactly one record.
 *
 * FUZZ_ITERATIONS (default 1500) and FUZZ_SECONDS (default 4) bound the
 * run; FUZZ_SEED changes the sequence. FUZZ_WRITE_CORPUS=1 rewrites the
 * corpus from records built here (v2 segments, and a v1 one as written
 * before frames had marks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <outpost/record.h>
#include "clock.h"
#include "log.h"
#include "queue.h"
#include "record_codec.h"
#include "spill.h"
#include "tmpdir.h"

#define CORPUS_DIR  SOURCE_DIR "/tests/fuzz/spill"
#define SEG_NAME    "0000000100000000.seg"
#define MAX_FILES   16

static char dir[64];
static outpost_tagset_t *tags;

struct blob {
    uint8_t *p;
    size_t   len;
    char     name[256];
};

static struct blob corpus[MAX_FILES];
static size_t ncorpus;

/* --- helpers ------------------------------------------------------------ */

static uint64_t
rnd(uint64_t *st)
{
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return *st * UINT64_C(2685821657736338717);
}

static size_t
below(uint64_t *st, size_t n)
{
    return n ? (size_t) (rnd(st) % n) : 0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void) st; (void) flag; (void) f;
    return remove(path);
}

static void
put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}

static void
write_file(const char *path, const uint8_t *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t) len);
    close(fd);
}

static outpost_record_t *
make_rec(int i)
{
    outpost_record_t *r = outpost_measurement_new("http", tags,
                                                  1700000000000000000 + i);

    outpost_record_add_int(r, "seq", i);
    outpost_record_add_bool(r, "success", i % 3 != 0);
    outpost_record_add_float(r, "response_ms", i * 1.25);
    if (i % 4 == 0)
        outpost_record_add_str(r, "error", "HTTP 503 from upstream");
    return r;
}

/* --- the corpus ------------------------------------------------------- */

/* v2 frames through the real framing; v1 by hand, as the old writer did:
 * [u32 len][u32 crc32(payload)][payload]. */
static void
build_segment(struct codec_buf *b, int from, int n, int v1)
{
    for (int i = from; i < from + n; i++) {
        outpost_record_t *r = make_rec(i);
        size_t mark = b->len;

        if (v1) {
            assert_int_equal(codec_buf_reserve(b, 8), 0);
            b->len += 8;
            assert_int_equal(record_encode(r, b), 0);
            put32(b->p + mark, (uint32_t) (b->len - mark - 8));
            put32(b->p + mark + 4,
                  spill_crc32(b->p + mark + 8, b->len - mark - 8));
        } else {
            assert_int_equal(spill_frame_begin(b, &mark), 0);
            assert_int_equal(record_encode(r, b), 0);
            spill_frame_end(b, mark);
        }
        outpost_record_unref(r);
    }
}

static void
write_corpus(void)
{
    static const struct { const char *name; int from, n, v1; } files[] = {
        { "v2-40.seg", 0, 40, 0 },
        { "v2-3.seg", 100, 3, 0 },
        { "v1-25.seg", 200, 25, 1 },
    };

    mkdir(CORPUS_DIR, 0755);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct codec_buf b = { 0 };
        char path[512];

        build_segment(&b, files[i].from, files[i].n, files[i].v1);
        snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, files[i].name);
        write_file(path, b.p, b.len);
        codec_buf_free(&b);
    }
}

static void
load_corpus(void)
{
    DIR *d = opendir(CORPUS_DIR);
    struct dirent *de;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL && ncorpus < MAX_FILES) {
        struct blob *bl = &corpus[ncorpus];
        char path[512];
        struct stat sb;
        FILE *f;

        if (strstr(de->d_name, ".seg") == NULL)
            continue;
        snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, de->d_name);
        assert_int_equal(stat(path, &sb), 0);
        bl->len = (size_t) sb.st_size;
        bl->p = malloc(bl->len + 1);
        f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fread(bl->p, 1, bl->len, f), bl->len);
        fclose(f);
        snprintf(bl->name, sizeof(bl->name), "%s", de->d_name);
        ncorpus++;
    }
    closedir(d);
    assert_true(ncorpus >= 2);
}

/* --- mutations -------------------------------------------------------- */

struct mut {
    uint8_t *p;
    size_t   len, cap;
};

static void
mut_reserve(struct mut *m, size_t extra)
{
    if (m->len + extra <= m->cap)
        return;
    m->cap = (m->len + extra) * 2;
    m->p = realloc(m->p, m->cap);
    assert_non_null(m->p);
}

/* The frames of a v2 buffer: recompute both checksums of every frame that
 * still parses by length, so a payload change reaches the decoder. */
static void
fix_checksums(struct mut *m)
{
    size_t off = 0;

    while (m->len - off >= 16 && get32(m->p + off) == 0x3252504f) {
        uint32_t len = get32(m->p + off + 4);

        if (len > m->len - off - 16)
            break;
        put32(m->p + off + 8, spill_crc32(m->p + off + 16, len));
        put32(m->p + off + 12, spill_crc32(m->p + off, 12));
        off += 16 + len;
    }
}

static void
mutate(uint64_t *st, struct mut *m, int kind)
{
    size_t a, n;

    if (m->len == 0)
        kind = 4;
    switch (kind) {
    case 0:                                 /* flip 1..8 bits */
        for (int k = 1 + (int) below(st, 8); k > 0; k--) {
            a = below(st, m->len);
            m->p[a] ^= (uint8_t) (1u << below(st, 8));
        }
        break;
    case 1:                                 /* overwrite a stretch */
        a = below(st, m->len);
        n = 1 + below(st, m->len - a < 64 ? m->len - a : 64);
        for (size_t i = 0; i < n; i++)
            m->p[a + i] = (uint8_t) rnd(st);
        break;
    case 2:                                 /* truncate */
        m->len = below(st, m->len);
        break;
    case 3:                                 /* delete a stretch */
        a = below(st, m->len);
        n = below(st, m->len - a);
        memmove(m->p + a, m->p + a + n, m->len - a - n);
        m->len -= n;
        break;
    case 4:                                 /* insert random bytes */
        n = 1 + below(st, 40);
        a = below(st, m->len + 1);
        mut_reserve(m, n);
        memmove(m->p + a + n, m->p + a, m->len - a);
        for (size_t i = 0; i < n; i++)
            m->p[a + i] = (uint8_t) rnd(st);
        m->len += n;
        break;
    case 5:                                 /* duplicate a stretch */
        a = below(st, m->len);
        n = 1 + below(st, m->len - a);
        mut_reserve(m, n);
        memmove(m->p + a + n, m->p + a, m->len - a);
        m->len += n;
        break;
    case 6: {                               /* a stray frame mark */
        static const uint8_t mark[] = { 'O', 'P', 'R', '2' };
        a = m->len >= 4 ? below(st, m->len - 3) : 0;
        mut_reserve(m, 4);
        if (a + 4 > m->len)
            m->len = a + 4;
        memcpy(m->p + a, mark, 4);
        break;
    }
    case 7: {                               /* splice another corpus file */
        const struct blob *o = &corpus[below(st, ncorpus)];
        size_t from = below(st, o->len);

        a = below(st, m->len);
        n = below(st, o->len - from);
        m->len = a;
        mut_reserve(m, n);
        memcpy(m->p + a, o->p + from, n);
        m->len += n;
        break;
    }
    default:                                /* payload bytes, valid CRCs */
        for (int k = 1 + (int) below(st, 4); k > 0; k--) {
            a = below(st, m->len);
            m->p[a] = (uint8_t) rnd(st);
        }
        fix_checksums(m);
        break;
    }
}

/* --- one run ------------------------------------------------------------ */

/* A position file pointing into the segment at off (or damaged). */
static void
write_position(uint64_t *st, size_t seglen)
{
    uint8_t b[32] = { 0 };
    char path[128];
    uint64_t off = seglen ? below(st, seglen + 1) : 0;

    put32(b, 0x5051504f);
    put32(b + 4, 1);
    put32(b + 8, 0);
    put32(b + 12, 1);               /* seq 2^32: the segment's */
    put32(b + 16, (uint32_t) off);
    put32(b + 24, spill_crc32(b, 24));
    if (below(st, 8) == 0)
        b[below(st, 24)] ^= 0x10;       /* damaged: replay from the start */
    snprintf(path, sizeof(path), "%s/position", dir);
    write_file(path, b, sizeof(b));
}

/* Reads the queue in dir to the end; returns the records that came out
 * or -1 when the spill could not be opened. */
static long
drain(uint64_t *st)
{
    struct queue_opts o = { .mem_limit = 4, .spill_dir = dir,
                            .name = "fuzz" };
    struct queue *q = queue_open(&o);
    outpost_record_t *out[16];
    struct queue_stats qs;
    size_t start, rounds = 0;
    long got = 0;

    if (q == NULL)
        return -1;
    start = queue_length(q);
    for (;;) {
        size_t n = queue_peek(q, out, 1 + below(st, 16));

        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            assert_non_null(out[i]);
            outpost_record_unref(out[i]);
        }
        queue_commit(q, n);
        got += (long) n;
        assert_true(++rounds <= start + 2);     /* no hang, no loop */
    }
    queue_get_stats(q, &qs);
    assert_int_equal(qs.queued_mem + qs.queued_disk, 0);
    /* What was counted on open came out, or was counted as dropped. */
    assert_true((uint64_t) got + qs.dropped >= start);
    queue_close(q);
    return got;
}

static void
reset_dir(void)
{
    assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
}

static long
count_good(const struct blob *b)
{
    char path[128];
    uint64_t st = 1;

    reset_dir();
    snprintf(path, sizeof(path), "%s/" SEG_NAME, dir);
    write_file(path, b->p, b->len);
    return drain(&st);
}

static void
spill_reader_fuzz(void **state)
{
    const char *e;
    uint64_t st = (e = getenv("FUZZ_SEED")) ? strtoull(e, NULL, 0) : 0x5eed;
    long iters = (e = getenv("FUZZ_ITERATIONS")) ? atol(e) : 1500;
    int64_t secs = (e = getenv("FUZZ_SECONDS")) ? atol(e) : 4;
    int64_t until = clock_mono_ms() + secs * 1000;
    struct mut m = { 0 };
    long good[MAX_FILES], i;

    (void) state;
    if (st == 0)
        st = 1;
    for (size_t k = 0; k < ncorpus; k++) {
        const char *dash = strchr(corpus[k].name, '-');

        /* The corpus reads cleanly, old format included: "v1-25.seg"
         * holds 25 records. */
        good[k] = count_good(&corpus[k]);
        if (dash)
            assert_int_equal(good[k], atol(dash + 1));
        assert_true(good[k] > 0);
    }
    for (i = 0; i < iters && clock_mono_ms() < until; i++) {
        size_t k = below(&st, ncorpus);
        int kind = (int) below(&st, 9), single = below(&st, 4) == 0;
        char path[128];
        long got;

        reset_dir();
        m.len = 0;
        mut_reserve(&m, corpus[k].len);
        memcpy(m.p, corpus[k].p, corpus[k].len);
        m.len = corpus[k].len;
        if (single && strncmp(corpus[k].name, "v2", 2) == 0) {
            /* The promise: one flipped bit costs one record. */
            size_t a = below(&st, m.len);

            m.p[a] ^= (uint8_t) (1u << below(&st, 8));
            snprintf(path, sizeof(path), "%s/" SEG_NAME, dir);
            write_file(path, m.p, m.len);
            got = drain(&st);
            if (got != good[k] - 1)
                fail_msg("%s: bit flip at %zu: %ld records, want %ld",
                         corpus[k].name, a, got, good[k] - 1);
            continue;
        }
        for (int r = 1 + (int) below(&st, 3); r > 0; r--)
            mutate(&st, &m, kind);
        snprintf(path, sizeof(path), "%s/" SEG_NAME, dir);
        write_file(path, m.p, m.len);
        if (below(&st, 2))
            write_position(&st, m.len);
        got = drain(&st);
        assert_true(got >= 0);
    }
    free(m.p);
    if (getenv("TEST_LOG"))
        fprintf(stderr, "spill fuzz: %ld runs\n", i);
    assert_true(i >= 50);
}

static int
setup(void **state)
{
    outpost_tag_t t[] = { { "integration", "stripe" },
                          { "category", "payments" } };

    (void) state;
    if (tmp_template(dir, sizeof(dir), "spillfuzz") != 0
        || mkdtemp(dir) == NULL)
        return -1;
    tags = outpost_tagset_new(t, 2);
    if (getenv("FUZZ_WRITE_CORPUS"))
        write_corpus();
    load_corpus();
    return tags ? 0 : -1;
}

static int
teardown(void **state)
{
    (void) state;
    for (size_t i = 0; i < ncorpus; i++)
        free(corpus[i].p);
    outpost_tagset_unref(tags);
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(spill_reader_fuzz, setup, teardown),
    };

    log_configure(getenv("TEST_LOG") ? OUTPOST_LOG_DEBUG : OUTPOST_LOG_ERROR + 1,
                  LOG_FORMAT_TEXT, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
