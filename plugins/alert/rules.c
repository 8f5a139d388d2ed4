/*
 * rules.c - see rules.h.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include <outpost/pattern.h>
#include "rules.h"

const char *
al_sev_name(enum al_sev s)
{
    return outpost_priority_name(s);
}

int
al_sev_parse(const char *s)
{
    return outpost_priority_parse(s);
}

/* s without leading and trailing blanks, copied. */
static char *
trimmed(const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    return strndup(s, len);
}

int
al_match_add(struct al_match *m, const char *term, char *err, size_t errlen)
{
    const char *eq = strchr(term, '=');
    char why[128];
    struct al_term *t = realloc(m->terms, (m->n + 1) * sizeof(*t));

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    m->terms = t;
    t = &m->terms[m->n];
    t->key = eq ? trimmed(term, (size_t) (eq - term)) : strdup("integration");
    t->glob = trimmed(eq ? eq + 1 : term, strlen(eq ? eq + 1 : term));
    if (t->key == NULL || t->glob == NULL) {
        free(t->key);
        free(t->glob);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (t->key[0] == '\0' || t->glob[0] == '\0') {
        snprintf(err, errlen, "\"%s\": expected key=glob", term);
        free(t->key);
        free(t->glob);
        return -1;
    }
    if (outpost_glob_check(t->glob, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "\"%.60s\": glob %s", term, why);
        free(t->key);
        free(t->glob);
        return -1;
    }
    m->n++;
    return 0;
}

int
al_match_parse(struct al_match *m, const char *text, char *err,
               size_t errlen)
{
    const char *p = text ? text : "";

    memset(m, 0, sizeof(*m));
    while (*p == ' ')
        p++;
    if (*p == '\0' || strcmp(p, "*") == 0)
        return 0;
    while (*p) {
        size_t n = strcspn(p, ",");
        char *term = strndup(p, n);
        int rc = term ? al_match_add(m, term, err, errlen) : -1;

        free(term);
        if (rc != 0) {
            al_match_free(m);
            return -1;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

int
al_match_test(const struct al_match *m, al_attr_fn attr, const void *obj)
{
    for (size_t i = 0; i < m->n; i++) {
        const char *v = attr(obj, m->terms[i].key);
        if (v == NULL || fnmatch(m->terms[i].glob, v, 0) != 0)
            return 0;
    }
    return 1;
}

void
al_match_free(struct al_match *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->terms[i].key);
        free(m->terms[i].glob);
    }
    free(m->terms);
    memset(m, 0, sizeof(*m));
}

static int
rule_parse(struct al_rule *r, const char *line, char *err, size_t errlen)
{
    const char *colon = strrchr(line, ':');
    char *cond, *sev;
    int s, rc;

    if (colon == NULL) {
        snprintf(err, errlen, "severity rule \"%s\": expected "
                 "\"<key=glob,...>:<severity>\"", line);
        return -1;
    }
    sev = trimmed(colon + 1, strlen(colon + 1));
    s = al_sev_parse(sev);
    free(sev);
    if (s < 0) {
        snprintf(err, errlen, "severity rule \"%s\": severity must be "
                 "critical, high, medium or low", line);
        return -1;
    }
    cond = strndup(line, (size_t) (colon - line));
    rc = cond ? al_match_parse(&r->match, cond, err, errlen) : -1;
    free(cond);
    r->sev = (enum al_sev) s;
    return rc;
}

int
al_rules_parse(const outpost_strlist_t *lines, struct al_rule **rules,
               size_t *n, char *err, size_t errlen)
{
    struct al_rule *r = calloc(lines->n + 1, sizeof(*r));

    *rules = NULL;
    *n = 0;
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < lines->n; i++) {
        if (rule_parse(&r[i], lines->v[i], err, errlen) != 0) {
            al_rules_free(r, i);
            return -1;
        }
    }
    *rules = r;
    *n = lines->n;
    return 0;
}

void
al_rules_free(struct al_rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++)
        al_match_free(&rules[i].match);
    free(rules);
}

enum al_sev
al_rules_eval(const struct al_rule *rules, size_t n, al_attr_fn attr,
              const void *obj)
{
    for (size_t i = 0; i < n; i++)
        if (al_match_test(&rules[i].match, attr, obj))
            return rules[i].sev;
    return AL_LOW;
}
