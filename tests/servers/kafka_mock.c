/*
 * kafka_mock - a Kafka-protocol broker for tests: librdkafka's mock cluster
 * (no Kafka broker is packaged for Debian 12), kept up until SIGTERM.
 *
 *   kafka_mock [brokers] [topic:partitions ...]
 *
 * Prints "BOOTSTRAP host:port,..." on stdout once the cluster is up.
 * SIGUSR1 takes every broker down, SIGUSR2 brings them back, so tests can
 * watch an outage and the recovery.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
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
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, on_usr2);
    printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    while (!stop) {
        if (down) {
            down = 0;
            set_brokers(mc, nbrokers, 0);
        }
        if (up) {
            up = 0;
            set_brokers(mc, nbrokers, 1);
        }
        usleep(50 * 1000);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
