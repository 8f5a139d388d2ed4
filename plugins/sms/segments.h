/*
 * segments.h - how many SMS segments a text takes, and the text cut to
 * fit a number of them.
 *
 * GSM 03.38: a text whose every character is in the GSM-7 default
 * alphabet or its extension table is sent in 7-bit septets: 160 in one
 * segment, 153 per segment of a concatenated message (the UDH takes 7);
 * an extension character (^ { } \ [ ~ ] | €) is two septets, ESC and the
 * character, and never split across segments. Any other character makes
 * the whole message UCS-2: 70 UTF-16 code units in one segment, 67 per
 * segment of a concatenated one; a character outside the BMP is a
 * surrogate pair, two units, never split. Pure functions, any thread.
 */
#ifndef OUTPOST_SMS_SEGMENTS_H
#define OUTPOST_SMS_SEGMENTS_H

#include <stddef.h>

struct sms_count {
    int     ucs2;           /* 0: GSM-7 */
    size_t  units;          /* septets (GSM-7) or UTF-16 code units */
    int     segments;       /* 0 for "" */
};

/* Counts text (UTF-8; an invalid byte counts as U+FFFD, not GSM). */
void sms_count(const char *text, struct sms_count *c);

/* text cut at a character boundary, with "..." added, so that it takes
 * at most max_segments (1 or more); text itself when it fits already.
 * malloc'ed, NULL on ENOMEM. */
char *sms_fit(const char *text, int max_segments);

/* text and " " suffix (a link) within max_segments: text is cut (with
 * "...") before the suffix, which is kept whole; when even the suffix
 * alone does not fit, the whole is cut as sms_fit does. suffix NULL:
 * sms_fit. malloc'ed, NULL on ENOMEM. */
char *sms_fit_suffix(const char *text, const char *suffix,
                     int max_segments);

#endif
