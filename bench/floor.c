/*
 * bench/floor - what this machine's kernel charges a client per HTTP check,
 * with as little client as possible: one thread, epoll, non-blocking
 * sockets, a fixed GET written in one send(), the answer read until its
 * Content-Length is in. No library, no parsing beyond that, no records.
 * Run at the same rate and against the same server as bench/probe, it
 * gives the figure no HTTP engine can go below here, so probe's numbers
 * (and the ratios to collectd and blackbox_exporter) can be read against
 * it. On loopback the client's connect(), send() and close() also run the
 * server's side of TCP in softirq context, and wake the server's threads:
 * all of that is counted here, as it is for every contender.
 *
 *   floor [-r checks_per_s] [-w warmup_s] [-d seconds] [-m new|reuse]
 *         http://IPv4:PORT/PATH
 *
 * Prints a table row and "RESULT mode=... rate=... cpu_us=... sys_us=...".
 * A bench, not a test: it never fails on a figure. It is not an HTTP
 * client either (no chunked bodies, no redirects, IPv4 literals only).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096

struct conn {
    int    fd;
    int    busy;            /* a request is out */
    int    connecting;
    size_t got;
    char   buf[4096];
};

struct bench {
    struct sockaddr_in addr;
    char               req[512];
    size_t             reqlen;
    int                reuse;
    int                ep;
    struct conn       *idle[MAX_CONNS];
    size_t             nidle;
    long               done, failed, open;
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double
cpu_s(double *sys)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    *sys = (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
    return *sys + (double) ru.ru_utime.tv_sec
         + (double) ru.ru_utime.tv_usec / 1e6;
}

static void
conn_close(struct bench *b, struct conn *c)
{
    close(c->fd);       /* also leaves the epoll set */
    free(c);
    b->open--;
}

static int
conn_send(struct bench *b, struct conn *c)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

    c->got = 0;
    c->busy = 1;
    if (send(c->fd, b->req, b->reqlen, MSG_NOSIGNAL) != (ssize_t) b->reqlen)
        return -1;
    return epoll_ctl(b->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
check_start(struct bench *b)
{
    struct conn *c;
    struct epoll_event ev;
    int one = 1;

    if (b->reuse && b->nidle > 0) {
        c = b->idle[--b->nidle];
        if (conn_send(b, c) != 0) {
            b->failed++;
            conn_close(b, c);
        }
        return;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        b->failed++;
        return;
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    b->open++;
    if (connect(c->fd, (struct sockaddr *) &b->addr, sizeof(b->addr)) != 0
        && errno != EINPROGRESS) {
        b->failed++;
        conn_close(b, c);
        return;
    }
    c->connecting = 1;
    ev.events = EPOLLOUT;
    ev.data.ptr = c;
    if (epoll_ctl(b->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        b->failed++;
        conn_close(b, c);
    }
}

/* The whole answer is in: headers and Content-Length bytes of body. */
static int
answer_complete(const struct conn *c)
{
    const char *end = memmem(c->buf, c->got, "\r\n\r\n", 4);
    const char *cl;
    size_t head;

    if (end == NULL)
        return 0;
    head = (size_t) (end - c->buf) + 4;
    cl = memmem(c->buf, head, "\nContent-Length:", 16);
    if (cl == NULL)
        cl = memmem(c->buf, head, "\ncontent-length:", 16);
    return cl == NULL || c->got >= head + strtoul(cl + 16, NULL, 10);
}

static void
on_event(struct bench *b, struct conn *c, uint32_t events)
{
    ssize_t n;

    if (c->connecting) {
        int err = 0;
        socklen_t len = sizeof(err);

        c->connecting = 0;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events & EPOLLERR) || conn_send(b, c) != 0) {
            b->failed++;
            conn_close(b, c);
        }
        return;
    }
    if (!c->busy) {             /* idle and readable: the server closed */
        for (size_t i = 0; i < b->nidle; i++)
            if (b->idle[i] == c)
                b->idle[i] = b->idle[--b->nidle];
        conn_close(b, c);
        return;
    }
    n = recv(c->fd, c->buf + c->got, sizeof(c->buf) - 1 - c->got, 0);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        b->failed++;
        conn_close(b, c);
        return;
    }
    c->got += (size_t) n;
    if (!answer_complete(c) && c->got < sizeof(c->buf) - 1)
        return;
    b->done++;
    c->busy = 0;
    if (b->reuse && b->nidle < MAX_CONNS)
        b->idle[b->nidle++] = c;
    else
        conn_close(b, c);
}

static int
parse_url(struct bench *b, const char *url)
{
    char host[64];
    const char *p, *path;
    unsigned port;

    if (strncmp(url, "http://", 7) != 0)
        return -1;
    p = url + 7;
    path = strchr(p, '/');
    if (path == NULL || sscanf(p, "%63[0-9.]:%u", host, &port) != 2)
        return -1;
    b->addr.sin_family = AF_INET;
    b->addr.sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &b->addr.sin_addr) != 1)
        return -1;
    b->reqlen = (size_t) snprintf(b->req, sizeof(b->req),
        "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: floor\r\n"
        "Accept: */*\r\n%s\r\n", path, host, port,
        b->reuse ? "" : "Connection: close\r\n");
    return 0;
}

/* Starts checks at an even rate until `until`; returns checks started. */
static long
drive(struct bench *b, double rate, double start, double until)
{
    struct epoll_event evs[256];
    long started = 0;

    for (;;) {
        double t = now_s();
        double next = start + (double) started / rate;
        int timeout, n;

        if (t >= until)
            return started;
        while (next <= t) {
            check_start(b);
            next = start + (double) ++started / rate;
        }
        timeout = (int) ((next - t) * 1000.0 + 0.999);
        n = epoll_wait(b->ep, evs, 256, timeout);
        for (int i = 0; i < n; i++)
            on_event(b, evs[i].data.ptr, evs[i].events);
    }
}

int
main(int argc, char **argv)
{
    struct bench b = { 0 };
    double rate = 5000, warmup = 5, seconds = 20, t0, c0, c1, s0, s1, t1;
    long d0;
    int opt;

    while ((opt = getopt(argc, argv, "r:w:d:m:")) != -1) {
        switch (opt) {
        case 'r': rate = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'm': b.reuse = strcmp(optarg, "reuse") == 0; break;
        default: goto usage;
        }
    }
    if (optind != argc - 1 || rate <= 0 || parse_url(&b, argv[optind]) != 0)
        goto usage;
    if ((b.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        perror("floor: epoll");
        return 1;
    }
    t0 = now_s();
    drive(&b, rate, t0, t0 + warmup);
    d0 = b.done;
    c0 = cpu_s(&s0);
    t1 = now_s();
    drive(&b, rate, t1, t1 + seconds);
    c1 = cpu_s(&s1);
    t1 = now_s() - t1;
    d0 = b.done - d0;
    printf("| %-6s | %9.0f | %8.0f | %8.2f | %8.2f | %6ld |\n",
           b.reuse ? "reuse" : "new", rate, (double) d0 / t1,
           d0 ? (c1 - c0) * 1e6 / (double) d0 : 0,
           d0 ? (s1 - s0) * 1e6 / (double) d0 : 0, b.failed);
    printf("RESULT mode=%s rate=%.1f cpu_us=%.2f sys_us=%.2f failed=%ld\n",
           b.reuse ? "reuse" : "new", (double) d0 / t1,
           d0 ? (c1 - c0) * 1e6 / (double) d0 : 0,
           d0 ? (s1 - s0) * 1e6 / (double) d0 : 0, b.failed);
    while (b.nidle > 0)
        conn_close(&b, b.idle[--b.nidle]);
    close(b.ep);
    return 0;
usage:
    fprintf(stderr, "usage: floor [-r checks_per_s] [-w warmup_s] "
            "[-d seconds] [-m new|reuse] http://IPv4:PORT/PATH\n");
    return 2;
}
