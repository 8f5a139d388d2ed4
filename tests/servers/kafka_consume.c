/*
 * kafka_consume - reads every message of a topic, from the beginning up to
 * the high watermarks at start, and prints each as one JSON line:
 *
 *   {"topic":..,"partition":..,"offset":..,"key":..,
 *    "headers":{"name":"value",...},"value":".."}
 *
 *   kafka_consume BROKERS TOPIC [timeout_ms]     (default 10000)
 *
 * A consumer with no group (rd_kafka_assign), so tests can read a topic as
 * often as they like. Partitions are printed in order, each in offset
 * order. Exit 0, or 1 with a message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>

static void
print_message(const rd_kafka_message_t *m)
{
    json_t *o = json_object(), *hs = json_object();
    rd_kafka_headers_t *h = NULL;
    const char *name;
    const void *v;
    size_t vlen;
    char *s;

    json_object_set_new(o, "topic", json_string(rd_kafka_topic_name(m->rkt)));
    json_object_set_new(o, "partition", json_integer(m->partition));
    json_object_set_new(o, "offset", json_integer(m->offset));
    json_object_set_new(o, "key", m->key
        ? json_stringn(m->key, m->key_len) : json_null());
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &v, &vlen)
                           == RD_KAFKA_RESP_ERR_NO_ERROR; i++)
            json_object_set_new(hs, name, v ? json_stringn(v, vlen)
                                            : json_null());
    json_object_set_new(o, "headers", hs);
    json_object_set_new(o, "value", m->payload
        ? json_stringn(m->payload, m->len) : json_null());
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    puts(s);
    free(s);
    json_decref(o);
}

int
main(int argc, char **argv)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    const rd_kafka_metadata_t *md;
    rd_kafka_topic_t *rkt;
    int timeout = argc > 3 ? atoi(argv[3]) : 10000;
    int64_t *high = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    int nparts, rc = 1;

    if (argc < 3) {
        fprintf(stderr, "usage: kafka_consume BROKERS TOPIC [timeout_ms]\n");
        return 1;
    }
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err,
                          sizeof(err)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "group.id", "kafka_consume", err,
                             sizeof(err)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "enable.auto.commit", "false", err,
                             sizeof(err)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err))
           != RD_KAFKA_CONF_OK
        || (rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)))
           == NULL) {
        fprintf(stderr, "kafka_consume: %s\n", err);
        return 1;
    }
    rkt = rd_kafka_topic_new(rk, argv[2], NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, timeout) != 0) {
        fprintf(stderr, "kafka_consume: no metadata for %s\n", argv[2]);
        goto out;
    }
    nparts = md->topic_cnt == 1 && md->topics[0].err == 0
             ? md->topics[0].partition_cnt : -1;
    rd_kafka_metadata_destroy(md);
    if (nparts < 0) {
        fprintf(stderr, "kafka_consume: no topic %s\n", argv[2]);
        goto out;
    }
    high = calloc((size_t) nparts, sizeof(*high));
    parts = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++) {
        int64_t low;

        if (rd_kafka_query_watermark_offsets(rk, argv[2], p, &low, &high[p],
                                             timeout) != 0) {
            fprintf(stderr, "kafka_consume: no watermarks for %s [%d]\n",
                    argv[2], p);
            goto out;
        }
        if (high[p] > low)
            rd_kafka_topic_partition_list_add(parts, argv[2], p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    }
    /* One partition at a time, so the output is in (partition, offset)
     * order. */
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_list_t *one =
            rd_kafka_topic_partition_list_new(1);
        int p = parts->elems[i].partition;
        int64_t next = 0;

        rd_kafka_topic_partition_list_add(one, argv[2], p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, one);
        rd_kafka_topic_partition_list_destroy(one);
        while (next < high[p]) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, timeout);

            if (m == NULL) {
                fprintf(stderr, "kafka_consume: timed out on %s [%d] at "
                        "%lld of %lld\n", argv[2], p, (long long) next,
                        (long long) high[p]);
                goto out;
            }
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                print_message(m);
                next = m->offset + 1;
            } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "kafka_consume: %s\n",
                        rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                goto out;
            }
            rd_kafka_message_destroy(m);
        }
    }
    rc = 0;
out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    free(high);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
