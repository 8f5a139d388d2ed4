/*
 * http.c - one libcurl multi handle on the core's event loop
 * (curl_multi_socket_action over epoll), shared by every input run and
 * every output that speaks HTTP.
 *
 * Invariant: a transfer is in the multi handle iff it is on the all-list;
 * a transfer that belongs to a running run also has a cancel hook on it
 * (run.h), which aborts the transfer when the run is cancelled. The list,
 * the hooks and the multi handle are touched only on the loop thread. The
 * core keeps its transfer in CURLOPT_PRIVATE while the transfer runs.
 *
 * Sockets curl opens through us (CURLOPT_OPENSOCKETFUNCTION) and closes
 * through us (CURLOPT_CLOSESOCKETFUNCTION) stay in the epoll set when curl
 * stops watching them ("parked"): a keep-alive connection then costs no
 * epoll_ctl between one transfer and the next, and a closed one none at
 * all, as close() drops it from the set. An event on a parked socket
 * (the server closed an idle connection) takes it out for real; curl
 * finds the connection dead when it next tries to reuse it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <outpost/http.h>
#include "clock.h"
#include "http.h"
#include "log.h"
#include "run.h"

struct transfer {
    struct transfer      *next, *prev;         /* all transfers */
    struct run_hook       cancel;              /* on the run, if any */
    CURL                 *easy;
    outpost_http_done_fn  done;
    void                 *arg;
    outpost_run_t        *run;                 /* NULL for perform() */
};

#define TRANSFER_POOL_MAX 256

enum {
    SOCK_OURS   = 1,    /* opened here, will be closed here */
    SOCK_PARKED = 2     /* in the epoll set, curl not watching it */
};

struct client {
    struct loop       *loop;
    CURLM             *multi;
    struct loop_timer  timer;
    struct transfer   *all;
    struct transfer   *pool;      /* ended transfers for reuse (loop) */
    size_t             pooled;
    unsigned char     *sock;      /* SOCK_* by fd (loop thread) */
    size_t             nsock;
};

static struct client *client;   /* one agent per process */

static void
list_del(struct transfer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        client->all = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->next = t->prev = NULL;
}

/* Loop thread: t is over; keep it for the next transfer. */
static void
transfer_put(struct transfer *t)
{
    if (client->pooled >= TRANSFER_POOL_MAX) {
        free(t);
        return;
    }
    t->next = client->pool;
    client->pool = t;
    client->pooled++;
}

/* Removes t from everything and reports result to its owner. */
static void
complete(struct transfer *t, CURLcode result)
{
    curl_multi_remove_handle(client->multi, t->easy);
    list_del(t);
    run_hook_remove(&t->cancel);
    t->done(t->easy, result, t->arg);
    transfer_put(t);
}

static void
check_done(void)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(client->multi, &left)) != NULL) {
        struct transfer *t = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
        if (t)
            complete(t, msg->data.result);
    }
}

static void
on_socket_event(int fd, uint32_t events, void *arg)
{
    int flags = 0, running;

    (void) arg;
    if ((size_t) fd < client->nsock && (client->sock[fd] & SOCK_PARKED)) {
        client->sock[fd] &= (unsigned char) ~SOCK_PARKED;
        loop_io_del(client->loop, fd);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP))
        flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (events & EPOLLERR)
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(client->multi, fd, flags, &running);
    check_done();
}

static void
on_timer(void *arg)
{
    int running;

    (void) arg;
    curl_multi_socket_action(client->multi, CURL_SOCKET_TIMEOUT, 0,
                             &running);
    check_done();
}

static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
    uint32_t events = 0;

    (void) easy; (void) userp; (void) sockp;
    if (what == CURL_POLL_REMOVE) {
        if ((size_t) fd < client->nsock && (client->sock[fd] & SOCK_OURS))
            client->sock[fd] |= SOCK_PARKED;
        else
            loop_io_del(client->loop, fd);
        return 0;
    }
    if ((size_t) fd < client->nsock)
        client->sock[fd] &= (unsigned char) ~SOCK_PARKED;
    if (what & CURL_POLL_IN)
        events |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        events |= EPOLLOUT;
    if (loop_io_set(client->loop, fd, events, on_socket_event, NULL) != 0)
        log_core(OUTPOST_LOG_ERROR, "http", "cannot watch socket %d", fd);
    return 0;
}

/* Curl may call these off the loop thread only for a handle that is not in
 * our multi handle (curl_easy_perform): then the table is not ours to
 * touch, and the socket was never in the epoll set. */
static int
sock_table_ok(curl_socket_t fd)
{
    if (client == NULL || fd < 0 || !loop_on_thread(client->loop))
        return 0;
    if ((size_t) fd >= client->nsock) {
        size_t n = (size_t) fd + 256;
        unsigned char *v = realloc(client->sock, n);

        if (v == NULL)
            return 0;
        memset(v + client->nsock, 0, n - client->nsock);
        client->sock = v;
        client->nsock = n;
    }
    return 1;
}

static curl_socket_t
open_socket_cb(void *clientp, curlsocktype purpose,
               struct curl_sockaddr *addr)
{
    curl_socket_t fd;

    (void) clientp; (void) purpose;
    fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd >= 0 && sock_table_ok(fd)) {
        /* A new socket is in no epoll set, whatever the loop remembers of
         * a descriptor that had this number and was closed behind its
         * back (curl's resolver pipe, say). */
        loop_io_closing(client->loop, fd);
        client->sock[fd] = SOCK_OURS;
    }
    return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

static int
close_socket_cb(void *clientp, curl_socket_t fd)
{
    (void) clientp;
    if (sock_table_ok(fd) && client->sock[fd]) {
        client->sock[fd] = 0;
        loop_io_closing(client->loop, fd);
    }
    return close(fd);
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void) multi; (void) userp;
    if (timeout_ms < 0)
        loop_timer_disarm(client->loop, &client->timer);
    else
        /* 0 means "as soon as possible", but never from inside this
         * callback (curl's multi-uv example): the timer does that. */
        loop_timer_arm(client->loop, &client->timer,
                       clock_mono_ms() + timeout_ms);
    return 0;
}

int
http_client_start(struct loop *l)
{
    client = calloc(1, sizeof(*client));
    if (client == NULL)
        return -1;
    client->loop = l;
    client->multi = curl_multi_init();
    if (client->multi == NULL) {
        free(client);
        client = NULL;
        return -1;
    }
    loop_timer_init(&client->timer, on_timer, NULL);
    curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    /* Many checks hit few hosts: keep enough idle connections around. */
    curl_multi_setopt(client->multi, CURLMOPT_MAXCONNECTS, 4096L);
    return 0;
}

static void
stop_on_loop(void *arg)
{
    (void) arg;
    while (client->all)
        complete(client->all, CURLE_ABORTED_BY_CALLBACK);
    loop_timer_disarm(client->loop, &client->timer);
    curl_multi_cleanup(client->multi);
    while (client->pool) {
        struct transfer *t = client->pool;
        client->pool = t->next;
        free(t);
    }
    client->pooled = 0;
    free(client->sock);
    client->sock = NULL;
    client->nsock = 0;
}

void
http_client_stop(void)
{
    if (client == NULL)
        return;
    if (loop_on_thread(client->loop) ||
        loop_call_sync(client->loop, stop_on_loop, NULL) != 0)
        stop_on_loop(NULL);
    free(client);
    client = NULL;
}

/* Loop thread: t's run was cancelled. */
static void
cancel_transfer(void *arg)
{
    complete(arg, CURLE_ABORTED_BY_CALLBACK);
}

/* Loop thread. */
static void
add_transfer(void *arg)
{
    struct transfer *t = arg;
    CURLMcode rc;

    /* A run cancelled (or ended) before its transfer got here. */
    if (t->run && run_on_cancel(t->run, &t->cancel, cancel_transfer, t)) {
        t->done(t->easy, CURLE_ABORTED_BY_CALLBACK, t->arg);
        transfer_put(t);
        return;
    }
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
    curl_easy_setopt(t->easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
    rc = curl_multi_add_handle(client->multi, t->easy);
    if (rc != CURLM_OK) {
        log_core(OUTPOST_LOG_ERROR, "http", "cannot start transfer: %s",
                 curl_multi_strerror(rc));
        run_hook_remove(&t->cancel);
        t->done(t->easy, CURLE_FAILED_INIT, t->arg);
        transfer_put(t);
        return;
    }
    t->next = client->all;
    if (client->all)
        client->all->prev = t;
    client->all = t;
}

int
outpost_http_start(outpost_run_t *run, CURL *easy, outpost_http_done_fn done,
                   void *arg)
{
    struct transfer *t;

    if (client == NULL || easy == NULL || done == NULL)
        return -1;
    if (loop_on_thread(client->loop)) {
        if ((t = client->pool) != NULL) {
            client->pool = t->next;
            client->pooled--;
            memset(t, 0, sizeof(*t));
        } else if ((t = calloc(1, sizeof(*t))) == NULL)
            return -1;
        t->easy = easy;
        t->done = done;
        t->arg = arg;
        t->run = run;
        add_transfer(t);
        return 0;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    t->easy = easy;
    t->done = done;
    t->arg = arg;
    t->run = run;
    if (loop_call(client->loop, add_transfer, t) != 0) {
        free(t);
        return -1;
    }
    return 0;
}

/* --- blocking perform for output threads -------------------------------- */

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    int             finished;
    CURLcode        result;
};

static void
perform_done(CURL *easy, CURLcode result, void *arg)
{
    struct waiter *w = arg;

    (void) easy;
    pthread_mutex_lock(&w->lock);
    w->finished = 1;
    w->result = result;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Set by the output worker around write (http.h). */
static __thread int64_t thread_deadline;

void
http_set_thread_deadline(int64_t deadline_ms)
{
    thread_deadline = deadline_ms;
}

/* Every perform() has a deadline: what is left of the output's timeout
 * when called from write, else PERFORM_TIMEOUT_MS. It replaces the easy
 * handle's CURLOPT_TIMEOUT_MS (curl cannot tell us what was set), so a
 * plugin wanting a shorter limit lowers its output's timeout. */
#define PERFORM_TIMEOUT_MS 60000

static void
set_deadline(CURL *easy)
{
    long ms = PERFORM_TIMEOUT_MS;

    if (thread_deadline > 0) {
        int64_t left = thread_deadline - clock_mono_ms();

        ms = left > 1 ? (long) left : 1;
    }
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ms);
}

CURLcode
outpost_http_perform(CURL *easy)
{
    struct waiter w = { .finished = 0, .result = CURLE_FAILED_INIT };

    set_deadline(easy);

    /* Without a running agent (tools, some tests) behave like curl. */
    if (client == NULL)
        return curl_easy_perform(easy);
    /* On the loop thread the transfer could never run: the loop would be
     * waiting here for itself. Say so rather than hang or block checks. */
    if (loop_on_thread(client->loop)) {
        log_core(OUTPOST_LOG_ERROR, "http", "outpost_http_perform called "
                 "on the event-loop thread (from collect, process, tick or "
                 "a transfer's callback?): refused; use outpost_http_start "
                 "there");
        return CURLE_RECURSIVE_API_CALL;
    }
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    if (outpost_http_start(NULL, easy, perform_done, &w) == 0) {
        pthread_mutex_lock(&w.lock);
        while (!w.finished)
            pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    return w.result;
}
