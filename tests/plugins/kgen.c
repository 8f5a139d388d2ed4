/*
 * kgen.c - a test input for the kafka output's tests: each run emits
 * `count` measurements named "kgen", with the instance's tags, a field seq
 * that counts up across runs from 0, and ts_ns = the run's start + seq
 * (unique per integration). Every `pad_every`-th record (seq a multiple
 * of it, when pad_bytes > 0) carries a string field pad of pad_bytes
 * bytes, to make a message too large for the broker. With limit > 0 an
 * instance stops after that many records in all.
 */
#include <stdlib.h>
#include <string.h>
#include <outpost/plugin.h>

struct kgen_conf {
    int64_t count;
    int64_t pad_bytes;
    int64_t pad_every;
    int64_t limit;
};

static const outpost_option_t kgen_options[] = {
    { .name = "count", .type = OUTPOST_OPT_INT,
      .offset = offsetof(struct kgen_conf, count), .def = "10",
      .min = 1, .max = 1000000, .help = "measurements per run" },
    { .name = "pad_bytes", .type = OUTPOST_OPT_INT,
      .offset = offsetof(struct kgen_conf, pad_bytes), .def = "0",
      .min = 0, .max = 100000000, .help = "size of the pad field" },
    { .name = "pad_every", .type = OUTPOST_OPT_INT,
      .offset = offsetof(struct kgen_conf, pad_every), .def = "1",
      .min = 1, .max = 1000000, .help = "which records get it" },
    { .name = "limit", .type = OUTPOST_OPT_INT,
      .offset = offsetof(struct kgen_conf, limit), .def = "0",
      .min = 0, .max = 1000000000, .help = "records in all; 0: no end" },
    OUTPOST_OPTION_END
};

struct kgen_state {
    int64_t seq;
    char   *pad;
};

static int
kgen_init(outpost_instance_t *inst)
{
    struct kgen_conf *conf = outpost_instance_conf(inst);
    struct kgen_state *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return -1;
    if (conf->pad_bytes > 0) {
        st->pad = malloc((size_t) conf->pad_bytes + 1);
        if (st->pad == NULL) {
            free(st);
            return -1;
        }
        memset(st->pad, 'x', (size_t) conf->pad_bytes);
        st->pad[conf->pad_bytes] = '\0';
    }
    outpost_instance_set_data(inst, st);
    return 0;
}

static int
kgen_collect(outpost_instance_t *inst, outpost_run_t *run)
{
    struct kgen_conf *conf = outpost_instance_conf(inst);
    struct kgen_state *st = outpost_instance_data(inst);

    for (int64_t i = 0; i < conf->count; i++) {
        if (conf->limit > 0 && st->seq >= conf->limit)
            break;
        outpost_record_t *rec = outpost_run_measurement(run);

        if (rec == NULL)
            break;
        rec->ts_ns += st->seq;      /* still ours: not emitted yet */
        outpost_record_add_int(rec, "seq", st->seq);
        outpost_record_add_float(rec, "value", (double) st->seq / 4);
        if (st->pad && st->seq % conf->pad_every == 0)
            outpost_record_add_str(rec, "pad", st->pad);
        st->seq++;
        outpost_run_emit(run, rec);
    }
    return OUTPOST_RUN_DONE;
}

static void
kgen_shutdown(outpost_instance_t *inst)
{
    struct kgen_state *st = outpost_instance_data(inst);

    if (st) {
        free(st->pad);
        free(st);
    }
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "kgen",
    .description = "test input: numbered measurements for the kafka tests",
    .kind = OUTPOST_INPUT,
    .options = kgen_options,
    .conf_size = sizeof(struct kgen_conf),
    .init = kgen_init,
    .collect = kgen_collect,
    .shutdown = kgen_shutdown,
};
