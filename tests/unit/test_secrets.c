/*
 * test_secrets.c - the secret registry and its scrubber: what a conf
 * block registers, the forms a request carries a secret in, and the exits
 * (record strings, tags, event messages).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <outpost/record.h>
#include "log.h"
#include "secrets.h"

struct conf {
    char              *secret;
    char              *key_id;
    char              *username;
    char              *status_page;
    char              *dsn;
    outpost_strlist_t  headers;
};

static const outpost_option_t table[] = {
    { .name = "secret", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct conf, secret) },
    { .name = "key_id", .type = OUTPOST_OPT_SECRET,
      .offset = offsetof(struct conf, key_id) },
    { .name = "username", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct conf, username) },
    { .name = "status_page", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct conf, status_page) },
    { .name = "dsn", .type = OUTPOST_OPT_STRING,
      .offset = offsetof(struct conf, dsn) },
    { .name = "headers", .type = OUTPOST_OPT_STRLIST,
      .offset = offsetof(struct conf, headers) },
    { .name = NULL }
};

static int
teardown(void **state)
{
    (void) state;
    secrets_reset();
    return 0;
}

/* Scrubs s and checks the result against want. */
static void
expect_scrub(const char *s, const char *want)
{
    char *out = secrets_strdup(s);

    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void
test_nothing_registered(void **state)
{
    char *out = (char *) 1;

    (void) state;
    assert_int_equal(secrets_scrub("Bearer sk_live_abc", &out), 0);
    assert_null(out);
    expect_scrub("plain", "plain");
    expect_scrub(NULL, "");
}

static void
test_value_and_forms(void **state)
{
    (void) state;
    secrets_add("sk_live_123456");
    secrets_add("p@ss w/rd");
    secrets_add("abc");                 /* too short: not registered */
    expect_scrub("Invalid API Key provided: Authorization: Bearer "
                 "sk_live_123456.",
                 "Invalid API Key provided: Authorization: Bearer "
                 "[redacted].");
    expect_scrub("sk_live_123456sk_live_123456", "[redacted][redacted]");
    expect_scrub("GET /x?key=p%40ss%20w%2Frd&y=1", "GET /x?key=[redacted]&y=1");
    expect_scrub("abc abc", "abc abc");
    assert_true(secrets_found("..p@ss w/rd.."));
    assert_false(secrets_found("nothing here"));
}

static void
test_conf_block(void **state)
{
    char *hdrs[] = { "Authorization: Bearer tok_from_header",
                     "Accept: application/json",
                     "sasl.password=kafka-pass-1" };
    struct conf c = {
        .secret = "rzp_secret_value", .key_id = "rzp_test_keyid",
        .username = "alice",
        .status_page = "https://bob:hunter2%21@status.example.com/api",
        .dsn = "host=db user=x password='pg pass word' dbname=y",
        .headers = { 3, hdrs },
    };

    (void) state;
    secrets_note_conf(table, &c);
    expect_scrub("rzp_secret_value", "[redacted]");
    /* base64("rzp_test_keyid:rzp_secret_value"): Basic auth echoed */
    expect_scrub("Basic cnpwX3Rlc3Rfa2V5aWQ6cnpwX3NlY3JldF92YWx1ZQ==",
                 "Basic [redacted]");
    /* the URL's password, as written and decoded */
    expect_scrub("GET https://bob:hunter2%21@status.example.com/api failed",
                 "GET https://bob:[redacted]@status.example.com/api failed");
    expect_scrub("hunter2! is wrong", "[redacted] is wrong");
    expect_scrub("auth failed for pg pass word", "auth failed for [redacted]");
    expect_scrub("got tok_from_header back", "got [redacted] back");
    expect_scrub("application/json", "application/json");
    expect_scrub("SASL kafka-pass-1 refused", "SASL [redacted] refused");
}

/* The scrubber against a plain reference (earliest, then longest match),
 * on random text over a small alphabet salted with the secrets, their
 * overlaps and prefixes: the strided filter must miss nothing. */
static const char *const forms[] = {
    "abcd", "abcdef", "cdab", "bbbbbbbbbbbb", "dcbaabcd", "aaaaabbbbb",
};

static char *
reference(const char *s)
{
    size_t len = strlen(s), o = 0;
    char *out = malloc(len * 4 + 1);

    for (size_t i = 0; i < len;) {
        size_t best = 0;
        for (size_t k = 0; k < sizeof(forms) / sizeof(*forms); k++) {
            size_t n = strlen(forms[k]);
            if (n <= len - i && n > best && memcmp(s + i, forms[k], n) == 0)
                best = n;
        }
        if (best) {
            memcpy(out + o, SECRETS_REDACTED, strlen(SECRETS_REDACTED));
            o += strlen(SECRETS_REDACTED);
            i += best;
        } else
            out[o++] = s[i++];
    }
    out[o] = '\0';
    return out;
}

static void
test_random_against_reference(void **state)
{
    char text[200];
    unsigned seed = 12345;

    (void) state;
    for (size_t k = 0; k < sizeof(forms) / sizeof(*forms); k++)
        secrets_add(forms[k]);
    for (int round = 0; round < 20000; round++) {
        size_t len = 0, want = (size_t) (rand_r(&seed) % 60);
        char *got, *ref;

        while (len < want) {
            if (rand_r(&seed) % 5 == 0) {
                const char *f = forms[rand_r(&seed) % 6];
                size_t n = strlen(f) - (size_t) (rand_r(&seed) % 2);
                memcpy(text + len, f, n);       /* whole, or cut short */
                len += n;
            } else
                text[len++] = "abcd"[rand_r(&seed) % 4];
        }
        text[len] = '\0';
        got = secrets_strdup(text);
        ref = reference(text);
        assert_string_equal(got, ref);
        free(got);
        free(ref);
    }
}

static void
test_secret_conninfo(void **state)
{
    struct conf c = {
        .secret = "postgresql://app:pg-pass-22@db:5432/x",
        .key_id = "host=db password=other-pass-3",
    };

    (void) state;
    secrets_note_conf(table, &c);
    expect_scrub("auth failed: pg-pass-22", "auth failed: [redacted]");
    expect_scrub("auth failed: other-pass-3", "auth failed: [redacted]");
}

static void
test_records(void **state)
{
    outpost_tag_t tags[] = { { "name", "x-sk_live_999999" } };
    outpost_tagset_t *ts;
    outpost_record_t *m, *ev;

    (void) state;
    secrets_add("sk_live_999999");
    ts = outpost_tagset_new(tags, 1);
    assert_non_null(ts);
    assert_string_equal(outpost_tagset_get(ts, "name"), "x-[redacted]");
    m = outpost_measurement_new("t", ts, 0);
    assert_int_equal(outpost_record_add_str(m, "error",
                                            "HTTP 401: sk_live_999999"), 0);
    assert_string_equal(outpost_record_string(m, "error"),
                        "HTTP 401: [redacted]");
    assert_int_equal(outpost_record_set_tag(m, "extra", "sk_live_999999"), 0);
    assert_string_equal(outpost_record_tag(m, "extra"), "[redacted]");
    ev = outpost_event_new(OUTPOST_EV_ALERT, OUTPOST_SEV_ERROR, m,
                           "down: sk_live_999999", "k-sk_live_999999");
    assert_non_null(ev);
    assert_string_equal(ev->event->message, "down: [redacted]");
    assert_string_equal(ev->event->dedup_key, "k-[redacted]");
    outpost_record_unref(ev);
    outpost_record_unref(m);
    outpost_tagset_unref(ts);
}

/* Writes one log line in format through a pipe; returns it (static). */
static const char *
log_line(enum log_format format, const char *component, const char *msg,
         const char *field)
{
    static char buf[8192];
    struct log_field f = { "detail", field };
    int fds[2];
    ssize_t n;

    assert_int_equal(pipe(fds), 0);
    log_configure(OUTPOST_LOG_DEBUG, format, fds[1]);
    log_write(OUTPOST_LOG_WARN, component, "check", "stripe", &f, 1, "%s",
              msg);
    log_configure(OUTPOST_LOG_INFO, LOG_FORMAT_JSON, 2);
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    return buf;
}

static void
test_log_lines(void **state)
{
    const char *line;
    json_t *j;

    (void) state;
    secrets_add("sk_live_777777");
    /* text: one line, control characters escaped, secrets gone */
    line = log_line(LOG_FORMAT_TEXT, "pay\nments", "denied\r\n2026-01-01 "
                    "error core forged: sk_live_777777\x1b[2J",
                    "a\nb sk_live_777777");
    assert_non_null(strstr(line, "pay\\nments[stripe] check: denied\\r\\n"
                                 "2026-01-01 error core forged: [redacted]"
                                 "\\x1b[2J detail=a\\nb [redacted]\n"));
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
    assert_null(strchr(line, '\r'));
    /* JSON: invalid UTF-8 (a cut character, Latin-1) keeps the message */
    line = log_line(LOG_FORMAT_JSON, "payments",
                    "caf\xe9 sk_live_777777 \xe2\x82", "ok \xff");
    j = json_loads(line, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "message")),
                        "caf? [redacted] ??");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "fields"), "detail")), "ok ?");
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_nothing_registered, teardown),
        cmocka_unit_test_teardown(test_value_and_forms, teardown),
        cmocka_unit_test_teardown(test_conf_block, teardown),
        cmocka_unit_test_teardown(test_records, teardown),
        cmocka_unit_test_teardown(test_secret_conninfo, teardown),
        cmocka_unit_test_teardown(test_random_against_reference, teardown),
        cmocka_unit_test_teardown(test_log_lines, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
