/*
 * outpost/fields.h - the vocabulary plugins exchange: the names of the
 * fields and tags one plugin writes and another reads, the status and
 * circuit enums with their text, and the one severity scale with its
 * mapping to the alert filter's priorities and to each notifier's levels.
 *
 * Rules:
 *  1. A field or tag that more than one plugin reads or writes is named
 *     here, and plugins use the macro, never the string. A name a single
 *     plugin owns stays in that plugin.
 *  2. Everything here is a macro or a static inline function: the header
 *     adds no symbol to the ABI, and its tables are the only copies.
 *  3. Enum values are saved in state files: they are only ever appended,
 *     never renumbered. Names are the wire format of records, events, the
 *     API and the databases' columns: they never change.
 */
#ifndef OUTPOST_FIELDS_H
#define OUTPOST_FIELDS_H

#include <string.h>
#include <outpost/record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- tags ---------------------------------------------------------------- */

#define OUTPOST_TAG_INTEGRATION     "integration"
#define OUTPOST_TAG_CATEGORY        "category"
#define OUTPOST_TAG_PROVIDER        "provider"
#define OUTPOST_TAG_TIER            "tier"
#define OUTPOST_TAG_FAILOVER_GROUP  "failover_group"
#define OUTPOST_TAG_PRIORITY        "priority"     /* failover order */
#define OUTPOST_TAG_WEIGHT          "weight"
#define OUTPOST_TAG_COMPONENT       "component"    /* a status page's part */
#define OUTPOST_TAG_NOTIFY          "notify"       /* routing, see plugin.h */

/* --- fields of a check (inputs write them) -------------------------------- */

#define OUTPOST_F_SUCCESS           "success"       /* bool */
#define OUTPOST_F_STATUS_CODE       "status_code"   /* int, HTTP */
#define OUTPOST_F_RESPONSE_MS       "response_ms"   /* float */
#define OUTPOST_F_ERROR             "error"         /* string */
#define OUTPOST_F_REASON            "reason"        /* vendor | network | ... */
#define OUTPOST_F_STATUS_HINT       "status_hint"   /* an outpost_status_t name */
#define OUTPOST_F_RETRY_AFTER_S     "retry_after_s"
/* Phase timings of an HTTP check (plugins/common/httpcheck.h), read by
 * the postgres output and GET /metrics. */
#define OUTPOST_F_DNS_MS            "dns_ms"        /* float */
#define OUTPOST_F_CONNECT_MS        "connect_ms"
#define OUTPOST_F_TLS_MS            "tls_ms"
#define OUTPOST_F_TTFB_MS           "ttfb_ms"
#define OUTPOST_F_TRANSFER_MS       "transfer_ms"
/* Days until the peer's certificate expires (https checks). */
#define OUTPOST_F_CERT_EXPIRY_DAYS  "cert_expiry_days" /* float */
/* A vendor's rate-limit headers, one field each: "ratelimit_" and the
 * header's rest ("ratelimit_remaining_requests",
 * "ratelimit_tokens_remaining"); those naming "remaining" are headroom. */
#define OUTPOST_F_RATELIMIT_PREFIX  "ratelimit_"
/* What the vendor's status page says (see plugins/common/verdict.h). */
#define OUTPOST_F_VENDOR_STATUS     "vendor_status" /* none|minor|major|critical|unknown */
#define OUTPOST_F_VENDOR_HEALTH     "vendor_health"
#define OUTPOST_F_VENDOR_DESCRIPTION "vendor_description"
#define OUTPOST_F_VENDOR_INCIDENTS  "vendor_incidents"
/* A statuspage input's own measurement. */
#define OUTPOST_F_INDICATOR         "indicator"
#define OUTPOST_F_DESCRIPTION       "description"
#define OUTPOST_F_INCIDENTS         "incidents"

/* --- fields filters add ---------------------------------------------------- */

#define OUTPOST_F_STATUS            "status"        /* outpost_status_t name */
#define OUTPOST_F_HEALTH_SCORE      "health_score"  /* float 0..1 */
#define OUTPOST_F_CONSECUTIVE_FAILURES "consecutive_failures"
#define OUTPOST_F_CIRCUIT           "circuit"       /* outpost_circuit_t name */
#define OUTPOST_F_FAILOVER_ACTIVE   "failover_active"
#define OUTPOST_F_ERROR_BUDGET_REMAINING "error_budget_remaining"
#define OUTPOST_F_SLA_AVAILABILITY_TARGET "sla_availability_target" /* 0..1 */

/* --- fields of events ------------------------------------------------------- */

#define OUTPOST_F_ACTION            "action"        /* open | resolve | ... */
#define OUTPOST_F_PRIORITY          "priority"      /* outpost_priority_t name */
#define OUTPOST_F_OCCURRENCES       "occurrences"
#define OUTPOST_F_MUTED             "muted"
#define OUTPOST_F_MUTE_REASON       "mute_reason"
#define OUTPOST_F_FROM              "from"          /* circuit events */
#define OUTPOST_F_TO                "to"

/* --- status ----------------------------------------------------------------- */

typedef enum {
    OUTPOST_STATUS_UNKNOWN  = 0,    /* never checked, no credentials, stale,
                                       the agent itself overloaded */
    OUTPOST_STATUS_HEALTHY  = 1,
    OUTPOST_STATUS_DEGRADED = 2,
    OUTPOST_STATUS_DOWN     = 3
} outpost_status_t;

#define OUTPOST_STATUS_COUNT 4

static inline const char *
outpost_status_name(int s)
{
    static const char *const names[OUTPOST_STATUS_COUNT] = {
        "unknown", "healthy", "degraded", "down",
    };
    return s >= 0 && s < OUTPOST_STATUS_COUNT ? names[s] : "unknown";
}

/* -1 when s is not a status name. */
static inline int
outpost_status_parse(const char *s)
{
    for (int i = 0; s && i < OUTPOST_STATUS_COUNT; i++)
        if (strcmp(s, outpost_status_name(i)) == 0)
            return i;
    return -1;
}

/* --- circuit ------------------------------------------------------------------ */

typedef enum {
    OUTPOST_CIRCUIT_CLOSED    = 0,
    OUTPOST_CIRCUIT_OPEN      = 1,
    OUTPOST_CIRCUIT_HALF_OPEN = 2
} outpost_circuit_t;

#define OUTPOST_CIRCUIT_COUNT 3

static inline const char *
outpost_circuit_name(int c)
{
    static const char *const names[OUTPOST_CIRCUIT_COUNT] = {
        "closed", "open", "half_open",
    };
    return c >= 0 && c < OUTPOST_CIRCUIT_COUNT ? names[c] : "closed";
}

/* -1 when s is not a circuit state. */
static inline int
outpost_circuit_parse(const char *s)
{
    for (int i = 0; s && i < OUTPOST_CIRCUIT_COUNT; i++)
        if (strcmp(s, outpost_circuit_name(i)) == 0)
            return i;
    return -1;
}

/* --- one severity scale ---------------------------------------------------------
 *
 * Events carry an outpost_severity_t (record.h). The alert filter's
 * escalation policies speak of priorities; notifiers speak their
 * service's levels. One table maps them all:
 *
 *   severity   priority   PagerDuty   Slack colour   status
 *   critical   critical   critical    #d00000        (down)
 *   error      high       error       #e8590c        down
 *   warning    medium     warning     #f2c744        degraded, unknown
 *   info       low        info        #2eb886        healthy
 *
 * A resolve is always severity info; the alert's priority stays a field.
 */
typedef enum {
    OUTPOST_PRIORITY_CRITICAL = 0,
    OUTPOST_PRIORITY_HIGH     = 1,
    OUTPOST_PRIORITY_MEDIUM   = 2,
    OUTPOST_PRIORITY_LOW      = 3
} outpost_priority_t;

#define OUTPOST_PRIORITY_COUNT 4

static inline const char *
outpost_priority_name(int p)
{
    static const char *const names[OUTPOST_PRIORITY_COUNT] = {
        "critical", "high", "medium", "low",
    };
    return p >= 0 && p < OUTPOST_PRIORITY_COUNT ? names[p] : "low";
}

/* -1 when s is not a priority name. */
static inline int
outpost_priority_parse(const char *s)
{
    for (int i = 0; s && i < OUTPOST_PRIORITY_COUNT; i++)
        if (strcmp(s, outpost_priority_name(i)) == 0)
            return i;
    return -1;
}

static inline outpost_severity_t
outpost_priority_severity(int p)
{
    static const outpost_severity_t sev[OUTPOST_PRIORITY_COUNT] = {
        OUTPOST_SEV_CRITICAL, OUTPOST_SEV_ERROR, OUTPOST_SEV_WARNING,
        OUTPOST_SEV_INFO,
    };
    return p >= 0 && p < OUTPOST_PRIORITY_COUNT ? sev[p] : OUTPOST_SEV_INFO;
}

static inline outpost_priority_t
outpost_severity_priority(outpost_severity_t s)
{
    switch (s) {
    case OUTPOST_SEV_CRITICAL: return OUTPOST_PRIORITY_CRITICAL;
    case OUTPOST_SEV_ERROR:    return OUTPOST_PRIORITY_HIGH;
    case OUTPOST_SEV_WARNING:  return OUTPOST_PRIORITY_MEDIUM;
    default:                   return OUTPOST_PRIORITY_LOW;
    }
}

/* The severity of a change to status s (a state_change event). */
static inline outpost_severity_t
outpost_status_severity(int s)
{
    switch (s) {
    case OUTPOST_STATUS_DOWN:    return OUTPOST_SEV_ERROR;
    case OUTPOST_STATUS_HEALTHY: return OUTPOST_SEV_INFO;
    default:                     return OUTPOST_SEV_WARNING;
    }
}

/* PagerDuty Events API v2 "severity". */
static inline const char *
outpost_severity_pagerduty(outpost_severity_t s)
{
    switch (s) {
    case OUTPOST_SEV_CRITICAL: return "critical";
    case OUTPOST_SEV_ERROR:    return "error";
    case OUTPOST_SEV_WARNING:  return "warning";
    default:                   return "info";
    }
}

/* The colour bar of a Slack attachment (or a Discord embed, as text). */
static inline const char *
outpost_severity_color(outpost_severity_t s)
{
    switch (s) {
    case OUTPOST_SEV_CRITICAL: return "#d00000";
    case OUTPOST_SEV_ERROR:    return "#e8590c";
    case OUTPOST_SEV_WARNING:  return "#f2c744";
    default:                   return "#2eb886";
    }
}

#ifdef __cplusplus
}
#endif
#endif /* OUTPOST_FIELDS_H */
