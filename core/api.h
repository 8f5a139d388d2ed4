/*
 * api.h - the HTTP API server (libmicrohttpd) and how an area of the API
 * adds its routes.
 *
 * Rules:
 *  1. The server runs on libmicrohttpd's own threads (a small pool, epoll):
 *     never on the event loop, never under the pipeline lock. Handlers run
 *     on those threads, several at once: a handler reads through the state
 *     store (state.h), which copies under its own short lock, and takes the
 *     pipeline lock only for calls that change state (agent_control).
 *  2. Routes are added by the installers called from api_start() (see
 *     "Installing routes" below), before the listener opens; the table is
 *     read-only while the server runs, so lookups take no lock.
 *  3. A request (method, path, query, headers, body) lives until the
 *     handler returns; copy what you keep. Its body has been read in full
 *     and capped at max_body (a longer one got 413 before any handler ran);
 *     it is NUL-terminated.
 *  4. A handler fills its response with one api_reply_* call (a later one
 *     replaces it). Bodies given to api_reply() become the server's and are
 *     freed with free(). A streaming body (api_reply_stream) is read on the
 *     server's threads until it ends or the client goes; its free function
 *     is then called once, on one of those threads.
 *  5. Authentication is the server's: a route flagged API_AUTH (and every
 *     route when require_token is set) is answered 401 without calling the
 *     handler unless "Authorization: Bearer <token>" matches the token
 *     file (compared in constant time). The token never appears in an
 *     answer or a log line.
 *  6. Every error answer is JSON: {"error": "...", "status": N}.
 *  7. The api, its state store and its agent outlive every request: a
 *     reload of the config keeps the server (and restarts the listener only
 *     when listen or TLS changed).
 */
#ifndef OUTPOST_API_H
#define OUTPOST_API_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct agent;
struct config;
struct state;
struct api;
struct api_request;
struct api_response;

/* --- the server ----------------------------------------------------------- */

/* A server for agent a, reading st. Nothing listens until api_start. */
struct api *api_new(struct agent *a, struct state *st);
/* Reads the api section of c (listen, token, TLS, limits) and opens the
 * listener (again when it changed since the last call). 0, or -1 with
 * the reason logged. With `enabled = false` nothing listens; 0. */
int  api_start(struct api *api, const struct config *c);
/* Closes the listener, waits for handlers and streams to end. */
void api_stop(struct api *api);
void api_free(struct api *api);

/* The bound port (useful with listen = "127.0.0.1:0"), or 0. */
unsigned api_port(const struct api *api);

struct agent *api_agent(const struct api *api);
struct state *api_state(const struct api *api);

/* --- routes ---------------------------------------------------------------- */

#define API_AUTH   0x1u   /* needs the bearer token: changes state */
#define API_PREFIX 0x2u   /* path is a prefix ending in '/': the rest of
                             the request's path is api_req_tail() */
#define API_OPEN   0x4u   /* never needs the token, even with
                             require_token (health probes) */

typedef void (*api_handler_fn)(const struct api_request *req,
                               struct api_response *res, void *arg);

/* method: "GET", "POST", "DELETE"... (GET routes also answer HEAD). An
 * exact path wins over a prefix; among prefixes the longest wins. A path
 * that matches with another method gets 405. 0, or -1 (out of memory, or
 * the pair already taken). */
int api_route(struct api *api, const char *method, const char *path,
              unsigned flags, api_handler_fn fn, void *arg);

/* Installing routes. Each area of the API has an installer,
 *     void api_routes_<area>(struct api *api);
 * that calls api_route() for its paths (api_routes_metrics in
 * core/api_metrics.c, api_routes_dashboard in core/api_dashboard.c...);
 * api_start() calls them in the order of the table in api.c, and a new
 * area adds its line there and its declaration in api_internal.h. */

/* --- the request ------------------------------------------------------------ */

const char *api_req_method(const struct api_request *req);
const char *api_req_path(const struct api_request *req);   /* decoded */
/* For an API_PREFIX route: the path after the prefix ("" when none). */
const char *api_req_tail(const struct api_request *req);
/* A query argument (decoded), NULL when absent. */
const char *api_req_query(const struct api_request *req, const char *key);
/* A header (case-insensitive name), NULL when absent. */
const char *api_req_header(const struct api_request *req, const char *name);
/* The body, NUL-terminated; *len its length (0 when none). */
const char *api_req_body(const struct api_request *req, size_t *len);
/* 1 when the request carried the right bearer token. */
int api_req_authorized(const struct api_request *req);
struct api *api_req_api(const struct api_request *req);

/* --- the response ------------------------------------------------------------ */

/* body: malloc'ed, taken (NULL with len 0: an empty body). */
void api_reply(struct api_response *res, int status, const char *ctype,
               char *body, size_t len);
void api_reply_copy(struct api_response *res, int status, const char *ctype,
                    const char *body, size_t len);
/* A JSON value (jansson json_t *, its reference taken), compact. */
void api_reply_json(struct api_response *res, int status, void *json);
/* {"error": <printf text>, "status": status} */
void api_reply_error(struct api_response *res, int status,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An extra header (copied); up to 8 per response. */
void api_reply_header(struct api_response *res, const char *name,
                      const char *value);

/* A body of unknown length made by fn as the client reads. fn fills at
 * most max bytes of buf and returns how many; 0 when it has nothing now
 * (the connection is parked, not polled, and fn is called again when the
 * state store has a new event, or within a second); -1 at the end. Runs on
 * the server's threads, one call at a time per stream. free_fn(arg) is
 * called once the stream is over. */
typedef ssize_t (*api_stream_fn)(void *arg, char *buf, size_t max);
void api_reply_stream(struct api_response *res, int status,
                      const char *ctype, api_stream_fn fn, void *arg,
                      void (*free_fn)(void *arg));

#endif
