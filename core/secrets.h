/*
 * secrets.h - the secrets the agent knows, and scrubbing them out of
 * every text that leaves the process.
 *
 * A vendor may echo a request back ("Invalid API Key provided: ...
 * Authorization: Bearer sk_live_..."), a URL may carry a password, a
 * query string a key: whatever a server sends back, no secret value may
 * reach a log line, a record's string field or tag, or an event. So the
 * core keeps a registry of every secret value it has read, and the exits
 * (outpost_log and log_write in log.c; outpost_record_add_str, event
 * messages and tag sets in record.c) replace each occurrence with
 * SECRETS_REDACTED. Scrubbing once when a record's string is set covers
 * every output, the spill and the API, which only ever read records.
 *
 * What is registered (secrets_note_conf, called when a conf block is
 * filled from the config):
 *   - the value of every OUTPOST_OPT_SECRET option, however given (inline,
 *     x_env, x_file);
 *   - the password of a URL's userinfo (scheme://user:password@host) in
 *     any string or list option, as written and percent-decoded, and the
 *     password of a libpq conninfo (password=...);
 *   - the value of a list entry (a header "Name: value", a property
 *     "name=value") whose name says auth, key, token, secret or password,
 *     and of "Authorization: <scheme> <cred>" the credential alone too;
 *   - inside a secret option (a conninfo, a URL), its password too;
 * and for each value the forms a request carries it in: percent-encoded
 * (a key in a query string) and, paired with the other secrets and the
 * user name of its block, base64("user:password") (Basic auth).
 * Values shorter than SECRETS_MIN_LEN are not registered: scrubbing them
 * would redact ordinary words, and they protect nothing anyway.
 *
 * Lifetime and threads:
 *  1. Registering copies the value; registered values stay until
 *     secrets_reset() (tests only), so a secret dropped on reload is still
 *     scrubbed.
 *  2. Registering takes a lock and publishes a new immutable set; the
 *     scrubbers read the current set without a lock, from any thread.
 *  3. secrets_reset() must not run while another thread scrubs.
 *
 * Cost: with no secret registered a scrub is one atomic load; otherwise
 * one memmem per registered form over the text (secrets are few), and an
 * allocation only when a secret is found.
 */
#ifndef OUTPOST_SECRETS_H
#define OUTPOST_SECRETS_H

#include <stddef.h>
#include <outpost/plugin.h>

#define SECRETS_REDACTED "[redacted]"
#define SECRETS_MIN_LEN  4

/* Registers value (and its percent-encoded form). */
void  secrets_add(const char *value);

/* Registers the secrets found in a conf block filled from table (see
 * above). */
void  secrets_note_conf(const outpost_option_t *table, const void *conf);

/* s with every secret replaced by SECRETS_REDACTED: 0 when s holds none
 * (*out NULL: use s as is), 1 when *out is the scrubbed copy (malloc'ed),
 * -1 when memory is short (*out NULL: s must not be used). */
int   secrets_scrub(const char *s, char **out);

/* A copy of s, scrubbed: what a record keeps. NULL only when memory is
 * short. s NULL reads as "". */
char *secrets_strdup(const char *s);

/* 1 when s holds a registered secret. */
int   secrets_found(const char *s);

/* Forgets every secret (tests). */
void  secrets_reset(void);

#endif /* OUTPOST_SECRETS_H */
