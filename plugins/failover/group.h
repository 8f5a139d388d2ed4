/*
 * group.h - failover groups and the decision of which provider gets the
 * traffic. Pure logic: no records, no I/O, time passed in, so every rule
 * here can be tested by feeding observations.
 *
 * A member is an integration with a failover_group tag. Each observation
 * (a check, a circuit or state change) updates one member; the group is
 * then decided again. Two notions per member:
 *   eligible  right now it may take traffic: circuit not open (nor
 *             half-open, unless half_open_weight > 0 in weighted mode),
 *             and status healthy (or degraded, unless avoid_degraded) -
 *             or a bad status seen fewer than failover_after times in a
 *             row: one failed check does not move the traffic, an open
 *             circuit does at once;
 *   usable    eligible and trusted again: a member that has been
 *             ineligible must stay eligible for failback_after
 *             observations and failback_hold before it is usable. This is
 *             the hysteresis that stops traffic flapping back to a
 *             provider that just recovered. A member never seen failing is
 *             usable at once.
 * Decisions prefer usable members; only when none is usable do they fall
 * back to merely eligible ones (traffic to a recovering provider beats
 * traffic to nobody).
 */
#ifndef OUTPOST_FAILOVER_GROUP_H
#define OUTPOST_FAILOVER_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include <outpost/fields.h>
#include <outpost/record.h>

enum fo_strategy { FO_PRIMARY_SECONDARY, FO_WEIGHTED };
/* The shared scales of outpost/fields.h, under this filter's names. */
enum fo_status   {
    FO_UNKNOWN = OUTPOST_STATUS_UNKNOWN, FO_HEALTHY = OUTPOST_STATUS_HEALTHY,
    FO_DEGRADED = OUTPOST_STATUS_DEGRADED, FO_DOWN = OUTPOST_STATUS_DOWN
};
enum fo_circuit  {
    FO_CLOSED = OUTPOST_CIRCUIT_CLOSED, FO_OPEN = OUTPOST_CIRCUIT_OPEN,
    FO_HALF_OPEN = OUTPOST_CIRCUIT_HALF_OPEN
};

struct fo_params {
    enum fo_strategy strategy;
    int64_t          failover_after;    /* bad observations in a row */
    int64_t          failback_after;    /* good observations in a row */
    int64_t          failback_hold_ns;
    int              avoid_degraded;
    double           half_open_weight;  /* weighted: factor, 0 = none */
    double           weight_change;     /* report shares that move more */
};

struct fo_member {
    char            *name;          /* the integration; owned */
    outpost_tagset_t *tags;         /* of its latest check, referenced, or
                                       NULL (failover.c finds the member
                                       of a record by it) */
    int64_t          priority;      /* lower first */
    double           weight;        /* configured share */
    enum fo_status   status;
    double           score;         /* health_score, 0..1 */
    enum fo_circuit  circuit;
    int              seen_bad;      /* has been ineligible at least once */
    int              usable;
    int64_t          bad_streak;    /* bad-status observations in a row */
    int64_t          ok_streak;     /* good observations in a row */
    int64_t          ok_since_ns;   /* time of the first of them */
    double           share;         /* decided share of traffic */
    double           reported;      /* share in the last failover event */
};

struct fo_group {
    char             *name;         /* owned */
    struct fo_member *members;
    size_t            n, cap;
    int               active;       /* member index, -1: none */
    int               previous;     /* member index, -1: none */
    int               decided;      /* a decision was ever reported */
    int64_t           since_ns;     /* when active last changed */
    char              reason[160];  /* why active last changed */
};

/* What decide() found, for the event. */
enum fo_change {
    FO_NO_CHANGE = 0,
    FO_SWITCHED,                    /* the active provider changed */
    FO_REWEIGHTED                   /* only shares moved */
};

struct fo_group  *fo_group_new(const char *name);
void              fo_group_free(struct fo_group *g);
/* The member named name, added (with defaults) if new; NULL on ENOMEM. */
struct fo_member *fo_group_member(struct fo_group *g, const char *name);
int               fo_group_index(const struct fo_group *g,
                                 const struct fo_member *m);

int  fo_member_eligible(const struct fo_params *p, const struct fo_member *m);
/* Is m's status one that serves (healthy, or degraded if allowed)? */
int  fo_member_status_ok(const struct fo_params *p, const struct fo_member *m);
/* Records that m was just observed (its fields already updated) at now:
 * advances or resets its streaks and usable flag. */
void fo_member_observe(const struct fo_params *p, struct fo_member *m,
                       int64_t now_ns);

/* Decides again. On a change, updates active/previous/since/reason and the
 * reported shares. */
enum fo_change fo_group_decide(const struct fo_params *p, struct fo_group *g,
                               int64_t now_ns);

const char *fo_status_name(enum fo_status s);
enum fo_status fo_status_parse(const char *s);
const char *fo_circuit_name(enum fo_circuit c);
enum fo_circuit fo_circuit_parse(const char *s);
const char *fo_strategy_name(enum fo_strategy s);

#endif
