/*
 * config_api.c - what the api section's option table cannot check alone:
 * the files it names can be read (the token is not empty), the TLS
 * certificate and key come together, and the listen address resolves.
 * Each problem is reported at the line of its option, so `outpostd -t`
 * catches it before a start finds nothing listening. File contents are
 * never quoted: the token is a secret.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "config_internal.h"

void
config_api_line(struct load *L, const char *option, int line)
{
    L->api_line = line;
    if (strcmp(option, "listen") == 0)
        L->api_listen_line = line;
    else if (strcmp(option, "token_file") == 0)
        L->api_token_line = line;
    else if (strcmp(option, "tls_cert_file") == 0)
        L->api_cert_line = line;
    else if (strcmp(option, "tls_key_file") == 0)
        L->api_key_line = line;
}

/* A regular file we can open; with nonempty, one that holds more than
 * blanks. */
static void
check_file(struct load *L, int line, const char *option, const char *path,
           int nonempty)
{
    struct stat st;
    FILE *f;
    int c, seen = 0;

    if (path == NULL)
        return;
    if (stat(path, &st) != 0) {
        diag_add(L->d, L->main_path, line, "option '%s': cannot read %s: %s",
                 option, path, strerror(errno));
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        diag_add(L->d, L->main_path, line, "option '%s': %s is not a regular "
                 "file", option, path);
        return;
    }
    if ((f = fopen(path, "r")) == NULL) {
        diag_add(L->d, L->main_path, line, "option '%s': cannot read %s: %s",
                 option, path, strerror(errno));
        return;
    }
    while (nonempty && !seen && (c = fgetc(f)) != EOF)
        seen = c != ' ' && c != '\t' && c != '\n' && c != '\r';
    fclose(f);
    if (nonempty && !seen)
        diag_add(L->d, L->main_path, line, "option '%s': %s is empty",
                 option, path);
}

/* "host:port" or "[v6]:port" resolves to an address (the table checked
 * the shape and the port). */
static void
check_listen(struct load *L, const char *listen)
{
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                              .ai_socktype = SOCK_STREAM }, *res = NULL;
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    char host[256];
    size_t n;
    int rc;

    if (colon == NULL)
        return;
    n = (size_t) (colon - listen);
    if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
        listen++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(host)) {
        diag_add(L->d, L->main_path, L->api_listen_line, "option 'listen': "
                 "\"%s\" names no host", listen);
        return;
    }
    memcpy(host, listen, n);
    host[n] = '\0';
    rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0)
        diag_add(L->d, L->main_path, L->api_listen_line, "option 'listen': "
                 "cannot resolve \"%s\": %s", host, gai_strerror(rc));
    if (res)
        freeaddrinfo(res);
}

void
config_api_check(struct load *L)
{
    const struct config *c = L->c;

    if (!c->api_enabled)
        return;
    check_listen(L, c->api_listen);
    check_file(L, L->api_token_line, "token_file", c->api_token_file, 1);
    check_file(L, L->api_cert_line, "tls_cert_file", c->api_tls_cert_file,
               1);
    check_file(L, L->api_key_line, "tls_key_file", c->api_tls_key_file, 1);
    if ((c->api_tls_cert_file == NULL) != (c->api_tls_key_file == NULL))
        diag_add(L->d, L->main_path, c->api_tls_cert_file
                 ? L->api_cert_line : L->api_key_line,
                 "api: tls_cert_file and tls_key_file go together (give "
                 "both, or neither)");
}
