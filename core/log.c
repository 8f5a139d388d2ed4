/*
 * log.c - structured logging.
 *
 * JSON lines carry timestamp, level, component, operation, integration,
 * message and fields, so a log shipper can index them without parsing
 * prose. Each line is built in a buffer and written with one write(2):
 * lines from different threads never interleave, and no lock is held
 * while writing. jansson escapes the strings of JSON lines; text lines
 * escape control characters themselves (\n, \r, \t, \xHH), so a server's
 * answer or a name cannot start a forged line.
 *
 * Every message and field value is scrubbed of the secrets the agent knows
 * (secrets.h) before it is formatted, whoever wrote it.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "log.h"
#include "instance.h"
#include "secrets.h"

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

/* Bytes of the valid UTF-8 sequence at s, or 0. */
static size_t
utf8_seq(const unsigned char *s)
{
    size_t n;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        cp = s[0] & 0x07;
    } else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* A JSON string of s; bytes that are not UTF-8 (a server's Latin-1, a
 * message cut mid-character) become '?', so the line keeps its text. */
static json_t *
jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    size_t len, o = 0, n;
    char *copy;

    if (j != NULL)
        return j;
    len = strlen(s);
    if ((copy = malloc(len + 1)) == NULL)
        return json_string("?");
    for (size_t i = 0; i < len; i += n) {
        n = utf8_seq((const unsigned char *) s + i);
        if (n == 0) {
            copy[o++] = '?';
            n = 1;
        } else {
            memcpy(copy + o, s + i, n);
            o += n;
        }
    }
    copy[o] = '\0';
    j = json_string(copy);
    free(copy);
    return j;
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
    json_object_set_new(o, "component", jstr(component));
    if (op)
        json_object_set_new(o, "operation", jstr(op));
    if (integration)
        json_object_set_new(o, "integration", jstr(integration));
    json_object_set_new(o, "message", jstr(msg));
    if (nfields > 0) {
        json_t *f = json_object();
        for (size_t i = 0; i < nfields; i++)
            json_object_set_new(f, fields[i].key, jstr(fields[i].value));
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

/* Appends s to buf (cap bytes, *n used), control characters escaped;
 * stops short of the last byte, kept for the newline. */
static void
text_put(char *buf, size_t cap, size_t *n, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    for (; s && *s && *n + 5 < cap; s++) {
        unsigned char c = (unsigned char) *s;

        if (c >= 0x20 && c != 0x7f) {
            buf[(*n)++] = (char) c;
            continue;
        }
        buf[(*n)++] = '\\';
        switch (c) {
        case '\n': buf[(*n)++] = 'n'; break;
        case '\r': buf[(*n)++] = 'r'; break;
        case '\t': buf[(*n)++] = 't'; break;
        default:
            buf[(*n)++] = 'x';
            buf[(*n)++] = hex[c >> 4];
            buf[(*n)++] = hex[c & 15];
        }
    }
}

static void
emit_text(const char *ts, outpost_log_level_t level, const char *component,
          const char *op, const char *integration,
          const struct log_field *fields, size_t nfields, const char *msg)
{
    char buf[4096];
    size_t n = 0;

    text_put(buf, sizeof(buf), &n, ts);
    text_put(buf, sizeof(buf), &n, " ");
    text_put(buf, sizeof(buf), &n, level_names[level]);
    text_put(buf, sizeof(buf), &n, level == OUTPOST_LOG_INFO
                                   || level == OUTPOST_LOG_WARN ? "  " : " ");
    text_put(buf, sizeof(buf), &n, component);
    if (integration) {
        text_put(buf, sizeof(buf), &n, "[");
        text_put(buf, sizeof(buf), &n, integration);
        text_put(buf, sizeof(buf), &n, "]");
    }
    if (op) {
        text_put(buf, sizeof(buf), &n, " ");
        text_put(buf, sizeof(buf), &n, op);
    }
    text_put(buf, sizeof(buf), &n, ": ");
    text_put(buf, sizeof(buf), &n, msg);
    for (size_t i = 0; i < nfields; i++) {
        text_put(buf, sizeof(buf), &n, " ");
        text_put(buf, sizeof(buf), &n, fields[i].key);
        text_put(buf, sizeof(buf), &n, "=");
        text_put(buf, sizeof(buf), &n, fields[i].value ? fields[i].value
                                                       : "");
    }
    buf[n++] = '\n';
    write_all(buf, n);
}

static void
log_vwrite(outpost_log_level_t level, const char *component, const char *op,
           const char *integration, const struct log_field *fields,
           size_t nfields, const char *fmt, va_list ap)
{
    char msg[2048], ts[80], *clean = NULL;
    struct log_field scrubbed[nfields ? nfields : 1];
    char *values[nfields ? nfields : 1];
    const char *text = msg;

    if ((int) level < atomic_load(&cur_level) || level > OUTPOST_LOG_ERROR)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (secrets_scrub(msg, &clean) < 0)
        text = SECRETS_REDACTED;
    else if (clean)
        text = clean;
    scrubbed[0] = (struct log_field) { NULL, NULL };
    values[0] = NULL;
    for (size_t i = 0; i < nfields; i++) {
        scrubbed[i] = fields[i];
        values[i] = NULL;
        if (secrets_scrub(fields[i].value, &values[i]) < 0)
            scrubbed[i].value = SECRETS_REDACTED;
        else if (values[i])
            scrubbed[i].value = values[i];
    }
    timestamp(ts, sizeof(ts));
    if (atomic_load(&cur_format) == LOG_FORMAT_JSON)
        emit_json(ts, level, component, op, integration, scrubbed, nfields,
                  text);
    else
        emit_text(ts, level, component, op, integration, scrubbed, nfields,
                  text);
    free(clean);
    for (size_t i = 0; i < nfields; i++)
        free(values[i]);
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

    /* Counted whether or not log_level lets the line through. */
    if (inst && level >= OUTPOST_LOG_ERROR)
        atomic_fetch_add_explicit(&((outpost_instance_t *) inst)->errors, 1,
                                  memory_order_relaxed);
    va_start(ap, fmt);
    log_vwrite(level, inst ? inst->plugin->name : "plugin", op,
               inst ? inst->name : NULL, NULL, 0, fmt, ap);
    va_end(ap);
}
