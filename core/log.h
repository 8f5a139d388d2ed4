/*
 * log.h - the core's logger: structured JSON lines or plain text, to stderr
 * by default. Thread-safe; one write(2) per line so lines never interleave.
 */
#ifndef OUTPOST_LOG_H
#define OUTPOST_LOG_H

#include <stdio.h>
#include <outpost/plugin.h>

enum log_format { LOG_FORMAT_JSON = 0, LOG_FORMAT_TEXT = 1 };

/* A key/value pair for the "fields" object; value is printed as a string. */
struct log_field {
    const char *key;
    const char *value;
};

void log_configure(outpost_log_level_t level, enum log_format format, int fd);
int  log_level_parse(const char *s, outpost_log_level_t *level);
int  log_format_parse(const char *s, enum log_format *format);

/* component: "core", "scheduler", a plugin name...; op, integration and
 * fields may be NULL / 0. */
void log_write(outpost_log_level_t level, const char *component,
               const char *op, const char *integration,
               const struct log_field *fields, size_t nfields,
               const char *fmt, ...) __attribute__((format(printf, 7, 8)));

#define log_core(level, op, ...) \
    log_write((level), "core", (op), NULL, NULL, 0, __VA_ARGS__)

#endif
