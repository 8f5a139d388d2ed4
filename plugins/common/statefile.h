/*
 * statefile.h - a filter's state as one JSON document under its state
 * directory, replaced atomically (write a temporary file, fsync, rename),
 * so a crash leaves either the old state or the new one, never half.
 *
 * Shared by the failover and alert plugins (alert builds this file from
 * here); it belongs in plugins/common once that folder holds helpers.
 */
#ifndef OUTPOST_STATEFILE_H
#define OUTPOST_STATEFILE_H

#include <jansson.h>

/* Writes doc to dir/name. 0, or -1 with errno. doc is borrowed. */
int     statefile_save(const char *dir, const char *name, const json_t *doc);
/* The same with the document already as text (len bytes). */
int     statefile_save_text(const char *dir, const char *name,
                            const char *text, size_t len);
/* Reads dir/name: a new reference, or NULL when it is missing or unreadable
 * (*err then says why, or is "" when the file simply does not exist). */
json_t *statefile_load(const char *dir, const char *name, char *err,
                       size_t errlen);

#endif
