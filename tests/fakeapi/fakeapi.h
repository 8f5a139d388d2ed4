/*
 * fakeapi: a local HTTP server that imitates vendors' APIs for tests,
 * demos and benchmarks.
 *
 * A route is one row { method, path, flags, handler } in a table; a
 * handler reads an fa_request_t and fills an fa_reply_t.  The server
 * applies faults, delays and drops around the handler, so handlers only
 * ever describe the healthy answer.  To add a vendor, write
 * vendor_<name>.c exporting `const fa_route_t fa_<name>_routes[]` and add
 * one row to the list in routes.c.
 *
 * Threading: handlers run on MHD's worker threads, several at once.  They
 * must not keep mutable globals without a lock.
 */

#ifndef FAKEAPI_H
#define FAKEAPI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>


#define FA_BODY_MAX         (1024 * 1024)   /* larger request bodies: 413 */
#define FA_DELAY_MAX        600000          /* ms; longer delays: 400 */
#define FA_FOREVER          UINT64_MAX


typedef struct {
    struct MHD_Connection  *conn;
    const char             *method;
    const char             *path;       /* decoded, without the query */
    const char             *arg;        /* path after a prefix route */
    const char             *body;       /* NULL when the request had none */
    size_t                  body_len;
} fa_request_t;

/*
 * What to answer.  A handler sets resp (via the fa_reply_* helpers) or
 * returns -1, which becomes a 500.  `shared` responses are built once and
 * reused by every request, so they are never destroyed per request.
 */
typedef struct {
    unsigned                status;
    struct MHD_Response    *resp;
    unsigned                shared;     /* resp outlives the request */
    unsigned                delay_ms;   /* answer only after this long */
} fa_reply_t;

typedef int (*fa_handler_pt)(const fa_request_t *r, fa_reply_t *out);

#define FA_PREFIX   0x01    /* path is a prefix; the rest goes in r->arg */

typedef struct {
    const char             *method;     /* NULL: any; "GET" includes HEAD */
    const char             *path;
    unsigned                flags;
    fa_handler_pt           handler;
} fa_route_t;

#define FA_ROUTE_END  { NULL, NULL, 0, NULL }


/*
 * A fault replaces or disturbs the answer for one path.  It is active when
 * any of status, delay_ms, hang, drop, reset or body is set;
 * retry_after and retry_date only add a header to a status answer.
 */
enum {
    FA_BODY_NONE = 0,
    FA_BODY_BADJSON,        /* cut off mid-object: not JSON */
    FA_BODY_ECHO,           /* a 401-style error quoting the credentials */
    FA_BODY_SHAPE,          /* JSON of no vendor's shape */
    FA_BODY_CRLF,           /* an error message that forges a log line */
    FA_BODY_HUGE            /* 1 MiB: {"data":"aaa...a"} */
};

typedef struct {
    unsigned                status;     /* answer this instead */
    unsigned                delay_ms;   /* wait before answering */
    unsigned                count;      /* 0: until cleared; else N more */
    unsigned                hang;       /* hold until the fault is cleared */
    unsigned                drop;       /* close without an answer */
    unsigned                reset;      /* as drop, but with a TCP RST */
    unsigned                retry_after; /* Retry-After (s) on a status */
    unsigned                retry_date; /* Retry-After as an HTTP-date
                                           this many s from now */
    unsigned                body;       /* FA_BODY_*: answer this body */
} fa_fault_t;


/* reply.c: request accessors and answers. */
int fa_reply_init(void);
void fa_reply_free(void);
const char *fa_request_arg(const fa_request_t *r, const char *name);
const char *fa_request_header(const fa_request_t *r, const char *name);
int fa_reply_json(fa_reply_t *out, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int fa_reply_jansson(fa_reply_t *out, unsigned status, json_t *json);
int fa_reply_error(fa_reply_t *out, unsigned status, const char *message);
void fa_reply_not_found(fa_reply_t *out);
void fa_reply_bad_method(fa_reply_t *out);
void fa_reply_health(fa_reply_t *out);
void fa_reply_release(fa_reply_t *out);

/* routes.c: the route tables and the built-in routes. */
const fa_route_t *fa_route_find(const char *method, const char *path,
    int *wrong_method);
int fa_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

/* admin.c: the /_admin/ routes. */
extern const fa_route_t fa_admin_routes[];

/*
 * fault.c: per-path faults and request counts; all calls thread-safe.
 * fa_table_hit() counts a request and copies its path's fault, if any,
 * into *fault.  For a hang it calls hang(ctx) before letting go of the
 * table, so that a clear racing with it cannot miss the parked request;
 * it returns what hang() returned, else 0.
 */
typedef int (*fa_hang_pt)(void *ctx);

int fa_table_init(void);
void fa_table_free(void);
int fa_table_hit(const char *path, fa_fault_t *fault, fa_hang_pt hang,
    void *ctx);
int fa_fault_parse(fa_fault_t *f, const char *key, const char *val,
    char *err, size_t len);
const char *fa_fault_set(const char *path, const fa_fault_t *f);
int fa_fault_clear(const char *path);
void fa_fault_clear_all(void);
int fa_fault_match(const char *pattern, const char *path);
int fa_fault_load(const char *file);
json_t *fa_fault_to_json(const fa_fault_t *f);
int fa_fault_reply(const fa_fault_t *f, const fa_request_t *r,
    fa_reply_t *out);
json_t *fa_faults_json(void);
json_t *fa_stats_json(void);
void fa_stats_reset(void);

/* wait.c: requests suspended for a delay or a hang. */
typedef enum {
    FA_WAKE_NONE = 0,
    FA_WAKE_TIMER,          /* the delay is over: send the stored reply */
    FA_WAKE_RELEASE,        /* the hang was cleared: answer normally */
    FA_WAKE_DROP            /* shutdown or the client left: close */
} fa_wake_e;

/*
 * Per-request state, allocated only for requests that carry a body or
 * must wait; the fast path runs without one.  Freed when MHD reports the
 * request complete.
 */
typedef struct {
    struct MHD_Connection  *conn;
    const char             *path;       /* MHD's, valid until completion */
    char                   *body;
    size_t                  body_len;
    size_t                  body_cap;
    unsigned                body_too_big:1;
    unsigned                drop:1;     /* close once the wait is over */
    unsigned                reset:1;
    uint64_t                deadline;   /* monotonic us, or FA_FOREVER */
    fa_wake_e               wake;       /* why the wait ended */
    fa_reply_t              reply;      /* sent when a timer wakes it */
} fa_req_t;

/*
 * fa_wait_suspend() must be called from the access handler.  It suspends
 * req->conn for delay_ms (FA_FOREVER: a hang); until MHD resumes it, req
 * belongs to wait.c.  It fails, touching nothing, once fa_wait_stop() has
 * begun or when too many requests wait.  fa_wait_release() wakes the
 * hangs whose path matches `pattern` (NULL: all).
 */
int fa_wait_start(void);
void fa_wait_stop(void);
int fa_wait_suspend(fa_req_t *req, uint64_t delay_ms);
void fa_wait_release(const char *pattern);

#endif /* FAKEAPI_H */
