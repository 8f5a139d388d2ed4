/*
 * kafka.c - the `kafka` provider of the databases input, on librdkafka.
 *
 * A probe asks the cluster for its metadata (all topics) and reports how
 * long that took, how many brokers answer out of those this instance has
 * seen, and how many partitions have no leader or fewer in-sync replicas
 * than replicas. With `topic` and `group` it also measures that group's
 * lag on the topic: committed offsets against the partitions' high
 * watermarks.
 *
 * Unlike the other providers the client handle lives as long as the
 * instance: a librdkafka handle owns threads and broker connections and
 * is far too expensive to build every run, and it reconnects by itself
 * after an outage. metadata_ms is therefore a round trip on an open
 * connection, not a connect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include <outpost/fields.h>
#include "databases.h"
#include "kafka_conf.h"

struct kafka_state {
    outpost_instance_t  *inst;
    rd_kafka_t          *rk;
    /* The client's last error (error_cb): why metadata did not come. Only
     * written from rd_kafka_poll(), i.e. on the probing thread. */
    rd_kafka_resp_err_t  last_err;
    char                 last_errstr[256];
    int32_t             *known;         /* broker ids seen since init */
    size_t               nknown, capknown;
};

/* What one metadata answer says about the cluster. */
struct cluster {
    int brokers_up;
    int topics;
    int partitions;
    int offline;            /* no leader, or a leader that is not up */
    int under_replicated;   /* fewer in-sync replicas than replicas */
};

/* --- the client ---------------------------------------------------------- */

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kafka_state *st = opaque;

    (void) rk;
    st->last_err = (rd_kafka_resp_err_t) err;
    snprintf(st->last_errstr, sizeof(st->last_errstr), "%s", reason);
}

/* Every failure is reported in the measurements; the daemon's log should
 * not repeat each reconnect attempt of an outage, so the client's lines
 * are debug unless librdkafka calls them critical. */
static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct kafka_state *st = rd_kafka_opaque(rk);

    outpost_log(st->inst, level <= 2 ? OUTPOST_LOG_WARN : OUTPOST_LOG_DEBUG,
                "kafka", "%s: %s", fac, buf);
}

/* For validate (outpostd -t): what only the config can fix. Each
 * property goes through librdkafka on a scratch configuration (no client,
 * no network). The value is never quoted: it may be a secret. */
int
kafka_conf_check(const struct db_conf *conf, char *err, size_t errlen)
{
    if ((conf->topic == NULL) != (conf->group == NULL)) {
        snprintf(err, errlen, "consumer lag needs both topic and group");
        return -1;
    }
    return kafka_properties_check(&conf->properties, err, errlen);
}

static rd_kafka_conf_t *
client_conf(outpost_instance_t *inst, const struct db_conf *conf,
            struct kafka_state *st)
{
    const struct kafka_client_opts opts = {
        .brokers = conf->brokers,
        .username = conf->username,
        .password = conf->password,
        .timeout_ms = outpost_instance_timeout_ms(inst),
        .properties = &conf->properties,
    };
    rd_kafka_conf_t *kc;
    char err[256];

    if ((kc = kafka_conf_client(&opts, err, sizeof(err))) == NULL) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "init", "%s", err);
        return NULL;
    }
    rd_kafka_conf_set_opaque(kc, st);
    rd_kafka_conf_set_error_cb(kc, on_error);
    rd_kafka_conf_set_log_cb(kc, on_log);
    return kc;
}

static int
kafka_init(outpost_instance_t *inst, const struct db_conf *conf,
           void **state)
{
    struct kafka_state *st;
    rd_kafka_conf_t *kc;
    char err[512];

    /* brokers, topic with group and the properties were checked when the
     * config was read (db_validate, db_validate_provider). */
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return -1;
    st->inst = inst;
    if ((kc = client_conf(inst, conf, st)) == NULL) {
        free(st);
        return -1;
    }
    /* A producer that never produces: the lightest handle that can ask
     * for metadata, watermarks and (admin API) committed offsets. */
    if ((st->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err)))
        == NULL) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "init",
                    "cannot create the Kafka client: %s", err);
        rd_kafka_conf_destroy(kc);
        free(st);
        return -1;
    }
    *state = st;
    return 0;
}

/* --- metadata ------------------------------------------------------------ */

static int
broker_listed(const rd_kafka_metadata_t *md, int32_t id)
{
    for (int i = 0; i < md->broker_cnt; i++)
        if (md->brokers[i].id == id)
            return 1;
    return 0;
}

/* Remembers every broker id ever listed: a broker that drops out of the
 * metadata (as a dead one does) still counts as known, and so as down. */
static void
remember_brokers(struct kafka_state *st, const rd_kafka_metadata_t *md)
{
    for (int i = 0; i < md->broker_cnt; i++) {
        size_t j = 0;

        while (j < st->nknown && st->known[j] != md->brokers[i].id)
            j++;
        if (j < st->nknown)
            continue;
        if (st->nknown == st->capknown) {
            size_t cap = st->capknown ? st->capknown * 2 : 8;
            int32_t *k = realloc(st->known, cap * sizeof(*k));
            if (k == NULL)
                return;
            st->known = k;
            st->capknown = cap;
        }
        st->known[st->nknown++] = md->brokers[i].id;
    }
}

static void
survey(const rd_kafka_metadata_t *md, struct cluster *cl)
{
    memset(cl, 0, sizeof(*cl));
    cl->brokers_up = md->broker_cnt;
    for (int t = 0; t < md->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *topic = &md->topics[t];

        if (topic->err != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;               /* e.g. being deleted */
        cl->topics++;
        for (int i = 0; i < topic->partition_cnt; i++) {
            const rd_kafka_metadata_partition_t *part = &topic->partitions[i];

            cl->partitions++;
            if (part->leader < 0 || !broker_listed(md, part->leader)
                || part->err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
                cl->offline++;
            if (part->isr_cnt < part->replica_cnt)
                cl->under_replicated++;
        }
    }
}

/* librdkafka's request timeout (socket.timeout.ms, set to the instance
 * timeout) can fire a moment before the call's own and is then reported
 * as a transport failure: within this much of the deadline, the call ran
 * out of time. */
#define OUT_OF_TIME_SLACK_US 10000

/* Why no metadata came. The call itself mostly returns "timed out"; the
 * client's last error (error_cb) says why: brokers down, SASL refused. */
static void
metadata_failed(struct kafka_state *st, rd_kafka_resp_err_t err,
                struct db_probe *p)
{
    long long ms = (long long) ((db_now_us() - p->start_us) / 1000);

    rd_kafka_poll(st->rk, 0);           /* collect the client's errors */
    if (kafka_err_auth(st->last_err))
        db_fail(p, "auth", "%s", st->last_errstr);
    else if (kafka_err_unreachable(st->last_err))
        db_fail(p, "connect", "%s", st->last_errstr);
    else if (err == RD_KAFKA_RESP_ERR__TIMED_OUT
             || db_now_us() + OUT_OF_TIME_SLACK_US >= p->deadline_us)
        db_fail(p, "timeout", "no metadata after %lld ms", ms);
    else if (st->last_err == RD_KAFKA_RESP_ERR__TRANSPORT)
        db_fail(p, "connect", "%s", st->last_errstr);
    else if (err == RD_KAFKA_RESP_ERR__TRANSPORT
             || kafka_err_unreachable(err))
        db_fail(p, "connect", "metadata: %s", rd_kafka_err2str(err));
    else
        db_fail(p, "protocol", "metadata: %s", rd_kafka_err2str(err));
}

static void
report_cluster(struct kafka_state *st, const struct cluster *cl,
               struct db_probe *p)
{
    outpost_record_add_int(p->rec, "brokers_up", cl->brokers_up);
    outpost_record_add_int(p->rec, "brokers_known", (int64_t) st->nknown);
    outpost_record_add_int(p->rec, "topics", cl->topics);
    outpost_record_add_int(p->rec, "partitions", cl->partitions);
    outpost_record_add_int(p->rec, "offline_partitions", cl->offline);
    outpost_record_add_int(p->rec, "under_replicated_partitions",
                           cl->under_replicated);
    /* The cluster answers, but some data cannot be written or a broker
     * is gone: worse than healthy, not down. */
    if (cl->offline > 0 || (size_t) cl->brokers_up < st->nknown)
        outpost_record_add_str(p->rec, OUTPOST_F_STATUS_HINT, "degraded");
}

/* --- consumer-group lag -------------------------------------------------- */

static const rd_kafka_metadata_topic_t *
find_topic(const rd_kafka_metadata_t *md, const char *name)
{
    for (int t = 0; t < md->topic_cnt; t++)
        if (strcmp(md->topics[t].topic, name) == 0
            && md->topics[t].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return &md->topics[t];
    return NULL;
}

/* The request for group's committed offsets on every partition of topic. */
static rd_kafka_ListConsumerGroupOffsets_t *
committed_request(const char *group, const rd_kafka_metadata_topic_t *topic)
{
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_ListConsumerGroupOffsets_t *req;

    parts = rd_kafka_topic_partition_list_new(topic->partition_cnt);
    for (int i = 0; i < topic->partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic->topic,
                                          topic->partitions[i].id);
    req = rd_kafka_ListConsumerGroupOffsets_new(group, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return req;
}

/* The group's committed offsets for every partition of topic, as an
 * admin-API event (destroy it), or NULL after db_fail(). */
static rd_kafka_event_t *
fetch_committed(struct kafka_state *st, const struct db_conf *conf,
                const rd_kafka_metadata_topic_t *topic, struct db_probe *p)
{
    rd_kafka_ListConsumerGroupOffsets_t *req;
    rd_kafka_AdminOptions_t *opts;
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    char err[256];

    req = committed_request(conf->group, topic);
    opts = rd_kafka_AdminOptions_new(
        st->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_AdminOptions_set_request_timeout(opts, (int) db_remaining_ms(p),
                                              err, sizeof(err));
    q = rd_kafka_queue_new(st->rk);
    rd_kafka_ListConsumerGroupOffsets(st->rk, &req, 1, opts, q);
    ev = rd_kafka_queue_poll(q, (int) db_remaining_ms(p));
    /* A late answer lands on the destroyed queue and is dropped. */
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    if (ev == NULL) {
        db_fail(p, "timeout", "no committed offsets for group %s after "
                "%lld ms", conf->group,
                (long long) ((db_now_us() - p->start_us) / 1000));
        return NULL;
    }
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        db_fail(p, rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__TIMED_OUT
                   ? "timeout" : "query", "committed offsets of group %s: %s",
                conf->group, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

/* The committed offsets in a ListConsumerGroupOffsets answer, or NULL
 * after db_fail(). Borrowed from ev. */
static const rd_kafka_topic_partition_list_t *
committed_offsets(rd_kafka_event_t *ev, const char *group,
                  struct db_probe *p)
{
    const rd_kafka_ListConsumerGroupOffsets_result_t *res =
        rd_kafka_event_ListConsumerGroupOffsets_result(ev);
    const rd_kafka_group_result_t **groups;
    const rd_kafka_error_t *gerr;
    size_t n = 0;

    groups = res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n)
                 : NULL;
    if (n != 1) {
        db_fail(p, "protocol", "no answer for group %s", group);
        return NULL;
    }
    if ((gerr = rd_kafka_group_result_error(groups[0])) != NULL) {
        db_fail(p, "query", "committed offsets of group %s: %s", group,
                rd_kafka_error_string(gerr));
        return NULL;
    }
    return rd_kafka_group_result_partitions(groups[0]);
}

static void
group_lag(struct kafka_state *st, const struct db_conf *conf,
          const rd_kafka_metadata_t *md, struct db_probe *p)
{
    const rd_kafka_metadata_topic_t *topic = find_topic(md, conf->topic);
    const rd_kafka_topic_partition_list_t *committed;
    int64_t t0 = db_now_us(), lag = 0, lag_max = 0, uncommitted = 0;
    rd_kafka_event_t *ev;

    if (topic == NULL) {
        db_fail(p, "query", "topic %s not found", conf->topic);
        return;
    }
    if ((ev = fetch_committed(st, conf, topic, p)) == NULL)
        return;
    if ((committed = committed_offsets(ev, conf->group, p)) == NULL) {
        rd_kafka_event_destroy(ev);
        return;
    }
    for (int i = 0; i < committed->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &committed->elems[i];
        int64_t low, high, behind;
        rd_kafka_resp_err_t err;

        if (tp->offset < 0) {
            uncommitted++;          /* the group never committed here */
            continue;
        }
        err = rd_kafka_query_watermark_offsets(st->rk, tp->topic,
                                               tp->partition, &low, &high,
                                               (int) db_remaining_ms(p));
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            db_fail(p, err == RD_KAFKA_RESP_ERR__TIMED_OUT ? "timeout"
                       : "query", "high watermark of %s [%d]: %s",
                    tp->topic, (int) tp->partition, rd_kafka_err2str(err));
            rd_kafka_event_destroy(ev);
            return;
        }
        behind = high > tp->offset ? high - tp->offset : 0;
        lag += behind;
        lag_max = behind > lag_max ? behind : lag_max;
    }
    rd_kafka_event_destroy(ev);
    db_step(p, "offsets_ms", t0);
    outpost_record_add_int(p->rec, "consumer_lag", lag);
    outpost_record_add_int(p->rec, "consumer_lag_max", lag_max);
    outpost_record_add_int(p->rec, "uncommitted_partitions", uncommitted);
}

/* --- the probe ----------------------------------------------------------- */

static void
kafka_probe(void *state, const struct db_conf *conf, struct db_probe *p)
{
    struct kafka_state *st = state;
    const rd_kafka_metadata_t *md;
    rd_kafka_resp_err_t err;
    struct cluster cl;
    int64_t t0;

    if (conf->password && conf->password[0] == '\0') {
        db_credentials_missing(p, "password is empty");
        return;
    }
    rd_kafka_poll(st->rk, 0);           /* serve callbacks since last run */
    t0 = db_now_us();
    err = rd_kafka_metadata(st->rk, 1, NULL, &md, (int) db_remaining_ms(p));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        metadata_failed(st, err, p);
        return;
    }
    db_step(p, "metadata_ms", t0);
    st->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    remember_brokers(st, md);
    survey(md, &cl);
    report_cluster(st, &cl, p);
    if (conf->topic && conf->group)
        group_lag(st, conf, md, p);
    rd_kafka_metadata_destroy(md);
}

static void
kafka_shutdown(void *state)
{
    struct kafka_state *st = state;

    if (st == NULL)
        return;
    rd_kafka_destroy(st->rk);
    free(st->known);
    free(st);
}

const struct db_provider db_kafka = {
    .name = "kafka",
    .init = kafka_init,
    .probe = kafka_probe,
    .shutdown = kafka_shutdown,
};
