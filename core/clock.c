/*
 * clock.c - wall and monotonic time, and the fake wall clock tests use to
 * drive filters through hours of state without sleeping.
 */
#include <stdatomic.h>
#include <time.h>
#include <outpost/plugin.h>
#include "clock.h"

static _Atomic int64_t fake_ns;     /* 0: use the real clock */

int64_t
outpost_time_now(void)
{
    struct timespec ts;
    int64_t f = atomic_load_explicit(&fake_ns, memory_order_relaxed);

    if (f != 0)
        return f;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
clock_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
clock_mono_ms(void)
{
    return clock_mono_ns() / 1000000;
}

void
clock_fake_set(int64_t ns)
{
    atomic_store(&fake_ns, ns);
}

void
clock_fake_advance(int64_t ns)
{
    atomic_fetch_add(&fake_ns, ns);
}

void
clock_fake_off(void)
{
    atomic_store(&fake_ns, 0);
}
