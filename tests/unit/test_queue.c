/*
 * test_queue.c - the output queue: memory ring, spill files, order across
 * every transition, replay after a restart or a kill -9, torn and corrupt
 * files, limits and their drop counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <outpost/record.h>
#include "clock.h"
#include "log.h"
#include "queue.h"
#include "spill.h"
#include "harness.h"
#include "tmpdir.h"

static char dir[64];
static outpost_tagset_t *tags;

/* --- fixtures and helpers ----------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void) st; (void) flag; (void) f;
    return remove(path);
}

static int
setup(void **state)
{
    outpost_tag_t t[] = { { "integration", "stripe" },
                          { "category", "payments" } };

    (void) state;
    if (tmp_template(dir, sizeof(dir), "queue") != 0 || mkdtemp(dir) == NULL)
        return -1;
    tags = outpost_tagset_new(t, 2);
    return tags ? 0 : -1;
}

static int
teardown(void **state)
{
    (void) state;
    outpost_tagset_unref(tags);
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct queue *
open_q(size_t mem_limit, int spill, uint64_t disk_limit)
{
    struct queue_opts o = {
        .mem_limit = mem_limit, .spill_dir = spill ? dir : NULL,
        .disk_limit = disk_limit, .name = "test.queue",
    };
    struct queue *q = queue_open(&o);

    assert_non_null(q);
    return q;
}

static outpost_record_t *
rec(int64_t seq, size_t pad)
{
    outpost_record_t *r = outpost_measurement_new("probe", tags, seq + 1);

    outpost_record_add_int(r, "seq", seq);
    outpost_record_add_float(r, "response_ms", seq * 0.5);
    if (pad) {
        char *s = malloc(pad + 1);
        memset(s, 'x', pad);
        s[pad] = '\0';
        outpost_record_add_str(r, "pad", s);
        free(s);
    }
    return r;
}

static int64_t
seq_of(const outpost_record_t *r)
{
    return (int64_t) outpost_record_number(r, "seq", -1);
}

/* Pushes [from, to) in chunks of `chunk`. */
static void
push_range(struct queue *q, int64_t from, int64_t to, size_t chunk,
           size_t pad)
{
    outpost_record_t *batch[64];

    assert_true(chunk <= 64);
    while (from < to) {
        size_t n = 0;

        while (n < chunk && from < to)
            batch[n++] = rec(from++, pad);
        queue_push(q, batch, n);
        for (size_t i = 0; i < n; i++)
            outpost_record_unref(batch[i]);
    }
}

/* Peeks and commits batches of `batch`, expecting [from, to) exactly. */
static void
expect_range(struct queue *q, int64_t from, int64_t to, size_t batch)
{
    outpost_record_t *out[64];

    assert_true(batch <= 64);
    while (from < to) {
        size_t want = (size_t) (to - from) < batch ? (size_t) (to - from)
                                                    : batch;
        size_t n = queue_peek(q, out, want);

        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(seq_of(out[i]), from);
            from++;
            outpost_record_unref(out[i]);
        }
        queue_commit(q, n);
    }
    assert_int_equal(from, to);
}

static void
stats(struct queue *q, struct queue_stats *st)
{
    memset(st, 0, sizeof(*st));
    queue_get_stats(q, st);
}

/* The path of the newest (or oldest) segment file in dir. */
static void
newest_segment(char *path, size_t len, int oldest)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char best[256] = "";

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 4, ".seg") != 0)
            continue;
        if (best[0] == '\0' || (oldest ? strcmp(de->d_name, best) < 0
                                       : strcmp(de->d_name, best) > 0))
            snprintf(best, sizeof(best), "%s", de->d_name);
    }
    closedir(d);
    assert_true(best[0] != '\0');
    assert_true((size_t) snprintf(path, len, "%s/%s", dir, best) < len);
}

/* --- memory only --------------------------------------------------------- */

static void
queue_memory_fifo(void **state)
{
    struct queue *q = open_q(100, 0, 0);
    outpost_record_t *out[8];
    struct queue_stats st;

    (void) state;
    push_range(q, 0, 50, 7, 0);
    assert_int_equal(queue_length(q), 50);
    /* Peek without commit returns the same records again. */
    assert_int_equal(queue_peek(q, out, 3), 3);
    for (int i = 0; i < 3; i++)
        outpost_record_unref(out[i]);
    expect_range(q, 0, 50, 8);
    assert_int_equal(queue_length(q), 0);
    assert_int_equal(queue_peek(q, out, 8), 0);
    stats(q, &st);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.spilled, 0);
    queue_close(q);
}

static void
queue_no_spill_dir_drops_oldest(void **state)
{
    struct queue *q = open_q(10, 0, 0);
    outpost_record_t *out[4];
    struct queue_stats st;

    (void) state;
    push_range(q, 0, 15, 4, 0);
    stats(q, &st);
    assert_int_equal(st.dropped, 5);
    assert_int_equal(st.queued_mem, 10);

    /* 5..7 are in flight: a drop takes the oldest record NOT in flight,
     * so the commit below still removes exactly 5..7. */
    assert_int_equal(queue_peek(q, out, 3), 3);
    assert_int_equal(seq_of(out[0]), 5);
    push_range(q, 15, 17, 1, 0);                  /* drops 8 and 9 */
    stats(q, &st);
    assert_int_equal(st.dropped, 7);
    for (int i = 0; i < 3; i++)
        outpost_record_unref(out[i]);
    queue_commit(q, 3);
    expect_range(q, 10, 17, 4);
    queue_close(q);
}

/* --- memory and disk ----------------------------------------------------- */

static void
queue_overflow_spills_in_order(void **state)
{
    struct queue *q = open_q(10, 1, 0);
    struct queue_stats st;

    (void) state;
    /* memory -> disk */
    push_range(q, 0, 25, 3, 0);
    stats(q, &st);
    assert_int_equal(st.queued_mem, 10);
    assert_int_equal(st.queued_disk, 15);
    assert_int_equal(st.spilled, 15);
    /* While anything is on disk, new records go behind it, even once
     * memory has room again. */
    expect_range(q, 0, 12, 6);
    push_range(q, 25, 30, 2, 0);
    stats(q, &st);
    assert_int_equal(st.queued_mem, 0);
    assert_int_equal(st.queued_disk, 18);
    expect_range(q, 12, 30, 7);
    /* disk drained -> memory again */
    stats(q, &st);
    assert_int_equal(st.queued_disk, 0);
    /* consumed files deleted */
    assert_int_equal(harness_count_files(dir, ".seg"), 0);
    push_range(q, 30, 35, 5, 0);
    stats(q, &st);
    assert_int_equal(st.queued_mem, 5);
    assert_int_equal(st.queued_disk, 0);
    /* and over again */
    push_range(q, 35, 60, 4, 0);
    expect_range(q, 30, 60, 9);
    stats(q, &st);
    assert_int_equal(st.dropped, 0);
    queue_close(q);
}

static void
queue_spill_goes_in_front(void **state)
{
    struct queue *q = open_q(10, 1, 0);
    outpost_record_t *out[5];
    struct queue_stats st;

    (void) state;
    push_range(q, 0, 20, 3, 0);            /* 0..9 memory, 10..19 disk */
    /* A batch is in flight from memory when the backend goes down. */
    assert_int_equal(queue_peek(q, out, 5), 5);
    assert_int_equal(queue_spill(q), 0);   /* memory goes in FRONT */
    stats(q, &st);
    assert_int_equal(st.queued_mem, 0);
    assert_int_equal(st.queued_disk, 20);
    push_range(q, 20, 25, 2, 0);           /* behind, on disk */
    stats(q, &st);
    assert_int_equal(st.queued_disk, 25);
    /* The in-flight batch is delivered; commit removes it from disk. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(seq_of(out[i]), i);
        outpost_record_unref(out[i]);
    }
    queue_commit(q, 5);
    expect_range(q, 5, 25, 6);
    /* Spill with an empty disk part appends; memory is empty after. */
    push_range(q, 25, 28, 3, 0);
    assert_int_equal(queue_spill(q), 0);
    assert_int_equal(queue_spill(q), 0);   /* nothing left: no-op */
    expect_range(q, 25, 28, 2);
    queue_close(q);
}

static void
queue_replay_after_reopen(void **state)
{
    struct queue *q = open_q(10, 1, 0);
    struct queue_stats st;

    (void) state;
    push_range(q, 0, 30, 5, 0);            /* 0..9 memory, 10..29 disk */
    expect_range(q, 0, 5, 5);
    queue_close(q);                        /* 5..9 spilled in front */

    q = open_q(10, 1, 0);
    assert_int_equal(queue_length(q), 25);
    push_range(q, 30, 33, 3, 0);           /* behind the replayed part */
    expect_range(q, 5, 20, 4);
    queue_close(q);                        /* a restart mid-replay */

    q = open_q(10, 1, 0);
    assert_int_equal(queue_length(q), 13);
    expect_range(q, 20, 33, 6);
    stats(q, &st);
    assert_int_equal(st.dropped, 0);
    queue_close(q);
    assert_int_equal(harness_count_files(dir, ".seg"), 0);
}

/* The child works on the queue and is killed with SIGKILL mid-flight:
 * what was spilled survives, what was committed is not replayed. */
static void
queue_survives_kill9(void **state)
{
    pid_t pid;
    int status;
    struct queue *q;

    (void) state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        outpost_record_t *out[40];
        struct queue_opts o = { .mem_limit = 1, .spill_dir = dir,
                                .name = "child" };
        struct queue *cq = queue_open(&o);
        size_t n;

        if (cq == NULL)
            _exit(2);
        push_range(cq, 0, 100, 10, 0);    /* 0 in memory, 1..99 on disk */
        n = queue_peek(cq, out, 40);
        if (n != 40)
            _exit(3);
        queue_commit(cq, 40);              /* 0 from memory, 1..39 disk */
        n = queue_peek(cq, out, 10);       /* in flight, not committed */
        (void) n;
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    q = open_q(1, 1, 0);
    assert_int_equal(queue_length(q), 60);
    expect_range(q, 40, 100, 16);
    queue_close(q);
}

static void
queue_torn_tail_is_skipped(void **state)
{
    char path[128];
    struct stat sb;
    struct spill_stats ss;
    struct spill *s;
    struct spill_opts so = { .dir = dir, .name = "test" };
    struct queue *q = open_q(1, 1, 0);

    (void) state;
    push_range(q, 0, 50, 10, 0);
    queue_close(q);
    /* A kill -9 in the middle of a write(2): the last entry is cut. */
    newest_segment(path, sizeof(path), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size - 10), 0);

    s = spill_open(&so);
    assert_non_null(s);
    spill_get_stats(s, &ss);
    assert_int_equal(ss.corrupt, 1);
    assert_int_equal(ss.records, 49);
    spill_close(s);

    q = open_q(1, 1, 0);
    assert_int_equal(queue_length(q), 49);
    /* The torn segment is never appended to again. */
    push_range(q, 100, 103, 3, 0);
    expect_range(q, 0, 49, 7);
    expect_range(q, 100, 103, 3);
    queue_close(q);
}

static void
queue_disk_limit_drops_oldest(void **state)
{
    const uint64_t limit = 256 << 10;  /* segments of 64 KiB */
    struct queue *q = open_q(10, 1, limit);
    outpost_record_t *out[64];
    struct queue_stats st;
    int64_t expect;
    size_t got = 0;

    (void) state;
    push_range(q, 0, 1000, 16, 1000);
    stats(q, &st);
    assert_true(st.dropped > 0);
    assert_int_equal(st.dropped + queue_length(q), 1000);
    assert_true(st.bytes_disk <= limit + (64 << 10) + 20000);
    /* Memory (the oldest) is untouched; the disk part lost a prefix:
     * what is left is contiguous and ends with the newest. */
    expect_range(q, 0, 10, 10);
    expect = 10 + (int64_t) st.dropped;
    for (;;) {
        size_t n = queue_peek(q, out, 64);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(seq_of(out[i]), expect);
            expect++;
            outpost_record_unref(out[i]);
        }
        got += n;
        queue_commit(q, n);
    }
    assert_int_equal(expect, 1000);
    assert_int_equal(got + 10 + st.dropped, 1000);
    queue_close(q);
}

/* Records in flight are deleted by disk_limit: the commit that follows
 * must not remove records that were never delivered. */
static void
queue_disk_drop_of_inflight_records(void **state)
{
    struct queue *q = open_q(1, 1, 256 << 10);
    outpost_record_t *out[30];
    struct queue_stats st;
    uint64_t dropped;

    (void) state;
    push_range(q, 0, 60, 10, 1000);
    assert_int_equal(queue_peek(q, out, 30), 30);      /* 0..29 */
    push_range(q, 60, 460, 16, 1000);
    stats(q, &st);
    dropped = st.dropped;
    assert_true(dropped >= 29);            /* the head segment went */
    for (int i = 0; i < 30; i++)
        outpost_record_unref(out[i]);
    queue_commit(q, 30);
    /* 0 was committed from memory; 1..dropped are gone. */
    assert_int_equal(queue_length(q), 459 - dropped);
    expect_range(q, 1 + (int64_t) dropped, 460, 64);
    queue_close(q);
}

static struct {
    struct queue *q;
    int64_t delay_ms;
} pusher;

static void *
push_later(void *arg)
{
    (void) arg;
    usleep((useconds_t) pusher.delay_ms * 1000);
    push_range(pusher.q, 0, 5, 5, 0);
    return NULL;
}

static void
queue_wait_and_wakeup(void **state)
{
    struct queue *q = open_q(100, 0, 0);
    pthread_t t;
    int64_t t0;

    (void) state;
    t0 = clock_mono_ms();
    assert_int_equal(queue_wait(q, 5, t0 + 30), 0);
    assert_true(clock_mono_ms() - t0 >= 29);

    queue_wakeup(q);                       /* sticky until a wait sees it */
    t0 = clock_mono_ms();
    assert_int_equal(queue_wait(q, 5, t0 + 5000), 0);
    assert_true(clock_mono_ms() - t0 < 1000);

    pusher.q = q;
    pusher.delay_ms = 20;
    t0 = clock_mono_ms();
    assert_int_equal(pthread_create(&t, NULL, push_later, NULL), 0);
    assert_int_equal(queue_wait(q, 5, t0 + 5000), 5);
    assert_true(clock_mono_ms() - t0 < 2000);
    pthread_join(t, NULL);
    expect_range(q, 0, 5, 5);
    queue_close(q);
}

/* --- kill -9 at random moments --------------------------------------- */

/* The child publishes its state after every operation in one of two
 * slots (then flips `cur`), so the parent always reads a consistent
 * snapshot: memory holds [C, M), disk [M, P), and `op` is what was under
 * way when the child died. */
enum { OP_NONE, OP_PUSH, OP_COMMIT, OP_SPILL };

struct snap {
    int64_t C, M, P;
    int     op;
    int64_t arg;
};

struct shared {
    struct snap slot[2];
    int         cur;
};

static void
publish(struct shared *sh, const struct snap *sn)
{
    int next = !__atomic_load_n(&sh->cur, __ATOMIC_SEQ_CST);

    sh->slot[next] = *sn;
    __atomic_store_n(&sh->cur, next, __ATOMIC_SEQ_CST);
}

static void
fuzz_child(struct shared *sh, unsigned seed)
{
    struct queue_opts o = { .mem_limit = 8, .spill_dir = dir,
                            .name = "fuzz" };
    struct queue *q = queue_open(&o);
    struct snap sn = { 0 };
    outpost_record_t *out[16];
    struct queue_stats st;

    if (q == NULL)
        _exit(2);
    for (;;) {
        int r = (int) (rand_r(&seed) % 10);
        int64_t n;

        sn.op = r < 4 ? OP_PUSH : r < 9 ? OP_COMMIT : OP_SPILL;
        if (sn.op == OP_PUSH) {
            sn.arg = 1 + rand_r(&seed) % 8;
            publish(sh, &sn);
            push_range(q, sn.P, sn.P + sn.arg, 8, 0);
        } else if (sn.op == OP_COMMIT) {
            n = (int64_t) queue_peek(q, out, 1 + rand_r(&seed) % 10);
            for (int64_t i = 0; i < n; i++) {
                if (seq_of(out[i]) != sn.C + i)
                    _exit(3);
                outpost_record_unref(out[i]);
            }
            sn.arg = n;
            publish(sh, &sn);
            queue_commit(q, (size_t) n);
            sn.C += n;
        } else {
            publish(sh, &sn);
            if (queue_spill(q) != 0)
                _exit(4);
        }
        if (sn.op == OP_PUSH)
            sn.P += sn.arg;
        queue_get_stats(q, &st);
        sn.M = sn.C + (int64_t) st.queued_mem;
        if (sn.M + (int64_t) st.queued_disk != sn.P)
            _exit(5);
        sn.op = OP_NONE;
        publish(sh, &sn);
    }
}

/* What may survive: content is [F, L) (F == L: empty). */
static void
check_survivors(const struct snap *sn, int64_t F, int64_t L)
{
    int disk = sn->P > sn->M, empty = F == L;

    switch (sn->op) {
    case OP_NONE:
        assert_true(disk ? F == sn->M && L == sn->P : empty);
        break;
    case OP_PUSH:       /* the new records may be on disk, or torn off */
        if (disk)
            assert_true(F == sn->M && L >= sn->P && L <= sn->P + sn->arg);
        else
            assert_true(empty || (F >= sn->P && L <= sn->P + sn->arg));
        break;
    case OP_COMMIT: {   /* the position may or may not have been saved */
        int64_t c2 = sn->C + sn->arg;

        if (disk)
            assert_true((empty && c2 >= sn->P)
                        || (L == sn->P && F >= sn->M
                            && F <= (c2 > sn->M ? c2 : sn->M)));
        else
            assert_true(empty);
        break;
    }
    case OP_SPILL:      /* memory may have reached the disk, or not */
        if (disk)
            assert_true(L == sn->P && (F == sn->C || F == sn->M));
        else
            assert_true(empty || (F == sn->C && L <= sn->M));
        break;
    default:
        fail();
    }
}

static void
queue_kill9_at_random_moments(void **state)
{
    struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    unsigned seed = 12345;

    (void) state;
    assert_true(sh != MAP_FAILED);
    for (int iter = 0; iter < 40; iter++) {
        outpost_record_t *out[64];
        struct snap sn;
        int64_t F = -1, L = -1;
        struct queue *q;
        int status;
        pid_t pid;

        memset(sh, 0, sizeof(*sh));
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            fuzz_child(sh, seed + (unsigned) iter);
        usleep(2000 + rand_r(&seed) % 30000);
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));      /* not a child's _exit */
        sn = sh->slot[__atomic_load_n(&sh->cur, __ATOMIC_SEQ_CST)];

        q = open_q(8, 1, 0);
        for (;;) {
            size_t n = queue_peek(q, out, 64);
            if (n == 0)
                break;
            for (size_t i = 0; i < n; i++) {
                int64_t s = seq_of(out[i]);
                if (F < 0)
                    F = L = s;
                assert_int_equal(s, L);        /* contiguous, in order */
                L++;
                outpost_record_unref(out[i]);
            }
            queue_commit(q, n);
        }
        queue_close(q);
        if (F < 0)
            F = L = 0;
        if (getenv("TEST_LOG"))
            fprintf(stderr, "kill9 #%d: op %d arg %" PRId64 " C %" PRId64
                    " M %" PRId64 " P %" PRId64 " -> [%" PRId64 ", %" PRId64
                    ")\n", iter, sn.op, sn.arg, sn.C, sn.M, sn.P, F, L);
        check_survivors(&sn, F, L);
        assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
        assert_int_equal(mkdir(dir, 0700), 0);
    }
    munmap(sh, sizeof(*sh));
}

/* --- the spill files directly ---------------------------------------- */

static void
append_entry(struct spill *s, int i)
{
    struct codec_buf b = { 0 };
    size_t mark;
    char text[64];
    int n = snprintf(text, sizeof(text), "entry-%04d-padding-padding", i);

    assert_int_equal(spill_frame_begin(&b, &mark), 0);
    assert_int_equal(codec_buf_reserve(&b, (size_t) n), 0);
    memcpy(b.p + b.len, text, (size_t) n);
    b.len += (size_t) n;
    spill_frame_end(&b, mark);
    assert_int_equal(spill_append(s, &b, 1), 0);
    codec_buf_free(&b);
}

/* Reads every entry and checks their numbers against want[]. */
static void
expect_entries(struct spill *s, const int *want, size_t n)
{
    struct spill_cursor c;
    const uint8_t *p;
    uint32_t len;
    uint64_t lost;
    size_t i = 0;

    spill_cursor_init(s, &c);
    while (spill_cursor_next(s, &c, &p, &len, &lost) == SPILL_ENTRY) {
        assert_true(i < n);
        assert_int_equal(atoi((const char *) p + 6), want[i]);
        i++;
    }
    assert_int_equal(i, n);
}

/* Log lines go to a scratch file while a test looks for one. */
static char log_path[96];

static void
log_to_file(void)
{
    int fd;

    assert_true((size_t) snprintf(log_path, sizeof(log_path), "%s.log",
                                  dir) < sizeof(log_path));
    fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    log_configure(OUTPOST_LOG_INFO, LOG_FORMAT_TEXT, fd);
}

/* Restores logging to stderr and returns what was logged (malloc'ed). */
static char *
log_taken(void)
{
    FILE *f = fopen(log_path, "r");
    char *text = calloc(1, 1 << 16);
    size_t n;

    assert_non_null(f);
    n = fread(text, 1, (1 << 16) - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(log_path);
    log_configure(getenv("TEST_LOG") ? OUTPOST_LOG_DEBUG : OUTPOST_LOG_ERROR,
                  LOG_FORMAT_TEXT, 2);
    if (getenv("TEST_LOG"))
        fputs(text, stderr);
    return text;
}

static void
flip_bit(const char *path, off_t off, int bit)
{
    int fd = open(path, O_RDWR);
    uint8_t b;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= (uint8_t) (1u << bit);
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

/* The byte offset of entry i in a segment of append_entry() entries. */
static off_t
entry_offset(const char *path, int i)
{
    struct stat sb;

    assert_int_equal(stat(path, &sb), 0);
    return (off_t) (sb.st_size / 50 * i);
}

/* Reads everything, expecting 0..49 except `missing`; returns the
 * SPILL_LOST counts seen. */
static uint64_t
expect_all_but(struct spill *s, int missing)
{
    struct spill_cursor c;
    const uint8_t *p;
    uint32_t len;
    uint64_t lost, lost_all = 0;
    int next = 0, rc;

    spill_cursor_init(s, &c);
    while ((rc = spill_cursor_next(s, &c, &p, &len, &lost)) != SPILL_END) {
        if (rc == SPILL_LOST) {
            lost_all += lost;
            continue;
        }
        assert_int_equal(rc, SPILL_ENTRY);
        if (next == missing)
            next++;
        assert_int_equal(atoi((const char *) p + 6), next);
        next++;
    }
    assert_int_equal(next, missing == 49 ? 49 : 50);
    return lost_all;
}

/* One flipped bit anywhere in an entry (payload, checksum, length or
 * frame start) costs that entry and nothing after it, whether the damage
 * is found when the directory is opened or while reading. */
static void
spill_flipped_bit_costs_one_record(void **state)
{
    struct spill_opts so = { .dir = dir, .name = "test" };
    /* offset in entry 10, bit: payload, crc, length, frame start */
    const int where[][2] = { { 30, 3 }, { 6, 0 }, { 1, 7 }, { 0, 2 },
                             { 4, 4 } };
    char path[128], *text;

    (void) state;
    for (size_t k = 0; k < sizeof(where) / sizeof(where[0]); k++) {
        struct spill *s = spill_open(&so);
        struct spill_stats ss;

        assert_non_null(s);
        for (int i = 0; i < 50; i++)
            append_entry(s, i);
        spill_close(s);
        newest_segment(path, sizeof(path), 0);
        flip_bit(path, entry_offset(path, 10) + where[k][0], where[k][1]);

        /* found on open */
        log_to_file();
        s = spill_open(&so);
        text = log_taken();
        assert_non_null(s);
        spill_get_stats(s, &ss);
        assert_int_equal(ss.records, 49);
        assert_int_equal(ss.dropped, 1);
        assert_non_null(strstr(text, "1 record lost"));
        free(text);
        assert_int_equal(expect_all_but(s, 10), 0);
        /* Reading and consuming step over the damage. */
        assert_int_equal(spill_consume(s, 20), 0);
        assert_int_equal(spill_count(s), 29);
        spill_close(s);
        s = spill_open(&so);
        assert_int_equal(spill_count(s), 29);
        assert_int_equal(spill_consume(s, 29), 0);
        spill_close(s);

        /* found while reading: the file is damaged after the open */
        s = spill_open(&so);
        for (int i = 0; i < 50; i++)
            append_entry(s, i);
        newest_segment(path, sizeof(path), 0);
        flip_bit(path, entry_offset(path, 10) + where[k][0], where[k][1]);
        log_to_file();
        assert_int_equal(expect_all_but(s, 10), 1);
        text = log_taken();
        assert_non_null(strstr(text, "1 record lost"));
        free(text);
        assert_int_equal(spill_count(s), 49);
        assert_int_equal(spill_consume(s, 49), 0);
        spill_get_stats(s, &ss);
        assert_int_equal(ss.records, 0);
        assert_int_equal(ss.dropped, 1);
        spill_close(s);
    }
}

/* A segment that is not a regular file (a directory in its place) is
 * reported, and the segments around it are delivered. */
static void
spill_segment_not_a_file_is_reported(void **state)
{
    struct spill_opts so = { .dir = dir, .name = "test", .segment_size = 100 };
    struct spill *s = spill_open(&so);
    struct spill_stats ss;
    char path[128], *text;

    (void) state;
    for (int i = 0; i < 10; i++)
        append_entry(s, i);
    spill_get_stats(s, &ss);
    assert_true(ss.segments >= 3);
    spill_close(s);
    newest_segment(path, sizeof(path), 1);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);

    log_to_file();
    s = spill_open(&so);
    text = log_taken();
    assert_non_null(s);
    assert_non_null(strstr(text, "not a regular file"));
    free(text);
    assert_true(spill_count(s) > 0 && spill_count(s) < 10);
    spill_close(s);
    assert_int_equal(rmdir(path), 0);
}

static void
spill_position_survives_and_damage_replays(void **state)
{
    struct spill_opts so = { .dir = dir, .name = "test", .segment_size = 160 };
    struct spill *s = spill_open(&so);
    const int rest[] = { 5, 6, 7, 8, 9 };
    const int all[] = { 4, 5, 6, 7, 8, 9 };
    char path[128];
    int fd;

    (void) state;
    for (int i = 0; i < 10; i++)
        append_entry(s, i);
    assert_int_equal(spill_consume(s, 5), 0);   /* into the 2nd segment */
    spill_close(s);

    s = spill_open(&so);
    assert_int_equal(spill_count(s), 5);
    expect_entries(s, rest, 5);
    spill_close(s);

    /* A damaged position file: nothing is lost, the segment it pointed
     * into is replayed from its start (the first one is gone). */
    snprintf(path, sizeof(path), "%s/position", dir);
    fd = open(path, O_RDWR);
    assert_int_equal(pwrite(fd, "garbage", 7, 8), 7);
    close(fd);
    s = spill_open(&so);
    assert_int_equal(spill_count(s), 6);
    expect_entries(s, all, 6);
    spill_close(s);
}

static void
spill_prepend_rules(void **state)
{
    struct spill_opts so = { .dir = dir, .name = "test", .segment_size = 160 };
    struct spill *s = spill_open(&so), *again;
    struct codec_buf b = { 0 };
    const int want[] = { 2, 3 };
    char path[128];
    size_t mark;
    int fd;

    (void) state;
    append_entry(s, 1);
    append_entry(s, 2);
    append_entry(s, 3);
    /* Locked: a second opener of the same directory is refused. */
    again = spill_open(&so);
    assert_null(again);
    /* Prepending in front of a partly read segment would replay the
     * consumed part after it: refused. */
    assert_int_equal(spill_consume(s, 1), 0);
    spill_frame_begin(&b, &mark);
    codec_buf_reserve(&b, 10);
    memcpy(b.p + b.len, "entry-0000", 10);
    b.len += 10;
    spill_frame_end(&b, mark);
    assert_int_equal(spill_prepend(s, &b, 1), -1);
    expect_entries(s, want, 2);
    codec_buf_free(&b);
    spill_close(s);

    /* A temporary left by a crash inside spill_prepend is deleted. */
    snprintf(path, sizeof(path), "%s/00000000ffffffff.seg.tmp", dir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "junk", 4), 4);
    close(fd);
    s = spill_open(&so);
    assert_int_equal(access(path, F_OK), -1);
    expect_entries(s, want, 2);
    spill_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(queue_memory_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(queue_no_spill_dir_drops_oldest,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(queue_overflow_spills_in_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(queue_spill_goes_in_front, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(queue_replay_after_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(queue_survives_kill9, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(queue_torn_tail_is_skipped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(queue_disk_limit_drops_oldest,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(queue_disk_drop_of_inflight_records,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(queue_wait_and_wakeup, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(queue_kill9_at_random_moments,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(spill_flipped_bit_costs_one_record,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(spill_segment_not_a_file_is_reported,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            spill_position_survives_and_damage_replays, setup, teardown),
        cmocka_unit_test_setup_teardown(spill_prepend_rules, setup,
                                        teardown),
    };

    log_configure(getenv("TEST_LOG") ? OUTPOST_LOG_DEBUG : OUTPOST_LOG_ERROR,
                  LOG_FORMAT_TEXT, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
