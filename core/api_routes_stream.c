/*
 * api_routes_stream.c - GET /api/v1/stream: every event as it happens,
 * as server-sent events.
 *
 *   id: 42
 *   event: alert                  (the event's kind)
 *   data: {...}                   (the record's JSON, as jsonl writes it)
 *
 * A client that reconnects with "Last-Event-ID: N" (or ?last_event_id=N)
 * gets the events after N that the store still holds; when some were
 * already pushed out of its ring, an "event: gap" comes first. Without
 * it the stream starts with the next event. An id greater than the last
 * one is from before a restart: the stream replays what the store holds.
 * A comment line every 15 s keeps proxies from closing an idle stream.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <outpost/record.h>
#include "api_internal.h"
#include "clock.h"
#include "state.h"

#define BATCH        64
#define KEEPALIVE_MS 15000

struct sse {
    struct state *st;
    uint64_t      last;         /* the last id sent */
    char         *buf;          /* formatted, not yet sent */
    size_t        len, off, cap;
    int64_t       last_write_ms;
};

static int
append(struct sse *s, const char *text, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        char *b;
        while (cap < s->len + n)
            cap *= 2;
        if ((b = realloc(s->buf, cap)) == NULL)
            return -1;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, n);
    s->len += n;
    return 0;
}

static int
fill(struct sse *s)
{
    struct state_event *ev;
    int gap;
    size_t n = state_events_after(s->st, s->last, BATCH, &ev, &gap);
    char head[96];
    int rc = 0;

    s->len = s->off = 0;
    if (gap) {
        int h = snprintf(head, sizeof(head), "event: gap\ndata: "
                         "{\"after\":%" PRIu64 "}\n\n", s->last);
        rc = append(s, head, (size_t) h);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        int h = snprintf(head, sizeof(head), "id: %" PRIu64 "\nevent: %s\n"
                         "data: ", ev[i].id,
                         outpost_event_kind_name(ev[i].kind));
        const char *json = ev[i].json ? ev[i].json : "null";

        /* The JSON is one line: outpost_record_to_json escapes
         * newlines inside strings. */
        rc = append(s, head, (size_t) h) || append(s, json, strlen(json))
             || append(s, "\n\n", 2);
        s->last = ev[i].id;
    }
    state_events_free(ev, n);
    return rc;
}

static ssize_t
sse_read(void *arg, char *buf, size_t max)
{
    struct sse *s = arg;
    size_t n;

    if (s->off == s->len && fill(s) != 0)
        return -1;
    if (s->off == s->len) {
        if (clock_mono_ms() - s->last_write_ms < KEEPALIVE_MS)
            return 0;
        s->len = s->off = 0;
        if (append(s, ": keepalive\n\n", 13) != 0)
            return -1;
    }
    n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->buf + s->off, n);
    s->off += n;
    s->last_write_ms = clock_mono_ms();
    return (ssize_t) n;
}

static void
sse_free(void *arg)
{
    struct sse *s = arg;

    free(s->buf);
    free(s);
}

static void
stream(const struct api_request *req, struct api_response *res, void *arg)
{
    struct state *st = api_state(api_req_api(req));
    const char *from = api_req_header(req, "Last-Event-ID");
    struct state_stats ss;
    struct sse *s;
    char *end;

    (void) arg;
    if (from == NULL)
        from = api_req_query(req, "last_event_id");
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        api_reply_error(res, 503, "out of memory");
        return;
    }
    s->st = st;
    state_get_stats(st, &ss);
    s->last = ss.last_event_id;
    if (from && *from) {
        unsigned long long v = strtoull(from, &end, 10);
        if (*end != '\0') {
            free(s);
            api_reply_error(res, 400, "Last-Event-ID must be an event id");
            return;
        }
        s->last = v > ss.last_event_id ? 0 : (uint64_t) v;
    }
    /* Headers go out at once with this first line. */
    if (append(s, "retry: 2000\n\n", 13) != 0) {
        sse_free(s);
        api_reply_error(res, 503, "out of memory");
        return;
    }
    s->last_write_ms = clock_mono_ms();
    api_reply_header(res, "X-Accel-Buffering", "no");
    api_reply_stream(res, 200, "text/event-stream", sse_read, s, sse_free);
}

void
api_routes_stream(struct api *api)
{
    api_route(api, "GET", "/api/v1/stream", 0, stream, NULL);
}
