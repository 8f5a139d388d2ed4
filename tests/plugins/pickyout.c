/*
 * pickyout.c - an output for the delivery tests: writes records as JSON
 * lines like jsonl, but refuses for good (outpost_batch_reject) every
 * record whose integration is listed in `reject`, and has its own default
 * for a common option (flush_interval = 50ms).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/plugin.h>

struct picky_conf {
    char              *path;
    outpost_strlist_t  reject;
};

static const outpost_option_t picky_options[] = {
    { .name = "path", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct picky_conf, path),
      .flags = OUTPOST_OPT_REQUIRED, .help = "file to append to" },
    { .name = "reject", .type = OUTPOST_OPT_STRLIST,
      .offset = offsetof(struct picky_conf, reject),
      .help = "integrations whose records are refused" },
    OUTPOST_OPTION_END
};

static const outpost_default_t picky_defaults[] = {
    { "flush_interval", "50ms" },
    OUTPOST_DEFAULT_END
};

static int
refused(const struct picky_conf *c, const outpost_record_t *rec)
{
    const char *integ = outpost_record_tag(rec, "integration");

    for (size_t i = 0; integ && i < c->reject.n; i++)
        if (strcmp(c->reject.v[i], integ) == 0)
            return 1;
    return 0;
}

static outpost_result_t
picky_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    struct picky_conf *c = outpost_instance_conf(inst);
    FILE *fp = fopen(c->path, "a");

    if (fp == NULL)
        return OUTPOST_RETRY;
    for (size_t i = 0; i < b->n; i++) {
        char *line;
        size_t len;

        if (refused(c, b->records[i])) {
            outpost_batch_reject(b, i, "integration is refused here");
            continue;
        }
        if (outpost_record_to_json(b->records[i], &line, &len) == 0) {
            fprintf(fp, "%s\n", line);
            free(line);
        }
    }
    return fclose(fp) == 0 ? OUTPOST_OK : OUTPOST_RETRY;
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "pickyout",
    .description = "JSON lines, refusing some integrations (tests)",
    .kind = OUTPOST_OUTPUT,
    .options = picky_options,
    .conf_size = sizeof(struct picky_conf),
    .write = picky_write,
    .output_defaults = picky_defaults,
};
