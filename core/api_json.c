/*
 * api_json.c - the JSON writer of api_internal.h, and the small parsers
 * the routes share.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api_internal.h"

static void
grow_slow(struct jw *w, size_t more)
{
    size_t cap;
    char *b;

    if (w->failed)
        return;
    cap = w->cap ? w->cap : 256;
    while (cap < w->len + more + 1)
        cap *= 2;
    if ((b = realloc(w->buf, cap)) == NULL) {
        w->failed = 1;
        return;
    }
    w->buf = b;
    w->cap = cap;
}

static inline void
grow(struct jw *w, size_t more)
{
    if (w->len + more + 1 > w->cap)
        grow_slow(w, more);
}

static inline void
put(struct jw *w, const char *s, size_t n)
{
    grow(w, n);
    if (w->failed)
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static inline void
putc_(struct jw *w, char c)
{
    grow(w, 1);
    if (w->failed)
        return;
    w->buf[w->len++] = c;
    w->buf[w->len] = '\0';
}

/* A comma before a value that is not the first at its level. */
static inline void
sep(struct jw *w)
{
    if (!w->first)
        putc_(w, ',');
    w->first = 0;
}

void
jw_init(struct jw *w, size_t hint)
{
    memset(w, 0, sizeof(*w));
    w->first = 1;
    grow(w, hint);
}

void
jw_obj(struct jw *w)
{
    sep(w);
    putc_(w, '{');
    w->first = 1;
}

void
jw_obj_end(struct jw *w)
{
    putc_(w, '}');
    w->first = 0;
}

void
jw_arr(struct jw *w)
{
    sep(w);
    putc_(w, '[');
    w->first = 1;
}

void
jw_arr_end(struct jw *w)
{
    putc_(w, ']');
    w->first = 0;
}

/* The length of the valid UTF-8 sequence at s, or 0. */
static size_t
utf8_len(const unsigned char *s)
{
    size_t n;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2, cp = s[0] & 0x1F;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3, cp = s[0] & 0x0F;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

/* Bytes that go into a string as they are. */
static const unsigned char plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0),                                     /* controls */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* '"' */
    R16(1), R16(1),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,     /* '\\' */
    R16(1), R16(1),
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0),
#undef R16
};

static void
quoted(struct jw *w, const char *str)
{
    const unsigned char *s = (const unsigned char *) str;
    const unsigned char *run = s;

    putc_(w, '"');
    while (*s) {
        size_t n;
        char esc[8];

        if (plain[*s]) {
            s++;
            continue;
        }
        put(w, (const char *) run, (size_t) (s - run));
        if (*s >= 0x80) {
            n = utf8_len(s);
            if (n > 0)
                put(w, (const char *) s, n);
            else
                put(w, "\\ufffd", 6);
            s += n > 0 ? n : 1;
        } else {
            switch (*s) {
            case '"':  put(w, "\\\"", 2); break;
            case '\\': put(w, "\\\\", 2); break;
            case '\n': put(w, "\\n", 2); break;
            case '\r': put(w, "\\r", 2); break;
            case '\t': put(w, "\\t", 2); break;
            default:
                snprintf(esc, sizeof(esc), "\\u%04x", *s);
                put(w, esc, 6);
            }
            s++;
        }
        run = s;
    }
    put(w, (const char *) run, (size_t) (s - run));
    putc_(w, '"');
}

void
jw_key(struct jw *w, const char *key)
{
    sep(w);
    quoted(w, key);
    putc_(w, ':');
    w->first = 1;           /* the value that follows takes no comma */
}

void
jw_str(struct jw *w, const char *s)
{
    sep(w);
    if (s == NULL)
        put(w, "null", 4);
    else
        quoted(w, s);
}

void
jw_str_or_null(struct jw *w, const char *s)
{
    jw_str(w, s && *s ? s : NULL);
}

/* Digits of v (< 10^20) into the end of b; returns where they start. */
static char *
utoa_end(char *end, uint64_t v)
{
    do {
        *--end = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static void
put_int(struct jw *w, int64_t v)
{
    char b[24], *end = b + sizeof(b), *p;
    uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

    p = utoa_end(end, u);
    if (v < 0)
        *--p = '-';
    put(w, p, (size_t) (end - p));
}

/* Numbers are written by hand, not by printf (the list of 10,000
 * integrations has 200,000 of them): integers as such, others of
 * magnitude under 10^9 with up to 6 decimals (trailing zeros cut: a
 * millisecond to the nanosecond, a ratio to 0.0001 %), the rest with
 * %.6g. */
void
jw_num(struct jw *w, double v)
{
    char b[48], *end = b + sizeof(b), *p;
    uint64_t scaled, ip, fp;
    int neg, n;

    sep(w);
    if (isnan(v) || isinf(v)) {
        put(w, "null", 4);
        return;
    }
    if (v == (double) (int64_t) v && fabs(v) < 1e15) {
        put_int(w, (int64_t) v);
        return;
    }
    if (fabs(v) >= 1e9) {
        n = snprintf(b, sizeof(b), "%.6g", v);
        put(w, b, (size_t) n);
        return;
    }
    neg = v < 0;
    scaled = (uint64_t) llround(fabs(v) * 1e6);
    ip = scaled / 1000000;
    fp = scaled % 1000000;
    p = end;
    if (fp) {
        int digits = 6;

        while (fp % 10 == 0) {
            fp /= 10;
            digits--;
        }
        for (int i = 0; i < digits; i++) {
            *--p = (char) ('0' + fp % 10);
            fp /= 10;
        }
        *--p = '.';
    }
    p = utoa_end(p, ip);
    if (neg && scaled)
        *--p = '-';
    put(w, p, (size_t) (end - p));
}

void
jw_int(struct jw *w, int64_t v)
{
    sep(w);
    put_int(w, v);
}

void
jw_bool(struct jw *w, int v)
{
    sep(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void
jw_null(struct jw *w)
{
    sep(w);
    put(w, "null", 4);
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm): no
 * gmtime_r and no printf per timestamp. */
static void
civil(int64_t days, int *y, unsigned *m, unsigned *d)
{
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int) (yoe + era * 400 + (*m <= 2));
}

static void
digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char) ('0' + v % 10);
        v /= 10;
    }
}

void
jw_time(struct jw *w, int64_t ts_ns)
{
    char b[26] = "\"0000-00-00T00:00:00.000Z\"";
    int64_t secs = ts_ns / 1000000000LL, days = secs / 86400;
    unsigned sod = (unsigned) (secs % 86400), m, d;
    int y;

    if (ts_ns <= 0 || secs > 253402300799LL) {       /* after 9999 */
        jw_null(w);
        return;
    }
    civil(days, &y, &m, &d);
    digits(b + 1, (unsigned) y, 4);
    digits(b + 6, m, 2);
    digits(b + 9, d, 2);
    digits(b + 12, sod / 3600, 2);
    digits(b + 15, sod / 60 % 60, 2);
    digits(b + 18, sod % 60, 2);
    digits(b + 21, (unsigned) (ts_ns / 1000000 % 1000), 3);
    sep(w);
    put(w, b, 26);
}

void
jw_raw(struct jw *w, const char *json)
{
    sep(w);
    if (json)
        put(w, json, strlen(json));
    else
        put(w, "null", 4);
}

char *
jw_finish(struct jw *w, size_t *len)
{
    char *b = w->buf;

    if (w->failed) {
        free(b);
        b = NULL;
    }
    if (len)
        *len = b ? w->len : 0;
    w->buf = NULL;
    w->len = w->cap = 0;
    return b;
}

void
jw_reply(struct jw *w, struct api_response *res, int status)
{
    size_t len;
    char *text = jw_finish(w, &len);

    if (text == NULL) {
        api_reply_error(res, 503, "out of memory rendering the answer");
        return;
    }
    api_reply(res, status, "application/json", text, len);
}

int64_t
api_period_s(const char *text, int64_t def)
{
    char *end;
    long long n;

    if (text == NULL || *text == '\0')
        return def;
    n = strtoll(text, &end, 10);
    if (end == text || n <= 0 || n > 100000)
        return -1;
    if (strcmp(end, "m") == 0)
        return n * 60;
    if (strcmp(end, "h") == 0)
        return n * 3600;
    if (strcmp(end, "d") == 0)
        return n * 86400;
    return -1;
}
