/*
 * httpcheck_int.h - what the engine's files share (private to
 * plugins/common/httpcheck*.c; plugins include httpcheck.h only).
 *
 * Files, one responsibility each:
 *   httpcheck.c             the life of a check: start, steps, verdict, emit
 *   httpcheck_pool.c        calls (easy handle + buffers) shared by instances
 *   httpcheck_request.c     turning conf + hook overrides into curl options
 *   httpcheck_response.c    capturing headers and body; timings
 *   httpcheck_conditions.c  compiling and judging the conditions; json paths
 *   httpcheck_tls.c         certificate expiry from CURLOPT_CERTINFO
 *   httpcheck_api.c         helpers for vendor presets (rate limits...)
 */
#ifndef OUTPOST_HTTPCHECK_INT_H
#define OUTPOST_HTTPCHECK_INT_H

#include <regex.h>
#include "httpcheck.h"

#define HTTPCHECK_DEFAULT_MAX_BODY      (1024 * 1024)
#define HTTPCHECK_DEFAULT_MAX_REDIRECTS 10

/* One instance's engine: small, since there may be 50,000 of them. */
struct httpcheck {
    outpost_instance_t           *inst;
    const struct httpcheck_conf  *conf;
    const struct httpcheck_hooks *hooks;
    void                         *arg;
    struct curl_slist            *headers;     /* conf headers + bearer */
    struct hc_regex              *regex;       /* body_regex, compiled */
    char                         *ca_pem;      /* ca_file's contents */
    size_t                        ca_pem_len;
    struct hc_ca                 *ca;          /* ca_file parsed once, shared
                                                  (httpcheck_tls.c); NULL
                                                  without OpenSSL */
    int64_t                       cert_expiry; /* last notAfter seen, unix s;
                                                  0: never */
    int                           keep_body;   /* conditions or a hook
                                                  read the body */
};

/* Per-request overrides from the setters; cleared once applied. */
struct httpcheck_next {
    char              *url;
    char              *method;
    char              *body;
    size_t             body_len;
    int                has_body;
    char              *user, *password;
    struct curl_slist *headers;     /* extra "Name: value" */
};

/* Sums over every request of a check, in microseconds. */
struct httpcheck_times {
    curl_off_t total, dns, connect, tls, ttfb, transfer;
};

/* One check in flight, with the easy handle it borrowed from the pool. */
struct httpcheck_call {
    struct httpcheck_call *next_free;   /* pool */
    CURL                  *easy;
    const httpcheck_t     *setup_for;    /* the easy handle holds this
                                            instance's plain request... */
    unsigned               setup_gen;    /* ...if no instance was freed
                                            since: hc_request_forget) */
    httpcheck_t           *hc;
    outpost_run_t         *run;
    outpost_record_t      *rec;
    int64_t                start_ns;     /* monotonic */
    int                    step;

    /* the request being sent */
    struct httpcheck_next  next;
    struct curl_slist     *sent_headers; /* owned list for this request */

    /* the answer to the latest request */
    CURLcode               result;
    long                   status;
    char                  *body;
    size_t                 body_len, body_cap, body_max;
    int                    keep_body;
    int                    body_over;    /* the body went past body_max */
    char                  *hdrs;         /* "name\0value\0" pairs */
    size_t                 hdrs_len, hdrs_cap;
    json_t                *json;
    int                    json_tried;

    /* totals over the steps */
    struct httpcheck_times times;
    int64_t                bytes;
    long                   redirects;
    long                   connects;     /* new connections opened */
    double                 cert_days;    /* NaN: unknown */

    /* verdict */
    int                    failed;
    char                   error[384];
    char                   errbuf[CURL_ERROR_SIZE];
};

/* httpcheck_pool.c */
httpcheck_call_t *hc_pool_get(void);
void hc_pool_put(httpcheck_call_t *c);
void hc_pool_engine_ref(void);
void hc_pool_engine_unref(void);

/* httpcheck_request.c */
void hc_request_forget(void);
int  hc_request_base(httpcheck_t *hc, char *err, size_t errlen);
int  hc_request_apply(httpcheck_call_t *c, int64_t timeout_ms);
void hc_next_clear(struct httpcheck_next *n);
void hc_request_done(httpcheck_call_t *c);

/* httpcheck_response.c */
void hc_response_reset(httpcheck_call_t *c);
void hc_response_release(httpcheck_call_t *c);
void hc_response_times(httpcheck_call_t *c);
size_t hc_on_body(char *ptr, size_t size, size_t nmemb, void *arg);
size_t hc_on_header(char *ptr, size_t size, size_t nmemb, void *arg);

/* httpcheck_conditions.c */
int  hc_conditions_compile(httpcheck_t *hc, char *err, size_t errlen);
void hc_conditions_free(httpcheck_t *hc);
void hc_judge(httpcheck_call_t *c);
int  hc_json_path_valid(const char *path);

/* body_regex, matched with PCRE2 under a budget (httpcheck_conditions.c).
 * hc_regex_match: 1 match, 0 none, or a negative PCRE2 error when the
 * match was given up (HC_REGEX_COSTLY: the budget); pure, any thread. */
struct hc_regex *hc_regex_new(const char *re, char *err, size_t errlen);
int  hc_regex_match(const struct hc_regex *r, const char *s, size_t len);
const char *hc_regex_why(int rc);
void hc_regex_free(struct hc_regex *r);
int  hc_tls_error(CURLcode rc);

/* httpcheck_tls.c */
void hc_tls_collect(httpcheck_call_t *c);
int  hc_tls_load_ca(httpcheck_t *hc, char *err, size_t errlen);
int  hc_tls_check_ca(const char *path, char *err, size_t errlen);
void hc_tls_release_ca(httpcheck_t *hc);
void hc_tls_set_ca(CURL *e, const httpcheck_t *hc);

#endif /* OUTPOST_HTTPCHECK_INT_H */
