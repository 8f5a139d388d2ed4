/*
 * run.c - a run's cancel hooks (rules in run.h).
 *
 * Invariant: the hooks of a run form a list through next, and each hook's
 * pprev points at the pointer that points at it (the run's cancel_hooks
 * or the previous hook's next), so a hook leaves its list in O(1)
 * without knowing its run.
 */
#include <stddef.h>
#include "run.h"

int
run_on_cancel(outpost_run_t *run, struct run_hook *h, run_cancel_fn fn,
              void *arg)
{
    enum run_state state;

    pthread_mutex_lock(&run->lock);
    state = run->state;
    pthread_mutex_unlock(&run->lock);
    if (state != RUN_RUNNING)
        return -1;
    h->fn = fn;
    h->arg = arg;
    h->next = run->cancel_hooks;
    h->pprev = &run->cancel_hooks;
    if (h->next)
        h->next->pprev = &h->next;
    run->cancel_hooks = h;
    return 0;
}

void
run_hook_remove(struct run_hook *h)
{
    if (h->pprev == NULL)
        return;
    *h->pprev = h->next;
    if (h->next)
        h->next->pprev = h->pprev;
    h->next = NULL;
    h->pprev = NULL;
}

void
run_hooks_fire(outpost_run_t *run)
{
    struct run_hook *h;

    /* Take each one off before calling it: a hook may remove others. */
    while ((h = run->cancel_hooks) != NULL) {
        run_hook_remove(h);
        h->fn(h->arg);
    }
}

void
run_hooks_drop(outpost_run_t *run)
{
    while (run->cancel_hooks)
        run_hook_remove(run->cancel_hooks);
}
