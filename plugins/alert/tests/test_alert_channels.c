/*
 * The alert filter with the real notifiers: acknowledgement and
 * escalation reach the services. The daemon has no control API yet (the
 * operator's HTTP API will call the same filter control), so this drives
 * the alert filter in-process (tests/unit/harness) with the real slack,
 * pagerduty and sms plugins posting to a fakeapi this test starts, and
 * reads what reached fakeapi's Slack, PagerDuty and Twilio:
 *
 *  - a high alert goes to Slack and PagerDuty (trigger); acknowledged
 *    ("ack" control), PagerDuty gets event_action "acknowledge" with the
 *    same dedup_key and Slack one line saying who took it; the escalation
 *    to SMS after high_escalate_after never comes;
 *  - not acknowledged, the SMS comes once the delay has passed, not
 *    before.
 *
 * The alert filter's clock is the fake one (minutes pass at once); the
 * HTTP is real.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>
#include <outpost/plugin.h>
#include "clock.h"
#include "harness.h"

#define S   1000000000LL
#define MIN (60 * S)
#define T0  (1710028800LL * S)

#define FAKEAPI  BUILD_PLUGIN_DIR "/../fakeapi"
#define PD_KEY   "outpostpagerdutyroutingkey000001"
#define SID      "AC00000000000000000000000000000000"
#define SLACK    "/slack/services/T0UTP0ST/B0UTP0ST/slacksecrettoken"
#define TWILIO   "/twilio/2010-04-01/Accounts/" SID "/Messages.json"

static pid_t api_pid;
static char  api[64];               /* http://127.0.0.1:PORT */

/* --- fakeapi --------------------------------------------------------------- */

static int
api_start(void **state)
{
    int fds[2], port = 0;
    FILE *f;

    (void) state;
    assert_int_equal(pipe(fds), 0);
    api_pid = fork();
    assert_true(api_pid >= 0);
    if (api_pid == 0) {
        /* Gone with this test, even if it crashes (ctest waits for every
         * holder of its output). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(FAKEAPI, FAKEAPI, (char *) NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "PORT %d", &port), 1);
    fclose(f);
    snprintf(api, sizeof(api), "http://127.0.0.1:%d", port);
    clock_fake_set(T0);
    return 0;
}

static int
api_stop(void **state)
{
    (void) state;
    kill(api_pid, SIGTERM);
    waitpid(api_pid, NULL, 0);
    return 0;
}

struct body {
    char   *s;
    size_t  len;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    char *s = realloc(b->s, b->len + size * n + 1);

    assert_non_null(s);
    memcpy(s + b->len, p, size * n);
    b->s = s;
    b->len += size * n;
    s[b->len] = '\0';
    return size * n;
}

static json_t *
admin(const char *method, const char *path)
{
    CURL *e = curl_easy_init();
    struct body b = { 0 };
    char url[512];
    json_t *j;

    snprintf(url, sizeof(url), "%s/_admin/%s", api, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    curl_easy_cleanup(e);
    j = b.s ? json_loads(b.s, 0, NULL) : NULL;
    free(b.s);
    return j;
}

/* The bodies (JSON, or form text as a string) of the accepted requests
 * under prefix. */
static json_t *
received(const char *prefix)
{
    char path[256];
    json_t *all, *out = json_array(), *q;
    size_t i;

    snprintf(path, sizeof(path), "received?path=%s", prefix);
    all = admin("GET", path);
    assert_non_null(all);
    json_array_foreach(json_object_get(all, "requests"), i, q) {
        const char *body = json_string_value(json_object_get(q, "body"));
        json_t *j;

        if (json_integer_value(json_object_get(q, "status")) >= 300)
            continue;
        j = json_loads(body, 0, NULL);
        json_array_append_new(out, j ? j : json_string(body));
    }
    json_decref(all);
    return out;
}

static size_t
count(const char *prefix)
{
    json_t *r = received(prefix);
    size_t n = json_array_size(r);

    json_decref(r);
    return n;
}

static void
forget(void)
{
    json_decref(admin("DELETE", "received"));
}

/* --- the agent --------------------------------------------------------------- */

static struct harness *
start(void)
{
    char conf[4096];

    snprintf(conf, sizeof(conf),
             "alert \"al\" {\n"
             "  consecutive_failures = 3\n"
             "  high = {\"slack\", \"pd\"}\n"
             "  high_escalate = {\"sms\"}\n"
             "  high_escalate_after = \"10m\"\n"
             "}\n"
             "slack \"slack\" { webhook_url = \"%s" SLACK "\" }\n"
             "pagerduty \"pd\" { routing_key = \"" PD_KEY "\"\n"
             "                  base_url = \"%s/pagerduty\" }\n"
             "sms \"sms\" { account_sid = \"" SID "\"\n"
             "             auth_token = \"outpost_twilio_token\"\n"
             "             from = \"+15550000000\" to = {\"+15551111111\"}\n"
             "             base_url = \"%s/twilio\" }\n", api, api, api);
    forget();
    return harness_new(conf, NULL);
}

static void
fail_three(struct harness *h, const char *integ)
{
    for (int i = 0; i < 3; i++) {
        harness_check(h, integ, NULL, 0, 100);
        clock_fake_advance(10 * S);
    }
}

static const char *
str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* --- tests ------------------------------------------------------------------- */

static void
test_ack_reaches_pagerduty_and_slack_no_sms(void **state)
{
    struct harness *h;
    json_t *pd, *slack;
    char *reply = NULL;

    (void) state;
    h = start();
    fail_three(h, "stripe");
    assert_int_equal(count("/pagerduty/"), 1);
    assert_int_equal(count("/slack/"), 1);
    assert_int_equal(count("/twilio/"), 0);

    clock_fake_advance(5 * MIN);
    assert_int_equal(harness_control(h, "al", "ack",
                                     "{\"dedup_key\":\"outpost/stripe/health\","
                                     "\"by\":\"ann\"}", &reply), 0);
    free(reply);
    pd = received("/pagerduty/");
    assert_int_equal(json_array_size(pd), 2);
    assert_string_equal(str(json_array_get(pd, 0), "event_action"),
                        "trigger");
    /* The acknowledge: the same key, nothing else but the routing key. */
    assert_string_equal(str(json_array_get(pd, 1), "event_action"),
                        "acknowledge");
    assert_string_equal(str(json_array_get(pd, 1), "dedup_key"),
                        "outpost/stripe/health");
    assert_string_equal(str(json_array_get(pd, 1), "routing_key"), PD_KEY);
    assert_int_equal(json_object_size(json_array_get(pd, 1)), 3);
    slack = received("/slack/");
    assert_int_equal(json_array_size(slack), 2);
    assert_string_equal(str(json_array_get(slack, 1), "text"),
                        "stripe: health alert acknowledged by ann");
    assert_int_equal(json_object_size(json_array_get(slack, 1)), 1);
    json_decref(pd);
    json_decref(slack);

    /* Past high_escalate_after: acknowledged, so no SMS. */
    clock_fake_advance(20 * MIN);
    harness_tick(h);
    assert_int_equal(count("/twilio/"), 0);
    assert_int_equal(count("/pagerduty/"), 2);
    harness_free(h, 0);
}

static void
test_unacknowledged_escalates_to_sms_after_the_delay(void **state)
{
    struct harness *h;
    json_t *sms;
    const char *body;

    (void) state;
    h = start();
    fail_three(h, "paypal");                /* told at the third check */
    assert_int_equal(count("/slack/"), 1);
    clock_fake_advance(9 * MIN);
    harness_tick(h);
    assert_int_equal(count("/twilio/"), 0);  /* not yet */
    clock_fake_advance(1 * MIN);
    harness_tick(h);
    sms = received("/twilio/");
    assert_int_equal(json_array_size(sms), 1);
    body = json_string_value(json_array_get(sms, 0));
    assert_non_null(body);
    assert_non_null(strstr(body, "To=%2B15551111111&From=%2B15550000000&"
                           "Body=paypal%3A%20high%20alert%20"
                           "unacknowledged%20for%2010m"));
    json_decref(sms);
    /* Once: later ticks do not send it again. */
    clock_fake_advance(30 * MIN);
    harness_tick(h);
    assert_int_equal(count("/twilio/"), 1);
    harness_free(h, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_reaches_pagerduty_and_slack_no_sms),
        cmocka_unit_test(test_unacknowledged_escalates_to_sms_after_the_delay),
    };

    return cmocka_run_group_tests(tests, api_start, api_stop);
}
