/*
 * fakeapi: helpers shared by the vendor routes: reading Authorization
 * (Bearer, Bot, Basic), form bodies, adding headers, masking keys the way
 * vendors echo them in errors.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vendor.h"


const char *
fv_auth(const fa_request_t *r, const char *scheme)
{
    const char  *h;
    size_t       n = strlen(scheme);

    h = fa_request_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncasecmp(h, scheme, n) != 0 || h[n] != ' ') {
        return NULL;
    }

    for (h += n; *h == ' '; h++) {
        /* skip blanks */
    }

    return h;
}


int
fv_auth_is(const fa_request_t *r, const char *scheme, const char *token)
{
    const char  *t = fv_auth(r, scheme);

    return t != NULL && strcmp(t, token) == 0;
}


static int
fv_b64_value(int c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}


/* Standard base64 with padding; -1 on a bad character or overflow. */
static int
fv_b64_decode(const char *in, char *out, size_t cap, size_t *len)
{
    unsigned  acc = 0, bits = 0;
    size_t    n = 0;
    int       v;

    for (; *in != '\0' && *in != '='; in++) {
        v = fv_b64_value((unsigned char) *in);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (unsigned) v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= cap) {
                return -1;
            }
            out[n++] = (char) ((acc >> bits) & 0xff);
        }
    }

    out[n] = '\0';
    *len = n;
    return 0;
}


int
fv_basic(const fa_request_t *r, char *user, size_t ulen, char *pass,
    size_t plen)
{
    const char  *b64;
    char         buf[512], *colon;
    size_t       n;

    b64 = fv_auth(r, "Basic");
    if (b64 == NULL || fv_b64_decode(b64, buf, sizeof(buf), &n) != 0
        || memchr(buf, '\0', n) != NULL)
    {
        return -1;
    }

    colon = strchr(buf, ':');
    if (colon == NULL) {
        return -1;
    }
    *colon = '\0';

    (void) snprintf(user, ulen, "%s", buf);
    (void) snprintf(pass, plen, "%s", colon + 1);
    return 0;
}


int
fv_basic_is(const fa_request_t *r, const char *user, const char *pass)
{
    char  u[256], p[256];

    return fv_basic(r, u, sizeof(u), p, sizeof(p)) == 0
           && strcmp(u, user) == 0 && strcmp(p, pass) == 0;
}


static int
fv_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}


/* Decodes [s, end) with '+' and %XX into buf; -1 when it does not fit. */
static int
fv_url_decode(const char *s, const char *end, char *buf, size_t len)
{
    size_t  n = 0;
    int     hi, lo;

    while (s < end) {
        if (n + 1 >= len) {
            return -1;
        }
        if (*s == '+') {
            buf[n++] = ' ';
            s++;
        } else if (*s == '%' && end - s >= 3
                   && (hi = fv_hex((unsigned char) s[1])) >= 0
                   && (lo = fv_hex((unsigned char) s[2])) >= 0)
        {
            buf[n++] = (char) (hi * 16 + lo);
            s += 3;
        } else {
            buf[n++] = *s++;
        }
    }

    buf[n] = '\0';
    return 0;
}


const char *
fv_form(const fa_request_t *r, const char *key, char *buf, size_t len)
{
    const char  *p, *end, *amp, *eq;
    size_t       klen = strlen(key);

    if (r->body == NULL) {
        return NULL;
    }

    end = r->body + r->body_len;
    for (p = r->body; p < end; p = amp + 1) {
        amp = memchr(p, '&', (size_t) (end - p));
        if (amp == NULL) {
            amp = end;
        }
        eq = memchr(p, '=', (size_t) (amp - p));
        if (eq != NULL && (size_t) (eq - p) == klen
            && memcmp(p, key, klen) == 0)
        {
            return fv_url_decode(eq + 1, amp, buf, len) == 0 ? buf : NULL;
        }
    }

    return NULL;
}


int
fv_header(fa_reply_t *out, const char *name, const char *value)
{
    if (out->resp == NULL || out->shared) {
        return -1;
    }

    return MHD_add_response_header(out->resp, name, value) == MHD_YES
           ? 0 : -1;
}


int
fv_headerf(fa_reply_t *out, const char *name, const char *fmt, ...)
{
    va_list  ap;
    char     value[256];

    va_start(ap, fmt);
    (void) vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);

    return fv_header(out, name, value);
}


int
fv_reply_text(fa_reply_t *out, unsigned status, const char *text)
{
    struct MHD_Response  *resp;

    resp = MHD_create_response_from_buffer(strlen(text), (void *) text,
                                           MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return -1;
    }

    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "text/plain; charset=UTF-8")
        != MHD_YES)
    {
        MHD_destroy_response(resp);
        return -1;
    }

    out->status = status;
    out->resp = resp;
    out->shared = 0;
    return 0;
}


const char *
fv_mask(const char *key, size_t keep, char *buf, size_t len)
{
    char    tmp[160];
    size_t  n = key ? strlen(key) : 0, i;

    if (n <= keep + 4) {
        (void) snprintf(tmp, sizeof(tmp), "%.*s****", (int) (n < keep ? n
                                                                     : keep),
                        key ? key : "");
    } else {
        (void) snprintf(tmp, sizeof(tmp), "%.*s****%s", (int) keep, key,
                        key + n - 4);
    }

    for (i = 0; tmp[i] != '\0'; i++) {
        unsigned char c = (unsigned char) tmp[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'
              || c == '*'))
        {
            tmp[i] = '?';
        }
    }

    (void) snprintf(buf, len, "%s", tmp);
    return buf;
}


unsigned long
fv_next_id(void)
{
    static unsigned long  next;

    return __atomic_add_fetch(&next, 1, __ATOMIC_RELAXED);
}
