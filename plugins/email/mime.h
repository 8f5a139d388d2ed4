/*
 * mime.h - the pieces of an Internet message (RFC 5322, 2045, 2047) the
 * email notifier writes: base64 bodies in lines of 76, subjects encoded
 * as UTF-8 "B" words when they are not plain ASCII, RFC 5322 dates and
 * HTML escaping. Pure functions; they run on any thread.
 */
#ifndef OUTPOST_EMAIL_MIME_H
#define OUTPOST_EMAIL_MIME_H

#include <stddef.h>
#include <stdint.h>

/* A growing string; .s is NUL-ended (NULL until the first add). */
struct mbuf {
    char   *s;
    size_t  len, cap;
    int     oom;
};

void  mbuf_add(struct mbuf *b, const char *s, size_t n);
void  mbuf_str(struct mbuf *b, const char *s);
void  mbuf_fmt(struct mbuf *b, const char *fmt, ...)
          __attribute__((format(printf, 2, 3)));

/* s (n bytes) as base64, CRLF after every 76 characters and at the end. */
void  mime_base64(struct mbuf *b, const unsigned char *s, size_t n);

/* The header "Name: value": value as is when it is printable ASCII, else
 * as RFC 2047 encoded words (=?UTF-8?B?...?=), each at most 75
 * characters, never splitting a UTF-8 sequence, folded with CRLF SP.
 * Ends with CRLF. CR and LF in value become spaces. */
void  mime_header(struct mbuf *b, const char *name, const char *value);

/* ts_ns as "Mon, 07 Dec 2026 18:22:10 +0000". Returns buf. */
const char *mime_date(int64_t ts_ns, char *buf, size_t len);

/* s with & < > " escaped for HTML text. */
void  mime_html(struct mbuf *b, const char *s);

#endif
