/*
 * httpcheck.c - the life of one check: borrow a call from the pool, let
 * the prepare hook shape the request, send it on the core's loop, judge
 * the answer, let the classify hook refine the verdict or chain another
 * request, then emit one measurement and end the run.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <outpost/http.h>
#include <outpost/fields.h>
#include "httpcheck_int.h"

/* The reason of a check the agent was too busy to run (status unknown);
 * the health filter knows it too. */
#define HTTPCHECK_OVERLOADED "agent overloaded"

static int64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --- instances ---------------------------------------------------------- */

static void
destroy(httpcheck_t *hc)
{
    curl_slist_free_all(hc->headers);
    hc_conditions_free(hc);
    hc_tls_release_ca(hc);
    free(hc);
}

/* What an engine builds from its conf once, refusing what is invalid
 * (the CA apart: validating only looks at it, see hc_tls_check_ca). */
static int
prepare(httpcheck_t *hc, char *err, size_t errlen)
{
    return hc_request_base(hc, err, errlen) != 0
           || hc_conditions_compile(hc, err, errlen) != 0 ? -1 : 0;
}

httpcheck_t *
httpcheck_new(outpost_instance_t *inst, const struct httpcheck_conf *conf,
              const struct httpcheck_hooks *hooks, void *arg,
              char *err, size_t errlen)
{
    httpcheck_t *hc = calloc(1, sizeof(*hc));

    if (hc == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    hc->inst = inst;
    hc->conf = conf;
    hc->hooks = hooks;
    hc->arg = arg;
    hc->keep_body = (hooks && (hooks->flags & HTTPCHECK_KEEP_BODY))
                    || conf->body_contains || conf->body_regex
                    || conf->json_path;
    if (prepare(hc, err, errlen) != 0
        || hc_tls_load_ca(hc, err, errlen) != 0) {
        destroy(hc);
        return NULL;
    }
    hc_pool_engine_ref();
    return hc;
}

int
httpcheck_validate(const struct httpcheck_conf *conf, char *err,
                   size_t errlen)
{
    httpcheck_t *hc;
    int rc;

    if (conf->url && http_url_check("url", conf->url, err, errlen))
        return -1;
    if ((hc = calloc(1, sizeof(*hc))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    hc->conf = conf;
    rc = prepare(hc, err, errlen) != 0
         || hc_tls_check_ca(conf->ca_file, err, errlen) != 0 ? -1 : 0;
    destroy(hc);
    return rc;
}

/* Checks in flight belong to runs, which the core ends before shutdown. */
void
httpcheck_free(httpcheck_t *hc)
{
    if (hc == NULL)
        return;
    hc_request_forget();
    destroy(hc);
    hc_pool_engine_unref();
}

/* --- emitting ----------------------------------------------------------- */

static double
us_to_ms(curl_off_t us)
{
    return (double) us / 1000.0;
}

static void
add_engine_fields(httpcheck_call_t *c, outpost_record_t *rec)
{
    const struct httpcheck_times *t = &c->times;
    const char *reason = outpost_record_string(rec, OUTPOST_F_REASON);

    /* An overloaded agent measured nothing: no success either way. */
    if (!reason || strcmp(reason, HTTPCHECK_OVERLOADED) != 0)
        outpost_record_add_bool(rec, OUTPOST_F_SUCCESS, !c->failed);
    if (c->status > 0)
        outpost_record_add_int(rec, OUTPOST_F_STATUS_CODE, c->status);
    outpost_record_add_float(rec, OUTPOST_F_RESPONSE_MS, us_to_ms(t->total));
    outpost_record_add_float(rec, OUTPOST_F_DNS_MS, us_to_ms(t->dns));
    outpost_record_add_float(rec, OUTPOST_F_CONNECT_MS, us_to_ms(t->connect));
    outpost_record_add_float(rec, OUTPOST_F_TLS_MS, us_to_ms(t->tls));
    outpost_record_add_float(rec, OUTPOST_F_TTFB_MS, us_to_ms(t->ttfb));
    outpost_record_add_float(rec, OUTPOST_F_TRANSFER_MS,
                             us_to_ms(t->transfer));
    outpost_record_add_int(rec, "bytes", c->bytes);
    outpost_record_add_int(rec, "redirects", c->redirects);
    outpost_record_add_int(rec, "connections", c->connects);
    if (!isnan(c->cert_days))
        outpost_record_add_float(rec, "cert_expiry_days",
                                 round(c->cert_days * 100.0) / 100.0);
    if (c->failed)
        outpost_record_add_str(rec, OUTPOST_F_ERROR, c->error);
}

/* Emits the measurement, returns the call to the pool, ends the run. */
static void
finish(httpcheck_call_t *c, int emit)
{
    outpost_run_t *run = c->run;
    outpost_record_t *rec = emit ? httpcheck_record(c) : c->rec;

    if (emit && rec) {
        add_engine_fields(c, rec);
        outpost_run_emit(run, rec);
    } else if (rec)
        outpost_record_unref(rec);
    c->rec = NULL;
    hc_request_done(c);
    hc_response_release(c);
    hc_next_clear(&c->next);
    hc_pool_put(c);
    outpost_run_done(run);
}

/* A skipped check (prepare said so) reports no success unless a hook
 * failed it: "credentials missing" is unknown, not down. */
static void
finish_skipped(httpcheck_call_t *c)
{
    outpost_record_t *rec = httpcheck_record(c);

    if (rec && c->failed) {
        outpost_record_add_bool(rec, OUTPOST_F_SUCCESS, 0);
        outpost_record_add_str(rec, OUTPOST_F_ERROR, c->error);
    }
    if (rec)
        outpost_run_emit(c->run, rec);
    c->rec = NULL;
    finish(c, 0);
}

/* --- steps -------------------------------------------------------------- */

/* A timeout the agent caused rather than the vendor: curl noticed it
 * long after it expired, the loop having been too busy to drive the
 * transfer (or to start it at all: then curl had not even resolved the
 * name). The margin is the scheduler's: a quarter of the timeout, at
 * least 500 ms, so a loop that merely hiccups still blames the vendor. */
static int
timed_out_on_us(const httpcheck_call_t *c)
{
    int64_t timeout = outpost_instance_timeout_ms(c->hc->inst);
    int64_t took = (mono_ns() - c->start_ns) / 1000000;
    int64_t margin = timeout / 4 > 500 ? timeout / 4 : 500;

    return c->result == CURLE_OPERATION_TIMEDOUT && took > timeout + margin;
}

static void on_done(CURL *easy, CURLcode rc, void *arg);

/* Sends the next request. 0, or -1 with the check failed. */
static int
send_step(httpcheck_call_t *c)
{
    int64_t timeout = outpost_instance_timeout_ms(c->hc->inst);
    const struct httpcheck_hooks *hooks = c->hc->hooks;
    /* Without a prepare hook the first request starts as the check
     * does: nothing has run since start_ns, no need to read the clock. */
    int64_t left = c->step == 0 && !(hooks && hooks->prepare) ? timeout
                   : timeout - (mono_ns() - c->start_ns) / 1000000;

    hc_response_reset(c);
    if (c->next.url == NULL && c->hc->conf->url == NULL) {
        httpcheck_fail(c, "internal", "no url to request");
        return -1;
    }
    if (hc_request_apply(c, left > 1 ? left : 1) != 0) {
        httpcheck_fail(c, "internal", "cannot set up the request");
        return -1;
    }
    if (outpost_http_start(c->run, c->easy, on_done, c) != 0) {
        httpcheck_fail(c, "internal", "cannot start the request");
        return -1;
    }
    return 0;
}

/* The answer to one request is in: judge it, ask the hook, go on. */
static void
on_done(CURL *easy, CURLcode rc, void *arg)
{
    httpcheck_call_t *c = arg;
    const struct httpcheck_hooks *hooks = c->hc->hooks;
    int next = HTTPCHECK_DONE;

    (void) easy;
    if (rc == CURLE_ABORTED_BY_CALLBACK) {      /* the core gave up */
        finish(c, 0);
        return;
    }
    c->result = rc;
    hc_response_times(c);
    hc_tls_collect(c);
    hc_request_done(c);
    hc_judge(c);
    if (hooks && hooks->classify)
        next = hooks->classify(c, c->hc->arg);
    if (timed_out_on_us(c)) {
        /* Status unknown, not down: this pages nobody (after the hook,
         * which may have called it the vendor's timeout). */
        httpcheck_set_hint(c, "unknown", HTTPCHECK_OVERLOADED);
        next = HTTPCHECK_DONE;
    }
    if (next == HTTPCHECK_CHAIN) {
        if (c->step + 1 >= HTTPCHECK_MAX_STEPS)
            httpcheck_fail(c, "internal", "more than %d chained requests",
                           HTTPCHECK_MAX_STEPS);
        else {
            c->step++;
            c->failed = 0;
            c->error[0] = '\0';
            if (send_step(c) == 0)
                return;
        }
    }
    finish(c, 1);
}

int
httpcheck_start(httpcheck_t *hc, outpost_run_t *run)
{
    const struct httpcheck_hooks *hooks = hc->hooks;
    httpcheck_call_t *c = hc_pool_get();

    if (c == NULL) {
        outpost_record_t *rec = outpost_run_measurement(run);
        if (rec) {
            outpost_record_add_bool(rec, OUTPOST_F_SUCCESS, 0);
            outpost_record_add_str(rec, OUTPOST_F_ERROR, "internal: out of memory");
            outpost_run_emit(run, rec);
        }
        return OUTPOST_RUN_DONE;
    }
    c->hc = hc;
    c->run = run;
    c->start_ns = mono_ns();
    c->keep_body = hc->keep_body;
    c->body_max = hc->conf->max_body > 0 ? (size_t) hc->conf->max_body
                                         : HTTPCHECK_DEFAULT_MAX_BODY;
    if (hooks && hooks->prepare
        && hooks->prepare(c, hc->arg) == HTTPCHECK_SKIP) {
        finish_skipped(c);
        return OUTPOST_RUN_PENDING;
    }
    if (send_step(c) != 0)
        finish(c, 1);
    /* Ended above or later by on_done; either way the run is ours to end,
     * and it has been or will be. */
    return OUTPOST_RUN_PENDING;
}

/* --- accessors for hooks ------------------------------------------------ */

outpost_instance_t *
httpcheck_instance(const httpcheck_call_t *c)
{
    return c->hc->inst;
}

const struct httpcheck_conf *
httpcheck_conf(const httpcheck_call_t *c)
{
    return c->hc->conf;
}

int
httpcheck_step(const httpcheck_call_t *c)
{
    return c->step;
}

CURL *
httpcheck_easy(httpcheck_call_t *c)
{
    return c->easy;
}

CURLcode
httpcheck_result(const httpcheck_call_t *c)
{
    return c->result;
}

long
httpcheck_status(const httpcheck_call_t *c)
{
    return c->status;
}

double
httpcheck_elapsed_ms(const httpcheck_call_t *c)
{
    return (double) (mono_ns() - c->start_ns) / 1e6;
}

/* --- the verdict -------------------------------------------------------- */

int
httpcheck_failed(const httpcheck_call_t *c)
{
    return c->failed;
}

const char *
httpcheck_error(const httpcheck_call_t *c)
{
    return c->failed ? c->error : NULL;
}

void
httpcheck_fail(httpcheck_call_t *c, const char *reason, const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(c->error, sizeof(c->error), "%s: ", reason);
    if (n < 0 || (size_t) n >= sizeof(c->error))
        n = 0;
    va_start(ap, fmt);
    vsnprintf(c->error + n, sizeof(c->error) - (size_t) n, fmt, ap);
    va_end(ap);
    c->failed = 1;
}

void
httpcheck_pass(httpcheck_call_t *c)
{
    c->failed = 0;
    c->error[0] = '\0';
}

outpost_record_t *
httpcheck_record(httpcheck_call_t *c)
{
    if (c->rec == NULL)
        c->rec = outpost_run_measurement(c->run);
    return c->rec;
}

void
httpcheck_set_hint(httpcheck_call_t *c, const char *status_hint,
                   const char *reason)
{
    outpost_record_t *rec = httpcheck_record(c);

    if (rec == NULL)
        return;
    if (status_hint)
        outpost_record_add_str(rec, OUTPOST_F_STATUS_HINT, status_hint);
    if (reason)
        outpost_record_add_str(rec, OUTPOST_F_REASON, reason);
}

void
httpcheck_defer(httpcheck_call_t *c, double seconds)
{
    if (seconds <= 0)
        return;
    outpost_input_defer(outpost_instance_name(c->hc->inst),
                        outpost_time_now() + (int64_t) (seconds * 1e9));
}
