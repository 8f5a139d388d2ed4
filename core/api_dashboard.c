/*
 * api_dashboard.c - GET /dashboard: the live dashboard page.
 *
 * The page is core/dashboard/dashboard.html, compiled in at build time
 * (core/dashboard/embed.cmake makes the array, its ETag and its
 * Content-Security-Policy). It is static: everything it shows it fetches
 * from the API with the operator's token, so it holds no secret and is
 * served without the token even when the API requires one for reads (the
 * page then asks for the token and sends it on its own requests).
 *
 * Headers, all constant:
 *   Content-Type             text/html; charset=utf-8
 *   Content-Security-Policy  the page's inline script and style by hash,
 *                            connections to its own origin, nothing else
 *   ETag / Cache-Control     no-cache: the browser keeps the page and asks
 *                            again each time; If-None-Match gets a 304, so
 *                            a new binary's page is seen at the next load
 *   X-Content-Type-Options, Referrer-Policy, X-Frame-Options
 *
 * The handler runs on the API server's threads, several at once; it reads
 * constants only.
 */
#include <string.h>

#include "api.h"
#include "api_internal.h"
#include "dashboard/dashboard_embed.h"
#include "log.h"


static void dashboard_headers(struct api_response *res);


/* If-None-Match: "*" or a list of entity tags, weak ones included (a weak
 * comparison is what RFC 9110 asks of a GET's If-None-Match). */
static int
etag_matches(const char *inm)
{
    const char  *p, *tag;
    size_t       len;

    tag = outpost_dashboard_etag;
    len = strlen(tag);

    for (p = inm; *p != '\0'; ) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (*p == '*') {
            return 1;
        }
        if (strncmp(p, "W/", 2) == 0) {
            p += 2;
        }
        if (strncmp(p, tag, len) == 0
            && (p[len] == '\0' || p[len] == ',' || p[len] == ' '
                || p[len] == '\t'))
        {
            return 1;
        }
        while (*p != '\0' && *p != ',') {
            p++;
        }
    }

    return 0;
}


static void
dashboard_get(const struct api_request *req, struct api_response *res,
    void *arg)
{
    const char  *inm;

    (void) arg;

    inm = api_req_header(req, "If-None-Match");
    if (inm != NULL && etag_matches(inm)) {
        api_reply(res, 304, NULL, NULL, 0);
        dashboard_headers(res);
        return;
    }

    api_reply_copy(res, 200, "text/html; charset=utf-8",
                   (const char *) outpost_dashboard_html,
                   outpost_dashboard_html_len);
    dashboard_headers(res);
}


static void
dashboard_headers(struct api_response *res)
{
    api_reply_header(res, "ETag", outpost_dashboard_etag);
    api_reply_header(res, "Cache-Control", "no-cache");
    api_reply_header(res, "Content-Security-Policy", outpost_dashboard_csp);
    api_reply_header(res, "X-Content-Type-Options", "nosniff");
    api_reply_header(res, "Referrer-Policy", "no-referrer");
    api_reply_header(res, "X-Frame-Options", "DENY");
}


/* Called by api_start() (the weak slot in api.c). */
void
api_routes_dashboard(struct api *api)
{
    if (api_route(api, "GET", "/dashboard", API_OPEN, dashboard_get, NULL)
        != 0)
    {
        log_core(OUTPOST_LOG_ERROR, "api", "cannot add the /dashboard route");
    }
}
