/*
 * statefile.c - snapshots and the writer thread (statefile.h);
 * statefile_load.c reads the files back.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "statefile.h"
#include "statefile_int.h"

enum entry_kind { E_SLOT, E_JSON, E_TEXT };

struct snap_entry {
    const char       *name;         /* in the snapshot's chunks */
    outpost_tagset_t *tags;         /* referenced, or NULL */
    enum entry_kind   kind;
    const char       *bytes;        /* E_SLOT, E_TEXT: in the chunks */
    size_t            len;
    json_t           *json;         /* E_JSON */
};

/* Names and bytes go into chunks that never move: a snapshot of tens of
 * megabytes grows without copying itself, and without one allocation of
 * that size in a tick. */
#define CHUNK_BYTES (1u << 20)

struct chunk {
    struct chunk *next;
    size_t        len, cap;
    char          bytes[];
};

struct statefile_snap {
    char              *plugin;
    uint32_t           layout;
    int64_t            saved_at;
    struct snap_entry *v;
    size_t             n, cap;
    struct chunk      *chunks, *tail;  /* tail: the one being filled */
    json_t            *global;
    int                failed;      /* memory ran out while building */
    struct statefile_snap *next;    /* in statefile.discard */
};

/* --- building snapshots (caller's thread, keep it cheap) ---------------- */

static int
grow(void *pp, size_t *cap, size_t need, size_t size)
{
    void *p;
    size_t c = *cap ? *cap : 16;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    p = realloc(*(void **) pp, c * size);
    if (p == NULL)
        return -1;
    *(void **) pp = p;
    *cap = c;
    return 0;
}

struct statefile_snap *
statefile_snap_new(struct statefile *sf)
{
    struct statefile_snap *s;

    if (sf == NULL)
        return NULL;
    /* The last snapshot's memory, still mapped: a large save then costs
     * no allocation and no page faults under the pipeline lock. */
    pthread_mutex_lock(&sf->lock);
    s = sf->spare;
    sf->spare = NULL;
    pthread_mutex_unlock(&sf->lock);
    if (s) {
        s->saved_at = outpost_time_now();
        return s;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    s->plugin = strdup(sf->plugin);
    if (s->plugin == NULL) {
        free(s);
        return NULL;
    }
    s->layout = sf->layout;
    s->saved_at = outpost_time_now();
    return s;
}

void
statefile_snap_reserve(struct statefile_snap *s, size_t n)
{
    if (s == NULL)
        return;
    if (grow(&s->v, &s->cap, s->n + n, sizeof(*s->v)) != 0)
        s->failed = 1;
}

/* A copy of p (len bytes) in s's chunks, or NULL (s->failed set). */
static const char *
keep_bytes(struct statefile_snap *s, const void *p, size_t len)
{
    struct chunk *c = s->tail;
    char *at;

    while (c && c->len + len > c->cap)      /* reused chunks first */
        c = c->next;
    if (c == NULL) {
        size_t cap = len > CHUNK_BYTES ? len : CHUNK_BYTES;

        if ((c = malloc(sizeof(*c) + cap)) == NULL) {
            s->failed = 1;
            return NULL;
        }
        c->len = 0;
        c->cap = cap;
        c->next = NULL;
        if (s->tail) {                  /* after the tail, before reused */
            c->next = s->tail->next;
            s->tail->next = c;
        } else {
            c->next = s->chunks;
            s->chunks = c;
        }
    }
    s->tail = c;
    at = c->bytes + c->len;
    memcpy(at, p, len);
    c->len += len;
    return at;
}

/* A new entry named name, or NULL (s->failed set). */
static struct snap_entry *
add_entry(struct statefile_snap *s, const char *name, enum entry_kind kind)
{
    const char *copy;
    struct snap_entry *e;

    if (s->failed || grow(&s->v, &s->cap, s->n + 1, sizeof(*s->v)) != 0
        || (copy = keep_bytes(s, name, strlen(name) + 1)) == NULL) {
        s->failed = 1;
        return NULL;
    }
    e = &s->v[s->n++];
    memset(e, 0, sizeof(*e));
    e->name = copy;
    e->kind = kind;
    return e;
}

static int
add_bytes(struct statefile_snap *s, struct snap_entry *e, const void *p,
          size_t len)
{
    if ((e->bytes = keep_bytes(s, p, len)) == NULL) {
        s->n--;
        return -1;
    }
    e->len = len;
    return 0;
}

void
statefile_snap_slot(struct statefile_snap *s, const char *name,
                    outpost_tagset_t *tags, const void *slot, size_t len)
{
    struct snap_entry *e = s ? add_entry(s, name, E_SLOT) : NULL;

    if (e && add_bytes(s, e, slot, len) == 0)
        e->tags = tags ? outpost_tagset_ref(tags) : NULL;
}

void
statefile_snap_json(struct statefile_snap *s, const char *name,
                    outpost_tagset_t *tags, json_t *state)
{
    struct snap_entry *e = s && state ? add_entry(s, name, E_JSON) : NULL;

    if (e == NULL) {
        if (s)
            s->failed = 1;
        json_decref(state);
        return;
    }
    e->json = state;
    e->tags = tags ? outpost_tagset_ref(tags) : NULL;
}

void
statefile_snap_text(struct statefile_snap *s, const char *name,
                    const char *text, size_t len)
{
    struct snap_entry *e = s ? add_entry(s, name, E_TEXT) : NULL;

    if (e)
        add_bytes(s, e, text, len);
}

void
statefile_snap_global(struct statefile_snap *s, json_t *global)
{
    if (s == NULL || global == NULL) {
        if (s)
            s->failed = 1;
        json_decref(global);
        return;
    }
    json_decref(s->global);
    s->global = global;
}

size_t
statefile_snap_count(const struct statefile_snap *s)
{
    return s ? s->n : 0;
}

/* Empties s, keeping its memory. */
static void
snap_reset(struct statefile_snap *s)
{
    for (size_t i = 0; i < s->n; i++) {
        outpost_tagset_unref(s->v[i].tags);
        json_decref(s->v[i].json);
    }
    json_decref(s->global);
    s->global = NULL;
    s->n = 0;
    for (struct chunk *c = s->chunks; c; c = c->next)
        c->len = 0;
    s->tail = s->chunks;
    s->failed = 0;
    s->next = NULL;
}

void
statefile_snap_free(struct statefile_snap *s)
{
    if (s == NULL)
        return;
    snap_reset(s);
    free(s->v);
    while (s->chunks) {
        struct chunk *next = s->chunks->next;
        free(s->chunks);
        s->chunks = next;
    }
    free(s->plugin);
    free(s);
}

/* --- encoding (the writer's thread) ------------------------------------- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encodes into a buffer and writes it in large pieces: a slot is a few KB,
 * and one stdio call per 4 characters cost more than the encoding. */
static void
put_base64(FILE *f, const unsigned char *p, size_t len)
{
    char out[4096];
    size_t i, n = 0;

    for (i = 0; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8
                     | p[i + 2];

        if (n + 4 > sizeof(out)) {
            fwrite(out, 1, n, f);
            n = 0;
        }
        out[n++] = b64[v >> 18];
        out[n++] = b64[(v >> 12) & 63];
        out[n++] = b64[(v >> 6) & 63];
        out[n++] = b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t) p[i] << 16
                     | (i + 1 < len ? (uint32_t) p[i + 1] << 8 : 0);

        if (n + 4 > sizeof(out)) {
            fwrite(out, 1, n, f);
            n = 0;
        }
        out[n++] = b64[v >> 18];
        out[n++] = b64[(v >> 12) & 63];
        out[n++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[n++] = '=';
    }
    fwrite(out, 1, n, f);
}

/* A JSON string: the escapes JSON requires, UTF-8 as it is. */
static void
put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void
put_entry(FILE *f, const struct snap_entry *e)
{
    fputs("{\"name\":", f);
    put_str(f, e->name);
    if (e->tags) {
        fputs(",\"tags\":{", f);
        for (size_t i = 0; i < outpost_tagset_count(e->tags); i++) {
            const outpost_tag_t *t = outpost_tagset_at(e->tags, i);
            if (i > 0)
                fputc(',', f);
            put_str(f, t->key);
            fputc(':', f);
            put_str(f, t->value);
        }
        fputc('}', f);
    }
    switch (e->kind) {
    case E_SLOT:
        fputs(",\"slot\":\"", f);
        put_base64(f, (const unsigned char *) e->bytes, e->len);
        fputc('"', f);
        break;
    case E_JSON:
        fputs(",\"state\":", f);
        json_dumpf(e->json, f, JSON_COMPACT | JSON_ENCODE_ANY);
        break;
    case E_TEXT:
        fputs(",\"state\":", f);
        fwrite(e->bytes, 1, e->len, f);
        break;
    }
    fputs("}\n", f);
}

int
statefile_write(const struct statefile_snap *s, const char *path)
{
    char tmp[4200];
    FILE *f;
    int fd, rc = -1, saved;

    if (s->failed) {
        errno = ENOMEM;
        return -1;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int) sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* Private like the core's own state: tags are the operator's data. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    f = fdopen(fd, "w");
    if (f == NULL) {
        saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return -1;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    fprintf(f, "{\"outpost_state\":%d,\"plugin\":", STATEFILE_FORMAT);
    put_str(f, s->plugin);
    fprintf(f, ",\"layout\":%u,\"saved_at\":%lld,\"entries\":%zu",
            s->layout, (long long) s->saved_at, s->n);
    if (s->global) {
        fputs(",\"global\":", f);
        json_dumpf(s->global, f, JSON_COMPACT);
    }
    fputs("}\n", f);
    for (size_t i = 0; i < s->n; i++)
        put_entry(f, &s->v[i]);
    if (!ferror(f) && fflush(f) == 0 && fsync(fileno(f)) == 0)
        rc = 0;
    saved = errno;
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0)
        unlink(tmp);
    errno = saved;
    return rc;
}

/* --- the writer thread --------------------------------------------------- */

/* Keeps s (written or replaced) as the spare, or frees it. Writer. */
static void
recycle(struct statefile *sf, struct statefile_snap *s)
{
    snap_reset(s);
    pthread_mutex_lock(&sf->lock);
    if (sf->spare == NULL && !sf->stopping) {
        sf->spare = s;
        s = NULL;
    }
    pthread_mutex_unlock(&sf->lock);
    statefile_snap_free(s);
}

static void
write_logged(struct statefile *sf, struct statefile_snap *s)
{
    if (statefile_write(s, sf->path) != 0)
        outpost_log(sf->inst, OUTPOST_LOG_ERROR, "save", "cannot save %s: %s",
                    sf->path, strerror(errno));
}

static void *
writer_main(void *arg)
{
    struct statefile *sf = arg;
    struct statefile_snap *s;

    /* Encoding a large table is work that can wait: the checks first. */
    setpriority(PRIO_PROCESS, (id_t) gettid(), 10);
    pthread_mutex_lock(&sf->lock);
    for (;;) {
        struct statefile_snap *discard;

        while (sf->pending == NULL && sf->discard == NULL && !sf->stopping)
            pthread_cond_wait(&sf->wake, &sf->lock);
        discard = sf->discard;
        sf->discard = NULL;
        if (sf->pending == NULL && discard == NULL)
            break;
        s = sf->pending;
        sf->pending = NULL;
        sf->busy = 1;
        pthread_mutex_unlock(&sf->lock);
        /* Freeing tens of megabytes (unmapping them) is not for tick. */
        while (discard) {
            struct statefile_snap *next = discard->next;
            recycle(sf, discard);
            discard = next;
        }
        if (s) {
            write_logged(sf, s);
            recycle(sf, s);
        }
        pthread_mutex_lock(&sf->lock);
        sf->busy = 0;
        sf->written += s != NULL;
        pthread_cond_broadcast(&sf->idle);
    }
    pthread_mutex_unlock(&sf->lock);
    return NULL;
}

struct statefile *
statefile_new(const char *dir, const char *file, const char *plugin,
              uint32_t layout, const outpost_instance_t *inst)
{
    struct statefile *sf = calloc(1, sizeof(*sf));

    if (sf == NULL)
        return NULL;
    sf->inst = inst;
    sf->layout = layout;
    if (asprintf(&sf->path, "%s/%s", dir, file) < 0)
        sf->path = NULL;
    sf->plugin = strdup(plugin);
    if (sf->path == NULL || sf->plugin == NULL) {
        free(sf->path);
        free(sf->plugin);
        free(sf);
        return NULL;
    }
    pthread_mutex_init(&sf->lock, NULL);
    pthread_cond_init(&sf->wake, NULL);
    pthread_cond_init(&sf->idle, NULL);
    return sf;
}

struct statefile *
statefile_for(outpost_instance_t *inst, const char *file, uint32_t layout)
{
    const char *dir = outpost_instance_state_dir(inst);

    if (dir == NULL) {
        outpost_log(inst, OUTPOST_LOG_WARN, "state",
                    "no state directory: %s is neither saved nor restored",
                    file);
        return NULL;
    }
    return statefile_new(dir, file, outpost_instance_plugin(inst), layout,
                         inst);
}

const char *
statefile_path(const struct statefile *sf)
{
    return sf ? sf->path : NULL;
}

void
statefile_submit(struct statefile *sf, struct statefile_snap *s)
{
    struct statefile_snap *old;

    if (sf == NULL || s == NULL) {
        statefile_snap_free(s);
        return;
    }
    if (s->failed) {
        outpost_log(sf->inst, OUTPOST_LOG_WARN, "save",
                    "out of memory: %s is not saved this time", sf->path);
        statefile_snap_free(s);
        return;
    }
    pthread_mutex_lock(&sf->lock);
    if (!sf->started) {
        if (pthread_create(&sf->thread, NULL, writer_main, sf) != 0) {
            pthread_mutex_unlock(&sf->lock);
            /* No thread: late but not lost. */
            outpost_log(sf->inst, OUTPOST_LOG_WARN, "save", "cannot start "
                        "the state writer: saving %s in place", sf->path);
            write_logged(sf, s);
            statefile_snap_free(s);
            return;
        }
        sf->started = 1;
    }
    old = sf->pending;
    sf->pending = s;
    if (old) {
        sf->superseded++;
        old->next = sf->discard;
        sf->discard = old;
    }
    pthread_cond_signal(&sf->wake);
    pthread_mutex_unlock(&sf->lock);
}

void
statefile_wait(struct statefile *sf)
{
    if (sf == NULL)
        return;
    pthread_mutex_lock(&sf->lock);
    while (sf->pending || sf->discard || sf->busy)
        pthread_cond_wait(&sf->idle, &sf->lock);
    pthread_mutex_unlock(&sf->lock);
}

void
statefile_counts(struct statefile *sf, uint64_t *written,
                 uint64_t *superseded)
{
    pthread_mutex_lock(&sf->lock);
    *written = sf->written;
    *superseded = sf->superseded;
    pthread_mutex_unlock(&sf->lock);
}

int
statefile_close(struct statefile *sf, struct statefile_snap *last)
{
    struct statefile_snap *left;
    int rc = 0;

    if (sf == NULL) {
        statefile_snap_free(last);
        return 0;
    }
    pthread_mutex_lock(&sf->lock);
    left = sf->pending;
    sf->pending = NULL;
    sf->stopping = 1;
    pthread_cond_signal(&sf->wake);
    pthread_mutex_unlock(&sf->lock);
    /* A write under way finishes first: the last one must be last. */
    if (sf->started)
        pthread_join(sf->thread, NULL);
    if (last) {
        statefile_snap_free(left);
        left = last;
    }
    if (left && left->failed) {
        outpost_log(sf->inst, OUTPOST_LOG_ERROR, "save",
                    "out of memory: %s is not saved", sf->path);
        rc = -1;
    } else if (left && statefile_write(left, sf->path) != 0) {
        outpost_log(sf->inst, OUTPOST_LOG_ERROR, "save", "cannot save %s: %s",
                    sf->path, strerror(errno));
        rc = -1;
    }
    statefile_snap_free(left);
    statefile_snap_free(sf->spare);
    pthread_cond_destroy(&sf->wake);
    pthread_cond_destroy(&sf->idle);
    pthread_mutex_destroy(&sf->lock);
    free(sf->path);
    free(sf->plugin);
    free(sf);
    return rc;
}
