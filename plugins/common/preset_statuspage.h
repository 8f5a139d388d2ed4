/*
 * preset_statuspage.h - reading an Atlassian Statuspage summary.json, and
 * a cache of vendors' verdicts shared by the preset instances of a module.
 *
 * Used by the `statuspage` input (sp_page_parse on the answer of its own
 * check) and by every provider preset's `status_page` option (sp_cache:
 * fetched at most once per SP_CACHE_TTL_MS per URL, whatever the number of
 * instances that name it, and attached to their checks as vendor_status,
 * vendor_health, vendor_incidents).
 *
 * Severity: the page's own indicator is a blend of its components (a
 * component in major_outage has been seen under a "major" page), so the
 * health of a page is the worst of its watched components; with no
 * components option, every component is watched and the indicator counts
 * too.
 *
 *   indicator  none -> healthy   minor -> degraded   major, critical -> down
 *   component  operational -> healthy
 *              degraded_performance, under_maintenance -> degraded
 *              partial_outage, major_outage -> down
 */
#ifndef OUTPOST_PRESET_STATUSPAGE_H
#define OUTPOST_PRESET_STATUSPAGE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>

/* The statuses of outpost/fields.h a page can say. Ordered: a larger
 * value is worse. */
enum sp_health {
    SP_HEALTHY  = OUTPOST_STATUS_HEALTHY,
    SP_DEGRADED = OUTPOST_STATUS_DEGRADED,
    SP_DOWN     = OUTPOST_STATUS_DOWN
};

/* "healthy", "degraded", "down". */
const char *sp_health_name(int health);
/* The health an indicator or a component status stands for; -1 for a
 * value Statuspage does not define. */
int sp_indicator_health(const char *indicator);
int sp_component_health(const char *status);

struct sp_component {
    const char *name;        /* borrowed from the parsed JSON */
    const char *status;      /* borrowed */
    int         health;      /* enum sp_health, -1: unknown value */
};

/* A parsed page. Strings marked borrowed point into the json_t given to
 * sp_page_parse and live as long as it does. */
struct sp_page {
    const char          *indicator;    /* borrowed; "" when absent */
    const char          *description;  /* borrowed; "" when absent */
    char                *incidents;    /* unresolved incidents' names, "; "
                                          between them; "" when none */
    size_t               nincidents;
    int                  health;       /* enum sp_health of the watched part */
    struct sp_component *components;   /* the watched ones, page order */
    size_t               ncomponents;
    char                *missing;      /* watched names not on the page,
                                          ", " between them; NULL: none */
};

/* Reads a summary.json (or status.json: no components) in root. watch:
 * component names to keep (NULL or empty: all; group rows are skipped
 * unless named). Incidents that list components, none of them watched,
 * are left out. 0, or -1 with a reason in err when root is not a
 * Statuspage answer. On success free the page with sp_page_free(). */
int  sp_page_parse(json_t *root, const outpost_strlist_t *watch,
                   struct sp_page *page, char *err, size_t errlen);
void sp_page_free(struct sp_page *page);

/* --- the shared cache for presets' status_page ---------------------------- */

#define SP_CACHE_TTL_MS   60000   /* fetch a page at most this often */
#define SP_CACHE_BODY_MAX (2 * 1024 * 1024)

typedef struct sp_cache sp_cache_t;

/* The vendor's verdict as last fetched. */
struct sp_verdict {
    int   have;               /* 0: never fetched successfully */
    char  indicator[16];      /* none | minor | major | critical */
    char  description[128];
    char  incidents[512];     /* truncated with "..." */
    int   health;             /* enum sp_health */
    int64_t age_ms;           /* since it was fetched */
};

/* Continues a collection once the page is fresh (or could not be
 * fetched). aborted: the run was cancelled meanwhile. */
typedef void (*sp_cache_then_fn)(outpost_run_t *run, void *arg,
                                 int aborted);

/* The cache entry for url, shared by every caller with the same URL in
 * this module; NULL when memory is short. Release with sp_cache_put(). */
sp_cache_t *sp_cache_get(const char *url);
void        sp_cache_put(sp_cache_t *sc);

/* Copies the last verdict. */
void sp_cache_verdict(sp_cache_t *sc, struct sp_verdict *v);

/* Refreshes the page if it is older than SP_CACHE_TTL_MS, as part of run,
 * then calls then(run, arg, aborted). When the page is fresh (or a fetch
 * cannot even start) it returns 0 without calling then; otherwise it
 * returns 1 and then is called exactly once, on the loop thread, when the
 * fetch in flight (this caller's or another instance's) ends - possibly
 * before sp_cache_refresh returns, when run is already cancelled.
 * timeout_ms bounds the fetch; a failed fetch keeps the last verdict and
 * is not retried before SP_CACHE_TTL_MS. */
int sp_cache_refresh(sp_cache_t *sc, outpost_run_t *run, int64_t timeout_ms,
                     const char *user_agent, sp_cache_then_fn then,
                     void *arg);

#endif /* OUTPOST_PRESET_STATUSPAGE_H */
