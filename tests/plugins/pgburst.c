/*
 * pgburst.c - an input for the postgres output's end-to-end tests
 * (tests/e2e/test_postgres.py): each run emits `per_run` measurements,
 * `total` in all, then nothing. Measurement k (from 0) is stamped
 * base_us + k microseconds and tagged integration "burst-<k % 10>", so
 * every one is a distinct row of integration_health_log and a test can
 * tell which arrived, and how often. done_file, if set, is created once
 * the last one is emitted.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <outpost/plugin.h>

struct burst_conf {
    int64_t per_run;
    int64_t total;
    int64_t base_us;
    char   *done_file;
};

static const outpost_option_t burst_options[] = {
    { .name = "per_run", .type = OUTPOST_OPT_INT,
      .offset = offsetof(struct burst_conf, per_run), .def = "100",
      .min = 1, .max = 1e6, .help = "measurements per run" },
    { .name = "total", .type = OUTPOST_OPT_INT,
      .offset = offsetof(struct burst_conf, total), .def = "1000",
      .min = 1, .max = 1e9, .help = "measurements in all" },
    { .name = "base_us", .type = OUTPOST_OPT_INT,
      .offset = offsetof(struct burst_conf, base_us),
      .def = "1796644800000000", .min = 0, .max = 4e15,
      .help = "time of the first measurement, Unix microseconds" },
    { .name = "done_file", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct burst_conf, done_file),
      .help = "created once the last measurement is emitted" },
    OUTPOST_OPTION_END
};

static int
burst_init(outpost_instance_t *inst)
{
    int64_t *next = calloc(1, sizeof(*next));

    if (next == NULL)
        return -1;
    outpost_instance_set_data(inst, next);
    return 0;
}

static int
burst_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    const struct burst_conf *c = outpost_instance_conf(inst);
    int64_t *next = outpost_instance_data(inst);

    for (int64_t i = 0; i < c->per_run && *next < c->total; i++, (*next)++) {
        outpost_record_t *r = outpost_run_measurement(run);
        char integration[32];

        if (r == NULL)
            break;
        snprintf(integration, sizeof(integration), "burst-%d",
                 (int) (*next % 10));
        r->ts_ns = (c->base_us + *next) * 1000;
        outpost_record_set_tag(r, "integration", integration);
        outpost_record_add_bool(r, "success", 1);
        outpost_record_add_float(r, "response_ms", (double) (*next % 500));
        outpost_record_add_int(r, "seq", *next);
        outpost_run_emit(run, r);
        if (*next + 1 == c->total && c->done_file) {
            FILE *f = fopen(c->done_file, "w");
            if (f)
                fclose(f);
        }
    }
    return OUTPOST_RUN_DONE;
}

static void
burst_shutdown(outpost_instance_t *inst)
{
    free(outpost_instance_data(inst));
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "pgburst",
    .description = "emits numbered measurements, for the postgres tests",
    .kind = OUTPOST_INPUT,
    .options = burst_options,
    .conf_size = sizeof(struct burst_conf),
    .init = burst_init,
    .collect = burst_collect,
    .shutdown = burst_shutdown,
};
