/*
 * fakeapi: helpers the vendor_*.c route files share (vendor_common.c).
 *
 * A vendor file checks the credentials its vendor checks and answers with
 * the vendor's status codes, headers and body shapes.  The valid test
 * credentials are listed in README.md ("Vendors") and defined in each
 * vendor file as FV_<VENDOR>_* constants.
 */

#ifndef FAKEAPI_VENDOR_H
#define FAKEAPI_VENDOR_H

#include <stddef.h>

#include "fakeapi.h"


/*
 * The credential after `scheme` in the Authorization header ("Bearer",
 * "Bot", "Basic"), with the blank after the scheme skipped; NULL when the
 * header is missing or uses another scheme.  Borrowed from MHD.
 */
const char *fv_auth(const fa_request_t *r, const char *scheme);

/* 1 when Authorization is `<scheme> <token>` exactly. */
int fv_auth_is(const fa_request_t *r, const char *scheme, const char *token);

/*
 * Decodes `Authorization: Basic base64(user:pass)` into user and pass
 * (NUL-terminated, truncated to their sizes).  0, or -1 when there is no
 * Basic header or it does not decode.
 */
int fv_basic(const fa_request_t *r, char *user, size_t ulen, char *pass,
    size_t plen);

/* 1 when the Basic credentials are exactly user:pass. */
int fv_basic_is(const fa_request_t *r, const char *user, const char *pass);

/*
 * The value of `key` in an application/x-www-form-urlencoded body,
 * decoded into buf; NULL when absent or longer than buf.
 */
const char *fv_form(const fa_request_t *r, const char *key, char *buf,
    size_t len);

/* Adds a header to the reply's response (the reply must own one). */
int fv_header(fa_reply_t *out, const char *name, const char *value);
int fv_headerf(fa_reply_t *out, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The notifiers' inbox (vendor_notify.c): records r with the status it
 * will get; returns a planned failure's status instead (and its
 * Retry-After in *retry_after), 0 when none. fv_planned answers it.
 */
unsigned fv_inbox_add(const fa_request_t *r, unsigned status,
    unsigned *retry_after);
int fv_planned(fa_reply_t *out, unsigned status, unsigned retry_after);

/* Answers a plain-text body (some vendors' edges do). */
int fv_reply_text(fa_reply_t *out, unsigned status, const char *text);

/*
 * Writes `key` as vendors show it in errors: the first `keep` characters,
 * then stars, then the last four ("sk_test_****abcd").  JSON-safe: any
 * character other than [A-Za-z0-9_.-] becomes '?'.
 */
const char *fv_mask(const char *key, size_t keep, char *buf, size_t len);

/* A per-process counter, for request ids. */
unsigned long fv_next_id(void);

#endif /* FAKEAPI_VENDOR_H */
