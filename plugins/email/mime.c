/*
 * mime.c - see mime.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mime.h"

void
mbuf_add(struct mbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        if ((p = realloc(b->s, cap)) == NULL) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void
mbuf_str(struct mbuf *b, const char *s)
{
    mbuf_add(b, s, strlen(s));
}

void
mbuf_fmt(struct mbuf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    mbuf_add(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* n bytes of s as base64 without line breaks. */
static void
b64_run(struct mbuf *b, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned) s[i] << 16;
        char q[4];

        if (i + 1 < n)
            v |= (unsigned) s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        q[0] = b64[(v >> 18) & 63];
        q[1] = b64[(v >> 12) & 63];
        q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? b64[v & 63] : '=';
        mbuf_add(b, q, 4);
    }
}

void
mime_base64(struct mbuf *b, const unsigned char *s, size_t n)
{
    /* 57 bytes make one line of 76 characters. */
    for (size_t i = 0; i < n; i += 57) {
        b64_run(b, s + i, n - i < 57 ? n - i : 57);
        mbuf_add(b, "\r\n", 2);
    }
}

static int
plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
            return 0;
    return 1;
}

void
mime_header(struct mbuf *b, const char *name, const char *value)
{
    size_t n = strlen(value), i = 0;
    char *v = malloc(n + 1);

    if (v == NULL) {
        b->oom = 1;
        return;
    }
    for (size_t k = 0; k <= n; k++)
        v[k] = (value[k] == '\r' || value[k] == '\n') ? ' ' : value[k];
    mbuf_fmt(b, "%s: ", name);
    if (plain(v)) {
        mbuf_str(b, v);
        mbuf_add(b, "\r\n", 2);
        free(v);
        return;
    }
    /* "=?UTF-8?B?" + 60 base64 characters + "?=" is 72 <= 75: 45 bytes
     * a word, cut back to the start of a UTF-8 sequence. */
    while (i < n) {
        size_t take = n - i < 45 ? n - i : 45;

        while (i + take < n && take > 1
               && ((unsigned char) v[i + take] & 0xc0) == 0x80)
            take--;
        if (i > 0)
            mbuf_add(b, "\r\n ", 3);
        mbuf_str(b, "=?UTF-8?B?");
        b64_run(b, (const unsigned char *) v + i, take);
        mbuf_str(b, "?=");
        i += take;
    }
    mbuf_add(b, "\r\n", 2);
    free(v);
}

const char *
mime_date(int64_t ts_ns, char *buf, size_t len)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
                                        "Fri", "Sat" };
    static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May",
                                        "Jun", "Jul", "Aug", "Sep", "Oct",
                                        "Nov", "Dec" };
    time_t t = (time_t) (ts_ns / 1000000000);
    struct tm tm;

    gmtime_r(&t, &tm);
    /* Not strftime: %a and %b follow the locale. */
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000",
             days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

void
mime_html(struct mbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': mbuf_str(b, "&amp;"); break;
        case '<': mbuf_str(b, "&lt;"); break;
        case '>': mbuf_str(b, "&gt;"); break;
        case '"': mbuf_str(b, "&quot;"); break;
        default:  mbuf_add(b, s, 1);
        }
    }
}
