/*
 * store.c - see store.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"

/* Makes room for n more bytes and the NUL. */
static int
reserve(struct fo_text *t, size_t n)
{
    size_t cap = t->cap ? t->cap : 4096;
    char *s;

    while (cap - t->len <= n)
        cap *= 2;
    if (cap == t->cap)
        return 0;
    s = realloc(t->s, cap);
    if (s == NULL) {
        t->failed = 1;
        return -1;
    }
    t->s = s;
    t->cap = cap;
    return 0;
}

void
fo_text_printf(struct fo_text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->failed || reserve(t, 256) != 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t) n >= t->cap - t->len) {    /* did not fit */
        if (reserve(t, (size_t) n) != 0)
            return;
        va_start(ap, fmt);
        n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
    }
    if (n < 0) {
        t->failed = 1;
        return;
    }
    t->len += (size_t) n;
}

static void
put_bytes(struct fo_text *t, const char *s, size_t n)
{
    if (t->failed || reserve(t, n) != 0)
        return;
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

/* s as a JSON string (escaped), or null. */
static void
put_str(struct fo_text *t, const char *s)
{
    if (s == NULL) {
        fo_text_printf(t, "null");
        return;
    }
    put_bytes(t, "\"", 1);
    while (*s) {
        size_t n = 0;

        while (s[n] && s[n] != '"' && s[n] != '\\'
               && (unsigned char) s[n] >= 0x20)
            n++;
        put_bytes(t, s, n);         /* the run that needs no escaping */
        s += n;
        if (*s == '"' || *s == '\\')
            fo_text_printf(t, "\\%c", *s++);
        else if (*s)
            fo_text_printf(t, "\\u%04x", (unsigned char) *s++);
    }
    put_bytes(t, "\"", 1);
}

static double
num_or_0(double v)
{
    return isfinite(v) ? v : 0.0;
}

static const char *
name_or_null(const struct fo_group *g, int i)
{
    return i >= 0 ? g->members[i].name : NULL;
}

static const char *
boolean(int v)
{
    return v ? "true" : "false";
}

static void
member_write(struct fo_text *t, const struct fo_params *p,
             const struct fo_member *m)
{
    fo_text_printf(t, "{\"integration\":");
    put_str(t, m->name);
    fo_text_printf(t, ",\"priority\":%lld,\"weight\":%.9g,\"status\":\"%s\","
                   "\"health_score\":%.6g,\"circuit\":\"%s\","
                   "\"eligible\":%s,\"usable\":%s,\"share\":%.6g,"
                   "\"reported_share\":%.6g,\"bad_streak\":%lld,"
                   "\"ok_streak\":%lld,\"ok_since_ns\":%lld,"
                   "\"seen_bad\":%s}",
                   (long long) m->priority, num_or_0(m->weight),
                   fo_status_name(m->status), num_or_0(m->score),
                   fo_circuit_name(m->circuit),
                   boolean(fo_member_eligible(p, m)), boolean(m->usable),
                   num_or_0(m->share), num_or_0(m->reported),
                   (long long) m->bad_streak, (long long) m->ok_streak,
                   (long long) m->ok_since_ns, boolean(m->seen_bad));
}

void
fo_group_write(struct fo_text *t, const struct fo_params *p,
               const struct fo_group *g)
{
    fo_text_printf(t, "{\"group\":");
    put_str(t, g->name);
    fo_text_printf(t, ",\"strategy\":\"%s\",\"active\":",
                   fo_strategy_name(p->strategy));
    put_str(t, name_or_null(g, g->active));
    fo_text_printf(t, ",\"previous\":");
    put_str(t, name_or_null(g, g->previous));
    fo_text_printf(t, ",\"since_ns\":%lld,\"reason\":",
                   (long long) g->since_ns);
    put_str(t, g->reason);
    fo_text_printf(t, ",\"decided\":%s,\"members\":[",
                   boolean(g->decided));
    for (size_t i = 0; i < g->n; i++) {
        if (i)
            fo_text_printf(t, ",");
        member_write(t, p, &g->members[i]);
    }
    fo_text_printf(t, "]}");
}

static int
member_from_json(struct fo_group *g, const json_t *o)
{
    const char *name = json_string_value(json_object_get(o, "integration"));
    struct fo_member *m;

    if (name == NULL || (m = fo_group_member(g, name)) == NULL)
        return -1;
    m->priority = json_integer_value(json_object_get(o, "priority"));
    m->weight = json_number_value(json_object_get(o, "weight"));
    m->status = fo_status_parse(
        json_string_value(json_object_get(o, "status")));
    m->score = json_number_value(json_object_get(o, "health_score"));
    m->circuit = fo_circuit_parse(
        json_string_value(json_object_get(o, "circuit")));
    m->usable = json_is_true(json_object_get(o, "usable"));
    m->share = json_number_value(json_object_get(o, "share"));
    m->reported = json_number_value(json_object_get(o, "reported_share"));
    m->bad_streak = json_integer_value(json_object_get(o, "bad_streak"));
    m->ok_streak = json_integer_value(json_object_get(o, "ok_streak"));
    m->ok_since_ns = json_integer_value(json_object_get(o, "ok_since_ns"));
    m->seen_bad = json_is_true(json_object_get(o, "seen_bad"));
    return 0;
}

static int
index_of(const struct fo_group *g, const json_t *name)
{
    const char *s = json_string_value(name);

    for (size_t i = 0; s && i < g->n; i++)
        if (strcmp(g->members[i].name, s) == 0)
            return (int) i;
    return -1;
}

struct fo_group *
fo_group_from_json(const json_t *o)
{
    const char *name = json_string_value(json_object_get(o, "group"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    const json_t *members = json_object_get(o, "members"), *m;
    struct fo_group *g;
    size_t i;

    if (name == NULL || !json_is_array(members)
        || (g = fo_group_new(name)) == NULL)
        return NULL;
    json_array_foreach(members, i, m) {
        if (member_from_json(g, m) != 0) {
            fo_group_free(g);
            return NULL;
        }
    }
    g->active = index_of(g, json_object_get(o, "active"));
    g->previous = index_of(g, json_object_get(o, "previous"));
    g->since_ns = json_integer_value(json_object_get(o, "since_ns"));
    g->decided = json_is_true(json_object_get(o, "decided"));
    snprintf(g->reason, sizeof(g->reason), "%s", reason ? reason : "");
    return g;
}
