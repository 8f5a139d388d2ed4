/*
 * tz.c - see tz.h. The TZif format is RFC 8536: a version 1 block with
 * 32-bit times, then (version 2+) the same data with 64-bit times and a
 * footer holding a POSIX TZ string for instants after the last
 * transition. We read the 64-bit block and the footer; leap seconds are
 * ignored (offsets to civil time are all we need).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tz.h"

#define TZ_FILE_MAX (1024 * 1024)

/* A POSIX TZ rule: std offset, and optionally dst with its change dates
 * in the "Mm.w.d/time" form (the only one tzdata footers use). */
struct tz_rule {
    int     valid;
    int32_t std_off, dst_off;       /* seconds east of UTC */
    int     has_dst;
    int     month[2], week[2], wday[2];
    int32_t at[2];                  /* seconds after local midnight */
};

struct tz {
    size_t          ntrans;
    int64_t        *trans;          /* transition instants, ascending */
    uint8_t        *idx;            /* type index after each transition */
    size_t          ntypes;
    int32_t        *utoff;          /* per type */
    int32_t         first_off;      /* before the first transition */
    struct tz_rule  rule;           /* after the last one */
};

int64_t
tz_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil. */
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned) (y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int
year_of(int64_t t)
{
    /* civil_from_days, year only. */
    int64_t z = floor_div(t, 86400) + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    return (int) (yoe + era * 400 + (mp >= 10));
}

/* --- POSIX TZ strings --------------------------------------------------- */

static const char *
skip_name(const char *p)
{
    if (*p == '<') {
        p = strchr(p, '>');
        return p ? p + 1 : NULL;
    }
    while (isalpha((unsigned char) *p))
        p++;
    return p;
}

/* [+-]hh[:mm[:ss]] -> seconds; NULL when malformed. */
static const char *
parse_hms(const char *p, int32_t *secs)
{
    int sign = 1, h = 0, m = 0, s = 0;

    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char) *p))
        return NULL;
    h = (int) strtol(p, (char **) &p, 10);
    if (*p == ':') {
        m = (int) strtol(p + 1, (char **) &p, 10);
        if (*p == ':')
            s = (int) strtol(p + 1, (char **) &p, 10);
    }
    *secs = sign * (h * 3600 + m * 60 + s);
    return p;
}

/* ",Mm.w.d[/time]" */
static const char *
parse_date(const char *p, struct tz_rule *r, int i)
{
    char *end;

    if (p[0] != ',' || p[1] != 'M')
        return NULL;
    r->month[i] = (int) strtol(p + 2, &end, 10);
    if (*end != '.')
        return NULL;
    r->week[i] = (int) strtol(end + 1, &end, 10);
    if (*end != '.')
        return NULL;
    r->wday[i] = (int) strtol(end + 1, &end, 10);
    r->at[i] = 7200;
    p = end;
    if (*p == '/')
        p = parse_hms(p + 1, &r->at[i]);
    if (p == NULL || r->month[i] < 1 || r->month[i] > 12 || r->week[i] < 1
        || r->week[i] > 5 || r->wday[i] < 0 || r->wday[i] > 6)
        return NULL;
    return p;
}

static void
parse_rule(const char *s, struct tz_rule *r)
{
    const char *p = skip_name(s);
    int32_t off;

    memset(r, 0, sizeof(*r));
    if (p == NULL || p == s || (p = parse_hms(p, &off)) == NULL)
        return;
    r->std_off = r->dst_off = -off;           /* POSIX counts westwards */
    r->valid = 1;
    if (*p == '\0')
        return;
    s = p;
    if ((p = skip_name(s)) == NULL || p == s)
        goto no_dst;
    r->dst_off = r->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if ((p = parse_hms(p, &off)) == NULL)
            goto no_dst;
        r->dst_off = -off;
    }
    if ((p = parse_date(p, r, 0)) == NULL || parse_date(p, r, 1) == NULL)
        goto no_dst;
    r->has_dst = 1;
    return;
no_dst:
    r->dst_off = r->std_off;               /* unsupported form: no DST */
}

/* Local midnight (as seconds since the epoch, local clock) of the w-th
 * wday of month m in year y; w = 5 means the last one. */
static int64_t
rule_day(int y, int m, int w, int wday)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
                                 30, 31 };
    int64_t first = tz_days_from_civil(y, (unsigned) m, 1);
    int first_wday = (int) ((first % 7 + 11) % 7);   /* 1970-01-01: Thu */
    int day = 1 + (wday - first_wday + 7) % 7 + (w - 1) * 7;
    int len = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0)
                                         || y % 400 == 0));

    while (day > len)
        day -= 7;
    return (first + day - 1) * 86400;
}

static int32_t
rule_offset(const struct tz_rule *r, int64_t t)
{
    int y = year_of(t + r->std_off);
    int64_t start, end;

    if (!r->has_dst)
        return r->std_off;
    /* Starts are written in standard time, ends in daylight time. */
    start = rule_day(y, r->month[0], r->week[0], r->wday[0]) + r->at[0]
            - r->std_off;
    end = rule_day(y, r->month[1], r->week[1], r->wday[1]) + r->at[1]
          - r->dst_off;
    if (start < end)
        return t >= start && t < end ? r->dst_off : r->std_off;
    return t >= end && t < start ? r->std_off : r->dst_off;
}

/* --- TZif files --------------------------------------------------------- */

static uint32_t
be32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
    return (int64_t) ((uint64_t) be32(p) << 32 | be32(p + 4));
}

struct counts {
    uint32_t isut, isstd, leap, time, type, chars;
};

static int
read_header(const unsigned char *p, size_t len, struct counts *c)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    return c->type == 0 || c->type > 256 || c->time > 100000 ? -1 : 0;
}

static size_t
block_len(const struct counts *c, size_t tsize)
{
    return c->time * tsize + c->time + c->type * 6 + c->chars
           + c->leap * (tsize + 4) + c->isstd + c->isut;
}

static int
parse_tzif(struct tz *tz, const unsigned char *buf, size_t len)
{
    struct counts c;
    const unsigned char *p;
    size_t skip;

    if (read_header(buf, len, &c) != 0)
        return -1;
    if (buf[4] < '2')
        return -1;                      /* v1 only: too old to bother */
    skip = 44 + block_len(&c, 4);
    if (read_header(buf + skip, len - skip, &c) != 0
        || skip + 44 + block_len(&c, 8) > len)
        return -1;
    p = buf + skip + 44;
    tz->ntrans = c.time;
    tz->ntypes = c.type;
    tz->trans = calloc(c.time + 1, sizeof(*tz->trans));
    tz->idx = calloc(c.time + 1, 1);
    tz->utoff = calloc(c.type, sizeof(*tz->utoff));
    if (tz->trans == NULL || tz->idx == NULL || tz->utoff == NULL)
        return -1;
    for (uint32_t i = 0; i < c.time; i++)
        tz->trans[i] = be64(p + i * 8);
    p += c.time * 8;
    for (uint32_t i = 0; i < c.time; i++)
        tz->idx[i] = p[i] < c.type ? p[i] : 0;
    p += c.time;
    for (uint32_t i = 0; i < c.type; i++)
        tz->utoff[i] = (int32_t) be32(p + i * 6);
    tz->first_off = tz->utoff[0];
    p = buf + skip + 44 + block_len(&c, 8);
    if (p < buf + len && *p == '\n') {
        char footer[128];
        size_t n = strcspn((const char *) p + 1, "\n");
        if (n < sizeof(footer) && p + 1 + n < buf + len) {
            memcpy(footer, p + 1, n);
            footer[n] = '\0';
            parse_rule(footer, &tz->rule);
        }
    }
    return 0;
}

static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;

    if (f == NULL)
        return NULL;
    buf = malloc(TZ_FILE_MAX);
    *len = buf ? fread(buf, 1, TZ_FILE_MAX, f) : 0;
    fclose(f);
    return buf;
}

static int
safe_name(const char *name)
{
    return name[0] != '/' && strstr(name, "..") == NULL;
}

struct tz *
tz_load(const char *name, char *err, size_t errlen)
{
    const char *dir = getenv("TZDIR");
    struct tz *tz = calloc(1, sizeof(*tz));
    unsigned char *buf = NULL;
    char path[4096];
    size_t len = 0;

    if (tz == NULL)
        goto fail;
    if (name == NULL || name[0] == '\0' || strcmp(name, "UTC") == 0
        || strcmp(name, "GMT") == 0 || strcmp(name, "Z") == 0)
        return tz;                      /* no transitions, offset 0 */
    if (!safe_name(name))
        goto fail;
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/usr/share/zoneinfo",
             name);
    buf = slurp(path, &len);
    if (buf == NULL || parse_tzif(tz, buf, len) != 0)
        goto fail;
    free(buf);
    return tz;
fail:
    snprintf(err, errlen, "unknown time zone \"%s\"", name ? name : "");
    free(buf);
    tz_free(tz);
    return NULL;
}

void
tz_free(struct tz *tz)
{
    if (tz == NULL)
        return;
    free(tz->trans);
    free(tz->idx);
    free(tz->utoff);
    free(tz);
}

int32_t
tz_offset(const struct tz *tz, int64_t t)
{
    size_t lo = 0, hi;

    if (tz->ntrans == 0 || t < tz->trans[0])
        return tz->ntrans == 0 && tz->rule.valid
               ? rule_offset(&tz->rule, t) : tz->first_off;
    if (t >= tz->trans[tz->ntrans - 1] && tz->rule.valid)
        return rule_offset(&tz->rule, t);
    hi = tz->ntrans;
    while (hi - lo > 1) {           /* last transition at or before t */
        size_t mid = (lo + hi) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->utoff[tz->idx[lo]];
}
