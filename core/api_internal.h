/*
 * api_internal.h - what the files of the API share: the server object,
 * the installers of each area, and a small JSON writer for the large
 * answers (10,000 integrations render in a few milliseconds into one
 * buffer, where building a jansson tree would cost several times more).
 */
#ifndef OUTPOST_API_INTERNAL_H
#define OUTPOST_API_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "api.h"

struct route;
struct stream;
struct MHD_Daemon;

struct api {
    struct agent      *agent;
    struct state      *state;
    struct route      *routes;          /* fixed once the server runs */
    size_t             nroutes;
    struct {                            /* what areas free with the api */
        void (*fn)(void *arg);
        void  *arg;
    }                  at_free[4];
    size_t             nat_free;

    /* Set by api_start, read by handlers. */
    _Atomic size_t     max_body;
    _Atomic int        require_token;
    _Atomic int64_t    failing_after_ms;
    pthread_rwlock_t   token_lock;
    char              *token;           /* NULL: none configured */
    size_t             token_len;

    /* The listener (api_start / api_stop, main thread). */
    struct MHD_Daemon *daemon;
    char              *listen, *cert_file, *key_file;
    unsigned           max_connections, timeout_s, threads;
    unsigned           port;
    _Atomic int        stopping;

    /* Streams. */
    pthread_mutex_t    lock;            /* parked, nstreams */
    struct stream     *parked;
    size_t             nstreams;
    pthread_t          waker;
    int                waker_started;

    /* POST .../check waits in flight (bounded: each holds a thread). */
    _Atomic int        checks_waiting;
};

/* fn(arg) runs in api_free, after the server stopped: what an area's
 * routes keep between requests (a route's arg). 0, or -1 when full. */
int  api_at_free(struct api *api, void (*fn)(void *arg), void *arg);

/* The areas, each in its file (api_routes_<area>.c). */
void api_routes_health(struct api *api);
void api_routes_integrations(struct api *api);
void api_routes_alerts(struct api *api);
void api_routes_sla(struct api *api);
void api_routes_stream(struct api *api);
void api_routes_metrics(struct api *api);      /* api_metrics.c */
void api_routes_dashboard(struct api *api);    /* api_dashboard.c */

/* --- a JSON writer (api_json.c) ---------------------------------------------
 * Appends to one growing buffer. Keys and strings are escaped (control
 * characters as \u00XX, invalid UTF-8 as U+FFFD); numbers that are NAN or
 * infinite are written as null. After an allocation failure every call is
 * a no-op and jw_finish returns NULL. Commas are the writer's: jw_key and
 * values inside arrays add one when needed. */
struct jw {
    char   *buf;
    size_t  len, cap;
    int     failed;
    int     first;          /* no value yet at this level */
};

void  jw_init(struct jw *w, size_t hint);
void  jw_obj(struct jw *w);             /* { */
void  jw_obj_end(struct jw *w);         /* } */
void  jw_arr(struct jw *w);             /* [ */
void  jw_arr_end(struct jw *w);         /* ] */
void  jw_key(struct jw *w, const char *key);
void  jw_str(struct jw *w, const char *s);      /* NULL: null */
void  jw_str_or_null(struct jw *w, const char *s); /* "": null */
void  jw_num(struct jw *w, double v);
void  jw_int(struct jw *w, int64_t v);
void  jw_bool(struct jw *w, int v);
void  jw_null(struct jw *w);
void  jw_time(struct jw *w, int64_t ts_ns);     /* RFC 3339 UTC, 0: null */
void  jw_raw(struct jw *w, const char *json);   /* already JSON */
/* The text (malloc'ed, the caller's) and its length, or NULL. */
char *jw_finish(struct jw *w, size_t *len);
void  jw_reply(struct jw *w, struct api_response *res, int status);

/* Shapes more than one route writes (docs/api.md). */
struct state_integration;
struct state_alert;
void api_integration_json(struct jw *w, const struct state_integration *s);
void api_alert_json(struct jw *w, const struct state_alert *a);

/* ?period= values: "1h", "24h", "7d", "30d"... in seconds; -1 when bad. */
int64_t api_period_s(const char *text, int64_t def);

#endif
