/*
 * loop.h - the core's event loop: one thread, epoll for file descriptors
 * (libcurl's sockets), a binary heap of timers, and an inbox through which
 * other threads hand it work. Everything registered with the loop is only
 * touched on the loop thread, so none of it needs a lock.
 */
#ifndef OUTPOST_LOOP_H
#define OUTPOST_LOOP_H

#include <stdint.h>

struct loop;

typedef void (*loop_timer_fn)(void *arg);
typedef void (*loop_io_fn)(int fd, uint32_t events, void *arg);
typedef void (*loop_call_fn)(void *arg);

/* A timer lives in the caller's memory (often inside a larger struct). */
struct loop_timer {
    int64_t        due_ms;     /* monotonic */
    size_t         heap_idx;   /* private; (size_t)-1 when not armed */
    loop_timer_fn  fn;
    void          *arg;
};

struct loop *loop_new(void);
/* Runs the loop on a new thread. */
int   loop_start(struct loop *l);
/* Stops the thread (after the calls already posted have run) and joins. */
void  loop_stop(struct loop *l);
void  loop_free(struct loop *l);
int   loop_on_thread(const struct loop *l);

void  loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *arg);
/* Loop thread only. Re-arming an armed timer moves it. */
void  loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t due_ms);
void  loop_timer_disarm(struct loop *l, struct loop_timer *t);
int   loop_timer_armed(const struct loop_timer *t);

/* Loop thread only. events: EPOLLIN | EPOLLOUT. 0 / -1. */
int   loop_io_set(struct loop *l, int fd, uint32_t events, loop_io_fn fn,
                  void *arg);
void  loop_io_del(struct loop *l, int fd);
/* Loop thread only: fd is about to be closed (and so leaves the epoll set
 * without an epoll_ctl); forget it. */
void  loop_io_closing(struct loop *l, int fd);

/* Any thread: run fn(arg) on the loop thread soon, in posting order.
 * 0, or -1 when the loop has stopped (fn will not run). */
int   loop_call(struct loop *l, loop_call_fn fn, void *arg);
/* Any thread except the loop's: run fn(arg) there and wait for it. */
int   loop_call_sync(struct loop *l, loop_call_fn fn, void *arg);

#endif
