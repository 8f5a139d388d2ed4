/*
 * redis.c - the `redis` provider of the databases input, on hiredis 0.14.
 *
 * A probe connects (a new connection every run, so connect_ms is
 * measured), authenticates when a password is configured, selects the
 * database, times PING and reads INFO for the role, clients, memory and
 * rejected connections. Every step ends by the probe's deadline through
 * the shared helpers (plugins/common/redis_conn.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/fields.h>
#include "databases.h"
#include "redis_conn.h"

/* Where and as whom to connect, from url or host/port (+ username and
 * password, which override the url's). */
struct redis_state {
    struct redis_target target;
    int                 url_empty;  /* url was set but empty: credentials
                                       missing */
};

/* --- init ---------------------------------------------------------------- */

/* For validate (outpostd -t): what only the config can fix (the url,
 * see redis_url_check()). */
int
redis_conf_check(const struct db_conf *conf, char *err, size_t errlen)
{
    return conf->url ? redis_url_check(conf->url, err, errlen) : 0;
}

static void
state_free(struct redis_state *st)
{
    if (st == NULL)
        return;
    redis_target_clear(&st->target);
    free(st);
}

static int
redis_init(outpost_instance_t *inst, const struct db_conf *conf,
           void **state)
{
    struct redis_state *st = calloc(1, sizeof(*st));
    struct redis_target *t;

    if (st == NULL)
        return -1;
    t = &st->target;
    if (conf->url && conf->url[0] == '\0')
        st->url_empty = 1;
    else if (conf->url) {
        /* Never log the url: it may carry the password. */
        if (redis_url_parse(conf->url, t) != 0)
            goto fail;      /* db_validate (redis_url_check) refused it */
        if (conf->host)
            outpost_log(inst, OUTPOST_LOG_WARN, "init",
                        "url is set: host, port and db are ignored");
    } else {
        t->host = strdup(conf->host ? conf->host : REDIS_DEFAULT_HOST);
        t->port = (int) conf->port;
        t->db = conf->db;
        if (t->host == NULL)
            goto fail;
    }
    if (redis_target_set(&t->username, conf->username) != 0
        || redis_target_set(&t->password, conf->password) != 0)
        goto fail;
    *state = st;
    return 0;
fail:
    state_free(st);
    return -1;
}

/* --- the probe ----------------------------------------------------------- */

/* One command by the probe's deadline; NULL after db_fail(). */
static redisReply *
command(redisContext *c, struct db_probe *p, int argc, const char **argv)
{
    struct dbconn_err e = { 0 };
    redisReply *r = redis_command_by(c, argc, argv, p->deadline_us, &e);

    if (r == NULL)
        db_fail_err(p, &e);
    return r;
}

static int
ping(redisContext *c, struct db_probe *p)
{
    const char *argv[] = { "PING" };
    int64_t t0 = db_now_us();
    redisReply *r = command(c, p, 1, argv);
    int ok;

    if (r == NULL)
        return -1;
    db_step(p, "ping_ms", t0);
    ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    freeReplyObject(r);
    if (!ok)
        db_fail(p, "protocol", "unexpected answer to PING");
    return ok ? 0 : -1;
}

/* The value of "key:value\r\n" in INFO text, as a malloc'ed string. */
static char *
info_value(const char *info, const char *key)
{
    size_t klen = strlen(key);

    for (const char *line = info; line && *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            return strndup(line + klen + 1, strcspn(line + klen + 1, "\r\n"));
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return NULL;
}

static void
add_info_str(struct db_probe *p, const char *info, const char *key,
             const char *field)
{
    char *v = info_value(info, key);

    if (v)
        outpost_record_add_str(p->rec, field, v);
    free(v);
}

static void
add_info_int(struct db_probe *p, const char *info, const char *key)
{
    char *v = info_value(info, key), *end;
    long long n;

    if (v) {
        n = strtoll(v, &end, 10);
        if (end != v && *end == '\0')
            outpost_record_add_int(p->rec, key, n);
    }
    free(v);
}

static void
info(redisContext *c, struct db_probe *p)
{
    const char *argv[] = { "INFO" };
    redisReply *r = command(c, p, 1, argv);
    char *link;

    if (r == NULL)
        return;
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        db_fail(p, "protocol", "unexpected answer to INFO");
        return;
    }
    add_info_str(p, r->str, "redis_version", "server_version");
    add_info_str(p, r->str, "role", "role");
    add_info_int(p, r->str, "connected_clients");
    add_info_int(p, r->str, "used_memory");
    add_info_int(p, r->str, "rejected_connections");
    if ((link = info_value(r->str, "master_link_status")) != NULL)
        outpost_record_add_bool(p->rec, "master_link_up",
                                strcmp(link, "up") == 0);
    free(link);
    freeReplyObject(r);
}

static void
redis_probe(void *state, const struct db_conf *conf, struct db_probe *p)
{
    const struct redis_state *st = state;
    const struct redis_target *t = &st->target;
    struct dbconn_err e = { 0 };
    int64_t t0 = db_now_us();
    redisContext *c;

    (void) conf;
    if (st->url_empty || (t->password && t->password[0] == '\0')) {
        db_credentials_missing(p, st->url_empty ? "url is empty"
                                                : "password is empty");
        return;
    }
    if ((c = redis_connect_by(t, p->deadline_us, &e)) == NULL) {
        db_fail_err(p, &e);
        return;
    }
    db_step(p, OUTPOST_F_CONNECT_MS, t0);
    if (redis_login_by(c, t, p->deadline_us, &e) != 0)
        db_fail_err(p, &e);
    else if (ping(c, p) == 0)
        info(c, p);
    redisFree(c);
}

static void
redis_shutdown(void *state)
{
    state_free(state);
}

const struct db_provider db_redis = {
    .name = "redis",
    .init = redis_init,
    .probe = redis_probe,
    .shutdown = redis_shutdown,
};
