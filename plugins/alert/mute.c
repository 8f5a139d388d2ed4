/*
 * mute.c - silences (added by operators at run time, until an instant)
 * and maintenance windows (configured, recurring in local time). Both
 * mute notifications only: the events are still emitted and recorded.
 *
 * A maintenance window is one string of comma-separated terms:
 *     start=02:00,duration=1h,weekdays=sat|sun,timezone=Europe/Berlin,
 *     match=integration=crm,match=tier=basic
 * start and duration are required; weekdays (default every day) names
 * the days the window starts on; timezone defaults to UTC; every match
 * term must hold (none: every integration).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alert.h"
#include "tz.h"

#define ALL_DAYS 0x7fu

/* --- durations ---------------------------------------------------------- */

/* The two largest units: "450ms", "45s", "1m", "10m10s", "2h5m", "3d4h". */
void
al_duration_format(int64_t ms, char *buf, size_t len)
{
    static const struct { int64_t secs; char unit; } units[] = {
        { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
    };
    int64_t s = ms / 1000;
    size_t i = 0;

    if (ms < 1000) {
        snprintf(buf, len, "%lldms", (long long) ms);
        return;
    }
    while (i < 3 && s < units[i].secs)
        i++;
    if (i < 3 && s % units[i].secs / units[i + 1].secs != 0)
        snprintf(buf, len, "%lld%c%lld%c", (long long) (s / units[i].secs),
                 units[i].unit,
                 (long long) (s % units[i].secs / units[i + 1].secs),
                 units[i + 1].unit);
    else
        snprintf(buf, len, "%lld%c", (long long) (s / units[i].secs),
                 units[i].unit);
}

/* --- maintenance windows ------------------------------------------------ */

/* "sat|sun": day names, any prefix of three letters or more. */
static int
parse_weekdays(const char *v, unsigned *mask)
{
    static const char *const names[] = { "sunday", "monday", "tuesday",
                                         "wednesday", "thursday", "friday",
                                         "saturday" };
    *mask = 0;
    while (*v) {
        size_t n = strcspn(v, "|");
        int found = 0;

        for (int d = 0; d < 7; d++) {
            if (n >= 3 && n <= strlen(names[d])
                && strncasecmp(v, names[d], n) == 0) {
                *mask |= 1u << d;
                found = 1;
            }
        }
        if (!found)
            return -1;
        v += n;
        if (*v == '|')
            v++;
    }
    return *mask ? 0 : -1;
}

static int
parse_start(const char *v, int *minutes)
{
    int h, m;
    char tail;

    if (sscanf(v, "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 23
        || m < 0 || m > 59)
        return -1;
    *minutes = h * 60 + m;
    return 0;
}

/* One "key=value" term of a window. */
static int
window_term(struct al_window *w, const char *term, int *have_start,
            int64_t *dur_ms, char *tzname, size_t tzlen, char *err,
            size_t errlen)
{
    const char *eq = strchr(term, '=');
    size_t klen = eq ? (size_t) (eq - term) : 0;
    const char *v = eq ? eq + 1 : "";

#define IS(k) (klen == strlen(k) && strncmp(term, k, klen) == 0)
    if (IS("start")) {
        *have_start = 1;
        if (parse_start(v, &w->start_min) == 0)
            return 0;
        snprintf(err, errlen, "start \"%.100s\": expected HH:MM", v);
    } else if (IS("duration")) {
        if (outpost_duration_parse(v, dur_ms) == 0 && *dur_ms > 0)
            return 0;
        snprintf(err, errlen, "duration \"%.100s\": expected e.g. 30m, 2h", v);
    } else if (IS("weekdays")) {
        if (parse_weekdays(v, &w->weekdays) == 0)
            return 0;
        snprintf(err, errlen, "weekdays \"%.100s\": expected e.g. sat|sun", v);
    } else if (IS("timezone")) {
        snprintf(tzname, tzlen, "%s", v);
        return 0;
    } else if (IS("match")) {
        return al_match_add(&w->match, v, err, errlen);
    } else {
        snprintf(err, errlen, "unknown term \"%.100s\" (use start, duration, "
                 "weekdays, timezone, match)", term);
    }
#undef IS
    return -1;
}

static int
window_parse(struct al_window *w, const char *text, char *err,
             size_t errlen)
{
    char tzname[256] = "UTC", term[512];
    int64_t dur_ms = 0;
    int have_start = 0;

    memset(w, 0, sizeof(*w));
    w->weekdays = ALL_DAYS;
    if ((w->text = strdup(text)) == NULL)
        return -1;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, ",");
        snprintf(term, sizeof(term), "%.*s", (int) n, p);
        if (window_term(w, term, &have_start, &dur_ms, tzname,
                        sizeof(tzname), err, errlen) != 0)
            return -1;
        p += n;
        if (*p == ',')
            p++;
    }
    if (!have_start || dur_ms <= 0) {
        snprintf(err, errlen, "start and duration are required");
        return -1;
    }
    w->duration_s = dur_ms / 1000;
    w->tz = tz_load(tzname, err, errlen);
    return w->tz ? 0 : -1;
}

static void
window_free(struct al_window *w)
{
    free(w->text);
    tz_free(w->tz);
    al_match_free(&w->match);
}

int
al_windows_parse(struct alerter *st, char *err, size_t errlen)
{
    const outpost_strlist_t *l = &st->conf->maintenance;
    char why[400];

    st->windows = calloc(l->n + 1, sizeof(*st->windows));
    if (st->windows == NULL)
        return -1;
    for (size_t i = 0; i < l->n; i++) {
        if (window_parse(&st->windows[i], l->v[i], why, sizeof(why)) != 0) {
            snprintf(err, errlen, "maintenance \"%s\": %s", l->v[i], why);
            window_free(&st->windows[i]);
            return -1;
        }
        st->nwindows++;
    }
    return 0;
}

void
al_windows_free(struct alerter *st)
{
    for (size_t i = 0; i < st->nwindows; i++)
        window_free(&st->windows[i]);
    free(st->windows);
    st->windows = NULL;
    st->nwindows = 0;
}

/* Is now (ns) inside an occurrence of w? Occurrences start on the listed
 * weekdays at start (local time); one may have begun on an earlier day
 * and still run. Local time is UTC plus the offset now, so a window that
 * spans a DST change is off by the change. */
int
al_window_covers(const struct al_window *w, int64_t now)
{
    int64_t t = now / NS_PER_S;
    int64_t local = t + tz_offset(w->tz, t);
    int64_t day = local / 86400 - (local % 86400 < 0);
    int64_t back = w->duration_s / 86400 + 1;

    for (int64_t d = day; d >= day - back; d--) {
        int wday = (int) (((d % 7) + 11) % 7);
        int64_t start = d * 86400 + w->start_min * 60;

        if ((w->weekdays & (1u << wday)) && local >= start
            && local < start + w->duration_s)
            return 1;
    }
    return 0;
}

const struct al_window *
al_window_active(const struct alerter *st, al_attr_fn attr, const void *obj,
                 int64_t now)
{
    for (size_t i = 0; i < st->nwindows; i++)
        if (al_match_test(&st->windows[i].match, attr, obj)
            && al_window_covers(&st->windows[i], now))
            return &st->windows[i];
    return NULL;
}

/* --- silences ----------------------------------------------------------- */

const struct al_silence *
al_silence_active(const struct alerter *st, al_attr_fn attr, const void *obj,
                  int64_t now)
{
    for (size_t i = 0; i < st->nsilences; i++)
        if (st->silences[i].until_ns > now
            && al_match_test(&st->silences[i].match, attr, obj))
            return &st->silences[i];
    return NULL;
}

int
al_silence_add(struct alerter *st, const char *match, int64_t until_ns,
               const char *comment, const char *by, int64_t now, char *id,
               size_t idlen, char *err, size_t errlen)
{
    struct al_silence *s, *v;

    if (until_ns <= now) {
        snprintf(err, errlen, "the silence would end in the past");
        return -1;
    }
    v = realloc(st->silences, (st->nsilences + 1) * sizeof(*v));
    if (v == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    st->silences = v;
    s = &v[st->nsilences];
    memset(s, 0, sizeof(*s));
    if (al_match_parse(&s->match, match, err, errlen) != 0)
        return -1;
    s->match_text = strdup(match);
    s->comment = strdup(comment ? comment : "");
    s->created_by = strdup(by ? by : "");
    if (s->match_text == NULL || s->comment == NULL
        || s->created_by == NULL) {
        free(s->match_text);
        free(s->comment);
        free(s->created_by);
        al_match_free(&s->match);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (id && id[0])
        snprintf(s->id, sizeof(s->id), "%s", id);     /* restored */
    else
        snprintf(s->id, sizeof(s->id), "s%lld",
                 (long long) ++st->next_silence);
    s->until_ns = until_ns;
    s->created_ns = now;
    st->nsilences++;
    if (id)
        snprintf(id, idlen, "%s", s->id);
    return 0;
}

static void
silence_free(struct al_silence *s)
{
    free(s->match_text);
    free(s->comment);
    free(s->created_by);
    al_match_free(&s->match);
}

static void
silence_drop(struct alerter *st, size_t i)
{
    silence_free(&st->silences[i]);
    memmove(&st->silences[i], &st->silences[i + 1],
            (st->nsilences - i - 1) * sizeof(st->silences[0]));
    st->nsilences--;
}

int
al_silence_remove(struct alerter *st, const char *id)
{
    for (size_t i = 0; i < st->nsilences; i++) {
        if (strcmp(st->silences[i].id, id) == 0) {
            silence_drop(st, i);
            return 0;
        }
    }
    return -1;
}

size_t
al_silences_expire(struct alerter *st, int64_t now)
{
    size_t n = 0;

    for (size_t i = st->nsilences; i-- > 0;) {
        if (st->silences[i].until_ns <= now) {
            silence_drop(st, i);
            n++;
        }
    }
    return n;
}

void
al_silences_free(struct alerter *st)
{
    for (size_t i = 0; i < st->nsilences; i++)
        silence_free(&st->silences[i]);
    free(st->silences);
    st->silences = NULL;
    st->nsilences = 0;
}
