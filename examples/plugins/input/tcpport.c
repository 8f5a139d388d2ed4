/*
 * tcpport.c - an example input: can a TCP port be connected to, and how
 * fast? One check per run:
 *
 *     tcpport "smtp-relay" { host = "mail.example.com"  port = 587 }
 *
 * Each run emits one measurement "tcpport" with the fields every check
 * has (outpost/fields.h): success, response_ms and, on failure, error.
 * The health filter turns those into healthy/degraded/down like any
 * other input's.
 *
 * Threads: collect runs on a collector thread (the plugin is not
 * OUTPOST_PLUGIN_ASYNC), so it may block, here for at most the instance's
 * timeout: the connect is non-blocking and waited for with poll().
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <outpost/fields.h>
#include <outpost/plugin.h>

struct tcpport_conf {
    char    *host;
    int64_t  port;
};

static const outpost_option_t tcpport_options[] = {
    { .name = "host", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct tcpport_conf, host),
      .flags = OUTPOST_OPT_REQUIRED, .help = "host name or address" },
    { .name = "port", .type = OUTPOST_OPT_INT,
      .offset = offsetof(struct tcpport_conf, port),
      .flags = OUTPOST_OPT_REQUIRED, .min = 1, .max = 65535,
      .help = "TCP port to connect to" },
    OUTPOST_OPTION_END
};

/* Connects to one address within deadline_ns (outpost_time_now() clock):
 * 0, or -1 with errno set (ETIMEDOUT when the time ran out). */
static int
connect_one(const struct addrinfo *ai, int64_t deadline_ns)
{
    int fd, err = 0;
    socklen_t len = sizeof(err);

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        goto done;
    if (errno != EINPROGRESS) {
        err = errno;
        goto done;
    }
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int64_t left_ms = (deadline_ns - outpost_time_now()) / 1000000;
        int n;

        if (left_ms <= 0) {
            err = ETIMEDOUT;
            break;
        }
        n = poll(&p, 1, left_ms > 60000 ? 60000 : (int) left_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = errno;
        else if (n > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (n != 0)
            break;
    }
done:
    close(fd);
    errno = err;
    return err ? -1 : 0;
}

static int
tcpport_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    struct tcpport_conf *conf = outpost_instance_conf(inst);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL, *ai;
    outpost_record_t *rec;
    char port[8], error[256] = "";
    int64_t start = outpost_time_now();
    int64_t deadline = start + outpost_instance_timeout_ms(inst) * 1000000;
    int rc, ok = 0;

    snprintf(port, sizeof(port), "%d", (int) conf->port);
    rc = getaddrinfo(conf->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(error, sizeof(error), "resolve %s: %s", conf->host,
                 gai_strerror(rc));
    } else {
        for (ai = res; ai != NULL && !ok; ai = ai->ai_next) {
            if (connect_one(ai, deadline) == 0)
                ok = 1;
            else
                snprintf(error, sizeof(error), "connect %s:%s: %s",
                         conf->host, port, strerror(errno));
        }
        freeaddrinfo(res);
    }

    rec = outpost_run_measurement(run);
    if (rec == NULL)
        return OUTPOST_RUN_DONE;
    outpost_record_add_bool(rec, OUTPOST_F_SUCCESS, ok);
    outpost_record_add_float(rec, OUTPOST_F_RESPONSE_MS,
                             (outpost_time_now() - start) / 1e6);
    if (!ok)
        outpost_record_add_str(rec, OUTPOST_F_ERROR, error);
    outpost_run_emit(run, rec);              /* the run owns it now */
    return OUTPOST_RUN_DONE;
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "tcpport",
    .description = "connects to a TCP port: up, and how fast",
    .kind = OUTPOST_INPUT,
    .options = tcpport_options,
    .conf_size = sizeof(struct tcpport_conf),
    .collect = tcpport_collect,
};
