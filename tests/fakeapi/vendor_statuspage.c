/*
 * fakeapi: an Atlassian Statuspage, the public JSON a vendor's status page
 * serves.  GET /api/v2/summary.json and /api/v2/status.json answer for the
 * page "default"; GET /pages/<name>/api/v2/summary.json (and status.json)
 * for a named page, so one fakeapi can stand in for several vendors.
 *
 * Tests steer the pages through the admin API:
 *
 *   POST   /_admin/statuspage?page=P&indicator=major&description=...
 *              &component=API&status=major_outage
 *              &components=API:major_outage,Webhooks:operational
 *              &incident=Elevated%20errors&impact=major
 *   DELETE /_admin/statuspage[?page=P]     back to all operational
 *   GET    /_admin/statuspage[?page=P]     the page's summary
 *
 * The top-level indicator is whatever was set last (indicator=auto: the
 * worst component's), never recomputed behind a test's back: real pages
 * blend it, and the plugin must not trust it blindly.
 *
 * One lock guards every page; pages are small fixed arrays.
 */

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "vendor.h"


#define SP_PAGES        8
#define SP_COMPONENTS   16
#define SP_INCIDENTS    8
#define SP_NAME         64

typedef struct {
    char                    name[SP_NAME];
    char                    status[24];
} sp_component_t;

typedef struct {
    char                    name[96];
    char                    impact[16];
} sp_incident_t;

typedef struct {
    char                    name[SP_NAME];
    char                    indicator[16];
    char                    description[96];
    sp_component_t          components[SP_COMPONENTS];
    size_t                  ncomponents;
    sp_incident_t           incidents[SP_INCIDENTS];
    size_t                  nincidents;
} sp_page_t;

static pthread_mutex_t      sp_lock = PTHREAD_MUTEX_INITIALIZER;
static sp_page_t            sp_pages[SP_PAGES];
static size_t               sp_npages;

static const char *const    sp_indicators[] = {
    "none", "minor", "major", "critical", NULL
};
static const char *const    sp_descriptions[] = {
    "All Systems Operational", "Minor Service Outage",
    "Partial System Outage", "Major System Outage"
};
static const char *const    sp_statuses[] = {
    "operational", "under_maintenance", "degraded_performance",
    "partial_outage", "major_outage", NULL
};
static const char *const    sp_impacts[] = {
    "none", "minor", "major", "critical", "maintenance", NULL
};
static const char *const    sp_default_components[] = {
    "API", "Dashboard", "Webhooks", NULL
};


static int
sp_index(const char *const *list, const char *s)
{
    int  i;

    for (i = 0; s != NULL && list[i] != NULL; i++) {
        if (strcmp(list[i], s) == 0) {
            return i;
        }
    }

    return -1;
}


static void
sp_page_reset(sp_page_t *p, const char *name)
{
    size_t  i;

    memset(p, 0, sizeof(*p));
    (void) snprintf(p->name, sizeof(p->name), "%s", name);
    (void) snprintf(p->indicator, sizeof(p->indicator), "none");
    (void) snprintf(p->description, sizeof(p->description), "%s",
                    sp_descriptions[0]);

    for (i = 0; sp_default_components[i] != NULL; i++) {
        (void) snprintf(p->components[i].name, SP_NAME, "%s",
                        sp_default_components[i]);
        (void) snprintf(p->components[i].status,
                        sizeof(p->components[i].status), "operational");
    }
    p->ncomponents = i;
}


/* Call with sp_lock held.  NULL: unknown and not created. */
static sp_page_t *
sp_page_get(const char *name, int create)
{
    size_t  i;

    if (sp_npages == 0) {
        sp_page_reset(&sp_pages[sp_npages++], "default");
    }

    for (i = 0; i < sp_npages; i++) {
        if (strcmp(sp_pages[i].name, name) == 0) {
            return &sp_pages[i];
        }
    }

    if (!create || sp_npages == SP_PAGES || strlen(name) >= SP_NAME
        || strchr(name, '/') != NULL)
    {
        return NULL;
    }

    sp_page_reset(&sp_pages[sp_npages], name);
    return &sp_pages[sp_npages++];
}


/* Call with sp_lock held. */
static json_t *
sp_page_json(const sp_page_t *p, int components)
{
    json_t  *page, *list, *incidents, *c, *root;
    size_t   i;

    page = json_pack("{s:s, s:s, s:s, s:s, s:s}",
                     "id", "0utp0stpage", "name", p->name,
                     "url", "https://status.example.com",
                     "time_zone", "Etc/UTC",
                     "updated_at", "2026-01-01T00:00:00.000Z");
    root = json_pack("{s:o, s:{s:s, s:s}}", "page", page, "status",
                     "indicator", p->indicator,
                     "description", p->description);
    if (root == NULL || !components) {
        return root;
    }

    list = json_array();
    incidents = json_array();
    for (i = 0; i < p->ncomponents; i++) {
        c = json_pack("{s:s+, s:s, s:s, s:s, s:s, s:i, s:n, s:b, s:n, s:s,"
                      " s:b, s:b}",
                      "id", "cmp", p->components[i].name,
                      "name", p->components[i].name,
                      "status", p->components[i].status,
                      "created_at", "2026-01-01T00:00:00.000Z",
                      "updated_at", "2026-01-01T00:00:00.000Z",
                      "position", (int) i + 1, "description",
                      "showcase", 1, "group_id", "page_id", "0utp0stpage",
                      "group", 0, "only_show_if_degraded", 0);
        (void) json_array_append_new(list, c);
    }
    for (i = 0; i < p->nincidents; i++) {
        c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:s, s:s, s:[],"
                      " s:[]}",
                      "id", "inc0utp0st", "name", p->incidents[i].name,
                      "status", "investigating",
                      "created_at", "2026-01-01T00:00:00.000Z",
                      "updated_at", "2026-01-01T00:00:00.000Z",
                      "monitoring_at", "resolved_at",
                      "impact", p->incidents[i].impact,
                      "page_id", "0utp0stpage", "incident_updates",
                      "components");
        (void) json_array_append_new(incidents, c);
    }

    (void) json_object_set_new(root, "components", list);
    (void) json_object_set_new(root, "incidents", incidents);
    (void) json_object_set_new(root, "scheduled_maintenances", json_array());
    return root;
}


static int
sp_serve(const char *name, int components, fa_reply_t *out)
{
    sp_page_t  *p;
    json_t     *j = NULL;

    pthread_mutex_lock(&sp_lock);
    p = sp_page_get(name, 0);
    if (p != NULL) {
        j = sp_page_json(p, components);
    }
    pthread_mutex_unlock(&sp_lock);

    if (p == NULL) {
        fa_reply_not_found(out);
        return 0;
    }

    return fa_reply_jansson(out, MHD_HTTP_OK, j);
}


static int
sp_summary(const fa_request_t *r, fa_reply_t *out)
{
    (void) r;

    return sp_serve("default", 1, out);
}


static int
sp_status(const fa_request_t *r, fa_reply_t *out)
{
    (void) r;

    return sp_serve("default", 0, out);
}


/* /pages/<name>/api/v2/summary.json or .../status.json */
static int
sp_named(const fa_request_t *r, fa_reply_t *out)
{
    const char  *slash;
    char         name[SP_NAME];

    slash = strchr(r->arg, '/');
    if (slash == NULL || (size_t) (slash - r->arg) >= sizeof(name)) {
        fa_reply_not_found(out);
        return 0;
    }
    (void) snprintf(name, sizeof(name), "%.*s", (int) (slash - r->arg),
                    r->arg);

    if (strcmp(slash, "/api/v2/summary.json") == 0) {
        return sp_serve(name, 1, out);
    }
    if (strcmp(slash, "/api/v2/status.json") == 0) {
        return sp_serve(name, 0, out);
    }

    fa_reply_not_found(out);
    return 0;
}


/* Call with sp_lock held.  NULL, or what was wrong. */
static const char *
sp_set_component(sp_page_t *p, const char *name, size_t len,
    const char *status)
{
    size_t  i;

    if (sp_index(sp_statuses, status) < 0) {
        return "status: must be operational, degraded_performance, "
               "partial_outage, major_outage or under_maintenance";
    }
    if (len == 0 || len >= SP_NAME) {
        return "component: name must be 1..63 characters";
    }

    for (i = 0; i < p->ncomponents; i++) {
        if (strlen(p->components[i].name) == len
            && memcmp(p->components[i].name, name, len) == 0)
        {
            break;
        }
    }
    if (i == p->ncomponents) {
        if (i == SP_COMPONENTS) {
            return "component: too many components";
        }
        (void) snprintf(p->components[i].name, SP_NAME, "%.*s", (int) len,
                        name);
        p->ncomponents++;
    }

    (void) snprintf(p->components[i].status,
                    sizeof(p->components[i].status), "%.*s",
                    (int) sizeof(p->components[i].status) - 1, status);
    return NULL;
}


/* "API:major_outage,Webhooks:operational".  Call with sp_lock held. */
static const char *
sp_set_components(sp_page_t *p, const char *list)
{
    const char  *s = list, *colon, *comma;
    const char  *err;
    char         status[32];

    while (*s != '\0') {
        comma = strchr(s, ',');
        if (comma == NULL) {
            comma = s + strlen(s);
        }
        colon = memchr(s, ':', (size_t) (comma - s));
        if (colon == NULL || (size_t) (comma - colon) > sizeof(status)) {
            return "components: expected Name:status,...";
        }
        (void) snprintf(status, sizeof(status), "%.*s",
                        (int) (comma - colon - 1), colon + 1);
        err = sp_set_component(p, s, (size_t) (colon - s), status);
        if (err != NULL) {
            return err;
        }
        s = *comma ? comma + 1 : comma;
    }

    return NULL;
}


/* Call with sp_lock held. */
static const char *
sp_set_indicator(sp_page_t *p, const char *indicator,
    const char *description)
{
    int     i, worst = 0, w;
    size_t  c;

    if (strcmp(indicator, "auto") == 0) {
        for (c = 0; c < p->ncomponents; c++) {
            w = sp_index(sp_statuses, p->components[c].status);
            /* maintenance 1, degraded 2, partial 3, major 4 */
            w = w <= 1 ? 0 : w - 1;
            worst = w > worst ? w : worst;
        }
        i = worst;
    } else {
        i = sp_index(sp_indicators, indicator);
        if (i < 0) {
            return "indicator: must be none, minor, major, critical or auto";
        }
    }

    (void) snprintf(p->indicator, sizeof(p->indicator), "%s",
                    sp_indicators[i]);
    (void) snprintf(p->description, sizeof(p->description), "%s",
                    description ? description : sp_descriptions[i]);
    return NULL;
}


static int
sp_admin_set(const fa_request_t *r, fa_reply_t *out)
{
    const char  *page, *indicator, *description, *component, *status;
    const char  *components, *incident, *impact, *err = NULL;
    sp_page_t   *p;
    json_t      *j = NULL;

    page = fa_request_arg(r, "page");
    indicator = fa_request_arg(r, "indicator");
    description = fa_request_arg(r, "description");
    component = fa_request_arg(r, "component");
    status = fa_request_arg(r, "status");
    components = fa_request_arg(r, "components");
    incident = fa_request_arg(r, "incident");
    impact = fa_request_arg(r, "impact");

    pthread_mutex_lock(&sp_lock);

    p = sp_page_get(page ? page : "default", 1);
    if (p == NULL) {
        err = "page: too many pages, or a bad name";
        goto out;
    }

    if (component != NULL) {
        err = status ? sp_set_component(p, component, strlen(component),
                                        status)
                     : "component needs status";
    }
    if (err == NULL && components != NULL) {
        err = sp_set_components(p, components);
    }
    if (err == NULL && incident != NULL) {
        if (sp_index(sp_impacts, impact ? impact : "major") < 0) {
            err = "impact: must be none, minor, major, critical or "
                  "maintenance";
        } else if (p->nincidents == SP_INCIDENTS) {
            err = "incident: too many incidents";
        } else {
            (void) snprintf(p->incidents[p->nincidents].name,
                            sizeof(p->incidents[0].name), "%s", incident);
            (void) snprintf(p->incidents[p->nincidents].impact,
                            sizeof(p->incidents[0].impact), "%s",
                            impact ? impact : "major");
            p->nincidents++;
        }
    }
    if (err == NULL && indicator != NULL) {
        err = sp_set_indicator(p, indicator, description);
    } else if (err == NULL && description != NULL) {
        (void) snprintf(p->description, sizeof(p->description), "%s",
                        description);
    }
    if (err == NULL) {
        j = sp_page_json(p, 1);
    }

out:
    pthread_mutex_unlock(&sp_lock);

    if (err != NULL) {
        return fa_reply_error(out, MHD_HTTP_BAD_REQUEST, err);
    }
    return fa_reply_jansson(out, MHD_HTTP_OK, j);
}


static int
sp_admin_reset(const fa_request_t *r, fa_reply_t *out)
{
    const char  *page;
    sp_page_t   *p;

    page = fa_request_arg(r, "page");

    pthread_mutex_lock(&sp_lock);
    if (page == NULL) {
        sp_npages = 0;      /* the next use recreates "default" */
    } else {
        p = sp_page_get(page, 0);
        if (p != NULL) {
            sp_page_reset(p, page);
        }
    }
    pthread_mutex_unlock(&sp_lock);

    return fa_reply_json(out, MHD_HTTP_OK, "{\"reset\":true}");
}


static int
sp_admin_get(const fa_request_t *r, fa_reply_t *out)
{
    const char  *page = fa_request_arg(r, "page");

    return sp_serve(page ? page : "default", 1, out);
}


const fa_route_t  fa_statuspage_routes[] = {
    { "GET",    "/api/v2/summary.json", 0,         sp_summary },
    { "GET",    "/api/v2/status.json",  0,         sp_status },
    { "GET",    "/pages/",              FA_PREFIX, sp_named },
    { "POST",   "/_admin/statuspage",   0,         sp_admin_set },
    { "DELETE", "/_admin/statuspage",   0,         sp_admin_reset },
    { "GET",    "/_admin/statuspage",   0,         sp_admin_get },
    FA_ROUTE_END
};
