/*
 * deadletter.c - an output's dead-letter file.
 *
 * File layout: <state_dir>/deadletter/<plugin>.<instance>, a run of
 * entries with no file header, so that two files concatenate into one:
 *
 *   entry   = [u32 len][u32 crc32(payload)][payload]        (little-endian)
 *   payload = [u8 version = 1][i64 time_ns][u16 reason_len][reason bytes]
 *             [the record, in the spill codec (record_codec.h)]
 *
 * time_ns is when the record was rejected (wall clock), reason the text the
 * plugin gave (cut to 1 KiB). "<file>.requeue" has the same layout: it
 * holds what `outpostd --requeue` moved there, read and emptied by the
 * output when it next starts.
 *
 * Invariants:
 *  1. Entries are only appended, each with one write(2) on an O_APPEND
 *     descriptor that is closed right after; a torn last entry (crash,
 *     full disk) fails its length or CRC check and ends every walk there.
 *  2. The file never grows past its limit: an entry that would cross it is
 *     refused (the caller counts and logs it as dropped).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "deadletter.h"
#include "instance.h"
#include "record_codec.h"
#include "spill.h"

#define DL_VERSION      1
#define DL_REASON_MAX   1024
#define DL_ENTRY_MAX    (64u << 20)     /* a sane bound for one record */
#define DL_HEAD         8               /* len + crc */

static void
put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t
get_u32(const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}

static void
put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static uint64_t
get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

char *
deadletter_path(const char *state_dir, const char *plugin,
                const char *instance)
{
    char *path;

    if (state_dir == NULL
        || asprintf(&path, "%s/deadletter/%s.%s", state_dir, plugin,
                    instance) < 0)
        return NULL;
    return path;
}

char *
deadletter_requeue_path(const char *path)
{
    char *r;

    return asprintf(&r, "%s.requeue", path) < 0 ? NULL : r;
}

static int
write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

static int
ensure_dir(const char *path)
{
    char *dir = strdup(path), *slash;
    int rc = 0;

    if (dir == NULL)
        return -1;
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        rc = instance_mkdir_p(dir);
    }
    free(dir);
    return rc;
}

int
deadletter_append(const char *path, uint64_t limit,
                  const outpost_record_t *rec, const char *why,
                  int64_t time_ns)
{
    struct codec_buf b = { 0 };
    size_t rlen = why ? strlen(why) : 0;
    struct stat st;
    int fd, rc = -1, saved;

    if (rlen > DL_REASON_MAX)
        rlen = DL_REASON_MAX;
    if (codec_buf_reserve(&b, DL_HEAD + 11 + rlen) != 0)
        return -1;
    b.len = DL_HEAD;
    b.p[b.len++] = DL_VERSION;
    put_u64(b.p + b.len, (uint64_t) time_ns);
    b.len += 8;
    b.p[b.len++] = (uint8_t) rlen;
    b.p[b.len++] = (uint8_t) (rlen >> 8);
    if (rlen)
        memcpy(b.p + b.len, why, rlen);
    b.len += rlen;
    if (record_encode(rec, &b) != 0 || b.len - DL_HEAD > DL_ENTRY_MAX) {
        codec_buf_free(&b);
        errno = ENOMEM;
        return -1;
    }
    put_u32(b.p, (uint32_t) (b.len - DL_HEAD));
    put_u32(b.p + 4, spill_crc32(b.p + DL_HEAD, b.len - DL_HEAD));

    if (ensure_dir(path) != 0) {
        codec_buf_free(&b);
        return -1;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        codec_buf_free(&b);
        return -1;
    }
    if (fstat(fd, &st) == 0 && (uint64_t) st.st_size + b.len > limit)
        rc = 1;                                 /* invariant 2 */
    else if (write_all(fd, b.p, b.len) == 0)
        rc = 0;
    saved = errno;
    close(fd);
    codec_buf_free(&b);
    errno = saved;
    return rc;
}

/* The whole file; NULL with errno set (ENOENT: none). */
static uint8_t *
read_whole(const char *path, size_t *len)
{
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), saved;

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || (buf = malloc((size_t) st.st_size + 1))
                               == NULL) {
        saved = errno;
        close(fd);
        errno = saved;
        return NULL;
    }
    while (got < (size_t) st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    close(fd);
    *len = got;
    return buf;
}

long
deadletter_walk(const char *path, deadletter_fn fn, void *arg, int *damaged)
{
    struct record_decoder dec = { 0 };
    size_t len, off = 0;
    uint8_t *buf = read_whole(path, &len);
    long count = 0;

    if (damaged)
        *damaged = 0;
    if (buf == NULL)
        return -1;
    while (off < len) {
        const uint8_t *e = buf + off, *p;
        uint32_t plen, rlen;
        outpost_record_t *rec;
        char why[DL_REASON_MAX + 1];
        int64_t t;
        int stop;

        if (len - off < DL_HEAD || (plen = get_u32(e)) < 11
            || plen > len - off - DL_HEAD
            || spill_crc32(e + DL_HEAD, plen) != get_u32(e + 4)
            || e[DL_HEAD] != DL_VERSION)
            goto damaged;
        p = e + DL_HEAD + 1;
        t = (int64_t) get_u64(p);
        rlen = (uint32_t) p[8] | (uint32_t) p[9] << 8;
        if (rlen > DL_REASON_MAX || 11 + rlen > plen)
            goto damaged;
        memcpy(why, p + 10, rlen);
        why[rlen] = '\0';
        if (record_decode(&dec, p + 10 + rlen, plen - 11 - rlen, &rec)
            != CODEC_OK)
            goto damaged;
        stop = fn(rec, why, t, arg);
        outpost_record_unref(rec);
        count++;
        off += DL_HEAD + plen;
        if (stop)
            break;
        continue;
damaged:
        if (damaged)
            *damaged = 1;
        break;
    }
    record_decoder_free(&dec);
    free(buf);
    return count;
}

/* --- the commands ------------------------------------------------------- */

static int
print_one(const outpost_record_t *rec, const char *why, int64_t time_ns,
          void *arg)
{
    time_t secs = (time_t) (time_ns / 1000000000LL);
    char *rtext = NULL, *wtext;
    json_t *w = json_string(why);
    struct tm tm;
    size_t rlen;

    gmtime_r(&secs, &tm);
    wtext = w ? json_dumps(w, JSON_ENCODE_ANY) : NULL;
    if (wtext && outpost_record_to_json(rec, &rtext, &rlen) == 0)
        fprintf(arg, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\","
                "\"time_ns\":%" PRId64 ",\"reason\":%s,\"record\":%s}\n",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec,
                (int) ((time_ns / 1000000LL) % 1000), time_ns, wtext, rtext);
    free(rtext);
    free(wtext);
    json_decref(w);
    return 0;
}

long
deadletter_print(const char *path, FILE *out)
{
    return deadletter_walk(path, print_one, out, NULL);
}

static int
count_one(const outpost_record_t *rec, const char *why, int64_t t, void *a)
{
    (void) rec; (void) why; (void) t; (void) a;
    return 0;
}

long
deadletter_requeue(const char *path)
{
    char *rq = deadletter_requeue_path(path), *part = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    long n = -1;
    int fd;

    if (rq == NULL || asprintf(&part, "%s.part", rq) < 0)
        goto out;
    /* Take the file away first: an agent that rejects a record meanwhile
     * starts a new one (invariant 1). */
    if (rename(path, part) != 0)
        goto out;
    if ((n = deadletter_walk(part, count_one, NULL, NULL)) < 0)
        goto out;
    if (access(rq, F_OK) != 0) {
        if (rename(part, rq) != 0)
            n = -1;
        goto out;
    }
    buf = read_whole(part, &len);
    fd = buf ? open(rq, O_WRONLY | O_APPEND | O_CLOEXEC) : -1;
    if (fd < 0 || write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
        if (fd >= 0)
            close(fd);
        rename(part, path);         /* leave things as they were */
        n = -1;
        goto out;
    }
    close(fd);
    unlink(part);
out:
    free(buf);
    free(part);
    free(rq);
    return n;
}
