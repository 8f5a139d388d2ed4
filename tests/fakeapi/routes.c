/*
 * fakeapi: the route tables and the built-in routes.
 *
 * fa_route_tables lists every table; fa_route_find() scans them in order
 * and the first match wins.  A vendor adds one `extern` line and one row
 * below, and its own vendor_<name>.c holding the table and handlers.
 * Tables are short, so a linear scan costs less than a request's parsing.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fakeapi.h"


static int fa_route_health(const fa_request_t *r, fa_reply_t *out);
static int fa_route_status(const fa_request_t *r, fa_reply_t *out);
static int fa_route_delay(const fa_request_t *r, fa_reply_t *out);
static int fa_route_echo(const fa_request_t *r, fa_reply_t *out);


static const fa_route_t  fa_builtin_routes[] = {
    { "GET", "/health",  0,         fa_route_health },
    { "GET", "/status/", FA_PREFIX, fa_route_status },
    { "GET", "/delay/",  FA_PREFIX, fa_route_delay },
    { NULL,  "/echo",    0,         fa_route_echo },
    FA_ROUTE_END
};

/* Vendors: declare `extern const fa_route_t fa_<name>_routes[];` here. */
extern const fa_route_t fa_stripe_routes[];
extern const fa_route_t fa_paypal_routes[];
extern const fa_route_t fa_razorpay_routes[];
extern const fa_route_t fa_payu_routes[];
extern const fa_route_t fa_ccavenue_routes[];
extern const fa_route_t fa_adyen_routes[];
extern const fa_route_t fa_square_routes[];
extern const fa_route_t fa_openai_routes[];
extern const fa_route_t fa_anthropic_routes[];
extern const fa_route_t fa_gemini_routes[];
extern const fa_route_t fa_mistral_routes[];
extern const fa_route_t fa_cohere_routes[];
extern const fa_route_t fa_twilio_routes[];
extern const fa_route_t fa_slack_routes[];
extern const fa_route_t fa_resend_routes[];
extern const fa_route_t fa_sendgrid_routes[];
extern const fa_route_t fa_whatsapp_routes[];
extern const fa_route_t fa_discord_routes[];
extern const fa_route_t fa_statuspage_routes[];
extern const fa_route_t fa_notify_routes[];

static const fa_route_t *const  fa_route_tables[] = {
    fa_builtin_routes,
    fa_admin_routes,
    fa_stripe_routes,
    fa_paypal_routes,
    fa_razorpay_routes,
    fa_payu_routes,
    fa_ccavenue_routes,
    fa_adyen_routes,
    fa_square_routes,
    fa_openai_routes,
    fa_anthropic_routes,
    fa_gemini_routes,
    fa_mistral_routes,
    fa_cohere_routes,
    fa_twilio_routes,
    fa_slack_routes,
    fa_resend_routes,
    fa_sendgrid_routes,
    fa_whatsapp_routes,
    fa_discord_routes,
    fa_statuspage_routes,
    fa_notify_routes,
    NULL
};


static int
fa_method_match(const char *want, const char *method)
{
    if (want == NULL || strcmp(want, method) == 0) {
        return 1;
    }

    /* MHD sends HEAD answers without their body, so GET routes serve it */
    return strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0;
}


static int
fa_path_match(const fa_route_t *rt, const char *path)
{
    if (rt->flags & FA_PREFIX) {
        return strncmp(path, rt->path, strlen(rt->path)) == 0;
    }

    return strcmp(path, rt->path) == 0;
}


/*
 * Returns the first route matching both method and path.  When none does
 * but some path matched, *wrong_method is set so the caller answers 405.
 */
const fa_route_t *
fa_route_find(const char *method, const char *path, int *wrong_method)
{
    const fa_route_t *const  *t;
    const fa_route_t         *rt;

    *wrong_method = 0;

    for (t = fa_route_tables; *t != NULL; t++) {
        for (rt = *t; rt->path != NULL; rt++) {
            if (!fa_path_match(rt, path)) {
                continue;
            }

            if (fa_method_match(rt->method, method)) {
                return rt;
            }

            *wrong_method = 1;
        }
    }

    return NULL;
}


/* Decimal digits only: no sign, no space, no trailing junk. */
int
fa_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    unsigned long  v;
    char          *end;

    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return -1;
    }

    *out = (unsigned) v;
    return 0;
}


static int
fa_route_health(const fa_request_t *r, fa_reply_t *out)
{
    (void) r;

    fa_reply_health(out);
    return 0;
}


/* 1xx codes are left out: they are not final answers. */
static int
fa_route_status(const fa_request_t *r, fa_reply_t *out)
{
    unsigned  code;

    if (fa_parse_uint(r->arg, 200, 599, &code) != 0) {
        return fa_reply_error(out, MHD_HTTP_BAD_REQUEST,
                              "status must be 200..599");
    }

    return fa_reply_json(out, code, "{\"status\":%u}", code);
}


static int
fa_route_delay(const fa_request_t *r, fa_reply_t *out)
{
    unsigned  ms;

    if (fa_parse_uint(r->arg, 0, FA_DELAY_MAX, &ms) != 0) {
        return fa_reply_error(out, MHD_HTTP_BAD_REQUEST,
                              "delay must be 0..600000 ms");
    }

    out->delay_ms = ms;
    return fa_reply_json(out, MHD_HTTP_OK, "{\"delay_ms\":%u}", ms);
}


static enum MHD_Result
fa_echo_add(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
    (void) kind;

    /* a key that repeats keeps its last value */
    (void) json_object_set_new(cls, key, json_string(value ? value : ""));
    return MHD_YES;
}


static int
fa_route_echo(const fa_request_t *r, fa_reply_t *out)
{
    json_t  *echo, *query, *headers;

    query = json_object();
    headers = json_object();
    echo = json_pack("{s:s, s:s, s:o, s:o}",
                     "method", r->method, "path", r->path,
                     "query", query, "headers", headers);
    if (echo == NULL) {
        return -1;
    }

    (void) MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND,
                                     fa_echo_add, query);
    (void) MHD_get_connection_values(r->conn, MHD_HEADER_KIND,
                                     fa_echo_add, headers);

    if (r->body != NULL) {
        /* json_stringn() refuses invalid UTF-8; then only the size shows */
        (void) json_object_set_new(echo, "body",
                                   json_stringn(r->body, r->body_len));
        (void) json_object_set_new(echo, "body_len",
                                   json_integer((json_int_t) r->body_len));
    }

    return fa_reply_jansson(out, MHD_HTTP_OK, echo);
}
