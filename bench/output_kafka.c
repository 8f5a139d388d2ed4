/*
 * bench/output_kafka - the kafka output's throughput into a broker, its CPU
 * per record and memory, and the helpers bench/output_kafka.sh needs to
 * drive collectd's write_kafka through the same workload. Prints table
 * rows; never pass/fail.
 *
 *   output_kafka run BROKERS RECORDS json|influx
 *       loads the kafka plugin ($KAFKA_PLUGIN, default kafka.so in the
 *       build tree this program is in) and pushes RECORDS
 *       synthetic measurements (16 integrations, 5 fields) through the
 *       core's output worker (batches, delivery reports and all): records/s
 *       until the last is acknowledged, CPU per record of the output
 *       (the process minus the main thread, which makes the records: the
 *       output worker and librdkafka's threads), peak RSS (records queued
 *       included; at most 50,000 are queued at once, 25 batches).
 *   output_kafka overload RECORDS
 *       the same into an unreachable cluster (timeout 2s) with queue_limit 100000 and
 *       no disk: RSS stays bounded by the queue, the rest is counted as
 *       dropped.
 *   output_kafka feed HOST PORT RECORDS RATE
 *       sends RECORDS gauge values to collectd's network plugin (binary
 *       protocol, UDP), RATE a second, 16 hosts x types like above.
 *   output_kafka raw BROKERS RECORDS
 *       the floor: the same messages, encoded once, produced by
 *       librdkafka alone in the output's rhythm (topic bench.raw):
 *       records/s and CPU.
 *   output_kafka collect HOST PORT RECORDS RATE BROKERS TOPIC
 *       feed, then watch TOPIC until collectd has written what it will:
 *       prints the messages written and the seconds it took.
 *   output_kafka probe
 *       milliseconds for a fixed loop: how fast the machine is right now.
 *
 * For run: $KAFKA_EXTRA is added to the output's section (e.g.
 * compression = "none"), $KAFKA_BATCH is its batch_size (default: the
 * plugin's), $KAFKA_WINDOW how many records the bench keeps queued at
 * most (50,000).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <outpost/plugin.h>
#include "bench.h"
#include "clock.h"
#include "config.h"
#include "heap.h"
#include "instance.h"
#include "output.h"
#include "registry.h"
#include "tmpdir.h"

#define NINTEG 16
#define CHUNK  1000

static double
cpu_s(int who)
{
    struct rusage ru;

    getrusage(who, &ru);
    return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double
rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;

    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atof(line + 6);
    if (f)
        fclose(f);
    return kb / 1024;
}

/* CPU seconds of this process's threads, summed by kind: "out:" (the
 * output worker: produce, delivery reports), "enc:" (the kafka output's
 * encoder: values and header sets), "rdk:" (librdkafka's broker and main
 * threads: batching, compression, the sockets) and the rest (the main
 * thread, which makes the records). */
struct thread_cpu {
    double out, enc, rdk, other;
};

static void
threads_cpu(struct thread_cpu *t)
{
    double hz = (double) sysconf(_SC_CLK_TCK);
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;

    memset(t, 0, sizeof(*t));
    while (d && (e = readdir(d)) != NULL) {
        char path[300], buf[1024], *p;
        unsigned long ut, st;
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL
            && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                      "%lu %lu", &ut, &st) == 2) {
            double s = (double) (ut + st) / hz;

            if (strstr(buf, "(out:"))
                t->out += s;
            else if (strstr(buf, "(enc:"))
                t->enc += s;
            else if (strstr(buf, "(rdk:"))
                t->rdk += s;
            else
                t->other += s;
        }
        fclose(f);
    }
    if (d)
        closedir(d);
}

static struct config *
load(struct registry *reg, const char *text)
{
    char path[PATH_MAX];
    int fd = tmp_template(path, sizeof(path), "bench") == 0 ? mkstemp(path)
                                                            : -1;
    struct diag d = { 0 };
    struct config *c;

    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        exit(1);
    close(fd);
    c = config_load(path, reg, NULL, &d);
    unlink(path);
    if (c == NULL) {
        diag_print(&d, stderr);
        exit(1);
    }
    diag_free(&d);
    return c;
}

static outpost_record_t *
synthetic(outpost_tagset_t *tags, long i)
{
    outpost_record_t *r = outpost_measurement_new("http", tags, 0);

    outpost_record_add_bool(r, "success", 1);
    outpost_record_add_int(r, "status_code", 200);
    outpost_record_add_float(r, "response_ms", (double) (i % 1000) / 10);
    outpost_record_add_float(r, "health_score", 1.0);
    outpost_record_add_str(r, "status", "healthy");
    return r;
}

static void
make_tags(outpost_tagset_t **ts)
{
    for (int i = 0; i < NINTEG; i++) {
        char name[32];
        outpost_tag_t t[3] = {
            { outpost_intern("integration"), name },
            { outpost_intern("category"), "http" },
            { outpost_intern("instance"), "bench" },
        };

        snprintf(name, sizeof(name), "api%02d", i);
        ts[i] = outpost_tagset_new(t, 3);
    }
}

/* Pushes n records, never more than `window` queued at once. */
static void
push_all(struct output_worker *w, outpost_tagset_t **ts, long n,
         uint64_t window)
{
    outpost_record_t *batch[CHUNK];
    struct output_stats st;

    for (long i = 0; i < n; i += CHUNK) {
        long k = n - i < CHUNK ? n - i : CHUNK;

        for (;;) {
            output_get_stats(w, &st);
            if (st.queued < window)
                break;
            usleep(200);
        }
        for (long j = 0; j < k; j++)
            batch[j] = synthetic(ts[(i + j) % NINTEG], i + j);
        output_push(w, batch, (size_t) k);
        for (long j = 0; j < k; j++)
            outpost_record_unref(batch[j]);
    }
}

static int
bench_run(const char *brokers, long n, const char *format, int overload)
{
    struct registry *reg = registry_new();
    struct diag d = { 0 };
    char conf[1024];
    struct config *c;
    outpost_instance_t *inst;
    struct output_worker *w;
    outpost_tagset_t *ts[NINTEG];
    struct output_stats st;
    double cpu0, gen0, rss0;
    int64_t t0, t1;

    const char *so = getenv("KAFKA_PLUGIN");
    char path[PATH_MAX];

    bench_plugin_dir(path, sizeof(path));
    strncat(path, "/kafka.so", sizeof(path) - strlen(path) - 1);
    if (registry_load_file(reg, so ? so : path, &d) != 0) {
        diag_print(&d, stderr);
        return 1;
    }
    snprintf(conf, sizeof(conf),
             "kafka \"bench\" { brokers = \"%s\" format = \"%s\" "
             "measurements_topic = \"bench.%s\" %s%s "
             "flush_interval = \"5ms\" queue_limit = %s timeout = \"%s\" "
             "retry_max = \"1s\" spill_after = \"1h\" %s }\n",
             brokers, format, format,
             getenv("KAFKA_BATCH") ? "batch_size = " : "",
             getenv("KAFKA_BATCH") ? getenv("KAFKA_BATCH") : "",
             overload ? "100000" : "10000000",
             overload ? "2s" : "30s",
             getenv("KAFKA_EXTRA") ? getenv("KAFKA_EXTRA") : "");
    c = load(reg, conf);
    inst = instance_new(&c->sections[0], c);
    if (inst == NULL || instance_init(inst) != 0)
        return 1;
    make_tags(ts);
    rss0 = rss_mib();
    w = output_start(inst, NULL);
    cpu0 = cpu_s(RUSAGE_SELF);
    gen0 = cpu_s(RUSAGE_THREAD);
    t0 = clock_mono_ns();
    if (overload) {
        push_all(w, ts, n, UINT64_MAX);
        usleep(500 * 1000);
        output_get_stats(w, &st);
        printf("| %-8s | %9ld | queued %7llu | dropped %8llu | RSS %6.1f MiB"
               " (+%.1f) |\n", "overload", n,
               (unsigned long long) st.queued,
               (unsigned long long) st.dropped, rss_mib(),
               rss_mib() - rss0);
    } else {
        push_all(w, ts, n, getenv("KAFKA_WINDOW")
                               ? strtoull(getenv("KAFKA_WINDOW"), NULL, 10)
                               : 50000);
        output_drain(w, clock_mono_ms() + 600000);
        t1 = clock_mono_ns();
        output_get_stats(w, &st);
        double secs = (double) (t1 - t0) / 1e9;
        double gen = cpu_s(RUSAGE_THREAD) - gen0;
        double cpu = cpu_s(RUSAGE_SELF) - cpu0 - gen;
        double per = 1e6 / (double) (st.delivered ? st.delivered : 1);
        struct thread_cpu tc;
        struct rusage ru;

        threads_cpu(&tc);
        getrusage(RUSAGE_SELF, &ru);
        printf("| %-8s | %9llu | %7.2f | %10.0f | %10.2f | %8.1f |\n",
               format, (unsigned long long) st.delivered, secs,
               (double) st.delivered / secs, cpu * per,
               (double) ru.ru_maxrss / 1024);
        printf("|          | CPU us/rec: output worker %.2f, encoder %.2f, "
               "librdkafka threads %.2f; the record maker %.2f |\n",
               tc.out * per, tc.enc * per, tc.rdk * per, gen * per);
    }
    output_stop(w);
    instance_shutdown(inst);
    instance_free(inst);
    config_free(c);
    for (int i = 0; i < NINTEG; i++)
        outpost_tagset_unref(ts[i]);
    registry_free(reg);
    return 0;
}

/* --- collectd's network protocol (a feeder for write_kafka) ------------- */

static size_t
part_str(unsigned char *p, uint16_t type, const char *s)
{
    uint16_t len = (uint16_t) (4 + strlen(s) + 1), t = htons(type),
             l = htons(len);

    memcpy(p, &t, 2);
    memcpy(p + 2, &l, 2);
    memcpy(p + 4, s, strlen(s) + 1);
    return len;
}

static size_t
part_u64(unsigned char *p, uint16_t type, uint64_t v)
{
    uint16_t t = htons(type), l = htons(12);
    uint64_t be = htobe64(v);

    memcpy(p, &t, 2);
    memcpy(p + 2, &l, 2);
    memcpy(p + 4, &be, 8);
    return 12;
}

/* One gauge value (little-endian double, as the protocol has it). */
static size_t
part_gauge(unsigned char *p, double v)
{
    uint16_t t = htons(0x0006), l = htons(4 + 2 + 1 + 8), cnt = htons(1);

    memcpy(p, &t, 2);
    memcpy(p + 2, &l, 2);
    memcpy(p + 4, &cnt, 2);
    p[6] = 1;                           /* DS_TYPE_GAUGE */
    memcpy(p + 7, &v, 8);
    return 15;
}

static int
feed(const char *host, int port, long n, long rate)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t) port) };
    unsigned char pkt[1452];
    int64_t t0 = clock_mono_ns();
    long sent = 0;

    inet_pton(AF_INET, host, &sa.sin_addr);
    while (sent < n) {
        size_t len = 0;
        uint64_t now_hr = (uint64_t) ((double) time(NULL) * 1073741824.0);

        len += part_u64(pkt + len, 0x0008, now_hr);
        len += part_u64(pkt + len, 0x0009, (uint64_t) 10 << 30);
        len += part_str(pkt + len, 0x0002, "http");
        len += part_str(pkt + len, 0x0004, "gauge");
        while (sent < n && len + 60 < sizeof(pkt)) {
            char h[32], ti[32];

            snprintf(h, sizeof(h), "api%02ld", sent % NINTEG);
            snprintf(ti, sizeof(ti), "v%ld", (sent / NINTEG) % 5);
            len += part_str(pkt + len, 0x0000, h);
            len += part_str(pkt + len, 0x0005, ti);
            len += part_gauge(pkt + len, (double) (sent % 1000) / 10);
            sent++;
        }
        sendto(fd, pkt, len, 0, (struct sockaddr *) &sa, sizeof(sa));
        /* pace: never ahead of rate */
        while ((double) sent / rate
               > (double) (clock_mono_ns() - t0) / 1e9)
            usleep(100);
    }
    close(fd);
    return 0;
}

/* A consumer handle that only reads high watermarks. */
static rd_kafka_t *
watcher(const char *brokers)
{
    char err[256];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_t *rk;

    rd_kafka_conf_set(kc, "bootstrap.servers", brokers, err, sizeof(err));
    rd_kafka_conf_set(kc, "log_level", "0", err, sizeof(err));
    if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err))) == NULL)
        rd_kafka_conf_destroy(kc);
    return rk;
}

/* Messages in topic (the sum of its partitions' high watermarks), or -1. */
static int64_t
topic_count(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md;
    int64_t total = -1;

    if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == 0) {
        total = 0;
        for (int i = 0; md->topic_cnt == 1 && i < md->topics[0].partition_cnt;
             i++) {
            int64_t lo, hi;

            if (rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi,
                                                 5000) != 0) {
                total = -1;
                break;
            }
            total += hi;
        }
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return total;
}

/*
 * collectd's side of a round: sends RECORDS values to its network plugin
 * at RATE a second, then watches TOPIC every 50 ms until it holds them all
 * or has not grown for 2 s. Prints "written seconds": the messages the
 * topic gained and the time from the first value sent to the last growth
 * seen (within 50 ms of when write_kafka produced its last message).
 */
static int
collect(const char *host, int port, long n, long rate, const char *brokers,
        const char *topic)
{
    rd_kafka_t *rk = watcher(brokers);
    int64_t before, now, last, t0, t_last, t_grow;

    if (rk == NULL || (before = topic_count(rk, topic)) < 0)
        return 1;
    t0 = clock_mono_ns();
    feed(host, port, n, rate);
    last = before;
    t_last = t_grow = clock_mono_ns();
    for (;;) {
        usleep(50 * 1000);
        if ((now = topic_count(rk, topic)) < 0)
            continue;
        if (now != last) {
            last = now;
            t_last = t_grow = clock_mono_ns();
        }
        if (last - before >= n
            || clock_mono_ns() - t_grow > INT64_C(2000000000))
            break;
    }
    printf("%lld %.3f\n", (long long) (last - before),
           (double) (t_last - t0) / 1e9);
    rd_kafka_destroy(rk);
    return 0;
}

/* How fast this machine runs right now: milliseconds for a fixed loop of
 * integer work. The host this VM shares changes it by up to half within
 * seconds, so each round of the bench prints it beside its figures. */
static int
probe(void)
{
    volatile uint64_t x = 0;
    int64_t t0 = clock_mono_ns();

    for (uint64_t i = 0; i < 100000000u; i++)
        x += i ^ (x >> 3);
    printf("%.0f\n", (double) (clock_mono_ns() - t0) / 1e6);
    return 0;
}

/* --- the floor: librdkafka alone --------------------------------------- */

/* The floor's count, and its header sets to reuse as the output does
 * (at most 2,000 messages are out at once). */
struct raw_state {
    long                delivered;
    rd_kafka_headers_t *pool[4096];
    size_t              n;
};

static void
raw_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct raw_state *rs = opaque;
    rd_kafka_headers_t *h;

    (void) rk;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        rs->delivered++;
    if (rd_kafka_message_detach_headers((rd_kafka_message_t *) m, &h) == 0) {
        if (rs->n < sizeof(rs->pool) / sizeof(rs->pool[0]))
            rs->pool[rs->n++] = h;
        else
            rd_kafka_headers_destroy(h);
    }
}

/*
 * n messages as the output makes them (the JSON value of the bench's
 * record, key = integration, the two headers in a reused set), produced
 * by librdkafka alone with the output's settings and in its rhythm: 2,000
 * produced, then a flush that waits for their delivery reports. The
 * values are written once, before the clock starts: what librdkafka and
 * the broker cost with no agent around them, the floor under the
 * output's rows.
 */
static int
raw(const char *brokers, long n)
{
    static const char *const settings[] = {
        "enable.idempotence", "true", "acks", "all",
        "compression.codec", "lz4", "linger.ms", "1000",
        "queue.buffering.max.messages", "1000000",
        "socket.nagle.disable", "true", NULL
    };
    char err[256], value[NINTEG][512], key[NINTEG][8];
    int len[NINTEG];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rd_kafka_topic_t *rkt;
    rd_kafka_t *rk;
    struct thread_cpu tc;
    static struct raw_state rs;
    double cpu0;
    int64_t t0;

    rd_kafka_conf_set(kc, "bootstrap.servers", brokers, err, sizeof(err));
    for (const char *const *s = settings; *s; s += 2)
        rd_kafka_conf_set(kc, s[0], s[1], err, sizeof(err));
    rd_kafka_conf_set_dr_msg_cb(kc, raw_delivered);
    rd_kafka_conf_set_opaque(kc, &rs);
    if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err))) == NULL)
        return 1;
    rkt = rd_kafka_topic_new(rk, "bench.raw", NULL);
    for (int i = 0; i < NINTEG; i++) {
        snprintf(key[i], sizeof(key[i]), "api%02d", i);
        len[i] = snprintf(value[i], sizeof(value[i]),
            "{\"schema\":1,\"type\":\"measurement\",\"name\":\"http\","
            "\"timestamp\":\"2026-12-07T19:40:00.000Z\",\"ts_ns\":"
            "1796672400000000000,\"tags\":{\"category\":\"http\","
            "\"instance\":\"bench\",\"integration\":\"%s\"},\"fields\":"
            "{\"success\":true,\"status_code\":200,\"response_ms\":"
            "12.3,\"health_score\":1.0,\"status\":\"healthy\"}}", key[i]);
    }
    cpu0 = cpu_s(RUSAGE_SELF);
    t0 = clock_mono_ns();
    for (long i = 0; i < n; i++) {
        rd_kafka_headers_t *h = rs.n ? rs.pool[--rs.n] : NULL;
        int j = (int) (i % NINTEG);

        if (h == NULL) {
            h = rd_kafka_headers_new(2);
            rd_kafka_header_add(h, "outpost-type", 12, "measurement", 11);
            rd_kafka_header_add(h, "outpost-schema", 14, "1", 1);
        }
        if (rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt),
                              RD_KAFKA_V_KEY(key[j], strlen(key[j])),
                              RD_KAFKA_V_VALUE(value[j], (size_t) len[j]),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END) != 0)
            rd_kafka_headers_destroy(h);
        if ((i + 1) % 2000 == 0 || i + 1 == n)
            rd_kafka_flush(rk, 60000);
    }
    double secs = (double) (clock_mono_ns() - t0) / 1e9;
    double per = 1e6 / (double) (rs.delivered ? rs.delivered : 1);

    threads_cpu(&tc);
    printf("| %-8s | %9ld | %7.2f | %10.0f | %10.2f | %8.1f |\n", "raw",
           rs.delivered, secs, (double) rs.delivered / secs,
           (cpu_s(RUSAGE_SELF) - cpu0) * per, rss_mib());
    printf("|          | CPU us/rec: the producing thread %.2f, librdkafka "
           "threads %.2f |\n", tc.other * per, tc.rdk * per);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    while (rs.n > 0)
        rd_kafka_headers_destroy(rs.pool[--rs.n]);
    return 0;
}

int
main(int argc, char **argv)
{
    heap_tune();                        /* as outpostd does */
    if (argc == 4 && strcmp(argv[1], "raw") == 0)
        return raw(argv[2], atol(argv[3]));
    if (argc == 5 && strcmp(argv[1], "run") == 0)
        return bench_run(argv[2], atol(argv[3]), argv[4], 0);
    if (argc == 3 && strcmp(argv[1], "overload") == 0)
        return bench_run("127.0.0.1:1", atol(argv[2]), "json", 1);
    if (argc == 6 && strcmp(argv[1], "feed") == 0)
        return feed(argv[2], atoi(argv[3]), atol(argv[4]), atol(argv[5]));
    if (argc == 8 && strcmp(argv[1], "collect") == 0)
        return collect(argv[2], atoi(argv[3]), atol(argv[4]), atol(argv[5]),
                       argv[6], argv[7]);
    if (argc == 2 && strcmp(argv[1], "probe") == 0)
        return probe();
    fprintf(stderr, "usage: see the top of bench/output_kafka.c\n");
    return 2;
}
