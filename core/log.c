/*
 * log.c - structured logging.
 *
 * JSON lines carry timestamp, level, component, operation, integration,
 * message and fields, so a log shipper can index them without parsing
 * prose. Each line is built in a buffer and written with one write(2):
 * lines from different threads never interleave, and no lock is held
 * while writing. jansson escapes the strings.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "log.h"
#include "instance.h"

static _Atomic int cur_level = OUTPOST_LOG_INFO;
static _Atomic int cur_format = LOG_FORMAT_JSON;
static _Atomic int cur_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
log_configure(outpost_log_level_t level, enum log_format format, int fd)
{
    atomic_store(&cur_level, level);
    atomic_store(&cur_format, format);
    atomic_store(&cur_fd, fd);
}

int
log_level_parse(const char *s, outpost_log_level_t *level)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *level = (outpost_log_level_t) i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *level = OUTPOST_LOG_WARN;
        return 0;
    }
    return -1;
}

int
log_format_parse(const char *s, enum log_format *format)
{
    if (strcmp(s, "json") == 0)
        *format = LOG_FORMAT_JSON;
    else if (strcmp(s, "text") == 0)
        *format = LOG_FORMAT_TEXT;
    else
        return -1;
    return 0;
}

static void
timestamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static void
write_all(const char *buf, size_t len)
{
    int fd = atomic_load(&cur_fd);

    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t) n;
    }
}

static void
emit_json(const char *ts, outpost_log_level_t level, const char *component,
          const char *op, const char *integration,
          const struct log_field *fields, size_t nfields, const char *msg)
{
    json_t *o = json_object();
    char *line;

    json_object_set_new(o, "timestamp", json_string(ts));
    json_object_set_new(o, "level", json_string(level_names[level]));
    json_object_set_new(o, "component", json_string(component));
    if (op)
        json_object_set_new(o, "operation", json_string(op));
    if (integration)
        json_object_set_new(o, "integration", json_string(integration));
    json_object_set_new(o, "message", json_string(msg));
    if (nfields > 0) {
        json_t *f = json_object();
        for (size_t i = 0; i < nfields; i++)
            json_object_set_new(f, fields[i].key,
                                json_string(fields[i].value
                                            ? fields[i].value : ""));
        json_object_set_new(o, "fields", f);
    }
    line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (line == NULL)
        return;
    {
        size_t len = strlen(line);
        char buf[len + 1];
        memcpy(buf, line, len);
        buf[len] = '\n';
        write_all(buf, len + 1);
    }
    free(line);
}

static void
emit_text(const char *ts, outpost_log_level_t level, const char *component,
          const char *op, const char *integration,
          const struct log_field *fields, size_t nfields, const char *msg)
{
    char buf[4096];
    size_t n;

    n = (size_t) snprintf(buf, sizeof(buf), "%s %-5s %s%s%s%s%s%s: %s",
                          ts, level_names[level], component,
                          integration ? "[" : "",
                          integration ? integration : "",
                          integration ? "]" : "", op ? " " : "",
                          op ? op : "", msg);
    if (n > sizeof(buf) - 2)
        n = sizeof(buf) - 2;
    for (size_t i = 0; i < nfields && n < sizeof(buf) - 1; i++)
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, " %s=%s",
                               fields[i].key,
                               fields[i].value ? fields[i].value : "");
    if (n > sizeof(buf) - 2)
        n = sizeof(buf) - 2;
    buf[n++] = '\n';
    write_all(buf, n);
}

static void
log_vwrite(outpost_log_level_t level, const char *component, const char *op,
           const char *integration, const struct log_field *fields,
           size_t nfields, const char *fmt, va_list ap)
{
    char msg[2048], ts[80];

    if ((int) level < atomic_load(&cur_level) || level > OUTPOST_LOG_ERROR)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    timestamp(ts, sizeof(ts));
    if (atomic_load(&cur_format) == LOG_FORMAT_JSON)
        emit_json(ts, level, component, op, integration, fields, nfields,
                  msg);
    else
        emit_text(ts, level, component, op, integration, fields, nfields,
                  msg);
}

void
log_write(outpost_log_level_t level, const char *component, const char *op,
          const char *integration, const struct log_field *fields,
          size_t nfields, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(level, component, op, integration, fields, nfields, fmt, ap);
    va_end(ap);
}

void
outpost_log(const outpost_instance_t *inst, outpost_log_level_t level,
            const char *op, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(level, inst ? inst->plugin->name : "plugin", op,
               inst ? inst->name : NULL, NULL, 0, fmt, ap);
    va_end(ap);
}
