/*
 * httpcheck_response.c - what comes back: the final response's headers
 * (kept for conditions and hooks), its body (kept only when something
 * reads it, and only up to max_body: a longer one is marked, and reported
 * as too large rather than as not JSON), and the phase timings.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "httpcheck_int.h"

#define HEADERS_MAX (64 * 1024)    /* a response's headers kept, at most */

static int
grow(char **buf, size_t *cap, size_t need, size_t first)
{
    size_t cap2 = *cap ? *cap : first;
    char *b;

    if (need <= *cap)
        return 0;
    while (cap2 < need)
        cap2 *= 2;
    if ((b = realloc(*buf, cap2)) == NULL)
        return -1;
    *buf = b;
    *cap = cap2;
    return 0;
}

void
hc_response_reset(httpcheck_call_t *c)
{
    c->result = CURLE_OK;
    c->status = 0;
    c->body_len = 0;
    c->body_over = 0;
    if (c->body)
        c->body[0] = '\0';
    c->hdrs_len = 0;
    if (c->json) {
        json_decref(c->json);
        c->json = NULL;
    }
    c->json_tried = 0;
}

/* The call goes back to the pool: drop what is per answer. */
void
hc_response_release(httpcheck_call_t *c)
{
    hc_response_reset(c);
}

size_t
hc_on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    httpcheck_call_t *c = arg;
    size_t n = size * nmemb, take;

    c->bytes += (int64_t) n;
    if (!c->keep_body)
        return n;
    if (c->body_len >= c->body_max) {
        c->body_over |= n > 0;
        return n;
    }
    take = c->body_max - c->body_len;
    if (take > n)
        take = n;
    c->body_over |= take < n;
    if (grow(&c->body, &c->body_cap, c->body_len + take + 1, 1024) != 0)
        return n;                   /* judged on what was kept */
    memcpy(c->body + c->body_len, ptr, take);
    c->body_len += take;
    c->body[c->body_len] = '\0';
    return n;
}

/* One header line: a status line starts a new response (a redirect, a
 * 100 Continue), which replaces what was kept; "Name: value" is kept as
 * "name\0value\0" with surrounding blanks trimmed. */
size_t
hc_on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    httpcheck_call_t *c = arg;
    size_t n = size * nmemb, len = n, nlen;
    const char *colon, *v;

    while (len > 0 && (ptr[len - 1] == '\n' || ptr[len - 1] == '\r'))
        len--;
    if (len >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        c->hdrs_len = 0;
        return n;
    }
    if ((colon = memchr(ptr, ':', len)) == NULL)
        return n;
    nlen = (size_t) (colon - ptr);
    v = colon + 1;
    while (v < ptr + len && (*v == ' ' || *v == '\t'))
        v++;
    while (len > 0 && (ptr[len - 1] == ' ' || ptr[len - 1] == '\t'))
        len--;
    if (c->hdrs_len + len + 2 > HEADERS_MAX
        || grow(&c->hdrs, &c->hdrs_cap, c->hdrs_len + len + 2, 1024) != 0)
        return n;
    for (size_t i = 0; i < nlen; i++)
        c->hdrs[c->hdrs_len++] = (char) tolower((unsigned char) ptr[i]);
    c->hdrs[c->hdrs_len++] = '\0';
    if (ptr + len > v) {
        memcpy(c->hdrs + c->hdrs_len, v, (size_t) (ptr + len - v));
        c->hdrs_len += (size_t) (ptr + len - v);
    }
    c->hdrs[c->hdrs_len++] = '\0';
    return n;
}

int
httpcheck_header_at(const httpcheck_call_t *c, size_t i, const char **name,
                    const char **value)
{
    size_t off = 0;

    while (off < c->hdrs_len) {
        const char *nm = c->hdrs + off;
        const char *val = nm + strlen(nm) + 1;

        off = (size_t) (val - c->hdrs) + strlen(val) + 1;
        if (i-- == 0) {
            *name = nm;
            *value = val;
            return 1;
        }
    }
    return 0;
}

const char *
httpcheck_header(const httpcheck_call_t *c, const char *name)
{
    const char *nm, *val, *found = NULL;

    for (size_t i = 0; httpcheck_header_at(c, i, &nm, &val); i++)
        if (strcasecmp(nm, name) == 0)
            found = val;
    return found;
}

const char *
httpcheck_body(const httpcheck_call_t *c, size_t *len)
{
    if (len)
        *len = c->body ? c->body_len : 0;
    return c->body ? c->body : "";
}

size_t
httpcheck_body_over(const httpcheck_call_t *c)
{
    return c->body_over ? c->body_max : 0;
}

/* A body cut at max_body is not read as JSON: half a document is not the
 * vendor's answer (httpcheck_body_over says why). */
json_t *
httpcheck_json(httpcheck_call_t *c)
{
    if (!c->json_tried) {
        c->json_tried = 1;
        if (c->body && c->body_len > 0 && !c->body_over)
            c->json = json_loadb(c->body, c->body_len, JSON_DECODE_ANY,
                                 NULL);
    }
    return c->json;
}

static curl_off_t
info_us(CURL *e, CURLINFO what)
{
    curl_off_t v = 0;

    curl_easy_getinfo(e, what, &v);
    return v > 0 ? v : 0;
}

/* curl's cut points are cumulative from the start (and summed over
 * redirects); the phases are their differences. A plain-HTTP request has
 * no TLS cut point (0): its tls phase is 0. A failed request stops short
 * of some cut point (0): the time from the last one reached to the end
 * goes to the phase that did not finish, so a refused connect shows as
 * connect time and a hung handshake as TLS time. */
void
hc_response_times(httpcheck_call_t *c)
{
    CURL *e = c->easy;
    curl_off_t dns = info_us(e, CURLINFO_NAMELOOKUP_TIME_T);
    curl_off_t conn = info_us(e, CURLINFO_CONNECT_TIME_T);
    curl_off_t tls = info_us(e, CURLINFO_APPCONNECT_TIME_T);
    curl_off_t start = info_us(e, CURLINFO_STARTTRANSFER_TIME_T);
    curl_off_t total = info_us(e, CURLINFO_TOTAL_TIME_T);
    curl_off_t ready;
    const char *scheme = NULL;
    long redirects = 0, connects = 0;

    curl_easy_getinfo(e, CURLINFO_SCHEME, &scheme);
    if (c->result != CURLE_OK) {
        int https = scheme && strcasecmp(scheme, "https") == 0;
        if (dns == 0)
            dns = total;
        /* curl records the TCP connect only once TLS is up too: a failed
         * handshake leaves it 0, though the time went to TLS. */
        if (conn == 0)
            conn = hc_tls_error(c->result) ? dns : total;
        if (https && tls == 0)
            tls = total;
        if (start == 0)
            start = total;
    }
    if (conn < dns)
        conn = dns;
    ready = tls > conn ? tls : conn;
    if (start < ready)
        start = ready;
    if (total < start)
        total = start;
    c->times.dns += dns;
    c->times.connect += conn - dns;
    c->times.tls += ready - conn;
    c->times.ttfb += start - ready;
    c->times.transfer += total - start;
    c->times.total += total;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->status);
    curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &redirects);
    c->redirects += redirects;
    if (curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
        c->connects += connects;
}
