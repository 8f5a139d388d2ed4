/*
 * dryrun.c - `outpostd --test [-C FILE] [--filter GLOB]`: every input
 * whose instance name matches GLOB runs once through the filters, and one
 * line per check is printed; nothing is written to an output and nothing
 * under state_dir changes (agent_start_dry).
 *
 * A check is a measurement that carries `success` or `status_hint` (what
 * the health filter judges). Its line, in instance name order:
 *
 *   <integration>  <status>  <ms>  <reason>  [vendor: <verdict>]
 *
 * status is the health filter's verdict when one ran, else a status
 * page's status_hint, else ok / failed;
 * reason the check's `error` (or `reason`); the vendor's verdict is what
 * a status page says (vendor_* fields, or a statuspage input's own).
 * An input that produced no check gets a line saying so. The exit status
 * is 1 when any check failed or was missing, 0 otherwise.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "config.h"
#include "dryrun.h"

struct check {
    char *integration;
    char *line;                /* what follows the name */
    int   failed;
};

struct checks {
    struct check *v;
    size_t        n, cap;
    int           oom;
};

static const char *
field_str(const outpost_record_t *rec, const char *key)
{
    return outpost_field_string(outpost_record_field(rec, key));
}

static void
vendor_verdict(const outpost_record_t *rec, char *buf, size_t len)
{
    const char *st = field_str(rec, "vendor_status");
    const char *desc = field_str(rec, "vendor_description");

    if (st == NULL && strcmp(rec->name, "statuspage") == 0) {
        st = field_str(rec, "indicator");
        desc = field_str(rec, "description");
    }
    buf[0] = '\0';
    if (st || desc)
        snprintf(buf, len, "  vendor: %s%s%s%s", st ? st : "",
                 st && desc ? " (" : "", desc ? desc : "",
                 st && desc ? ")" : "");
}

/* The tap: under the pipeline lock, so calls never overlap. */
static void
on_record(const outpost_record_t *rec, void *arg)
{
    struct checks *cs = arg;
    const outpost_field_t *ok = outpost_record_field(rec, "success");
    const char *integration = outpost_record_tag(rec, "integration");
    const char *status = field_str(rec, "status");
    const char *why = field_str(rec, "error");
    double ms = outpost_record_number(rec, "response_ms", -1);
    int failed = ok != NULL && !outpost_field_number(ok, 1);
    char vendor[512], msbuf[32], *line = NULL;

    if (rec->kind != OUTPOST_MEASUREMENT || integration == NULL
        || (ok == NULL && field_str(rec, "status_hint") == NULL))
        return;
    if (why == NULL)
        why = field_str(rec, "reason");
    if (status == NULL && !failed)
        status = field_str(rec, "status_hint");
    if (status == NULL)
        status = failed ? "failed" : "ok";
    if (ms >= 0)
        snprintf(msbuf, sizeof(msbuf), "%.0f ms", ms);
    else
        snprintf(msbuf, sizeof(msbuf), "-");
    vendor_verdict(rec, vendor, sizeof(vendor));
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? 2 * cs->cap : 16;
        struct check *v = realloc(cs->v, cap * sizeof(*v));

        if (v == NULL) {
            cs->oom = 1;
            return;
        }
        cs->v = v;
        cs->cap = cap;
    }
    if (asprintf(&line, "%-9s %8s%s%s%s", status, msbuf,
                 why && failed ? "  " : "", why && failed ? why : "",
                 vendor) < 0) {
        cs->oom = 1;
        return;
    }
    cs->v[cs->n].integration = strdup(integration);
    cs->v[cs->n].line = line;
    cs->v[cs->n].failed = failed;
    if (cs->v[cs->n].integration == NULL) {
        free(line);
        cs->oom = 1;
        return;
    }
    cs->n++;
}

static int
by_integration(const void *a, const void *b)
{
    const struct check *x = a, *y = b;

    return strcmp(x->integration, y->integration);
}

static int
has_check(const struct checks *cs, const char *name)
{
    for (size_t i = 0; i < cs->n; i++)
        if (strcmp(cs->v[i].integration, name) == 0)
            return 1;
    return 0;
}

/* Prints the checks, then one line for each matched input that made
 * none. Returns the number that failed or were missing. */
static size_t
report(struct checks *cs, const struct config *c, const char *glob,
       FILE *out)
{
    size_t failed = 0, missing = 0;
    int width = 12;

    qsort(cs->v, cs->n, sizeof(*cs->v), by_integration);
    for (size_t i = 0; i < cs->n; i++)
        if ((int) strlen(cs->v[i].integration) > width)
            width = (int) strlen(cs->v[i].integration);
    for (size_t i = 0; i < cs->n; i++) {
        fprintf(out, "%-*s  %s\n", width, cs->v[i].integration,
                cs->v[i].line);
        failed += cs->v[i].failed != 0;
    }
    for (size_t i = 0; i < c->nsections; i++) {
        const struct section *s = &c->sections[i];

        if (s->plugin->kind != OUTPOST_INPUT
            || (glob && fnmatch(glob, s->instance, 0) != 0)
            || has_check(cs, s->instance))
            continue;
        fprintf(out, "%-*s  %-9s %8s  no check result (see the log)\n",
                width, s->instance, "failed", "-");
        missing++;
    }
    fprintf(out, "%zu checks, %zu failed%s\n", cs->n + missing,
            failed + missing, cs->oom ? " (out of memory: some not shown)"
                                      : "");
    return failed + missing;
}

static size_t
count_inputs(const struct config *c, const char *glob)
{
    size_t n = 0;

    for (size_t i = 0; i < c->nsections; i++)
        n += c->sections[i].plugin->kind == OUTPOST_INPUT
             && (glob == NULL || fnmatch(glob, c->sections[i].instance, 0)
                                 == 0);
    return n;
}

int
dryrun_main(const char *config_path, const char *plugin_dir,
            const char *glob)
{
    struct agent_opts o = { .config_path = config_path,
                            .default_plugin_dir = plugin_dir };
    struct checks cs = { 0 };
    struct agent_dry_run dry = { .inputs = glob, .tap = on_record,
                                 .arg = &cs };
    struct diag d = { 0 };
    struct agent *a = agent_new(&o, &d);
    int rc = 1;

    diag_print(&d, stderr);
    diag_free(&d);
    if (a == NULL)
        return 1;
    if (count_inputs(agent_config(a), glob) == 0) {
        fprintf(stderr, "outpostd: no input in %s matches \"%s\"\n",
                config_path, glob ? glob : "*");
    } else if (agent_start_dry(a, &dry) == 0) {
        agent_finish_once(a);
        /* Every thread has stopped: the checks are ours to read. */
        agent_stop(a, 0);
        rc = report(&cs, agent_config(a), glob, stdout) ? 1 : 0;
    }
    agent_free(a);
    for (size_t i = 0; i < cs.n; i++) {
        free(cs.v[i].integration);
        free(cs.v[i].line);
    }
    free(cs.v);
    return rc;
}
