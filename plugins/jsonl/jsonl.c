/*
 * jsonl.c - the `jsonl` output: one JSON object per measurement or event,
 * one per line, appended to a file or written to stdout ("-").
 *
 * The smallest complete output, and the example for the output contract
 * (outpost/plugin.h): a batch is encoded into one buffer and appended with
 * write(2), so when the disk fills up mid-batch the lines that made it are
 * reported with outpost_batch_delivered() and only the rest is retried. A
 * record that cannot be encoded is refused with outpost_batch_reject(): it
 * goes to the output's dead letters and the lines after it still go out.
 * All of it runs on the output's own thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
    int     fd;             /* -1: not open */
    char   *buf;            /* the batch's lines */
    size_t  cap;
    size_t *ends;           /* ends[i]: offset after record i's line */
    size_t  nends;
    int     torn;           /* the file ends in a partial line */
};

static int
open_out(outpost_instance_t *inst, struct jsonl_state *st)
{
    struct jsonl_conf *conf = outpost_instance_conf(inst);

    if (st->fd >= 0)
        return 0;
    if (strcmp(conf->path, "-") == 0) {
        st->fd = STDOUT_FILENO;
        return 0;
    }
    st->fd = open(conf->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                  0644);
    if (st->fd < 0) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "open", "cannot open %s: %s",
                    conf->path, strerror(errno));
        return -1;
    }
    return 0;
}

static void
close_out(struct jsonl_state *st)
{
    if (st->fd > STDERR_FILENO)
        close(st->fd);
    st->fd = -1;
}

static int
jsonl_init(outpost_instance_t *inst)
{
    struct jsonl_state *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return -1;
    st->fd = -1;
    outpost_instance_set_data(inst, st);
    /* A file we cannot open now may be openable later: write retries. */
    open_out(inst, st);
    return 0;
}

/* Appends line and a newline to the batch buffer at *len. */
static int
append_line(struct jsonl_state *st, size_t *len, const char *line,
            size_t n)
{
    if (*len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        char *b;

        while (cap < *len + n + 1)
            cap *= 2;
        if ((b = realloc(st->buf, cap)) == NULL)
            return -1;
        st->buf = b;
        st->cap = cap;
    }
    memcpy(st->buf + *len, line, n);
    st->buf[*len + n] = '\n';
    *len += n + 1;
    return 0;
}

static outpost_result_t
jsonl_write(outpost_instance_t *inst, const outpost_batch_t *batch)
{
    struct jsonl_state *st = outpost_instance_data(inst);
    size_t len = 0, done = 0, delivered = 0;

    if (open_out(inst, st) != 0)
        return OUTPOST_RETRY;
    /* End a torn line first, so the line after it reads whole. */
    if (st->torn && append_line(st, &len, "", 0) != 0)
        return OUTPOST_RETRY;
    if (batch->n > st->nends) {
        size_t *e = realloc(st->ends, batch->n * sizeof(*e));

        if (e == NULL)
            return OUTPOST_RETRY;
        st->ends = e;
        st->nends = batch->n;
    }
    for (size_t i = 0; i < batch->n; i++) {
        char *line;
        size_t n;

        if (outpost_record_to_json(batch->records[i], &line, &n) != 0) {
            outpost_batch_reject(batch, i, "cannot be encoded as JSON");
            st->ends[i] = len;          /* no line for it */
            continue;
        }
        if (append_line(st, &len, line, n) != 0) {
            free(line);
            return OUTPOST_RETRY;       /* out of memory: nothing written */
        }
        free(line);
        st->ends[i] = len;
    }
    while (done < len) {
        ssize_t w = write(st->fd, st->buf + done, len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            goto io_error;
        done += (size_t) w;
    }
    st->torn = 0;
    return OUTPOST_OK;
io_error:
    /* The records whose whole line is in the file are delivered; only the
     * rest is written again. When the disk filled up in the middle of a
     * line, a reader sees that torn line, then the whole one. */
    while (delivered < batch->n && st->ends[delivered] <= done)
        delivered++;
    if (done > 0)
        st->torn = st->buf[done - 1] != '\n';
    outpost_batch_delivered(batch, delivered);
    outpost_log(inst, OUTPOST_LOG_ERROR, "write",
                "write failed after %zu of %zu records: %s", delivered,
                batch->n, strerror(errno));
    close_out(st);
    return OUTPOST_RETRY;
}

static void
jsonl_shutdown(outpost_instance_t *inst)
{
    struct jsonl_state *st = outpost_instance_data(inst);

    if (st == NULL)
        return;
    close_out(st);
    free(st->buf);
    free(st->ends);
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
    .shutdown = jsonl_shutdown,
};
