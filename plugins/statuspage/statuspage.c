/*
 * statuspage.c - the `statuspage` input: a vendor's public Atlassian
 * Statuspage summary.json, read on the httpcheck engine.
 *
 * Each check emits one measurement for the page:
 *   success, status_code, response_ms...   the fetch (engine fields)
 *   indicator      none | minor | major | critical (the page's own word)
 *   description    "All Systems Operational", ...
 *   incidents      unresolved incidents' names, "; " between them
 *   incident_count
 *   status_hint    healthy | degraded | down: the worst watched component
 *                  (plus the indicator when every component is watched),
 *                  see plugins/common/preset_statuspage.h
 *   components_watched, components_down, components_degraded
 *   missing_components  watched names the page does not have
 * and one per watched component, tagged component=<name>, with
 *   component_status   operational | degraded_performance | partial_outage
 *                      | major_outage | under_maintenance
 *   component_health   healthy | degraded | down
 * (no success or status_hint on those: the health filter judges the page,
 * not each component under the same integration name).
 */
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include "../common/httpcheck.h"
#include "../common/preset_statuspage.h"

struct sp_conf {
    struct httpcheck_conf check;
    outpost_strlist_t     components;
};

static const outpost_option_t statuspage_options[] = {
    HTTPCHECK_OPTION_URL(struct sp_conf, check)
    { .name = "components", .type = OUTPOST_OPT_STRLIST,
      .offset = offsetof(struct sp_conf, components),
      .help = "component names to watch (default: all); the page's "
              "status_hint is the worst of these" },
    HTTPCHECK_OPTIONS_TRANSPORT(struct sp_conf, check)
    OUTPOST_OPTION_END
};

struct sp_state {
    outpost_instance_t *inst;
    httpcheck_t        *hc;
    outpost_run_t      *run;       /* the run in progress */
};

/* A measurement for one component: the instance's tags plus component. */
static void
emit_component(struct sp_state *st, const outpost_record_t *page,
               const struct sp_component *pc)
{
    outpost_tagset_t *its = outpost_instance_tags(st->inst), *ts;
    size_t n = outpost_tagset_count(its);
    outpost_tag_t *tags = calloc(n + 1, sizeof(*tags));
    outpost_record_t *rec;

    if (tags == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        tags[i] = *outpost_tagset_at(its, i);
    tags[n].key = "component";
    tags[n].value = pc->name;
    ts = outpost_tagset_new(tags, n + 1);
    free(tags);
    if (ts == NULL)
        return;
    rec = outpost_measurement_new(page->name, ts, page->ts_ns);
    outpost_tagset_unref(ts);
    if (rec == NULL)
        return;
    outpost_record_add_str(rec, "component_status", pc->status);
    outpost_record_add_str(rec, "component_health",
                           sp_health_name(pc->health));
    outpost_run_emit(st->run, rec);
}

static void
report_page(struct sp_state *st, httpcheck_call_t *c,
            const struct sp_page *page)
{
    outpost_record_t *rec = httpcheck_record(c);
    int64_t down = 0, degraded = 0;

    if (rec == NULL)
        return;
    for (size_t i = 0; i < page->ncomponents; i++) {
        const struct sp_component *pc = &page->components[i];
        down += pc->health == SP_DOWN;
        degraded += pc->health == SP_DEGRADED;
        emit_component(st, rec, pc);
    }
    outpost_record_add_str(rec, OUTPOST_F_INDICATOR, page->indicator);
    outpost_record_add_str(rec, OUTPOST_F_DESCRIPTION, page->description);
    outpost_record_add_str(rec, OUTPOST_F_INCIDENTS, page->incidents);
    outpost_record_add_int(rec, "incident_count",
                           (int64_t) page->nincidents);
    outpost_record_add_int(rec, "components_watched",
                           (int64_t) page->ncomponents);
    outpost_record_add_int(rec, "components_down", down);
    outpost_record_add_int(rec, "components_degraded", degraded);
    if (page->missing)
        outpost_record_add_str(rec, "missing_components", page->missing);
    httpcheck_set_hint(c, sp_health_name(page->health), NULL);
}

static int
sp_classify(httpcheck_call_t *c, void *arg)
{
    struct sp_state *st = arg;
    const struct sp_conf *cf = outpost_instance_conf(st->inst);
    struct sp_page page;
    json_t *root;
    char err[160];

    if (httpcheck_failed(c)) {
        httpcheck_classify_api(c, 0);     /* down: network, vendor... */
        if (httpcheck_result(c) == CURLE_OK && httpcheck_status(c) < 500
            && httpcheck_status(c) != 429)
            httpcheck_set_hint(c, "down", "request");
        return HTTPCHECK_DONE;
    }
    if ((root = httpcheck_json(c)) == NULL) {
        if (httpcheck_body_over(c))
            httpcheck_fail(c, "vendor", "response body over max_body (%zu "
                           "bytes)", httpcheck_body_over(c));
        else
            httpcheck_fail(c, "vendor", "the answer is not JSON");
        httpcheck_set_hint(c, "down", "vendor");
        return HTTPCHECK_DONE;
    }
    if (sp_page_parse(root, &cf->components, &page, err, sizeof(err)) != 0) {
        httpcheck_fail(c, "vendor", "%s", err);
        httpcheck_set_hint(c, "down", "vendor");
        return HTTPCHECK_DONE;
    }
    report_page(st, c, &page);
    sp_page_free(&page);
    return HTTPCHECK_DONE;
}

static const struct httpcheck_hooks sp_hooks = {
    .classify = sp_classify,
    .flags = HTTPCHECK_KEEP_BODY,
};

static int
sp_init(outpost_instance_t *inst)
{
    struct sp_conf *cf = outpost_instance_conf(inst);
    struct sp_state *st = calloc(1, sizeof(*st));
    char err[256];

    if (st == NULL)
        return -1;
    st->inst = inst;
    st->hc = httpcheck_new(inst, &cf->check, &sp_hooks, st, err,
                           sizeof(err));
    if (st->hc == NULL) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "init", "%s", err);
        free(st);
        return -1;
    }
    outpost_instance_set_data(inst, st);
    return 0;
}

static int
sp_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    struct sp_state *st = outpost_instance_data(inst);

    st->run = run;
    return httpcheck_start(st->hc, run);
}

static void
sp_shutdown(outpost_instance_t *inst)
{
    struct sp_state *st = outpost_instance_data(inst);

    if (st == NULL)
        return;
    httpcheck_free(st->hc);
    free(st);
}

static int
sp_validate(const void *conf, char *err, size_t errlen)
{
    return httpcheck_validate(&((const struct sp_conf *) conf)->check, err,
                              errlen);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "statuspage",
    .description = "a vendor's Atlassian Statuspage: indicator, components, "
                   "incidents",
    .kind = OUTPOST_INPUT,
    .flags = OUTPOST_PLUGIN_ASYNC,
    .options = statuspage_options,
    .conf_size = sizeof(struct sp_conf),
    .init = sp_init,
    .collect = sp_collect,
    .shutdown = sp_shutdown,
    .validate = sp_validate,
};
