/*
 * statefile_load.c - reading state files back (statefile.h has the
 * format): the current one, and the two it replaced.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "statefile.h"
#include "statefile_int.h"

/* --- base64 -------------------------------------------------------------- */

static int
b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes text (len chars) into out (room for len / 4 * 3 bytes). The
 * number of bytes, or -1 when text is not base64. */
static long
get_base64(const char *text, size_t len, unsigned char *out)
{
    size_t n = 0;

    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;

        for (int k = 0; k < 4; k++) {
            int d = b64_value(text[i + k]);

            if (text[i + k] == '=' && i + 4 == len && k >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (d < 0 || pad)
                return -1;
            v = v << 6 | (uint32_t) d;
        }
        out[n++] = (unsigned char) (v >> 16);
        if (pad < 2)
            out[n++] = (unsigned char) (v >> 8);
        if (pad < 1)
            out[n++] = (unsigned char) v;
    }
    return (long) n;
}

/* Format 1 of the rolling tables, read for the last time. */
#define LEGACY_MAGIC "OPROLL01"

struct legacy_header {
    char     magic[8];
    uint32_t version;
    uint32_t slot_size;
    uint64_t count;
};

static int
legacy_str(FILE *f, char *buf, size_t size)
{
    uint16_t n;

    if (fread(&n, sizeof(n), 1, f) != 1 || (size_t) n >= size
        || fread(buf, 1, n, f) != n)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* One entry of a format-1 file into r. 1 read, 0 clean end, -1 bad. */
static int
legacy_entry(FILE *f, const struct legacy_header *h, void *slot,
             const struct statefile_reader *r, int deliver)
{
    char name[1024], keys[16][128], vals[16][512];
    outpost_tag_t tags[16];
    uint16_t ntags;
    size_t n = 0;
    struct statefile_entry e = { 0 };
    int rc;

    if (legacy_str(f, name, sizeof(name)) != 0)
        return feof(f) ? 0 : -1;
    if (fread(&ntags, sizeof(ntags), 1, f) != 1)
        return -1;
    for (uint16_t i = 0; i < ntags; i++) {
        char k[128], v[512];
        if (legacy_str(f, k, sizeof(k)) != 0
            || legacy_str(f, v, sizeof(v)) != 0)
            return -1;
        if (n < 16) {
            memcpy(keys[n], k, sizeof(k));
            memcpy(vals[n], v, sizeof(v));
            tags[n] = (outpost_tag_t) { keys[n], vals[n] };
            n++;
        }
    }
    if (fread(slot, 1, h->slot_size, f) != h->slot_size)
        return -1;
    if (!deliver)
        return 1;
    e.name = name;
    e.slot = slot;
    e.slot_len = h->slot_size;
    e.tags = n > 0 ? outpost_tagset_new(tags, n) : NULL;
    rc = r->entry(&e, r->arg);
    outpost_tagset_unref(e.tags);
    return rc == 0 ? 1 : -1;
}

static long
load_legacy_binary(FILE *f, const char *path, const struct statefile *sf,
                   const struct statefile_reader *r, int deliver, char *err,
                   size_t errlen)
{
    struct legacy_header h;
    void *slot;
    long n = 0;
    int rc;

    if (fread(&h, sizeof(h), 1, f) != 1) {
        snprintf(err, errlen, "%s is truncated", path);
        return -1;
    }
    if (h.version != sf->layout) {
        snprintf(err, errlen, "%s has layout %u, expected %u", path,
                 h.version, sf->layout);
        return -1;
    }
    if (h.slot_size == 0 || h.slot_size > (1u << 24)
        || (slot = malloc(h.slot_size)) == NULL) {
        snprintf(err, errlen, "%s has a bad slot size %u", path,
                 h.slot_size);
        return -1;
    }
    while ((rc = legacy_entry(f, &h, slot, r, deliver)) == 1)
        n++;
    free(slot);
    if (rc < 0 || (uint64_t) n != h.count) {
        snprintf(err, errlen, "%s is truncated or corrupt, or does not fit "
                 "this version (entry %ld)", path, n + 1);
        return -1;
    }
    return n;
}

/* Tags from a JSON object of strings (the first 64: a damaged file must
 * not size a stack array); NULL when there are none. */
static outpost_tagset_t *
tags_of(const json_t *o)
{
    outpost_tag_t tags[64];
    size_t i = 0;
    const char *key;
    json_t *v;

    json_object_foreach((json_t *) o, key, v)
        if (json_is_string(v) && i < 64)
            tags[i++] = (outpost_tag_t) { key, json_string_value(v) };
    return i ? outpost_tagset_new(tags, i) : NULL;
}

/* One entry line. deliver 0: only check it. 0, or -1 with err. */
static int
load_line(const char *line, size_t len, const struct statefile_reader *r,
          int deliver, unsigned char **buf, size_t *bufcap,
          const char *where, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *o = json_loadb(line, len, 0, &jerr);
    const char *name = json_string_value(json_object_get(o, "name"));
    const json_t *slot = json_object_get(o, "slot");
    struct statefile_entry e = { 0 };
    int rc = -1;

    if (o == NULL) {
        snprintf(err, errlen, "%s: %s", where, jerr.text);
        return -1;
    }
    if (name == NULL || (slot == NULL) == (json_object_get(o, "state") == NULL)
        || (slot && !json_is_string(slot))) {
        snprintf(err, errlen, "%s: not a state entry", where);
        goto out;
    }
    e.name = name;
    if (slot) {
        size_t sl = json_string_length(slot);
        long got;

        if (sl / 4 * 3 + 3 > *bufcap) {
            unsigned char *nb = realloc(*buf, sl / 4 * 3 + 3);

            if (nb == NULL) {
                snprintf(err, errlen, "%s: out of memory", where);
                goto out;
            }
            *buf = nb;
            *bufcap = sl / 4 * 3 + 3;
        }
        got = get_base64(json_string_value(slot), sl, *buf);
        if (got < 0) {
            snprintf(err, errlen, "%s: the slot is not base64", where);
            goto out;
        }
        e.slot = *buf;
        e.slot_len = (size_t) got;
    } else
        e.state = json_object_get(o, "state");
    if (!deliver) {
        rc = 0;
        goto out;
    }
    e.tags = tags_of(json_object_get(o, "tags"));
    rc = r->entry(&e, r->arg);
    outpost_tagset_unref(e.tags);
    if (rc != 0)
        snprintf(err, errlen, "%s: entry %s does not fit this version",
                 where, name);
out:
    json_decref(o);
    return rc;
}

/* The envelope, checked; NULL with err. A version 1 document (no
 * "outpost_state") is returned with *legacy set. */
static json_t *
load_envelope(const char *line, size_t len, const struct statefile *sf,
              int *legacy, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *env = json_loadb(line, len, 0, &jerr);
    const json_t *fmt = json_object_get(env, "outpost_state");
    const char *plugin = json_string_value(json_object_get(env, "plugin"));

    *legacy = 0;
    if (env == NULL || !json_is_object(env)) {
        snprintf(err, errlen, "%s:1: %s", sf->path,
                 env ? "not a JSON object" : jerr.text);
        json_decref(env);
        return NULL;
    }
    if (fmt == NULL) {
        *legacy = 1;
        return env;
    }
    if (json_integer_value(fmt) != STATEFILE_FORMAT) {
        snprintf(err, errlen, "%s has format %" JSON_INTEGER_FORMAT
                 ", this agent reads %d", sf->path, json_integer_value(fmt),
                 STATEFILE_FORMAT);
    } else if (plugin == NULL || strcmp(plugin, sf->plugin) != 0) {
        snprintf(err, errlen, "%s was written by plugin %s, not %s",
                 sf->path, plugin ? plugin : "(none)", sf->plugin);
    } else if (json_integer_value(json_object_get(env, "layout"))
               != (json_int_t) sf->layout) {
        snprintf(err, errlen, "%s has layout %" JSON_INTEGER_FORMAT
                 ", expected %u", sf->path,
                 json_integer_value(json_object_get(env, "layout")),
                 sf->layout);
    } else if (!json_is_integer(json_object_get(env, "entries"))) {
        snprintf(err, errlen, "%s:1: no entry count", sf->path);
    } else
        return env;
    json_decref(env);
    return NULL;
}

static long
load_lines(FILE *f, const struct statefile *sf,
           const struct statefile_reader *r, int deliver, char *err,
           size_t errlen)
{
    char *line = NULL, where[4200];
    size_t cap = 0, bufcap = 0;
    unsigned char *buf = NULL;
    ssize_t len;
    json_t *env = NULL;
    json_int_t want;
    long n = -1, lineno = 1;
    int legacy;

    if ((len = getline(&line, &cap, f)) <= 0) {
        snprintf(err, errlen, "%s is empty", sf->path);
        goto out;
    }
    env = load_envelope(line, (size_t) len, sf, &legacy, err, errlen);
    if (env == NULL)
        goto out;
    if (legacy) {
        /* A whole version 1 document: nothing may follow it. */
        while ((len = getline(&line, &cap, f)) > 0)
            if (strspn(line, " \t\r\n") != (size_t) len) {
                snprintf(err, errlen, "%s: not a state file", sf->path);
                goto out;
            }
        if (r->legacy == NULL) {
            snprintf(err, errlen, "%s has a format this agent no longer "
                     "reads", sf->path);
            goto out;
        }
        if (deliver && r->legacy(env, r->arg) != 0) {
            snprintf(err, errlen, "%s: the old document does not fit",
                     sf->path);
            goto out;
        }
        n = 1;
        goto out;
    }
    want = json_integer_value(json_object_get(env, "entries"));
    for (n = 0; (len = getline(&line, &cap, f)) > 0; n++) {
        snprintf(where, sizeof(where), "%s:%ld", sf->path, ++lineno);
        if (load_line(line, (size_t) len, r, deliver, &buf, &bufcap, where,
                      err, errlen) != 0) {
            n = -1;
            goto out;
        }
    }
    if (n != want) {
        snprintf(err, errlen, "%s is truncated: %ld of %" JSON_INTEGER_FORMAT
                 " entries", sf->path, n, want);
        n = -1;
        goto out;
    }
    if (deliver && r->global && json_object_get(env, "global"))
        r->global(json_object_get(env, "global"), r->arg);
out:
    json_decref(env);
    free(line);
    free(buf);
    return n;
}

static long
load_pass(const struct statefile *sf, const struct statefile_reader *r,
          int deliver, char *err, size_t errlen)
{
    char magic[8];
    FILE *f = fopen(sf->path, "r");
    long n;

    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot open %s: %s", sf->path,
                 strerror(errno));
        return -1;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    if (fread(magic, 1, sizeof(magic), f) == sizeof(magic)
        && memcmp(magic, LEGACY_MAGIC, sizeof(magic)) == 0) {
        rewind(f);
        n = load_legacy_binary(f, sf->path, sf, r, deliver, err, errlen);
    } else {
        rewind(f);
        n = load_lines(f, sf, r, deliver, err, errlen);
    }
    fclose(f);
    return n;
}

long
statefile_load(const struct statefile *sf, const struct statefile_reader *r,
               char *err, size_t errlen)
{
    err[0] = '\0';
    if (sf == NULL)
        return 0;
    if (r->check_first && load_pass(sf, r, 0, err, errlen) < 0)
        return -1;
    return load_pass(sf, r, 1, err, errlen);
}

long
statefile_restore(const struct statefile *sf,
                  const struct statefile_reader *r)
{
    char err[4400];
    long n = statefile_load(sf, r, err, sizeof(err));

    if (n < 0)
        outpost_log(sf->inst, OUTPOST_LOG_WARN, "load",
                    "%s: starting afresh", err);
    else if (n > 0)
        outpost_log(sf->inst, OUTPOST_LOG_INFO, "load",
                    "restored %ld entries from %s", n, sf->path);
    return n;
}
