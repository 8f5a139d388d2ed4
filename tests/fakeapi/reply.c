/*
 * fakeapi: building answers.  Every body is JSON.  The answers that hot
 * paths send unchanged (health, 404, 405) are built once at start and
 * shared by all requests, so serving them allocates nothing.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeapi.h"


#define FA_JSON  "application/json"

static struct MHD_Response  *fa_health;
static struct MHD_Response  *fa_not_found;
static struct MHD_Response  *fa_bad_method;


static struct MHD_Response *
fa_response_static(const char *body)
{
    struct MHD_Response  *resp;

    resp = MHD_create_response_from_buffer(strlen(body), (void *) body,
                                           MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        return NULL;
    }

    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, FA_JSON)
        != MHD_YES)
    {
        MHD_destroy_response(resp);
        return NULL;
    }

    return resp;
}


int
fa_reply_init(void)
{
    fa_health = fa_response_static("{\"status\":\"ok\"}");
    fa_not_found = fa_response_static("{\"error\":\"not found\"}");
    fa_bad_method = fa_response_static("{\"error\":\"method not allowed\"}");

    return (fa_health && fa_not_found && fa_bad_method) ? 0 : -1;
}


void
fa_reply_free(void)
{
    struct MHD_Response  **all[] = { &fa_health, &fa_not_found,
                                     &fa_bad_method };
    size_t                 i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (*all[i] != NULL) {
            MHD_destroy_response(*all[i]);
            *all[i] = NULL;
        }
    }
}


const char *
fa_request_arg(const fa_request_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}


const char *
fa_request_header(const fa_request_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}


/* Takes ownership of `body`, which must come from malloc(). */
static int
fa_reply_take(fa_reply_t *out, unsigned status, char *body, size_t len)
{
    struct MHD_Response  *resp;

    resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return -1;
    }

    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, FA_JSON)
        != MHD_YES)
    {
        MHD_destroy_response(resp);
        return -1;
    }

    out->status = status;
    out->resp = resp;
    out->shared = 0;
    return 0;
}


/* The caller vouches that fmt and its arguments make valid JSON. */
int
fa_reply_json(fa_reply_t *out, unsigned status, const char *fmt, ...)
{
    va_list   ap;
    char     *body;
    int       n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return -1;
    }

    body = malloc((size_t) n + 1);
    if (body == NULL) {
        return -1;
    }

    va_start(ap, fmt);
    (void) vsnprintf(body, (size_t) n + 1, fmt, ap);
    va_end(ap);

    return fa_reply_take(out, status, body, (size_t) n);
}


/* Steals the reference to `json`, whatever the outcome. */
int
fa_reply_jansson(fa_reply_t *out, unsigned status, json_t *json)
{
    char  *body;

    if (json == NULL) {
        return -1;
    }

    body = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    if (body == NULL) {
        return -1;
    }

    return fa_reply_take(out, status, body, strlen(body));
}


int
fa_reply_error(fa_reply_t *out, unsigned status, const char *message)
{
    return fa_reply_jansson(out, status, json_pack("{s:s}", "error", message));
}


static void
fa_reply_shared(fa_reply_t *out, unsigned status, struct MHD_Response *resp)
{
    out->status = status;
    out->resp = resp;
    out->shared = 1;
}


void
fa_reply_not_found(fa_reply_t *out)
{
    fa_reply_shared(out, MHD_HTTP_NOT_FOUND, fa_not_found);
}


void
fa_reply_bad_method(fa_reply_t *out)
{
    fa_reply_shared(out, MHD_HTTP_METHOD_NOT_ALLOWED, fa_bad_method);
}


void
fa_reply_health(fa_reply_t *out)
{
    fa_reply_shared(out, MHD_HTTP_OK, fa_health);
}


/* Drop the reply's response, if it owns one; safe to call twice. */
void
fa_reply_release(fa_reply_t *out)
{
    if (out->resp != NULL && !out->shared) {
        MHD_destroy_response(out->resp);
    }

    out->resp = NULL;
    out->shared = 0;
}
