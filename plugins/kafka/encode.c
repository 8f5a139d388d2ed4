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
 * which would end the line, is an (escaped) space in names and tags and
 * "\n" in strings.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kafka.h"

static int real_fast(double v, char *out);

/* v in decimal into out[24] (no NUL); returns the length. Two digits a
 * division: a timestamp in nanoseconds has 19. */
static int
int_text(long long v, char *out)
{
    static const char pairs[201] =
        "00010203040506070809101112131415161718192021222324252627282930313233"
        "34353637383940414243444546474849505152535455565758596061626364656667"
        "6869707172737475767778798081828384858687888990919293949596979899";
    char tmp[24], *e = tmp + sizeof(tmp), *p = e;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long) v
                                 : (unsigned long long) v;

    while (u >= 100) {
        p -= 2;
        memcpy(p, pairs + 2 * (u % 100), 2);
        u /= 100;
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * u, 2);
    } else
        *--p = (char) ('0' + u);
    if (v < 0)
        *--p = '-';
    memcpy(out, p, (size_t) (e - p));
    return (int) (e - p);
}

/* Grows b to hold `more` bytes past b->len: 0, or -1 (out of memory). */
static int
grow(struct kbuf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 512;
    char *p;

    while (cap < b->len + more)
        cap *= 2;
    if ((p = realloc(b->p, cap)) == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int
reserve(struct kbuf *b, size_t more)
{
    return b->len + more <= b->cap ? 0 : grow(b, more);
}

static inline int
put(struct kbuf *b, const char *s, size_t n)
{
    if (reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

void
kbuf_free(struct kbuf *b)
{
    for (size_t i = 0; i < KBUF_KEYS; i++) {
        free(b->keys[i].p);
        free(b->ikeys[i].p);
    }
    for (size_t i = 0; i < KBUF_TAGS; i++) {
        if (b->tags[i].id)
            outpost_tagset_unref((outpost_tagset_t *) b->tags[i].id);
        if (b->itags[i].id)
            outpost_tagset_unref((outpost_tagset_t *) b->itags[i].id);
        free(b->tags[i].p);
        free(b->itags[i].p);
    }
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* The entry of id in table t of n (a power of two): a hit, or, when its
 * id is not id, the one to fill. id may sit in any of 4 slots from its
 * hash, so a few ids that hash alike do not push each other out on every
 * record; a miss takes an empty one of them or the next in turn. */
static struct kbuf_text *
lookup(struct kbuf *b, struct kbuf_text *t, size_t n, const void *id)
{
    size_t h = (size_t) (((uint64_t) (uintptr_t) id
                          * UINT64_C(0x9E3779B97F4A7C15)) >> 40);

    for (size_t i = 0; i < 4; i++)
        if (t[(h + i) & (n - 1)].id == id)
            return &t[(h + i) & (n - 1)];
    for (size_t i = 0; i < 4; i++)
        if (t[(h + i) & (n - 1)].id == NULL)
            return &t[(h + i) & (n - 1)];
    return &t[(h + b->turn++ % 4) & (n - 1)];
}

/* Keeps b->p[from..len) as the text of tag set ts in slot t, holding a
 * reference to ts (and dropping the one to the set it replaces). */
static void remember(struct kbuf *b, struct kbuf_text *t, const void *id,
                     size_t from);

static void
remember_tags(struct kbuf *b, struct kbuf_text *t, outpost_tagset_t *ts,
              size_t from)
{
    if (t->id)
        outpost_tagset_unref((outpost_tagset_t *) t->id);
    t->id = NULL;
    remember(b, t, outpost_tagset_ref(ts), from);
    if (t->id == NULL)
        outpost_tagset_unref(ts);       /* out of memory: not kept */
}

/* Keeps b->p[from..len) as the text of slot t for id. */
static void
remember(struct kbuf *b, struct kbuf_text *t, const void *id, size_t from)
{
    size_t n = b->len - from;
    char *p = malloc(n ? n : 1);

    if (p == NULL)
        return;                         /* not cached: rendered next time */
    memcpy(p, b->p + from, n);
    free(t->p);
    t->id = id;
    t->p = p;
    t->len = n;
}

/* What line protocol escapes: LP_NAME in a measurement, LP_KEY in a tag
 * key, tag value or field key; LP_NL is written as an escaped space. */
#define LP_NAME 1
#define LP_KEY  2
#define LP_NL   4
static const unsigned char lp_special[256] = {
    [','] = LP_NAME | LP_KEY, [' '] = LP_NAME | LP_KEY, ['='] = LP_KEY,
    ['\\'] = LP_NAME | LP_KEY, ['\n'] = LP_NL, ['\r'] = LP_NL,
};

/* s escaped for a measurement (what = LP_NAME) or a key/tag (LP_KEY) */
static int
put_escaped(struct kbuf *b, const char *str, int what)
{
    const unsigned char *s = (const unsigned char *) str;
    char *o;

    if (reserve(b, 2 * strlen(str)) != 0)
        return -1;
    o = b->p + b->len;
    for (; *s; s++) {
        unsigned char c = lp_special[*s];

        if (c & LP_NL) {
            *o++ = '\\';               /* an escaped space */
            *o++ = ' ';
            continue;
        }
        if (c & what)
            *o++ = '\\';
        *o++ = (char) *s;
    }
    b->len = (size_t) (o - b->p);
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
    return put(b, ",", 1) || put_escaped(b, key, LP_KEY)
           || put(b, "=", 1) || put_escaped(b, value, LP_KEY);
}

/* An interned field key escaped, from the cache. */
static int
lp_key(struct kbuf *b, const char *key)
{
    struct kbuf_text *t = lookup(b, b->ikeys, KBUF_KEYS, key);
    size_t from = b->len;

    if (t->id == key)
        return put(b, t->p, t->len);
    if (put_escaped(b, key, LP_KEY) != 0)
        return -1;
    remember(b, t, key, from);
    return 0;
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
        n = int_text((long long) f->v.i, num);
        num[n++] = 'i';
        break;
    case OUTPOST_FIELD_FLOAT:
        if (!isfinite(f->v.f))
            return 0;
        /* a spelling that reads back as the same double: the JSON
         * path's when it has one, else 15 or 17 digits */
        if ((n = real_fast(f->v.f, num)) > 0)
            break;
        n = snprintf(num, sizeof(num), "%.15g", f->v.f);
        if (strtod(num, NULL) != f->v.f)
            n = snprintf(num, sizeof(num), "%.17g", f->v.f);
        break;
    case OUTPOST_FIELD_BOOL:
        n = f->v.b ? 4 : 5;
        memcpy(num, f->v.b ? "true" : "false", (size_t) n);
        break;
    case OUTPOST_FIELD_STRING:
        n = -1;
        break;
    default:
        return 0;
    }
    if ((*nfields > 0 && put(b, ",", 1)) || lp_key(b, f->key)
        || put(b, "=", 1))
        return -1;
    (*nfields)++;
    if (n < 0)
        return put_string_value(b, f->v.s ? f->v.s : "");
    return put(b, num, (size_t) n);
}

/* --- JSON ----------------------------------------------------------------
 *
 * The same object as outpost_record_to_json() (core/record_json.c, on
 * jansson), written straight into the buffer: jansson builds a tree of
 * allocations per record, which was most of the output's CPU. The members
 * and their order, the number spellings (integers; reals as jansson's
 * JSON_REAL_PRECISION(10): "%.10g", ".0" added to a whole number, no '+'
 * or leading zeros in an exponent) and string escapes are jansson's.
 * A string that is not valid UTF-8 (jansson refuses it) sends the record
 * down jansson's path, so both always agree. */

/* Length of the UTF-8 sequence at s (1..4), or 0 when it is not one. */
static int
utf8_len(const unsigned char *s)
{
    int n = (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3
          : (*s & 0xf8) == 0xf0 ? 4 : 0;

    if (n == 0 || (n == 2 && *s < 0xc2) || (n == 4 && *s > 0xf4))
        return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* 1: a byte a JSON string takes as it is (printable ASCII but '"' and
 * '\\'); bytes from 0x80 are checked as UTF-8. */
#define P16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const unsigned char json_plain[256] = {
    P16(0), P16(0),                                     /* 0x00-0x1f */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x20-0x2f */
    P16(1), P16(1),                                     /* 0x30-0x4f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,     /* 0x50-0x5f */
    P16(1), P16(1),                                     /* 0x60-0x7f */
};
#undef P16

/* s as a JSON string: -2 when it is not UTF-8 (jansson refuses it). Runs
 * of characters that need no escape are copied at once. */
static int
json_str(struct kbuf *b, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *) str;
    size_t len = strlen(str);
    char *o;

    if (reserve(b, 6 * len + 2) != 0)
        return -1;
    o = b->p + b->len;
    *o++ = '"';
    while (*s) {
        const unsigned char *run = s;
        int n;

        while (json_plain[*s])
            s++;
        memcpy(o, run, (size_t) (s - run));
        o += s - run;
        if (*s == '\0')
            break;
        if (*s >= 0x80) {
            if ((n = utf8_len(s)) == 0)
                return -2;
            memcpy(o, s, (size_t) n);
            o += n;
            s += n;
            continue;
        }
        *o++ = '\\';
        switch (*s) {
        case '"':  *o++ = '"';  break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b';  break;
        case '\f': *o++ = 'f';  break;
        case '\n': *o++ = 'n';  break;
        case '\r': *o++ = 'r';  break;
        case '\t': *o++ = 't';  break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[*s >> 4];
            o[4] = hex[*s & 15];
            o += 5;
        }
        s++;
    }
    *o++ = '"';
    b->len = (size_t) (o - b->p);
    return 0;
}

/* An interned key or name as a JSON string, from the cache. */
static int
json_key(struct kbuf *b, const char *key)
{
    struct kbuf_text *t = lookup(b, b->keys, KBUF_KEYS, key);
    size_t from = b->len;
    int rc;

    if (t->id == key)
        return put(b, t->p, t->len);
    if ((rc = json_str(b, key)) == 0)
        remember(b, t, key, from);
    return rc;
}

#define PUTS(b, lit) put((b), (lit), sizeof(lit) - 1)

/* "%.10g" of v without printf, for the common case: 1e-4 <= |v| < 1e9
 * with at most 6 decimals and 10 significant digits (a response time, a
 * score). v is then the double nearest to the decimal r / 1e6, so
 * rounding v to 10 digits gives that decimal back, which is what printf
 * prints, in fixed notation since the exponent is within -4..8. Returns
 * the length written to out (with the ".0" jansson adds), or -1. */
static int
real_fast(double v, char *out)
{
    double a = fabs(v);
    long long r, ip, fp;
    char digits[24];
    int n = 0, nd = 0, decimals = 6, sig;

    if (!(a >= 1e-4 && a < 1e9))
        return -1;
    r = llround(a * 1e6);
    if ((double) r / 1e6 != a)
        return -1;
    ip = r / 1000000;
    fp = r % 1000000;
    while (decimals > 1 && fp % 10 == 0) {
        fp /= 10;
        decimals--;
    }
    for (long long x = ip; x > 0; x /= 10)
        nd++;
    sig = nd > 0 ? nd + decimals : 0;
    if (nd == 0)
        for (long long x = fp; x > 0; x /= 10)
            sig++;
    if (sig > 10)
        return -1;
    if (v < 0)
        out[n++] = '-';
    if (ip == 0)
        out[n++] = '0';
    for (int i = 0, m = nd; i < nd; i++, m--) {
        digits[m - 1] = (char) ('0' + ip % 10);
        ip /= 10;
    }
    memcpy(out + n, digits, (size_t) nd);
    n += nd;
    out[n++] = '.';
    for (int i = decimals - 1; i >= 0; i--) {
        out[n + i] = (char) ('0' + fp % 10);
        fp /= 10;
    }
    return n + decimals;
}

static int
json_real(struct kbuf *b, double v)
{
    char num[40], *e;
    int n = real_fast(v, num);

    if (n > 0)
        return put(b, num, (size_t) n);
    n = snprintf(num, sizeof(num), "%.10g", v);

    if (strchr(num, '.') == NULL && strchr(num, 'e') == NULL) {
        memcpy(num + n, ".0", 3);
        n += 2;
    }
    if ((e = strchr(num, 'e')) != NULL) {
        char *start = e + 1, *end;

        if (*start == '-')
            start++;
        end = start;
        if (*end == '+')
            end++;
        while (*end == '0' && end[1] != '\0')
            end++;
        memmove(start, end, strlen(end) + 1);
        n = (int) strlen(num);
    }
    return put(b, num, (size_t) n);
}

static int
json_int(struct kbuf *b, long long v)
{
    char num[24];

    return put(b, num, (size_t) int_text(v, num));
}

/* ,"key":value for one field; jansson leaves out a real it cannot hold. */
static int
json_field(struct kbuf *b, const outpost_field_t *f, int *first)
{
    int rc;

    if (f->type == OUTPOST_FIELD_FLOAT && !isfinite(f->v.f))
        return 0;
    if (f->type == OUTPOST_FIELD_STRING && f->v.s == NULL)
        return 0;
    if (!*first && PUTS(b, ","))
        return -1;
    *first = 0;
    if ((rc = json_key(b, f->key)) != 0 || PUTS(b, ":"))
        return rc ? rc : -1;
    switch (f->type) {
    case OUTPOST_FIELD_INT:    return json_int(b, (long long) f->v.i);
    case OUTPOST_FIELD_FLOAT:  return json_real(b, f->v.f);
    case OUTPOST_FIELD_BOOL:   return f->v.b ? PUTS(b, "true")
                                             : PUTS(b, "false");
    case OUTPOST_FIELD_STRING: return json_str(b, f->v.s);
    default:                   return PUTS(b, "null");
    }
}

/* The members of a tag set's JSON object, from the cache. */
static int
json_tags(struct kbuf *b, outpost_tagset_t *ts)
{
    struct kbuf_text *t = lookup(b, b->tags, KBUF_TAGS, ts);
    size_t n = outpost_tagset_count(ts), from = b->len;
    int rc;

    if (t->id == ts)
        return put(b, t->p, t->len);
    for (size_t i = 0; i < n; i++) {
        const outpost_tag_t *tag = outpost_tagset_at(ts, i);

        if ((i > 0 && (rc = PUTS(b, ","))) || (rc = json_key(b, tag->key))
            || (rc = PUTS(b, ":")) || (rc = json_str(b, tag->value)))
            return rc;
    }
    remember_tags(b, t, ts, from);
    return 0;
}

static int
json_record(struct kbuf *b, const outpost_record_t *rec)
{
    int64_t secs = rec->ts_ns / 1000000000LL;
    int is_event = rec->kind == OUTPOST_EVENT && rec->event != NULL;
    int rc, first = 1, ms = (int) ((rec->ts_ns / 1000000LL) % 1000);
    char frac[8];

    if ((rc = PUTS(b, "\"type\":")) != 0
        || (rc = is_event || rec->kind == OUTPOST_EVENT ? PUTS(b, "\"event\"")
                                                       : PUTS(b, "\"measurement\""))
        || (rc = PUTS(b, ",\"name\":")) || (rc = json_key(b, rec->name)))
        return rc;
    /* Records come in bursts of the same second: format it once. */
    if (secs != b->ts_sec || b->ts_text[0] == '\0') {
        time_t t = (time_t) secs;
        struct tm tm;

        gmtime_r(&t, &tm);
        snprintf(b->ts_text, sizeof(b->ts_text),
                 "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100,
                 tm.tm_min % 100, tm.tm_sec % 100);
        b->ts_sec = secs;
    }
    frac[0] = '.';
    frac[1] = (char) ('0' + ms / 100);
    frac[2] = (char) ('0' + ms / 10 % 10);
    frac[3] = (char) ('0' + ms % 10);
    if ((rc = PUTS(b, ",\"timestamp\":\""))
        || (rc = put(b, b->ts_text, strlen(b->ts_text)))
        || (rc = put(b, frac, 4)) || (rc = PUTS(b, "Z\",\"ts_ns\":"))
        || (rc = json_int(b, rec->ts_ns)))
        return rc;
    if (is_event) {
        const char *integ = outpost_record_tag(rec, "integration");

        if ((rc = PUTS(b, ",\"kind\":"))
            || (rc = json_str(b, outpost_event_kind_name(rec->event_kind)))
            || (rc = PUTS(b, ",\"severity\":"))
            || (rc = json_str(b, outpost_severity_name(rec->severity)))
            || (rc = PUTS(b, ",\"integration\":"))
            || (rc = integ ? json_str(b, integ) : PUTS(b, "null")))
            return rc;
        if (rec->event->message && ((rc = PUTS(b, ",\"message\":"))
                                    || (rc = json_str(b, rec->event->message))))
            return rc;
        if (rec->event->dedup_key
            && ((rc = PUTS(b, ",\"dedup_key\":"))
                || (rc = json_str(b, rec->event->dedup_key))))
            return rc;
    }
    if ((rc = PUTS(b, ",\"tags\":{")) || (rc = json_tags(b, rec->tags)))
        return rc;
    if ((rc = PUTS(b, "},\"fields\":{")))
        return rc;
    for (uint16_t i = 0; i < rec->nfields; i++)
        if ((rc = json_field(b, &rec->fields[i], &first)))
            return rc;
    if ((rc = PUTS(b, "}")))
        return rc;
    if (is_event && rec->event->cause) {
        if ((rc = PUTS(b, ",\"measurement\":{"))
            || (rc = json_record(b, rec->event->cause)) || (rc = PUTS(b, "}")))
            return rc;
    }
    return 0;
}

int
kafka_encode_json(const outpost_record_t *rec, struct kbuf *b)
{
    int rc;

    b->len = 0;
    if ((rc = PUTS(b, "{\"schema\":" KAFKA_SCHEMA ",")) == 0
        && (rc = json_record(b, rec)) == 0)
        rc = PUTS(b, "}");
    if (rc == -2) {
        /* not UTF-8: as jansson has it (it leaves such strings out) */
        char *json;
        size_t n;

        b->len = 0;
        if (outpost_record_to_json(rec, &json, &n) != 0)
            return -1;
        rc = PUTS(b, "{\"schema\":" KAFKA_SCHEMA ",")
             || put(b, json + 1, n - 1);
        free(json);
    }
    return rc ? -1 : 0;
}

/* A tag set as ",k=v" tags, from the cache. */
static int
influx_tags(struct kbuf *b, outpost_tagset_t *ts)
{
    struct kbuf_text *t = lookup(b, b->itags, KBUF_TAGS, ts);
    size_t n = outpost_tagset_count(ts), from = b->len;

    if (t->id == ts)
        return put(b, t->p, t->len);
    for (size_t i = 0; i < n; i++) {
        const outpost_tag_t *tag = outpost_tagset_at(ts, i);

        if (put_tag(b, tag->key, tag->value) != 0)
            return -1;
    }
    remember_tags(b, t, ts, from);
    return 0;
}

int
kafka_encode_influx(const outpost_record_t *rec, struct kbuf *b,
                    const char **why)
{
    int is_event = rec->kind == OUTPOST_EVENT && rec->event != NULL;
    int nfields = 0;
    char ts[32];
    int n;

    *why = "out of memory";
    b->len = 0;
    if (put_escaped(b, is_event ? "outpost_event" : rec->name, LP_NAME))
        return -1;
    if (influx_tags(b, rec->tags) != 0)
        return -1;
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
    ts[0] = ' ';
    n = int_text((long long) rec->ts_ns, ts + 1);
    return put(b, ts, (size_t) n + 1);
}
