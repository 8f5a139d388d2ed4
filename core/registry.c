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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ltdl.h>
#include "config.h"
#include "options.h"
#include "registry.h"

/* The size of outpost_plugin_t in ABI 1.0. A later minor may only append
 * fields (providers came after validate, in 1.1), so a plugin's struct is
 * never smaller than this; read an appended field with PLUGIN_HAS(). */
#define PLUGIN_V1_SIZE offsetof(outpost_plugin_t, providers)
/* A struct_size past this is not a plugin's struct but garbage. */
#define PLUGIN_MAX_SIZE 4096

/* --- the layouts plugins compile in -------------------------------------
 * A plugin builds the SDK's types into its own code: it fills
 * outpost_plugin_t and outpost_option_t, reads outpost_batch_t and the
 * record structs (record.h's inline functions too), so the version check
 * only protects it if a layout never changes without the version. These
 * frozen copies are ABI 1.3 as plugins compile it; the build fails when a
 * type in include/outpost/ drifts from them. Changing a layout means:
 * bump OUTPOST_ABI_VERSION (appending to outpost_plugin_t: the minor),
 * then write the new layout here. */
_Static_assert(OUTPOST_ABI_VERSION == 1 && OUTPOST_ABI_MINOR == 3,
               "the plugin ABI changed: record its layouts below");

struct abi1_option {
    const char *name; int type; size_t offset; const char *def;
    const char *help; unsigned flags; double min, max; const char *choices;
};
struct abi1_list      { size_t n; void *v; };
struct abi1_batch     { void *records; size_t n; };
struct abi1_plugin {
    uint32_t abi_version, struct_size; const char *name, *description;
    int kind; uint32_t flags; const void *options; size_t conf_size;
    void (*init)(void), (*shutdown)(void), (*collect)(void),
         (*process)(void), (*tick)(void), (*write)(void), (*flush)(void),
         (*control)(void), (*validate)(void);
    const void *providers;                                /* 1.1 */
    void (*validate_provider)(void);                      /* 1.1 */
    const void *output_defaults;                          /* 1.2 */
    void (*output_tick)(void);                            /* 1.2 */
    const void *option_examples;                          /* 1.3 */
};
struct abi1_field {
    const char *key; uint32_t type;
    union { int64_t i; double f; int b; const char *s; } v;
};
struct abi1_tag       { const char *key, *value; };
struct abi1_default   { const char *name, *value; };                /* 1.2 */
struct abi1_event     { char *message, *dedup_key; void *cause; };
struct abi1_record {
    uint32_t refs; uint8_t kind, event_kind, severity, flags;
    uint16_t nfields, capfields; int64_t ts_ns; const char *name;
    void *tags, *fields, *event;
};

#define ABI_FIELD(T, S, f) \
    _Static_assert(offsetof(T, f) == offsetof(struct S, f) \
                   && sizeof(((T *) 0)->f) == sizeof(((struct S *) 0)->f), \
                   #T "." #f " moved or changed size: bump the ABI version")
#define ABI_SIZE(T, S) \
    _Static_assert(sizeof(T) == sizeof(struct S), \
                   #T " changed size: bump the ABI version")

ABI_FIELD(outpost_option_t, abi1_option, name);
ABI_FIELD(outpost_option_t, abi1_option, type);
ABI_FIELD(outpost_option_t, abi1_option, offset);
ABI_FIELD(outpost_option_t, abi1_option, def);
ABI_FIELD(outpost_option_t, abi1_option, help);
ABI_FIELD(outpost_option_t, abi1_option, flags);
ABI_FIELD(outpost_option_t, abi1_option, min);
ABI_FIELD(outpost_option_t, abi1_option, max);
ABI_FIELD(outpost_option_t, abi1_option, choices);
ABI_SIZE(outpost_option_t, abi1_option);
ABI_FIELD(outpost_strlist_t, abi1_list, n);
ABI_FIELD(outpost_strlist_t, abi1_list, v);
ABI_SIZE(outpost_strlist_t, abi1_list);
ABI_FIELD(outpost_intlist_t, abi1_list, n);
ABI_FIELD(outpost_intlist_t, abi1_list, v);
ABI_SIZE(outpost_intlist_t, abi1_list);
ABI_FIELD(outpost_batch_t, abi1_batch, records);
ABI_FIELD(outpost_batch_t, abi1_batch, n);
ABI_SIZE(outpost_batch_t, abi1_batch);
ABI_FIELD(outpost_plugin_t, abi1_plugin, abi_version);
ABI_FIELD(outpost_plugin_t, abi1_plugin, struct_size);
ABI_FIELD(outpost_plugin_t, abi1_plugin, name);
ABI_FIELD(outpost_plugin_t, abi1_plugin, description);
ABI_FIELD(outpost_plugin_t, abi1_plugin, kind);
ABI_FIELD(outpost_plugin_t, abi1_plugin, flags);
ABI_FIELD(outpost_plugin_t, abi1_plugin, options);
ABI_FIELD(outpost_plugin_t, abi1_plugin, conf_size);
ABI_FIELD(outpost_plugin_t, abi1_plugin, init);
ABI_FIELD(outpost_plugin_t, abi1_plugin, shutdown);
ABI_FIELD(outpost_plugin_t, abi1_plugin, collect);
ABI_FIELD(outpost_plugin_t, abi1_plugin, process);
ABI_FIELD(outpost_plugin_t, abi1_plugin, tick);
ABI_FIELD(outpost_plugin_t, abi1_plugin, write);
ABI_FIELD(outpost_plugin_t, abi1_plugin, flush);
ABI_FIELD(outpost_plugin_t, abi1_plugin, control);
ABI_FIELD(outpost_plugin_t, abi1_plugin, validate);
ABI_FIELD(outpost_plugin_t, abi1_plugin, providers);
ABI_FIELD(outpost_plugin_t, abi1_plugin, validate_provider);
ABI_FIELD(outpost_plugin_t, abi1_plugin, output_defaults);
ABI_FIELD(outpost_plugin_t, abi1_plugin, output_tick);
ABI_FIELD(outpost_plugin_t, abi1_plugin, option_examples);
ABI_SIZE(outpost_plugin_t, abi1_plugin);
ABI_FIELD(outpost_field_t, abi1_field, key);
ABI_FIELD(outpost_field_t, abi1_field, type);
ABI_FIELD(outpost_field_t, abi1_field, v);
ABI_SIZE(outpost_field_t, abi1_field);
ABI_FIELD(outpost_default_t, abi1_default, name);
ABI_FIELD(outpost_default_t, abi1_default, value);
ABI_SIZE(outpost_default_t, abi1_default);
ABI_FIELD(outpost_tag_t, abi1_tag, key);
ABI_FIELD(outpost_tag_t, abi1_tag, value);
ABI_SIZE(outpost_tag_t, abi1_tag);
ABI_FIELD(outpost_event_info_t, abi1_event, message);
ABI_FIELD(outpost_event_info_t, abi1_event, dedup_key);
ABI_FIELD(outpost_event_info_t, abi1_event, cause);
ABI_SIZE(outpost_event_info_t, abi1_event);
ABI_FIELD(outpost_record_t, abi1_record, refs);
ABI_FIELD(outpost_record_t, abi1_record, kind);
ABI_FIELD(outpost_record_t, abi1_record, event_kind);
ABI_FIELD(outpost_record_t, abi1_record, severity);
ABI_FIELD(outpost_record_t, abi1_record, flags);
ABI_FIELD(outpost_record_t, abi1_record, nfields);
ABI_FIELD(outpost_record_t, abi1_record, capfields);
ABI_FIELD(outpost_record_t, abi1_record, ts_ns);
ABI_FIELD(outpost_record_t, abi1_record, name);
ABI_FIELD(outpost_record_t, abi1_record, tags);
ABI_FIELD(outpost_record_t, abi1_record, fields);
ABI_FIELD(outpost_record_t, abi1_record, event);
ABI_SIZE(outpost_record_t, abi1_record);

/* The values plugins compile in are part of the ABI too. */
_Static_assert(OUTPOST_INPUT == 1 && OUTPOST_FILTER == 2
               && OUTPOST_OUTPUT == 3
               && OUTPOST_OK == 0 && OUTPOST_RETRY == 1 && OUTPOST_FAIL == 2
               && OUTPOST_RUN_DONE == 0 && OUTPOST_RUN_PENDING == 1
               && OUTPOST_PASS == 0 && OUTPOST_DROP == 1
               && OUTPOST_LOG_DEBUG == 0 && OUTPOST_LOG_ERROR == 3
               && OUTPOST_OPT_STRING == 1 && OUTPOST_OPT_ENUM == 9
               && OUTPOST_OPT_REQUIRED == 0x1u
               && OUTPOST_PLUGIN_ASYNC == 0x1u
               && OUTPOST_PLUGIN_NOTIFIER == 0x2u
               && OUTPOST_MEASUREMENT == 1 && OUTPOST_EVENT == 2
               && OUTPOST_FIELD_INT == 1 && OUTPOST_FIELD_STRING == 4
               && OUTPOST_EV_STATE_CHANGE == 1 && OUTPOST_EV_ESCALATE == 6
               && OUTPOST_SEV_INFO == 1 && OUTPOST_SEV_CRITICAL == 4,
               "a value plugins compile in changed: bump the ABI version");

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

/* Each example names an option of the table and parses as its value. */
static int
check_examples(const outpost_plugin_t *p, char *why, size_t len)
{
    const outpost_default_t *e = registry_option_examples(p);
    char reason[256];

    for (; e && e->name; e++) {
        const outpost_option_t *o = p->options;
        outpost_option_t copy;

        while (o && o->name && strcmp(o->name, e->name) != 0)
            o++;
        if (o == NULL || o->name == NULL || e->value == NULL) {
            snprintf(why, len, "example for '%s': no such option (or no "
                     "value)", e->name);
            return -1;
        }
        copy = *o;
        copy.def = e->value;
        if (option_check_default(&copy, reason, sizeof(reason)) != 0) {
            snprintf(why, len, "option '%s': example %s: %s", e->name,
                     e->value, reason);
            return -1;
        }
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
    if (config_check_output_defaults(p, why, sizeof(why)) != 0
        || check_examples(p, why, sizeof(why)) != 0) {
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
                 "this outpostd has ABI version %d.%d; rebuild it against "
                 "this SDK", origin, name, (unsigned) p->abi_version,
                 OUTPOST_ABI_VERSION, OUTPOST_ABI_MINOR);
        return -1;
    }
    if (p->struct_size < PLUGIN_V1_SIZE || p->struct_size > PLUGIN_MAX_SIZE) {
        snprintf(err, errlen, "%s: plugin '%s' has struct_size %u, not "
                 "between %zu (ABI version %d.0) and %d; rebuild it against "
                 "this SDK", origin, name, (unsigned) p->struct_size,
                 PLUGIN_V1_SIZE, OUTPOST_ABI_VERSION, PLUGIN_MAX_SIZE);
        return -1;
    }
    /* Built for a newer minor: fine while it leaves the fields this core
     * does not know zero (a plugin's static struct has zero padding). */
    for (size_t i = sizeof(*p); i < p->struct_size; i++) {
        if (((const unsigned char *) p)[i] != 0) {
            snprintf(err, errlen, "%s: plugin '%s' sets fields that ABI "
                     "version %d.%d does not have (its struct_size is %u, "
                     "this outpostd knows %zu): it needs a newer outpostd",
                     origin, name, OUTPOST_ABI_VERSION, OUTPOST_ABI_MINOR,
                     (unsigned) p->struct_size, sizeof(*p));
            return -1;
        }
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

const outpost_default_t *
registry_option_examples(const outpost_plugin_t *p)
{
    return PLUGIN_HAS(p, option_examples) ? p->option_examples : NULL;
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
has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int
load_one(struct registry *r, const char *path, struct diag *d)
{
    const outpost_plugin_t *p;
    const lt_dlinfo *info;
    const char *origin;
    lt_dlhandle h;
    struct stat st;

    /* dlopen would wait forever on a FIFO named *.so. lt_dlopenext tries
     * path, then path.so: check what it would open (a directory of the
     * same name, as in a build tree, is not it). */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        diag_add(d, path, 0, "cannot load plugin: not a regular file");
        return -1;
    }
    if (!has_suffix(path, ".so")) {
        char so[PATH_MAX];

        snprintf(so, sizeof(so), "%s.so", path);
        if (stat(so, &st) == 0 && !S_ISREG(st.st_mode)) {
            diag_add(d, so, 0, "cannot load plugin: not a regular file");
            return -1;
        }
    }
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
