/*
 * api_metrics.c - the route GET /metrics (metrics.h renders it).
 *
 * Runs on the API server's threads (api.h rule 1), several scrapes at
 * once if need be: each renders into its own buffer from copies, with no
 * pipeline lock held. The route is open like every GET of the API:
 * anyone who can reach the listener (loopback by default) may scrape,
 * unless the api section sets require_token, and then Prometheus sends
 * the token (authorization { credentials_file } in its scrape config).
 *
 * ?phases=total,ttfb (or "all") chooses the phases of
 * integration_response_time_seconds; "total" alone by default, since each
 * phase is one more histogram per integration (docs/metrics.md).
 */
#include <stdlib.h>
#include "agent.h"
#include "api.h"
#include "api_internal.h"
#include "metrics.h"

#define EXPOSITION_TYPE "text/plain; version=0.0.4; charset=utf-8"

static void
get_metrics(const struct api_request *req, struct api_response *res,
            void *arg)
{
    struct api *api = api_req_api(req);
    struct agent *a = api_agent(api);
    struct metrics_agent am;
    struct mbuf b = { 0 };
    const char *plist = api_req_query(req, "phases");
    unsigned phases = METRICS_PHASE_TOTAL;
    char bad[80];
    int rc;

    (void) arg;
    if (plist && metrics_parse_phases(plist, &phases, bad, sizeof(bad))
                 != 0) {
        api_reply_error(res, 400, "phases: \"%s\" is not a phase (total, "
                        "dns, connect, tls, ttfb, transfer, or all)", bad);
        return;
    }
    if (a == NULL || agent_metrics_snapshot(a, &am) != 0) {
        api_reply_error(res, 503, "out of memory");
        return;
    }
    rc = metrics_render(&b, api_state(api), &am, phases);
    metrics_agent_free(&am);
    if (rc != 0) {
        mbuf_free(&b);
        api_reply_error(res, 503, "out of memory");
        return;
    }
    api_reply(res, 200, EXPOSITION_TYPE, b.p, b.len);
}

void
api_routes_metrics(struct api *api)
{
    api_route(api, "GET", "/metrics", 0, get_metrics, NULL);
}
