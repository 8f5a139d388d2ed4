/*
 * fakeapi: the server.  Parses the command line, starts libmicrohttpd on
 * 127.0.0.1, prints `PORT <n>` once it listens, and serves until SIGTERM
 * or SIGINT.
 *
 * Every request goes through fa_access(): count the hit and take the
 * path's fault (one lock, fault.c), run the route unless the fault says
 * otherwise, then answer, wait (wait.c) or drop.  Requests without a body
 * that answer at once allocate nothing here; state (fa_req_t) exists only
 * for bodies and waits.
 */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "fakeapi.h"


#define FA_THREADS_MAX      64
#define FA_CONN_MAX         65536

typedef struct {
    unsigned                port;
    unsigned                threads;
    const char             *config;
    int                     verbose;
    const char             *tls_cert;   /* --tls-cert: PEM file, or NULL */
    const char             *tls_key;    /* --tls-key */
    char                   *tls_cert_pem;  /* their contents, kept while */
    char                   *tls_key_pem;   /* the daemon runs (MHD's rule) */
} fa_conf_t;


/*
 * *con_cls of a request without state past its first call.  MHD closes
 * the connection after an answer queued on the first call (it cannot tell
 * whether a body follows), so every request is answered on a later call,
 * and this marker avoids an allocation to tell the two apart.
 */
static char  fa_seen;
#define FA_SEEN  ((void *) &fa_seen)


static fa_req_t *
fa_req_get(struct MHD_Connection *conn, const char *url, void **con_cls)
{
    fa_req_t  *req = *con_cls;

    if (req != NULL && req != FA_SEEN) {
        return req;
    }

    req = calloc(1, sizeof(fa_req_t));
    if (req == NULL) {
        return NULL;
    }

    req->conn = conn;
    req->path = url;
    *con_cls = req;
    return req;
}


/* MHD calls this once a request is over, whatever happened to it. */
static void
fa_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
    fa_req_t  *req = *con_cls;

    (void) cls;
    (void) conn;
    (void) toe;

    if (req == NULL || req == FA_SEEN) {
        return;
    }

    fa_reply_release(&req->reply);
    free(req->body);
    free(req);
    *con_cls = NULL;
}


/* Bodies past FA_BODY_MAX are read and discarded, then answered 413. */
static void
fa_req_append(fa_req_t *req, const char *data, size_t len)
{
    size_t   cap;
    char    *p;

    if (req->body_too_big || req->body_len + len > FA_BODY_MAX) {
        req->body_too_big = 1;
        return;
    }

    if (req->body_len + len + 1 > req->body_cap) {
        cap = req->body_cap ? req->body_cap : 1024;
        while (cap < req->body_len + len + 1) {
            cap *= 2;
        }

        p = realloc(req->body, cap);
        if (p == NULL) {
            req->body_too_big = 1;
            return;
        }
        req->body = p;
        req->body_cap = cap;
    }

    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
}


/*
 * Returning MHD_NO makes MHD close the socket without an answer.  A zero
 * linger turns that close into an RST, which clients report differently
 * ("connection reset" rather than "empty reply").
 */
static enum MHD_Result
fa_drop(struct MHD_Connection *conn, int reset)
{
    const union MHD_ConnectionInfo  *ci;
    struct linger                    lg = { 1, 0 };

    if (reset) {
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci != NULL) {
            (void) setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER,
                              &lg, sizeof(lg));
        }
    }

    return MHD_NO;
}


static enum MHD_Result
fa_queue(struct MHD_Connection *conn, fa_reply_t *reply)
{
    enum MHD_Result  rc;

    rc = MHD_queue_response(conn, reply->status, reply->resp);
    fa_reply_release(reply);
    return rc;
}


/*
 * Send the reply now, or park the request for `delay_ms` with the reply
 * stored in its state; fa_resume() sends it when the timer fires.
 */
static enum MHD_Result
fa_send(struct MHD_Connection *conn, const char *url, void **con_cls,
    fa_reply_t *reply, uint64_t delay_ms, const fa_fault_t *fault)
{
    fa_req_t  *req;

    if (delay_ms == 0 && !fault->drop && !fault->reset) {
        return fa_queue(conn, reply);
    }

    if (delay_ms == 0) {
        fa_reply_release(reply);
        return fa_drop(conn, fault->reset);
    }

    req = fa_req_get(conn, url, con_cls);
    if (req == NULL) {
        fa_reply_release(reply);
        return MHD_NO;
    }

    req->reply = *reply;
    req->drop = fault->drop;
    req->reset = fault->reset;

    if (fa_wait_suspend(req, delay_ms) != 0) {
        /* shutting down, or too many waiting already */
        fa_reply_release(&req->reply);
        return MHD_NO;
    }

    return MHD_YES;
}


static void
fa_answer(fa_request_t *r, fa_reply_t *out)
{
    const fa_route_t  *route;
    int                wrong_method;

    route = fa_route_find(r->method, r->path, &wrong_method);
    if (route == NULL) {
        if (wrong_method) {
            fa_reply_bad_method(out);
        } else {
            fa_reply_not_found(out);
        }
        return;
    }

    if (route->flags & FA_PREFIX) {
        r->arg = r->path + strlen(route->path);
    }

    if (route->handler(r, out) != 0 || out->resp == NULL) {
        fa_reply_release(out);
        (void) fa_reply_error(out, MHD_HTTP_INTERNAL_SERVER_ERROR,
                              "handler failed");
    }
}


typedef struct {
    struct MHD_Connection  *conn;
    const char             *url;
    void                  **con_cls;
} fa_hang_t;


/* Called by fa_table_hit() with the fault table locked. */
static int
fa_hang(void *ctx)
{
    fa_hang_t  *h = ctx;
    fa_req_t   *req;

    req = fa_req_get(h->conn, h->url, h->con_cls);
    if (req == NULL) {
        return -1;
    }

    return fa_wait_suspend(req, FA_FOREVER);
}


static void
fa_request_init(fa_request_t *r, struct MHD_Connection *conn,
    const char *url, const char *method, const fa_req_t *req)
{
    memset(r, 0, sizeof(*r));
    r->conn = conn;
    r->method = method;
    r->path = url;

    if (req != NULL) {
        r->body = req->body;
        r->body_len = req->body_len;
    }
}


static int
fa_is_admin(const char *path)
{
    return strncmp(path, "/_admin/", sizeof("/_admin/") - 1) == 0;
}


/*
 * The healthy path: faults first (they apply to unknown paths too), then
 * the route.  `req` is NULL on the fast path, or carries the body.
 */
static enum MHD_Result
fa_dispatch(struct MHD_Connection *conn, const char *url, const char *method,
    fa_req_t *req, void **con_cls)
{
    fa_request_t  r;
    fa_reply_t    reply;
    fa_fault_t    fault;
    fa_hang_t     hang;

    memset(&reply, 0, sizeof(reply));
    memset(&fault, 0, sizeof(fault));

    if (req != NULL && req->body_too_big) {
        (void) fa_reply_error(&reply, MHD_HTTP_CONTENT_TOO_LARGE,
                              "request body too large");
        return fa_queue(conn, &reply);
    }

    fa_request_init(&r, conn, url, method, req);

    if (!fa_is_admin(url)) {
        hang.conn = conn;
        hang.url = url;
        hang.con_cls = con_cls;
        if (fa_table_hit(url, &fault, fa_hang, &hang) != 0) {
            return MHD_NO;
        }
    }

    if (fault.hang) {
        return MHD_YES;     /* parked; wait.c resumes it */
    }

    if (fault.drop || fault.reset) {
        /* no answer will be sent, so there is none to build */
    } else if (fault.status != 0 || fault.body != FA_BODY_NONE) {
        (void) fa_fault_reply(&fault, &r, &reply);
    } else {
        fa_answer(&r, &reply);
    }

    return fa_send(conn, url, con_cls, &reply,
                   (uint64_t) fault.delay_ms + reply.delay_ms, &fault);
}


/* A waiting request's connection was resumed; wait.c said why. */
static enum MHD_Result
fa_resume(struct MHD_Connection *conn, const char *url, const char *method,
    fa_req_t *req, void **con_cls)
{
    fa_request_t  r;
    fa_reply_t    reply;
    fa_fault_t    none;
    fa_wake_e     wake;

    wake = req->wake;
    req->wake = FA_WAKE_NONE;

    switch (wake) {

    case FA_WAKE_TIMER:
        if (req->drop || req->reset) {
            return fa_drop(conn, req->reset);
        }
        reply = req->reply;
        memset(&req->reply, 0, sizeof(req->reply));
        return fa_queue(conn, &reply);

    case FA_WAKE_RELEASE:
        /* the hang is over: answer as if there had been no fault */
        memset(&reply, 0, sizeof(reply));
        memset(&none, 0, sizeof(none));
        fa_request_init(&r, conn, url, method, req);
        fa_answer(&r, &reply);
        return fa_send(conn, url, con_cls, &reply, reply.delay_ms, &none);

    default:
        return MHD_NO;
    }
}


static enum MHD_Result
fa_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
    fa_req_t  *req = *con_cls;

    (void) cls;
    (void) version;

    if (req == NULL) {
        *con_cls = FA_SEEN;
        return MHD_YES;
    }

    if (*upload_data_size != 0) {
        req = fa_req_get(conn, url, con_cls);
        if (req == NULL) {
            return MHD_NO;
        }
        fa_req_append(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (req == FA_SEEN) {
        return fa_dispatch(conn, url, method, NULL, con_cls);
    }

    if (req->wake != FA_WAKE_NONE) {
        return fa_resume(conn, url, method, req, con_cls);
    }

    return fa_dispatch(conn, url, method, req, con_cls);
}


/*
 * Benchmarks open thousands of connections; take whatever descriptors the
 * hard limit allows and size MHD's connection limit to fit.
 */
static unsigned
fa_conn_limit(void)
{
    struct rlimit  rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 1000;
    }

    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
        (void) getrlimit(RLIMIT_NOFILE, &rl);
    }

    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FA_CONN_MAX + 64) {
        return FA_CONN_MAX;
    }

    return rl.rlim_cur > 128 ? (unsigned) rl.rlim_cur - 64 : 64;
}


static struct MHD_Daemon *
fa_daemon_start(const fa_conf_t *conf, struct sockaddr_in *sin)
{
    struct MHD_OptionItem  opts[8];
    unsigned               flags, n = 0;

    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t) conf->port);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME
            | MHD_USE_TURBO;
    if (conf->verbose) {
        flags |= MHD_USE_ERROR_LOG;
    }
    if (conf->tls_cert_pem != NULL) {
        flags |= MHD_USE_TLS;
    }

    opts[n++] = (struct MHD_OptionItem) {
        MHD_OPTION_SOCK_ADDR, 0, sin };
    opts[n++] = (struct MHD_OptionItem) {
        MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) fa_completed, NULL };
    opts[n++] = (struct MHD_OptionItem) {
        MHD_OPTION_CONNECTION_LIMIT, (intptr_t) fa_conn_limit(), NULL };
    if (conf->threads > 1) {
        opts[n++] = (struct MHD_OptionItem) {
            MHD_OPTION_THREAD_POOL_SIZE, (intptr_t) conf->threads, NULL };
    }
    if (conf->tls_cert_pem != NULL) {
        opts[n++] = (struct MHD_OptionItem) {
            MHD_OPTION_HTTPS_MEM_CERT, 0, conf->tls_cert_pem };
        opts[n++] = (struct MHD_OptionItem) {
            MHD_OPTION_HTTPS_MEM_KEY, 0, conf->tls_key_pem };
    }
    opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_END, 0, NULL };

    return MHD_start_daemon(flags, (uint16_t) conf->port, NULL, NULL,
                            fa_access, NULL,
                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}


/* A whole PEM file as a string (MHD takes TLS material from memory). */
static char *
fa_read_pem(const char *path)
{
    FILE    *f;
    char    *buf = NULL;
    size_t   len = 0;
    long     size;

    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "fakeapi: cannot read %s: %s\n", path,
                strerror(errno));
        return NULL;
    }

    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0
        && fseek(f, 0, SEEK_SET) == 0
        && (buf = malloc((size_t) size + 1)) != NULL)
    {
        len = fread(buf, 1, (size_t) size, f);
        buf[len] = '\0';
    }
    fclose(f);

    if (buf == NULL || len == 0) {
        fprintf(stderr, "fakeapi: cannot read %s\n", path);
        free(buf);
        return NULL;
    }

    return buf;
}


/* Exits 1 (like a bad --config) when TLS cannot be served. */
static int
fa_tls_load(fa_conf_t *conf)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        fprintf(stderr, "fakeapi: libmicrohttpd was built without TLS\n");
        return -1;
    }

    conf->tls_cert_pem = fa_read_pem(conf->tls_cert);
    conf->tls_key_pem = fa_read_pem(conf->tls_key);
    return conf->tls_cert_pem != NULL && conf->tls_key_pem != NULL ? 0 : -1;
}


static void
fa_usage(FILE *f)
{
    fprintf(f,
        "usage: fakeapi [--port N] [--threads N] [--config FILE] "
        "[--verbose]\n"
        "  --port N      listen on 127.0.0.1:N (default 0: any free port)\n"
        "  --threads N   worker threads (default 2)\n"
        "  --config FILE faults to apply from the start (see README.md)\n"
        "  --verbose     log libmicrohttpd errors to stderr\n"
        "  --tls-cert FILE --tls-key FILE\n"
        "                serve HTTPS with this PEM certificate (chain) and key\n"
        "prints `PORT <n>` on stdout once listening; stops on SIGTERM\n");
}


static int
fa_conf_parse(fa_conf_t *conf, int argc, char **argv)
{
    static const struct option  longopts[] = {
        { "port",    required_argument, NULL, 'p' },
        { "threads", required_argument, NULL, 't' },
        { "config",  required_argument, NULL, 'c' },
        { "verbose", no_argument,       NULL, 'v' },
        { "tls-cert", required_argument, NULL, 'C' },
        { "tls-key",  required_argument, NULL, 'K' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int  c;

    conf->port = 0;
    conf->threads = 2;
    conf->config = NULL;
    conf->verbose = 0;
    conf->tls_cert = NULL;
    conf->tls_key = NULL;
    conf->tls_cert_pem = NULL;
    conf->tls_key_pem = NULL;

    for ( ;; ) {
        c = getopt_long(argc, argv, "p:t:c:vh", longopts, NULL);
        if (c == -1) {
            break;
        }

        switch (c) {
        case 'p':
            if (fa_parse_uint(optarg, 0, 65535, &conf->port) != 0) {
                fprintf(stderr, "fakeapi: --port: invalid port \"%s\"\n",
                        optarg);
                return -1;
            }
            break;
        case 't':
            if (fa_parse_uint(optarg, 1, FA_THREADS_MAX, &conf->threads)
                != 0)
            {
                fprintf(stderr, "fakeapi: --threads: must be 1..%d\n",
                        FA_THREADS_MAX);
                return -1;
            }
            break;
        case 'c':
            conf->config = optarg;
            break;
        case 'v':
            conf->verbose = 1;
            break;
        case 'C':
            conf->tls_cert = optarg;
            break;
        case 'K':
            conf->tls_key = optarg;
            break;
        case 'h':
            fa_usage(stdout);
            exit(0);
        default:
            fa_usage(stderr);
            return -1;
        }
    }

    if (optind != argc) {
        fa_usage(stderr);
        return -1;
    }

    if ((conf->tls_cert == NULL) != (conf->tls_key == NULL)) {
        fprintf(stderr, "fakeapi: --tls-cert and --tls-key go together\n");
        return -1;
    }

    return 0;
}


int
main(int argc, char **argv)
{
    fa_conf_t                       conf;
    struct sockaddr_in              sin;
    struct MHD_Daemon              *d = NULL;
    const union MHD_DaemonInfo     *info;
    sigset_t                        set;
    int                             sig, rc = 1;

    if (fa_conf_parse(&conf, argc, argv) != 0) {
        return 2;
    }

    /*
     * Block the stop signals before any thread exists, so every thread
     * inherits the mask and only sigwait() below ever sees them.
     */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (conf.tls_cert != NULL && fa_tls_load(&conf) != 0) {
        goto out;
    }

    if (fa_table_init() != 0 || fa_reply_init() != 0) {
        fprintf(stderr, "fakeapi: out of memory\n");
        goto out;
    }

    if (conf.config != NULL && fa_fault_load(conf.config) != 0) {
        goto out;
    }

    if (fa_wait_start() != 0) {
        fprintf(stderr, "fakeapi: cannot start the timer thread\n");
        goto out;
    }

    d = fa_daemon_start(&conf, &sin);
    if (d == NULL) {
        fprintf(stderr, "fakeapi: cannot listen on 127.0.0.1:%u: %s\n",
                conf.port, strerror(errno));
        fa_wait_stop();
        goto out;
    }

    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("PORT %u\n", info != NULL ? (unsigned) info->port : conf.port);
    fflush(stdout);

    do {
        sig = 0;
    } while (sigwait(&set, &sig) != 0);

    /* resume every parked connection first: MHD must not stop with any */
    fa_wait_stop();
    MHD_stop_daemon(d);
    rc = 0;

out:
    fa_reply_free();
    fa_table_free();
    free(conf.tls_cert_pem);
    free(conf.tls_key_pem);
    return rc;
}
