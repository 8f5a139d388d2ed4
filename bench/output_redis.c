/*
 * bench/output_redis - measurements per second through the core's output
 * queue and the real `redis` output module into a real redis-server, CPU
 * per measurement, peak RSS; and with Redis gone, how much memory a
 * flood of measurements takes (bounded by queue_limit). Also feeds
 * collectd's unixsock the same workload for the side-by-side run in
 * bench/output_redis.sh.
 *
 *   output_redis run MODULE PORT [N]       (default N 1,000,000)
 *   output_redis overload MODULE [N]       (default N 2,000,000)
 *   output_redis feed SOCKET [N]           collectd PUTVALs, N values
 *
 * MODULE is the built redis.so. Measurements: 50 integrations, the
 * fields of an http check after the health filter (success, status_code,
 * response_ms, status, health_score). Prints a table; never pass/fail.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "config.h"
#include "diag.h"
#include "heap.h"
#include "instance.h"
#include "output.h"
#include "registry.h"
#include "tmpdir.h"

#define INTEGRATIONS 50
#define CHUNK        64

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

static double
cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long
peak_rss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static long
rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static outpost_tagset_t *tags[INTEGRATIONS];

static void
make_tags(void)
{
    for (int i = 0; i < INTEGRATIONS; i++) {
        char name[32];
        outpost_tag_t t[3];

        snprintf(name, sizeof(name), "provider-%02d", i);
        t[0] = (outpost_tag_t) { outpost_intern("integration"), name };
        t[1] = (outpost_tag_t) { outpost_intern("provider"), name };
        t[2] = (outpost_tag_t) { outpost_intern("category"), "http" };
        tags[i] = outpost_tagset_new(t, 3);
    }
}

static outpost_record_t *
measurement(int64_t i, int64_t base_ns)
{
    outpost_record_t *r = outpost_measurement_new(
        "http", tags[i % INTEGRATIONS], base_ns + i * 1000);

    outpost_record_add_bool(r, "success", 1);
    outpost_record_add_int(r, "status_code", 200);
    outpost_record_add_float(r, "response_ms", (double) (i % 1000) / 10);
    outpost_record_add_str(r, "status", "healthy");
    outpost_record_add_float(r, "health_score", 1.0);
    return r;
}

/* paced: wait while 50,000 are queued (a steady input); else push
 * without waiting (a flood). */
static void
push(struct output_worker *w, long n, int paced)
{
    outpost_record_t *batch[CHUNK];
    int64_t base = outpost_time_now();

    for (long i = 0; i < n; i += CHUNK) {
        struct output_stats st;
        int k = 0;

        /* Paced: at most 50,000 queued, as a steady input would keep it
         * (RSS then tells the output's own, not a million records'). */
        for (output_get_stats(w, &st); paced && st.queued >= 50000;
             output_get_stats(w, &st))
            usleep(500);
        for (; k < CHUNK && i + k < n; k++)
            batch[k] = measurement(i + k, base);
        output_push(w, batch, (size_t) k);
        for (int j = 0; j < k; j++)
            outpost_record_unref(batch[j]);
    }
}

static struct output_worker *
start(struct registry *reg, const char *text, struct config **c,
      outpost_instance_t **o)
{
    *c = load(reg, text);
    *o = instance_new(&(*c)->sections[0], *c);
    if (*o == NULL || instance_init(*o) != 0)
        exit(1);
    return output_start(*o, NULL);
}

static void
stop(struct output_worker *w, struct config *c, outpost_instance_t *o)
{
    output_stop(w);
    instance_shutdown(o);
    instance_free(o);
    config_free(c);
}

static int
bench_run(struct registry *reg, int port, long n)
{
    char text[512];
    struct config *c;
    outpost_instance_t *o;
    struct output_worker *w;
    struct output_stats st;
    double cpu0, cpu1, t0, t1;

    snprintf(text, sizeof(text),
             "redis \"bench\" { url = \"redis://127.0.0.1:%d/0\" "
             "queue_limit = 100000000 spill_after = \"1h\" "
             "stream_maxlen = 100000 }\n", port);
    w = start(reg, text, &c, &o);
    cpu0 = cpu_s();
    t0 = (double) clock_mono_ns() / 1e9;
    push(w, n, 1);
    if (output_drain(w, clock_mono_ms() + 600000) != 0)
        fprintf(stderr, "output_redis: not everything was delivered\n");
    t1 = (double) clock_mono_ns() / 1e9;
    cpu1 = cpu_s();
    output_get_stats(w, &st);
    stop(w, c, o);

    printf("| %-46s | %14.0f |\n", "measurements/s, pushed to in Redis",
           (double) st.delivered / (t1 - t0));
    printf("| %-46s | %14llu |\n", "delivered",
           (unsigned long long) st.delivered);
    printf("| %-46s | %14.2f |\n", "CPU us per measurement (outpost)",
           (cpu1 - cpu0) * 1e6 / (double) n);
    printf("| %-46s | %14.1f |\n", "peak RSS MiB (outpost, 50,000 queued)",
           (double) peak_rss_kb() / 1024);
    printf("RESULT %.0f %.3f %.1f %.3f\n", (double) st.delivered / (t1 - t0),
           (cpu1 - cpu0) * 1e6 / (double) n, (double) peak_rss_kb() / 1024,
           t1 - t0);
    return st.delivered == (uint64_t) n ? 0 : 1;
}

/* Redis is gone: a flood of measurements meets queue_limit. */
static int
bench_overload(struct registry *reg, long n)
{
    struct config *c;
    outpost_instance_t *o;
    struct output_worker *w;
    struct output_stats st;
    long before;

    w = start(reg, "redis \"bench\" { url = \"redis://127.0.0.1:1/0\" "
                   "queue_limit = 100000 spill_after = \"1h\" "
                   "connect_timeout = \"100ms\" }\n", &c, &o);
    before = rss_kb();
    push(w, n, 0);
    usleep(200000);
    output_get_stats(w, &st);
    printf("| %-46s | %14ld |\n", "measurements pushed, Redis down", n);
    printf("| %-46s | %14llu |\n", "queued (queue_limit 100000)",
           (unsigned long long) st.queued);
    printf("| %-46s | %14llu |\n", "dropped past the limit, counted",
           (unsigned long long) st.dropped);
    printf("| %-46s | %14.1f |\n", "RSS growth MiB",
           (double) (rss_kb() - before) / 1024);
    stop(w, c, o);
    return 0;
}

/* collectd's unixsock: PUTVAL lines, at most WINDOW answers pending. */
static int
feed(const char *path, long n)
{
    enum { WINDOW = 512 };
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    char line[256], buf[65536];
    long sent = 0, answered = 0;
    double base = (double) outpost_time_now() / 1e9;
    size_t have = 0;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        perror(path);
        return 1;
    }
    while (answered < n) {
        while (sent < n && sent - answered < WINDOW) {
            int len = snprintf(line, sizeof(line),
                               "PUTVAL \"bench/http-provider-%02ld/"
                               "response_time-x\" %.6f:%ld\n",
                               sent % INTEGRATIONS, base + sent * 1e-6,
                               sent);
            if (write(fd, line, (size_t) len) != len)
                return 1;
            sent++;
        }
        ssize_t r = read(fd, buf + have, sizeof(buf) - have);
        if (r <= 0)
            return 1;
        have += (size_t) r;
        for (char *nl; (nl = memchr(buf, '\n', have)) != NULL;) {
            answered++;
            have -= (size_t) (nl + 1 - buf);
            memmove(buf, nl + 1, have);
        }
    }
    close(fd);
    return 0;
}

int
main(int argc, char **argv)
{
    struct registry *reg;
    struct diag d = { 0 };
    int rc;

    heap_tune();                        /* as outpostd does */
    if (argc >= 3 && strcmp(argv[1], "feed") == 0)
        return feed(argv[2], argc > 3 ? atol(argv[3]) : 1000000);
    if (argc < 3 || (strcmp(argv[1], "run") == 0 && argc < 4)) {
        fprintf(stderr, "usage: output_redis run MODULE PORT [N] | "
                "overload MODULE [N] | feed SOCKET [N]\n");
        return 2;
    }
    reg = registry_new();
    if (registry_load_file(reg, argv[2], &d) != 0) {
        diag_print(&d, stderr);
        return 1;
    }
    diag_free(&d);
    make_tags();
    printf("| %-46s | %14s |\n|%s|%s|\n", "metric", "value",
           "------------------------------------------------",
           "----------------");
    if (strcmp(argv[1], "run") == 0)
        rc = bench_run(reg, atoi(argv[3]), argc > 4 ? atol(argv[4])
                                                    : 1000000);
    else
        rc = bench_overload(reg, argc > 3 ? atol(argv[3]) : 2000000);
    for (int i = 0; i < INTEGRATIONS; i++)
        outpost_tagset_unref(tags[i]);
    registry_free(reg);
    return rc;
}
