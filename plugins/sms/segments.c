/*
 * segments.c - see segments.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "segments.h"

/* The GSM-7 default alphabet above ASCII, as code points. */
static const uint32_t gsm_extra[] = {
    0x00a3, 0x00a5, 0x00e8, 0x00e9, 0x00f9, 0x00ec, 0x00f2, 0x00c7,
    0x00d8, 0x00f8, 0x00c5, 0x00e5, 0x0394, 0x03a6, 0x0393, 0x039b,
    0x03a9, 0x03a0, 0x03a8, 0x03a3, 0x0398, 0x039e, 0x00c6, 0x00e6,
    0x00df, 0x00c9, 0x00a4, 0x00a1, 0x00c4, 0x00d6, 0x00d1, 0x00dc,
    0x00a7, 0x00bf, 0x00e4, 0x00f6, 0x00f1, 0x00fc, 0x00e0,
};

/* Septets for cp in GSM-7: 1, 2 (extension table), or 0 (not GSM). */
static int
gsm_septets(uint32_t cp)
{
    if (cp == '\n' || cp == '\r')
        return 1;
    if (cp == '^' || cp == '{' || cp == '}' || cp == '\\' || cp == '['
        || cp == '~' || cp == ']' || cp == '|' || cp == 0x20ac || cp == '\f')
        return 2;
    /* ASCII printable but for ` (not in GSM-7); $ and @ are. */
    if (cp >= 0x20 && cp < 0x7f)
        return cp == '`' ? 0 : 1;
    for (size_t i = 0; i < sizeof(gsm_extra) / sizeof(gsm_extra[0]); i++)
        if (gsm_extra[i] == cp)
            return 1;
    return 0;
}

/* The code point at *s (advancing *s); invalid bytes are U+FFFD. */
static uint32_t
next_cp(const unsigned char **s)
{
    const unsigned char *p = *s;
    uint32_t cp;
    int n;

    if (p[0] < 0x80) {
        *s = p + 1;
        return p[0];
    }
    if ((p[0] & 0xe0) == 0xc0) {
        cp = p[0] & 0x1f;
        n = 1;
    } else if ((p[0] & 0xf0) == 0xe0) {
        cp = p[0] & 0x0f;
        n = 2;
    } else if ((p[0] & 0xf8) == 0xf0) {
        cp = p[0] & 0x07;
        n = 3;
    } else {
        *s = p + 1;
        return 0xfffd;
    }
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *s = p + 1;
            return 0xfffd;
        }
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    *s = p + n + 1;
    return cp;
}

/* Segments for the units of a text, each character c[i] taking w[i]
 * units never split: one segment up to single, else parts of part. */
static int
pack(const unsigned char *w, size_t n, size_t total, size_t single,
     size_t part)
{
    size_t used = 0;
    int segs = 1;

    if (total == 0)
        return 0;
    if (total <= single)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (used + w[i] > part) {
            segs++;
            used = 0;
        }
        used += w[i];
    }
    return segs;
}

void
sms_count(const char *text, struct sms_count *c)
{
    const unsigned char *s = (const unsigned char *) text;
    size_t n = strlen(text), k = 0, gsm = 0, ucs = 0;
    unsigned char *wg = malloc(n + 1), *wu = malloc(n + 1);
    int all_gsm = 1;

    memset(c, 0, sizeof(*c));
    while (*s) {
        uint32_t cp = next_cp(&s);
        int g = gsm_septets(cp);

        if (g == 0)
            all_gsm = 0;
        if (wg && wu) {
            wg[k] = (unsigned char) g;
            wu[k] = cp > 0xffff ? 2 : 1;
        }
        gsm += (size_t) g;
        ucs += cp > 0xffff ? 2 : 1;
        k++;
    }
    c->ucs2 = !all_gsm;
    c->units = all_gsm ? gsm : ucs;
    if (wg == NULL || wu == NULL)       /* ENOMEM: an upper bound */
        c->segments = (int) (c->units / (all_gsm ? 153 : 67) + 1);
    else if (all_gsm)
        c->segments = pack(wg, k, gsm, 160, 153);
    else
        c->segments = pack(wu, k, ucs, 70, 67);
    free(wg);
    free(wu);
}

char *
sms_fit(const char *text, int max_segments)
{
    /* No text of more than 10 segments' worth of characters can fit
     * 10 segments: start the search there. */
    size_t n = strlen(text), cap = (size_t) max_segments * 160 * 4;
    struct sms_count c;
    char *out;

    sms_count(text, &c);
    if (c.segments <= max_segments)
        return strdup(text);
    if (n > cap)
        n = cap;
    if ((out = malloc(n + 4)) == NULL)
        return NULL;
    for (;;) {
        /* back to the start of a UTF-8 sequence */
        while (n > 0 && ((unsigned char) text[n] & 0xc0) == 0x80)
            n--;
        memcpy(out, text, n);
        memcpy(out + n, "...", 4);
        sms_count(out, &c);
        if (c.segments <= max_segments || n == 0)
            return out;
        n--;
    }
}

char *
sms_fit_suffix(const char *text, const char *suffix, int max_segments)
{
    size_t n = strlen(text), sl, cap = (size_t) max_segments * 160 * 4;
    struct sms_count c;
    char *out, *r;

    if (suffix == NULL || *suffix == '\0')
        return sms_fit(text, max_segments);
    sl = strlen(suffix);
    if ((out = malloc(n + sl + 8)) == NULL)
        return NULL;
    snprintf(out, n + sl + 8, "%s %s", text, suffix);
    sms_count(out, &c);
    if (c.segments <= max_segments)
        return out;
    if (n > cap)
        n = cap;
    for (;;) {
        while (n > 0 && ((unsigned char) text[n] & 0xc0) == 0x80)
            n--;
        snprintf(out, n + sl + 8, "%.*s... %s", (int) n, text, suffix);
        sms_count(out, &c);
        if (c.segments <= max_segments)
            return out;
        if (n == 0)
            break;
        n--;
    }
    snprintf(out, strlen(text) + sl + 8, "%s %s", text, suffix);
    r = sms_fit(out, max_segments);
    free(out);
    return r;
}
