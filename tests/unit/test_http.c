/*
 * outpost_http_perform: off the loop thread it runs the transfer on the
 * shared loop; on the loop thread, where it would wait for itself, it
 * fails at once with CURLE_RECURSIVE_API_CALL instead of blocking the
 * loop (and every check with it) until curl gives up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>
#include <outpost/http.h>
#include "clock.h"
#include "http.h"
#include "loop.h"

struct fixture {
    struct loop *loop;
    int          listener;      /* accepts connections, never answers */
    char         url[64];
};

static int
setup(void **state)
{
    static struct fixture f;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    f.loop = loop_new();
    if (f.loop == NULL || loop_start(f.loop) != 0
        || http_client_start(f.loop) != 0)
        return -1;
    /* A server that takes the connection and the request and says
     * nothing: a blocking transfer to it lasts until its timeout. */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f.listener = socket(AF_INET, SOCK_STREAM, 0);
    if (f.listener < 0 || bind(f.listener, (struct sockaddr *) &sa,
                               sizeof(sa)) != 0
        || listen(f.listener, 8) != 0
        || getsockname(f.listener, (struct sockaddr *) &sa, &len) != 0)
        return -1;
    snprintf(f.url, sizeof(f.url), "http://127.0.0.1:%u/",
             (unsigned) ntohs(sa.sin_port));
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    http_client_stop();
    loop_free(f->loop);
    close(f->listener);
    curl_global_cleanup();
    return 0;
}

static CURL *
silent_request(const struct fixture *f, long timeout_ms)
{
    CURL *easy = curl_easy_init();

    curl_easy_setopt(easy, CURLOPT_URL, f->url);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    return easy;
}

/* Off the loop: the transfer runs (on the loop) and times out. */
static void
test_perform_off_the_loop_runs(void **state)
{
    struct fixture *f = *state;
    CURL *easy = silent_request(f, 300);
    int64_t t0 = clock_mono_ms();

    assert_int_equal(outpost_http_perform(easy), CURLE_OPERATION_TIMEDOUT);
    assert_true(clock_mono_ms() - t0 >= 250);
    curl_easy_cleanup(easy);
}

struct on_loop {
    CURL     *easy;
    CURLcode  rc;
    int64_t   ms;
};

static void
perform_on_loop(void *arg)
{
    struct on_loop *o = arg;
    int64_t t0 = clock_mono_ms();

    o->rc = outpost_http_perform(o->easy);
    o->ms = clock_mono_ms() - t0;
}

/* On the loop: refused at once, not after the 3 s timeout. */
static void
test_perform_on_the_loop_fails_at_once(void **state)
{
    struct fixture *f = *state;
    struct on_loop o = { silent_request(f, 3000), CURLE_OK, -1 };

    assert_int_equal(loop_call_sync(f->loop, perform_on_loop, &o), 0);
    assert_int_equal(o.rc, CURLE_RECURSIVE_API_CALL);
    assert_true(o.ms >= 0 && o.ms < 500);
    curl_easy_cleanup(o.easy);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perform_off_the_loop_runs),
        cmocka_unit_test(test_perform_on_the_loop_fails_at_once),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
