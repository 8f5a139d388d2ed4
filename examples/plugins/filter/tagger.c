/*
 * tagger.c - an example filter: adds tags to the records it matches, and
 * marks slow checks.
 *
 *     tagger "team" {
 *       match   = {"category=payments"}
 *       set     = {"team=payments", "oncall=payments-primary"}
 *       slow_ms = 800
 *     }
 *
 * Every record the section's `match` lets through gets the tags of `set`;
 * a measurement whose response_ms is above slow_ms also gets slow=true.
 * Outputs see the tags (the jsonl line's "tags", a Kafka key...), and
 * later filters and outputs can match on them.
 *
 * Threads: process runs on the event-loop thread under the pipeline lock:
 * it must not block, and it does nothing but change the record. The
 * "k=v" pairs are split once, in init; validate refuses a malformed one
 * when the config is read, so `outpostd -t` names its line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <outpost/fields.h>
#include <outpost/plugin.h>

struct tagger_conf {
    outpost_strlist_t set;
    double            slow_ms;
};

static const outpost_option_t tagger_options[] = {
    { .name = "set", .type = OUTPOST_OPT_STRLIST,
      .offset = offsetof(struct tagger_conf, set),
      .help = "tags to add, {\"key=value\", ...}" },
    { .name = "slow_ms", .type = OUTPOST_OPT_FLOAT,
      .offset = offsetof(struct tagger_conf, slow_ms), .def = "0",
      .min = 0, .max = 3600000,
      .help = "tag slow=true when response_ms is above it (0: never)" },
    OUTPOST_OPTION_END
};

/* The pairs of `set`, split: key[i] = value[i]. Owned by the instance. */
struct tagger {
    size_t  n;
    char  **key;
    char  **value;
};

static int
tagger_validate(const void *c, char *err, size_t errlen)
{
    const struct tagger_conf *conf = c;

    for (size_t i = 0; i < conf->set.n; i++) {
        const char *eq = strchr(conf->set.v[i], '=');

        if (eq == NULL || eq == conf->set.v[i]) {
            snprintf(err, errlen, "set: \"%s\" is not key=value",
                     conf->set.v[i]);
            return -1;
        }
    }
    return 0;
}

static void
tagger_free(struct tagger *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->key[i]);          /* value[i] points into the same block */
    }
    free(t->key);
    free(t->value);
    free(t);
}

static int
tagger_init(outpost_instance_t *inst)
{
    const struct tagger_conf *conf = outpost_instance_conf(inst);
    struct tagger *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return -1;
    t->key = calloc(conf->set.n + 1, sizeof(char *));
    t->value = calloc(conf->set.n + 1, sizeof(char *));
    if (t->key == NULL || t->value == NULL) {
        tagger_free(t);
        return -1;
    }
    for (; t->n < conf->set.n; t->n++) {
        char *k = strdup(conf->set.v[t->n]);

        if (k == NULL) {
            tagger_free(t);
            return -1;
        }
        t->key[t->n] = k;
        t->value[t->n] = strchr(k, '=') + 1;     /* validate: it has one */
        t->value[t->n][-1] = '\0';
    }
    outpost_instance_set_data(inst, t);
    return 0;
}

static int
tagger_process(outpost_instance_t *inst, outpost_record_t *rec,
               outpost_emitter_t *out)
{
    const struct tagger_conf *conf = outpost_instance_conf(inst);
    const struct tagger *t = outpost_instance_data(inst);

    (void) out;                   /* this filter makes no records */
    for (size_t i = 0; i < t->n; i++)
        outpost_record_set_tag(rec, t->key[i], t->value[i]);
    if (conf->slow_ms > 0 && rec->kind == OUTPOST_MEASUREMENT
        && outpost_record_number(rec, OUTPOST_F_RESPONSE_MS, 0)
           > conf->slow_ms)
        outpost_record_set_tag(rec, "slow", "true");
    return OUTPOST_PASS;
}

static void
tagger_shutdown(outpost_instance_t *inst)
{
    tagger_free(outpost_instance_data(inst));
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "tagger",
    .description = "adds tags to records, marks slow checks",
    .kind = OUTPOST_FILTER,
    .options = tagger_options,
    .conf_size = sizeof(struct tagger_conf),
    .validate = tagger_validate,
    .init = tagger_init,
    .process = tagger_process,
    .shutdown = tagger_shutdown,
};
