/*
 * tz.h - the UTC offset of a named time zone at a given instant, for
 * maintenance windows written in local time ("02:00 Europe/Berlin").
 *
 * Written here because libc only converts through the process-wide TZ
 * variable, which a threaded daemon cannot change safely. Zones are read
 * once from the system's TZif files (TZDIR or /usr/share/zoneinfo),
 * including the POSIX rule at their end that covers future years.
 */
#ifndef OUTPOST_ALERT_TZ_H
#define OUTPOST_ALERT_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz;

/* "UTC" (or "GMT", "Z", "") or an IANA name such as "Europe/Berlin".
 * NULL with err set when it cannot be loaded. */
struct tz *tz_load(const char *name, char *err, size_t errlen);
void       tz_free(struct tz *tz);
/* Seconds east of UTC in effect at t (Unix seconds). */
int32_t    tz_offset(const struct tz *tz, int64_t t);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t    tz_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
