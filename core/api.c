/*
 * api.c - the HTTP server: libmicrohttpd on its own pool of threads
 * (epoll), the route table, the request and response objects handlers
 * see, authentication, body caps and streams (see api.h for the rules).
 *
 * A request's life: MHD calls on_request() once with the headers (the
 * request context is made; a Content-Length over max_body is answered 413
 * at once), then once per piece of body (appended, or counted and dropped
 * beyond max_body), then once more to answer: the route is found, the
 * token checked, the handler called, its response queued. on_completed()
 * frees the context.
 *
 * Streams. A streaming response's reader (stream_read) asks the handler's
 * function for bytes; when it has none, the connection is suspended and
 * put on the parked list. The waker thread waits on the state store for a
 * new event (or a second) and resumes every parked connection, whose
 * reader then runs again. So an idle stream costs no thread and no poll.
 * api_stop resumes everything parked before MHD stops (it refuses to stop
 * with suspended connections) and tells streams to end.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <jansson.h>
#include <microhttpd.h>
#include "agent.h"
#include "api_internal.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "state.h"

#define MAX_HEADERS      8
#define STREAM_BLOCK     (16 * 1024)
#define TOKEN_MAX        4096

struct route {
    char           *method;
    char           *path;
    size_t          plen;
    unsigned        flags;
    api_handler_fn  fn;
    void           *arg;
};

struct api_request {
    struct api             *api;
    struct MHD_Connection  *conn;
    const char             *method;
    const char             *path;
    const char             *tail;
    char                   *body;
    size_t                  len, cap;
    int                     too_big;
    int                     authorized;
};

struct api_response {
    int           status;
    const char   *ctype;
    char         *body;
    size_t        len;
    size_t        nheaders;
    char         *headers[MAX_HEADERS][2];
    api_stream_fn stream;
    void         *stream_arg;
    void        (*stream_free)(void *);
};

struct stream {
    struct api            *api;
    struct MHD_Connection *conn;
    api_stream_fn          fn;
    void                  *arg;
    void                 (*free_fn)(void *);
    struct stream         *next;       /* on the parked list */
    int                    parked;
};

static int api_has_token(struct api *api);

/* --- the server object --------------------------------------------------- */

struct api *
api_new(struct agent *a, struct state *st)
{
    struct api *api = calloc(1, sizeof(*api));

    if (api == NULL)
        return NULL;
    api->agent = a;
    api->state = st;
    pthread_mutex_init(&api->lock, NULL);
    pthread_rwlock_init(&api->token_lock, NULL);
    return api;
}

struct agent *
api_agent(const struct api *api)
{
    return api->agent;
}

struct state *
api_state(const struct api *api)
{
    return api->state;
}

unsigned
api_port(const struct api *api)
{
    return api->port;
}

int
api_route(struct api *api, const char *method, const char *path,
          unsigned flags, api_handler_fn fn, void *arg)
{
    struct route *r;

    for (size_t i = 0; i < api->nroutes; i++)
        if (strcmp(api->routes[i].method, method) == 0
            && strcmp(api->routes[i].path, path) == 0)
            return -1;
    r = realloc(api->routes, (api->nroutes + 1) * sizeof(*r));
    if (r == NULL)
        return -1;
    api->routes = r;
    r = &api->routes[api->nroutes];
    r->method = strdup(method);
    r->path = strdup(path);
    if (r->method == NULL || r->path == NULL) {
        free(r->method);
        free(r->path);
        return -1;
    }
    r->plen = strlen(path);
    r->flags = flags;
    r->fn = fn;
    r->arg = arg;
    api->nroutes++;
    return 0;
}

/* The areas' installers, in order. */
static void
install_routes(struct api *api)
{
    void (*const installers[])(struct api *) = {
        api_routes_health,
        api_routes_integrations,
        api_routes_alerts,
        api_routes_sla,
        api_routes_stream,
        api_routes_metrics,
        api_routes_dashboard,
    };

    if (api->nroutes > 0)
        return;
    for (size_t i = 0; i < sizeof(installers) / sizeof(installers[0]); i++)
        installers[i](api);
}

/* The route for method and path: exact first, then the longest prefix.
 * *other: some route has the path with another method (405). */
static const struct route *
find_route(const struct api *api, const char *method, const char *path,
           int *other)
{
    const struct route *best = NULL;
    int head = strcmp(method, "HEAD") == 0;

    *other = 0;
    for (size_t i = 0; i < api->nroutes; i++) {
        const struct route *r = &api->routes[i];
        int match = (r->flags & API_PREFIX)
                    ? strncmp(path, r->path, r->plen) == 0
                    : strcmp(path, r->path) == 0;

        if (!match)
            continue;
        if (strcmp(r->method, method) != 0
            && !(head && strcmp(r->method, "GET") == 0)) {
            *other = 1;
            continue;
        }
        if (!(r->flags & API_PREFIX))
            return r;
        if (best == NULL || r->plen > best->plen)
            best = r;
    }
    return best;
}

/* --- the request ---------------------------------------------------------- */

const char *
api_req_method(const struct api_request *req)
{
    return req->method;
}

const char *
api_req_path(const struct api_request *req)
{
    return req->path;
}

const char *
api_req_tail(const struct api_request *req)
{
    return req->tail ? req->tail : "";
}

const char *
api_req_query(const struct api_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
                                       key);
}

const char *
api_req_header(const struct api_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
api_req_body(const struct api_request *req, size_t *len)
{
    if (len)
        *len = req->len;
    return req->body ? req->body : "";
}

int
api_req_authorized(const struct api_request *req)
{
    return req->authorized;
}

struct api *
api_req_api(const struct api_request *req)
{
    return req->api;
}

/* Constant time in the length of the token we hold: every byte of it is
 * compared, whatever the client sent. */
static int
token_matches(const struct api *api, const char *auth)
{
    const char *given;
    size_t glen;
    unsigned char diff = 0;
    int ok;

    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
        return 0;
    given = auth + 7;
    while (*given == ' ')
        given++;
    glen = strlen(given);
    pthread_rwlock_rdlock((pthread_rwlock_t *) &api->token_lock);
    for (size_t i = 0; i < api->token_len; i++)
        diff |= (unsigned char) (api->token[i]
                                 ^ (i < glen ? given[i] : 0));
    ok = api->token != NULL && diff == 0 && glen == api->token_len;
    pthread_rwlock_unlock((pthread_rwlock_t *) &api->token_lock);
    return ok;
}

/* --- the response ---------------------------------------------------------- */

static void response_clear(struct api_response *res);

/* Everything a response still holds once queued (or not). */
static void
response_done(struct api_response *res)
{
    response_clear(res);
    for (size_t i = 0; i < res->nheaders; i++) {
        free(res->headers[i][0]);
        free(res->headers[i][1]);
    }
    res->nheaders = 0;
}

static void
response_clear(struct api_response *res)
{
    free(res->body);
    res->body = NULL;
    res->len = 0;
    if (res->stream_free && res->stream_arg)
        res->stream_free(res->stream_arg);
    res->stream = NULL;
    res->stream_arg = NULL;
    res->stream_free = NULL;
}

void
api_reply(struct api_response *res, int status, const char *ctype,
          char *body, size_t len)
{
    response_clear(res);
    res->status = status;
    res->ctype = ctype;
    res->body = body;
    res->len = body ? len : 0;
}

void
api_reply_copy(struct api_response *res, int status, const char *ctype,
               const char *body, size_t len)
{
    char *copy = malloc(len + 1);

    if (copy == NULL) {
        api_reply(res, 503, "text/plain", NULL, 0);
        return;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';
    api_reply(res, status, ctype, copy, len);
}

void
api_reply_json(struct api_response *res, int status, void *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;

    json_decref(json);
    if (text == NULL) {
        api_reply_error(res, 500, "cannot render the answer");
        return;
    }
    api_reply(res, status, "application/json", text, strlen(text));
}

void
api_reply_error(struct api_response *res, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    json_t *j;
    char *text;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    j = json_pack("{s:s,s:i}", "error", msg, "status", status);
    text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    api_reply(res, status, "application/json", text, text ? strlen(text) : 0);
}

void
api_reply_header(struct api_response *res, const char *name,
                 const char *value)
{
    if (res->nheaders == MAX_HEADERS)
        return;
    res->headers[res->nheaders][0] = strdup(name);
    res->headers[res->nheaders][1] = strdup(value);
    res->nheaders++;
}

void
api_reply_stream(struct api_response *res, int status, const char *ctype,
                 api_stream_fn fn, void *arg, void (*free_fn)(void *arg))
{
    response_clear(res);
    res->status = status;
    res->ctype = ctype;
    res->stream = fn;
    res->stream_arg = arg;
    res->stream_free = free_fn;
}

/* --- streams ---------------------------------------------------------------- */

static void
park(struct stream *s)
{
    struct api *api = s->api;

    pthread_mutex_lock(&api->lock);
    if (!atomic_load(&api->stopping)) {     /* else read again: it ends */
        s->parked = 1;
        s->next = api->parked;
        api->parked = s;
        MHD_suspend_connection(s->conn);
    }
    pthread_mutex_unlock(&api->lock);
}

/* Resumes every parked stream. api->lock held. */
static void
unpark_all(struct api *api)
{
    for (struct stream *s = api->parked; s; s = s->next) {
        s->parked = 0;
        MHD_resume_connection(s->conn);
    }
    api->parked = NULL;
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    ssize_t n;

    (void) pos;
    if (atomic_load(&s->api->stopping))
        return MHD_CONTENT_READER_END_OF_STREAM;
    n = s->fn(s->arg, buf, max);
    if (n < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == 0)
        park(s);
    return n;
}

static void
stream_free(void *cls)
{
    struct stream *s = cls;
    struct api *api = s->api;

    pthread_mutex_lock(&api->lock);
    for (struct stream **p = &api->parked; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    api->nstreams--;
    pthread_mutex_unlock(&api->lock);
    if (s->free_fn)
        s->free_fn(s->arg);
    free(s);
}

static void *
waker_main(void *arg)
{
    struct api *api = arg;
    uint64_t seen = 0;

    while (!atomic_load(&api->stopping)) {
        seen = state_wait_event(api->state, seen, 1000);
        pthread_mutex_lock(&api->lock);
        unpark_all(api);
        pthread_mutex_unlock(&api->lock);
    }
    return NULL;
}

/* --- answering ---------------------------------------------------------------- */

/* A streaming response: the stream takes res's function and argument. */
static struct MHD_Response *
stream_response(struct api_request *req, struct api_response *res)
{
    struct stream *s = calloc(1, sizeof(*s));
    struct MHD_Response *r;

    if (s == NULL)
        return NULL;
    s->api = req->api;
    s->conn = req->conn;
    s->fn = res->stream;
    s->arg = res->stream_arg;
    s->free_fn = res->stream_free;
    res->stream = NULL;
    res->stream_arg = NULL;
    res->stream_free = NULL;
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                          stream_read, s, stream_free);
    if (r == NULL) {
        if (s->free_fn)
            s->free_fn(s->arg);
        free(s);
        return NULL;
    }
    pthread_mutex_lock(&req->api->lock);
    req->api->nstreams++;
    pthread_mutex_unlock(&req->api->lock);
    return r;
}

static enum MHD_Result
queue(struct api_request *req, struct api_response *res)
{
    struct MHD_Response *r;
    enum MHD_Result rc;

    if (res->stream) {
        r = stream_response(req, res);
    } else {
        r = MHD_create_response_from_buffer(
            res->len, res->body ? res->body : "",
            res->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (r)
            res->body = NULL;       /* MHD frees it */
    }
    if (r == NULL)
        return MHD_NO;
    if (res->ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->ctype);
    for (size_t i = 0; i < res->nheaders; i++)
        if (res->headers[i][0] && res->headers[i][1])
            MHD_add_response_header(r, res->headers[i][0],
                                    res->headers[i][1]);
    /* no-store unless the handler chose (the dashboard revalidates). */
    if (MHD_get_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL) == NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "no-store");
    rc = MHD_queue_response(req->conn, (unsigned) res->status, r);
    MHD_destroy_response(r);
    return rc;
}

static void
dispatch(struct api_request *req, struct api_response *res)
{
    struct api *api = req->api;
    const struct route *r;
    int other;

    if (req->too_big) {
        api_reply_error(res, 413, "request body over %zu bytes",
                        api->max_body);
        return;
    }
    r = find_route(api, req->method, req->path, &other);
    if (r == NULL) {
        if (other) {
            api_reply_error(res, 405, "method %s not allowed on %s",
                            req->method, req->path);
            return;
        }
        api_reply_error(res, 404, "no such path: %s", req->path);
        return;
    }
    req->authorized = token_matches(api, api_req_header(req,
                                    MHD_HTTP_HEADER_AUTHORIZATION));
    if ((r->flags & API_AUTH)
        || (atomic_load(&api->require_token) && !(r->flags & API_OPEN))) {
        if (!api_has_token(api)) {
            api_reply_error(res, 403, "no token_file in the api section: "
                            "this request needs a token");
            return;
        }
        if (!req->authorized) {
            api_reply_header(res, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                             "Bearer realm=\"outpost\"");
            api_reply_error(res, 401, "this request needs "
                            "\"Authorization: Bearer <token>\"");
            return;
        }
    }
    if (r->flags & API_PREFIX)
        req->tail = req->path + r->plen;
    r->fn(req, res, r->arg);
    if (res->status == 0)
        api_reply_error(res, 500, "the handler gave no answer");
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **ctx)
{
    struct api *api = cls;
    struct api_request *req = *ctx;
    struct api_response res = { 0 };
    enum MHD_Result rc;
    const char *cl;

    (void) version;
    if (req == NULL) {
        if ((req = calloc(1, sizeof(*req))) == NULL)
            return MHD_NO;
        req->api = api;
        req->conn = conn;
        req->method = method;
        req->path = url;
        *ctx = req;
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > api->max_body) {
            req->too_big = 1;
            api_reply_error(&res, 413, "request body over %zu bytes",
                            api->max_body);
            rc = queue(req, &res);
            response_done(&res);
            return rc;
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;

        *upload_size = 0;
        if (req->too_big || req->len + n > api->max_body) {
            req->too_big = 1;
            return MHD_YES;
        }
        if (req->len + n + 1 > req->cap) {
            size_t cap = req->cap ? req->cap : 1024;
            char *b;
            while (cap < req->len + n + 1)
                cap *= 2;
            if ((b = realloc(req->body, cap)) == NULL)
                return MHD_NO;
            req->body = b;
            req->cap = cap;
        }
        memcpy(req->body + req->len, upload, n);
        req->len += n;
        req->body[req->len] = '\0';
        return MHD_YES;
    }
    dispatch(req, &res);
    rc = queue(req, &res);
    response_done(&res);
    return rc;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **ctx,
             enum MHD_RequestTerminationCode why)
{
    struct api_request *req = *ctx;

    (void) cls;
    (void) conn;
    (void) why;
    if (req == NULL)
        return;
    free(req->body);
    free(req);
    *ctx = NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void) cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_core(OUTPOST_LOG_DEBUG, "api", "%s", msg);
}

/* --- starting and stopping ------------------------------------------------------ */

static char *
read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        return NULL;
    buf = malloc(max + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    n = fread(buf, 1, max, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void
set_token(struct api *api, char *t, size_t n)
{
    pthread_rwlock_wrlock(&api->token_lock);
    free(api->token);
    api->token = t;
    api->token_len = n;
    pthread_rwlock_unlock(&api->token_lock);
}

static int
api_has_token(struct api *api)
{
    int has;

    pthread_rwlock_rdlock(&api->token_lock);
    has = api->token != NULL;
    pthread_rwlock_unlock(&api->token_lock);
    return has;
}

static int
load_token(struct api *api, const char *path)
{
    size_t n;
    char *t;

    if (path == NULL) {
        set_token(api, NULL, 0);
        return 0;
    }
    if ((t = read_file(path, TOKEN_MAX, &n)) == NULL) {
        log_core(OUTPOST_LOG_ERROR, "api", "cannot read token_file %s: %s",
                 path, strerror(errno));
        return -1;
    }
    while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r'
                     || t[n - 1] == ' ' || t[n - 1] == '\t'))
        t[--n] = '\0';
    if (n == 0 || memchr(t, '\n', n)) {
        log_core(OUTPOST_LOG_ERROR, "api", "token_file %s must hold one "
                 "line, the token", path);
        free(t);
        return -1;
    }
    set_token(api, t, n);
    return 0;
}

/* "host:port" or "[v6]:port" to an address. 0 / -1. */
static int
resolve_listen(const char *listen, struct sockaddr_storage *ss,
               socklen_t *sslen)
{
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                              .ai_socktype = SOCK_STREAM }, *res = NULL;
    const char *colon = strrchr(listen, ':');
    char host[256];
    size_t n;

    if (colon == NULL)
        return -1;
    n = (size_t) (colon - listen);
    if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
        listen++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, listen, n);
    host[n] = '\0';
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int
same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* What needs a new listener: the address, TLS, the limits MHD takes at
 * its start. */
static int
listener_changed(const struct api *api, const struct config *c)
{
    return !same(api->listen, c->api_listen)
        || !same(api->cert_file, c->api_tls_cert_file)
        || !same(api->key_file, c->api_tls_key_file)
        || api->max_connections != (unsigned) c->api_max_connections
        || api->timeout_s != (unsigned) ((c->api_connection_timeout_ms
                                          + 999) / 1000)
        || api->threads != (unsigned) c->api_threads;
}

static void
stop_daemon(struct api *api)
{
    if (api->daemon == NULL)
        return;
    atomic_store(&api->stopping, 1);
    if (api->waker_started) {
        pthread_join(api->waker, NULL);
        api->waker_started = 0;
    }
    /* MHD will not stop with suspended connections: wake them; their
     * readers see stopping and end. */
    pthread_mutex_lock(&api->lock);
    unpark_all(api);
    pthread_mutex_unlock(&api->lock);
    for (int i = 0; i < 200; i++) {
        int n;

        pthread_mutex_lock(&api->lock);
        unpark_all(api);
        n = (int) api->nstreams;
        pthread_mutex_unlock(&api->lock);
        if (n == 0)
            break;
        nanosleep(&(struct timespec) { 0, 10000000 }, NULL);
    }
    MHD_stop_daemon(api->daemon);
    api->daemon = NULL;
    api->port = 0;
    atomic_store(&api->stopping, 0);
}

static int
start_daemon(struct api *api, const struct config *c)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL
                     | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    char *cert = NULL, *key = NULL;
    const union MHD_DaemonInfo *info;

    if (resolve_listen(c->api_listen, &ss, &sslen) != 0) {
        log_core(OUTPOST_LOG_ERROR, "api", "cannot resolve listen address "
                 "%s", c->api_listen);
        return -1;
    }
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (c->api_tls_cert_file && c->api_tls_key_file) {
        cert = read_file(c->api_tls_cert_file, 1 << 20, NULL);
        key = read_file(c->api_tls_key_file, 1 << 20, NULL);
        if (cert == NULL || key == NULL) {
            log_core(OUTPOST_LOG_ERROR, "api", "cannot read the TLS "
                     "certificate or key: %s", strerror(errno));
            free(cert);
            free(key);
            return -1;
        }
        flags |= MHD_USE_TLS;
    }
    api->max_connections = (unsigned) c->api_max_connections;
    api->timeout_s = (unsigned) ((c->api_connection_timeout_ms + 999) / 1000);
    api->threads = (unsigned) c->api_threads;
    api->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, api,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
        MHD_OPTION_THREAD_POOL_SIZE, api->threads,
        MHD_OPTION_CONNECTION_LIMIT, api->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, api->timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 64 * 1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, api,
        cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
        MHD_OPTION_HTTPS_MEM_KEY, key,
        MHD_OPTION_END);
    free(cert);
    free(key);
    if (api->daemon == NULL) {
        log_core(OUTPOST_LOG_ERROR, "api", "cannot listen on %s: %s",
                 c->api_listen, strerror(errno));
        return -1;
    }
    info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
    api->port = info ? info->port : 0;
    if (pthread_create(&api->waker, NULL, waker_main, api) == 0)
        api->waker_started = 1;
    free(api->listen);
    free(api->cert_file);
    free(api->key_file);
    api->listen = strdup(c->api_listen);
    api->cert_file = c->api_tls_cert_file ? strdup(c->api_tls_cert_file)
                                          : NULL;
    api->key_file = c->api_tls_key_file ? strdup(c->api_tls_key_file)
                                        : NULL;
    log_core(OUTPOST_LOG_INFO, "api", "listening on %s%s (port %u)",
             c->api_listen, cert ? " with TLS" : "", api->port);
    return 0;
}

int
api_start(struct api *api, const struct config *c)
{
    if (!c->api_enabled || c->api_listen == NULL) {
        api_stop(api);
        return 0;
    }
    install_routes(api);
    /* Read by handlers without a lock: set before the listener opens, or
     * changed on a reload only as whole values. */
    api->max_body = (size_t) c->api_max_body;
    api->require_token = c->api_require_token;
    api->failing_after_ms = c->api_failing_after_ms;
    if (load_token(api, c->api_token_file) != 0)
        return -1;
    if (api->daemon && !listener_changed(api, c))
        return 0;
    stop_daemon(api);
    return start_daemon(api, c);
}

void
api_stop(struct api *api)
{
    stop_daemon(api);
    free(api->listen);
    free(api->cert_file);
    free(api->key_file);
    api->listen = api->cert_file = api->key_file = NULL;
}

int
api_at_free(struct api *api, void (*fn)(void *arg), void *arg)
{
    size_t max = sizeof(api->at_free) / sizeof(api->at_free[0]);

    if (api->nat_free == max)
        return -1;
    api->at_free[api->nat_free].fn = fn;
    api->at_free[api->nat_free].arg = arg;
    api->nat_free++;
    return 0;
}

void
api_free(struct api *api)
{
    if (api == NULL)
        return;
    api_stop(api);
    for (size_t i = 0; i < api->nat_free; i++)
        api->at_free[i].fn(api->at_free[i].arg);
    for (size_t i = 0; i < api->nroutes; i++) {
        free(api->routes[i].method);
        free(api->routes[i].path);
    }
    free(api->routes);
    free(api->token);
    pthread_mutex_destroy(&api->lock);
    pthread_rwlock_destroy(&api->token_lock);
    free(api);
}
