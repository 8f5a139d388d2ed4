/*
 * httpcheck_tls.c - days until the peer's certificate chain expires: the
 * earliest notAfter over the chain (blackbox_exporter's
 * probe_ssl_earliest_cert_expiry), from CURLOPT_CERTINFO, which works
 * with every TLS backend curl has. A reused connection has no handshake
 * and so no certificate info: the instance remembers the last notAfter
 * it saw and reports that.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "httpcheck_int.h"

/* OpenSSL writes "Mar 13 12:00:00 2030 GMT", GnuTLS "2030-03-13 12:00:00"
 * (UTC both). 0 when it reads neither. */
static int64_t
parse_date(const char *s)
{
    static const char *const formats[] = {
        "%b %d %H:%M:%S %Y", "%Y-%m-%d %H:%M:%S", NULL
    };

    for (size_t i = 0; formats[i]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        if (strptime(s, formats[i], &tm) != NULL)
            return (int64_t) timegm(&tm);
    }
    return 0;
}

/* The earliest notAfter in the chain, or 0. */
static int64_t
earliest_expiry(CURL *easy)
{
    struct curl_certinfo *ci = NULL;
    int64_t min = 0;

    if (curl_easy_getinfo(easy, CURLINFO_CERTINFO, &ci) != CURLE_OK
        || ci == NULL)
        return 0;
    for (int i = 0; i < ci->num_of_certs; i++) {
        for (struct curl_slist *f = ci->certinfo[i]; f; f = f->next) {
            int64_t t;
            if (strncasecmp(f->data, "Expire date:", 12) != 0)
                continue;
            t = parse_date(f->data + 12);
            if (t > 0 && (min == 0 || t < min))
                min = t;
        }
    }
    return min;
}

void
hc_tls_collect(httpcheck_call_t *c)
{
    const char *scheme = NULL;
    int64_t t;

    curl_easy_getinfo(c->easy, CURLINFO_SCHEME, &scheme);
    if (scheme == NULL || strcasecmp(scheme, "https") != 0)
        return;
    if ((t = earliest_expiry(c->easy)) > 0)
        c->hc->cert_expiry = t;
    else if (c->result != CURLE_OK || (t = c->hc->cert_expiry) == 0)
        return;
    c->cert_days = (double) (t - (int64_t) time(NULL)) / 86400.0;
}

/* --- the CA store ---------------------------------------------------------
 *
 * libcurl (OpenSSL) parses the CA bundle into a store on every new TLS
 * connection unless it may cache it (CURLOPT_CA_CACHE_TIMEOUT, 24 h by
 * default), and then it caches one store per multi handle, keyed by the
 * bundle's path, and only when no CA directory is in use. Three things
 * follow:
 *  1. Debian's libcurl is built with both a bundle
 *     (/etc/ssl/certs/ca-certificates.crt) and a directory (/etc/ssl/certs)
 *     holding the same certificates, so every handshake would re-read
 *     about 150 certificates, some 30 ms of CPU per check. When the
 *     default bundle is readable the directory adds nothing: checks use
 *     the bundle alone, and it is parsed once.
 *  2. A check with its own ca_file would replace that one cached store,
 *     and the next check with the system's CAs would parse the bundle
 *     again. So a ca_file is read once, at init, and handed to curl as a
 *     blob, which curl never caches.
 *  3. curl then parses that blob for each new connection: 0.4 ms of CPU
 *     for one certificate with OpenSSL 3.0, 30 ms for a full bundle, and a
 *     check with a new connection per run makes one every time. With curl's
 *     OpenSSL backend those checks get a store parsed once per distinct
 *     ca_file content and shared, put in place by CURLOPT_SSL_CTX_FUNCTION
 *     (curl's own store is left empty and uncached). Checks that reuse
 *     connections keep the blob: they rarely connect, and curl matches a
 *     connection for reuse on its CA options, which the callback is not.
 */
#define CA_FILE_MAX (4 * 1024 * 1024)

struct hc_ca {
    struct hc_ca *next;
    char         *pem;          /* the content it was parsed from: the key */
    size_t        len;
    X509_STORE   *store;
    unsigned      users;        /* instances holding it */
};

static pthread_once_t  bundle_once = PTHREAD_ONCE_INIT;
static int             bundle_readable;
static int             openssl_backend;
static pthread_mutex_t ca_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hc_ca   *ca_list;

static void
probe_bundle(void)
{
    CURL *e = curl_easy_init();
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    char *path = NULL;

    if (e && curl_easy_getinfo(e, CURLINFO_CAINFO, &path) == CURLE_OK
        && path != NULL)
        bundle_readable = access(path, R_OK) == 0;
    curl_easy_cleanup(e);
    openssl_backend = v->ssl_version != NULL
                      && strncmp(v->ssl_version, "OpenSSL/", 8) == 0;
}

/* The certificates in pem as a store with the flags curl gives its own;
 * NULL if there is none. */
static X509_STORE *
store_from_pem(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, (int) len);
    STACK_OF(X509_INFO) *infos = NULL;
    X509_STORE *store = NULL;
    int n = 0;

    if (bio != NULL)
        infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
    if (infos != NULL && (store = X509_STORE_new()) != NULL) {
        for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
            X509_INFO *info = sk_X509_INFO_value(infos, i);
            if (info->x509 && X509_STORE_add_cert(store, info->x509) == 1)
                n++;
        }
        X509_STORE_set_flags(store, X509_V_FLAG_TRUSTED_FIRST
                                    | X509_V_FLAG_PARTIAL_CHAIN);
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    BIO_free(bio);
    ERR_clear_error();
    if (store != NULL && n == 0) {
        X509_STORE_free(store);
        store = NULL;
    }
    return store;
}

/* The shared entry for pem, made if need be; NULL without certificates. */
static struct hc_ca *
ca_get(const char *pem, size_t len)
{
    struct hc_ca *ca;

    pthread_mutex_lock(&ca_lock);
    for (ca = ca_list; ca; ca = ca->next)
        if (ca->len == len && memcmp(ca->pem, pem, len) == 0)
            break;
    if (ca == NULL && (ca = calloc(1, sizeof(*ca))) != NULL) {
        ca->pem = malloc(len);
        ca->store = ca->pem ? store_from_pem(pem, len) : NULL;
        if (ca->store == NULL) {
            free(ca->pem);
            free(ca);
            ca = NULL;
        } else {
            memcpy(ca->pem, pem, len);
            ca->len = len;
            ca->next = ca_list;
            ca_list = ca;
        }
    }
    if (ca != NULL)
        ca->users++;
    pthread_mutex_unlock(&ca_lock);
    return ca;
}

static void
ca_put(struct hc_ca *ca)
{
    struct hc_ca **pp;

    pthread_mutex_lock(&ca_lock);
    if (--ca->users == 0) {
        for (pp = &ca_list; *pp != ca; pp = &(*pp)->next)
            ;
        *pp = ca->next;
        X509_STORE_free(ca->store);     /* connections hold their own refs */
        free(ca->pem);
        free(ca);
    }
    pthread_mutex_unlock(&ca_lock);
}

/* The CA file, opened so that it can never block: a FIFO (whose open
 * waits for a writer) or a device is refused as not a regular file. */
static FILE *
open_ca(const char *path, char *err, size_t errlen)
{
    struct stat st;
    FILE *f;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "ca_file: cannot read %s: %s", path,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "ca_file: cannot read %s: not a regular file",
                 path);
        close(fd);
        return NULL;
    }
    if ((f = fdopen(fd, "r")) == NULL) {
        snprintf(err, errlen, "ca_file: cannot read %s: %s", path,
                 strerror(errno));
        close(fd);
    }
    return f;
}

int
hc_tls_load_ca(httpcheck_t *hc, char *err, size_t errlen)
{
    const char *path = hc->conf->ca_file;
    FILE *f;
    size_t n;

    if (path == NULL)
        return 0;
    pthread_once(&bundle_once, probe_bundle);
    if ((f = open_ca(path, err, errlen)) == NULL)
        return -1;
    hc->ca_pem = malloc(CA_FILE_MAX);
    n = hc->ca_pem ? fread(hc->ca_pem, 1, CA_FILE_MAX, f) : 0;
    fclose(f);
    if (n == 0 || n == CA_FILE_MAX) {
        snprintf(err, errlen, "ca_file: %s is %s", path,
                 n ? "larger than 4 MB" : "empty or unreadable");
        return -1;
    }
    hc->ca_pem = realloc(hc->ca_pem, n);    /* shrinking: cannot fail */
    hc->ca_pem_len = n;
    if (openssl_backend && (hc->ca = ca_get(hc->ca_pem, n)) == NULL) {
        snprintf(err, errlen, "ca_file: %s holds no PEM certificate", path);
        return -1;
    }
    if (hc->ca != NULL && !hc->conf->reuse_connections) {
        free(hc->ca_pem);               /* the shared store serves */
        hc->ca_pem = NULL;
        hc->ca_pem_len = 0;
    }
    return 0;
}

/* For validate, at every config load: what hc_tls_load_ca would refuse,
 * reading the file only up to its first certificate. Parsing all of a
 * bundle for each of a thousand checks would take seconds, and init
 * parses it once anyway. */
int
hc_tls_check_ca(const char *path, char *err, size_t errlen)
{
    struct stat st;
    FILE *f;
    X509 *x = NULL;

    if (path == NULL)
        return 0;
    if ((f = open_ca(path, err, errlen)) == NULL)
        return -1;
    if (fstat(fileno(f), &st) == 0 && st.st_size >= CA_FILE_MAX) {
        fclose(f);
        snprintf(err, errlen, "ca_file: %s is larger than 4 MB", path);
        return -1;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ERR_clear_error();
    if (x == NULL) {
        snprintf(err, errlen, "ca_file: %s holds no PEM certificate", path);
        return -1;
    }
    X509_free(x);
    return 0;
}

void
hc_tls_release_ca(httpcheck_t *hc)
{
    if (hc->ca != NULL)
        ca_put(hc->ca);
    hc->ca = NULL;
    free(hc->ca_pem);
    hc->ca_pem = NULL;
}

/* curl has set the connection's SSL_CTX up; its store is empty. */
static CURLcode
use_shared_store(CURL *easy, void *ssl_ctx, void *store)
{
    (void) easy;
    SSL_CTX_set1_cert_store(ssl_ctx, store);
    return CURLE_OK;
}

void
hc_tls_set_ca(CURL *e, const httpcheck_t *hc)
{
    struct curl_blob blob;

    pthread_once(&bundle_once, probe_bundle);
    if (hc->ca && !hc->conf->reuse_connections) {
        curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, use_shared_store);
        curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, hc->ca->store);
    } else if (hc->ca_pem) {
        blob.data = hc->ca_pem;
        blob.len = hc->ca_pem_len;
        blob.flags = CURL_BLOB_NOCOPY;
        if (curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob) == CURLE_OK)
            curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
        else                    /* a TLS backend without blobs */
            curl_easy_setopt(e, CURLOPT_CAINFO, hc->conf->ca_file);
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    } else if (bundle_readable)
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
}
