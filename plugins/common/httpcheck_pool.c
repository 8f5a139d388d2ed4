/*
 * httpcheck_pool.c - calls (a curl easy handle and the buffers of one
 * check) are borrowed per check, not owned per instance: an easy handle
 * costs several KB, plus a 16 KB receive buffer once it has been used, and
 * only the checks in flight need one. Returned calls are kept on a free
 * list (LIFO, so the warmest handle goes out first) up to POOL_IDLE_MAX;
 * the module's last engine to go frees them all.
 *
 * The lock is uncontended in practice (everything runs on the loop
 * thread); it is there so a plugin that starts checks elsewhere is safe.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "httpcheck_int.h"

#define POOL_IDLE_MAX 512

static pthread_mutex_t   pool_lock = PTHREAD_MUTEX_INITIALIZER;
static httpcheck_call_t *pool_free;
static size_t            pool_idle;
static size_t            pool_engines;

static void
call_destroy(httpcheck_call_t *c)
{
    curl_easy_cleanup(c->easy);
    free(c->body);
    free(c->hdrs);
    free(c);
}

/* A clean call: hc_request_apply sets its easy handle up. */
httpcheck_call_t *
hc_pool_get(void)
{
    httpcheck_call_t *c;
    CURL *easy;

    pthread_mutex_lock(&pool_lock);
    c = pool_free;
    if (c) {
        pool_free = c->next_free;
        pool_idle--;
    }
    pthread_mutex_unlock(&pool_lock);
    if (c == NULL) {
        if ((c = calloc(1, sizeof(*c))) == NULL)
            return NULL;
        if ((c->easy = curl_easy_init()) == NULL) {
            free(c);
            return NULL;
        }
    }
    /* Keep the handle, what it is set up for and the buffers' memory;
     * zero everything else. */
    easy = c->easy;
    {
        char *body = c->body, *hdrs = c->hdrs;
        size_t body_cap = c->body_cap, hdrs_cap = c->hdrs_cap;
        const httpcheck_t *setup_for = c->setup_for;
        unsigned setup_gen = c->setup_gen;

        memset(c, 0, sizeof(*c));
        c->easy = easy;
        c->setup_for = setup_for;
        c->setup_gen = setup_gen;
        c->body = body;
        c->body_cap = body_cap;
        c->hdrs = hdrs;
        c->hdrs_cap = hdrs_cap;
    }
    c->cert_days = NAN;
    return c;
}

void
hc_pool_put(httpcheck_call_t *c)
{
    /* A buffer grown for one big answer is not kept for the next. */
    if (c->body_cap > 64 * 1024) {
        free(c->body);
        c->body = NULL;
        c->body_cap = 0;
    }
    pthread_mutex_lock(&pool_lock);
    if (pool_idle < POOL_IDLE_MAX && pool_engines > 0) {
        c->next_free = pool_free;
        pool_free = c;
        pool_idle++;
        c = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
    if (c)
        call_destroy(c);
}

void
hc_pool_engine_ref(void)
{
    pthread_mutex_lock(&pool_lock);
    pool_engines++;
    pthread_mutex_unlock(&pool_lock);
}

void
hc_pool_engine_unref(void)
{
    httpcheck_call_t *list = NULL;

    pthread_mutex_lock(&pool_lock);
    if (--pool_engines == 0) {
        list = pool_free;
        pool_free = NULL;
        pool_idle = 0;
    }
    pthread_mutex_unlock(&pool_lock);
    while (list) {
        httpcheck_call_t *next = list->next_free;
        call_destroy(list);
        list = next;
    }
}
