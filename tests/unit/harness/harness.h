/*
 * harness.h - drives filter plugins in-process for unit tests: the real
 * config parser, the real modules from the build's plugin folder, the real
 * pipeline, and a "capture" output that keeps what reaches it. Time is the
 * fake clock (clock_fake_set), so tests walk through hours in microseconds.
 */
#ifndef OUTPOST_TEST_HARNESS_H
#define OUTPOST_TEST_HARNESS_H

#include <stddef.h>
#include <outpost/plugin.h>

struct harness;

/* config: filter sections (and more "capture" outputs if wanted). A
 * capture output is a notifier: it gets only the events routed to it.
 * Two outputs are always there: the capture "all", and "records", an
 * output that records, which gets every record (harness_last reads it).
 * The state_dir is a fresh temporary directory unless state_dir is given
 * (to test restarts). Aborts the test on a config problem. */
struct harness *harness_new(const char *config, const char *state_dir);
/* Shuts the filters down (they save state) and frees everything; the
 * state directory is kept when keep_state, else removed. */
void harness_free(struct harness *h, int keep_state);
const char *harness_state_dir(struct harness *h);

/* A measurement as an input instance named integration would make it:
 * tags integration, category, provider plus "k=v,k=v" extra tags, stamped
 * outpost_time_now(). The caller adds fields and submits it. */
outpost_record_t *harness_measurement(const char *integration,
                                      const char *extra_tags);
/* A plain check result: success, response_ms. */
void harness_check(struct harness *h, const char *integration,
                   const char *extra_tags, int success, double response_ms);
/* Submits rec (ownership taken) and waits until outputs have it. */
void harness_submit(struct harness *h, outpost_record_t *rec);
void harness_tick(struct harness *h);
int  harness_control(struct harness *h, const char *instance,
                     const char *cmd, const char *args, char **reply);

/* What the capture output named name (NULL: "records", which gets every
 * record) received so far. Borrowed; valid until harness_clear or
 * harness_free. */
size_t harness_count(struct harness *h, const char *name);
outpost_record_t *harness_at(struct harness *h, const char *name, size_t i);
/* Events that reached "records", optionally of one kind (0 = any). */
size_t harness_events(struct harness *h, outpost_event_kind_t kind,
                      outpost_record_t **out, size_t max);
void harness_clear(struct harness *h);
/* The latest measurement of integration that reached "records", and a
 * number field of it; either fails the test when it is not there. */
outpost_record_t *harness_last(struct harness *h, const char *integration);
double harness_number(struct harness *h, const char *integration,
                      const char *field);

/* Files in dir whose name contains part (a queue's ".seg" segments). */
size_t harness_count_files(const char *dir, const char *part);

#endif
