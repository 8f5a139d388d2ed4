/*
 * bench/alert_latency - how fast an alert reaches the people it is for:
 * from the failing check that crosses the alert threshold to the moment
 * the receiver has the notification, through the real health and alert
 * filters, the real output queue and worker thread, each real notifier
 * (webhook, slack, pagerduty, sms: the core's shared HTTP client; email:
 * libcurl's SMTP) to a receiver on loopback.
 *
 *   build/bench/alert_latency [-n alerts] [-b burst] [-p plugin_dir]
 *
 * Defaults: 1,000 alerts one after another, then a burst of 1,000 at once.
 *
 *   1. latency, per notifier: one integration at a time fails
 *      (consecutive_failures = 1, so its first failed check opens the
 *      alert); the clock starts
 *      when that check is handed to the pipeline and stops when the
 *      receiver has read the whole request. p50 / p99 / max, and the
 *      CPU the process spent per notification, the receiver's and the
 *      polling main thread's own CPU taken out (the submit in the
 *      pipeline runs on that thread: its filters' CPU is left out too).
 *   2. burst: `burst` integrations fail in one go into a channel limited
 *      to 30 messages per 10 s: how many requests the receiver got, how
 *      many alerts they account for (single messages plus the summaries'
 *      counts: none may be missing) and how long it took (a summary per
 *      window at most: what queued after the first one waits a window).
 *
 * The receivers are a few lines of blocking sockets, one thread per
 * connection: HTTP with keep-alive answering 200 at once, and SMTP
 * answering 250 to every command (354 to DATA), the mail noted at its
 * final dot. Prints a table; never pass/fail.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <outpost/plugin.h>
#include "bench.h"
#include "clock.h"
#include "config.h"
#include "http.h"
#include "instance.h"
#include "loop.h"
#include "output.h"
#include "pipeline.h"
#include "registry.h"
#include "tmpdir.h"

#define MAXN 100000

/* --- the receiver ------------------------------------------------------- */

static int            listen_fd;
static int64_t        recv_ns[MAXN];        /* monotonic, per integration */
static atomic_long    nrequests, nalerts_summarised;
static atomic_llong   receiver_cpu_ns;

static int64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Notes what one request body says: the integration of a single alert
 * ("integration":"api-00042"), or a summary's count. */
static void
note(const char *body, int64_t now)
{
    const char *p;

    atomic_fetch_add(&nrequests, 1);
    if (strstr(body, "\"schema\":\"outpost.summary/1\"")) {
        p = strstr(body, "\"count\":");
        if (p)
            atomic_fetch_add(&nalerts_summarised, strtol(p + 8, NULL, 10));
        return;
    }
    /* The first name in it: the integration, whatever the format
     * (JSON, Slack's text, a form, a mail). */
    p = strstr(body, "api-");
    if (p) {
        long i = strtol(p + 4, NULL, 10);

        if (i >= 0 && i < MAXN && recv_ns[i] == 0)
            recv_ns[i] = now;
    }
}

static void *
serve_conn(void *arg)
{
    int fd = (int) (intptr_t) arg;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap + 1);
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             "Content-Type: text/plain\r\n\r\nok";

    while (buf) {
        char *hdr_end = NULL, *cl;
        ssize_t r;
        size_t need;

        buf[len] = '\0';
        hdr_end = strstr(buf, "\r\n\r\n");
        if (hdr_end) {
            int64_t t0 = bench_thread_cpu_ns();

            cl = strcasestr(buf, "content-length:");
            need = (size_t) (hdr_end + 4 - buf)
                   + (cl && cl < hdr_end ? strtoul(cl + 15, NULL, 10) : 0);
            if (len >= need) {
                char save = buf[need];

                buf[need] = '\0';
                note(hdr_end + 4, mono_ns());
                buf[need] = save;
                if (write(fd, ok, sizeof(ok) - 1) < 0)
                    break;
                memmove(buf, buf + need, len - need);
                len -= need;
                atomic_fetch_add(&receiver_cpu_ns, bench_thread_cpu_ns() - t0);
                continue;
            }
            atomic_fetch_add(&receiver_cpu_ns, bench_thread_cpu_ns() - t0);
        }
        if (len == cap)
            break;
        r = read(fd, buf + len, cap - len);
        if (r <= 0)
            break;
        len += (size_t) r;
    }
    free(buf);
    close(fd);
    return NULL;
}

/* SMTP, as much as libcurl says: a line in, a reply out; DATA until the
 * lone dot. */
static void *
serve_smtp(void *arg)
{
    int fd = (int) (intptr_t) arg;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap + 1);
    int data = 0;
    static const char hello[] = "220 bench ESMTP\r\n";

    if (buf == NULL || write(fd, hello, sizeof(hello) - 1) < 0)
        goto out;
    for (;;) {
        char *end;
        ssize_t r;

        buf[len] = '\0';
        end = data ? strstr(buf, "\r\n.\r\n") : strstr(buf, "\r\n");
        if (end) {
            int64_t t0 = bench_thread_cpu_ns();
            size_t used = (size_t) (end - buf) + (data ? 5 : 2);
            const char *reply = "250 ok\r\n";

            if (data) {
                *end = '\0';
                note(buf, mono_ns());
                data = 0;
            } else if (strncasecmp(buf, "EHLO", 4) == 0) {
                reply = "250 bench\r\n";
            } else if (strncasecmp(buf, "DATA", 4) == 0) {
                reply = "354 go on\r\n";
                data = 1;
            } else if (strncasecmp(buf, "QUIT", 4) == 0) {
                reply = "221 bye\r\n";
            }
            if (write(fd, reply, strlen(reply)) < 0)
                break;
            memmove(buf, buf + used, len - used);
            len -= used;
            atomic_fetch_add(&receiver_cpu_ns, bench_thread_cpu_ns() - t0);
            continue;
        }
        if (len == cap)
            break;
        r = read(fd, buf + len, cap - len);
        if (r <= 0)
            break;
        len += (size_t) r;
    }
out:
    free(buf);
    close(fd);
    return NULL;
}

static void *
accept_loop(void *arg)
{
    int lfd = (int) (intptr_t) arg;
    void *(*serve)(void *) = lfd == listen_fd ? serve_conn : serve_smtp;

    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        pthread_t t;

        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (pthread_create(&t, NULL, serve, (void *) (intptr_t) fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}

/* A listening socket on a free loopback port, served by its own thread;
 * the port. The first is HTTP (listen_fd), any other SMTP. */
static int
receiver_start(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof(a);
    pthread_t t;
    int fd;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd == 0)
        listen_fd = fd;
    if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a))
        || listen(fd, 128)
        || getsockname(fd, (struct sockaddr *) &a, &alen)
        || pthread_create(&t, NULL, accept_loop, (void *) (intptr_t) fd))
        exit(1);
    pthread_detach(t);
    return ntohs(a.sin_port);
}

/* --- the agent's parts ---------------------------------------------------- */

struct rig {
    char                  state[64];
    struct registry      *reg;
    struct config        *cfg;
    outpost_instance_t   *insts[4];
    size_t                ninsts;
    outpost_instance_t   *out;
    struct output_worker *w;
    struct pipeline      *p;
};

static void
rig_start(struct rig *g, const char *plugin_dir, const char *output)
{
    char path[160], text[1024];
    struct diag d = { 0 };
    FILE *f;

    memset(g, 0, sizeof(*g));
    if (tmp_template(g->state, sizeof(g->state), "alertlat") != 0
        || mkdtemp(g->state) == NULL)
        exit(1);
    snprintf(text, sizeof(text),
             "state_dir = \"%s\"\ninterval = \"10s\"\n"
             "health \"h\" { }\n"
             "alert \"a\" { consecutive_failures = 1 }\n%s\n",
             g->state, output);
    snprintf(path, sizeof(path), "%s/bench.conf", g->state);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        exit(1);
    g->reg = registry_new();
    registry_load_dir(g->reg, plugin_dir, &d);
    g->cfg = config_load(path, g->reg, NULL, &d);
    if (g->cfg == NULL) {
        diag_print(&d, stderr);
        exit(1);
    }
    diag_free(&d);
    for (size_t i = 0; i < g->cfg->nsections; i++) {
        outpost_instance_t *inst = instance_new(&g->cfg->sections[i], g->cfg);

        if (inst == NULL || instance_init(inst) != 0)
            exit(1);
        if (inst->plugin->kind == OUTPOST_OUTPUT)
            g->out = inst;
        else
            g->insts[g->ninsts++] = inst;
    }
    if ((g->w = output_start(g->out, NULL)) == NULL)
        exit(1);
    g->p = pipeline_new(g->insts, g->ninsts, &g->out, &g->w, 1);
}

static void
rig_stop(struct rig *g)
{
    output_drain(g->w, clock_mono_ms() + 1000);
    output_stop(g->w);
    pipeline_free(g->p);
    for (size_t i = 0; i < g->ninsts; i++) {
        instance_shutdown(g->insts[i]);
        instance_free(g->insts[i]);
    }
    instance_shutdown(g->out);
    instance_free(g->out);
    config_free(g->cfg);
    registry_free(g->reg);
}

static outpost_record_t *
failed_check(long i)
{
    char name[32];
    outpost_tag_t t[] = {
        { "integration", name }, { "category", "http" },
        { "provider", name }, { "instance", "bench" },
    };
    outpost_tagset_t *ts;
    outpost_record_t *r;

    snprintf(name, sizeof(name), "api-%05ld", i);
    ts = outpost_tagset_new(t, 4);
    r = outpost_measurement_new("http", ts, 0);
    outpost_tagset_unref(ts);
    outpost_record_add_bool(r, "success", 0);
    outpost_record_add_int(r, "status_code", 503);
    outpost_record_add_float(r, "response_ms", 41.5);
    outpost_record_add_str(r, "error", "status: got 503, expected 2xx");
    return r;
}

/* The notifiers measured: one output section each (%d: the port). */
static const struct {
    const char *name;
    const char *section;
    int         smtp;
} channels[] = {
    { "webhook", "webhook \"hook\" { url = \"http://127.0.0.1:%d/hook\" "
                 "timeout = \"5s\" }", 0 },
    { "slack", "slack \"ops\" { webhook_url = \"http://127.0.0.1:%d/services/"
               "T0/B0/x\" rate_limit = \"\" }", 0 },
    { "pagerduty", "pagerduty \"pd\" { routing_key = \"0123456789abcdef"
                   "0123456789abcdef\" base_url = \"http://127.0.0.1:%d\" "
                   "rate_limit = \"\" }", 0 },
    { "sms", "sms \"phone\" { account_sid = \"AC0000000000000000000000000000"
             "0000\" auth_token = \"token\" from = \"+15550000000\" "
             "to = {\"+15551111111\"} base_url = \"http://127.0.0.1:%d\" "
             "rate_limit = \"\" }", 0 },
    { "email", "email \"mail\" { smtp_url = \"smtp://127.0.0.1:%d\" "
               "from = \"outpost@example.com\" to = {\"oncall@example.com\"} "
               "rate_limit = \"\" }", 1 },
};

static int64_t
process_cpu_ns(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t) ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL
           + ((int64_t) ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void
row(const char *what, const char *fmt, double v)
{
    char buf[64];

    snprintf(buf, sizeof(buf), fmt, v);
    printf("| %-52s | %14s |\n", what, buf);
}

int
main(int argc, char **argv)
{
    long n = 1000, burst = 1000;
    char plugin_dir[PATH_MAX] = "";
    struct loop *l;
    struct rig g = { 0 };
    int64_t *sent, *lat, cpu0, rcpu0, mcpu0, t0;
    int port, smtp_port, opt;
    const long nch = (long) (sizeof(channels) / sizeof(channels[0]));

    while ((opt = getopt(argc, argv, "n:b:p:")) != -1) {
        switch (opt) {
        case 'n': n = strtol(optarg, NULL, 10); break;
        case 'b': burst = strtol(optarg, NULL, 10); break;
        case 'p': snprintf(plugin_dir, sizeof(plugin_dir), "%s", optarg);
                  break;
        default:
            fprintf(stderr, "usage: alert_latency [-n alerts] [-b burst] "
                    "[-p plugin_dir]\n");
            return 2;
        }
    }
    if (n < 1 || burst < 1 || nch * n + burst > MAXN)
        return 2;
    if (plugin_dir[0] == '\0') {
        char exe[PATH_MAX];
        ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

        exe[k > 0 ? k : 0] = '\0';
        snprintf(plugin_dir, sizeof(plugin_dir), "%s/../plugins",
                 k > 0 ? dirname(exe) : ".");
    }
    port = receiver_start();
    smtp_port = receiver_start();
    curl_global_init(CURL_GLOBAL_ALL);
    l = loop_new();
    if (l == NULL || loop_start(l) != 0 || http_client_start(l) != 0)
        return 1;
    sent = calloc((size_t) (n + burst), sizeof(*sent));
    lat = calloc((size_t) n, sizeof(*lat));

    /* 1. latency, one alert at a time, through each notifier. */
    printf("| %-52s | %14s |\n", "alert latency (check -> receiver)",
           "value");
    printf("|------------------------------------------------------|"
           "----------------|\n");
    for (size_t c = 0; c < sizeof(channels) / sizeof(channels[0]); c++) {
        char section[512], label[96];
        long base = (long) c * n, lost = 0;
        int64_t cpu;

        snprintf(section, sizeof(section), channels[c].section,
                 channels[c].smtp ? smtp_port : port);
        rig_start(&g, plugin_dir, section);
        cpu0 = process_cpu_ns();
        rcpu0 = atomic_load(&receiver_cpu_ns);
        mcpu0 = bench_thread_cpu_ns();
        for (long i = 0; i < n; i++) {
            outpost_record_t *r = failed_check(base + i);

            sent[i] = mono_ns();
            pipeline_submit(g.p, &r, 1);
            while (recv_ns[base + i] == 0
                   && mono_ns() - sent[i] < 5000000000LL)
                usleep(50);
            lat[i] = recv_ns[base + i] ? recv_ns[base + i] - sent[i]
                                       : INT64_MAX;
        }
        /* Neither the receiver's nor this thread's polling. */
        cpu = process_cpu_ns() - cpu0
              - (atomic_load(&receiver_cpu_ns) - rcpu0)
              - (bench_thread_cpu_ns() - mcpu0);
        for (long i = 0; i < n; i++)
            lost += lat[i] == INT64_MAX;
        qsort(lat, (size_t) n, sizeof(*lat), bench_cmp_i64);
        snprintf(label, sizeof(label), "%s: alerts, one after another",
                 channels[c].name);
        row(label, "%.0f", (double) n);
        snprintf(label, sizeof(label), "%s: not received within 5 s",
                 channels[c].name);
        row(label, "%.0f", (double) lost);
        snprintf(label, sizeof(label), "%s: p50 (ms)", channels[c].name);
        row(label, "%.3f", (double) lat[n / 2] / 1e6);
        snprintf(label, sizeof(label), "%s: p99 (ms)", channels[c].name);
        row(label, "%.3f", (double) lat[(n * 99) / 100] / 1e6);
        snprintf(label, sizeof(label), "%s: max (ms)", channels[c].name);
        row(label, "%.3f", lat[n - 1] == INT64_MAX
                           ? -1.0 : (double) lat[n - 1] / 1e6);
        snprintf(label, sizeof(label), "%s: CPU per notification (us)",
                 channels[c].name);
        row(label, "%.1f", (double) cpu / (double) n / 1e3);
        rig_stop(&g);
    }

    /* 2. a burst into a channel limited to 30 a minute. */
    atomic_store(&nrequests, 0);
    {
        char section[512];

        snprintf(section, sizeof(section), "webhook \"hook\" { url = "
                 "\"http://127.0.0.1:%d/hook\" rate_limit = \"30/10s\" "
                 "timeout = \"5s\" }", port);
        rig_start(&g, plugin_dir, section);
    }
    {
        outpost_record_t **recs = calloc((size_t) burst, sizeof(*recs));
        long single = 0, accounted;

        for (long i = 0; i < burst; i++)
            recs[i] = failed_check(nch * n + i);
        t0 = mono_ns();
        pipeline_submit(g.p, recs, (size_t) burst);
        free(recs);
        row("burst: handing them to the filters took (ms)", "%.1f",
            (double) (mono_ns() - t0) / 1e6);
        for (;;) {
            single = 0;
            for (long i = nch * n; i < nch * n + burst; i++)
                single += recv_ns[i] != 0;
            accounted = single + atomic_load(&nalerts_summarised);
            if (accounted >= burst || mono_ns() - t0 > 60000000000LL)
                break;
            usleep(1000);
        }
        row("burst: alerts at once", "%.0f", (double) burst);
        row("burst: requests the receiver got (limit 30/10s)", "%.0f",
            (double) atomic_load(&nrequests));
        row("burst: single messages", "%.0f", (double) single);
        row("burst: alerts in the summary", "%.0f",
            (double) atomic_load(&nalerts_summarised));
        row("burst: alerts missing", "%.0f", (double) (burst - accounted));
        row("burst: all accounted for after (ms)", "%.1f",
            (double) (mono_ns() - t0) / 1e6);
    }
    rig_stop(&g);

    http_client_stop();
    loop_stop(l);
    loop_free(l);
    free(sent);
    free(lat);
    return 0;
}
