/*
 * httpcheck_request.c - turns an instance's conf, plus what hooks asked
 * for this one request (struct httpcheck_next), into curl options on the
 * borrowed easy handle. The handle served another instance before, so
 * a request starts from curl_easy_reset(): nothing leaks from one check
 * to the next. The exception is a plain request (no hooks, no overrides,
 * nothing the handle would point into that is the instance's own) equal
 * to the one the handle was last set up for: the handle already holds
 * exactly those options, so only the timeout is set again. Many checks of
 * one URL, or one check run again, then cost no reset and no setopt.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "httpcheck_int.h"

#define DEFAULT_USER_AGENT "outpost/0.1"

static const char *const methods[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL
};

static int
method_valid(const char *m)
{
    for (size_t i = 0; methods[i]; i++)
        if (strcmp(m, methods[i]) == 0)
            return 1;
    return 0;
}

/* "Name: value" (or "Name;" curl's way of sending an empty value). */
static int
header_valid(const char *h)
{
    size_t n = strcspn(h, ":;");

    return n > 0 && h[n] != '\0' && strcspn(h, " \t") >= n;
}

/* Same header name in two "Name: value" lines, any case. */
static int
same_name(const char *a, const char *b)
{
    size_t na = strcspn(a, ":;"), nb = strcspn(b, ":;");

    return na == nb && strncasecmp(a, b, na) == 0;
}

static int
slist_add(struct curl_slist **list, const char *s)
{
    struct curl_slist *l = curl_slist_append(*list, s);

    if (l == NULL)
        return -1;
    *list = l;
    return 0;
}

/* The headers every request of the instance sends, built once. */
int
hc_request_base(httpcheck_t *hc, char *err, size_t errlen)
{
    const struct httpcheck_conf *cf = hc->conf;
    char *auth = NULL;
    int rc;

    if (cf->method && !method_valid(cf->method)) {
        snprintf(err, errlen, "method: unknown method \"%s\"", cf->method);
        return -1;
    }
    for (size_t i = 0; i < cf->headers.n; i++) {
        if (!header_valid(cf->headers.v[i])) {
            /* Not quoted: a header without its ':' is not known as a
             * secret (secrets.h), yet may well be "Authorization ..." */
            snprintf(err, errlen, "headers: entry %zu is not \"Name: "
                     "value\" (no ':' after a name)", i + 1);
            return -1;
        }
        if (slist_add(&hc->headers, cf->headers.v[i]) != 0)
            goto nomem;
    }
    if (cf->bearer) {
        if (asprintf(&auth, "Authorization: Bearer %s", cf->bearer) < 0)
            goto nomem;
        rc = slist_add(&hc->headers, auth);
        free(auth);
        if (rc != 0)
            goto nomem;
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* The instance's headers with the hook's added or replacing them. */
static struct curl_slist *
merged_headers(httpcheck_call_t *c)
{
    struct curl_slist *out = NULL, *h, *x;

    for (h = c->hc->headers; h; h = h->next) {
        for (x = c->next.headers; x; x = x->next)
            if (same_name(h->data, x->data))
                break;
        if (x == NULL && slist_add(&out, h->data) != 0)
            goto fail;
    }
    for (x = c->next.headers; x; x = x->next)
        if (slist_add(&out, x->data) != 0)
            goto fail;
    return out;
fail:
    curl_slist_free_all(out);
    return NULL;
}

static void
set_method_and_body(CURL *e, const char *method, const char *body,
                    size_t len)
{
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
        return;
    } else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    }
}

static void
set_transport(CURL *e, const httpcheck_t *hc)
{
    const struct httpcheck_conf *cf = hc->conf;
    long ipr = CURL_IPRESOLVE_WHATEVER;

    curl_easy_setopt(e, CURLOPT_USERAGENT,
                     cf->user_agent ? cf->user_agent : DEFAULT_USER_AGENT);
    if (cf->follow_redirects) {
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, cf->max_redirects > 0
                         ? (long) cf->max_redirects
                         : (long) HTTPCHECK_DEFAULT_MAX_REDIRECTS);
    }
    hc_tls_set_ca(e, hc);
    if (cf->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    /* An http check speaks HTTP: no file://, no other protocol curl
     * knows, whatever a URL from config, a hook or a redirect says. */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    /* Only the configured proxy: a daemon's environment is not the
     * operator's shell, and a check should go where its config says. */
    curl_easy_setopt(e, CURLOPT_PROXY, cf->proxy ? cf->proxy : "");
    /* With no proxy, no_proxy cannot matter: saying so spares curl two
     * getenv() per transfer. With one, the environment's no_proxy still
     * applies, as it always has. */
    if (cf->proxy == NULL)
        curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    if (cf->ip_version && strcmp(cf->ip_version, "ipv4") == 0)
        ipr = CURL_IPRESOLVE_V4;
    else if (cf->ip_version && strcmp(cf->ip_version, "ipv6") == 0)
        ipr = CURL_IPRESOLVE_V6;
    curl_easy_setopt(e, CURLOPT_IPRESOLVE, ipr);
    if (!cf->reuse_connections) {
        /* A health check measures connecting too, as a new client would:
         * with a full TLS handshake, not one resumed from the session the
         * pooled handle kept. So tls_ms compares from run to run, and a
         * certificate replaced on the server is seen at the next check. */
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    } else
        /* Checks that start together (the first round, --once) wait for
         * the connection being opened to the same server if it may
         * multiplex (HTTP/2, which most APIs speak) instead of each
         * opening its own. */
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
}

/* Bumped whenever an instance goes: a handle set up before then may
 * point into it, so it is set up again from scratch. */
static _Atomic unsigned setup_gen = 1;

void
hc_request_forget(void)
{
    atomic_fetch_add(&setup_gen, 1);
}

static int
same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* hc's requests set no option that differs between checks but the
 * timeout, and none that points into hc (its header list, its CA). */
static int
plain(const httpcheck_t *hc)
{
    return hc->hooks == NULL && hc->headers == NULL && hc->ca_pem == NULL
        && hc->ca == NULL;
}

/* Plain a and b whose requests set the same options. */
static int
same_request(const httpcheck_t *a, const httpcheck_t *b)
{
    const struct httpcheck_conf *x = a->conf, *y = b->conf;

    if (!plain(a) || !plain(b))
        return 0;
    if (a == b)
        return 1;
    return same_str(x->url, y->url) && same_str(x->method, y->method)
        && same_str(x->body, y->body)
        && same_str(x->username, y->username)
        && same_str(x->password, y->password)
        && x->follow_redirects == y->follow_redirects
        && x->max_redirects == y->max_redirects
        && same_str(x->ca_file, y->ca_file) && x->insecure == y->insecure
        && same_str(x->proxy, y->proxy)
        && same_str(x->ip_version, y->ip_version)
        && same_str(x->user_agent, y->user_agent)
        && x->reuse_connections == y->reuse_connections;
}

static int
no_overrides(const struct httpcheck_next *n)
{
    return n->url == NULL && n->method == NULL && !n->has_body
        && n->user == NULL && n->headers == NULL;
}

int
hc_request_apply(httpcheck_call_t *c, int64_t timeout_ms)
{
    const struct httpcheck_conf *cf = c->hc->conf;
    const struct httpcheck_next *n = &c->next;
    const char *url = n->url ? n->url : cf->url;
    const char *method = n->method ? n->method
                                   : cf->method ? cf->method : "GET";
    const char *user = n->user ? n->user : cf->username;
    CURL *e = c->easy;

    unsigned gen = atomic_load(&setup_gen);

    if (url == NULL)
        return -1;
    if (!no_overrides(n) || !plain(c->hc))
        c->setup_for = NULL;
    else if (c->setup_for && c->setup_gen == gen
             && same_request(c->setup_for, c->hc)) {
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
        c->errbuf[0] = '\0';
        return 0;
    } else {
        c->setup_for = c->hc;
        c->setup_gen = gen;
    }
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (n->has_body)
        set_method_and_body(e, method, n->body, n->body_len);
    else
        set_method_and_body(e, method, cf->body,
                            cf->body ? strlen(cf->body) : 0);
    if (n->headers) {
        if ((c->sent_headers = merged_headers(c)) == NULL)
            return -1;
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->sent_headers);
    } else if (c->hc->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->hc->headers);
    if (user) {
        const char *pw = n->user ? n->password : cf->password;
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, pw ? pw : "");
    }
    set_transport(e, c->hc);
    if (strncasecmp(url, "https:", 6) == 0 || cf->follow_redirects)
        curl_easy_setopt(e, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, hc_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, hc_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    c->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    return 0;
}

void
hc_next_clear(struct httpcheck_next *n)
{
    free(n->url);
    free(n->method);
    free(n->body);
    free(n->user);
    free(n->password);
    curl_slist_free_all(n->headers);
    memset(n, 0, sizeof(*n));
}

/* The request is over: what was made for it goes. */
void
hc_request_done(httpcheck_call_t *c)
{
    curl_slist_free_all(c->sent_headers);
    c->sent_headers = NULL;
    hc_next_clear(&c->next);
}

/* --- setters for hooks -------------------------------------------------- */

static int
replace(char **slot, const char *s)
{
    char *copy = s ? strdup(s) : NULL;

    if (s && copy == NULL)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

int
httpcheck_set_url(httpcheck_call_t *c, const char *url)
{
    return replace(&c->next.url, url);
}

int
httpcheck_set_method(httpcheck_call_t *c, const char *method)
{
    if (method && !method_valid(method))
        return -1;
    return replace(&c->next.method, method);
}

int
httpcheck_set_body(httpcheck_call_t *c, const char *body, size_t len)
{
    char *copy = malloc(len + 1);

    if (copy == NULL)
        return -1;
    if (len)
        memcpy(copy, body, len);
    copy[len] = '\0';
    free(c->next.body);
    c->next.body = copy;
    c->next.body_len = len;
    c->next.has_body = 1;
    return 0;
}

int
httpcheck_add_header(httpcheck_call_t *c, const char *header)
{
    struct curl_slist *keep = NULL, *h;

    if (!header_valid(header))
        return -1;
    /* A later header of the same name replaces an earlier one. */
    for (h = c->next.headers; h; h = h->next)
        if (!same_name(h->data, header) && slist_add(&keep, h->data) != 0)
            goto fail;
    if (slist_add(&keep, header) != 0)
        goto fail;
    curl_slist_free_all(c->next.headers);
    c->next.headers = keep;
    return 0;
fail:
    curl_slist_free_all(keep);
    return -1;
}

int
httpcheck_set_basic_auth(httpcheck_call_t *c, const char *user,
                         const char *password)
{
    if (replace(&c->next.user, user) != 0
        || replace(&c->next.password, password) != 0)
        return -1;
    return 0;
}

int
httpcheck_set_bearer(httpcheck_call_t *c, const char *token)
{
    char *h;
    int rc;

    if (asprintf(&h, "Authorization: Bearer %s", token) < 0)
        return -1;
    rc = httpcheck_add_header(c, h);
    free(h);
    return rc;
}
