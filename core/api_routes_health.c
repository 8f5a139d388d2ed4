/*
 * api_routes_health.c - the agent's own health.
 *
 *   GET /health            200 when every input runs and every output
 *                          drains; 503 with the reasons when not: an input
 *                          without a run for twice its interval, an output
 *                          whose backend has failed for over a minute or
 *                          whose queue spills to disk.
 *   GET /health/liveness   200 while the process answers.
 *   GET /health/readiness  200 once the config is loaded and the agent
 *                          started (503 during a reload's restart).
 *
 * All three answer without the token, even with require_token: they are
 * what probes (systemd, Kubernetes, load balancers) call.
 */
#include <stdlib.h>
#include "agent.h"
#include "api_internal.h"
#include "state.h"

static void
health(const struct api_request *req, struct api_response *res, void *arg)
{
    struct api *api = api_req_api(req);
    char **reasons = NULL;
    int n = agent_health(api_agent(api), atomic_load(&api->failing_after_ms),
                         &reasons);
    struct state_stats ss;
    struct agent_stats as;
    struct jw w;

    (void) arg;
    state_get_stats(api_state(api), &ss);
    jw_init(&w, 512);
    jw_obj(&w);
    jw_key(&w, "status");
    jw_str(&w, n == 0 ? "ok" : "failing");
    jw_key(&w, "reasons");
    jw_arr(&w);
    if (n < 0)
        jw_str(&w, "the agent is not running (starting or reloading)");
    for (int i = 0; i < n; i++) {
        jw_str(&w, reasons[i]);
        free(reasons[i]);
    }
    free(reasons);
    jw_arr_end(&w);
    jw_key(&w, "integrations");
    jw_int(&w, (int64_t) ss.integrations);
    jw_key(&w, "alerts_open");
    jw_int(&w, (int64_t) ss.alerts_open);
    jw_key(&w, "last_event_id");
    jw_int(&w, (int64_t) ss.last_event_id);
    if (agent_get_stats(api_agent(api), &as) == 0) {
        jw_key(&w, "runs");
        jw_int(&w, (int64_t) as.sched.runs);
        jw_key(&w, "runs_skipped");
        jw_int(&w, (int64_t) (as.sched.skipped + as.sched.overloaded));
        jw_key(&w, "late_p99_ms");
        jw_num(&w, (double) as.sched.late_p99_us / 1000.0);
        jw_key(&w, "outputs");
        jw_obj(&w);
        for (size_t i = 0; i < as.noutputs; i++) {
            const struct output_stats *o = &as.outputs[i].st;

            jw_key(&w, as.outputs[i].name);
            jw_obj(&w);
            jw_key(&w, "queued");
            jw_int(&w, (int64_t) o->queued);
            jw_key(&w, "delivered");
            jw_int(&w, (int64_t) o->delivered);
            jw_key(&w, "dropped");
            jw_int(&w, (int64_t) o->dropped);
            jw_key(&w, "failing");
            jw_bool(&w, o->failing_since_ms > 0);
            jw_obj_end(&w);
        }
        jw_obj_end(&w);
        agent_stats_free(&as);
    }
    jw_obj_end(&w);
    jw_reply(&w, res, n == 0 ? 200 : 503);
}

static void
liveness(const struct api_request *req, struct api_response *res, void *arg)
{
    (void) req;
    (void) arg;
    api_reply_copy(res, 200, "application/json", "{\"status\":\"alive\"}",
                   18);
}

static void
readiness(const struct api_request *req, struct api_response *res,
          void *arg)
{
    char **reasons = NULL;
    struct api *api = api_req_api(req);
    int n = agent_health(api_agent(api), atomic_load(&api->failing_after_ms),
                         &reasons);

    (void) arg;
    for (int i = 0; i < n; i++)
        free(reasons[i]);
    free(reasons);
    if (n < 0)
        api_reply_error(res, 503, "the agent is not running (starting or "
                        "reloading)");
    else
        api_reply_copy(res, 200, "application/json",
                       "{\"status\":\"ready\"}", 18);
}

void
api_routes_health(struct api *api)
{
    api_route(api, "GET", "/health", API_OPEN, health, NULL);
    api_route(api, "GET", "/health/liveness", API_OPEN, liveness, NULL);
    api_route(api, "GET", "/health/readiness", API_OPEN, readiness, NULL);
}
