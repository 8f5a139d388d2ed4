/*
 * spill_scan.c - opening a spill directory: taking its lock, reading the
 * saved read position (a damaged one means "replay from the start"),
 * scanning the segments found there (damage costs the entries it touches,
 * which are logged and counted; the good ones around it are kept) and
 * rebuilding the segment list, so what an earlier run left behind is
 * delivered first.
 *
 * The layout on disk and the numbered invariants are described at the
 * top of spill.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "spill.h"
#include "spill_internal.h"

#define SEG_DEFAULT     (4u << 20)
#define SEG_MIN         (64u << 10)
#define SEQ_BASE        (UINT64_C(1) << 32)

/* --- small helpers ------------------------------------------------------ */

static int
mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* --- the position file: recovery -------------------------------------- */

/* 0 and the saved position, or -1 when there is none worth trusting. */
static int
pos_load(struct spill *s, uint64_t *seq, uint64_t *off)
{
    uint8_t b[POS_SIZE];
    ssize_t n = pread(s->pos_fd, b, sizeof(b), 0);

    if (n == 0)
        return -1;                      /* a new directory */
    if (n != (ssize_t) sizeof(b) || get_le32(b) != POS_MAGIC
        || get_le32(b + 4) != POS_VERSION
        || get_le32(b + 24) != spill_crc32(b, 24)) {
        spill_log(s, OUTPOST_LOG_WARN, "replay",
                  "%s/" POS_FILE " is damaged: replaying every segment "
                  "from its start (some records may be sent twice)", s->dir);
        return -1;
    }
    *seq = get_le64(b + 8);
    *off = get_le64(b + 16);
    return 0;
}

static int
pos_open(struct spill *s)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/" POS_FILE, s->dir);
    s->pos_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->pos_fd < 0) {
        spill_log(s, OUTPOST_LOG_ERROR, "open", "cannot open %s: %s", path,
                  strerror(errno));
        return -1;
    }
    if (flock(s->pos_fd, LOCK_EX | LOCK_NB) != 0) {
        spill_log(s, OUTPOST_LOG_ERROR, "open",
                  "%s is in use by another process (%s)", s->dir,
                  strerror(errno));
        return -1;
    }
    return 0;
}

/* --- opening: scan and replay -------------------------------------------- */

/* Reads a whole segment file. 0; 1 when it is not a regular file; -1
 * when it cannot be read (errno). */
static int
read_file(const char *path, struct codec_buf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    int rc = -1;

    if (fd < 0)
        return errno == ELOOP ? 1 : -1;
    b->len = 0;
    if (fstat(fd, &st) != 0)
        goto out;
    if (!S_ISREG(st.st_mode)) {
        rc = 1;
        goto out;
    }
    if (codec_buf_reserve(b, (size_t) st.st_size + 1) != 0)
        goto out;
    while (b->len < (size_t) st.st_size) {
        ssize_t n = read(fd, b->p + b->len, (size_t) st.st_size - b->len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;                      /* shrank under us: use what we got */
        b->len += (size_t) n;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

/* Validates a segment found on open: sg gets its format, size, the end
 * of its last good entry and its count of good entries, and s counts the
 * entries lost to damage (spans before the saved read position held
 * entries already delivered). With resume_off, *done and *rd_off tell
 * how many good entries lie before that offset and where the first one
 * after it starts. 0; 1: not usable, skip it (logged); -1: error. */
static int
scan_segment(struct spill *s, struct seg *sg, struct codec_buf *buf,
             const uint64_t *resume_off, uint64_t *done, uint64_t *rd_off)
{
    char path[PATH_MAX];
    struct frame_scan fs;
    int rc;

    seg_path(s, sg->seq, "", path, sizeof(path));
    rc = read_file(path, buf);
    if (rc > 0)
        spill_log(s, OUTPOST_LOG_ERROR, "replay",
                  "%s is not a regular file: skipped and left alone (the "
                  "records it held, if any, are lost)", path);
    else if (rc < 0)
        spill_log(s, OUTPOST_LOG_ERROR, "replay",
                  "cannot read %s: %s: skipped and left alone (its records "
                  "are not delivered by this run)", path, strerror(errno));
    if (rc != 0) {
        s->corrupt++;
        return 1;
    }
    sg->fmt = frame_detect(buf->p, buf->len);
    frame_scan(sg->fmt, buf->p, buf->len, resume_off ? *resume_off : 0,
               &fs);
    sg->size = buf->len;
    sg->valid = fs.end;
    sg->nrec = fs.good;
    *done = resume_off ? fs.done : 0;
    *rd_off = resume_off ? fs.rd_off : 0;
    if (fs.spans > 0) {
        s->corrupt += fs.spans;
        s->dropped += fs.lost;
        spill_log(s, fs.lost ? OUTPOST_LOG_ERROR : OUTPOST_LOG_INFO,
                  "replay", "%s: %" PRIu64 " damaged span%s (the first at "
                  "offset %" PRIu64 ")%s: %" PRIu64 " record%s lost, %"
                  PRIu64 " good records kept", path, fs.spans,
                  fs.spans == 1 ? "" : "s", fs.first_bad,
                  fs.first_bad >= fs.end ? ", a torn tail (interrupted "
                                           "write?)" : "",
                  fs.lost, fs.lost == 1 ? "" : "s", fs.good);
    }
    if (resume_off && *rd_off != *resume_off && *resume_off < fs.end)
        spill_log(s, OUTPOST_LOG_WARN, "replay",
                  "%s: saved position %" PRIu64 " is not an entry boundary; "
                  "resuming at %" PRIu64, path, *resume_off, *rd_off);
    return 0;
}

static int
seq_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}

/* The sequence numbers of the segment files, sorted; stale temporaries of
 * an interrupted spill_prepend are deleted (their records were still in
 * memory when we died). */
static int
list_segments(struct spill *s, uint64_t **out, size_t *n)
{
    DIR *d = opendir(s->dir);
    struct dirent *de;
    uint64_t *v = NULL;
    size_t cap = 0;

    *n = 0;
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char *end, path[PATH_MAX];
        uint64_t seq;

        if (strlen(de->d_name) < 20 || de->d_name[0] == '.')
            continue;
        seq = strtoull(de->d_name, &end, 16);
        if (end != de->d_name + 16)
            continue;
        if (strcmp(end, ".seg.tmp") == 0) {
            snprintf(path, sizeof(path), "%s/%s", s->dir, de->d_name);
            (void) unlink(path);        /* best effort, as unlink_seg */
            continue;
        }
        if (strcmp(end, ".seg") != 0)
            continue;
        if (*n == cap) {
            uint64_t *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));
            if (nv == NULL) {
                free(v);
                closedir(d);
                return -1;
            }
            v = nv;
            cap = cap ? cap * 2 : 16;
        }
        v[(*n)++] = seq;
    }
    closedir(d);
    if (*n > 1)
        qsort(v, *n, sizeof(*v), seq_cmp);
    *out = v;
    return 0;
}

/* Best effort: a segment that stays behind is judged again (and deleted
 * again) on the next open, by the same rules. */
static void
unlink_seg(struct spill *s, uint64_t seq)
{
    char path[PATH_MAX];

    seg_path(s, seq, "", path, sizeof(path));
    (void) unlink(path);
}

/* Rebuilds segs[] from the directory (invariant 4 decides what is left). */
static int
load_segments(struct spill *s)
{
    struct codec_buf buf = { 0 };
    uint64_t *seqs = NULL, pseq = 0, poff = 0;
    size_t n;
    int have_pos = pos_load(s, &pseq, &poff) == 0, rc = -1;

    if (list_segments(s, &seqs, &n) != 0) {
        spill_log(s, OUTPOST_LOG_ERROR, "replay", "cannot list %s: %s",
                  s->dir, strerror(errno));
        return -1;
    }
    s->next_seq = have_pos && pseq > SEQ_BASE ? pseq : SEQ_BASE;
    for (size_t i = 0; i < n; i++) {
        struct seg sg = { .seq = seqs[i] };
        int head = have_pos && sg.seq == pseq;
        uint64_t done, rd_off;

        if (sg.seq >= s->next_seq)
            s->next_seq = sg.seq + 1;
        if (have_pos && sg.seq < pseq) {
            unlink_seg(s, sg.seq);      /* consumed; died before deleting */
            continue;
        }
        rc = scan_segment(s, &sg, &buf, head ? &poff : NULL, &done,
                          &rd_off);
        if (rc < 0)
            goto out;
        if (rc > 0)
            continue;                   /* not ours to delete */
        rc = -1;
        if (sg.nrec == 0 || (head && done >= sg.nrec)) {
            unlink_seg(s, sg.seq);      /* empty, unreadable or consumed */
            continue;
        }
        if (spill_segs_insert(s, s->nsegs, &sg) != 0)
            goto out;
        if (head) {
            s->rd_off = rd_off;
            s->rd_done = done;
            s->records -= done;
        }
    }
    rc = 0;
out:
    free(seqs);
    codec_buf_free(&buf);
    return rc;
}

struct spill *
spill_open(const struct spill_opts *o)
{
    struct spill *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->wr_fd = s->rd_fd = s->pos_fd = -1;
    s->disk_limit = o->disk_limit;
    s->seg_max = o->segment_size;
    if (s->seg_max == 0) {
        /* Several segments fit under the limit, so dropping the oldest
         * one loses a slice of the backlog rather than all of it. */
        s->seg_max = SEG_DEFAULT;
        if (o->disk_limit && o->disk_limit / 8 < s->seg_max)
            s->seg_max = o->disk_limit / 8 > SEG_MIN ? o->disk_limit / 8
                                                     : SEG_MIN;
    }
    s->dir = strdup(o->dir);
    s->name = strdup(o->name ? o->name : "queue");
    if (s->dir == NULL || s->name == NULL)
        goto fail;
    if (mkdir_p(s->dir) != 0) {
        spill_log(s, OUTPOST_LOG_ERROR, "open", "cannot create %s: %s",
                  s->dir, strerror(errno));
        goto fail;
    }
    if (pos_open(s) != 0 || load_segments(s) != 0)
        goto fail;
    spill_enforce_limit(s);
    spill_pos_save(s);
    if (s->records > 0)
        spill_log(s, OUTPOST_LOG_INFO, "replay",
                  "%" PRIu64 " records in %zu segments found in %s: they "
                  "are delivered first", s->records, s->nsegs, s->dir);
    return s;
fail:
    spill_close(s);
    return NULL;
}

void
spill_close(struct spill *s)
{
    if (s == NULL)
        return;
    if (s->wr_fd >= 0)
        close(s->wr_fd);
    if (s->rd_fd >= 0)
        close(s->rd_fd);
    if (s->pos_fd >= 0)
        close(s->pos_fd);               /* releases the lock */
    codec_buf_free(&s->rbuf);
    free(s->segs);
    free(s->dir);
    free(s->name);
    free(s);
}
