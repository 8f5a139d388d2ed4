/*
 * config_fallback.c - the `fallback` option of the notifier outputs,
 * checked once every file is read (the outputs it names may come in a
 * later file).
 *
 * `fallback = "mail"` on a notifier names another notifier instance
 * ("name" or "plugin:name") that receives this one's events while it has
 * been failing for `fallback_after` (core/output.c, "Fallback"). The
 * option table already refuses a name no output has (OUTPOST_OPT_OUTPUTS);
 * here: the section must be a notifier, the name one notifier and not
 * the section itself, and following fallbacks from it must never come
 * back to it (each cycle is reported once per member). Problems are at
 * the option's line.
 */
#include <stdio.h>
#include <string.h>
#include "config.h"
#include "config_internal.h"
#include "diag.h"
#include "registry.h"

static int
is_notifier(const struct section *s)
{
    return s->plugin->kind == OUTPOST_OUTPUT
           && (s->plugin->flags & OUTPOST_PLUGIN_NOTIFIER) != 0;
}

/* The output section called name ("name" or "plugin:name"), or NULL;
 * *twice when the bare name fits more than one. */
static const struct section *
find_output(const struct config *c, const char *name, int *twice)
{
    const struct section *hit = NULL;
    const char *colon = strchr(name, ':');

    *twice = 0;
    for (size_t i = 0; i < c->nsections; i++) {
        const struct section *s = &c->sections[i];
        size_t plen = strlen(s->plugin->name);

        if (s->plugin->kind != OUTPOST_OUTPUT)
            continue;
        if (colon && (size_t) (colon - name) == plen
            && strncmp(name, s->plugin->name, plen) == 0
            && strcmp(colon + 1, s->instance) == 0)
            return s;
        if (!colon && strcmp(name, s->instance) == 0) {
            if (hit)
                *twice = 1;
            hit = s;
        }
    }
    return hit;
}

/* Where the option was set: its ref (config_parse.c keeps one for each
 * value naming outputs), else the section's line. */
static void
option_at(const struct load *L, const struct section *s, const char **file,
          int *line)
{
    char what[512];

    snprintf(what, sizeof(what), "option 'fallback' in %s \"%s\"",
             s->plugin->name, s->instance);
    *file = s->file;
    *line = s->line;
    for (size_t i = 0; i < L->nrefs; i++)
        if (strcmp(L->refs[i].what, what) == 0) {
            *file = L->refs[i].file;
            *line = L->refs[i].line;
        }
}

void
config_fallback_check(struct load *L)
{
    const struct config *c = L->c;

    for (size_t i = 0; i < c->nsections; i++) {
        const struct section *s = &c->sections[i], *t, *u;
        const char *fb = s->common.fallback, *file;
        int line, twice;
        size_t hops;

        if (fb == NULL || *fb == '\0')
            continue;
        option_at(L, s, &file, &line);
        if (!is_notifier(s)) {
            diag_add(L->d, file, line, "option 'fallback' in %s \"%s\": "
                     "only a notifier (slack, email, sms, pagerduty, "
                     "webhook...) has a fallback", s->plugin->name,
                     s->instance);
            continue;
        }
        if (strchr(fb, ',')) {
            diag_add(L->d, file, line, "option 'fallback' in %s \"%s\": "
                     "one output, not a list", s->plugin->name,
                     s->instance);
            continue;
        }
        if ((t = find_output(c, fb, &twice)) == NULL)
            continue;               /* config_refs_check said so */
        if (twice) {
            diag_add(L->d, file, line, "option 'fallback' in %s \"%s\": "
                     "more than one output is called \"%s\": write "
                     "\"plugin:%s\"", s->plugin->name, s->instance, fb, fb);
            continue;
        }
        if (t == s) {
            diag_add(L->d, file, line, "option 'fallback' in %s \"%s\": "
                     "an output cannot be its own fallback",
                     s->plugin->name, s->instance);
            continue;
        }
        if (!is_notifier(t)) {
            diag_add(L->d, file, line, "option 'fallback' in %s \"%s\": "
                     "%s \"%s\" is not a notifier", s->plugin->name,
                     s->instance, t->plugin->name, t->instance);
            continue;
        }
        /* A chain is at most as long as the sections. */
        for (u = t, hops = 0; u && u != s && hops < c->nsections; hops++) {
            const char *next = u->common.fallback;

            u = next && *next ? find_output(c, next, &twice) : NULL;
        }
        if (u == s)
            diag_add(L->d, file, line, "option 'fallback' in %s \"%s\": "
                     "fallbacks go round in a cycle back to it (via %s "
                     "\"%s\")", s->plugin->name, s->instance,
                     t->plugin->name, t->instance);
    }
}
