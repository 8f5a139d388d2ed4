/*
 * kafka_mock - a Kafka-protocol broker for tests: librdkafka's mock cluster
 * (no Kafka broker is packaged for Debian 12), kept up until SIGTERM.
 *
 *   kafka_mock [brokers] [topic:partitions ...]
 *
 * Prints "BOOTSTRAP host:port,..." on stdout once the cluster is up.
 * SIGUSR1 takes every broker down, SIGUSR2 brings them back, so tests can
 * watch an outage and the recovery.
 *
 * A test that starts its own cluster may also send commands on stdin, one
 * a line; each is answered "OK" (or "ERR") on stdout once done:
 *   down | up                       every broker
 *   produce-errors CODE [CODE...]   the next Produce requests fail with
 *                                   these Kafka error codes, in order
 *                                   (rd_kafka_mock_push_request_errors)
 *   topic NAME PARTITIONS           creates a topic
 *   topic-error NAME CODE           metadata answers CODE for the topic
 *                                   (3: it does not exist)
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <sys/socket.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop, down, up;

static void on_term(int sig) { (void) sig; stop = 1; }
static void on_usr1(int sig) { (void) sig; down = 1; }
static void on_usr2(int sig) { (void) sig; up = 1; }

static void
set_brokers(rd_kafka_mock_cluster_t *mc, int n, int is_up)
{
    for (int id = 1; id <= n; id++) {
        if (is_up)
            rd_kafka_mock_broker_set_up(mc, id);
        else
            rd_kafka_mock_broker_set_down(mc, id);
    }
}

/*
 * TCP_NODELAY on the mock brokers' listening sockets, which their
 * connections inherit. librdkafka's mock leaves Nagle on: a small
 * Produce response written while the client has not yet acknowledged
 * the previous one waits for its delayed ACK, 40 ms on Linux, so every
 * request round trip cost 40 ms (a real Kafka broker sets TCP_NODELAY).
 * The mock does not expose its sockets: they are found among ours.
 */
static void
listeners_nodelay(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        int on = 0, domain = 0;
        socklen_t len = sizeof(on);

        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0
            || !on)
            continue;
        len = sizeof(domain);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0
            || (domain != AF_INET && domain != AF_INET6))
            continue;
        on = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
}

/* One stdin command (see the top); 0, or -1 when it is unknown. */
static int
command(rd_kafka_mock_cluster_t *mc, int nbrokers, char *line)
{
    char *words[64], *save = NULL;
    int n = 0;

    for (char *w = strtok_r(line, " \t\r\n", &save); w && n < 64;
         w = strtok_r(NULL, " \t\r\n", &save))
        words[n++] = w;
    if (n == 1 && strcmp(words[0], "down") == 0)
        set_brokers(mc, nbrokers, 0);
    else if (n == 1 && strcmp(words[0], "up") == 0)
        set_brokers(mc, nbrokers, 1);
    else if (n >= 2 && strcmp(words[0], "produce-errors") == 0) {
        rd_kafka_resp_err_t errs[63];

        for (int i = 1; i < n; i++)
            errs[i - 1] = (rd_kafka_resp_err_t) atoi(words[i]);
        rd_kafka_mock_push_request_errors_array(mc, 0 /* Produce */,
                                                (size_t) (n - 1), errs);
    } else if (n == 3 && strcmp(words[0], "topic-error") == 0)
        rd_kafka_mock_topic_set_error(mc, words[1],
                                      (rd_kafka_resp_err_t) atoi(words[2]));
    else if (n == 3 && strcmp(words[0], "topic") == 0)
        return rd_kafka_mock_topic_create(mc, words[1], atoi(words[2]), 1)
               ? -1 : 0;
    else
        return -1;
    return 0;
}

int
main(int argc, char **argv)
{
    int nbrokers = argc > 1 ? atoi(argv[1]) : 1;
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;

    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        return 1;
    }
    mc = rd_kafka_mock_cluster_new(rk, nbrokers > 0 ? nbrokers : 1);
    if (mc == NULL) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        char topic[200];
        int parts = 1;
        char *colon;

        snprintf(topic, sizeof(topic), "%s", argv[i]);
        colon = strchr(topic, ':');
        if (colon) {
            *colon = '\0';
            parts = atoi(colon + 1);
        }
        rd_kafka_mock_topic_create(mc, topic, parts, 1);
    }
    listeners_nodelay();
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, on_usr2);
    printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    int in_open = 1;
    char line[1024];
    size_t len = 0;

    while (!stop) {
        struct pollfd pfd = { .fd = 0, .events = POLLIN };

        if (in_open && poll(&pfd, 1, 0) > 0) {
            ssize_t r = read(0, line + len, sizeof(line) - 1 - len);
            char *nl;

            if (r <= 0)
                in_open = 0;
            else
                len += (size_t) r;
            line[len] = '\0';
            while ((nl = strchr(line, '\n')) != NULL) {
                *nl = '\0';
                printf("%s\n", command(mc, nbrokers, line) ? "ERR" : "OK");
                fflush(stdout);
                len -= (size_t) (nl + 1 - line);
                memmove(line, nl + 1, len + 1);
            }
            if (len == sizeof(line) - 1)
                len = 0;                /* an overlong line: dropped */
            continue;
        }
        if (down) {
            down = 0;
            set_brokers(mc, nbrokers, 0);
        }
        if (up) {
            up = 0;
            set_brokers(mc, nbrokers, 1);
        }
        if (in_open)
            poll(&pfd, 1, 50);
        else
            usleep(50 * 1000);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
