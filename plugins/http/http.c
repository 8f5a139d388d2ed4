/*
 * http.c - the `http` input: one request to a URL per run, on the core's
 * shared libcurl loop, reported as success, status_code, response_ms and,
 * when the check failed, error ("<reason>: <detail>").
 */
#include <stdlib.h>
#include <string.h>
#include <outpost/http.h>
#include <outpost/plugin.h>

struct http_conf {
    char              *url;
    char              *method;
    outpost_intlist_t  expect_status;
    outpost_strlist_t  headers;
    char              *body;
    int                follow_redirects;
    char              *user_agent;
};

static const outpost_option_t http_options[] = {
    { .name = "url", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct http_conf, url),
      .flags = OUTPOST_OPT_REQUIRED, .help = "the URL to request" },
    { .name = "method", .type = OUTPOST_OPT_ENUM,
      .offset = offsetof(struct http_conf, method), .def = "GET",
      .choices = "GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS",
      .help = "HTTP method" },
    { .name = "expect_status", .type = OUTPOST_OPT_INTLIST,
      .offset = offsetof(struct http_conf, expect_status),
      .help = "status codes that count as success (default: any 2xx)" },
    { .name = "headers", .type = OUTPOST_OPT_STRLIST,
      .offset = offsetof(struct http_conf, headers),
      .help = "extra request headers, \"Name: value\"" },
    { .name = "body", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct http_conf, body),
      .help = "request body" },
    { .name = "follow_redirects", .type = OUTPOST_OPT_BOOL,
      .offset = offsetof(struct http_conf, follow_redirects), .def = "false",
      .help = "follow 3xx redirects" },
    { .name = "user_agent", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct http_conf, user_agent),
      .def = "outpost/" "0.1", .help = "User-Agent header" },
    OUTPOST_OPTION_END
};

struct http_state {
    CURL              *easy;
    struct curl_slist *headers;
    outpost_run_t     *run;          /* the run in flight, if any */
    curl_off_t         bytes;
    char               errbuf[CURL_ERROR_SIZE];
};

static size_t
discard_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct http_state *st = arg;

    (void) ptr;
    st->bytes += (curl_off_t) (size * nmemb);
    return size * nmemb;
}

static int
http_init(outpost_instance_t *inst)
{
    struct http_conf *conf = outpost_instance_conf(inst);
    struct http_state *st = calloc(1, sizeof(*st));
    long timeout = (long) outpost_instance_timeout_ms(inst);

    if (st == NULL || (st->easy = curl_easy_init()) == NULL) {
        free(st);
        return -1;
    }
    for (size_t i = 0; i < conf->headers.n; i++) {
        struct curl_slist *h = curl_slist_append(st->headers,
                                                 conf->headers.v[i]);
        if (h == NULL)
            goto fail;
        st->headers = h;
    }
    curl_easy_setopt(st->easy, CURLOPT_URL, conf->url);
    curl_easy_setopt(st->easy, CURLOPT_CUSTOMREQUEST, conf->method);
    if (strcmp(conf->method, "HEAD") == 0)
        curl_easy_setopt(st->easy, CURLOPT_NOBODY, 1L);
    if (conf->body)
        curl_easy_setopt(st->easy, CURLOPT_POSTFIELDS, conf->body);
    curl_easy_setopt(st->easy, CURLOPT_HTTPHEADER, st->headers);
    curl_easy_setopt(st->easy, CURLOPT_USERAGENT, conf->user_agent);
    curl_easy_setopt(st->easy, CURLOPT_FOLLOWLOCATION,
                     (long) conf->follow_redirects);
    curl_easy_setopt(st->easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(st->easy, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(st->easy, CURLOPT_WRITEDATA, st);
    curl_easy_setopt(st->easy, CURLOPT_ERRORBUFFER, st->errbuf);
    /* A health check measures connecting too: a new connection each time. */
    curl_easy_setopt(st->easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(st->easy, CURLOPT_FORBID_REUSE, 1L);
    outpost_instance_set_data(inst, st);
    return 0;
fail:
    curl_slist_free_all(st->headers);
    curl_easy_cleanup(st->easy);
    free(st);
    return -1;
}

/* The reason word that starts `error`, from curl's result. */
static const char *
failure_reason(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "dns";
    case CURLE_COULDNT_CONNECT:
        return "connect";
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return "tls";
    default:
        return "transfer";
    }
}

static int
status_expected(const struct http_conf *conf, long status)
{
    if (conf->expect_status.n == 0)
        return status >= 200 && status < 300;
    for (size_t i = 0; i < conf->expect_status.n; i++)
        if (conf->expect_status.v[i] == status)
            return 1;
    return 0;
}

static void
report(outpost_instance_t *inst, struct http_state *st, CURLcode rc)
{
    struct http_conf *conf = outpost_instance_conf(inst);
    outpost_record_t *rec = outpost_run_measurement(st->run);
    curl_off_t total_us = 0;
    long status = 0;
    char err[CURL_ERROR_SIZE + 64] = "";

    if (rec == NULL)
        return;
    curl_easy_getinfo(st->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(st->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    if (rc != CURLE_OK)
        snprintf(err, sizeof(err), "%s: %s", failure_reason(rc),
                 st->errbuf[0] ? st->errbuf : curl_easy_strerror(rc));
    else if (!status_expected(conf, status))
        snprintf(err, sizeof(err), "status: got %ld, expected %s", status,
                 conf->expect_status.n ? "one of expect_status" : "2xx");

    outpost_record_add_bool(rec, "success", err[0] == '\0');
    if (status > 0)
        outpost_record_add_int(rec, "status_code", status);
    outpost_record_add_float(rec, "response_ms", (double) total_us / 1000.0);
    if (err[0])
        outpost_record_add_str(rec, "error", err);
    outpost_run_emit(st->run, rec);
}

static void
http_done(CURL *easy, CURLcode rc, void *arg)
{
    outpost_instance_t *inst = arg;
    struct http_state *st = outpost_instance_data(inst);
    outpost_run_t *run = st->run;

    (void) easy;
    if (rc != CURLE_ABORTED_BY_CALLBACK)
        report(inst, st, rc);
    st->run = NULL;
    outpost_run_done(run);
}

static int
http_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    struct http_state *st = outpost_instance_data(inst);

    st->run = run;
    st->bytes = 0;
    st->errbuf[0] = '\0';
    if (outpost_http_start(run, st->easy, http_done, inst) != 0) {
        outpost_record_t *rec = outpost_run_measurement(run);
        if (rec) {
            outpost_record_add_bool(rec, "success", 0);
            outpost_record_add_str(rec, "error",
                                   "internal: cannot start the request");
            outpost_run_emit(run, rec);
        }
        st->run = NULL;
        return OUTPOST_RUN_DONE;
    }
    return OUTPOST_RUN_PENDING;
}

static void
http_shutdown(outpost_instance_t *inst)
{
    struct http_state *st = outpost_instance_data(inst);

    if (st == NULL)
        return;
    curl_easy_cleanup(st->easy);
    curl_slist_free_all(st->headers);
    free(st);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "http",
    .description = "check any URL: status, latency, errors",
    .kind = OUTPOST_INPUT,
    .flags = OUTPOST_PLUGIN_ASYNC,
    .options = http_options,
    .conf_size = sizeof(struct http_conf),
    .init = http_init,
    .collect = http_collect,
    .shutdown = http_shutdown,
};
