/*
 * secrets.c - the registry of secret values and the scrubber (see
 * secrets.h for what is registered and where it is applied).
 *
 * The registry is an immutable array of forms published through one
 * atomic pointer. Registering copies the current array with the new forms
 * added (under a lock) and publishes the copy; the old array stays
 * allocated (chained from the new one) because a scrubber on another
 * thread may still read it. Secrets are few and registered when the
 * config is read, so the chain stays short.
 *
 * Scrubbing finds, left to right, the earliest (then the longest) form
 * that occurs in the text and replaces it. Every form is at least
 * SECRETS_MIN_LEN (4) bytes; the set keeps a 65536-bit filter of the
 * hashes of every 4-byte window of every form, and minlen, its shortest
 * form. An occurrence of a form covers at least minlen - 3 consecutive
 * windows, so the scan tests only every (minlen - 3)th window of the text
 * and, where the filter says maybe, compares the forms at the positions
 * that window is the first tested one for. Text without a secret costs a
 * load, a hash and a bit test per (minlen - 3) bytes: ~13 for a 16-byte
 * key.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "secrets.h"

#define FORMS_MAX 4096          /* registered forms, at most */

struct secret_form {
    char   *s;
    size_t  len;
};

#define FILTER_BITS 65536

struct secret_set {
    struct secret_set  *prev;   /* older set, kept for lock-free readers */
    uint64_t            filter[FILTER_BITS / 64];
    size_t              minlen;     /* of the shortest form */
    size_t              n;
    struct secret_form  v[];
};

/* The filter's bit for the four bytes at s. */
static inline uint32_t
head_hash(const char *s)
{
    uint32_t x;

    memcpy(&x, s, 4);
    return (x * 2654435761u) >> 16;
}

static _Atomic(struct secret_set *) current;
static pthread_mutex_t              lock = PTHREAD_MUTEX_INITIALIZER;

/* --- registering ----------------------------------------------------------- */

static int
known(const struct secret_set *set, const char *s, size_t len)
{
    for (size_t i = 0; set && i < set->n; i++)
        if (set->v[i].len == len && memcmp(set->v[i].s, s, len) == 0)
            return 1;
    return 0;
}

/* Adds the n forms (some may be NULL) under the lock. */
static void
publish(const char *const *forms, size_t n)
{
    struct secret_set *old, *set;
    size_t add = 0, have;

    pthread_mutex_lock(&lock);
    old = atomic_load_explicit(&current, memory_order_relaxed);
    have = old ? old->n : 0;
    for (size_t i = 0; i < n; i++)
        if (forms[i] && strlen(forms[i]) >= SECRETS_MIN_LEN
            && !known(old, forms[i], strlen(forms[i])))
            add++;
    if (add == 0 || have + add > FORMS_MAX
        || (set = malloc(sizeof(*set) + (have + add) * sizeof(set->v[0])))
           == NULL) {
        pthread_mutex_unlock(&lock);
        return;
    }
    set->prev = old;
    set->n = have;
    if (have) {
        memcpy(set->v, old->v, have * sizeof(set->v[0]));
        memcpy(set->filter, old->filter, sizeof(set->filter));
        set->minlen = old->minlen;
    } else {
        memset(set->filter, 0, sizeof(set->filter));
        set->minlen = SIZE_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = forms[i] ? strlen(forms[i]) : 0;
        char *copy;

        if (len < SECRETS_MIN_LEN || known(set, forms[i], len)
            || (copy = strdup(forms[i])) == NULL)
            continue;
        set->v[set->n].s = copy;
        set->v[set->n].len = len;
        set->n++;
        for (size_t i = 0; i + 4 <= len; i++) {
            uint32_t h = head_hash(copy + i);
            set->filter[h / 64] |= 1ull << (h % 64);
        }
        if (len < set->minlen)
            set->minlen = len;
    }
    atomic_store_explicit(&current, set, memory_order_release);
    pthread_mutex_unlock(&lock);
}

/* As curl_easy_escape: everything but ALPHA DIGIT - . _ ~ as %XX. */
static char *
percent_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s);
    char *out = malloc(3 * len + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            *o++ = (char) c;
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

/* %XX decoded (n bytes of s); a new string. */
static char *
percent_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (s[i] == '%' && i + 2 < n
            && isxdigit((unsigned char) s[i + 1])
            && isxdigit((unsigned char) s[i + 2])
            && sscanf(s + i + 1, "%2x", &v) == 1) {
            *o++ = (char) v;
            i += 2;
        } else
            *o++ = s[i];
    }
    *o = '\0';
    return out;
}

static char *
base64(const char *s, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = (const unsigned char *) s;
    char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
    size_t i;

    if (out == NULL)
        return NULL;
    for (i = 0; i + 2 < len; i += 3) {
        *o++ = tab[in[i] >> 2];
        *o++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *o++ = tab[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        *o++ = tab[in[i + 2] & 63];
    }
    if (i < len) {
        *o++ = tab[in[i] >> 2];
        if (i + 1 < len) {
            *o++ = tab[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
            *o++ = tab[(in[i + 1] & 15) << 2];
        } else {
            *o++ = tab[(in[i] & 3) << 4];
            *o++ = '=';
        }
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static void
wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void
secrets_add(const char *value)
{
    const char *forms[2];
    char *enc;

    if (value == NULL || strlen(value) < SECRETS_MIN_LEN)
        return;
    enc = percent_encode(value);
    forms[0] = value;
    forms[1] = enc;
    publish(forms, 2);
    wipe_free(enc);
}

/* Registers base64("user:pass"), the Authorization: Basic form. */
static void
add_basic(const char *user, const char *pass)
{
    char *pair, *b64;

    if (user == NULL || pass == NULL || *pass == '\0'
        || asprintf(&pair, "%s:%s", user, pass) < 0)
        return;
    b64 = base64(pair, strlen(pair));
    wipe_free(pair);
    if (b64) {
        const char *forms[1] = { b64 };
        publish(forms, 1);
        wipe_free(b64);
    }
}

/* scheme://user:password@host...: the password, as written and decoded,
 * and the Basic form of user:password. */
static void
note_url(const char *s)
{
    const char *p = strstr(s, "://"), *auth, *end, *at = NULL, *colon;
    char *user, *pass;

    if (p == NULL)
        return;
    auth = p + 3;
    end = auth + strcspn(auth, "/?#");
    for (const char *q = auth; q < end; q++)
        if (*q == '@')
            at = q;
    if (at == NULL
        || (colon = memchr(auth, ':', (size_t) (at - auth))) == NULL)
        return;
    {
        size_t n = (size_t) (at - colon - 1);
        char raw[n + 1];
        memcpy(raw, colon + 1, n);
        raw[n] = '\0';
        secrets_add(raw);
        explicit_bzero(raw, n);
    }
    user = percent_decode(auth, (size_t) (colon - auth));
    pass = percent_decode(colon + 1, (size_t) (at - colon - 1));
    secrets_add(pass);
    add_basic(user, pass);
    wipe_free(user);
    wipe_free(pass);
}

/* libpq keyword/value conninfo: password=value or password='va lue'. */
static void
note_conninfo(const char *s)
{
    const char *p = s;

    while ((p = strstr(p, "password")) != NULL) {
        const char *v = p + 8;
        size_t n;

        p = v;
        while (*v == ' ')
            v++;
        if (*v++ != '=')
            continue;
        while (*v == ' ')
            v++;
        if (*v == '\'') {
            v++;
            n = strcspn(v, "'");
        } else
            n = strcspn(v, " \t");
        {
            char val[n + 1];
            memcpy(val, v, n);
            val[n] = '\0';
            secrets_add(val);
            explicit_bzero(val, n);
        }
    }
}

/* Headers "Authorization: Bearer x", "X-API-Key: x", and properties
 * "sasl.password=x": a name saying auth, key, token, secret or password. */
static void
note_header(const char *s)
{
    const char *colon = s + strcspn(s, ":="), *v;
    size_t nlen;

    if (*colon == '\0' || strstr(s, "://"))
        return;
    nlen = (size_t) (colon - s);
    {
        char name[nlen + 1];
        memcpy(name, s, nlen);
        name[nlen] = '\0';
        if (!strcasestr(name, "auth") && !strcasestr(name, "key")
            && !strcasestr(name, "token") && !strcasestr(name, "secret")
            && !strcasestr(name, "password"))
            return;
    }
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    secrets_add(v);
    if (strcasestr(s, "authorization") == s && strchr(v, ' '))
        secrets_add(strchr(v, ' ') + 1);
}

/* A string option (or a list entry, then maybe a header). */
static void
note_text(const char *s, int list)
{
    if (s == NULL)
        return;
    note_url(s);
    note_conninfo(s);
    if (list)
        note_header(s);
}

void
secrets_note_conf(const outpost_option_t *table, const void *conf)
{
    const char *user = NULL;

    for (const outpost_option_t *o = table; o && o->name; o++) {
        const void *slot = (const char *) conf + o->offset;

        /* Only a string's slot holds a pointer. */
        if (o->type == OUTPOST_OPT_STRING
            && (strcmp(o->name, "username") == 0
                || strcmp(o->name, "user") == 0))
            user = *(char *const *) slot;
    }
    for (const outpost_option_t *o = table; o && o->name; o++) {
        const void *slot = (const char *) conf + o->offset;
        const char *v;

        switch (o->type) {
        case OUTPOST_OPT_SECRET:
            if ((v = *(char *const *) slot) == NULL || *v == '\0')
                break;
            secrets_add(v);
            note_text(v, 0);        /* a conninfo or URL given as secret */
            add_basic(user, v);
            add_basic(v, "");
            /* Basic auth built from two secrets of the block (key_id and
             * secret, account_sid and auth_token...) */
            for (const outpost_option_t *q = table; q->name; q++) {
                const char *u;
                if (q == o || q->type != OUTPOST_OPT_SECRET)
                    continue;
                u = *(char *const *) ((const char *) conf + q->offset);
                if (u && *u)
                    add_basic(u, v);
            }
            break;
        case OUTPOST_OPT_STRING:
            note_text(*(char *const *) slot, 0);
            break;
        case OUTPOST_OPT_STRLIST: {
            const outpost_strlist_t *l = slot;
            for (size_t i = 0; i < l->n; i++)
                note_text(l->v[i], 1);
            break;
        }
        default:
            break;
        }
    }
}

/* --- scrubbing ------------------------------------------------------------- */

/* The longest form at s[0..len), or 0. */
static size_t
match_at(const struct secret_set *set, const char *s, size_t len)
{
    size_t best = 0;

    for (size_t k = 0; k < set->n; k++)
        if (set->v[k].len <= len && set->v[k].len > best
            && set->v[k].s[0] == s[0]
            && memcmp(s, set->v[k].s, set->v[k].len) == 0)
            best = set->v[k].len;
    return best;
}

/* The earliest (then longest) form in s[0..len); 0 when none. */
static int
first_match(const struct secret_set *set, const char *s, size_t len,
            size_t *at, size_t *mlen)
{
    size_t step = set->minlen - 3, p, m;

    for (size_t q = 0; q + 4 <= len; q += step) {
        uint32_t h = head_hash(s + q);

        if (!(set->filter[h / 64] & (1ull << (h % 64))))
            continue;
        /* occurrences whose first tested window is q start in
         * (q - step, q] */
        for (p = q >= step ? q - step + 1 : 0; p <= q; p++)
            if ((m = match_at(set, s + p, len - p)) > 0) {
                *at = p;
                *mlen = m;
                return 1;
            }
    }
    return 0;
}

int
secrets_scrub(const char *s, char **out)
{
    const struct secret_set *set =
        atomic_load_explicit(&current, memory_order_acquire);
    size_t len, at, mlen, cap, o = 0;
    char *buf;

    *out = NULL;
    if (set == NULL || set->n == 0 || s == NULL)
        return 0;
    len = strlen(s);
    if (!first_match(set, s, len, &at, &mlen))
        return 0;
    /* each match is at least SECRETS_MIN_LEN bytes */
    cap = len + (len / SECRETS_MIN_LEN + 1) * sizeof(SECRETS_REDACTED);
    if ((buf = malloc(cap)) == NULL)
        return -1;
    do {
        memcpy(buf + o, s, at);
        o += at;
        memcpy(buf + o, SECRETS_REDACTED, sizeof(SECRETS_REDACTED) - 1);
        o += sizeof(SECRETS_REDACTED) - 1;
        s += at + mlen;
        len -= at + mlen;
    } while (first_match(set, s, len, &at, &mlen));
    memcpy(buf + o, s, len);
    buf[o + len] = '\0';
    *out = buf;
    return 1;
}

char *
secrets_strdup(const char *s)
{
    char *clean;

    switch (secrets_scrub(s ? s : "", &clean)) {
    case 0:
        return strdup(s ? s : "");
    case 1:
        return clean;
    default:
        return NULL;
    }
}

int
secrets_found(const char *s)
{
    const struct secret_set *set =
        atomic_load_explicit(&current, memory_order_acquire);
    size_t at, mlen;

    return set && s && first_match(set, s, strlen(s), &at, &mlen);
}

void
secrets_reset(void)
{
    struct secret_set *set, *prev;

    pthread_mutex_lock(&lock);
    set = atomic_exchange(&current, NULL);
    /* forms are shared down the chain: the newest set owns them all */
    for (size_t i = 0; set && i < set->n; i++)
        wipe_free(set->v[i].s);
    for (; set; set = prev) {
        prev = set->prev;
        free(set);
    }
    pthread_mutex_unlock(&lock);
}
