/*
 * encode.c - a record as a Kafka message value (kafka.h): the versioned
 * JSON object, or one line of InfluxDB line protocol.
 *
 * Line protocol, as InfluxDB 2 parses it:
 *   <measurement>[,<tag>=<value>...] <field>=<value>[,...] <ts_ns>
 * measurement: the record's name (events: "outpost_event", with the tags
 * kind and severity and the string fields message and dedup_key). In the
 * measurement a comma or space is escaped with a backslash; in tag keys,
 * tag values and field keys also '='. A string field value is quoted,
 * with '"' and '\' escaped. Integers end in 'i'; floats take 15
 * significant digits, or 17 when 15 do not read back exactly. NaN and
 * infinities have no spelling: such a field is left out. A newline,
 * which would end the line, is a space in names and tags and "\n" in
 * strings.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kafka.h"

int
kafka_encode_json(const outpost_record_t *rec, char **out, size_t *len)
{
    static const char head[] = "{\"schema\":" KAFKA_SCHEMA ",";
    char *json, *v;
    size_t n;

    if (outpost_record_to_json(rec, &json, &n) != 0)
        return -1;
    /* json is "{...}" with at least "type" in it: splice the version in
     * front of its first member. */
    if ((v = malloc(sizeof(head) - 1 + n)) == NULL) {
        free(json);
        return -1;
    }
    memcpy(v, head, sizeof(head) - 1);
    memcpy(v + sizeof(head) - 1, json + 1, n - 1);
    free(json);
    *out = v;
    *len = sizeof(head) - 1 + n - 1;
    return 0;
}

static int
reserve(struct kbuf *b, size_t more)
{
    size_t cap;
    char *p;

    if (b->len + more <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 512;
    while (cap < b->len + more)
        cap *= 2;
    if ((p = realloc(b->p, cap)) == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int
put(struct kbuf *b, const char *s, size_t n)
{
    if (reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* s escaped for a measurement (specials ", ") or a key/tag (", =") */
static int
put_escaped(struct kbuf *b, const char *s, const char *specials)
{
    if (reserve(b, 2 * strlen(s)) != 0)
        return -1;
    for (; *s; s++) {
        if (*s == '\n' || *s == '\r') {
            b->p[b->len++] = ' ';
            continue;
        }
        if (strchr(specials, *s) || *s == '\\')
            b->p[b->len++] = '\\';
        b->p[b->len++] = *s;
    }
    return 0;
}

static int
put_string_value(struct kbuf *b, const char *s)
{
    if (reserve(b, 2 * strlen(s) + 2) != 0)
        return -1;
    b->p[b->len++] = '"';
    for (; *s; s++) {
        if (*s == '\n') {
            b->p[b->len++] = '\\';
            b->p[b->len++] = 'n';
            continue;
        }
        if (*s == '"' || *s == '\\')
            b->p[b->len++] = '\\';
        b->p[b->len++] = *s;
    }
    b->p[b->len++] = '"';
    return 0;
}

static int
put_tag(struct kbuf *b, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return 0;                       /* an empty tag value is invalid */
    return put(b, ",", 1) || put_escaped(b, key, ", =")
           || put(b, "=", 1) || put_escaped(b, value, ", =");
}

/* Appends ",key=value" (or "key=value" for the first field); *nfields
 * counts what was written. */
static int
put_field(struct kbuf *b, const outpost_field_t *f, int *nfields)
{
    char num[40];
    int n;

    switch (f->type) {
    case OUTPOST_FIELD_INT:
        n = snprintf(num, sizeof(num), "%lldi", (long long) f->v.i);
        break;
    case OUTPOST_FIELD_FLOAT:
        if (!isfinite(f->v.f))
            return 0;
        /* the shortest spelling that reads back as the same double */
        n = snprintf(num, sizeof(num), "%.15g", f->v.f);
        if (strtod(num, NULL) != f->v.f)
            n = snprintf(num, sizeof(num), "%.17g", f->v.f);
        break;
    case OUTPOST_FIELD_BOOL:
        n = snprintf(num, sizeof(num), "%s", f->v.b ? "true" : "false");
        break;
    case OUTPOST_FIELD_STRING:
        n = -1;
        break;
    default:
        return 0;
    }
    if ((*nfields > 0 && put(b, ",", 1)) || put_escaped(b, f->key, ", =")
        || put(b, "=", 1))
        return -1;
    (*nfields)++;
    if (n < 0)
        return put_string_value(b, f->v.s ? f->v.s : "");
    return put(b, num, (size_t) n);
}

int
kafka_encode_influx(const outpost_record_t *rec, struct kbuf *b,
                    const char **why)
{
    int is_event = rec->kind == OUTPOST_EVENT && rec->event != NULL;
    size_t ntags = outpost_tagset_count(rec->tags);
    int nfields = 0;
    char ts[32];
    int n;

    *why = "out of memory";
    b->len = 0;
    if (put_escaped(b, is_event ? "outpost_event" : rec->name, ", "))
        return -1;
    for (size_t i = 0; i < ntags; i++) {
        const outpost_tag_t *t = outpost_tagset_at(rec->tags, i);

        if (put_tag(b, t->key, t->value) != 0)
            return -1;
    }
    if (is_event
        && (put_tag(b, "kind", outpost_event_kind_name(rec->event_kind))
            || put_tag(b, "severity", outpost_severity_name(rec->severity))))
        return -1;
    if (put(b, " ", 1) != 0)
        return -1;
    if (is_event) {
        outpost_field_t m = { .key = "message", .type = OUTPOST_FIELD_STRING,
                              .v.s = rec->event->message };
        outpost_field_t d = { .key = "dedup_key",
                              .type = OUTPOST_FIELD_STRING,
                              .v.s = rec->event->dedup_key };

        if ((m.v.s && put_field(b, &m, &nfields))
            || (d.v.s && put_field(b, &d, &nfields)))
            return -1;
    }
    for (uint16_t i = 0; i < rec->nfields; i++)
        if (put_field(b, &rec->fields[i], &nfields) != 0)
            return -1;
    if (nfields == 0) {
        *why = "no field that line protocol can carry";
        return -1;
    }
    n = snprintf(ts, sizeof(ts), " %lld", (long long) rec->ts_ns);
    return put(b, ts, (size_t) n);
}
