/*
 * rules.h - matchers ("integration=stripe*,tier=enterprise") and severity
 * rules ("status=down,tier=enterprise:critical"), used by severity rules,
 * silences and maintenance windows alike.
 *
 * A matcher is a list of terms that must all hold; a term is key=glob
 * (fnmatch(3)), or a bare glob, which matches the integration. "*" or an
 * empty text is the matcher that matches everything. What a key means is
 * up to the caller's attribute function (see al_alert_attr).
 */
#ifndef OUTPOST_ALERT_RULES_H
#define OUTPOST_ALERT_RULES_H

#include <outpost/fields.h>
#include <stddef.h>
#include <outpost/plugin.h>

/* Severities of alerting policy, most severe first. */
/* The priorities of outpost/fields.h. */
enum al_sev {
    AL_CRITICAL = OUTPOST_PRIORITY_CRITICAL, AL_HIGH = OUTPOST_PRIORITY_HIGH,
    AL_MEDIUM = OUTPOST_PRIORITY_MEDIUM, AL_LOW = OUTPOST_PRIORITY_LOW,
    AL_SEV_N = OUTPOST_PRIORITY_COUNT
};

const char *al_sev_name(enum al_sev s);
int         al_sev_parse(const char *s);      /* -1 when unknown */

/* The value of attribute key of obj, or NULL when it has none. */
typedef const char *(*al_attr_fn)(const void *obj, const char *key);

struct al_term {
    char *key;
    char *glob;
};

struct al_match {
    struct al_term *terms;
    size_t          n;         /* 0: matches everything */
};

/* Parses text, terms separated by ','. 0, or -1 with err set. */
int  al_match_parse(struct al_match *m, const char *text, char *err,
                    size_t errlen);
/* Adds one term ("key=glob" or a bare glob). */
int  al_match_add(struct al_match *m, const char *term, char *err,
                  size_t errlen);
int  al_match_test(const struct al_match *m, al_attr_fn attr,
                   const void *obj);
void al_match_free(struct al_match *m);

struct al_rule {
    struct al_match match;
    enum al_sev     sev;
};

/* Parses "<matcher>:<severity>" lines; first match wins. */
int  al_rules_parse(const outpost_strlist_t *lines, struct al_rule **rules,
                    size_t *n, char *err, size_t errlen);
void al_rules_free(struct al_rule *rules, size_t n);
/* The severity of the first rule obj matches; low when none does. */
enum al_sev al_rules_eval(const struct al_rule *rules, size_t n,
                          al_attr_fn attr, const void *obj);

#endif
