/*
 * httpcheck_api.c - the reading of a vendor API's answer that every preset
 * shares: credentials rejected, rate-limited, vendor failing; Retry-After;
 * rate-limit headroom headers as fields.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "httpcheck_int.h"

/* Retry-After (RFC 9110 10.2.3) is delta-seconds (1*DIGIT) or an
 * HTTP-date, which a recipient must read in all three of its formats.
 * Anything else ("1e9", "-5", "inf", "soon") is ignored, so no value can
 * turn into a NaN, an infinity or an overflowing deferral. Both forms give
 * seconds from now (a date in the past: 0), at most RETRY_AFTER_MAX; the
 * caller caps them further (a preset's max_retry_after). */
#define RETRY_AFTER_MAX 1e9        /* ~31 years: still fits the clocks */

double
httpcheck_retry_after(const httpcheck_call_t *c)
{
    static const char *const date_formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT",    /* IMF-fixdate */
        "%A, %d-%b-%y %H:%M:%S GMT",    /* obsolete RFC 850 */
        "%a %b %e %H:%M:%S %Y",         /* obsolete asctime() */
    };
    const char *v = httpcheck_header(c, "retry-after"), *p, *end;
    double s = 0;
    struct tm tm;

    if (v == NULL || *v == '\0')
        return -1;
    for (p = v; isdigit((unsigned char) *p); p++)
        if (s < RETRY_AFTER_MAX)
            s = s * 10 + (*p - '0');
    if (p != v) {
        while (isspace((unsigned char) *p))
            p++;
        if (*p != '\0')
            return -1;
        return s < RETRY_AFTER_MAX ? s : RETRY_AFTER_MAX;
    }
    for (size_t i = 0; i < sizeof(date_formats) / sizeof(date_formats[0]);
         i++) {
        memset(&tm, 0, sizeof(tm));
        end = strptime(v, date_formats[i], &tm);
        if (end == NULL)
            continue;
        while (isspace((unsigned char) *end))
            end++;
        if (*end != '\0')
            continue;
        s = difftime(timegm(&tm), time(NULL));
        return s <= 0 ? 0 : s < RETRY_AFTER_MAX ? s : RETRY_AFTER_MAX;
    }
    return -1;
}

/* The field name for a rate-limit header, or 0 when it is not one:
 * drop everything before "ratelimit" ("x-", "anthropic-"), '-' to '_'. */
static int
ratelimit_field(const char *header, char *out, size_t len)
{
    const char *p = strcasestr(header, "ratelimit");
    size_t i;

    if (p == NULL || (p != header && p[-1] != '-'))
        return 0;
    for (i = 0; p[i] && i + 1 < len; i++)
        out[i] = p[i] == '-' ? '_' : (char) tolower((unsigned char) p[i]);
    out[i] = '\0';
    return 1;
}

int
httpcheck_add_ratelimit_fields(httpcheck_call_t *c)
{
    outpost_record_t *rec = httpcheck_record(c);
    const char *name, *value;
    char field[96], *end;
    int added = 0;

    if (rec == NULL)
        return 0;
    for (size_t i = 0; httpcheck_header_at(c, i, &name, &value); i++) {
        double v;
        if (!ratelimit_field(name, field, sizeof(field)))
            continue;
        errno = 0;
        v = strtod(value, &end);
        if (end == value || *end != '\0' || errno != 0)
            continue;               /* "6m0s", dates: not headroom */
        if (v == (double) (int64_t) v)
            outpost_record_add_int(rec, field, (int64_t) v);
        else
            outpost_record_add_float(rec, field, v);
        added++;
    }
    return added;
}

void
httpcheck_classify_api(httpcheck_call_t *c, int defer)
{
    long st = c->status;

    httpcheck_add_ratelimit_fields(c);
    if (c->result != CURLE_OK) {
        httpcheck_set_hint(c, "down", c->result == CURLE_OPERATION_TIMEDOUT
                                      ? "vendor" : "network");
        return;
    }
    if (st == 401 || st == 403)
        httpcheck_set_hint(c, "down", "credentials");
    else if (st == 429) {
        double s = httpcheck_retry_after(c);
        httpcheck_pass(c);
        httpcheck_set_hint(c, "degraded", "rate_limited");
        if (s >= 0) {
            outpost_record_t *rec = httpcheck_record(c);
            if (rec)
                outpost_record_add_float(rec, "retry_after", s);
            if (defer)
                httpcheck_defer(c, s);
        }
    } else if (st >= 500)
        httpcheck_set_hint(c, "down", "vendor");
}
