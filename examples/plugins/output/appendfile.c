/*
 * appendfile.c - an example output: appends every record it gets to a
 * file, one JSON object a line.
 *
 *     appendfile "audit" {
 *       path  = "/var/log/outpost/audit.jsonl"
 *       fsync = true
 *     }
 *
 * It follows the output contract of outpost/plugin.h: the core hands
 * write a batch of the oldest queued records and keeps each queued until
 * write has answered for it, so this plugin keeps no queue and never
 * retries by itself:
 *   - a record written whole is delivered (outpost_batch_delivered counts
 *     the batch's front that is in the file);
 *   - a record that cannot be encoded is refused for good
 *     (outpost_batch_reject): it goes to the dead letters, the rest goes on;
 *   - a write that fails (disk full, file removed under us) cuts the file
 *     back to the last whole line and answers OUTPOST_RETRY: the core
 *     writes the rest again after its backoff, never the settled front.
 * The file is reopened when it was moved or removed (logrotate without
 * copytruncate). Under systemd the agent may write only under
 * /var/lib/outpost and /var/log/outpost.
 *
 * Threads: init and shutdown on the main thread; write and flush on the
 * output's own thread, one at a time, so the state needs no lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <outpost/plugin.h>

struct appendfile_conf {
    char *path;
    int   fsync;
};

static const outpost_option_t appendfile_options[] = {
    { .name = "path", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct appendfile_conf, path),
      .flags = OUTPOST_OPT_REQUIRED | OUTPOST_OPT_PATH,
      .help = "the file records are appended to, one JSON object a line" },
    { .name = "fsync", .type = OUTPOST_OPT_BOOL,
      .offset = offsetof(struct appendfile_conf, fsync), .def = "false",
      .help = "fsync after every batch: a crash of the machine loses "
              "nothing that was answered as delivered" },
    OUTPOST_OPTION_END
};

/* A file is cheap to write to: larger batches, flushed often. */
static const outpost_default_t appendfile_defaults[] = {
    { "batch_size", "500" },
    { "flush_interval", "1s" },
    OUTPOST_DEFAULT_END
};

struct appendfile {
    int fd;                   /* -1 until opened */
};

/* Opens conf->path again when fd is closed or no longer the file at path.
 * 0, or -1 with errno. */
static int
ensure_open(struct appendfile *a, const struct appendfile_conf *conf)
{
    struct stat at_path, open_file;

    if (a->fd >= 0 && stat(conf->path, &at_path) == 0
        && fstat(a->fd, &open_file) == 0 && at_path.st_dev == open_file.st_dev
        && at_path.st_ino == open_file.st_ino)
        return 0;
    if (a->fd >= 0)
        close(a->fd);
    a->fd = open(conf->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    return a->fd < 0 ? -1 : 0;
}

/* Writes all of buf: 0, or -1 with errno. */
static int
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t) n;
    }
    return 0;
}

static int
appendfile_init(outpost_instance_t *inst)
{
    const struct appendfile_conf *conf = outpost_instance_conf(inst);
    struct appendfile *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return -1;
    a->fd = -1;
    if (ensure_open(a, conf) != 0) {
        outpost_log(inst, OUTPOST_LOG_ERROR, "open", "%s: %s", conf->path,
                    strerror(errno));
        free(a);
        return -1;
    }
    outpost_instance_set_data(inst, a);
    return 0;
}

static outpost_result_t
appendfile_write(outpost_instance_t *inst, const outpost_batch_t *batch)
{
    const struct appendfile_conf *conf = outpost_instance_conf(inst);
    struct appendfile *a = outpost_instance_data(inst);

    if (ensure_open(a, conf) != 0) {
        outpost_log(inst, OUTPOST_LOG_WARN, "open", "%s: %s", conf->path,
                    strerror(errno));
        return OUTPOST_RETRY;
    }
    for (size_t i = 0; i < batch->n; i++) {
        char *line;
        size_t len;
        off_t end = lseek(a->fd, 0, SEEK_END);
        int rc;

        if (outpost_record_to_json(batch->records[i], &line, &len) != 0) {
            outpost_batch_reject(batch, i, "cannot be encoded as JSON");
            outpost_batch_delivered(batch, i + 1);
            continue;
        }
        line[len] = '\n';          /* replaces the terminating NUL */
        rc = write_all(a->fd, line, len + 1);
        free(line);
        if (rc != 0) {
            int err = errno;

            if (end >= 0 && ftruncate(a->fd, end) != 0)
                outpost_log(inst, OUTPOST_LOG_ERROR, "write",
                            "%s: a partial line stays at the end: %s",
                            conf->path, strerror(errno));
            outpost_log(inst, OUTPOST_LOG_WARN, "write", "%s: %s",
                        conf->path, strerror(err));
            return OUTPOST_RETRY;   /* records 0..i-1 are settled */
        }
        outpost_batch_delivered(batch, i + 1);
    }
    if (conf->fsync && fsync(a->fd) != 0) {
        /* What fsync refused may not be on disk: the whole batch again. */
        outpost_log(inst, OUTPOST_LOG_WARN, "fsync", "%s: %s", conf->path,
                    strerror(errno));
        outpost_batch_delivered(batch, 0);
        return OUTPOST_RETRY;
    }
    return OUTPOST_OK;
}

static int
appendfile_flush(outpost_instance_t *inst)
{
    struct appendfile *a = outpost_instance_data(inst);

    return a->fd >= 0 ? fdatasync(a->fd) : 0;
}

static void
appendfile_shutdown(outpost_instance_t *inst)
{
    struct appendfile *a = outpost_instance_data(inst);

    if (a->fd >= 0)
        close(a->fd);
    free(a);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "appendfile",
    .description = "appends every record to a file as a JSON line",
    .kind = OUTPOST_OUTPUT,
    .options = appendfile_options,
    .conf_size = sizeof(struct appendfile_conf),
    .output_defaults = appendfile_defaults,
    .init = appendfile_init,
    .write = appendfile_write,
    .flush = appendfile_flush,
    .shutdown = appendfile_shutdown,
};
