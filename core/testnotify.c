/*
 * testnotify.c - `outpostd --test-notify OUTPUT`.
 *
 * Starts what one output needs and nothing else: the event loop with the
 * shared HTTP client, the output's instance and its worker thread. Pushes
 * one event, clearly marked as a test, routed to that output by name (so
 * the notifier's `events` filter lets it through), and drains it: the
 * worker applies the plugin's answer as for any record (retries on 5xx /
 * 429 within the deadline). The instance runs without state_dir, so a
 * refused test message is not added to the real dead letters and the
 * dead letters waiting to be requeued are not sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <outpost/fields.h>
#include "clock.h"
#include "http.h"
#include "instance.h"
#include "loop.h"
#include "output.h"
#include "testnotify.h"

static outpost_record_t *
test_event(const outpost_instance_t *inst)
{
    char host[256] = "outpost", msg[1024], route[300];
    outpost_tag_t tags[] = {
        { outpost_intern(OUTPOST_TAG_INTEGRATION), "outpost-test" },
        { outpost_intern(OUTPOST_TAG_NOTIFY), route },
    };
    outpost_tagset_t *ts;
    outpost_record_t *m, *ev;

    gethostname(host, sizeof(host) - 1);
    snprintf(route, sizeof(route), "%s:%s", inst->plugin->name, inst->name);
    snprintf(msg, sizeof(msg), "[TEST] outpost test notification from %s "
             "to %s: no action needed (outpostd --test-notify)", host,
             route);
    if ((ts = outpost_tagset_new(tags, 2)) == NULL)
        return NULL;
    m = outpost_measurement_new("test-notify", ts, 0);
    outpost_tagset_unref(ts);
    if (m == NULL)
        return NULL;
    outpost_record_add_str(m, OUTPOST_F_STATUS, "healthy");
    ev = outpost_event_new(OUTPOST_EV_ALERT, OUTPOST_SEV_INFO, m, msg,
                           "outpost/test-notify");
    outpost_record_unref(m);
    if (ev == NULL)
        return NULL;
    outpost_record_add_str(ev, OUTPOST_F_ACTION, "test");
    outpost_record_add_str(ev, OUTPOST_F_STATUS, "healthy");
    outpost_record_add_str(ev, OUTPOST_F_PRIORITY, "low");
    outpost_record_add_str(ev, "condition", "test");
    return ev;
}

int
testnotify_run(struct config *cf, struct section *s)
{
    outpost_instance_t *inst;
    struct output_worker *w = NULL;
    struct output_stats st = { 0 };
    outpost_record_t *ev = NULL;
    struct loop *l;
    int rc = 1, started = 0;

    if (!(s->plugin->flags & OUTPOST_PLUGIN_NOTIFIER)) {
        fprintf(stderr, "outpostd: %s:%s is not a notifier\n",
                s->plugin->name, s->instance);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_ALL);
    inst = instance_new(s, cf);
    l = loop_new();
    if (inst == NULL || l == NULL || loop_start(l) != 0) {
        fprintf(stderr, "outpostd: out of memory\n");
        goto out;
    }
    started = 1;
    free(inst->state_root);
    inst->state_root = NULL;
    if (http_client_start(l) != 0 || instance_init(inst) != 0) {
        fprintf(stderr, "outpostd: %s:%s cannot start\n", s->plugin->name,
                s->instance);
        goto out;
    }
    if ((w = output_start(inst, NULL)) == NULL
        || (ev = test_event(inst)) == NULL) {
        fprintf(stderr, "outpostd: out of memory\n");
        goto out;
    }
    output_push(w, &ev, 1);
    output_drain(w, clock_mono_ms() + inst->common.timeout_ms);
    output_get_stats(w, &st);
    if (st.delivered == 1) {
        fprintf(stderr, "outpostd: %s:%s: the test message was accepted\n",
                inst->plugin->name, inst->name);
        rc = 0;
    } else {
        fprintf(stderr, "outpostd: %s:%s: the test message was %s (see the "
                "log above)\n", inst->plugin->name, inst->name,
                st.failed ? "refused" : "not accepted in time");
    }
out:
    if (w)
        output_stop(w);
    if (started) {
        http_client_stop();
        loop_stop(l);
    }
    if (inst) {
        instance_shutdown(inst);
        instance_free(inst);
    }
    loop_free(l);
    outpost_record_unref(ev);
    curl_global_cleanup();
    return rc;
}
