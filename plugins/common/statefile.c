/*
 * statefile.c - see statefile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "statefile.h"

static int
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t) n;
    }
    return 0;
}

int
statefile_save_text(const char *dir, const char *name, const char *text,
                    size_t len)
{
    char path[4096], tmp[4112];
    int fd, rc = -1, saved;

    if (dir == NULL) {
        errno = ENOENT;
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    if (write_all(fd, text, len) == 0 && fsync(fd) == 0)
        rc = 0;
    saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0)
        unlink(tmp);
    errno = saved;
    return rc;
}

int
statefile_save(const char *dir, const char *name, const json_t *doc)
{
    /* One buffer, one write: json_dumpfd would write token by token. */
    char *text = json_dumps(doc, JSON_COMPACT);
    int rc;

    if (text == NULL) {
        errno = ENOMEM;
        return -1;
    }
    rc = statefile_save_text(dir, name, text, strlen(text));
    free(text);
    return rc;
}

json_t *
statefile_load(const char *dir, const char *name, char *err, size_t errlen)
{
    char path[4096];
    json_error_t jerr;
    json_t *doc;

    err[0] = '\0';
    if (dir == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (access(path, F_OK) != 0)
        return NULL;
    doc = json_load_file(path, 0, &jerr);
    if (doc == NULL)
        snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
    return doc;
}
