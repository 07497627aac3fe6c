// cpc::dump_threads: where every suspended thread waits, and how it got there.
//
//   cpc: loop 0 (epoll): 3 suspended thread(s), 1 runnable, 0 on pools
//   thread waits on fd 7 (read)
//     at /src/apps/httpd/request_state.cpp:88
//     at /src/apps/httpd/connection.cpp:41
//   thread waits on condvar 0x55d0c2a4e2b0
//     at /src/apps/httpd/accept_loop.cpp:30
//
// What is printed: one entry per thread suspended on the loop in one of the runtime's waits
// (a condvar wait, with or without a deadline; io_wait, with the fd and direction; sleep, with
// the time left; an io_uring operation, with its fd), then its chain of frames as file:line,
// innermost first: the co_await the thread is suspended at, then the co_await of each calling
// task up to the thread's root. Lines are those of the co_await expression (clang: of the
// keyword; g++: of the awaited operand, when the two differ). No function names: a frame knows
// where it awaits, not what it is. Threads that are runnable, or that run on a pool (cpc::
// detached), are counted but not listed; so are waits of awaiters written outside the runtime.
// A thread is listed on the loop it suspended on, until it runs again.
//
// Cost when unused: every co_await in a task stores its file and line in the frame (one store,
// 8 bytes per frame); each runtime wait links and unlinks a 24-byte record in its loop's list
// (a few stores; a spin lock while several loops run). bench/threads measures it (the commit
// that added this states the figures).
#pragma once

#include <string>

namespace cpc {

// The threads suspended on the calling kernel thread's loop, as described at the top of
// dump_threads.hpp; a single line saying so when no loop runs on the calling kernel thread.
// Call it from a thread of the loop (or from code the loop runs).
std::string dump_threads();

// Writes dump_threads() to fd in one write(2), so that dumps of several loops do not mix.
void dump_threads(int fd);

// Asks every running loop to write its own dump to fd (loop::call_soon: each on its own
// kernel thread, at its next iteration) and returns at once. Thread-safe, from any kernel
// thread; not from a signal handler (a server receives its signal with cpc::signal_watch).
void dump_all_threads(int fd = 2);

}  // namespace cpc
