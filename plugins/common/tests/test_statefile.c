/*
 * Filter state files (plugins/common/statefile.c, rolling.c's use of it):
 * a round trip of every kind of entry; corrupt, truncated, foreign and
 * other-layout files refused with a reason and nothing half-loaded; the
 * previous formats (the rolling tables' binary file, alert's and
 * failover's JSON document) still read; the writer thread writes the
 * newest snapshot and close writes the last one; and, with the real
 * health, circuit_breaker and sla modules holding 10,000 integrations,
 * a save holds the pipeline hardly longer than a tick without one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "config.h"
#include "diag.h"
#include "harness.h"
#include "instance.h"
#include "log.h"
#include "pipeline.h"
#include "registry.h"
#include "rolling.h"
#include "statefile.h"
#include "tmpdir.h"

#define S  1000000000LL
#define T0 (1704067200LL * S)

struct slot {
    uint32_t a, b;
    int64_t  when;
    char     fill[100];
};

static char dir[128];

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb; (void) flag; (void) ftw;
    return remove(path);
}

static int
setup(void **state)
{
    (void) state;
    clock_fake_set(T0);
    if (tmp_template(dir, sizeof(dir), "statefile") != 0
        || mkdtemp(dir) == NULL)
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    clock_fake_off();
    return 0;
}

/* --- what a reader sees ------------------------------------------------- */

struct seen {
    size_t n;
    char   names[16][32];
    char   tags[16][128];      /* "k=v,k=v" */
    struct slot slots[16];
    size_t slot_len[16];
    char   states[16][256];    /* compact JSON */
    char   global[256];
    int    legacy;
};

static int
see_entry(const struct statefile_entry *e, void *arg)
{
    struct seen *s = arg;
    size_t i = s->n++;

    assert_true(i < 16);
    snprintf(s->names[i], sizeof(s->names[i]), "%s", e->name);
    for (size_t k = 0; e->tags && k < outpost_tagset_count(e->tags); k++) {
        const outpost_tag_t *t = outpost_tagset_at(e->tags, k);
        size_t len = strlen(s->tags[i]);
        snprintf(s->tags[i] + len, sizeof(s->tags[i]) - len, "%s%s=%s",
                 k ? "," : "", t->key, t->value);
    }
    if (e->slot) {
        s->slot_len[i] = e->slot_len;
        memcpy(&s->slots[i], e->slot,
               e->slot_len < sizeof(struct slot) ? e->slot_len
                                                 : sizeof(struct slot));
    }
    if (e->state) {
        char *text = json_dumps(e->state, JSON_COMPACT | JSON_ENCODE_ANY
                                          | JSON_SORT_KEYS);
        snprintf(s->states[i], sizeof(s->states[i]), "%s", text);
        free(text);
    }
    return 0;
}

static void
see_global(const json_t *g, void *arg)
{
    struct seen *s = arg;
    char *text = json_dumps(g, JSON_COMPACT | JSON_SORT_KEYS);

    snprintf(s->global, sizeof(s->global), "%s", text);
    free(text);
}

static int
see_legacy(const json_t *doc, void *arg)
{
    struct seen *s = arg;

    s->legacy++;
    see_global(doc, arg);
    return 0;
}

static long
load(struct statefile *sf, struct seen *s, int check_first, char *err,
     size_t errlen)
{
    struct statefile_reader r = {
        .entry = see_entry, .global = see_global, .legacy = see_legacy,
        .arg = s, .check_first = check_first,
    };

    memset(s, 0, sizeof(*s));
    return statefile_load(sf, &r, err, errlen);
}

static outpost_tagset_t *
tags2(const char *integ, const char *tier)
{
    outpost_tag_t t[2] = { { "integration", integ }, { "tier", tier } };

    return outpost_tagset_new(t, 2);
}

/* A snapshot with one entry of every kind and a global. */
static struct statefile_snap *
sample(struct statefile *sf)
{
    struct statefile_snap *s = statefile_snap_new(sf);
    outpost_tagset_t *ts = tags2("stripe \"eu\"", "gold\n");
    struct slot a = { 7, 0xffffffffu, -5, "slot" };
    struct slot b = { 1, 2, T0, { 0 } };

    statefile_snap_slot(s, "stripe \"eu\"", ts, &a, sizeof(a));
    statefile_snap_slot(s, "paypal", NULL, &b, sizeof(b));
    /* Odd lengths: base64 padding of 1 and 2. */
    statefile_snap_slot(s, "p1", NULL, "x", 1);
    statefile_snap_slot(s, "p2", NULL, "xy", 2);
    statefile_snap_json(s, "crm", ts, json_pack("{s:s,s:i}", "status", "down",
                                                 "streak", 3));
    statefile_snap_text(s, "group-1", "{\"group\":\"group-1\"}", 19);
    statefile_snap_global(s, json_pack("{s:i}", "next_silence", 4));
    outpost_tagset_unref(ts);
    return s;
}

static void
check_sample(const struct seen *s)
{
    assert_int_equal(s->n, 6);
    assert_string_equal(s->names[0], "stripe \"eu\"");
    assert_string_equal(s->tags[0], "integration=stripe \"eu\",tier=gold\n");
    assert_int_equal(s->slot_len[0], sizeof(struct slot));
    assert_int_equal(s->slots[0].a, 7);
    assert_int_equal(s->slots[0].b, 0xffffffffu);
    assert_int_equal(s->slots[0].when, -5);
    assert_string_equal(s->slots[0].fill, "slot");
    assert_string_equal(s->names[1], "paypal");
    assert_string_equal(s->tags[1], "");
    assert_int_equal(s->slots[1].when, T0);
    assert_int_equal(s->slot_len[2], 1);
    assert_int_equal(s->slot_len[3], 2);
    assert_memory_equal(&s->slots[3], "xy", 2);
    assert_string_equal(s->states[4], "{\"status\":\"down\",\"streak\":3}");
    assert_string_equal(s->tags[4], "integration=stripe \"eu\",tier=gold\n");
    assert_string_equal(s->states[5], "{\"group\":\"group-1\"}");
    assert_string_equal(s->global, "{\"next_silence\":4}");
}

/* --- format -------------------------------------------------------------- */

static void
test_round_trip(void **state)
{
    struct statefile *sf = statefile_new(dir, "rt.state", "health", 3, NULL);
    struct statefile_snap *snap = sample(sf);
    struct seen s;
    char err[512], line[256];
    json_t *env;
    FILE *f;

    (void) state;
    assert_int_equal(load(sf, &s, 0, err, sizeof(err)), 0);  /* no file */
    assert_string_equal(err, "");
    assert_int_equal(statefile_write(snap, statefile_path(sf)), 0);
    statefile_snap_free(snap);
    assert_int_equal(load(sf, &s, 0, err, sizeof(err)), 6);
    check_sample(&s);

    /* The envelope says what the header comment says. */
    f = fopen(statefile_path(sf), "r");
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    env = json_loads(line, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(env,
                                                        "outpost_state")), 2);
    assert_string_equal(json_string_value(json_object_get(env, "plugin")),
                        "health");
    assert_int_equal(json_integer_value(json_object_get(env, "layout")), 3);
    assert_int_equal(json_integer_value(json_object_get(env, "saved_at")),
                     T0);
    assert_int_equal(json_integer_value(json_object_get(env, "entries")), 6);
    json_decref(env);
    statefile_close(sf, NULL);
}

/* Writes text as the whole of path. */
static void
put_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static char *
get_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    char *buf = malloc(1 << 20);

    assert_non_null(f);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* Replaces the first occurrence of from in path's text with to. */
static void
patch_file(const char *path, const char *from, const char *to)
{
    size_t len;
    char *text = get_file(path, &len), *at = strstr(text, from), *out;

    assert_non_null(at);
    out = malloc(len + strlen(to) + 1);
    memcpy(out, text, (size_t) (at - text));
    strcpy(out + (at - text), to);
    strcat(out, at + strlen(from));
    put_file(path, out, strlen(out));
    free(out);
    free(text);
}

static void
expect_refused(struct statefile *sf, const char *why)
{
    struct seen s;
    char err[512];

    /* check_first: a refused file delivers nothing at all. */
    assert_int_equal(load(sf, &s, 1, err, sizeof(err)), -1);
    assert_int_equal(s.n, 0);
    assert_string_equal(s.global, "");
    if (strstr(err, why) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", why, err);
}

static void
rewrite_sample(struct statefile *sf)
{
    struct statefile_snap *snap = sample(sf);

    assert_int_equal(statefile_write(snap, statefile_path(sf)), 0);
    statefile_snap_free(snap);
}

static void
test_corrupt_files_are_refused(void **state)
{
    struct statefile *sf = statefile_new(dir, "bad.state", "health", 3, NULL);
    const char *path = statefile_path(sf);
    struct statefile *other = statefile_new(dir, "bad.state", "sla", 3, NULL);
    struct statefile *newer = statefile_new(dir, "bad.state", "health", 4,
                                            NULL);
    size_t len;
    char *text;

    (void) state;
    rewrite_sample(sf);
    text = get_file(path, &len);

    /* Truncated: the last entry line is gone, or cut in the middle. */
    text[len - 1] = '\0';
    put_file(path, text, (size_t) (strrchr(text, '\n') - text + 1));
    text[len - 1] = '\n';
    expect_refused(sf, "truncated: 5 of 6");
    put_file(path, text, len - 10);
    expect_refused(sf, "bad.state:7");
    /* Garbage in an entry, a slot that is not base64, an entry of no
     * kind, an empty file, binary noise. */
    put_file(path, text, len);
    patch_file(path, "\"paypal\"", "\"paypal");
    expect_refused(sf, "bad.state:3");
    rewrite_sample(sf);
    patch_file(path, "\"slot\":\"", "\"slot\":\"*");
    expect_refused(sf, "not base64");
    rewrite_sample(sf);
    patch_file(path, "\"state\":{\"group\"", "\"other\":{\"group\"");
    expect_refused(sf, "not a state entry");
    put_file(path, "", 0);
    expect_refused(sf, "empty");
    put_file(path, "\x01\xff\x00garbage\n\n", 12);
    expect_refused(sf, "bad.state:1");
    /* Another plugin's file, another layout, a newer format. */
    put_file(path, text, len);
    expect_refused(other, "written by plugin health, not sla");
    expect_refused(newer, "layout 3, expected 4");
    patch_file(path, "\"outpost_state\":2", "\"outpost_state\":3");
    expect_refused(sf, "format 3");

    /* Without check_first, entries before the bad line were delivered
     * (the caller undoes them, as rolling_state_load does). */
    {
        struct seen s;
        char err[512];

        put_file(path, text, len);
        patch_file(path, "\"crm\"", "\"crm");
        assert_int_equal(load(sf, &s, 0, err, sizeof(err)), -1);
        assert_int_equal(s.n, 4);
    }
    free(text);
    statefile_close(sf, NULL);
    statefile_close(other, NULL);
    statefile_close(newer, NULL);
}

/* --- the previous formats ------------------------------------------------ */

static void
put16(FILE *f, const char *s)
{
    uint16_t n = (uint16_t) strlen(s);

    fwrite(&n, sizeof(n), 1, f);
    fwrite(s, 1, n, f);
}

/* A file as rolling_table_save wrote it before the format changed:
 * "OPROLL01", layout, slot size, count; then name, tags, slot. */
static void
write_rolling_v1(const char *path, uint32_t layout, uint64_t count,
                 size_t entries)
{
    struct {
        char     magic[8];
        uint32_t version, slot_size;
        uint64_t count;
    } hdr = { "OPROLL01", layout, sizeof(struct slot), count };
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    fwrite(&hdr, sizeof(hdr), 1, f);
    for (size_t i = 0; i < entries; i++) {
        struct slot sl = { (uint32_t) i, 0, T0 - (int64_t) i * S, "old" };
        char name[32];
        uint16_t ntags = i == 0 ? 2 : 0;

        snprintf(name, sizeof(name), "api-%zu", i);
        put16(f, name);
        fwrite(&ntags, sizeof(ntags), 1, f);
        if (ntags) {
            put16(f, "integration");
            put16(f, name);
            put16(f, "tier");
            put16(f, "gold");
        }
        fwrite(&sl, sizeof(sl), 1, f);
    }
    fclose(f);
}

static void
test_old_rolling_file_loads(void **state)
{
    struct statefile *sf = statefile_new(dir, "old.state", "health", 1, NULL);
    const char *path = statefile_path(sf);
    struct seen s;
    char err[512];

    (void) state;
    write_rolling_v1(path, 1, 3, 3);
    assert_int_equal(load(sf, &s, 1, err, sizeof(err)), 3);
    assert_string_equal(s.names[0], "api-0");
    assert_string_equal(s.tags[0], "integration=api-0,tier=gold");
    assert_string_equal(s.names[2], "api-2");
    assert_int_equal(s.slot_len[2], sizeof(struct slot));
    assert_int_equal(s.slots[2].a, 2);
    assert_int_equal(s.slots[2].when, T0 - 2 * S);
    assert_string_equal(s.slots[2].fill, "old");

    write_rolling_v1(path, 2, 3, 3);            /* another layout */
    expect_refused(sf, "layout 2, expected 1");
    write_rolling_v1(path, 1, 5, 3);            /* entries missing */
    expect_refused(sf, "truncated or corrupt");
    assert_int_equal(truncate(path, 40), 0);    /* cut in an entry */
    expect_refused(sf, "truncated or corrupt");
    statefile_close(sf, NULL);
}

static void
test_old_json_document_loads(void **state)
{
    struct statefile *sf = statefile_new(dir, "alerts.json", "alert", 1, NULL);
    const char *doc = "{\"version\":1,\"next_silence\":9,\"integrations\":[],"
                      "\"alerts\":[],\"silences\":[]}";
    struct statefile_reader bare = { .entry = see_entry };
    struct seen s;
    char err[512];

    (void) state;
    put_file(statefile_path(sf), doc, strlen(doc));
    assert_int_equal(load(sf, &s, 1, err, sizeof(err)), 1);
    assert_int_equal(s.legacy, 1);
    assert_int_equal(s.n, 0);
    assert_non_null(strstr(s.global, "\"next_silence\":9"));
    /* A plugin that never had such a file: discarded, with a reason. */
    bare.arg = &s;
    assert_int_equal(statefile_load(sf, &bare, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no longer reads"));
    /* Something after the document: not one. */
    put_file(statefile_path(sf), "{\"version\":1}\n{}\n", 17);
    expect_refused(sf, "not a state file");
    statefile_close(sf, NULL);
}

/* --- the writer ---------------------------------------------------------- */

static struct statefile_snap *
numbered(struct statefile *sf, int k, size_t entries)
{
    struct statefile_snap *s = statefile_snap_new(sf);
    struct slot sl = { (uint32_t) k, 0, 0, { 0 } };
    char name[32];

    for (size_t i = 0; i < entries; i++) {
        snprintf(name, sizeof(name), "api-%zu", i);
        statefile_snap_slot(s, name, NULL, &sl, sizeof(sl));
    }
    return s;
}

static void
test_writer_writes_the_newest(void **state)
{
    struct statefile *sf = statefile_new(dir, "w.state", "health", 1, NULL);
    uint64_t written, superseded;
    struct seen s;
    char err[512];

    (void) state;
    /* The first is large: while it is written the others queue, and each
     * replaces the one before (or is written, when the writer is quick):
     * the newest is on disk in the end, and no snapshot is lost track
     * of. */
    statefile_submit(sf, numbered(sf, 0, 20000));
    for (int k = 1; k <= 5; k++)
        statefile_submit(sf, numbered(sf, k, 10));
    statefile_wait(sf);
    statefile_counts(sf, &written, &superseded);
    assert_int_equal(written + superseded, 6);
    assert_true(written >= 1);
    assert_int_equal(load(sf, &s, 0, err, sizeof(err)), 10);
    assert_int_equal(s.slots[9].a, 5);
    {
        char tmp[200];
        snprintf(tmp, sizeof(tmp), "%s.tmp", statefile_path(sf));
        assert_int_equal(access(tmp, F_OK), -1);
    }

    /* close: what still waits is dropped for the last, which is written
     * before close returns. */
    statefile_submit(sf, numbered(sf, 6, 20000));
    statefile_submit(sf, numbered(sf, 7, 10));
    assert_int_equal(statefile_close(sf, numbered(sf, 8, 3)), 0);
    sf = statefile_new(dir, "w.state", "health", 1, NULL);
    assert_int_equal(load(sf, &s, 0, err, sizeof(err)), 3);
    assert_int_equal(s.slots[2].a, 8);
    /* And without a last one, what waited is written. */
    statefile_submit(sf, numbered(sf, 9, 4));
    assert_int_equal(statefile_close(sf, NULL), 0);
    sf = statefile_new(dir, "w.state", "health", 1, NULL);
    assert_int_equal(load(sf, &s, 0, err, sizeof(err)), 4);
    assert_int_equal(s.slots[3].a, 9);
    statefile_close(sf, NULL);
}

static void
test_unwritable_dir_is_an_error(void **state)
{
    struct statefile *sf = statefile_new("/nonexistent-outpost", "x.state",
                                         "health", 1, NULL);

    (void) state;
    assert_int_equal(statefile_close(sf, numbered(sf, 1, 2)), -1);
}

/* --- rolling tables through it ------------------------------------------- */

static int
keep_even(const char *name, void *slot, void *arg)
{
    struct slot *s = slot;

    (void) name;
    (*(int *) arg)++;
    s->b = 42;                          /* keep may fix the slot up */
    return s->a % 2 == 0;
}

static void
test_rolling_table_round_trip(void **state)
{
    struct rolling_table *t = rolling_table_new(sizeof(struct slot));
    struct rolling_state *rs = rolling_state_new(dir, "r.state", "health", 1,
                                                 NULL);
    int seen = 0;
    char name[200];

    (void) state;
    for (uint32_t i = 0; i < 3000; i++) {
        struct slot *s;
        snprintf(name, sizeof(name), "api-%u", i);
        s = rolling_slot(rolling_table_get(t, name, NULL));
        s->a = i;
        s->when = T0 + i;
    }
    /* Not due: nothing starts. Due: a save starts, and tick by tick
     * completes (the slices are short). */
    assert_int_equal(rolling_state_tick(rs, t, 0), 0);
    assert_int_equal(rolling_state_tick(rs, t, 1), 1);
    for (int i = 0; i < 1000; i++)
        rolling_state_tick(rs, t, 0);
    statefile_wait(rolling_state_file(rs));
    rolling_state_close(rs, NULL);              /* closes, saves nothing */
    rolling_table_free(t);

    t = rolling_table_new(sizeof(struct slot));
    rs = rolling_state_new(dir, "r.state", "health", 1, NULL);
    assert_int_equal(rolling_state_load(rs, t, keep_even, &seen), 3000);
    assert_int_equal(seen, 3000);
    assert_int_equal(rolling_table_count(t), 1500);
    for (size_t i = 0; i < rolling_table_count(t); i++) {
        struct slot *s = rolling_slot(rolling_table_at(t, i));
        assert_int_equal(s->a, 2 * i);
        assert_int_equal(s->b, 42);
        assert_int_equal(s->when, T0 + (int64_t) (2 * i));
    }
    rolling_state_close(rs, t);                 /* saves what it holds */
    rolling_table_free(t);

    /* A slot of another size is another layout: refused, table empty. */
    t = rolling_table_new(sizeof(struct slot) + 8);
    rs = rolling_state_new(dir, "r.state", "health", 1, NULL);
    assert_int_equal(rolling_state_load(rs, t, NULL, NULL), -1);
    assert_int_equal(rolling_table_count(t), 0);
    rolling_state_close(rs, NULL);
    rolling_table_free(t);

    /* The previous binary format comes back, tags included. */
    snprintf(name, sizeof(name), "%s/r.state", dir);
    write_rolling_v1(name, 1, 4, 4);
    t = rolling_table_new(sizeof(struct slot));
    rs = rolling_state_new(dir, "r.state", "health", 1, NULL);
    assert_int_equal(rolling_state_load(rs, t, NULL, NULL), 4);
    assert_string_equal(outpost_tagset_get(rolling_table_find(t, "api-0")
                                           ->tags, "tier"), "gold");
    rolling_state_close(rs, NULL);
    rolling_table_free(t);
}

/* --- the real alert and failover filters read their old files ---------- */

static json_t *
control_json(struct harness *h, const char *inst, const char *cmd)
{
    char *reply = NULL;
    json_t *j;

    assert_int_equal(harness_control(h, inst, cmd, "{}", &reply), 0);
    j = json_loads(reply, 0, NULL);
    assert_non_null(j);
    free(reply);
    return j;
}

static void
test_old_alert_and_failover_files_restore(void **state)
{
    const char *conf = "alert \"al\" { }\nfailover \"fo\" { }\n";
    struct harness *h;
    char sdir[160], path[256];
    json_t *st, *groups, *doc, *g;
    FILE *f;

    (void) state;
    h = harness_new(conf, NULL);
    snprintf(sdir, sizeof(sdir), "%s", harness_state_dir(h));
    harness_check(h, "stripe", "failover_group=checkout,priority=1", 1, 90);
    harness_check(h, "paypal", "failover_group=checkout,priority=2", 1, 90);
    st = control_json(h, "fo", "status");
    groups = json_incref(json_object_get(st, "groups"));
    json_decref(st);
    assert_int_equal(json_array_size(groups), 1);
    harness_free(h, 1);

    /* What the previous version wrote: failover's {"version":1,
     * "groups":[...]} (the status reply's groups), alert's document. */
    g = json_array_get(groups, 0);
    json_object_set_new(g, "reason", json_string("restored from v1"));
    doc = json_pack("{s:i,s:o}", "version", 1, "groups", groups);
    snprintf(path, sizeof(path), "%s/failover/fo/decisions.json", sdir);
    assert_int_equal(json_dump_file(doc, path, JSON_COMPACT), 0);
    json_decref(doc);
    snprintf(path, sizeof(path), "%s/alert/al/alerts.json", sdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"version\":1,\"next_silence\":7,\"integrations\":["
            "{\"name\":\"stripe\",\"status\":\"down\",\"fail_streak\":2,"
            "\"good_streak\":0,\"flapping\":false,\"changes\":[]}],"
            "\"alerts\":[],\"silences\":[{\"id\":\"s6\",\"match\":"
            "\"integration=stripe\",\"until_ns\":%lld,\"created_ns\":%lld,"
            "\"comment\":\"v1 window\",\"created_by\":\"ops\"}]}",
            (long long) (T0 + 3600 * S), (long long) T0);
    fclose(f);

    h = harness_new(conf, sdir);
    st = control_json(h, "fo", "status");
    g = json_array_get(json_object_get(st, "groups"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "reason")),
                        "restored from v1");
    assert_string_equal(json_string_value(json_object_get(g, "active")),
                        "stripe");
    json_decref(st);
    st = control_json(h, "al", "status");
    g = json_array_get(json_object_get(st, "silences"), 0);
    assert_non_null(g);
    assert_string_equal(json_string_value(json_object_get(g, "comment")),
                        "v1 window");
    json_decref(st);
    /* A change, and shutdown writes the new format over the old. */
    harness_check(h, "stripe", "failover_group=checkout,priority=1", 0, 90);
    harness_free(h, 1);
    {
        size_t len;
        char *text = get_file(path, &len);

        assert_non_null(strstr(text, "{\"outpost_state\":2,"
                                     "\"plugin\":\"alert\""));
        assert_non_null(strstr(text, "v1 window"));
        free(text);
    }
    h = harness_new(conf, sdir);
    st = control_json(h, "al", "status");
    assert_int_equal(json_array_size(json_object_get(st, "silences")), 1);
    json_decref(st);
    harness_free(h, 0);
}

/* --- a save of 10,000 integrations holds the pipeline briefly ------------ */

struct chain {
    struct registry     *reg;
    struct config       *cfg;
    outpost_instance_t  *filters[4];
    size_t               n;
    struct pipeline     *p;
    char                 state[128];
};

static void
chain_start(struct chain *c, const char *save_interval)
{
    char path[256], text[1024];
    struct diag d = { 0 };
    FILE *f;

    memset(c, 0, sizeof(*c));
    assert_int_equal(tmp_template(c->state, sizeof(c->state), "statesave"),
                     0);
    assert_non_null(mkdtemp(c->state));
    snprintf(text, sizeof(text), "state_dir = \"%s\"\n"
             "health \"h\" { save_interval = \"%s\" }\n"
             "circuit_breaker \"cb\" { save_interval = \"%s\" }\n"
             "sla \"s\" { save_interval = \"%s\" }\n",
             c->state, save_interval, save_interval, save_interval);
    snprintf(path, sizeof(path), "%s/test.conf", c->state);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    c->reg = registry_new();
    registry_load_dir(c->reg, BUILD_PLUGIN_DIR, &d);
    c->cfg = config_load(path, c->reg, NULL, &d);
    if (c->cfg == NULL) {
        diag_print(&d, stderr);
        fail();
    }
    diag_free(&d);
    for (size_t i = 0; i < c->cfg->nsections; i++) {
        outpost_instance_t *inst = instance_new(&c->cfg->sections[i], c->cfg);
        assert_non_null(inst);
        assert_int_equal(instance_init(inst), 0);
        c->filters[c->n++] = inst;
    }
    c->p = pipeline_new(c->filters, c->n, NULL, NULL, 0);
}

static void
chain_stop(struct chain *c)
{
    for (size_t i = 0; i < c->n; i++)
        instance_shutdown(c->filters[i]);
    pipeline_free(c->p);
    for (size_t i = 0; i < c->n; i++)
        instance_free(c->filters[i]);
    config_free(c->cfg);
    registry_free(c->reg);
    nftw(c->state, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#define INTEGRATIONS 10000

static void
checks(struct chain *c, outpost_tagset_t **tags, int round)
{
    outpost_record_t *batch[64];

    for (size_t i = 0; i < INTEGRATIONS; i += 64) {
        size_t k = 0;

        for (; k < 64 && i + k < INTEGRATIONS; k++) {
            outpost_record_t *r = outpost_measurement_new("http",
                                                          tags[i + k], 0);
            outpost_record_add_bool(r, "success", (i + k + round) % 97 != 0);
            outpost_record_add_float(r, "response_ms", 50.0 + (double) k);
            batch[k] = r;
        }
        pipeline_submit(c->p, batch, k);
    }
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}

static int64_t
thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t) ts.tv_sec * S + ts.tv_nsec;
}

/*
 * The p99 of the time pipeline_tick holds the pipeline, over ticks one
 * fake second apart with a round of checks every 10 s. CPU time of this
 * thread: on a shared machine the wall time mostly measures who else
 * runs; a tick that wrote the file itself would still spend its CPU on
 * encoding and copying it out. The wall time is printed alongside.
 */
static int64_t
tick_p99_us(const char *save_interval, outpost_tagset_t **tags)
{
    enum { TICKS = 80 };
    int64_t held[TICKS], wall[TICKS], p99;
    struct chain c;

    clock_fake_set(T0);
    chain_start(&c, save_interval);
    for (int r = 0; r < 3; r++) {               /* every integration known */
        clock_fake_advance(10 * S);
        checks(&c, tags, r);
    }
    for (int i = 0; i < TICKS; i++) {
        int64_t t0, w0;

        clock_fake_advance(S);
        if (i % 10 == 0)
            checks(&c, tags, i);
        w0 = clock_mono_ns();
        t0 = thread_cpu_ns();
        pipeline_tick(c.p);
        held[i] = (thread_cpu_ns() - t0) / 1000;
        wall[i] = (clock_mono_ns() - w0) / 1000;
    }
    qsort(held, TICKS, sizeof(held[0]), cmp_i64);
    qsort(wall, TICKS, sizeof(wall[0]), cmp_i64);
    p99 = held[TICKS * 99 / 100];
    print_message("save_interval %s: a tick held the pipeline for p50 "
                  "%lld us, p99 %lld us of CPU (wall p50 %lld us, p99 %lld "
                  "us)\n", save_interval, (long long) held[TICKS / 2],
                  (long long) p99, (long long) wall[TICKS / 2],
                  (long long) wall[TICKS * 99 / 100]);
    chain_stop(&c);
    return p99;
}

static void
test_saving_10000_integrations_holds_the_pipeline_briefly(void **state)
{
    outpost_tagset_t *tags[INTEGRATIONS];
    int64_t quiet, saving;

    (void) state;
    for (size_t i = 0; i < INTEGRATIONS; i++) {
        char name[32];
        outpost_tag_t t[2] = { { "integration", name },
                               { "tier", i % 2 ? "gold" : "basic" } };
        snprintf(name, sizeof(name), "api-%05zu", i);
        tags[i] = outpost_tagset_new(t, 2);
    }
    /* "1d": never saved while timed. "1s": a save starts on every tick
     * the previous one has finished, and is written meanwhile. */
    quiet = tick_p99_us("1d", tags);
    saving = tick_p99_us("1s", tags);
    for (size_t i = 0; i < INTEGRATIONS; i++)
        outpost_tagset_unref(tags[i]);
    if (saving - quiet > 10000)
        fail_msg("a save held the pipeline %lld us longer (p99) than a "
                 "tick without one", (long long) (saving - quiet));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_files_are_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_rolling_file_loads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_old_json_document_loads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_writer_writes_the_newest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_dir_is_an_error,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rolling_table_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_old_alert_and_failover_files_restore, setup, teardown),
        cmocka_unit_test(
            test_saving_10000_integrations_holds_the_pipeline_briefly),
    };

    log_configure(OUTPOST_LOG_ERROR, LOG_FORMAT_TEXT, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
