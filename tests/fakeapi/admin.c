/*
 * fakeapi: the admin API, for tests to steer the server at run time.
 * Parameters come in the query string.  Admin paths take no faults and
 * are not counted, so a test can always undo what it set.
 *
 *   POST   /_admin/fault?path=P&status=N&delay_ms=N&hang=1&drop=1&count=N
 *   DELETE /_admin/fault?path=P       clear one, release its hangs
 *   GET    /_admin/faults             list
 *   DELETE /_admin/faults             clear all, release all hangs
 *   GET    /_admin/stats              request counts per path
 *   DELETE /_admin/stats              zero them
 */

#include <string.h>

#include "fakeapi.h"


typedef struct {
    fa_fault_t              fault;
    const char             *path;
    const char             *err;
    char                    msg[160];
} fa_admin_args_t;


static enum MHD_Result
fa_admin_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
    fa_admin_args_t  *a = cls;

    (void) kind;

    if (strcmp(key, "path") == 0) {
        a->path = value;
        return MHD_YES;
    }

    if (fa_fault_parse(&a->fault, key, value ? value : "", a->msg,
                       sizeof(a->msg))
        != 0)
    {
        a->err = a->msg;
        return MHD_NO;      /* stop at the first bad key */
    }

    return MHD_YES;
}


static int
fa_admin_fault_set(const fa_request_t *r, fa_reply_t *out)
{
    fa_admin_args_t  a;

    memset(&a, 0, sizeof(a));
    (void) MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND,
                                     fa_admin_arg, &a);

    if (a.err == NULL && a.path == NULL) {
        a.err = "path is required";
    }
    if (a.err == NULL) {
        a.err = fa_fault_set(a.path, &a.fault);
    }
    if (a.err != NULL) {
        return fa_reply_error(out, MHD_HTTP_BAD_REQUEST, a.err);
    }

    return fa_reply_jansson(out, MHD_HTTP_OK,
                            json_pack("{s:s, s:o}", "path", a.path,
                                      "fault", fa_fault_to_json(&a.fault)));
}


static int
fa_admin_fault_clear(const fa_request_t *r, fa_reply_t *out)
{
    const char  *path;
    int          found;

    path = fa_request_arg(r, "path");
    if (path == NULL) {
        return fa_reply_error(out, MHD_HTTP_BAD_REQUEST, "path is required");
    }

    found = fa_fault_clear(path);
    return fa_reply_jansson(out, MHD_HTTP_OK,
                            json_pack("{s:s, s:b}", "path", path,
                                      "cleared", found));
}


static int
fa_admin_faults_list(const fa_request_t *r, fa_reply_t *out)
{
    (void) r;

    return fa_reply_jansson(out, MHD_HTTP_OK, fa_faults_json());
}


static int
fa_admin_faults_clear(const fa_request_t *r, fa_reply_t *out)
{
    (void) r;

    fa_fault_clear_all();
    return fa_reply_json(out, MHD_HTTP_OK, "{\"cleared\":true}");
}


static int
fa_admin_stats(const fa_request_t *r, fa_reply_t *out)
{
    (void) r;

    return fa_reply_jansson(out, MHD_HTTP_OK, fa_stats_json());
}


static int
fa_admin_stats_reset(const fa_request_t *r, fa_reply_t *out)
{
    (void) r;

    fa_stats_reset();
    return fa_reply_json(out, MHD_HTTP_OK, "{\"reset\":true}");
}


const fa_route_t  fa_admin_routes[] = {
    { "POST",   "/_admin/fault",  0, fa_admin_fault_set },
    { "DELETE", "/_admin/fault",  0, fa_admin_fault_clear },
    { "GET",    "/_admin/faults", 0, fa_admin_faults_list },
    { "DELETE", "/_admin/faults", 0, fa_admin_faults_clear },
    { "GET",    "/_admin/stats",  0, fa_admin_stats },
    { "DELETE", "/_admin/stats",  0, fa_admin_stats_reset },
    FA_ROUTE_END
};
