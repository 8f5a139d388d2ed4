/*
 * failover.c - the `failover` filter. For every failover group (inputs
 * sharing a failover_group tag) it decides which provider should take the
 * traffic (group.h has the rules), reports each change as a failover
 * event, answers control("status") with every group's decision, and keeps
 * the decisions in its state directory so a restart does not move traffic.
 *
 * It reads what the filters before it added: status, health_score and
 * circuit on measurements, and circuit / state_change events (a circuit
 * that half-opens on a timer changes a member without a check). Without
 * those filters it falls back to the check's success field.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "group.h"
#include "lookup.h"
#include "statefile.h"
#include "store.h"
#include "strmap.h"

#define STATE_FILE     "decisions.json"
#define STATE_LAYOUT   1
#define SAVE_EVERY_NS  (10 * 1000000000LL)  /* streaks only */

struct failover_conf {
    char    *strategy;
    int64_t  failover_after;
    int64_t  failback_after;
    int64_t  failback_hold_ms;
    int      avoid_degraded;
    double   half_open_weight;
    double   weight_change;
};

#define OFF(f) offsetof(struct failover_conf, f)
static const outpost_option_t failover_options[] = {
    { .name = "strategy", .type = OUTPOST_OPT_ENUM, .offset = OFF(strategy),
      .def = "primary_secondary", .choices = "primary_secondary|weighted",
      .help = "primary_secondary: all traffic to the first usable provider "
              "by priority; weighted: shares proportional to weight x "
              "health_score" },
    { .name = "failover_after", .type = OUTPOST_OPT_INT,
      .offset = OFF(failover_after), .def = "3", .min = 1, .max = 1e6,
      .help = "checks in a row a provider must be down before traffic "
              "leaves it (an open circuit moves it at once)" },
    { .name = "failback_after", .type = OUTPOST_OPT_INT,
      .offset = OFF(failback_after), .def = "3", .min = 1, .max = 1e6,
      .help = "healthy checks in a row before a provider that failed gets "
              "traffic again" },
    { .name = "failback_hold", .type = OUTPOST_OPT_DURATION,
      .offset = OFF(failback_hold_ms), .def = "0s", .min = 0,
      .max = 86400000.0 * 7,
      .help = "and it must have been healthy at least this long" },
    { .name = "avoid_degraded", .type = OUTPOST_OPT_BOOL,
      .offset = OFF(avoid_degraded), .def = "false",
      .help = "treat a degraded (slow) provider as unavailable" },
    { .name = "half_open_weight", .type = OUTPOST_OPT_FLOAT,
      .offset = OFF(half_open_weight), .def = "0", .min = 0, .max = 1,
      .help = "weighted: fraction of its weight a half-open provider keeps "
              "(0: no traffic until its circuit closes)" },
    { .name = "weight_change", .type = OUTPOST_OPT_FLOAT,
      .offset = OFF(weight_change), .def = "0.05", .min = 0, .max = 1,
      .help = "weighted: report new shares once one moves more than this" },
    OUTPOST_OPTION_END
};

/* Field and tag keys read from every check, interned once (lookup.h). */
struct fo_keys {
    const char *failover_group, *integration, *priority, *weight;
    const char *status, *success, *health_score, *circuit;
};

struct failover {
    struct fo_params  p;
    struct fo_keys    k;
    struct strmap     groups;      /* group name -> struct fo_group * */
    int               urgent;      /* a decision changed: save next tick */
    int               dirty;       /* member state changed since saving */
    int64_t           saved_ns;
    struct statefile *state;       /* decisions.json */
};

/* --- state -------------------------------------------------------------- */

struct group_list {
    struct fo_group **v;
    size_t            n;
};

static void
collect_group(void *value, void *arg)
{
    struct group_list *l = arg;

    l->v[l->n++] = value;
}

static int
by_name(const void *a, const void *b)
{
    const struct fo_group *x = *(struct fo_group *const *) a;
    const struct fo_group *y = *(struct fo_group *const *) b;

    return strcmp(x->name, y->name);
}

/* Appends the groups as a JSON array sorted by name (only the one named
 * only, when only is not NULL). */
static void
groups_write(struct failover *fo, struct fo_text *t, const char *only)
{
    struct group_list l = { calloc(fo->groups.n + 1, sizeof(*l.v)), 0 };
    int first = 1;

    if (l.v == NULL) {
        t->failed = 1;
        return;
    }
    strmap_each(&fo->groups, collect_group, &l);
    qsort(l.v, l.n, sizeof(*l.v), by_name);
    fo_text_printf(t, "[");
    for (size_t i = 0; i < l.n; i++) {
        if (only && strcmp(l.v[i]->name, only) != 0)
            continue;
        if (!first)
            fo_text_printf(t, ",");
        fo_group_write(t, &fo->p, l.v[i]);
        first = 0;
    }
    fo_text_printf(t, "]");
    free(l.v);
}

/*
 * The state file, in statefile.h's format: one entry per group, its
 * state what control("status") shows of it (store.h). Tick writes the
 * text (cheaper than building jansson objects) into the snapshot; the
 * state file's thread writes it to disk. A version 1 file (one document,
 * {"version":1,"groups":[...]}) is still read.
 */
struct save_ctx {
    struct failover       *fo;
    struct statefile_snap *snap;
    struct fo_text         t;
};

static void
save_group(void *value, void *arg)
{
    struct save_ctx *c = arg;
    const struct fo_group *g = value;

    c->t.len = 0;
    fo_group_write(&c->t, &c->fo->p, g);
    if (!c->t.failed)
        statefile_snap_text(c->snap, g->name, c->t.s, c->t.len);
}

static struct statefile_snap *
snapshot(outpost_instance_t *inst, struct failover *fo)
{
    struct save_ctx c = { fo, statefile_snap_new(fo->state), { 0 } };

    if (c.snap)
        strmap_each(&fo->groups, save_group, &c);
    if (c.t.failed) {
        outpost_log(inst, OUTPOST_LOG_WARN, "save",
                    "cannot save decisions: out of memory");
        statefile_snap_free(c.snap);
        c.snap = NULL;
    }
    free(c.t.s);
    fo->urgent = fo->dirty = 0;
    fo->saved_ns = outpost_time_now();
    return c.snap;
}

static void
save(outpost_instance_t *inst, struct failover *fo)
{
    statefile_submit(fo->state, snapshot(inst, fo));
}

static int
restore_group(const json_t *o, struct failover *fo)
{
    struct fo_group *g = fo_group_from_json(o);

    if (g == NULL)                  /* not a group: skipped, as before */
        return 0;
    if (strmap_put(&fo->groups, g->name, g) != 0)
        fo_group_free(g);
    return 0;
}

static int
restore_entry(const struct statefile_entry *e, void *arg)
{
    return e->state ? restore_group(e->state, arg) : -1;
}

static int
restore_legacy(const json_t *doc, void *arg)
{
    const json_t *o;
    size_t i;

    json_array_foreach(json_object_get(doc, "groups"), i, o)
        restore_group(o, arg);
    return 0;
}

static void
restore(outpost_instance_t *inst, struct failover *fo)
{
    struct statefile_reader r = {
        .entry = restore_entry, .legacy = restore_legacy, .arg = fo,
        .check_first = 1,
    };

    fo->state = statefile_for(inst, STATE_FILE, STATE_LAYOUT);
    statefile_restore(fo->state, &r);
}

/* --- observations ------------------------------------------------------- */

static struct fo_group *
group_get(struct failover *fo, const char *name)
{
    struct fo_group *g = strmap_get(&fo->groups, name);

    if (g != NULL)
        return g;
    g = fo_group_new(name);
    if (g && strmap_put(&fo->groups, g->name, g) != 0) {
        fo_group_free(g);
        g = NULL;
    }
    return g;
}

/* The member rec is about (group gname, integration integ) and its group.
 * Records of one input share a tag set, and a member holds a reference
 * to the tag set of its latest record: a member of the hinted group that
 * has rec's tag set is the one, found without hashing or comparing
 * names. */
static struct fo_member *
member_of(struct failover *fo, outpost_record_t *rec, const char *gname,
          const char *integ, struct fo_group **gp)
{
    struct fo_group *g = strmap_hint_get(&fo->groups, rec->tags);
    struct fo_member *m;

    for (size_t i = 0; g != NULL && i < g->n; i++)
        if (g->members[i].tags == rec->tags) {
            *gp = g;
            return &g->members[i];
        }
    g = group_get(fo, gname);
    m = g ? fo_group_member(g, integ) : NULL;
    if (m == NULL)
        return NULL;
    if (m->tags != rec->tags) {
        outpost_tagset_unref(m->tags);
        m->tags = outpost_tagset_ref(rec->tags);
    }
    strmap_hint_put(&fo->groups, rec->tags, g);
    *gp = g;
    return m;
}

static double
default_score(enum fo_status s)
{
    return s == FO_HEALTHY ? 1.0 : s == FO_DEGRADED ? 0.5 : 0.0;
}

static void
observe_check(struct failover *fo, struct fo_member *m,
              const outpost_record_t *rec, int64_t now)
{
    const struct fo_keys *k = &fo->k;
    const char *status = lookup_str(rec, k->status);
    const char *prio = lookup_tag(rec, k->priority);
    const char *weight = lookup_tag(rec, k->weight);

    m->priority = prio ? strtoll(prio, NULL, 10) : 0;
    m->weight = weight ? strtod(weight, NULL) : 1.0;
    if (status)
        m->status = fo_status_parse(status);
    else
        m->status = lookup_num(rec, k->success, 0) != 0 ? FO_HEALTHY
                                                         : FO_DOWN;
    m->score = lookup_num(rec, k->health_score, default_score(m->status));
    m->circuit = fo_circuit_parse(lookup_str(rec, k->circuit));
    fo_member_observe(&fo->p, m, now);
}

/* A circuit or state change between checks (a circuit half-opening on
 * its timer, a check going stale). The same change arriving right after
 * the check that caused it is already known and not counted twice. It
 * counts towards taking a member out, but only checks earn trust back. */
static void
observe_event(struct failover *fo, struct fo_member *m,
              const outpost_record_t *rec, int64_t now)
{
    enum fo_circuit circuit = m->circuit;
    enum fo_status status = m->status;
    const char *to;

    if (rec->event_kind == OUTPOST_EV_CIRCUIT) {
        to = outpost_record_string(rec, OUTPOST_F_TO);
        if (to)
            circuit = fo_circuit_parse(to);
    } else {
        to = outpost_record_string(rec, "to_status");
        if (to)
            status = fo_status_parse(to);
    }
    if (circuit == m->circuit && status == m->status)
        return;
    m->circuit = circuit;
    m->status = status;
    if (!fo_member_eligible(&fo->p, m) || !fo_member_status_ok(&fo->p, m))
        fo_member_observe(&fo->p, m, now);
}

/* --- events ------------------------------------------------------------- */

static const char *
member_name(const struct fo_group *g, int i)
{
    return i >= 0 ? g->members[i].name : "none";
}

static outpost_severity_t
severity_of(const struct failover *fo, const struct fo_group *g,
            enum fo_change change)
{
    if (g->active < 0)
        return OUTPOST_SEV_CRITICAL;
    if (change == FO_SWITCHED && g->previous >= 0
        && !fo_member_eligible(&fo->p, &g->members[g->previous]))
        return OUTPOST_SEV_WARNING;
    return OUTPOST_SEV_INFO;
}

static void
describe(const struct fo_group *g, enum fo_change change, char *msg,
         size_t len)
{
    size_t off;

    if (change == FO_SWITCHED && g->previous < 0) {
        snprintf(msg, len, "%s: routing to %s (%s)", g->name,
                 member_name(g, g->active), g->reason);
        return;
    }
    if (change == FO_SWITCHED) {
        snprintf(msg, len, "%s: %s -> %s (%s)", g->name,
                 member_name(g, g->previous), member_name(g, g->active),
                 g->reason);
        return;
    }
    off = (size_t) snprintf(msg, len, "%s: shares", g->name);
    for (size_t i = 0; i < g->n && off < len; i++)
        off += (size_t) snprintf(msg + off, len - off, "%s %s %.2f",
                                 i ? "," : "", g->members[i].name,
                                 g->members[i].share);
}

/* Events about a group carry the tags of the record that triggered the
 * decision (so integration names the provider whose check moved it). */
static void
copy_tags(outpost_record_t *ev, const outpost_record_t *from)
{
    for (size_t i = 0; i < outpost_tagset_count(from->tags); i++) {
        const outpost_tag_t *t = outpost_tagset_at(from->tags, i);
        outpost_record_set_tag(ev, t->key, t->value);
    }
}

static void
report(struct failover *fo, const struct fo_group *g, enum fo_change change,
       outpost_record_t *trigger, outpost_emitter_t *out)
{
    outpost_record_t *cause = trigger->kind == OUTPOST_MEASUREMENT ? trigger
                                                                   : NULL;
    outpost_record_t *ev;
    char msg[512], key[256], field[256];

    describe(g, change, msg, sizeof(msg));
    snprintf(key, sizeof(key), "outpost/failover/%s", g->name);
    ev = outpost_event_new(OUTPOST_EV_FAILOVER, severity_of(fo, g, change),
                           cause, msg, key);
    if (ev == NULL)
        return;
    if (cause == NULL)
        copy_tags(ev, trigger);
    outpost_record_set_tag(ev, OUTPOST_TAG_FAILOVER_GROUP, g->name);
    outpost_record_add_str(ev, "group", g->name);
    outpost_record_add_str(ev, "active", g->active >= 0
                           ? g->members[g->active].name : "");
    outpost_record_add_str(ev, "previous", g->previous >= 0
                           ? g->members[g->previous].name : "");
    outpost_record_add_str(ev, "strategy", fo_strategy_name(fo->p.strategy));
    outpost_record_add_str(ev, "change",
                           change == FO_SWITCHED ? "switch" : "weights");
    outpost_record_add_str(ev, OUTPOST_F_REASON, g->reason);
    for (size_t i = 0; i < g->n; i++) {
        snprintf(field, sizeof(field), "weight.%s", g->members[i].name);
        outpost_record_add_float(ev, field, g->members[i].share);
    }
    outpost_emit(out, ev);
}

/* --- callbacks ---------------------------------------------------------- */

/* Did the observation change what a restart must know? A healthy member's
 * growing streak (or a moving health_score) does not, so a steady fleet
 * does not rewrite its state file every SAVE_EVERY_NS. */
static int
worth_saving(const struct fo_member *a, const struct fo_member *b)
{
    return a->status != b->status || a->circuit != b->circuit
           || a->usable != b->usable || a->seen_bad != b->seen_bad
           || a->bad_streak != b->bad_streak
           || a->priority != b->priority || a->weight != b->weight
           || (!b->usable && a->ok_streak != b->ok_streak);
}

struct log_ctx {
    outpost_instance_t *inst;
};

/* One line per group restored from state: where its traffic goes now. */
static void
log_active(void *value, void *arg)
{
    const struct fo_group *g = value;
    const struct log_ctx *lc = arg;

    if (g->decided)
        outpost_log(lc->inst, OUTPOST_LOG_INFO, "start",
                    "%s: routing to %s (as when the agent stopped)",
                    g->name, member_name(g, g->active));
}

static int
failover_init(outpost_instance_t *inst)
{
    struct failover_conf *conf = outpost_instance_conf(inst);
    struct failover *fo = calloc(1, sizeof(*fo));

    if (fo == NULL)
        return -1;
    fo->k = (struct fo_keys) {
        outpost_intern(OUTPOST_TAG_FAILOVER_GROUP), outpost_intern(OUTPOST_TAG_INTEGRATION),
        outpost_intern(OUTPOST_F_PRIORITY), outpost_intern(OUTPOST_TAG_WEIGHT),
        outpost_intern(OUTPOST_F_STATUS), outpost_intern(OUTPOST_F_SUCCESS),
        outpost_intern(OUTPOST_F_HEALTH_SCORE), outpost_intern(OUTPOST_F_CIRCUIT),
    };
    fo->p.strategy = strcmp(conf->strategy, "weighted") == 0
                     ? FO_WEIGHTED : FO_PRIMARY_SECONDARY;
    fo->p.failover_after = conf->failover_after;
    fo->p.failback_after = conf->failback_after;
    fo->p.failback_hold_ns = conf->failback_hold_ms * 1000000LL;
    fo->p.avoid_degraded = conf->avoid_degraded;
    fo->p.half_open_weight = conf->half_open_weight;
    fo->p.weight_change = conf->weight_change;
    restore(inst, fo);
    strmap_each(&fo->groups, log_active, &(struct log_ctx) { inst });
    fo->saved_ns = outpost_time_now();
    outpost_instance_set_data(inst, fo);
    return 0;
}

static int
failover_process(outpost_instance_t *inst, outpost_record_t *rec,
                 outpost_emitter_t *out)
{
    struct failover *fo = outpost_instance_data(inst);
    const char *gname = lookup_tag(rec, fo->k.failover_group);
    const char *integ = lookup_tag(rec, fo->k.integration);
    int64_t now = outpost_time_now();
    struct fo_group *g;
    struct fo_member *m, before;
    enum fo_change change;

    if (gname == NULL || integ == NULL)
        return OUTPOST_PASS;
    if (rec->kind == OUTPOST_EVENT && rec->event_kind != OUTPOST_EV_CIRCUIT
        && rec->event_kind != OUTPOST_EV_STATE_CHANGE)
        return OUTPOST_PASS;
    if ((m = member_of(fo, rec, gname, integ, &g)) == NULL)
        return OUTPOST_PASS;
    before = *m;
    if (rec->kind == OUTPOST_MEASUREMENT)
        observe_check(fo, m, rec, now);
    else
        observe_event(fo, m, rec, now);
    if (worth_saving(&before, m))
        fo->dirty = 1;
    change = fo_group_decide(&fo->p, g, now);
    if (change != FO_NO_CHANGE) {
        report(fo, g, change, rec, out);
        fo->urgent = 1;
    }
    /* Where the group's traffic goes, on the check itself: the alert of
     * the integration that lost it can say so, in the same message. */
    if (rec->kind == OUTPOST_MEASUREMENT && g->decided)
        outpost_record_add_str(rec, OUTPOST_F_FAILOVER_ACTIVE, g->active >= 0
                               ? g->members[g->active].name : "");
    return OUTPOST_PASS;
}

static void
failover_tick(outpost_instance_t *inst, outpost_emitter_t *out)
{
    struct failover *fo = outpost_instance_data(inst);

    (void) out;
    /* Saving here, not per record, bounds the cost of an outage that
     * moves thousands of groups at once to one write a second. */
    if (fo->urgent
        || (fo->dirty && outpost_time_now() - fo->saved_ns >= SAVE_EVERY_NS))
        save(inst, fo);
}

struct sizes {
    size_t members, bytes;
};

static void
add_size(void *value, void *arg)
{
    const struct fo_group *g = value;
    struct sizes *z = arg;

    z->members += g->n;
    z->bytes += sizeof(*g) + strlen(g->name) + 1
                + g->cap * sizeof(g->members[0]);
    for (size_t i = 0; i < g->n; i++)
        z->bytes += strlen(g->members[i].name) + 1;
}

/* control("stats") -> {"groups":..,"members":..,"state_bytes":..}: what
 * the tables hold, for bench/decide. */
static int
stats(struct failover *fo, char **reply)
{
    struct sizes z = { 0, fo->groups.cap * sizeof(fo->groups.slots[0]) };

    strmap_each(&fo->groups, add_size, &z);
    if (asprintf(reply, "{\"groups\":%zu,\"members\":%zu,"
                 "\"state_bytes\":%zu}", fo->groups.n, z.members,
                 z.bytes) < 0) {
        *reply = NULL;
        return -1;
    }
    return 0;
}

/* control("status", {"group": optional}) -> {"groups":[...]};
 * control("stats"). */
static int
failover_control(outpost_instance_t *inst, const char *cmd,
                 const char *args, outpost_emitter_t *out, char **reply)
{
    struct failover *fo = outpost_instance_data(inst);
    json_t *a;
    struct fo_text t = { 0 };

    (void) out;
    if (strcmp(cmd, "stats") == 0)
        return stats(fo, reply);
    if (strcmp(cmd, "status") != 0) {
        *reply = strdup("unknown command (failover knows: status, stats)");
        return -1;
    }
    a = json_loads(args ? args : "{}", 0, NULL);
    fo_text_printf(&t, "{\"groups\":");
    groups_write(fo, &t, json_string_value(json_object_get(a, "group")));
    fo_text_printf(&t, "}");
    json_decref(a);
    if (t.failed) {
        free(t.s);
        *reply = strdup("out of memory");
        return -1;
    }
    *reply = t.s;
    return 0;
}

static void
free_group(void *value, void *arg)
{
    (void) arg;
    fo_group_free(value);
}

static void
failover_shutdown(outpost_instance_t *inst)
{
    struct failover *fo = outpost_instance_data(inst);

    if (fo == NULL)
        return;
    statefile_close(fo->state, fo->dirty ? snapshot(inst, fo) : NULL);
    strmap_each(&fo->groups, free_group, NULL);
    strmap_free(&fo->groups);
    free(fo);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "failover",
    .description = "choose the provider of each failover group that takes "
                   "the traffic, and report every change",
    .kind = OUTPOST_FILTER,
    .options = failover_options,
    .conf_size = sizeof(struct failover_conf),
    .init = failover_init,
    .process = failover_process,
    .tick = failover_tick,
    .control = failover_control,
    .shutdown = failover_shutdown,
};
