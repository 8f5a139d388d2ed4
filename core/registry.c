/*
 * registry.c - the loaded plugins.
 *
 * Invariant: every plugin in the registry passed registry_check_abi() and
 * has a name no other entry has. Modules are opened with libltdl and stay
 * open until registry_free(), which closes them only so that leak checkers
 * see a clean exit: free the registry after every instance (and config)
 * that points into its plugins.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ltdl.h>
#include "config.h"
#include "options.h"
#include "registry.h"

/* The size of outpost_plugin_t in ABI version 1. A later version may only
 * append fields (providers came after validate), so a plugin's struct is
 * never smaller than this; read an appended field with plugin_has(). */
#define PLUGIN_V1_SIZE offsetof(outpost_plugin_t, providers)

/* Names that the top level of outpost.conf uses itself. */
static const char *const reserved[] = {
    "api", "interval", "timeout", "plugin_dir", "conf_dir", "state_dir",
    "log_level", "log_format", NULL
};

struct entry {
    const outpost_plugin_t *plugin;
    char                   *origin;   /* module path, or "built-in" */
    lt_dlhandle             handle;   /* NULL when compiled in */
};

struct registry {
    struct entry *v;
    size_t        n, cap;
};

struct registry *
registry_new(void)
{
    struct registry *r = calloc(1, sizeof(*r));

    /* lt_dlinit counts its callers; registry_free makes the matching
     * lt_dlexit. */
    if (r != NULL && lt_dlinit() != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void
registry_free(struct registry *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].handle != NULL)
            lt_dlclose(r->v[i].handle);
        free(r->v[i].origin);
    }
    free(r->v);
    free(r);
    lt_dlexit();
}

/* --- the checks -------------------------------------------------------- */

static size_t
slot_size(outpost_opt_type_t type)
{
    switch (type) {
    case OUTPOST_OPT_INT:
    case OUTPOST_OPT_DURATION: return sizeof(int64_t);
    case OUTPOST_OPT_FLOAT:    return sizeof(double);
    case OUTPOST_OPT_BOOL:     return sizeof(int);
    case OUTPOST_OPT_STRLIST:  return sizeof(outpost_strlist_t);
    case OUTPOST_OPT_INTLIST:  return sizeof(outpost_intlist_t);
    default:                   return sizeof(char *);
    }
}

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
                   "0123456789_"

static int
valid_name(const char *s, size_t max, const char *chars)
{
    size_t len = strlen(s);

    return len > 0 && len <= max && strspn(s, chars) == len;
}

/* Is one of o's names (x; for a secret also x_env, x_file) taken by an
 * earlier row or by a common option? The name goes to buf. */
static int
clash(const outpost_option_t *table, const outpost_option_t *o,
      const outpost_option_t *common, char *buf, size_t len)
{
    static const char *const suffix[] = { "", "_env", "_file" };
    enum secret_variant v;
    int nnames = o->type == OUTPOST_OPT_SECRET ? 3 : 1;

    for (int i = 0; i < nnames; i++) {
        const outpost_option_t *other;

        snprintf(buf, len, "%s%s", o->name, suffix[i]);
        other = option_find(table, buf, &v);
        if ((other != NULL && other < o) || option_find(common, buf, &v))
            return 1;
    }
    return 0;
}

static int
check_option(const outpost_plugin_t *p, const outpost_option_t *o,
             char *why, size_t len)
{
    char name[OPTION_NAME_MAX + 8], reason[256];

    if (!valid_name(o->name, OPTION_NAME_MAX, NAME_CHARS)) {
        snprintf(why, len, "the name is not 1 to %d letters, digits or '_'",
                 OPTION_NAME_MAX);
        return -1;
    }
    if (o->type < OUTPOST_OPT_STRING || o->type > OUTPOST_OPT_ENUM) {
        snprintf(why, len, "unknown type %d", (int) o->type);
        return -1;
    }
    if (o->offset + slot_size(o->type) > p->conf_size) {
        snprintf(why, len, "offset %zu is outside the conf block "
                 "(conf_size %zu)", o->offset, p->conf_size);
        return -1;
    }
    if (o->type == OUTPOST_OPT_ENUM && (!o->choices || !o->choices[0])) {
        snprintf(why, len, "an enum needs choices");
        return -1;
    }
    if (clash(p->options, o, config_common_options(p->kind), name,
              sizeof(name))) {
        snprintf(why, len, "'%s' is defined twice or is a common option",
                 name);
        return -1;
    }
    if (o->def != NULL && option_check_default(o, reason, sizeof(reason))) {
        snprintf(why, len, "default %s: %s", o->def, reason);
        return -1;
    }
    return 0;
}

static const char *
missing_callback(const outpost_plugin_t *p)
{
    if (p->kind == OUTPOST_INPUT && p->collect == NULL)
        return "an input but has no collect";
    if (p->kind == OUTPOST_FILTER && p->process == NULL)
        return "a filter but has no process";
    if (p->kind == OUTPOST_OUTPUT && p->write == NULL)
        return "an output but has no write";
    return NULL;
}

static int
check_fields(const outpost_plugin_t *p, const char *origin, char *err,
             size_t errlen)
{
    const char *missing;
    char why[512];

    if (p->name == NULL || !valid_name(p->name, 64, NAME_CHARS "-")) {
        snprintf(err, errlen, "%s: the plugin's name is missing or is not "
                 "letters, digits, '_' and '-'", origin);
        return -1;
    }
    for (const char *const *r = reserved; *r; r++) {
        if (strcmp(p->name, *r) == 0) {
            snprintf(err, errlen, "%s: plugin name '%s' is reserved for "
                     "the core's own settings", origin, p->name);
            return -1;
        }
    }
    if (p->kind < OUTPOST_INPUT || p->kind > OUTPOST_OUTPUT) {
        snprintf(err, errlen, "%s: plugin '%s' has invalid kind %d "
                 "(expected input, filter or output)", origin, p->name,
                 (int) p->kind);
        return -1;
    }
    missing = missing_callback(p);
    if (missing != NULL) {
        snprintf(err, errlen, "%s: plugin '%s' is %s callback", origin,
                 p->name, missing);
        return -1;
    }
    for (const outpost_option_t *o = p->options; o && o->name; o++) {
        if (check_option(p, o, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s: plugin '%s': option '%s': %s", origin,
                     p->name, o->name, why);
            return -1;
        }
    }
    if (config_check_output_defaults(p, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: plugin '%s': %s", origin, p->name, why);
        return -1;
    }
    return 0;
}

int
registry_check_abi(const outpost_plugin_t *p, const char *origin, char *err,
                   size_t errlen)
{
    /* abi_version, struct_size and name lead the struct in every ABI
     * version, so they can be read before the version is known. */
    const char *name;

    if (p == NULL) {
        snprintf(err, errlen, "%s: no plugin", origin);
        return -1;
    }
    name = p->struct_size >= offsetof(outpost_plugin_t, name) + sizeof(name)
           && p->name ? p->name : "?";
    if (p->abi_version != OUTPOST_ABI_VERSION) {
        snprintf(err, errlen, "%s: plugin '%s' was built for ABI version %u, "
                 "this outpostd has ABI version %d; rebuild it against this "
                 "SDK", origin, name, (unsigned) p->abi_version,
                 OUTPOST_ABI_VERSION);
        return -1;
    }
    if (p->struct_size < PLUGIN_V1_SIZE) {
        snprintf(err, errlen, "%s: plugin '%s' has struct_size %u, smaller "
                 "than %zu in ABI version %d; rebuild it against this SDK",
                 origin, name, (unsigned) p->struct_size, PLUGIN_V1_SIZE,
                 OUTPOST_ABI_VERSION);
        return -1;
    }
    return check_fields(p, origin, err, errlen);
}

#define PLUGIN_HAS(p, field) \
    ((p)->struct_size >= offsetof(outpost_plugin_t, field) \
                         + sizeof((p)->field))

const char *const *
registry_providers(const outpost_plugin_t *p)
{
    return PLUGIN_HAS(p, providers) ? p->providers : NULL;
}

registry_provider_check_fn
registry_validate_provider(const outpost_plugin_t *p)
{
    return PLUGIN_HAS(p, validate_provider) ? p->validate_provider : NULL;
}

const outpost_default_t *
registry_output_defaults(const outpost_plugin_t *p)
{
    return PLUGIN_HAS(p, output_defaults) ? p->output_defaults : NULL;
}

registry_tick_fn
registry_output_tick(const outpost_plugin_t *p)
{
    return PLUGIN_HAS(p, output_tick) ? p->output_tick : NULL;
}

/* --- adding ------------------------------------------------------------ */

static struct entry *
find_entry(const struct registry *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].plugin->name, name) == 0)
            return &r->v[i];
    return NULL;
}

/* On success the registry owns handle. */
static int
add_entry(struct registry *r, const outpost_plugin_t *p, const char *origin,
          lt_dlhandle handle, struct diag *d)
{
    struct entry *e;
    char err[1024];

    if (registry_check_abi(p, origin, err, sizeof(err)) != 0) {
        diag_add(d, NULL, 0, "%s", err);
        return -1;
    }
    e = find_entry(r, p->name);
    if (e != NULL) {
        diag_add(d, origin, 0, "plugin '%s' is already loaded from %s",
                 p->name, e->origin);
        return -1;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;

        e = realloc(r->v, cap * sizeof(*e));
        if (e == NULL)
            goto nomem;
        r->v = e;
        r->cap = cap;
    }
    r->v[r->n].origin = strdup(origin);
    if (r->v[r->n].origin == NULL)
        goto nomem;
    r->v[r->n].plugin = p;
    r->v[r->n].handle = handle;
    r->n++;
    return 0;
nomem:
    diag_add(d, origin, 0, "out of memory");
    return -1;
}

int
registry_add(struct registry *r, const outpost_plugin_t *p,
             const char *origin, struct diag *d)
{
    return add_entry(r, p, origin ? origin : "built-in", NULL, d);
}

/* 1 when a plugin was added, 0 when path was already loaded, -1. */
static int
load_one(struct registry *r, const char *path, struct diag *d)
{
    const outpost_plugin_t *p;
    const lt_dlinfo *info;
    const char *origin;
    lt_dlhandle h;

    h = lt_dlopenext(path);
    if (h == NULL) {
        diag_add(d, path, 0, "cannot load plugin: %s", lt_dlerror());
        return -1;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].handle == h) {
            lt_dlclose(h);      /* ltdl counted a second open */
            return 0;
        }
    }
    info = lt_dlgetinfo(h);
    origin = info && info->filename ? info->filename : path;
    p = lt_dlsym(h, OUTPOST_PLUGIN_SYMBOL);
    if (p == NULL) {
        diag_add(d, origin, 0, "not an outpost plugin: no symbol '%s'",
                 OUTPOST_PLUGIN_SYMBOL);
        lt_dlclose(h);
        return -1;
    }
    if (add_entry(r, p, origin, h, d) != 0) {
        lt_dlclose(h);
        return -1;
    }
    return 1;
}

int
registry_load_file(struct registry *r, const char *path, struct diag *d)
{
    return load_one(r, path, d) < 0 ? -1 : 0;
}

static int
is_module(const struct dirent *e)
{
    size_t len = strlen(e->d_name);

    return e->d_name[0] != '.' && len > 3
           && strcmp(e->d_name + len - 3, ".so") == 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int
registry_load_dir(struct registry *r, const char *dir, struct diag *d)
{
    struct dirent **ents;
    int n, added = 0;

    n = scandir(dir, &ents, is_module, by_name);
    if (n < 0) {
        diag_add(d, dir, 0, "cannot read plugin directory: %s",
                 strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        size_t stem = strlen(ents[i]->d_name) - 3;
        char *path = NULL;

        /* A plugin compiled in or loaded before under this name wins. */
        ents[i]->d_name[stem] = '\0';
        if (find_entry(r, ents[i]->d_name) == NULL
            && asprintf(&path, "%s/%s.so", dir, ents[i]->d_name) >= 0) {
            added += load_one(r, path, d) > 0;
            free(path);
        }
        free(ents[i]);
    }
    free(ents);
    return added;
}

const outpost_plugin_t *
registry_find(const struct registry *r, const char *name)
{
    struct entry *e = find_entry(r, name);

    return e ? e->plugin : NULL;
}

size_t
registry_count(const struct registry *r)
{
    return r->n;
}

const outpost_plugin_t *
registry_at(const struct registry *r, size_t i)
{
    return i < r->n ? r->v[i].plugin : NULL;
}
