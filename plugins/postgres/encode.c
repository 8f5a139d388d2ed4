/*
 * encode.c - records as rows for PostgreSQL (pgout.h).
 *
 * A measurement becomes one line of COPY's text format: columns separated
 * by a tab, \N for NULL, and backslash, tab, newline and carriage return
 * escaped with a backslash. Values are written as the record holds them:
 * a field of the wrong type (a string where a number belongs) is passed
 * on as text, so the server refuses that record (SQLSTATE class 22) and
 * the batch is bisected down to it (postgres.c). Bytes that are not UTF-8
 * are passed on too, for the same reason.
 *
 * The tags column is a JSON object: JSON escaping first (quote, backslash,
 * control characters as \u00XX), then COPY's (every backslash doubled).
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <outpost/fields.h>
#include "pgout.h"

void
pgout_buf_reset(struct pgout_buf *b)
{
    b->len = 0;
    b->oom = 0;
}

void
pgout_buf_free(struct pgout_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static int
reserve(struct pgout_buf *b, size_t n)
{
    size_t cap;
    char *p;

    if (b->oom)
        return -1;
    if (b->len + n <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n)
        cap *= 2;
    if ((p = realloc(b->p, cap)) == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void
pgout_buf_add(struct pgout_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) == 0) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

void
pgout_buf_printf(struct pgout_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (reserve(b, 64) != 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t) n >= b->cap - b->len) {
        if (reserve(b, (size_t) n + 1) != 0)
            return;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t) n;
}

/* A text value, COPY-escaped. */
static void
put_text(struct pgout_buf *b, const char *s)
{
    size_t n = strlen(s);
    char *o;

    if (reserve(b, 2 * n) != 0)
        return;
    o = b->p + b->len;
    for (; *s; s++) {
        switch (*s) {
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        default:   *o++ = *s;
        }
    }
    b->len = (size_t) (o - b->p);
}

/* A JSON string (quotes included), then COPY-escaped. */
static void
put_json_str(struct pgout_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s);
    char *o;

    if (reserve(b, 8 * n + 2) != 0)
        return;
    o = b->p + b->len;
    *o++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;

        if (c == '"') {
            memcpy(o, "\\\\\"", 3);             /* \" doubled: \\" */
            o += 3;
        } else if (c == '\\') {
            memcpy(o, "\\\\\\\\", 4);           /* \\ doubled: \\\\ */
            o += 4;
        } else if (c < 0x20) {
            memcpy(o, "\\\\u00", 5);            /* \u00XX doubled */
            o += 5;
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char) c;
        }
    }
    *o++ = '"';
    b->len = (size_t) (o - b->p);
}

static void
put_null(struct pgout_buf *b)
{
    pgout_buf_add(b, "\\N", 2);
}

static void
put_tab(struct pgout_buf *b)
{
    pgout_buf_add(b, "\t", 1);
}

static void
put_str_or_null(struct pgout_buf *b, const char *s)
{
    if (s)
        put_text(b, s);
    else
        put_null(b);
}

/* Digits of u at p, at least width of them (zeros before); the end. */
static char *
put_digits(char *p, uint64_t u, int width)
{
    char d[24];
    int n = 0;

    do {
        d[n++] = (char) ('0' + u % 10);
        u /= 10;
    } while (u);
    while (n < width)
        d[n++] = '0';
    while (n > 0)
        *p++ = d[--n];
    return p;
}

static void
put_int(struct pgout_buf *b, int64_t v)
{
    if (reserve(b, 24) != 0)
        return;
    if (v < 0)
        b->p[b->len++] = '-';
    b->len = (size_t) (put_digits(b->p + b->len, v < 0 ? 0 - (uint64_t) v
                                                       : (uint64_t) v, 1)
                       - b->p);
}

/* A float8 the server reads back as the same double. Most values a
 * check carries (80.25, 0.98, 200) are m / 10^k for an integer m and
 * k <= 6: that decimal is written by hand (the double nearest to it is
 * v, so float8in gives v back); printf's exact conversion, the slowest
 * part of a row, only for the rest. */
static void
put_double(struct pgout_buf *b, double v)
{
    int64_t scale = 1;

    if (isfinite(v) && fabs(v) < 1e9 && !(v == 0 && signbit(v)))
        for (int k = 0; k <= 6; k++, scale *= 10) {
            double m = v * (double) scale;
            int64_t q = (int64_t) m;
            uint64_t u;

            if ((double) q != m || (double) q / (double) scale != v)
                continue;
            if (reserve(b, 32) != 0)
                return;
            u = q < 0 ? 0 - (uint64_t) q : (uint64_t) q;
            if (q < 0)
                b->p[b->len++] = '-';
            b->len = (size_t) (put_digits(b->p + b->len,
                                          u / (uint64_t) scale, 1) - b->p);
            if (k > 0) {
                b->p[b->len++] = '.';
                b->len = (size_t) (put_digits(b->p + b->len,
                                              u % (uint64_t) scale, k)
                                   - b->p);
            }
            return;
        }
    pgout_buf_printf(b, "%.17g", v);
}

/* A field as its column's text: numbers and booleans printed, strings
 * passed on (the server judges them), absent as NULL. */
static void
put_field(struct pgout_buf *b, const outpost_record_t *rec, const char *key,
          int as_bool)
{
    const outpost_field_t *f = outpost_record_field(rec, key);

    if (f == NULL) {
        put_null(b);
        return;
    }
    switch (f->type) {
    case OUTPOST_FIELD_INT:
        if (as_bool)
            pgout_buf_add(b, f->v.i ? "t" : "f", 1);
        else
            put_int(b, f->v.i);
        break;
    case OUTPOST_FIELD_FLOAT:
        put_double(b, f->v.f);
        break;
    case OUTPOST_FIELD_BOOL:
        if (as_bool)
            pgout_buf_add(b, f->v.b ? "t" : "f", 1);
        else
            pgout_buf_add(b, f->v.b ? "1" : "0", 1);
        break;
    case OUTPOST_FIELD_STRING:
        put_text(b, f->v.s);
        break;
    default:
        put_null(b);
    }
}

static void
put_tags(struct pgout_buf *b, const outpost_record_t *rec)
{
    size_t n = outpost_tagset_count(rec->tags);

    pgout_buf_add(b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        const outpost_tag_t *t = outpost_tagset_at(rec->tags, i);

        if (i > 0)
            pgout_buf_add(b, ",", 1);
        put_json_str(b, t->key);
        pgout_buf_add(b, ":", 1);
        put_json_str(b, t->value);
    }
    pgout_buf_add(b, "}", 1);
}

/* Floor division: days before 1970 too. */
static int64_t
floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* timestamptz in ISO form, UTC, to the microsecond: "YYYY-MM-DD
 * hh:mm:ss.uuuuuu+00", then a tab. The civil date from the day number by
 * H. Hinnant's days-to-civil (proleptic Gregorian, any year from 1 on);
 * years outside 1..9999 by gmtime_r and printf. */
static void
put_timestamp(struct pgout_buf *b, int64_t us)
{
    int64_t secs = floor_div(us, 1000000), days = floor_div(secs, 86400);
    int64_t sod = secs - days * 86400, z = days + 719468;
    int64_t era = floor_div(z, 146097), doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    char *p;

    if (y < 1 || y > 9999) {
        time_t t = (time_t) secs;
        struct tm tm;

        gmtime_r(&t, &tm);
        pgout_buf_printf(b, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00\t",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec,
                         (int) (us - secs * 1000000));
        return;
    }
    if (reserve(b, 32) != 0)
        return;
    p = b->p + b->len;
    p = put_digits(p, (uint64_t) y, 4);
    *p++ = '-';
    p = put_digits(p, (uint64_t) m, 2);
    *p++ = '-';
    p = put_digits(p, (uint64_t) d, 2);
    *p++ = ' ';
    p = put_digits(p, (uint64_t) (sod / 3600), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t) (sod / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t) (sod % 60), 2);
    *p++ = '.';
    p = put_digits(p, (uint64_t) (us - secs * 1000000), 6);
    memcpy(p, "+00\t", 4);
    b->len = (size_t) (p + 4 - b->p);
}

/* The columns both row kinds start with after the time: integration,
 * the measurement's name, category, provider, status, success, then the
 * numbers given, tab-separated. */
static void
put_check(struct pgout_buf *b, const outpost_record_t *rec,
          const char *const *numbers, size_t n)
{
    const char *integration = outpost_record_tag(rec, OUTPOST_TAG_INTEGRATION);

    put_text(b, integration ? integration : rec->name);
    put_tab(b);
    put_text(b, rec->name);
    put_tab(b);
    put_str_or_null(b, outpost_record_tag(rec, OUTPOST_TAG_CATEGORY));
    put_tab(b);
    put_str_or_null(b, outpost_record_tag(rec, OUTPOST_TAG_PROVIDER));
    put_tab(b);
    put_field(b, rec, OUTPOST_F_STATUS, 0);
    put_tab(b);
    put_field(b, rec, OUTPOST_F_SUCCESS, 1);
    for (size_t i = 0; i < n; i++) {
        put_tab(b);
        put_field(b, rec, numbers[i], 0);
    }
}

void
pgout_encode_row(struct pgout_buf *b, const outpost_record_t *rec)
{
    static const char *const numbers[] = {
        OUTPOST_F_STATUS_CODE, OUTPOST_F_RESPONSE_MS, OUTPOST_F_DNS_MS,
        OUTPOST_F_CONNECT_MS, OUTPOST_F_TLS_MS, OUTPOST_F_TTFB_MS,
        OUTPOST_F_TRANSFER_MS, OUTPOST_F_HEALTH_SCORE,
        OUTPOST_F_CONSECUTIVE_FAILURES,
    };

    /* Microseconds, timestamptz's resolution. */
    put_int(b, floor_div(rec->ts_ns, 1000));
    put_tab(b);
    put_check(b, rec, numbers, sizeof(numbers) / sizeof(numbers[0]));
    put_tab(b);
    put_field(b, rec, OUTPOST_F_CIRCUIT, 0);
    put_tab(b);
    put_str_or_null(b, outpost_record_tag(rec, OUTPOST_TAG_FAILOVER_GROUP));
    put_tab(b);
    put_field(b, rec, OUTPOST_F_FAILOVER_ACTIVE, 0);
    put_tab(b);
    put_field(b, rec, "success_rate_24h", 0);
    put_tab(b);
    put_field(b, rec, "uptime_30d", 0);
    put_tab(b);
    put_field(b, rec, OUTPOST_F_ERROR, 0);
    put_tab(b);
    put_tags(b, rec);
    pgout_buf_add(b, "\n", 1);
}

void
pgout_encode_log_row(struct pgout_buf *b, const outpost_record_t *rec)
{
    static const char *const numbers[] = {
        OUTPOST_F_STATUS_CODE, OUTPOST_F_RESPONSE_MS, OUTPOST_F_DNS_MS,
        OUTPOST_F_CONNECT_MS, OUTPOST_F_TLS_MS, OUTPOST_F_TTFB_MS,
        OUTPOST_F_TRANSFER_MS, OUTPOST_F_HEALTH_SCORE,
    };
    int64_t us = floor_div(rec->ts_ns, 1000);

    put_timestamp(b, us);
    put_check(b, rec, numbers, sizeof(numbers) / sizeof(numbers[0]));
    put_tab(b);
    put_field(b, rec, OUTPOST_F_ERROR, 0);
    put_tab(b);
    put_tags(b, rec);
    pgout_buf_add(b, "\n", 1);
}

int64_t
pgout_day_of(int64_t ts_ns)
{
    return floor_div(ts_ns, PGOUT_DAY_NS);
}

/*
 * An alert's row is keyed by (dedup_key, first_seen): every event of one
 * alert carries the time it opened (the field "since", in seconds), so
 * all of them land on one row, and an alert that opens again later gets a
 * new row. The update only moves forward (the latest last_seen, the
 * largest occurrence count, the first acknowledged/resolved/escalated
 * time, resolved over acknowledged over active, the union of channels):
 * the same event applied twice, or two events applied out of order, leave
 * the same row. That is what makes a resent batch harmless here.
 */
const char PGOUT_ALERT_SQL[] =
    "INSERT INTO integration_alerts AS a (dedup_key, first_seen, "
    "integration, category, provider, severity, status, message, "
    "occurrences, last_seen, acknowledged_at, acknowledged_by, "
    "resolved_at, escalated_at, channels) VALUES ($1, "
    "timestamptz 'epoch' + $2::bigint * interval '1 microsecond', "
    "$3, $4, $5, $6, $7, $8, $9::integer, "
    "timestamptz 'epoch' + $10::bigint * interval '1 microsecond', "
    "CASE WHEN $7 = 'acknowledged' THEN timestamptz 'epoch' + "
    "$10::bigint * interval '1 microsecond' END, $11, "
    "CASE WHEN $12 THEN timestamptz 'epoch' + $10::bigint * "
    "interval '1 microsecond' END, "
    "CASE WHEN $13 THEN timestamptz 'epoch' + $10::bigint * "
    "interval '1 microsecond' END, "
    "coalesce(string_to_array(nullif($14, ''), ','), '{}')) "
    "ON CONFLICT (dedup_key, first_seen) DO UPDATE SET "
    "integration = EXCLUDED.integration, "
    "category = coalesce(EXCLUDED.category, a.category), "
    "provider = coalesce(EXCLUDED.provider, a.provider), "
    "severity = CASE WHEN EXCLUDED.last_seen >= a.last_seen "
    "THEN EXCLUDED.severity ELSE a.severity END, "
    "message = CASE WHEN EXCLUDED.last_seen >= a.last_seen "
    "THEN EXCLUDED.message ELSE a.message END, "
    "status = CASE WHEN 'resolved' IN (a.status, EXCLUDED.status) "
    "THEN 'resolved' WHEN 'acknowledged' IN (a.status, EXCLUDED.status) "
    "THEN 'acknowledged' ELSE 'active' END, "
    "occurrences = greatest(a.occurrences, EXCLUDED.occurrences), "
    "last_seen = greatest(a.last_seen, EXCLUDED.last_seen), "
    "acknowledged_at = least(a.acknowledged_at, EXCLUDED.acknowledged_at), "
    "acknowledged_by = coalesce(a.acknowledged_by, "
    "EXCLUDED.acknowledged_by), "
    "resolved_at = least(a.resolved_at, EXCLUDED.resolved_at), "
    "escalated_at = least(a.escalated_at, EXCLUDED.escalated_at), "
    "channels = ARRAY(SELECT DISTINCT c FROM "
    "unnest(a.channels || EXCLUDED.channels) AS c ORDER BY c)";

int
pgout_alert_params(const outpost_record_t *rec,
                   const char *values[PGOUT_ALERT_PARAMS],
                   char tmp[PGOUT_ALERT_TMP])
{
    const char *action, *integration, *prio, *status, *key;
    const outpost_field_t *since;
    int64_t ts_us, first_us, occ;
    int p, resolved, acked;
    char *t = tmp;

    if (rec->kind != OUTPOST_EVENT || rec->event == NULL
        || (rec->event_kind != OUTPOST_EV_ALERT
            && rec->event_kind != OUTPOST_EV_ESCALATE
            && rec->event_kind != OUTPOST_EV_RESOLVE))
        return -1;
    action = outpost_record_string(rec, OUTPOST_F_ACTION);
    integration = outpost_record_tag(rec, OUTPOST_TAG_INTEGRATION);
    if (integration == NULL)
        integration = "";
    key = rec->event->dedup_key && rec->event->dedup_key[0]
          ? rec->event->dedup_key : integration;
    ts_us = floor_div(rec->ts_ns, 1000);
    since = outpost_record_field(rec, "since");
    first_us = since && since->type == OUTPOST_FIELD_INT
               ? since->v.i * 1000000 : ts_us;
    occ = (int64_t) outpost_record_number(rec, OUTPOST_F_OCCURRENCES, 1);
    resolved = rec->event_kind == OUTPOST_EV_RESOLVE
               || (action && strcmp(action, "resolve") == 0);
    acked = (action && strcmp(action, "acknowledge") == 0)
            || outpost_record_number(rec, "acknowledged", 0) != 0;
    status = resolved ? "resolved" : acked ? "acknowledged" : "active";
    /* The alert's priority says how bad it is; a resolve's own severity
     * is always info. */
    prio = outpost_record_string(rec, OUTPOST_F_PRIORITY);
    p = outpost_priority_parse(prio);

    values[0] = key;
    values[1] = t;
    t += snprintf(t, 24, "%" PRId64, first_us) + 1;
    values[2] = integration;
    values[3] = outpost_record_tag(rec, OUTPOST_TAG_CATEGORY);
    values[4] = outpost_record_tag(rec, OUTPOST_TAG_PROVIDER);
    values[5] = outpost_severity_name(p >= 0 ? outpost_priority_severity(p)
                                      : (outpost_severity_t) rec->severity);
    values[6] = status;
    values[7] = rec->event->message ? rec->event->message : "";
    values[8] = t;
    t += snprintf(t, 24, "%" PRId64, occ) + 1;
    values[9] = t;
    snprintf(t, 24, "%" PRId64, ts_us);
    values[10] = outpost_record_string(rec, "acknowledged_by");
    values[11] = resolved ? "t" : "f";
    values[12] = rec->event_kind == OUTPOST_EV_ESCALATE ? "t" : "f";
    values[13] = outpost_record_tag(rec, OUTPOST_TAG_NOTIFY);
    return 0;
}
