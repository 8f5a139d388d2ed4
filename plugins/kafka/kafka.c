/*
 * kafka.c - the `kafka` output: every record as one Kafka message, on
 * librdkafka's idempotent producer (acks=all). Measurements go to one
 * topic, events to another; the key is the record's integration, so one
 * integration's records land on one partition, in order.
 *
 * A batch counts as written only when the delivery reports say so, never
 * at produce(): write produces the whole batch, then serves reports with
 * rd_kafka_flush() for what is left of the output's timeout. Then:
 *   - every record acknowledged (or refused for good) -> OUTPOST_OK;
 *   - otherwise the longest prefix of the batch whose records were all
 *     acknowledged (or refused for good) is reported with
 *     outpost_batch_delivered() and the rest is retried (OUTPOST_RETRY).
 *     Messages still queued or in flight are purged first, so none of them
 *     goes out behind the resend.
 *
 * "Prefix" is the batch's order, not a partition's: reports come per
 * partition, so a record of integration B after the first failure may
 * have been acknowledged and is sent again (at least once). Within one
 * integration (one partition) nothing is reordered: librdkafka's
 * idempotent producer keeps a partition's order and, when a message
 * fails, fails the ones behind it, so an integration's acknowledged
 * records are a prefix of its records in the batch, and its resent ones
 * follow them. Only records after the batch's first failure can be
 * delivered twice; consumers that must not see that dedupe on the
 * record's identity (integration, name, ts_ns).
 *
 * Refused for good (outpost_batch_reject, the rest goes on): a message
 * larger than the broker takes (MSG_SIZE_TOO_LARGE), a topic that does
 * not exist and did not appear within topic.metadata.propagation.max.ms
 * (UNKNOWN_TOPIC_OR_PART), a record the broker calls invalid, one that
 * cannot be encoded. Everything else (brokers down, timeouts, ACLs) is a
 * retry: the core's queue, backoff and spill to disk ride it out.
 *
 * The producer is made on the first write, not in init, so a cluster
 * that is down when the agent starts does not stop it; it lives across
 * writes and is flushed and destroyed in shutdown. A fatal error of the
 * idempotent producer destroys it; the next write makes a new one.
 *
 * Threads: init, write, shutdown run on the output's own thread (plugin.h
 * output rule 8). The delivery report and error callbacks are served by
 * rd_kafka_poll()/rd_kafka_flush() inside write and shutdown, so they run
 * on that thread too and touch the state without locks. The log callback
 * runs on librdkafka's threads and only reads k->inst. The encoder thread
 * (encoder.c, started in init, joined in shutdown) writes the values of
 * the batch being written, ahead of produce_one(), and touches nothing
 * else here.
 *
 * Header sets are reused. librdkafka takes a message's header set and
 * frees it with the message, four allocations and four frees a message
 * (a tenth of the output's CPU per record in bench/output_kafka). The
 * two headers never change, so on_delivery() takes the set back from
 * the delivered (or failed) message, rd_kafka_message_detach_headers(),
 * into a pool of its kind, and produce_one() hands it to a later message:
 * a set is in at most one message at a time, and the pool never holds
 * more sets than messages were once outstanding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <librdkafka/rdkafka.h>
#include <outpost/plugin.h>
#include "kafka.h"
#include "kafka_conf.h"

struct kafka_out_conf {
    char              *brokers;
    char              *measurements_topic;
    char              *events_topic;
    char              *format;
    char              *compression;
    char              *username;
    char              *password;
    outpost_strlist_t  rdkafka;
};

#define C(f) offsetof(struct kafka_out_conf, f)
static const outpost_option_t kafka_options[] = {
    { .name = "brokers", .type = OUTPOST_OPT_STRING, .offset = C(brokers),
      .flags = OUTPOST_OPT_REQUIRED,
      .help = "bootstrap brokers, \"host:port,host:port\"" },
    { .name = "measurements_topic", .type = OUTPOST_OPT_STRING,
      .offset = C(measurements_topic), .def = "outpost.measurements",
      .help = "topic for measurements" },
    { .name = "events_topic", .type = OUTPOST_OPT_STRING,
      .offset = C(events_topic), .def = "outpost.events",
      .help = "topic for events" },
    { .name = "format", .type = OUTPOST_OPT_ENUM, .offset = C(format),
      .def = "json", .choices = "json|influx",
      .help = "message value: versioned JSON, or InfluxDB line protocol" },
    { .name = "compression", .type = OUTPOST_OPT_ENUM,
      .offset = C(compression), .def = "lz4",
      .choices = "none|gzip|snappy|lz4|zstd",
      .help = "compression of message batches" },
    { .name = "username", .type = OUTPOST_OPT_STRING, .offset = C(username),
      .help = "SASL user name (set security.protocol and sasl.mechanisms "
              "in rdkafka)" },
    { .name = "password", .type = OUTPOST_OPT_SECRET, .offset = C(password),
      .help = "SASL password" },
    { .name = "rdkafka", .type = OUTPOST_OPT_STRLIST, .offset = C(rdkafka),
      .help = "librdkafka properties, \"key=value\", applied last" },
    OUTPOST_OPTION_END
};
#undef C

/* A write's records and librdkafka's copies of them stay within the
 * CPU's caches; in bench/output_kafka 2,000 gave as many records/s as
 * 5,000 or 10,000 at less CPU per record. */
static const outpost_default_t kafka_defaults[] = {
    { "batch_size", "2000" },
    OUTPOST_DEFAULT_END
};

/* What the output sets and an operator's rdkafka line may not change:
 * without them a delivered batch could be lost or duplicated. */
static const char *const fixed_props[] = {
    "enable.idempotence", "acks", "request.required.acks",
    "enable.gapless.guarantee",
    "delivery.report.only.error", NULL
};

/* A record's delivery state in the current batch. */
#define ST_PENDING  (-100000)   /* produced, no report yet */
#define ST_UNSENT   (-100001)   /* never produced */
#define ST_REJECTED (-100002)   /* could not be encoded: rejected */

/* Header sets not in a message, of one kind (measurement or event). */
struct hdr_pool {
    rd_kafka_headers_t **v;
    size_t               n, cap;
};

/* A message's opaque: the batch's generation, the kind, the index (a
 * batch holds at most batch_size records, which the core caps at
 * 1,000,000: the index never reaches OP_EVENT). */
#define OP_EVENT  ((uintptr_t) 1 << 31)
#define OP_INDEX  (OP_EVENT - 1)

struct kafka_out {
    outpost_instance_t  *inst;
    rd_kafka_t          *rk;
    rd_kafka_topic_t    *rkt_m, *rkt_e;
    int                  influx;
    /* The current batch: gen tells its reports from a purged earlier
     * batch's; st[i] is record i's rd_kafka_resp_err_t or ST_*. */
    uint32_t             gen;
    int                 *st;
    size_t               cap;
    size_t               outstanding;   /* produced, not yet reported */
    struct kafka_encoder *enc;          /* encodes ahead of produce_one */
    struct hdr_pool      pool[2];       /* [is_event]: sets to reuse */
    /* From error_cb: the cluster's last word, for the log, kept until a
     * write delivers again (librdkafka reports an error that repeats only
     * now and then); fatal: the idempotent producer cannot go on. */
    rd_kafka_resp_err_t  last_err;
    char                 last_why[256];
    int                  fatal;
};

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- header sets ------------------------------------------------------- */

/* A set for a message of that kind: a reused one, or a new one. */
static rd_kafka_headers_t *
hdr_take(struct kafka_out *k, int is_event)
{
    struct hdr_pool *p = &k->pool[is_event];
    rd_kafka_headers_t *h;

    if (p->n > 0)
        return p->v[--p->n];
    h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, "outpost-type", 12,
                        is_event ? "event" : "measurement",
                        is_event ? 5 : 11);
    rd_kafka_header_add(h, "outpost-schema", 14, KAFKA_SCHEMA,
                        sizeof(KAFKA_SCHEMA) - 1);
    return h;
}

/* Back into the pool (freed if the pool cannot grow). */
static void
hdr_give(struct kafka_out *k, int is_event, rd_kafka_headers_t *h)
{
    struct hdr_pool *p = &k->pool[is_event];

    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 1024;
        rd_kafka_headers_t **v = realloc(p->v, cap * sizeof(*v));

        if (v == NULL) {
            rd_kafka_headers_destroy(h);
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = h;
}

static void
hdr_pools_free(struct kafka_out *k)
{
    for (int kind = 0; kind < 2; kind++) {
        struct hdr_pool *p = &k->pool[kind];

        while (p->n > 0)
            rd_kafka_headers_destroy(p->v[--p->n]);
        free(p->v);
        p->v = NULL;
        p->cap = 0;
    }
}

/* --- callbacks (the output thread, inside poll/flush) ------------------ */

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct kafka_out *k = opaque;
    uintptr_t op = (uintptr_t) m->_private;
    size_t i = (size_t) (op & OP_INDEX);
    rd_kafka_headers_t *h;

    (void) rk;
    /* The message is librdkafka's and freed after this callback; taking
     * its header set (which librdkafka no longer reads) is what
     * rd_kafka_message_detach_headers() is for, hence the cast. */
    if (rd_kafka_message_detach_headers((rd_kafka_message_t *) m, &h)
        == RD_KAFKA_RESP_ERR_NO_ERROR)
        hdr_give(k, (op & OP_EVENT) != 0, h);
    if ((uint32_t) (op >> 32) != k->gen || i >= k->cap
        || k->st[i] != ST_PENDING)
        return;                         /* a purged batch's report */
    k->st[i] = (int) m->err;
    k->outstanding--;
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kafka_out *k = opaque;

    (void) rk;
    if (err == RD_KAFKA_RESP_ERR__FATAL)
        k->fatal = 1;
    /* A refused login is followed by "all brokers are down": the log
     * should name the cause. */
    if (kafka_err_auth(k->last_err)
        && err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        return;
    k->last_err = (rd_kafka_resp_err_t) err;
    snprintf(k->last_why, sizeof(k->last_why), "%s", reason);
}

/* Outages are reported once per write; librdkafka's own lines are debug
 * unless it calls them critical. */
static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct kafka_out *k = rd_kafka_opaque(rk);

    outpost_log(k->inst, level <= 2 ? OUTPOST_LOG_WARN : OUTPOST_LOG_DEBUG,
                "kafka", "%s: %s", fac, buf);
}

/* --- configuration ------------------------------------------------------ */

static rd_kafka_conf_t *
make_conf(const struct kafka_out_conf *conf, int64_t timeout_ms, char *err,
          size_t errlen)
{
    const char *settings[] = {
        "enable.idempotence", "true",
        "acks", "all",
        /* A batch that fails for good (not a timeout) stops the producer
         * rather than let the partition's next batches through: a gap
         * would put the resend behind later records. */
        "enable.gapless.guarantee", "true",
        "compression.codec", conf->compression,
        /* Every write ends in rd_kafka_flush(), which sends what is
         * queued at once whatever linger.ms says: a long linger only lets
         * librdkafka fill whole requests while write produces (in
         * bench/output_kafka, 5 ms: 100,000 records/s; 1 s: 190,000). */
        "linger.ms", "1000",
        /* and let librdkafka hold a whole outpost batch */
        "queue.buffering.max.messages", "1000000",
        /* A write waits for its last request's answer: no Nagle delay
         * on the request's tail (Kafka's brokers set TCP_NODELAY too). */
        "socket.nagle.disable", "true",
        NULL
    };
    struct kafka_client_opts o = {
        .brokers = conf->brokers, .username = conf->username,
        .password = conf->password, .timeout_ms = timeout_ms,
        .settings = settings, .properties = &conf->rdkafka,
    };

    return kafka_conf_client(&o, err, errlen);
}

static int
kafka_validate(const void *c, char *err, size_t errlen)
{
    const struct kafka_out_conf *conf = c;
    char key[KAFKA_KEY_MAX];
    const char *value;
    char why[256];
    rd_kafka_conf_t *kc;

    if (conf->brokers[0] == '\0') {
        snprintf(err, errlen, "brokers: empty");
        return -1;
    }
    if (conf->measurements_topic[0] == '\0' || conf->events_topic[0] == '\0') {
        snprintf(err, errlen, "topics must not be empty");
        return -1;
    }
    for (size_t i = 0; i < conf->rdkafka.n; i++) {
        if (kafka_property_split(conf->rdkafka.v[i], key, &value) != 0)
            continue;                   /* kafka_properties_check says */
        for (const char *const *f = fixed_props; *f; f++)
            if (strcmp(key, *f) == 0) {
                snprintf(err, errlen, "rdkafka: %s is set by the kafka "
                         "output (idempotent, acks=all) and cannot be "
                         "changed", key);
                return -1;
            }
    }
    /* The shared check calls the list "properties"; here it is rdkafka. */
    if (kafka_properties_check(&conf->rdkafka, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "rdkafka: %s",
                 strncmp(why, "properties: ", 12) == 0 ? why + 12 : why);
        return -1;
    }
    /* The whole configuration, as write will make it (no network). */
    if ((kc = make_conf(conf, 5000, err, errlen)) == NULL)
        return -1;
    rd_kafka_conf_destroy(kc);
    return 0;
}

/* --- the producer ------------------------------------------------------- */

static void
producer_destroy(struct kafka_out *k)
{
    if (k->rk == NULL)
        return;
    if (k->rkt_m)
        rd_kafka_topic_destroy(k->rkt_m);
    if (k->rkt_e)
        rd_kafka_topic_destroy(k->rkt_e);
    k->rkt_m = k->rkt_e = NULL;
    rd_kafka_destroy(k->rk);
    k->rk = NULL;
    k->fatal = 0;
}

static int
producer_make(struct kafka_out *k)
{
    struct kafka_out_conf *conf = outpost_instance_conf(k->inst);
    char err[512];
    rd_kafka_conf_t *kc;

    if (k->rk)
        return 0;
    kc = make_conf(conf, outpost_instance_timeout_ms(k->inst), err,
                   sizeof(err));
    if (kc == NULL) {
        outpost_log(k->inst, OUTPOST_LOG_ERROR, "connect", "%s", err);
        return -1;
    }
    rd_kafka_conf_set_opaque(kc, k);
    rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
    rd_kafka_conf_set_error_cb(kc, on_error);
    rd_kafka_conf_set_log_cb(kc, on_log);
    /* rd_kafka_new() takes kc only on success. Its message can quote a
     * property's value (a password): not repeated. */
    if ((k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err)))
        == NULL) {
        rd_kafka_conf_destroy(kc);
        outpost_log(k->inst, OUTPOST_LOG_ERROR, "connect",
                    "librdkafka refuses the producer's configuration "
                    "(check the rdkafka properties)");
        return -1;
    }
    k->rkt_m = rd_kafka_topic_new(k->rk, conf->measurements_topic, NULL);
    k->rkt_e = rd_kafka_topic_new(k->rk, conf->events_topic, NULL);
    if (k->rkt_m == NULL || k->rkt_e == NULL) {
        outpost_log(k->inst, OUTPOST_LOG_ERROR, "connect",
                    "cannot make the topic handles");
        producer_destroy(k);
        return -1;
    }
    return 0;
}

/* A delivery error that no resend can cure: the record goes to the dead
 * letters. */
static int
err_permanent(int err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return 1;
    default:
        return 0;
    }
}

static int
kafka_init(outpost_instance_t *inst)
{
    struct kafka_out_conf *conf = outpost_instance_conf(inst);
    struct kafka_out *k = calloc(1, sizeof(*k));

    if (k == NULL)
        return -1;
    k->inst = inst;
    k->influx = strcmp(conf->format, "influx") == 0;
    if ((k->enc = kafka_encoder_new(k->influx,
                                    outpost_instance_name(inst))) == NULL) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "init",
                    "cannot start the encoder thread");
        free(k);
        return -1;
    }
    outpost_instance_set_data(inst, k);
    return 0;
}

/* Produces record i. 0: produced (or settled in st[i]); -1: stop
 * producing (the deadline passed, or the producer cannot go on). */
static int
produce_one(struct kafka_out *k, const outpost_batch_t *b, size_t i,
            int64_t deadline)
{
    const outpost_record_t *rec = b->records[i];
    int is_event = rec->kind == OUTPOST_EVENT;
    const char *key = outpost_record_tag(rec, "integration");
    const char *value, *why;
    size_t len;
    rd_kafka_headers_t *h;
    rd_kafka_resp_err_t err;

    if (key == NULL)
        key = rec->name;
    if (kafka_encoder_get(k->enc, i, &value, &len, &why) != 0) {
        outpost_batch_reject(b, i, why);
        k->st[i] = ST_REJECTED;
        return 0;
    }
    h = hdr_take(k, is_event);
    for (;;) {
        k->st[i] = ST_PENDING;
        err = rd_kafka_producev(k->rk,
            RD_KAFKA_V_RKT(is_event ? k->rkt_e : k->rkt_m),
            RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *) value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_OPAQUE((void *) (((uintptr_t) k->gen << 32)
                                        | (is_event ? OP_EVENT : 0)
                                        | (uintptr_t) i)),
            RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            k->outstanding++;           /* h is librdkafka's now */
            return 0;
        }
        k->st[i] = ST_UNSENT;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        /* The local queue is full: send what it holds now (rd_kafka_flush
         * ignores linger.ms, which a plain poll would wait out) and serve
         * the reports to make room, then try again. It waits for reports;
         * it does not sleep. */
        int64_t left = deadline - mono_ms();

        if (left <= 0) {
            hdr_give(k, is_event, h);
            return -1;
        }
        rd_kafka_flush(k->rk, left < 100 ? (int) left : 100);
    }
    hdr_give(k, is_event, h);           /* not taken on failure */
    if (err_permanent(err)) {
        k->st[i] = (int) err;
        return 0;
    }
    k->st[i] = (int) err;
    k->last_err = err;
    snprintf(k->last_why, sizeof(k->last_why), "%s", rd_kafka_err2str(err));
    return -1;
}

static outpost_result_t
kafka_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    struct kafka_out *k = outpost_instance_data(inst);
    int64_t timeout = outpost_instance_timeout_ms(inst);
    /* Leave a tenth of the timeout for purging and answering. */
    int64_t deadline = mono_ms() + timeout - timeout / 10;
    size_t i, done;
    int first_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    char why[256] = "";

    if (b->n == 0)
        return OUTPOST_OK;
    if (producer_make(k) != 0)
        return OUTPOST_RETRY;
    if (b->n > k->cap) {
        int *st = realloc(k->st, b->n * sizeof(*st));

        if (st == NULL)
            return OUTPOST_RETRY;
        k->st = st;
        k->cap = b->n;
    }
    if (kafka_encoder_start(k->enc, b->records, b->n) != 0)
        return OUTPOST_RETRY;
    k->gen++;
    k->outstanding = 0;
    for (i = 0; i < b->n; i++)
        k->st[i] = ST_UNSENT;
    for (i = 0; i < b->n; i++)
        if (produce_one(k, b, i, deadline) != 0)
            break;
    kafka_encoder_finish(k->enc);

    /* Serve delivery reports until all are in or the time is up. */
    while (k->outstanding > 0 && !k->fatal) {
        int64_t left = deadline - mono_ms();

        if (left <= 0)
            break;
        rd_kafka_flush(k->rk, left < 1000 ? (int) left : 1000);
        rd_kafka_poll(k->rk, 0);
    }
    if (k->outstanding > 0) {
        /* Nothing of this batch may go out behind its resend. Purged
         * messages are reported as failed (in flight: perhaps written,
         * hence at least once). */
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE
                              | RD_KAFKA_PURGE_F_INFLIGHT);
        for (int spins = 0; k->outstanding > 0 && spins < 50; spins++)
            rd_kafka_poll(k->rk, spins ? 10 : 0);
        k->outstanding = 0;             /* later reports are stale */
    }
    k->gen++;

    /* The longest prefix of settled records: acknowledged, or refused
     * for good (those go to the dead letters). */
    for (done = 0; done < b->n; done++) {
        int e = k->st[done];

        if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == ST_REJECTED)
            continue;
        if (err_permanent(e)) {
            outpost_batch_reject(b, done,
                                 rd_kafka_err2str((rd_kafka_resp_err_t) e));
            continue;
        }
        first_err = e;
        break;
    }
    if (rd_kafka_fatal_error(k->rk, why, sizeof(why))
        != RD_KAFKA_RESP_ERR_NO_ERROR || k->fatal) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "write",
                    "the idempotent producer failed (%s); starting a new one",
                    k->fatal ? k->last_why : why);
        producer_destroy(k);
    }
    if (done == b->n) {
        k->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        return OUTPOST_OK;
    }
    outpost_batch_delivered(b, done);
    outpost_log(inst, OUTPOST_LOG_ERROR, "write",
                "%zu of %zu records acknowledged by brokers %s; retrying "
                "from record %zu: %s%s%s", done, b->n,
                ((struct kafka_out_conf *) outpost_instance_conf(inst))
                    ->brokers,
                done,
                first_err <= ST_PENDING
                || first_err == RD_KAFKA_RESP_ERR__PURGE_QUEUE
                || first_err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT
                    ? "no delivery report within the timeout"
                    : rd_kafka_err2str((rd_kafka_resp_err_t) first_err),
                !k->last_err ? ""
                : kafka_err_auth(k->last_err)
                    ? "; the cluster refuses the login (check username, "
                      "password and the SASL settings in rdkafka): "
                    : "; last cluster error: ",
                k->last_err ? k->last_why : "");
    if (done > 0)
        k->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;   /* the cluster answers */
    return OUTPOST_RETRY;
}

static void
kafka_shutdown(outpost_instance_t *inst)
{
    struct kafka_out *k = outpost_instance_data(inst);

    if (k == NULL)
        return;
    if (k->rk) {
        /* write waits for its reports, so little if anything is left */
        rd_kafka_flush(k->rk, (int) outpost_instance_timeout_ms(inst));
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE
                              | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(k->rk, 0);
        producer_destroy(k);
    }
    hdr_pools_free(k);
    free(k->st);
    kafka_encoder_free(k->enc);
    free(k);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "kafka",
    .description = "write every record to Kafka (idempotent producer, "
                   "acks=all, one message per record)",
    .kind = OUTPOST_OUTPUT,
    .options = kafka_options,
    .conf_size = sizeof(struct kafka_out_conf),
    .init = kafka_init,
    .write = kafka_write,
    .shutdown = kafka_shutdown,
    .validate = kafka_validate,
    .output_defaults = kafka_defaults,
};
