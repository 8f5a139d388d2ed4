/*
 * jsonl.c - the `jsonl` output: one JSON object per measurement or event,
 * one per line, appended to a file or written to stdout ("-").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/plugin.h>

struct jsonl_conf {
    char *path;
};

static const outpost_option_t jsonl_options[] = {
    { .name = "path", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct jsonl_conf, path), .def = "-",
      .flags = OUTPOST_OPT_PATH,
      .help = "file to append to; \"-\" for standard output" },
    OUTPOST_OPTION_END
};

struct jsonl_state {
    FILE *fp;
    int   is_stdout;
};

static int
open_out(outpost_instance_t *inst, struct jsonl_state *st)
{
    struct jsonl_conf *conf = outpost_instance_conf(inst);

    if (st->fp)
        return 0;
    if (strcmp(conf->path, "-") == 0) {
        st->fp = stdout;
        st->is_stdout = 1;
        return 0;
    }
    st->fp = fopen(conf->path, "a");
    if (st->fp == NULL) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "open", "cannot open %s: %s",
                    conf->path, strerror(errno));
        return -1;
    }
    return 0;
}

static void
close_out(struct jsonl_state *st)
{
    if (st->fp && !st->is_stdout)
        fclose(st->fp);
    st->fp = NULL;
}

static int
jsonl_init(outpost_instance_t *inst)
{
    struct jsonl_state *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return -1;
    outpost_instance_set_data(inst, st);
    /* A file we cannot open now may be openable later: write retries. */
    open_out(inst, st);
    return 0;
}

static outpost_result_t
jsonl_write(outpost_instance_t *inst, const outpost_batch_t *batch)
{
    struct jsonl_state *st = outpost_instance_data(inst);

    if (open_out(inst, st) != 0)
        return OUTPOST_RETRY;
    for (size_t i = 0; i < batch->n; i++) {
        char *line;
        size_t len;

        if (outpost_record_to_json(batch->records[i], &line, &len) != 0)
            return OUTPOST_RETRY;
        if (fwrite(line, 1, len, st->fp) != len || fputc('\n', st->fp) < 0) {
            free(line);
            goto io_error;
        }
        free(line);
    }
    if (fflush(st->fp) != 0)
        goto io_error;
    return OUTPOST_OK;
io_error:
    /* The batch is retried whole; a reader may see a line twice only if
     * the disk filled up in the middle of it. */
    outpost_log(inst, OUTPOST_LOG_ERROR, "write", "write failed: %s",
                strerror(errno));
    close_out(st);
    return OUTPOST_RETRY;
}

static int
jsonl_flush(outpost_instance_t *inst)
{
    struct jsonl_state *st = outpost_instance_data(inst);

    return st->fp ? fflush(st->fp) : 0;
}

static void
jsonl_shutdown(outpost_instance_t *inst)
{
    struct jsonl_state *st = outpost_instance_data(inst);

    if (st == NULL)
        return;
    close_out(st);
    free(st);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "jsonl",
    .description = "write every record as a JSON line to a file or stdout",
    .kind = OUTPOST_OUTPUT,
    .options = jsonl_options,
    .conf_size = sizeof(struct jsonl_conf),
    .init = jsonl_init,
    .write = jsonl_write,
    .flush = jsonl_flush,
    .shutdown = jsonl_shutdown,
};
