/*
 * clock.h - time sources. outpost_time_now() (wall clock, ns) can be frozen
 * and moved by tests; clock_mono_ms() is the real monotonic clock the
 * scheduler and queues use.
 */
#ifndef OUTPOST_CLOCK_H
#define OUTPOST_CLOCK_H

#include <stdint.h>

int64_t clock_mono_ms(void);
int64_t clock_mono_ns(void);

/* Tests: make outpost_time_now() return ns until clock_fake_off(). */
void clock_fake_set(int64_t ns);
void clock_fake_advance(int64_t ns);
void clock_fake_off(void);

#endif
