/*
 * redis.c - the `redis` output: the live state of every integration in
 * Redis, for applications to route by, plus the stream of records and a
 * pub/sub channel announcing them. On hiredis 0.14 through the shared
 * helpers (common/redis_conn.h: url, connect, AUTH and SELECT by deadline).
 *
 * What it writes (fixed names; docs/plugins/redis.md for readers):
 *
 *   outpost:integration:<integration>  hash, the latest check: its fields
 *       (status, health_score, success, response_ms, error, circuit,
 *       failover_active, vendor_status...), integration, check (the
 *       measurement's name), provider/category/tier/failover_group tags,
 *       checked_at (the check's time, Unix ms), updated_at (when written).
 *       Decision fields the latest check lacks are removed, so the hash
 *       never mixes two checks.
 *   outpost:circuit:<integration>      hash: state, since, from, reason,
 *       open_until, updated_at. Circuit events set all of it; a check
 *       carrying `circuit` sets state and refreshes the TTL.
 *   outpost:failover:<group>           hash: active, previous, reason,
 *       strategy, change, weights (JSON object), since, updated_at.
 *       Failover events set all of it; a check carrying failover_active
 *       (and the failover_group tag) sets active and refreshes the TTL.
 *   outpost:events                     stream, one entry per record
 *       (`stream`), capped by XADD MAXLEN ~ stream_maxlen;
 *                                      channel, PUBLISH of the record's
 *       JSON (`publish`).
 *
 * The three hashes expire state_ttl after their last refresh: an agent
 * that stopped leaves no state that looks current. Everything comes from
 * the records themselves, never from a filter's memory.
 *
 * A batch, on the output's thread (plugin.h, output rule 8), takes three
 * pipelined round trips, four or five when a record needs a second look:
 *
 *   0. TYPE of every state key the transactions will write: Redis does
 *      not roll a transaction back, so a key of another type (someone
 *      else's) would still get the PEXPIRE. Such a key refuses the
 *      records behind it, before anything is written.
 *   1. state: one MULTI/EXEC per integration (its latest check in the
 *      batch: the hash is current state, the stream keeps the history)
 *      and per circuit or failover event, so a hash and its TTL change
 *      together. An error reply specific to a key (WRONGTYPE...) refuses
 *      the records behind that transaction: outpost_batch_reject(), and
 *      they go neither to the stream nor to the channel.
 *   2. stream and channel: XADD with an id derived from the record, and
 *      PUBLISH, for every record not refused.
 *   3. resend check: XADD refuses an id not above the stream's last. The
 *      record was either delivered already (its reply was lost, or it was
 *      replayed after a crash: XRANGE finds an entry with its id, ts_ns
 *      and name, or its late marker names the id it was given, and XRANGE
 *      finds it there in a round of its own) or it is late (an input that
 *      took longer stamped it earlier than records already written). The
 *      same round reads the stream's last id.
 *   4. late records: SET of the late marker, then XADD with the next id
 *      after the last, in the last one's millisecond (never the clock's:
 *      an id from the clock would make every record after it late).
 *
 * The stream id of a record, its own: <ms>-<seq>, ms = ts_ns / 1e6, seq =
 * the sub-millisecond nanoseconds << 40 | 40 bits of FNV-1a over what
 * makes the record unique (a measurement: integration and name; an
 * event: dedup_key and kind). The same record always gets the same id.
 * A late record's id is remembered by its own, in memory (the last
 * RD_LATE of them: a resend in this process goes straight to it) and in
 * Redis, for a resend by a later run of the agent (a batch replayed from
 * the spill after a crash): the string outpost:events:late:<own id> holds
 * the id given, for RD_MARK_TTL_MS. The marker is set before the XADD, in
 * the same pipeline, so an entry written late always has one; a marker
 * is only a hint (the XADD after it may not have happened): the entry it
 * names must hold the record's ts_ns and name.
 *
 * Errors: a broken connection, a timeout, LOADING, BUSY, READONLY (a
 * replica), OOM, MASTERDOWN, TRYAGAIN, NOAUTH/WRONGPASS/NOPERM: the
 * connection is dropped (never reused out of step), the records whose
 * replies all arrived are reported with outpost_batch_delivered() and the
 * write answers OUTPOST_RETRY: the core's backoff paces the reconnect.
 * Any other error reply belongs to one record's command: that record is
 * refused, the rest goes on.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <hiredis/sds.h>
#include <jansson.h>
#include <outpost/fields.h>
#include <outpost/plugin.h>
#include "redis_conn.h"

#define RD_STREAM       "outpost:events"
#define RD_CHANNEL      "outpost:events"
#define RD_INTEGRATION  "outpost:integration:"
#define RD_CIRCUIT      "outpost:circuit:"
#define RD_FAILOVER     "outpost:failover:"
#define RD_MARK         "outpost:events:late:"

/* How long a late record's marker stays: a resend later than that (a
 * spill replayed after a week) may write it twice. */
#define RD_MARK_TTL_MS  "604800000"

struct rd_conf {
    char    *url;
    char    *username;
    char    *password;
    int64_t  connect_timeout_ms;
    int64_t  command_timeout_ms;
    char    *stream;            /* all | events | none */
    int64_t  stream_maxlen;     /* 0: no cap */
    char    *publish;           /* all | events | none */
    int64_t  state_ttl_ms;      /* 0: three intervals */
};

#define DAYS_365_MS 31536000000.0

static const outpost_option_t rd_options[] = {
    { .name = "url", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct rd_conf, url),
      .def = "redis://127.0.0.1:6379/0",
      .help = "redis://[[username]:password@]host[:port][/db]" },
    { .name = "username", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct rd_conf, username),
      .help = "ACL user (overrides the url's)" },
    { .name = "password", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct rd_conf, password),
      .help = "AUTH password (overrides the url's)" },
    { .name = "connect_timeout", .type = OUTPOST_OPT_DURATION,
      .offset = offsetof(struct rd_conf, connect_timeout_ms), .def = "2s",
      .min = 1, .max = DAYS_365_MS,
      .help = "connecting, AUTH and SELECT must end within this" },
    { .name = "command_timeout", .type = OUTPOST_OPT_DURATION,
      .offset = offsetof(struct rd_conf, command_timeout_ms), .def = "5s",
      .min = 1, .max = DAYS_365_MS,
      .help = "the replies to a batch must arrive within this" },
    { .name = "stream", .type = OUTPOST_OPT_ENUM,
      .offset = offsetof(struct rd_conf, stream), .def = "all",
      .choices = "all|events|none",
      .help = "records added to the stream outpost:events" },
    { .name = "stream_maxlen", .type = OUTPOST_OPT_INT,
      .offset = offsetof(struct rd_conf, stream_maxlen), .def = "100000",
      .min = 0, .max = 1e12,
      .help = "about how many entries the stream keeps (0: no cap)" },
    { .name = "publish", .type = OUTPOST_OPT_ENUM,
      .offset = offsetof(struct rd_conf, publish), .def = "events",
      .choices = "all|events|none",
      .help = "records published on the channel outpost:events" },
    { .name = "state_ttl", .type = OUTPOST_OPT_DURATION,
      .offset = offsetof(struct rd_conf, state_ttl_ms), .def = "0s",
      .min = 0, .max = DAYS_365_MS,
      .help = "state keys expire this long after their last refresh "
              "(0: three times the global interval)" },
    OUTPOST_OPTION_END
};

/* Live state: small batches often, so that a reader is seconds behind at
 * most; 1000 records still fill a pipeline under load. */
static const outpost_default_t rd_defaults[] = {
    { "batch_size", "1000" },
    { "flush_interval", "100ms" },
    { "timeout", "10s" },
    OUTPOST_DEFAULT_END
};

enum rd_scope { RD_NONE, RD_EVENTS, RD_ALL };

/* One command being built: arguments either borrowed (off == NOFF) or
 * formatted into text (off: where), resolved just before sending. */
#define NOFF ((size_t) -1)

struct rd_cmd {
    size_t       n, cap;
    const char **v;
    size_t      *len;
    size_t      *off;
    char        *text;
    size_t       tlen, tcap;
};

/* What a reply in the pipeline answers. */
enum rd_what { W_TYPE, W_MULTI, W_QUEUED, W_EXEC, W_XADD, W_PUBLISH, W_XRANGE,
               W_MARK_GET, W_MARK_SET, W_XADD_LATE, W_TOP };

/* A stream entry id, <ms>-<seq>. */
struct rd_id {
    uint64_t ms, seq;
};

/* The ids given to late records, by their own id: a resend gets the
 * same one, so it is recognised too. A fixed table: an entry pushed out
 * by another only costs that recognition. */
#define RD_LATE 65536   /* a power of two */

struct rd_late {
    struct rd_id own, given;
};

struct rd_pending {
    uint32_t rec;       /* the record (batch index) it belongs to */
    uint8_t  what;      /* enum rd_what */
};

/* A record's fate within one write. F_RECHECK: its late marker names
 * another id, to look under too. */
enum rd_fate { F_OPEN = 0, F_REJECTED, F_CHECK, F_RECHECK };

/* Round 3's steps (see the top of the file). */
enum rd_phase { P_LOOKUP, P_MARKED, P_LATE };

/* "tags.<key>" and "fields.<key>" for an interned key (record.h, rule 3:
 * its pointer names it for the process's lifetime), made once. */
#define RD_KEYS 512     /* a power of two */

struct rd_key {
    const char *key;
    char       *tag;
    char       *field;
};

/* An integration seen in the batch, and its latest check's index. */
struct rd_seen {
    const char *name;
    uint32_t    last;
};

struct rd_state {
    struct redis_target target;
    int                 url_empty;   /* the url secret resolved to "" */
    redisContext       *c;           /* NULL: connect on the next write */
    enum rd_scope       stream, publish;
    char                ttl[24];     /* PEXPIRE argument */
    char                maxlen[24];
    char                last_error[256]; /* logged once until it changes */

    struct rd_cmd       cmd;
    char               *resp;        /* a command in RESP, for hiredis */
    size_t              resp_cap;
    struct rd_pending  *pend;
    size_t              npend, cappend;
    uint8_t            *fate;        /* per record, enum rd_fate */
    uint32_t           *owner;       /* per record: the index whose state
                                        transaction covers it */
    struct rd_seen     *seen;
    struct rd_id       *used;        /* per record: the id it was sent with */
    size_t              capn;
    struct rd_id        top;         /* the stream's last id as far as we
                                        know: read on connecting, raised
                                        by every id we send */
    struct rd_late     *late;        /* RD_LATE entries */
    struct rd_key       keys[RD_KEYS];
};

/* --- building commands --------------------------------------------------- */

static void
cmd_reset(struct rd_cmd *c)
{
    c->n = 0;
    c->tlen = 0;
}

static int
cmd_grow(struct rd_cmd *c)
{
    size_t cap = c->cap ? c->cap * 2 : 64;
    const char **v = realloc(c->v, cap * sizeof(*v));
    size_t *len, *off;

    if (v == NULL)
        return -1;
    c->v = v;
    if ((len = realloc(c->len, cap * sizeof(*len))) == NULL)
        return -1;
    c->len = len;
    if ((off = realloc(c->off, cap * sizeof(*off))) == NULL)
        return -1;
    c->off = off;
    c->cap = cap;
    return 0;
}

/* A borrowed argument: s must live until the command is sent. */
static int
arg(struct rd_cmd *c, const char *s, size_t n)
{
    if (c->n == c->cap && cmd_grow(c) != 0)
        return -1;
    c->v[c->n] = s;
    c->len[c->n] = n;
    c->off[c->n++] = NOFF;
    return 0;
}

static int
arg_str(struct rd_cmd *c, const char *s)
{
    return arg(c, s, strlen(s));
}

/* A formatted argument, kept in the command's text. */
static int
arg_fmt(struct rd_cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
arg_fmt(struct rd_cmd *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        size_t room = c->tcap - c->tlen;

        va_start(ap, fmt);
        n = vsnprintf(c->text + c->tlen, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if ((size_t) n < room)
            break;
        size_t cap = c->tcap ? c->tcap * 2 : 4096;
        while (cap < c->tlen + (size_t) n + 1)
            cap *= 2;
        char *t = realloc(c->text, cap);
        if (t == NULL)
            return -1;
        c->text = t;
        c->tcap = cap;
    }
    if (c->n == c->cap && cmd_grow(c) != 0)
        return -1;
    c->v[c->n] = NULL;
    c->len[c->n] = (size_t) n;
    c->off[c->n++] = c->tlen;
    c->tlen += (size_t) n + 1;
    return 0;
}

/* A decimal integer, kept in the command's text (printf is the slow
 * part of building a command). */
static int
arg_int(struct rd_cmd *c, long long v)
{
    char digits[24], *p = digits + sizeof(digits);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long) v
                                 : (unsigned long long) v;
    size_t n;

    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    n = (size_t) (digits + sizeof(digits) - p);
    if (c->tlen + n + 1 > c->tcap) {
        size_t cap = c->tcap ? c->tcap * 2 : 4096;
        char *t = realloc(c->text, cap);

        if (t == NULL)
            return -1;
        c->text = t;
        c->tcap = cap;
    }
    if (c->n == c->cap && cmd_grow(c) != 0)
        return -1;
    memcpy(c->text + c->tlen, p, n);
    c->text[c->tlen + n] = '\0';
    c->v[c->n] = NULL;
    c->len[c->n] = n;
    c->off[c->n++] = c->tlen;
    c->tlen += n + 1;
    return 0;
}

/* A float as "%.15g" writes it. Most values a check carries (12.5,
 * 0.98, 200) have a few decimals: those are written by hand, printf's
 * exact conversion being the slow part of an XADD. A value v that is
 * m / 10^k for an integer m, k <= 6 and |v| < 1e9 has at most 15
 * significant digits, so "%.15g" would write that decimal too. */
static int
arg_float(struct rd_cmd *c, double v)
{
    long long scale = 1;

    if (!isfinite(v) || fabs(v) >= 1e9 || (v == 0 && signbit(v)))
        return arg_fmt(c, "%.15g", v);
    for (int k = 0; k <= 6; k++, scale *= 10) {
        double m = v * (double) scale;
        long long q = (long long) m;

        if ((double) q == m && (double) q / (double) scale == v) {
            unsigned long long u = q < 0 ? 0ULL - (unsigned long long) q
                                         : (unsigned long long) q;
            unsigned long long whole = u / (unsigned long long) scale;
            unsigned long long frac = u % (unsigned long long) scale;

            while (k > 0 && frac % 10 == 0) {
                frac /= 10;
                k--;
            }
            if (k == 0)
                return arg_int(c, q < 0 ? -(long long) whole
                                        : (long long) whole);
            return arg_fmt(c, "%s%llu.%0*llu", q < 0 ? "-" : "", whole, k,
                           frac);
        }
    }
    return arg_fmt(c, "%.15g", v);
}

/* A field's value as text: numbers as printf writes them, booleans as
 * true/false (as in the record's JSON), strings as they are. */
static int
arg_value(struct rd_cmd *c, const outpost_field_t *f)
{
    switch (f->type) {
    case OUTPOST_FIELD_INT:
        return arg_int(c, (long long) f->v.i);
    case OUTPOST_FIELD_FLOAT:
        return arg_float(c, f->v.f);
    case OUTPOST_FIELD_BOOL:
        return arg_str(c, f->v.b ? "true" : "false");
    case OUTPOST_FIELD_STRING:
        return arg_str(c, f->v.s ? f->v.s : "");
    default:
        return arg_str(c, "");
    }
}

static int
pend_push(struct rd_state *st, size_t rec, enum rd_what what)
{
    if (st->npend == st->cappend) {
        size_t cap = st->cappend ? st->cappend * 2 : 1024;
        struct rd_pending *p = realloc(st->pend, cap * sizeof(*p));

        if (p == NULL)
            return -1;
        st->pend = p;
        st->cappend = cap;
    }
    st->pend[st->npend].rec = (uint32_t) rec;
    st->pend[st->npend++].what = (uint8_t) what;
    return 0;
}

/* Past this many bytes of commands not yet sent, a write hands them to
 * the socket while the rest of the round is being built: Redis works on
 * the first commands meanwhile, instead of waiting for the whole round.
 * Its replies wait in its output buffer (and the socket's) until the
 * round's are read. */
#define RD_FLUSH_AT 65536

/* n in decimal at p; the end. */
static char *
put_uint(char *p, size_t n)
{
    char digits[24], *d = digits + sizeof(digits);

    do {
        *--d = (char) ('0' + n % 10);
        n /= 10;
    } while (n);
    memcpy(p, d, (size_t) (digits + sizeof(digits) - d));
    return p + (digits + sizeof(digits) - d);
}

/* The command in RESP (*<n> then $<len> <bytes> per argument, each line
 * ended by CRLF) into st->resp; its length, or 0 out of memory. Done here
 * rather than by redisAppendCommandArgv, whose sdscatfmt per argument
 * cost more than the rest of building an XADD. */
static size_t
resp_format(struct rd_state *st)
{
    const struct rd_cmd *c = &st->cmd;
    size_t need = 16;
    char *p;

    for (size_t i = 0; i < c->n; i++)
        need += c->len[i] + 26;
    if (need > st->resp_cap) {
        size_t cap = st->resp_cap ? st->resp_cap : 4096;
        char *r;

        while (cap < need)
            cap *= 2;
        if ((r = realloc(st->resp, cap)) == NULL)
            return 0;
        st->resp = r;
        st->resp_cap = cap;
    }
    p = st->resp;
    *p++ = '*';
    p = put_uint(p, c->n);
    *p++ = '\r';
    *p++ = '\n';
    for (size_t i = 0; i < c->n; i++) {
        *p++ = '$';
        p = put_uint(p, c->len[i]);
        *p++ = '\r';
        *p++ = '\n';
        memcpy(p, c->off[i] != NOFF ? c->text + c->off[i] : c->v[i],
               c->len[i]);
        p += c->len[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    return (size_t) (p - st->resp);
}

/* Appends the command to the connection's output buffer and notes what
 * its reply will answer; sends what is buffered once there is enough of
 * it. A failed send leaves the context in error: the round's first
 * reply says so. */
static int
cmd_send(struct rd_state *st, size_t rec, enum rd_what what)
{
    struct rd_cmd *c = &st->cmd;
    size_t len = resp_format(st);
    int done;

    if (len == 0 || pend_push(st, rec, what) != 0
        || redisAppendFormattedCommand(st->c, st->resp, len) != REDIS_OK)
        return -1;
    cmd_reset(c);
    if (st->c->err == 0 && sdslen(st->c->obuf) >= RD_FLUSH_AT)
        (void) redisBufferWrite(st->c, &done);
    return 0;
}

/* A command of borrowed and formatted arguments, in one call. */
static int
send_simple(struct rd_state *st, size_t rec, enum rd_what what,
            int argc, const char *const *argv)
{
    for (int i = 0; i < argc; i++)
        if (arg_str(&st->cmd, argv[i]) != 0)
            return -1;
    return cmd_send(st, rec, what);
}

/* --- the connection ------------------------------------------------------ */

static void
drop_conn(struct rd_state *st)
{
    if (st->c)
        redisFree(st->c);
    st->c = NULL;
}

/* Logs msg at error level unless it is what was logged last: an outage
 * says so once, not at every retry. */
static void
report(outpost_instance_t *inst, struct rd_state *st, const char *op,
       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
report(outpost_instance_t *inst, struct rd_state *st, const char *op,
       const char *fmt, ...)
{
    char msg[sizeof(st->last_error)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(msg, st->last_error) == 0)
        return;
    snprintf(st->last_error, sizeof(st->last_error), "%s", msg);
    outpost_log(inst, OUTPOST_LOG_ERROR, op, "%s; records stay queued",
                msg);
}

static void read_top(struct rd_state *st, const redisReply *rep);

/* Where the stream ends, as this connection finds it. */
static int
stream_top(struct rd_state *st, int64_t deadline, struct dbconn_err *e)
{
    const char *argv[] = { "XREVRANGE", RD_STREAM, "+", "-", "COUNT", "1" };
    redisReply *rep = redis_command_by(st->c, 6, argv, deadline, e);

    if (rep == NULL)
        return -1;
    read_top(st, rep);
    freeReplyObject(rep);
    return 0;
}

static int
ensure_conn(outpost_instance_t *inst, struct rd_state *st)
{
    struct rd_conf *conf = outpost_instance_conf(inst);
    int64_t deadline = dbconn_now_us() + conf->connect_timeout_ms * 1000;
    struct dbconn_err e = { 0 };
    struct timeval tv;

    if (st->c)
        return 0;
    if (st->url_empty) {
        report(inst, st, "connect", "credentials missing: url is empty");
        return -1;
    }
    st->c = redis_connect_by(&st->target, deadline, &e);
    if (st->c && (redis_login_by(st->c, &st->target, deadline, &e) != 0
                  || stream_top(st, deadline, &e) != 0))
        drop_conn(st);
    if (st->c == NULL) {
        char where[300];
        size_t n = (size_t) snprintf(where, sizeof(where), "%s:%d: ",
                                     st->target.host, st->target.port);
        const char *msg = strncmp(e.msg, where, n) == 0 ? e.msg + n : e.msg;

        if (e.deadline)
            report(inst, st, "connect", "%s:%d: timeout: %s after %lld ms",
                   st->target.host, st->target.port, msg,
                   (long long) conf->connect_timeout_ms);
        else
            report(inst, st, "connect", "%s:%d: %s: %s", st->target.host,
                   st->target.port, e.reason ? e.reason : "connect", msg);
        return -1;
    }
    /* Each read and write on the socket ends within command_timeout; the
     * batch as a whole is checked against it between replies. */
    tv.tv_sec = conf->command_timeout_ms / 1000;
    tv.tv_usec = (suseconds_t) (conf->command_timeout_ms % 1000) * 1000;
    if (redisSetTimeout(st->c, tv) != REDIS_OK) {
        drop_conn(st);
        return -1;
    }
    if (st->last_error[0] != '\0')
        outpost_log(inst, OUTPOST_LOG_INFO, "connect", "connected to %s:%d "
                    "db %lld again", st->target.host, st->target.port,
                    (long long) st->target.db);
    st->last_error[0] = '\0';
    return 0;
}

/* --- error replies ------------------------------------------------------- */

/* Error replies about the server rather than a record: retry later. */
static int
server_error(const char *msg)
{
    static const char *const prefixes[] = {
        "LOADING", "BUSY", "READONLY", "OOM", "MASTERDOWN", "TRYAGAIN",
        "CLUSTERDOWN", "NOREPLICAS", "NOAUTH", "WRONGPASS", "NOPERM",
        "MISCONF", NULL
    };

    for (const char *const *p = prefixes; *p; p++)
        if (strncmp(msg, *p, strlen(*p)) == 0)
            return 1;
    return 0;
}

static int
stale_id(const char *msg)
{
    return strstr(msg, "equal or smaller than the target stream top") != NULL;
}

/* --- what goes where ----------------------------------------------------- */

static const char *
integration_of(const outpost_record_t *rec)
{
    return outpost_record_tag(rec, OUTPOST_TAG_INTEGRATION);
}

static int
same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int
in_scope(enum rd_scope s, const outpost_record_t *rec)
{
    return s == RD_ALL || (s == RD_EVENTS && rec->kind == OUTPOST_EVENT);
}

/* The decision and check fields a hash must not keep from an older
 * check: removed when the latest one lacks them. */
static const char *const state_fields[] = {
    OUTPOST_F_SUCCESS, OUTPOST_F_STATUS_CODE, OUTPOST_F_RESPONSE_MS,
    OUTPOST_F_ERROR, OUTPOST_F_REASON, OUTPOST_F_STATUS_HINT,
    OUTPOST_F_RETRY_AFTER_S, OUTPOST_F_VENDOR_STATUS, OUTPOST_F_STATUS,
    OUTPOST_F_HEALTH_SCORE, OUTPOST_F_CONSECUTIVE_FAILURES,
    OUTPOST_F_CIRCUIT, OUTPOST_F_FAILOVER_ACTIVE,
    OUTPOST_F_ERROR_BUDGET_REMAINING, NULL
};

static const char *const state_tags[] = {
    OUTPOST_TAG_PROVIDER, OUTPOST_TAG_CATEGORY, OUTPOST_TAG_TIER,
    OUTPOST_TAG_FAILOVER_GROUP, NULL
};

static const char *
nz(const char *s)
{
    return s ? s : "";
}

static long long
now_ms(void)
{
    return (long long) (outpost_time_now() / 1000000);
}

static int
expire(struct rd_state *st, size_t rec, const char *prefix, const char *name)
{
    struct rd_cmd *c = &st->cmd;

    if (arg_str(c, "PEXPIRE") || arg_fmt(c, "%s%s", prefix, name)
        || arg_str(c, st->ttl))
        return -1;
    return cmd_send(st, rec, W_QUEUED);
}

/* MULTI, the integration's hash from its check, its circuit and
 * failover keys when the check speaks of them, EXEC. */
static int
send_check_state(struct rd_state *st, size_t i, const outpost_record_t *rec)
{
    static const char *const multi[] = { "MULTI" }, *const exec[] = { "EXEC" };
    struct rd_cmd *c = &st->cmd;
    const char *integ = integration_of(rec);
    const char *circuit = outpost_record_string(rec, OUTPOST_F_CIRCUIT);
    const char *active = outpost_record_string(rec, OUTPOST_F_FAILOVER_ACTIVE);
    const char *group = outpost_record_tag(rec, OUTPOST_TAG_FAILOVER_GROUP);
    long long now = now_ms(), at = (long long) (rec->ts_ns / 1000000);
    size_t absent = 0;

    if (send_simple(st, i, W_MULTI, 1, multi) != 0)
        return -1;
    if (arg_str(c, "HSET") || arg_fmt(c, RD_INTEGRATION "%s", integ)
        || arg_str(c, "integration") || arg_str(c, integ)
        || arg_str(c, "check") || arg_str(c, rec->name)
        || arg_str(c, "checked_at") || arg_int(c, at)
        || arg_str(c, "updated_at") || arg_int(c, now))
        return -1;
    for (const char *const *t = state_tags; *t; t++) {
        const char *v = outpost_record_tag(rec, *t);
        if (v && (arg_str(c, *t) || arg_str(c, v)))
            return -1;
    }
    for (uint16_t k = 0; k < rec->nfields; k++)
        if (arg_str(c, rec->fields[k].key)
            || arg_value(c, &rec->fields[k]))
            return -1;
    if (cmd_send(st, i, W_QUEUED) != 0)
        return -1;
    for (const char *const *f = state_fields; *f; f++)
        if (outpost_record_field(rec, *f) == NULL) {
            if (absent++ == 0 && (arg_str(c, "HDEL")
                                  || arg_fmt(c, RD_INTEGRATION "%s", integ)))
                return -1;
            if (arg_str(c, *f))
                return -1;
        }
    if (absent && cmd_send(st, i, W_QUEUED) != 0)
        return -1;
    if (expire(st, i, RD_INTEGRATION, integ) != 0)
        return -1;
    if (circuit) {
        if (arg_str(c, "HSET") || arg_fmt(c, RD_CIRCUIT "%s", integ)
            || arg_str(c, "state") || arg_str(c, circuit)
            || arg_str(c, "updated_at") || arg_int(c, now)
            || cmd_send(st, i, W_QUEUED)
            || arg_str(c, "HSETNX") || arg_fmt(c, RD_CIRCUIT "%s", integ)
            || arg_str(c, "since") || arg_int(c, at)
            || cmd_send(st, i, W_QUEUED)
            || expire(st, i, RD_CIRCUIT, integ))
            return -1;
    }
    if (active && group) {
        if (arg_str(c, "HSET") || arg_fmt(c, RD_FAILOVER "%s", group)
            || arg_str(c, "active") || arg_str(c, active)
            || arg_str(c, "updated_at") || arg_int(c, now)
            || cmd_send(st, i, W_QUEUED)
            || expire(st, i, RD_FAILOVER, group))
            return -1;
    }
    return send_simple(st, i, W_EXEC, 1, exec);
}

/* A circuit event: the integration's circuit, whole. */
static int
send_circuit_state(struct rd_state *st, size_t i, const outpost_record_t *rec)
{
    static const char *const multi[] = { "MULTI" }, *const exec[] = { "EXEC" };
    struct rd_cmd *c = &st->cmd;
    const char *integ = integration_of(rec);
    const char *to = outpost_record_string(rec, OUTPOST_F_TO);
    const char *from = outpost_record_string(rec, OUTPOST_F_FROM);
    const outpost_field_t *until = outpost_record_field(rec, "open_until_ns");

    if (send_simple(st, i, W_MULTI, 1, multi) != 0
        || arg_str(c, "HSET") || arg_fmt(c, RD_CIRCUIT "%s", integ)
        || arg_str(c, "state") || arg_str(c, to ? to : "closed")
        || arg_str(c, "from") || arg_str(c, from ? from : "")
        || arg_str(c, "since")
        || arg_fmt(c, "%lld", (long long) (rec->ts_ns / 1000000))
        || arg_str(c, "reason") || arg_str(c, nz(rec->event->message))
        || arg_str(c, "updated_at") || arg_fmt(c, "%lld", now_ms()))
        return -1;
    if (until && (arg_str(c, "open_until")
                  || arg_fmt(c, "%lld", (long long) (outpost_field_number(
                                 until, 0) / 1e6))))
        return -1;
    if (cmd_send(st, i, W_QUEUED) != 0)
        return -1;
    if (until == NULL
        && (arg_str(c, "HDEL") || arg_fmt(c, RD_CIRCUIT "%s", integ)
            || arg_str(c, "open_until") || cmd_send(st, i, W_QUEUED)))
        return -1;
    if (expire(st, i, RD_CIRCUIT, integ) != 0)
        return -1;
    return send_simple(st, i, W_EXEC, 1, exec);
}

/* The weight.<member> fields of a failover event as one JSON object. */
static char *
weights_json(const outpost_record_t *rec)
{
    json_t *o = json_object();
    char *s;

    for (uint16_t k = 0; k < rec->nfields; k++)
        if (strncmp(rec->fields[k].key, "weight.", 7) == 0)
            json_object_set_new(o, rec->fields[k].key + 7, json_real(
                outpost_field_number(&rec->fields[k], 0)));
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
    json_decref(o);
    return s;
}

/* A failover event: the group's failover key, whole. */
static int
send_failover_state(struct rd_state *st, size_t i, const outpost_record_t *rec)
{
    static const char *const multi[] = { "MULTI" }, *const exec[] = { "EXEC" };
    static const char *const copied[] = { "active", "previous",
        OUTPOST_F_REASON, "strategy", "change", NULL };
    struct rd_cmd *c = &st->cmd;
    const char *group = outpost_record_string(rec, "group");
    char *weights;
    int rc = -1;

    if (group == NULL)
        group = outpost_record_tag(rec, OUTPOST_TAG_FAILOVER_GROUP);
    if (group == NULL)
        return 0;
    if ((weights = weights_json(rec)) == NULL)
        return -1;
    if (send_simple(st, i, W_MULTI, 1, multi) != 0
        || arg_str(c, "HSET") || arg_fmt(c, RD_FAILOVER "%s", group)
        || arg_str(c, "weights") || arg_str(c, weights)
        || arg_str(c, "since")
        || arg_fmt(c, "%lld", (long long) (rec->ts_ns / 1000000))
        || arg_str(c, "updated_at") || arg_fmt(c, "%lld", now_ms()))
        goto out;
    for (const char *const *f = copied; *f; f++) {
        const char *v = outpost_record_string(rec, *f);
        if (arg_str(c, *f) || arg_str(c, v ? v : ""))
            goto out;
    }
    if (cmd_send(st, i, W_QUEUED) != 0 || expire(st, i, RD_FAILOVER, group)
        || send_simple(st, i, W_EXEC, 1, exec))
        goto out;
    rc = 0;
out:
    free(weights);
    return rc;
}

/* 64-bit FNV-1a over the parts, each ended by a 0 byte. */
static uint64_t
fnv1a(const char *const *parts, size_t n)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < n; i++) {
        const char *s = parts[i] ? parts[i] : "";
        do {
            h ^= (unsigned char) *s;
            h *= 1099511628211ULL;
        } while (*s++);
    }
    return h;
}

static const char *
prefixed(struct rd_state *st, const char *key, int field)
{
    size_t h = ((uintptr_t) key >> 4) & (RD_KEYS - 1);

    for (size_t i = 0; i < RD_KEYS; i++, h = (h + 1) & (RD_KEYS - 1)) {
        struct rd_key *e = &st->keys[h];

        if (e->key == NULL) {
            size_t n = strlen(key);

            if ((e->tag = malloc(n + 6)) == NULL
                || (e->field = malloc(n + 8)) == NULL) {
                free(e->tag);
                e->tag = NULL;
                return NULL;
            }
            memcpy(e->tag, "tags.", 5);
            memcpy(e->tag + 5, key, n + 1);
            memcpy(e->field, "fields.", 7);
            memcpy(e->field + 7, key, n + 1);
            e->key = key;
        }
        if (e->key == key)
            return field ? e->field : e->tag;
    }
    return NULL;        /* full: the caller formats it */
}

static int
arg_prefixed(struct rd_state *st, const char *key, int field)
{
    const char *s = prefixed(st, key, field);

    return s ? arg_str(&st->cmd, s)
             : arg_fmt(&st->cmd, "%s%s", field ? "fields." : "tags.", key);
}

static int
id_after(struct rd_id a, struct rd_id b)
{
    return a.ms > b.ms || (a.ms == b.ms && a.seq > b.seq);
}

static int
id_same(struct rd_id a, struct rd_id b)
{
    return a.ms == b.ms && a.seq == b.seq;
}

/* The record's own stream id (see the top of the file). */
static struct rd_id
own_id(const outpost_record_t *rec)
{
    const char *parts[2];
    uint64_t ns = rec->ts_ns > 0 ? (uint64_t) rec->ts_ns : 0;

    if (rec->kind == OUTPOST_EVENT) {
        parts[0] = rec->event->dedup_key;
        parts[1] = outpost_event_kind_name(rec->event_kind);
    } else {
        parts[0] = integration_of(rec);
        parts[1] = rec->name;
    }
    return (struct rd_id) { ns / 1000000, (ns % 1000000) << 40
                                          | (fnv1a(parts, 2)
                                             & ((1ULL << 40) - 1)) };
}

static struct rd_late *
late_slot(struct rd_state *st, struct rd_id own)
{
    return &st->late[(own.ms * 31 + own.seq * 1000003) & (RD_LATE - 1)];
}

/* The id record k goes with: the one it was given before as a late
 * record, else its own. force (round 4: the record is known not to be in
 * the stream under that id, and the id is not after the stream's last):
 * the next id after the last, within the same millisecond, so the
 * stream's ids keep following the records' time, not the clock of the
 * write. */
static struct rd_id
plan_id(struct rd_state *st, size_t k, const outpost_record_t *rec,
        int force)
{
    struct rd_id own = own_id(rec), id = own;
    struct rd_late *slot = late_slot(st, own);

    if (!force && id_same(slot->own, own) && (own.ms || own.seq))
        id = slot->given;
    else if (force) {
        id = (struct rd_id) { st->top.ms, st->top.seq + 1 };
        slot->own = own;
        slot->given = id;
    }
    if (id_after(id, st->top))
        st->top = id;
    st->used[k] = id;
    return id;
}

static int
arg_id(struct rd_cmd *c, struct rd_id id)
{
    return arg_fmt(c, "%llu-%llu", (unsigned long long) id.ms,
                   (unsigned long long) id.seq);
}

/* "<ms>-<seq>" into *id; 0 or -1. */
static int
parse_id(const char *s, struct rd_id *id)
{
    char *end;

    id->ms = strtoull(s, &end, 10);
    if (*end != '-')
        return -1;
    id->seq = strtoull(end + 1, &end, 10);
    return *end == '\0' ? 0 : -1;
}

/* XADD outpost:events [MAXLEN ~ N] <id> type name ts_ns [kind severity
 * message dedup_key] tags.<k> <v>... fields.<k> <v>... */
static int
send_xadd(struct rd_state *st, size_t i, const outpost_record_t *rec,
          int late)
{
    struct rd_id id = plan_id(st, i, rec, late);
    struct rd_cmd *c = &st->cmd;
    size_t ntags = outpost_tagset_count(rec->tags);

    if (late) {
        struct rd_id own = own_id(rec);

        if (arg_str(c, "SET")
            || arg_fmt(c, RD_MARK "%llu-%llu", (unsigned long long) own.ms,
                       (unsigned long long) own.seq)
            || arg_id(c, id) || arg_str(c, "PX") || arg_str(c, RD_MARK_TTL_MS)
            || cmd_send(st, i, W_MARK_SET))
            return -1;
    }
    if (arg_str(c, "XADD") || arg_str(c, RD_STREAM))
        return -1;
    if (st->maxlen[0] != '\0'
        && (arg_str(c, "MAXLEN") || arg_str(c, "~")
            || arg_str(c, st->maxlen)))
        return -1;
    if (arg_id(c, id)
        || arg_str(c, "type")
        || arg_str(c, rec->kind == OUTPOST_EVENT ? "event" : "measurement")
        || arg_str(c, "name") || arg_str(c, rec->name)
        || arg_str(c, "ts_ns") || arg_int(c, (long long) rec->ts_ns))
        return -1;
    if (rec->kind == OUTPOST_EVENT
        && (arg_str(c, "kind")
            || arg_str(c, outpost_event_kind_name(rec->event_kind))
            || arg_str(c, "severity")
            || arg_str(c, outpost_severity_name(rec->severity))
            || arg_str(c, "message") || arg_str(c, nz(rec->event->message))
            || arg_str(c, "dedup_key")
            || arg_str(c, nz(rec->event->dedup_key))))
        return -1;
    for (size_t k = 0; k < ntags; k++) {
        const outpost_tag_t *t = outpost_tagset_at(rec->tags, k);
        if (arg_prefixed(st, t->key, 0) || arg_str(c, t->value))
            return -1;
    }
    for (uint16_t k = 0; k < rec->nfields; k++)
        if (arg_prefixed(st, rec->fields[k].key, 1)
            || arg_value(c, &rec->fields[k]))
            return -1;
    return cmd_send(st, i, late ? W_XADD_LATE : W_XADD);
}

static int
send_publish(struct rd_state *st, size_t i, const outpost_record_t *rec)
{
    char *json;
    size_t n;
    int rc;

    if (outpost_record_to_json(rec, &json, &n) != 0)
        return -1;
    rc = arg_str(&st->cmd, "PUBLISH") || arg_str(&st->cmd, RD_CHANNEL)
         || arg(&st->cmd, json, n) || cmd_send(st, i, W_PUBLISH);
    free(json);     /* hiredis copied it into its buffer */
    return rc ? -1 : 0;
}

/* XRANGE outpost:events <id> <id>: is the record there already? */
static int
send_xrange(struct rd_state *st, size_t i)
{
    struct rd_cmd *c = &st->cmd;

    if (arg_str(c, "XRANGE") || arg_str(c, RD_STREAM)
        || arg_id(c, st->used[i]) || arg_id(c, st->used[i]))
        return -1;
    return cmd_send(st, i, W_XRANGE);
}

/* GET outpost:events:late:<own id>: was the record given another id? */
static int
send_mark_get(struct rd_state *st, size_t i, const outpost_record_t *rec)
{
    struct rd_id own = own_id(rec);

    if (arg_str(&st->cmd, "GET")
        || arg_fmt(&st->cmd, RD_MARK "%llu-%llu", (unsigned long long) own.ms,
                   (unsigned long long) own.seq))
        return -1;
    return cmd_send(st, i, W_MARK_GET);
}

/* The stream's last id (an XREVRANGE + - COUNT 1 reply) into st->top. */
static void
read_top(struct rd_state *st, const redisReply *rep)
{
    const redisReply *e;

    st->top = (struct rd_id) { 0, 0 };
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0)
        return;
    e = rep->element[0];
    if (e->type == REDIS_REPLY_ARRAY && e->elements >= 1
        && e->element[0]->type == REDIS_REPLY_STRING)
        parse_id(e->element[0]->str, &st->top);
}

/* Whether an XRANGE reply holds rec: one entry with its ts_ns and name. */
static int
holds(const redisReply *rep, const outpost_record_t *rec)
{
    const redisReply *f;
    int ts = 0, name = 0;

    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1
        || rep->element[0]->type != REDIS_REPLY_ARRAY
        || rep->element[0]->elements != 2)
        return 0;
    f = rep->element[0]->element[1];
    if (f->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k = f->element[i]->str, *v = f->element[i + 1]->str;

        if (k == NULL || v == NULL)
            continue;
        if (strcmp(k, "ts_ns") == 0)
            ts = strtoll(v, NULL, 10) == rec->ts_ns;
        else if (strcmp(k, "name") == 0)
            name = strcmp(v, rec->name) == 0;
    }
    return ts && name;
}

/* --- reading the replies ------------------------------------------------- */

/* How reading a round trip ended. */
enum rd_end { END_OK, END_BROKEN, END_SERVER, END_NOMEM };

struct rd_round {
    enum rd_end end;
    size_t      delivered;  /* records complete before the failure */
    char        why[256];   /* END_BROKEN, END_SERVER: what happened */
};

static void
round_fail(struct rd_round *r, enum rd_end end, size_t rec, const char *fmt,
           ...) __attribute__((format(printf, 4, 5)));

static void
round_fail(struct rd_round *r, enum rd_end end, size_t rec, const char *fmt,
           ...)
{
    va_list ap;

    r->end = end;
    r->delivered = rec;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
}

/* Refuses record i and, when it carried an integration's state, every
 * record of the batch that state stood for. */
static void
reject_state(struct rd_state *st, const outpost_batch_t *b, size_t i,
             const char *err)
{
    char why[320];

    snprintf(why, sizeof(why), "redis: %s", err);
    for (size_t k = 0; k < b->n; k++)
        if (k == i || st->owner[k] == i) {
            st->fate[k] = F_REJECTED;
            outpost_batch_reject(b, k, why);
        }
}

/* Refuses record i alone: its own command was refused. */
static void
reject_one(struct rd_state *st, const outpost_batch_t *b, size_t i,
           const char *err)
{
    char why[320];

    snprintf(why, sizeof(why), "redis: %s", err);
    st->fate[i] = F_REJECTED;
    outpost_batch_reject(b, i, why);
}

/* Reads every reply of the pipeline, in order. The first error reply in
 * a transaction speaks for it (the EXEC after a refused command only
 * says EXECABORT). */
static void
read_replies(outpost_instance_t *inst, struct rd_state *st,
             const outpost_batch_t *b, struct rd_round *r)
{
    struct rd_conf *conf = outpost_instance_conf(inst);
    int64_t deadline = dbconn_now_us() + conf->command_timeout_ms * 1000;
    char txn_err[256] = "";

    r->end = END_OK;
    for (size_t p = 0; p < st->npend; p++) {
        const struct rd_pending *pd = &st->pend[p];
        redisReply *rep = NULL;
        const char *err = NULL;

        if ((p & 63) == 63 && dbconn_expired(deadline)) {
            round_fail(r, END_BROKEN, pd->rec, "timeout: replies took "
                       "longer than %lld ms",
                       (long long) conf->command_timeout_ms);
            return;
        }
        if (redisGetReply(st->c, (void **) &rep) != REDIS_OK || rep == NULL) {
            round_fail(r, END_BROKEN, pd->rec, "%s:%d: %s",
                       st->target.host, st->target.port,
                       st->c->errstr[0] ? st->c->errstr : "connection lost");
            return;
        }
        if (rep->type == REDIS_REPLY_ERROR)
            err = rep->str;
        else if (pd->what == W_EXEC && rep->type == REDIS_REPLY_ARRAY)
            for (size_t k = 0; k < rep->elements && err == NULL; k++)
                if (rep->element[k]->type == REDIS_REPLY_ERROR)
                    err = rep->element[k]->str;
        if (pd->what == W_MULTI)
            txn_err[0] = '\0';
        if (err && pd->what == W_QUEUED && txn_err[0] == '\0')
            snprintf(txn_err, sizeof(txn_err), "%s", err);
        if (err && pd->what == W_EXEC && txn_err[0] != '\0')
            err = txn_err;
        if (err && server_error(err)) {
            round_fail(r, END_SERVER, pd->rec, "%s", err);
            freeReplyObject(rep);
            return;
        }
        switch (pd->what) {
        case W_EXEC:
            if (err)
                reject_state(st, b, pd->rec, err);
            else if (rep->type != REDIS_REPLY_ARRAY) {
                round_fail(r, END_BROKEN, pd->rec, "EXEC: no answer array");
                freeReplyObject(rep);
                return;
            }
            break;
        case W_XADD:
            if (err && stale_id(err))
                st->fate[pd->rec] = F_CHECK;
            else if (err)
                reject_one(st, b, pd->rec, err);
            break;
        case W_XRANGE:
            /* There: a resend, delivered before. Not there (or another
             * record under that id): late, it needs an id of its own. */
            if (err)
                reject_one(st, b, pd->rec, err);
            else if (holds(rep, b->records[pd->rec]))
                st->fate[pd->rec] = F_OPEN;
            break;
        case W_MARK_GET:
            /* Not found under the id tried: look under the marker's. A
             * marker that cannot be read is no marker. */
            if (err == NULL && st->fate[pd->rec] == F_CHECK
                && rep->type == REDIS_REPLY_STRING) {
                struct rd_id given;

                if (parse_id(rep->str, &given) == 0
                    && !id_same(given, st->used[pd->rec])) {
                    st->used[pd->rec] = given;
                    st->fate[pd->rec] = F_RECHECK;
                }
            }
            break;
        case W_MARK_SET:        /* no marker: only a resend is at risk */
            break;
        case W_TOP:
            if (err == NULL)
                read_top(st, rep);
            break;
        case W_TYPE:
            if (err)
                reject_state(st, b, pd->rec, err);
            else if (rep->type == REDIS_REPLY_STATUS
                     && strcmp(rep->str, "hash") != 0
                     && strcmp(rep->str, "none") != 0
                     && st->fate[pd->rec] != F_REJECTED) {
                char why[160];

                snprintf(why, sizeof(why), "WRONGTYPE a state key holds a "
                         "%s, not a hash: left alone", rep->str);
                reject_state(st, b, pd->rec, why);
            }
            break;
        case W_XADD_LATE:
            if (err && stale_id(err)) {
                /* Someone else writes to the stream: start again from
                 * what it holds. */
                round_fail(r, END_SERVER, pd->rec, "%s", err);
                freeReplyObject(rep);
                return;
            }
            if (err)
                reject_one(st, b, pd->rec, err);
            break;
        case W_PUBLISH:
            if (err)
                reject_one(st, b, pd->rec, err);
            break;
        default:        /* MULTI, QUEUED: EXEC tells */
            break;
        }
        freeReplyObject(rep);
    }
}

/* --- write --------------------------------------------------------------- */

static int
prepare(struct rd_state *st, size_t n)
{
    if (n > st->capn) {
        uint8_t *f = realloc(st->fate, n);
        uint32_t *o;
        struct rd_seen *seen;
        struct rd_id *used;

        if (f == NULL)
            return -1;
        st->fate = f;
        if ((o = realloc(st->owner, n * sizeof(*o))) == NULL)
            return -1;
        st->owner = o;
        if ((seen = realloc(st->seen, n * sizeof(*seen))) == NULL)
            return -1;
        st->seen = seen;
        if ((used = realloc(st->used, n * sizeof(*used))) == NULL)
            return -1;
        st->used = used;
        st->capn = n;
    }
    memset(st->fate, F_OPEN, n);
    st->npend = 0;
    cmd_reset(&st->cmd);
    return 0;
}

/* TYPE of every key a state transaction writes: Redis does not roll a
 * transaction back, so one that fails on a key of another type would
 * still run its other commands (a PEXPIRE on that key). A key that is
 * neither a hash nor missing refuses its records before anything runs. */
static int
send_types(struct rd_state *st, size_t k, const outpost_record_t *rec)
{
    struct rd_cmd *c = &st->cmd;
    const char *integ = integration_of(rec);
    const char *group = NULL;

    if (rec->kind == OUTPOST_MEASUREMENT) {
        if (arg_str(c, "TYPE") || arg_fmt(c, RD_INTEGRATION "%s", integ)
            || cmd_send(st, k, W_TYPE))
            return -1;
        if (outpost_record_string(rec, OUTPOST_F_FAILOVER_ACTIVE))
            group = outpost_record_tag(rec, OUTPOST_TAG_FAILOVER_GROUP);
    } else if (rec->event_kind == OUTPOST_EV_FAILOVER) {
        group = outpost_record_string(rec, "group");
        if (group == NULL)
            group = outpost_record_tag(rec, OUTPOST_TAG_FAILOVER_GROUP);
    }
    if ((rec->kind == OUTPOST_MEASUREMENT
         ? outpost_record_string(rec, OUTPOST_F_CIRCUIT) != NULL
         : rec->event_kind == OUTPOST_EV_CIRCUIT)
        && (arg_str(c, "TYPE") || arg_fmt(c, RD_CIRCUIT "%s", integ)
            || cmd_send(st, k, W_TYPE)))
        return -1;
    if (group && (arg_str(c, "TYPE") || arg_fmt(c, RD_FAILOVER "%s", group)
                  || cmd_send(st, k, W_TYPE)))
        return -1;
    return 0;
}

/* Round 1: the TYPE of the state keys. owner[k] = the index of the latest
 * check of k's integration (measurements), k itself (events), or
 * UINT32_MAX (no state). */
static int
send_state(struct rd_state *st, const outpost_batch_t *b)
{
    size_t nseen = 0;

    /* From the end: the first check of an integration met is its latest,
     * and it carries the state of all of them. */
    for (size_t k = b->n; k-- > 0;) {
        const outpost_record_t *rec = b->records[k];
        const char *integ = integration_of(rec);
        size_t j = 0;

        st->owner[k] = UINT32_MAX;
        if (rec->kind == OUTPOST_MEASUREMENT && integ) {
            while (j < nseen && !same(st->seen[j].name, integ))
                j++;
            if (j == nseen) {
                st->seen[nseen].name = integ;
                st->seen[nseen++].last = (uint32_t) k;
            }
            st->owner[k] = st->seen[j].last;
        } else if (rec->kind == OUTPOST_EVENT
                   && ((rec->event_kind == OUTPOST_EV_CIRCUIT && integ)
                       || rec->event_kind == OUTPOST_EV_FAILOVER))
            st->owner[k] = (uint32_t) k;
    }
    for (size_t k = 0; k < b->n; k++)
        if (st->owner[k] == k && send_types(st, k, b->records[k]) != 0)
            return -1;
    return 0;
}

/* Round 1b: the transactions of the state not refused. */
static int
send_transactions(struct rd_state *st, const outpost_batch_t *b)
{
    for (size_t k = 0; k < b->n; k++) {
        const outpost_record_t *rec = b->records[k];
        int rc = 0;

        if (st->owner[k] != k || st->fate[k] == F_REJECTED)
            continue;
        if (rec->kind == OUTPOST_MEASUREMENT)
            rc = send_check_state(st, k, rec);
        else if (rec->event_kind == OUTPOST_EV_CIRCUIT)
            rc = send_circuit_state(st, k, rec);
        else
            rc = send_failover_state(st, k, rec);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Round 2: stream and channel for every record not refused. */
static int
send_records(struct rd_state *st, const outpost_batch_t *b)
{
    for (size_t k = 0; k < b->n; k++) {
        const outpost_record_t *rec = b->records[k];

        if (st->fate[k] == F_REJECTED)
            continue;
        if (in_scope(st->stream, rec) && send_xadd(st, k, rec, 0) != 0)
            return -1;
        if (in_scope(st->publish, rec) && send_publish(st, k, rec) != 0)
            return -1;
    }
    return 0;
}

/* Round 3 (P_LOOKUP): is each record whose id was refused there already
 * under that id, or does a marker give it another (and the stream's last
 * id, for round 4)? P_MARKED: is it there under the marker's id? Round 4
 * (P_LATE): the records still not found get the next ids after the
 * last. 1: commands to send, 0: none, -1: out of memory. */
static int
send_checks(struct rd_state *st, const outpost_batch_t *b,
            enum rd_phase phase)
{
    static const char *const top[] = { "XREVRANGE", RD_STREAM, "+", "-",
                                       "COUNT", "1" };
    size_t sent = 0;

    for (size_t k = 0; k < b->n; k++) {
        int rc = 0;

        if (st->fate[k] != (phase == P_MARKED ? F_RECHECK : F_CHECK))
            continue;
        sent++;
        switch (phase) {
        case P_LOOKUP:
            rc = send_xrange(st, k) || send_mark_get(st, k, b->records[k]);
            break;
        case P_MARKED:
            st->fate[k] = F_CHECK;
            rc = send_xrange(st, k);
            break;
        case P_LATE:
            st->fate[k] = F_OPEN;
            rc = send_xadd(st, k, b->records[k], 1);
            break;
        }
        if (rc != 0)
            return -1;
    }
    if (sent && phase == P_LOOKUP
        && send_simple(st, b->n - 1, W_TOP, 6, top) != 0)
        return -1;
    return sent > 0;
}

/* One round trip: what was appended goes out, every reply is read. */
static int
round_trip(outpost_instance_t *inst, struct rd_state *st,
           const outpost_batch_t *b, struct rd_round *r)
{
    read_replies(inst, st, b, r);
    st->npend = 0;
    return r->end == END_OK ? 0 : -1;
}

static outpost_result_t
rd_write(outpost_instance_t *inst, const outpost_batch_t *b)
{
    struct rd_state *st = outpost_instance_data(inst);
    struct rd_round r = { .end = END_OK };
    int rc;

    if (ensure_conn(inst, st) != 0)
        return OUTPOST_RETRY;
    if (prepare(st, b->n) != 0)
        return OUTPOST_RETRY;
    if (send_state(st, b) != 0)
        goto nomem;
    if (st->npend > 0 && round_trip(inst, st, b, &r) != 0) {
        r.delivered = 0;        /* the stream has none of them yet */
        goto failed;
    }
    if (send_transactions(st, b) != 0)
        goto nomem;
    if (st->npend > 0 && round_trip(inst, st, b, &r) != 0) {
        r.delivered = 0;
        goto failed;
    }
    if (send_records(st, b) != 0)
        goto nomem;
    if (round_trip(inst, st, b, &r) != 0)
        goto failed;
    /* Ids not above the stream's last: resends (XRANGE finds them, under
     * their own id or their marker's) or late records (round 4 gives them
     * the next ids). */
    for (int phase = P_LOOKUP; phase <= P_LATE; phase++) {
        if ((rc = send_checks(st, b, (enum rd_phase) phase)) < 0)
            goto nomem;
        if (rc > 0 && round_trip(inst, st, b, &r) != 0)
            goto failed;
    }
    st->last_error[0] = '\0';
    /* Said outright: should the write have outlived `timeout`, the core
     * still knows all of it is in (plugin.h, output rule 5). */
    outpost_batch_delivered(b, b->n);
    return OUTPOST_OK;

nomem:
    drop_conn(st);      /* the output buffer holds half a pipeline */
    outpost_log(inst, OUTPOST_LOG_ERROR, "write", "out of memory");
    return OUTPOST_RETRY;
failed:
    /* A broken or refused round leaves the connection out of step:
     * never reuse it. */
    drop_conn(st);
    /* Everything before the first record still in doubt is in. */
    for (size_t k = 0; k < r.delivered; k++)
        if (st->fate[k] == F_CHECK || st->fate[k] == F_RECHECK) {
            r.delivered = k;
            break;
        }
    report(inst, st, "write", "%s", r.why);
    outpost_batch_delivered(b, r.delivered);
    return OUTPOST_RETRY;
}

/* --- init and shutdown --------------------------------------------------- */

static enum rd_scope
scope(const char *s)
{
    return strcmp(s, "all") == 0      ? RD_ALL
           : strcmp(s, "events") == 0 ? RD_EVENTS : RD_NONE;
}

static int
rd_validate(const void *conf_, char *err, size_t errlen)
{
    const struct rd_conf *conf = conf_;

    return conf->url ? redis_url_check(conf->url, err, errlen) : 0;
}

static void
state_free(struct rd_state *st)
{
    drop_conn(st);
    redis_target_clear(&st->target);
    free(st->cmd.v);
    free(st->cmd.len);
    free(st->cmd.off);
    free(st->cmd.text);
    free(st->resp);
    free(st->pend);
    free(st->fate);
    free(st->owner);
    free(st->seen);
    free(st->used);
    free(st->late);
    for (size_t i = 0; i < RD_KEYS; i++) {
        free(st->keys[i].tag);
        free(st->keys[i].field);
    }
    free(st);
}

static int
rd_init(outpost_instance_t *inst)
{
    struct rd_conf *conf = outpost_instance_conf(inst);
    struct rd_state *st = calloc(1, sizeof(*st));
    int64_t ttl = conf->state_ttl_ms;

    if (st == NULL)
        return -1;
    if ((st->late = calloc(RD_LATE, sizeof(*st->late))) == NULL) {
        free(st);
        return -1;
    }
    if (conf->url == NULL || conf->url[0] == '\0')
        st->url_empty = 1;
    else if (redis_url_parse(conf->url, &st->target) != 0) {
        /* validate refused it already; never quote it (a password). */
        outpost_log(inst, OUTPOST_LOG_ERROR, "init", "url is not "
                    "redis://[[username]:password@]host[:port][/db]");
        state_free(st);
        return -1;
    }
    if (redis_target_set(&st->target.username, conf->username) != 0
        || redis_target_set(&st->target.password, conf->password) != 0) {
        state_free(st);
        return -1;
    }
    if (ttl <= 0)
        ttl = 3 * outpost_instance_interval_ms(inst);
    snprintf(st->ttl, sizeof(st->ttl), "%lld", (long long) ttl);
    if (conf->stream_maxlen > 0)
        snprintf(st->maxlen, sizeof(st->maxlen), "%lld",
                 (long long) conf->stream_maxlen);
    st->stream = scope(conf->stream);
    st->publish = scope(conf->publish);
    outpost_instance_set_data(inst, st);
    return 0;
}

static void
rd_shutdown(outpost_instance_t *inst)
{
    struct rd_state *st = outpost_instance_data(inst);

    if (st)
        state_free(st);
    outpost_instance_set_data(inst, NULL);
}

OUTPOST_EXPORT const outpost_plugin_t outpost_plugin = {
    OUTPOST_PLUGIN_HEADER,
    .name = "redis",
    .description = "live state, a stream and pub/sub in Redis for "
                   "applications to route by",
    .kind = OUTPOST_OUTPUT,
    .options = rd_options,
    .conf_size = sizeof(struct rd_conf),
    .init = rd_init,
    .shutdown = rd_shutdown,
    .write = rd_write,
    .validate = rd_validate,
    .output_defaults = rd_defaults,
};
