/*
 * duration.h - "500ms", "30s", "5m", "1h", "90d" <-> milliseconds.
 */
#ifndef OUTPOST_DURATION_H
#define OUTPOST_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses a duration into milliseconds. A bare number is seconds. Accepts
 * ms, s, m, h, d, w and sums like "1h30m". 0 on success, -1 on error. */
int duration_parse(const char *s, int64_t *ms);

/* Formats ms as the largest exact unit ("90s" -> "90s", 60000 -> "1m"). */
void duration_format(int64_t ms, char *buf, size_t len);

#endif
