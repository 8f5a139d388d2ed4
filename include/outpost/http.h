/*
 * outpost/http.h - the core's shared HTTP client.
 *
 * Every transfer runs on one libcurl multi handle driven by the core's event
 * loop, so ten thousand checks and a burst of notifications share one loop
 * and one connection cache. Plugins configure a plain CURL easy handle with
 * curl_easy_setopt() as usual and hand it over.
 *
 * Ownership: the caller owns the easy handle throughout and may reuse or
 * free it once its completion has been reported; the core only borrows it
 * between start and completion.
 */
#ifndef OUTPOST_HTTP_H
#define OUTPOST_HTTP_H

#include <curl/curl.h>
#include <outpost/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Called exactly once per started transfer, on the event-loop thread, with
 * curl's result. CURLE_ABORTED_BY_CALLBACK means the core cancelled it
 * (the run outlived its timeout, or the agent is stopping): free what is
 * yours and emit nothing. It must not block. */
typedef void (*outpost_http_done_fn)(CURL *easy, CURLcode result, void *arg);

/* Starts easy as part of run (an input's collection): cancelled with the
 * run. 0 on success; -1 and done is never called on failure. */
int outpost_http_start(outpost_run_t *run, CURL *easy,
                       outpost_http_done_fn done, void *arg);

/* Runs easy on the shared loop and waits for it: for outputs (write,
 * flush, tick), which have a thread of their own, and for inputs without
 * OUTPOST_PLUGIN_ASYNC (a collector thread). On the event-loop thread
 * (an async input's collect, a filter's process or tick, a done
 * callback) it would wait for itself: there it fails at once with
 * CURLE_RECURSIVE_API_CALL and an error in the log. Filters never call
 * it, on any thread: they run under the pipeline lock, which the loop
 * thread needs. It never waits forever: it sets CURLOPT_TIMEOUT_MS to
 * what is left of the output's `timeout` when called from write (60 s
 * elsewhere). Without a running agent (tools) it is curl_easy_perform. */
CURLcode outpost_http_perform(CURL *easy);

#ifdef __cplusplus
}
#endif
#endif /* OUTPOST_HTTP_H */
