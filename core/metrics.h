/*
 * metrics.h - GET /metrics: the Prometheus text exposition (format 0.0.4)
 * of every integration and of the agent itself. The families, their types
 * and labels are listed in docs/metrics.md.
 *
 * Two halves:
 *  - the metrics store (metrics_store.c) keeps what the state store does
 *    not: per integration and phase a histogram of response times,
 *    counters of checks and failures, the last certificate expiry, SLA
 *    target and rate-limit headroom; alerts opened per severity and
 *    failovers per group. It is fed by metrics_observe() with every record
 *    that leaves the filter chain.
 *  - the renderer (metrics.c) writes the text into one growing buffer from
 *    copies: the state store's (state.h), the agent's counters
 *    (agent_metrics_snapshot) and the metrics store's atomics. It takes no
 *    pipeline lock, so a scrape never delays a check.
 *
 * Rules:
 *  1. One metrics store per process (like the scheduler's defer target):
 *     metrics_observe() creates it on first use; metrics_store_reset()
 *     empties it (tests, the end of the process).
 *  2. metrics_observe() runs where the state store's tap runs: under the
 *     pipeline lock, on the thread that submitted the records. It takes
 *     the store's own mutex for the hash lookup (uncontended but for a
 *     scrape copying the index) and updates the entry with relaxed atomic
 *     adds and stores; it allocates only when an integration, a failover
 *     group or a rate-limit field is first seen.
 *  3. Entries are never freed while the process runs (an integration
 *     removed by a reload keeps its counters, as Prometheus expects of a
 *     counter), so a renderer may read them after dropping the mutex.
 *  4. metrics_render() may run on any thread, several at once.
 */
#ifndef OUTPOST_METRICS_H
#define OUTPOST_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <outpost/record.h>
#include "metrics_hist.h"
#include "output.h"
#include "scheduler.h"

struct agent;
struct state;

/* --- the buffer ------------------------------------------------------------ */

/* A growing text buffer. On allocation failure `failed` is set and later
 * appends are ignored: check it once at the end. */
struct mbuf {
    char   *p;
    size_t  len, cap;
    int     failed;
};

void mbuf_free(struct mbuf *b);
/* Room for n more bytes; 0 or -1 (and failed set). */
int  mbuf_reserve(struct mbuf *b, size_t n);
void mbuf_add(struct mbuf *b, const char *s, size_t n);
/* The text, NUL-terminated, handed over (the buffer is left empty); NULL
 * when something failed (the text is then freed). */
char *mbuf_take(struct mbuf *b);

/* --- the store --------------------------------------------------------------- */

/* Phases of integration_response_time_seconds, in this order. */
#define METRICS_PHASES 6
extern const char *const metrics_phase_names[METRICS_PHASES];

/* Every record that leaves the chain (rule 2). rec is borrowed. */
void metrics_observe(const outpost_record_t *rec);
void metrics_store_reset(void);

/* --- the agent's own numbers ------------------------------------------------- */

/* What the renderer needs from the running agent, copied by
 * agent_metrics_snapshot() (agent.c) under the agent's runtime lock.
 * Names point into the snapshot's own strings; free it with
 * metrics_agent_free(). */
struct metrics_output {
    char                    *plugin, *name;
    struct output_stats      st;
    struct metrics_hist_snap write;
};

struct metrics_instance {
    char     *plugin, *name;
    uint64_t  errors;
};

struct metrics_agent {
    int                      running;      /* 0: no runtime (stopped) */
    struct scheduler_stats   sched;
    struct metrics_hist_snap lateness;
    struct metrics_output   *outputs;
    size_t                   noutputs;
    struct metrics_instance *instances;
    size_t                   ninstances;
};

void metrics_agent_free(struct metrics_agent *m);

/* --- rendering ----------------------------------------------------------------- */

/* Which phases of integration_response_time_seconds are written: a bit
 * per metrics_phase_names[] index. Each phase is a histogram per
 * integration, so all six make the page about six times the size. */
#define METRICS_PHASE_TOTAL   0x1u
#define METRICS_PHASES_ALL    ((1u << METRICS_PHASES) - 1)

/* "total,ttfb" or "all" into a mask; -1 (and *bad: the name) when a name
 * is not a phase. */
int metrics_parse_phases(const char *list, unsigned *mask, char *bad,
                         size_t badlen);

/* Appends the whole exposition to b. st and am may be NULL (their families
 * are then written with no samples). 0, or -1 when out of memory. */
int metrics_render(struct mbuf *b, struct state *st,
                   const struct metrics_agent *am, unsigned phases);

/* Writes v as Prometheus label-value text (backslash, double quote and
 * line feed escaped), for the tests. */
void metrics_escape(struct mbuf *b, const char *v);

#endif
