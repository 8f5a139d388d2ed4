/*
 * servers.h - where the suite's real servers listen, for unit tests that
 * need them (tests/CMakeLists.txt: unit_needs_<test> servers). The
 * fixture (tests/servers/start.sh) writes KEY=VALUE lines to the file
 * named by $OUTPOST_TEST_SERVERS: PG_URL, PG_PORT, REDIS_URL, REDIS_PORT,
 * KAFKA_BROKERS...
 * Header-only, like tmpdir.h.
 */
#ifndef OUTPOST_TEST_SERVERS_H
#define OUTPOST_TEST_SERVERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* The value of key, in a static buffer (one call at a time); aborts the
 * program when the file or the key is missing. */
static inline const char *
test_server(const char *key)
{
    static char value[512];
    const char *path = getenv("OUTPOST_TEST_SERVERS");
    size_t klen = strlen(key);
    char line[600];
    FILE *f;

    if (path == NULL || (f = fopen(path, "r")) == NULL) {
        fprintf(stderr, "test_server: no servers file (OUTPOST_TEST_SERVERS "
                "unset or unreadable): does the test need `servers`?\n");
        abort();
    }
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
            size_t n = strcspn(line + klen + 1, "\r\n");

            if (n >= sizeof(value))
                n = sizeof(value) - 1;
            memcpy(value, line + klen + 1, n);
            value[n] = '\0';
            fclose(f);
            return value;
        }
    fclose(f);
    fprintf(stderr, "test_server: %s is not in %s\n", key, path);
    abort();
}

/* A socket bound to a free loopback port, listening when backlog >= 0.
 * Its fd (close it), the port in *port; aborts on failure. */
static inline int
test_socket(int backlog, int *port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0
        || (backlog >= 0 && listen(fd, backlog) != 0)
        || getsockname(fd, (struct sockaddr *) &sa, &len) != 0)
        abort();
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A listener that accepts connections (the kernel does, from its
 * backlog) but never answers: a server that hangs. */
static inline int
test_silent_listener(int *port)
{
    return test_socket(16, port);
}

/* A loopback port where nothing listens: connecting is refused. */
static inline int
test_closed_port(void)
{
    int port, fd = test_socket(-1, &port);

    close(fd);
    return port;
}

#endif
