/*
 * verdict.c - a vendor's status page verdict on checks and in messages
 * (see verdict.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include "verdict.h"

struct verdict {
    char *provider;                     /* the map's key */
    char *status, *description, *incidents;
};

static const char *
field_str(const outpost_record_t *rec, const char *key)
{
    const char *v = outpost_record_string(rec, key);

    return v && v[0] ? v : NULL;
}

static int
set_copy(char **dst, const char *src)
{
    char *c;

    if (*dst && strcmp(*dst, src ? src : "") == 0)
        return 0;
    if ((c = strdup(src ? src : "")) == NULL)
        return -1;
    free(*dst);
    *dst = c;
    return 0;
}

int
verdict_board_observe(struct verdict_board *b, const outpost_record_t *rec)
{
    const char *provider = outpost_record_tag(rec, OUTPOST_TAG_PROVIDER);
    const char *indicator;
    struct verdict *v;

    if (rec->kind != OUTPOST_MEASUREMENT || provider == NULL
        || (indicator = field_str(rec, OUTPOST_F_INDICATOR)) == NULL
        || outpost_record_tag(rec, OUTPOST_TAG_COMPONENT) != NULL)
        return 0;
    if ((v = strmap_get(&b->by_provider, provider)) == NULL) {
        if ((v = calloc(1, sizeof(*v))) == NULL)
            return 1;
        if ((v->provider = strdup(provider)) == NULL
            || strmap_put(&b->by_provider, v->provider, v) != 0) {
            free(v->provider);
            free(v);
            return 1;
        }
    }
    set_copy(&v->status, indicator);
    set_copy(&v->description, outpost_record_string(rec, OUTPOST_F_DESCRIPTION));
    set_copy(&v->incidents, outpost_record_string(rec, OUTPOST_F_INCIDENTS));
    return 1;
}

void
verdict_board_annotate(struct verdict_board *b, outpost_record_t *rec)
{
    const char *provider;
    const struct verdict *v;

    if (b->by_provider.n == 0 || rec->kind != OUTPOST_MEASUREMENT
        || (provider = outpost_record_tag(rec, OUTPOST_TAG_PROVIDER)) == NULL
        || (v = strmap_get(&b->by_provider, provider)) == NULL
        || field_str(rec, OUTPOST_F_INDICATOR) != NULL)
        return;
    /* The check's own status_page, when it has one, is fresher. */
    if (field_str(rec, OUTPOST_F_VENDOR_STATUS) != NULL
        && strcmp(outpost_record_string(rec, OUTPOST_F_VENDOR_STATUS), "unknown"))
        return;
    outpost_record_add_str(rec, OUTPOST_F_VENDOR_STATUS, v->status);
    outpost_record_add_str(rec, OUTPOST_F_VENDOR_DESCRIPTION, v->description);
    outpost_record_add_str(rec, OUTPOST_F_VENDOR_INCIDENTS, v->incidents);
}

static void
free_verdict(void *value, void *arg)
{
    struct verdict *v = value;

    (void) arg;
    free(v->provider);
    free(v->status);
    free(v->description);
    free(v->incidents);
    free(v);
}

void
verdict_board_free(struct verdict_board *b)
{
    strmap_each(&b->by_provider, free_verdict, NULL);
    strmap_free(&b->by_provider);
}

const char *
verdict_status(const outpost_record_t *rec)
{
    const char *s = field_str(rec, OUTPOST_F_VENDOR_STATUS);

    if (s == NULL)
        s = field_str(rec, OUTPOST_F_INDICATOR);
    return s && strcmp(s, "unknown") != 0 ? s : NULL;
}

char *
verdict_text(const outpost_record_t *rec, char *buf, size_t len)
{
    const char *status = verdict_status(rec), *what, *detail, *vendor;
    int own = field_str(rec, OUTPOST_F_VENDOR_STATUS) != NULL;
    char name[64];

    buf[0] = '\0';
    if (status == NULL || len == 0)
        return buf;
    vendor = outpost_record_tag(rec, OUTPOST_TAG_PROVIDER);
    if (vendor == NULL)
        vendor = outpost_record_tag(rec, OUTPOST_TAG_INTEGRATION);
    snprintf(name, sizeof(name), "%s", vendor ? vendor : "the vendor");
    name[0] = (char) toupper((unsigned char) name[0]);
    if (strcmp(status, "none") == 0) {
        snprintf(buf, len, "%s's status page shows no incident", name);
        return buf;
    }
    what = strcmp(status, "minor") == 0 ? "a minor outage"
           : strcmp(status, "major") == 0 ? "a major outage"
           : strcmp(status, "critical") == 0 ? "a critical outage"
           : "an incident";
    /* An incident's own name says more than the page's summary line. */
    detail = field_str(rec, own ? "vendor_incidents" : "incidents");
    if (detail == NULL)
        detail = field_str(rec, own ? "vendor_description" : "description");
    snprintf(buf, len, "%s reports %s%s%s", name, what, detail ? ": " : "",
             detail ? detail : "");
    return buf;
}

void
verdict_copy(const outpost_record_t *rec, outpost_record_t *ev)
{
    static const char *const own[] = {
        "vendor_status", "vendor_description", "vendor_incidents",
    };
    static const char *const page[] = {
        "indicator", "description", "incidents",
    };
    int mine = field_str(rec, OUTPOST_F_VENDOR_STATUS) != NULL;

    if (verdict_status(rec) == NULL)
        return;
    for (size_t i = 0; i < 3; i++) {
        const char *v = outpost_record_string(rec, mine ? own[i] : page[i]);
        if (v)
            outpost_record_add_str(ev, own[i], v);
    }
}
