/*
 * fakeapi: per-path faults and request counts.
 *
 * One table, one lock: every request takes the lock once to count itself
 * and to take (and maybe use up) its path's fault.  Paths live in an
 * open-addressing hash table whose entries are never removed while the
 * server runs, so a probe never meets a hole; clearing a fault only zeroes
 * it.  The table is capped (FA_PATHS_MAX): paths seen after that are
 * counted under "other".  Patterns ending in '*' match by prefix and live
 * in a short separate list; an exact fault wins over a pattern.
 *
 * Lock order: fa_lock, then wait.c's lock (a hang is parked under
 * fa_lock), then MHD's own.  Nothing here is called with wait.c's lock.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fakeapi.h"


#define FA_SLOTS        16384           /* a power of two */
#define FA_PATHS_MAX    (FA_SLOTS / 2)  /* keeps probes short */
#define FA_PATH_LEN     1024            /* longer paths count as "other" */
#define FA_WILD_MAX     64
#define FA_COUNT_MAX    1000000000

typedef struct {
    uint64_t                hits;
    fa_fault_t              fault;
    char                    path[];
} fa_path_t;

typedef struct {
    char                   *pattern;    /* with its trailing '*' */
    fa_fault_t              fault;
} fa_wild_t;

static pthread_mutex_t      fa_lock = PTHREAD_MUTEX_INITIALIZER;
static fa_path_t          **fa_slots;
static size_t               fa_npaths;
static uint64_t             fa_total;
static uint64_t             fa_other;
static fa_wild_t            fa_wild[FA_WILD_MAX];
static size_t               fa_nwild;


int
fa_table_init(void)
{
    fa_slots = calloc(FA_SLOTS, sizeof(fa_path_t *));
    return fa_slots != NULL ? 0 : -1;
}


void
fa_table_free(void)
{
    size_t  i;

    if (fa_slots != NULL) {
        for (i = 0; i < FA_SLOTS; i++) {
            free(fa_slots[i]);
        }
        free(fa_slots);
        fa_slots = NULL;
    }

    for (i = 0; i < fa_nwild; i++) {
        free(fa_wild[i].pattern);
    }
    fa_nwild = 0;
    fa_npaths = 0;
}


static int
fa_fault_active(const fa_fault_t *f)
{
    return f->status || f->delay_ms || f->hang || f->drop || f->reset
           || f->body != FA_BODY_NONE;
}


/* FNV-1a: short keys, good spread, no setup. */
static uint32_t
fa_hash(const char *s)
{
    uint32_t  h = 2166136261u;

    while (*s != '\0') {
        h ^= (unsigned char) *s++;
        h *= 16777619u;
    }

    return h;
}


/* Call with fa_lock held.  NULL: not there and not created. */
static fa_path_t *
fa_path_get(const char *path, int create)
{
    fa_path_t  *p;
    size_t      i, len;

    for (i = fa_hash(path) & (FA_SLOTS - 1);
         fa_slots[i] != NULL;
         i = (i + 1) & (FA_SLOTS - 1))
    {
        if (strcmp(fa_slots[i]->path, path) == 0) {
            return fa_slots[i];
        }
    }

    len = strlen(path);
    if (!create || fa_npaths >= FA_PATHS_MAX || len > FA_PATH_LEN) {
        return NULL;
    }

    p = calloc(1, sizeof(fa_path_t) + len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p->path, path, len + 1);
    fa_slots[i] = p;
    fa_npaths++;
    return p;
}


int
fa_fault_match(const char *pattern, const char *path)
{
    size_t  len = strlen(pattern);

    if (len > 0 && pattern[len - 1] == '*') {
        return strncmp(pattern, path, len - 1) == 0;
    }

    return strcmp(pattern, path) == 0;
}


/* Call with fa_lock held.  The longest matching pattern wins. */
static fa_wild_t *
fa_wild_find(const char *path)
{
    fa_wild_t  *best = NULL;
    size_t      i;

    for (i = 0; i < fa_nwild; i++) {
        if (fa_fault_match(fa_wild[i].pattern, path)
            && (best == NULL
                || strlen(fa_wild[i].pattern) > strlen(best->pattern)))
        {
            best = &fa_wild[i];
        }
    }

    return best;
}


static void
fa_wild_remove(fa_wild_t *w)
{
    free(w->pattern);
    *w = fa_wild[--fa_nwild];
}


/* Copies the fault out and uses up one of its `count`, if it has one. */
static int
fa_fault_take(fa_fault_t *f, fa_fault_t *out)
{
    *out = *f;

    if (f->count > 0 && --f->count == 0) {
        memset(f, 0, sizeof(*f));
        return 1;       /* used up */
    }

    return 0;
}


int
fa_table_hit(const char *path, fa_fault_t *fault, fa_hang_pt hang,
    void *ctx)
{
    fa_path_t  *p;
    fa_wild_t  *w;
    int         rc = 0;

    memset(fault, 0, sizeof(*fault));

    pthread_mutex_lock(&fa_lock);

    fa_total++;
    p = fa_path_get(path, 1);
    if (p != NULL) {
        p->hits++;
    } else {
        fa_other++;
    }

    if (p != NULL && fa_fault_active(&p->fault)) {
        (void) fa_fault_take(&p->fault, fault);
    } else {
        w = fa_wild_find(path);
        if (w != NULL && fa_fault_take(&w->fault, fault)) {
            fa_wild_remove(w);
        }
    }

    /* parked under the lock, so a clear cannot slip in before it */
    if (fault->hang) {
        rc = hang(ctx);
    }

    pthread_mutex_unlock(&fa_lock);
    return rc;
}


/*
 * The keys a fault takes, in the config file and the admin API alike.
 * A key whose range is 0..1 is a flag, shown as true in JSON.
 */
typedef struct {
    const char             *key;
    size_t                  offset;     /* of an unsigned in fa_fault_t */
    unsigned                min;
    unsigned                max;
} fa_fault_key_t;

static const fa_fault_key_t  fa_fault_keys[] = {
    { "status",   offsetof(fa_fault_t, status),   200, 599 },
    { "delay_ms", offsetof(fa_fault_t, delay_ms), 0,   FA_DELAY_MAX },
    { "hang",     offsetof(fa_fault_t, hang),     0,   1 },
    { "drop",     offsetof(fa_fault_t, drop),     0,   1 },
    { "reset",    offsetof(fa_fault_t, reset),    0,   1 },
    { "count",    offsetof(fa_fault_t, count),    0,   FA_COUNT_MAX },
    { "retry_after", offsetof(fa_fault_t, retry_after), 0, 1000000000 },
    { "retry_date", offsetof(fa_fault_t, retry_date), 0, 1000000000 },
    { NULL, 0, 0, 0 }
};


/* What body=crlf puts after its CR LF: a line a log reader would trust. */
#define FA_FORGED  "2026-01-01T00:00:00.000Z error core forged: " \
                   "injected line\\u0007"

/* body=<word>, indexed by FA_BODY_* */
static const char *const  fa_bodies[] = {
    "", "badjson", "echo", "shape", "crlf", "huge", NULL
};


#define fa_fault_field(f, k)  ((unsigned *) ((char *) (f) + (k)->offset))


/* Sets one key of `f`, or writes what was wrong into err and fails. */
int
fa_fault_parse(fa_fault_t *f, const char *key, const char *val,
    char *err, size_t len)
{
    const fa_fault_key_t  *k;

    /* the only key whose value is a word: what to put in the body */
    if (strcmp(key, "body") == 0) {
        for (size_t b = 1; fa_bodies[b] != NULL; b++) {
            if (strcmp(val, fa_bodies[b]) == 0) {
                f->body = (unsigned) b;
                return 0;
            }
        }
        snprintf(err, len, "body: must be badjson, echo, shape, "
                 "crlf or huge");
        return -1;
    }

    for (k = fa_fault_keys; k->key != NULL; k++) {
        if (strcmp(k->key, key) != 0) {
            continue;
        }

        if (fa_parse_uint(val, k->min, k->max, fa_fault_field(f, k)) != 0) {
            snprintf(err, len, "%s: must be %u..%u", key, k->min, k->max);
            return -1;
        }
        return 0;
    }

    snprintf(err, len, "%s: unknown key (status, delay_ms, hang, drop, "
             "reset, count, retry_after, retry_date, body)", key);
    return -1;
}


static const char *
fa_pattern_check(const char *path, const fa_fault_t *f)
{
    const char  *star;

    if (path == NULL || (path[0] != '/' && strcmp(path, "*") != 0)) {
        return "path must start with '/' (or be \"*\")";
    }

    star = strchr(path, '*');
    if (star != NULL && star[1] != '\0') {
        return "'*' may only end a path";
    }

    if (strncmp(path, "/_admin/", sizeof("/_admin/") - 1) == 0) {
        return "/_admin/ paths take no faults";
    }

    if (!fa_fault_active(f)) {
        return "no fault given (status, delay_ms, hang, drop, reset or "
               "body)";
    }

    return NULL;
}


/* Replaces the fault on `path`; returns NULL or what was wrong. */
const char *
fa_fault_set(const char *path, const fa_fault_t *f)
{
    const char  *err;
    fa_path_t   *p;
    size_t       i;

    err = fa_pattern_check(path, f);
    if (err != NULL) {
        return err;
    }

    pthread_mutex_lock(&fa_lock);

    if (path[strlen(path) - 1] != '*') {
        p = fa_path_get(path, 1);
        if (p == NULL) {
            err = "too many paths, or path too long";
        } else {
            p->fault = *f;
        }
        goto out;
    }

    for (i = 0; i < fa_nwild; i++) {
        if (strcmp(fa_wild[i].pattern, path) == 0) {
            fa_wild[i].fault = *f;
            goto out;
        }
    }

    if (fa_nwild == FA_WILD_MAX) {
        err = "too many '*' patterns";
        goto out;
    }

    fa_wild[fa_nwild].pattern = strdup(path);
    if (fa_wild[fa_nwild].pattern == NULL) {
        err = "out of memory";
        goto out;
    }
    fa_wild[fa_nwild++].fault = *f;

out:
    pthread_mutex_unlock(&fa_lock);
    return err;
}


/* Call with fa_lock held. */
static int
fa_fault_exists(const char *path)
{
    fa_path_t  *p;
    size_t      i;

    p = fa_path_get(path, 0);
    if (p != NULL) {
        return fa_fault_active(&p->fault);
    }

    for (i = 0; i < fa_nwild; i++) {
        if (strcmp(fa_wild[i].pattern, path) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * Returns 1 if `path` had a fault.  Requests hanging on paths that match
 * it are released either way: a `count` may have used the fault up while
 * they still hang.
 */
int
fa_fault_clear(const char *path)
{
    fa_path_t  *p;
    size_t      i;
    int         found = 0;

    pthread_mutex_lock(&fa_lock);

    p = fa_path_get(path, 0);
    if (p != NULL && fa_fault_active(&p->fault)) {
        memset(&p->fault, 0, sizeof(p->fault));
        found = 1;
    }

    for (i = 0; i < fa_nwild; i++) {
        if (strcmp(fa_wild[i].pattern, path) == 0) {
            fa_wild_remove(&fa_wild[i]);
            found = 1;
            break;
        }
    }

    pthread_mutex_unlock(&fa_lock);

    fa_wait_release(path);
    return found;
}


void
fa_fault_clear_all(void)
{
    size_t  i;

    pthread_mutex_lock(&fa_lock);

    for (i = 0; i < FA_SLOTS; i++) {
        if (fa_slots[i] != NULL) {
            memset(&fa_slots[i]->fault, 0, sizeof(fa_fault_t));
        }
    }

    while (fa_nwild > 0) {
        fa_wild_remove(&fa_wild[0]);
    }

    pthread_mutex_unlock(&fa_lock);

    fa_wait_release(NULL);
}


/* Only the keys that are set: { "status": 503, "hang": true, ... } */
json_t *
fa_fault_to_json(const fa_fault_t *f)
{
    const fa_fault_key_t  *k;
    json_t                *j = json_object();
    unsigned               v;

    if (j == NULL) {
        return NULL;
    }

    for (k = fa_fault_keys; k->key != NULL; k++) {
        v = *(const unsigned *) ((const char *) f + k->offset);
        if (v != 0) {
            json_object_set_new(j, k->key, k->max == 1 ? json_true()
                                                       : json_integer(v));
        }
    }

    if (f->body != FA_BODY_NONE) {
        json_object_set_new(j, "body", json_string(fa_bodies[f->body]));
    }

    return j;
}


/*
 * The answer of a fault that has a status or a body: the status (200 for
 * a body alone) with {"error":"injected fault",...}, or the body asked
 * for, and Retry-After when retry_after or retry_date is set.
 *
 * body=echo is what careless vendors do: a 401 whose message quotes the
 * request's credentials (Authorization, X-API-Key, x-goog-api-key and a
 * `key` query argument) back.
 */
static int
fa_echo_reply(const fa_request_t *r, unsigned status, fa_reply_t *out)
{
    static const char *const  heads[] = {
        "Authorization", "X-API-Key", "x-goog-api-key", NULL
    };
    const char  *v;
    char         msg[2048];
    size_t       n;

    n = (size_t) snprintf(msg, sizeof(msg), "Invalid API Key provided:");
    for (size_t i = 0; heads[i] != NULL && n < sizeof(msg); i++) {
        v = fa_request_header(r, heads[i]);
        if (v != NULL) {
            n += (size_t) snprintf(msg + n, sizeof(msg) - n, " %s: %s",
                                   heads[i], v);
        }
    }
    v = fa_request_arg(r, "key");
    if (v != NULL && n < sizeof(msg)) {
        (void) snprintf(msg + n, sizeof(msg) - n, " (query key=%s)", v);
    }

    return fa_reply_jansson(out, status,
                            json_pack("{s:{s:s, s:s}, s:s}", "error",
                                      "message", msg,
                                      "type", "invalid_request_error",
                                      "message", msg));
}


/* body=huge: what a hostile or broken server sends to a check that reads
 * its body, 1 MiB (the checks' default max_body) of one letter. */
static int
fa_huge_reply(unsigned status, fa_reply_t *out)
{
    static const char  head[] = "{\"data\":\"", tail[] = "\"}";
    size_t             len = 1024 * 1024;
    char              *body = malloc(len + 1);
    int                rc;

    if (body == NULL) {
        return -1;
    }
    memcpy(body, head, sizeof(head) - 1);
    memset(body + sizeof(head) - 1, 'a', len - sizeof(head) - sizeof(tail) + 2);
    memcpy(body + len - sizeof(tail) + 1, tail, sizeof(tail));
    rc = fa_reply_json(out, status, "%s", body);
    free(body);
    return rc;
}


int
fa_fault_reply(const fa_fault_t *f, const fa_request_t *r, fa_reply_t *out)
{
    unsigned    status = f->status ? f->status : MHD_HTTP_OK;
    char        secs[64];
    int         rc;
    time_t      when;
    struct tm   tm;

    switch (f->body) {
    case FA_BODY_BADJSON:
        rc = fa_reply_json(out, status, "%s",
                           "{\"object\":\"list\",\"data\":[{\"id\":");
        break;
    case FA_BODY_ECHO:
        rc = fa_echo_reply(r, f->status ? f->status : MHD_HTTP_UNAUTHORIZED,
                           out);
        break;
    case FA_BODY_SHAPE:
        rc = fa_reply_json(out, status, "%s",
                           "{\"status\":[1,2],\"components\":{\"name\":5}}");
        break;
    case FA_BODY_CRLF:
        rc = fa_reply_json(out, f->status ? f->status : MHD_HTTP_UNAUTHORIZED,
                           "%s", "{\"error\":{\"message\":\"denied\\r\\n"
                           FA_FORGED "\"},\"message\":\"denied\\r\\n"
                           FA_FORGED "\"}");
        break;
    case FA_BODY_HUGE:
        rc = fa_huge_reply(status, out);
        break;
    default:
        rc = fa_reply_json(out, status,
                           "{\"error\":\"injected fault\",\"status\":%u}",
                           status);
    }
    if (rc != 0) {
        return -1;
    }

    if (f->retry_after != 0) {
        (void) snprintf(secs, sizeof(secs), "%u", f->retry_after);
    } else if (f->retry_date != 0) {
        when = time(NULL) + (time_t) f->retry_date;
        gmtime_r(&when, &tm);
        (void) strftime(secs, sizeof(secs), "%a, %d %b %Y %H:%M:%S GMT",
                        &tm);
    } else {
        return 0;
    }

    if (MHD_add_response_header(out->resp, "Retry-After", secs) != MHD_YES) {
        fa_reply_release(out);
        return -1;
    }

    return 0;
}


/* { "<path>": { fault }, ... } */
json_t *
fa_faults_json(void)
{
    json_t  *all = json_object();
    size_t   i;

    if (all == NULL) {
        return NULL;
    }

    pthread_mutex_lock(&fa_lock);

    for (i = 0; i < FA_SLOTS; i++) {
        if (fa_slots[i] != NULL && fa_fault_active(&fa_slots[i]->fault)) {
            json_object_set_new(all, fa_slots[i]->path,
                                fa_fault_to_json(&fa_slots[i]->fault));
        }
    }

    for (i = 0; i < fa_nwild; i++) {
        json_object_set_new(all, fa_wild[i].pattern,
                            fa_fault_to_json(&fa_wild[i].fault));
    }

    pthread_mutex_unlock(&fa_lock);
    return all;
}


/* { "total": N, "other": N, "paths": { "<path>": N, ... } } */
json_t *
fa_stats_json(void)
{
    json_t    *paths = json_object();
    uint64_t   total, other;
    size_t     i;

    if (paths == NULL) {
        return NULL;
    }

    pthread_mutex_lock(&fa_lock);

    for (i = 0; i < FA_SLOTS; i++) {
        if (fa_slots[i] != NULL && fa_slots[i]->hits > 0) {
            json_object_set_new(paths, fa_slots[i]->path,
                                json_integer((json_int_t) fa_slots[i]->hits));
        }
    }
    total = fa_total;
    other = fa_other;

    pthread_mutex_unlock(&fa_lock);

    return json_pack("{s:I, s:I, s:o}",
                     "total", (json_int_t) total,
                     "other", (json_int_t) other,
                     "paths", paths);
}


void
fa_stats_reset(void)
{
    size_t  i;

    pthread_mutex_lock(&fa_lock);

    for (i = 0; i < FA_SLOTS; i++) {
        if (fa_slots[i] != NULL) {
            fa_slots[i]->hits = 0;
        }
    }
    fa_total = 0;
    fa_other = 0;

    pthread_mutex_unlock(&fa_lock);
}


/* Splits `line` in place at blanks; returns the number of words. */
static size_t
fa_split(char *line, char **words, size_t max)
{
    size_t  n = 0;
    char   *p = line;

    for ( ;; ) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            p++;
        }
        if (*p == '\0' || *p == '#' || n == max) {
            break;
        }

        words[n++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r'
               && *p != '\n')
        {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        *p++ = '\0';
    }

    return n;
}


/* One line: `PATH key=value...`.  On error, says why in err. */
static int
fa_fault_line(char *line, char *err, size_t len)
{
    char        *words[16], *eq;
    const char  *msg = NULL;
    fa_fault_t   f;
    size_t       n, i;
    int          dup;

    n = fa_split(line, words, 16);
    if (n == 0) {
        return 0;
    }

    memset(&f, 0, sizeof(f));
    for (i = 1; i < n; i++) {
        eq = strchr(words[i], '=');
        if (eq == NULL) {
            msg = "expected key=value";
            goto out;
        }
        *eq = '\0';

        if (fa_fault_parse(&f, words[i], eq + 1, err, len) != 0) {
            return -1;
        }
    }

    if (n == 16) {
        msg = "too many keys";
        goto out;
    }

    pthread_mutex_lock(&fa_lock);
    dup = fa_fault_exists(words[0]);
    pthread_mutex_unlock(&fa_lock);

    msg = dup ? "path is duplicate" : fa_fault_set(words[0], &f);

out:
    if (msg != NULL) {
        snprintf(err, len, "%s", msg);
        return -1;
    }
    return 0;
}


/* Errors go to stderr as FILE:LINE: message; returns 0 or -1. */
int
fa_fault_load(const char *file)
{
    FILE      *fp;
    char      *line = NULL, err[160];
    size_t     cap = 0;
    unsigned   lineno = 0;
    int        rc = 0;

    fp = fopen(file, "r");
    if (fp == NULL) {
        fprintf(stderr, "fakeapi: %s: cannot open\n", file);
        return -1;
    }

    while (rc == 0 && getline(&line, &cap, fp) != -1) {
        lineno++;
        rc = fa_fault_line(line, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "%s:%u: %s\n", file, lineno, err);
        }
    }

    free(line);
    fclose(fp);
    return rc;
}
