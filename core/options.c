/*
 * options.c - option values: checking one value, files and secrets,
 * defaults, and filling and releasing conf blocks. The tables themselves
 * (the core's common options, finding a row, the libconfuse tables and
 * --describe) are in options_table.c.
 *
 * A conf block is filled by offset, as nginx fills its module confs: the
 * table says where each value goes and how to read it, so a plugin never
 * parses its own strings. A value the config sets replaces the default; an
 * option the config does not mention gets its default, read with the same
 * rules as config text.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <outpost/pattern.h>
#include "config.h"
#include "duration.h"
#include "options.h"
#include "secrets.h"
#include "options_internal.h"

#define SECRET_FILE_MAX (1024 * 1024)   /* secrets are small; cap reads */

/* --- values ------------------------------------------------------------ */

static int
parse_int(const char *s, int64_t *v)
{
    char *end;
    long long n;

    errno = 0;
    n = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0)
        return -1;
    *v = n;
    return 0;
}

static int
parse_float(const char *s, double *v)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(d))
        return -1;
    *v = d;
    return 0;
}

/* Booleans are spelled as the docs write them: true or false. */
static int
parse_bool(const char *s, int *v)
{
    if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
        return -1;
    *v = s[0] == 't';
    return 0;
}

static int
is_choice(const char *choices, const char *s)
{
    size_t len = strlen(s);

    for (const char *p = choices; *p; ) {
        size_t n = strcspn(p, "|");
        if (n == len && strncmp(p, s, n) == 0)
            return 1;
        p += n;
        if (*p == '|')
            p++;
    }
    return 0;
}

void
option_bound_text(const outpost_option_t *o, double v, char *buf, size_t len)
{
    if (o->type == OUTPOST_OPT_DURATION)
        duration_format((int64_t) v, buf, len);
    else if (o->type == OUTPOST_OPT_FLOAT)
        snprintf(buf, len, "%g", v);
    else
        snprintf(buf, len, "%.0f", v);
}

static int
check_bounds(const outpost_option_t *o, double v, const char *text,
             char *err, size_t errlen)
{
    char lo[32], hi[32];

    if (o->max <= o->min || (v >= o->min && v <= o->max))
        return 0;
    option_bound_text(o, o->min, lo, sizeof(lo));
    option_bound_text(o, o->max, hi, sizeof(hi));
    snprintf(err, errlen, "%s is out of range (%s..%s)", text, lo, hi);
    return -1;
}

/* Every text value: UTF-8 without control characters but tab and
 * newline (pairs like tags, and header values: not even those). */
static int
check_text(const outpost_option_t *o, const char *text, char *err,
           size_t errlen)
{
    size_t len = strlen(text), bad = option_utf8_invalid(text, len);
    int line_ok = option_pair_form(o) == NULL
                  && !(o->flags & OUTPOST_OPT_HEADER);

    if (bad < len && o->type == OUTPOST_OPT_SECRET) {
        snprintf(err, errlen, "invalid UTF-8 at offset %zu", bad);
        return -1;                      /* no byte of a secret is shown */
    }
    if (bad < len) {
        snprintf(err, errlen, "invalid UTF-8 (byte 0x%02x at offset %zu)",
                 (unsigned char) text[bad], bad);
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        if ((*p >= 0x20 && *p != 0x7f)
            || (line_ok && (*p == '\t' || *p == '\n')))
            continue;
        snprintf(err, errlen, "control character 0x%02x at offset %zu%s", *p,
                 (size_t) (p - (const unsigned char *) text),
                 *p == '\r' || *p == '\n' ? " (a value cannot span lines "
                 "here)" : "");
        return -1;
    }
    return 0;
}

/* "host:port" or "[v6addr]:port": a host of letters, digits, '.', '-'
 * and '_' (or an IPv6 address in brackets) and a port 1..65535. */
static int
check_address(const char *text, char *err, size_t errlen)
{
    const char *colon, *host = text, *p;
    char *end;
    long port;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL || close[1] != ':' || close == text + 1)
            goto bad;
        for (p = text + 1; p < close; p++)
            if (!strchr("0123456789abcdefABCDEF:.", *p))
                goto bad;
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || colon == text)
            goto bad;
        for (p = host; p < colon; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9') || strchr(".-_", *p)))
                goto bad;
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0
        || port < 1 || port > 65535)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "expected \"host:port\" (port 1..65535), got "
             "\"%s\"", text);
    return -1;
}

/* What the flags of a STRING, SECRET or STRLIST row say of its text. */
static int
check_string(const outpost_option_t *o, const char *text, char *err,
             size_t errlen)
{
    char why[256];

    if ((o->flags & OUTPOST_OPT_ADDRESS)
        && check_address(text, err, errlen) != 0)
        return -1;
    if ((o->flags & OUTPOST_OPT_PATH) && text[0] == '\0') {
        snprintf(err, errlen, "an empty path");
        return -1;
    }
    if (o->flags & OUTPOST_OPT_REGEX) {
        regex_t re;

        if (outpost_regex_compile(&re, text, REG_EXTENDED | REG_NOSUB, why,
                                  sizeof(why)) != 0) {
            snprintf(err, errlen, "regex: %s", why);
            return -1;
        }
        regfree(&re);
    }
    return 0;
}

int
option_check_value(const outpost_option_t *o, const char *text,
                   char *err, size_t errlen)
{
    const char *form;
    char why[256];
    int64_t i;
    double d;
    int b;

    if (check_text(o, text, err, errlen) != 0)
        return -1;
    switch (o->type) {
    case OUTPOST_OPT_STRING:
    case OUTPOST_OPT_SECRET:
        return check_string(o, text, err, errlen);
    case OUTPOST_OPT_STRLIST:
        if (check_string(o, text, err, errlen) != 0)
            return -1;
        form = option_pair_form(o);
        if (form == NULL)
            return 0;
        if (text[0] == '=' || strchr(text, '=') == NULL) {
            snprintf(err, errlen, "expected \"%s\", got \"%s\"", form,
                     text);
            return -1;
        }
        if (strcmp(form, "key=glob") == 0
            && outpost_glob_check(strchr(text, '=') + 1, why,
                                  sizeof(why)) != 0) {
            snprintf(err, errlen, "glob \"%.60s\": %s", text, why);
            return -1;
        }
        return 0;
    case OUTPOST_OPT_INT:
    case OUTPOST_OPT_INTLIST:
        if (parse_int(text, &i) != 0) {
            snprintf(err, errlen, "expected an integer, got \"%s\"", text);
            return -1;
        }
        return check_bounds(o, (double) i, text, err, errlen);
    case OUTPOST_OPT_FLOAT:
        if (parse_float(text, &d) != 0) {
            snprintf(err, errlen, "expected a number, got \"%s\"", text);
            return -1;
        }
        return check_bounds(o, d, text, err, errlen);
    case OUTPOST_OPT_BOOL:
        if (parse_bool(text, &b) == 0)
            return 0;
        snprintf(err, errlen, "expected true or false, got \"%s\"", text);
        return -1;
    case OUTPOST_OPT_DURATION:
        if (duration_parse(text, &i) != 0) {
            snprintf(err, errlen, "invalid duration \"%s\" (use e.g. 500ms, "
                     "30s, 5m, 1h, 90d)", text);
            return -1;
        }
        return check_bounds(o, (double) i, text, err, errlen);
    case OUTPOST_OPT_ENUM:
        if (o->choices && is_choice(o->choices, text))
            return 0;
        snprintf(err, errlen, "expected one of %s, got \"%s\"",
                 o->choices ? o->choices : "(none)", text);
        return -1;
    }
    snprintf(err, errlen, "has unknown type %d", (int) o->type);
    return -1;
}

/* --- text -------------------------------------------------------------- */

size_t
option_utf8_invalid(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *) text;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i], n, cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07, min = 0x10000;
        else
            return i;
        if (len - i <= n)
            return i;
        for (unsigned k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += n + 1;
    }
    return len;
}

/* --- files and secrets ------------------------------------------------- */

/* Never blocks: a FIFO, a device or a directory named where a file is
 * expected is refused before anything is read from it (opening a FIFO
 * O_NONBLOCK returns at once; reading it would wait for a writer). */
char *
option_read_file(const char *path, size_t max, size_t *lenp, char *why,
                 size_t whylen)
{
    size_t len = 0, cap;
    struct stat st;
    char *buf = NULL;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "not a regular file");
        goto fail;
    }
    if ((uintmax_t) st.st_size > max) {
        snprintf(why, whylen, "larger than %zu bytes", max);
        goto fail;
    }
    /* One byte more than fstat says, to see a file that grew. */
    cap = (size_t) st.st_size + 2;
    if ((buf = malloc(cap)) == NULL) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    for (;;) {
        ssize_t got = read(fd, buf + len, cap - 1 - len);

        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0) {
            snprintf(why, whylen, "%s", strerror(errno));
            goto fail;
        }
        if (got == 0)
            break;
        len += (size_t) got;
        if (len == cap - 1) {
            snprintf(why, whylen, "changed while being read");
            goto fail;
        }
    }
    close(fd);
    buf[len] = '\0';
    if (lenp)
        *lenp = len;
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

int
option_secret_read(enum secret_variant variant, const char *arg,
                   char **out, char *err, size_t errlen)
{
    const char *v;
    char why[128];
    size_t len;

    if (variant == SECRET_FILE) {
        *out = option_read_file(arg, SECRET_FILE_MAX, &len, why, sizeof(why));
        if (*out == NULL) {
            snprintf(err, errlen, "cannot read %s: %s", arg, why);
            return -1;
        }
        if (memchr(*out, '\0', len) != NULL) {
            snprintf(err, errlen, "%s holds a NUL byte", arg);
            explicit_bzero(*out, len);
            free(*out);
            *out = NULL;
            return -1;
        }
        while (len > 0 && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r'))
            (*out)[--len] = '\0';
        return 0;
    }
    v = getenv(arg);
    if (v == NULL) {
        snprintf(err, errlen, "environment variable %s is not set", arg);
        return -1;
    }
    *out = strdup(v);
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* --- lookups ----------------------------------------------------------- */

cfg_opt_t *
option_cfg_find(cfg_t *sec, const char *name)
{
    for (cfg_opt_t *c = sec ? sec->opts : NULL; c && c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* Set, even to an empty list: `codes = {}` overrides the default. */
static cfg_opt_t *
cfg_set(cfg_t *sec, const char *name)
{
    cfg_opt_t *c = option_cfg_find(sec, name);

    if (c && (c->nvalues > 0 || (c->flags & CFGF_MODIFIED)))
        return c;
    return NULL;
}

static cfg_opt_t *
cfg_set_variant(cfg_t *sec, const outpost_option_t *o, const char *suffix)
{
    char name[OPTION_NAME_MAX + 8];

    snprintf(name, sizeof(name), "%s%s", o->name, suffix);
    return cfg_set(sec, name);
}

int
option_is_set(const outpost_option_t *o, cfg_t *sec)
{
    if (cfg_set(sec, o->name))
        return 1;
    return o->type == OUTPOST_OPT_SECRET
           && (cfg_set_variant(sec, o, "_env")
               || cfg_set_variant(sec, o, "_file"));
}

/* --- filling a conf block ---------------------------------------------- */

static void
free_texts(char **texts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
}

static void
ignore_error(cfg_t *cfg, const char *fmt, va_list ap)
{
    (void) cfg;
    (void) fmt;
    (void) ap;
}

/* Lists and quoted strings go through libconfuse, so a default is written
 * exactly as in a config file; any other default is its own text. */
static int
needs_parse(const outpost_option_t *o)
{
    return o->def != NULL && (option_is_list(o) || o->def[0] == '"'
                              || o->def[0] == '\'');
}

/* o's default as value texts, parsed or copied (see needs_parse). */
static int
parse_default(const outpost_option_t *o, char ***out, size_t *n)
{
    int list = option_is_list(o), wrap, rc = -1;
    cfg_opt_t opts[2] = { CFG_STR("v", NULL, CFGF_NODEFAULT), CFG_END() };
    cfg_opt_t *c;
    cfg_t *cfg = NULL;
    char *buf = NULL;

    *out = NULL;
    *n = 0;
    if (o->def == NULL)
        return 0;
    if (!needs_parse(o)) {
        *out = calloc(1, sizeof(char *));
        if (*out == NULL || ((*out)[0] = strdup(o->def)) == NULL)
            goto out;
        *n = 1;
        return 0;
    }
    if (list)
        opts[0] = (cfg_opt_t) CFG_STR_LIST("v", NULL, CFGF_NODEFAULT);
    wrap = list && o->def[0] != '{';
    cfg = cfg_init(opts, 0);
    if (cfg == NULL || asprintf(&buf, "v = %s%s%s", wrap ? "{" : "", o->def,
                                wrap ? "}" : "") < 0) {
        buf = NULL;
        goto out;
    }
    cfg_set_error_function(cfg, ignore_error);
    if (cfg_parse_buf(cfg, buf) != CFG_SUCCESS)
        goto out;
    c = option_cfg_find(cfg, "v");
    *out = calloc(c->nvalues + 1, sizeof(char *));
    if (*out == NULL)
        goto out;
    for (; *n < c->nvalues; (*n)++)
        if (((*out)[*n] = strdup(cfg_opt_getnstr(c, *n))) == NULL)
            goto out;
    rc = 0;
out:
    if (rc != 0) {
        free_texts(*out, *n);
        *out = NULL;
        *n = 0;
    }
    free(buf);
    if (cfg)
        cfg_free(cfg);
    return rc;
}

/* Defaults parsed once, by option row and text: a section is set up as
 * it closes, while libconfuse is still reading the file, and libconfuse's
 * lexer is global, so parsing a default then would end that file
 * (options_warm parses them all before). It also spares a parse per
 * section. Rows are plugins' static tables; the text is compared too, as
 * a reloaded module may put another table at the same address. */
struct parsed_default {
    const outpost_option_t *o;
    char                   *def;
    char                  **texts;
    size_t                  n;
};

static pthread_mutex_t         defaults_lock = PTHREAD_MUTEX_INITIALIZER;
static struct parsed_default  *defaults;
static size_t                  ndefaults, capdefaults;

static char **
copy_texts(char *const *texts, size_t n)
{
    char **v = calloc(n + 1, sizeof(*v));

    for (size_t i = 0; v && i < n; i++)
        if ((v[i] = strdup(texts[i])) == NULL) {
            free_texts(v, i);
            return NULL;
        }
    return v;
}

static struct parsed_default *
find_default(const outpost_option_t *o)
{
    for (size_t i = 0; i < ndefaults; i++)
        if (defaults[i].o == o && strcmp(defaults[i].def, o->def) == 0)
            return &defaults[i];
    return NULL;
}

static void
keep_default(const outpost_option_t *o, char *const *texts, size_t n)
{
    struct parsed_default *d;
    char *def = strdup(o->def);
    char **copy = copy_texts(texts, n);

    if (def != NULL && copy != NULL && ndefaults == capdefaults) {
        size_t cap = capdefaults ? 2 * capdefaults : 32;

        if ((d = realloc(defaults, cap * sizeof(*d))) != NULL) {
            defaults = d;
            capdefaults = cap;
        }
    }
    if (def == NULL || copy == NULL || ndefaults == capdefaults) {
        free(def);
        if (copy != NULL)
            free_texts(copy, n);
        return;
    }
    defaults[ndefaults++] = (struct parsed_default) { o, def, copy, n };
}

static int
def_texts(const outpost_option_t *o, char ***out, size_t *n)
{
    struct parsed_default *d;
    int rc = 0;

    if (!needs_parse(o))
        return parse_default(o, out, n);     /* no parse: a plain copy */
    pthread_mutex_lock(&defaults_lock);
    if ((d = find_default(o)) != NULL) {
        *n = d->n;
        if ((*out = copy_texts(d->texts, d->n)) == NULL)
            rc = -1;
    } else if ((rc = parse_default(o, out, n)) == 0)
        keep_default(o, *out, *n);
    pthread_mutex_unlock(&defaults_lock);
    return rc;
}

void
options_warm(const outpost_option_t *table)
{
    char **texts;
    size_t n;

    for (const outpost_option_t *o = table; o && o->name; o++)
        if (def_texts(o, &texts, &n) == 0)
            free_texts(texts, n);
}

void
options_release_defaults(void)
{
    pthread_mutex_lock(&defaults_lock);
    for (size_t i = 0; i < ndefaults; i++) {
        free(defaults[i].def);
        free_texts(defaults[i].texts, defaults[i].n);
    }
    free(defaults);
    defaults = NULL;
    ndefaults = capdefaults = 0;
    pthread_mutex_unlock(&defaults_lock);
}

static void
release_strlist(outpost_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int
store_list(const outpost_option_t *o, char *const *texts, size_t n,
           void *slot)
{
    if (o->type == OUTPOST_OPT_STRLIST) {
        outpost_strlist_t l = { 0, n ? calloc(n, sizeof(char *)) : NULL };

        if (n && l.v == NULL)
            return -1;
        for (; l.n < n; l.n++) {
            if ((l.v[l.n] = strdup(texts[l.n])) == NULL) {
                release_strlist(&l);
                return -1;
            }
        }
        release_strlist(slot);
        *(outpost_strlist_t *) slot = l;
    } else {
        outpost_intlist_t *l = slot;
        int64_t *v = n ? calloc(n, sizeof(*v)) : NULL;

        if (n && v == NULL)
            return -1;
        for (size_t i = 0; i < n; i++) {
            if (parse_int(texts[i], &v[i]) != 0) {
                free(v);
                return -1;
            }
        }
        free(l->v);
        l->v = v;
        l->n = n;
    }
    return 0;
}

/* Converts texts (the last one, for a scalar) into o's slot. */
static int
store(const outpost_option_t *o, char *const *texts, size_t n, void *slot)
{
    const char *t = n ? texts[n - 1] : NULL;
    char *s;

    if (option_is_list(o))
        return store_list(o, texts, n, slot);
    if (t == NULL)
        return 0;
    switch (o->type) {
    case OUTPOST_OPT_INT:      return parse_int(t, slot);
    case OUTPOST_OPT_FLOAT:    return parse_float(t, slot);
    case OUTPOST_OPT_BOOL:     return parse_bool(t, slot);
    case OUTPOST_OPT_DURATION: return duration_parse(t, slot);
    default:
        s = strdup(t);
        if (s == NULL)
            return -1;
        free(*(char **) slot);
        *(char **) slot = s;
        return 0;
    }
}

static int
store_cfg(const outpost_option_t *o, cfg_opt_t *c, void *slot)
{
    char **texts = c->nvalues ? calloc(c->nvalues, sizeof(char *)) : NULL;
    int rc;

    if (c->nvalues && texts == NULL)
        return -1;
    for (unsigned i = 0; i < c->nvalues; i++)
        texts[i] = cfg_opt_getnstr(c, i);
    rc = store(o, texts, c->nvalues, slot);
    free(texts);
    return rc;
}

static int
store_default(const outpost_option_t *o, void *slot)
{
    char **texts;
    size_t n;
    int rc;

    if (def_texts(o, &texts, &n) != 0)
        return -1;
    rc = store(o, texts, n, slot);
    free_texts(texts, n);
    return rc;
}

/* 1 when neither x_env nor x_file is set. */
static int
fill_secret(const outpost_option_t *o, cfg_t *sec, void *slot)
{
    static const char *const suffix[] = { "", "_env", "_file" };
    char err[256], *value;

    for (int v = SECRET_ENV; v <= SECRET_FILE; v++) {
        cfg_opt_t *c = cfg_set_variant(sec, o, suffix[v]);

        if (c == NULL || c->nvalues == 0)
            continue;
        if (option_secret_read((enum secret_variant) v,
                               cfg_opt_getnstr(c, 0), &value,
                               err, sizeof(err)) != 0)
            return -1;
        free(*(char **) slot);
        *(char **) slot = value;
        return 0;
    }
    return 1;
}

static int
fill_one(const outpost_option_t *o, cfg_t *sec, void *slot)
{
    cfg_opt_t *c = cfg_set(sec, o->name);
    int rc;

    if (c != NULL)
        return store_cfg(o, c, slot);
    if (o->type == OUTPOST_OPT_SECRET && sec != NULL) {
        rc = fill_secret(o, sec, slot);
        if (rc <= 0)
            return rc;
    }
    return store_default(o, slot);
}

int
options_fill(const outpost_option_t *table, cfg_t *sec, void *conf)
{
    int rc = 0;

    for (const outpost_option_t *o = table; o && o->name; o++)
        if (fill_one(o, sec, (char *) conf + o->offset) != 0)
            rc = -1;
    secrets_note_conf(table, conf);     /* scrubbed from all output */
    return rc;
}

void
options_release(const outpost_option_t *table, void *conf)
{
    if (conf == NULL)
        return;
    for (const outpost_option_t *o = table; o && o->name; o++) {
        void *slot = (char *) conf + o->offset;
        char **s = slot;

        switch (o->type) {
        case OUTPOST_OPT_SECRET:
            if (*s)
                explicit_bzero(*s, strlen(*s));
            /* fall through */
        case OUTPOST_OPT_STRING:
        case OUTPOST_OPT_ENUM:
            free(*s);
            *s = NULL;
            break;
        case OUTPOST_OPT_STRLIST:
            release_strlist(slot);
            break;
        case OUTPOST_OPT_INTLIST:
            free(((outpost_intlist_t *) slot)->v);
            memset(slot, 0, sizeof(outpost_intlist_t));
            break;
        default:
            break;
        }
    }
}

/* --- defaults ---------------------------------------------------------- */

int
option_check_default(const outpost_option_t *o, char *err, size_t errlen)
{
    char **texts;
    size_t n;
    int rc = -1;

    snprintf(err, errlen, "cannot be read");
    if (def_texts(o, &texts, &n) != 0)
        return -1;
    if (!option_is_list(o) && n != 1)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (option_check_value(o, texts[i], err, errlen) != 0)
            goto out;
    rc = 0;
out:
    free_texts(texts, n);
    return rc;
}
