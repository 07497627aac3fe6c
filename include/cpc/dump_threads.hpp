// cpc::dump_threads: where every suspended thread waits, and how it got there.
//
//   cpc: loop 0 (io_uring, kernel thread 8795): 3 suspended thread(s), 0 runnable, 0 on pools
//     thread waits on an io_uring operation on fd 15
//       at /src/src/cpc/io.cpp:260
//       at /src/include/cpc/with_timeout.hpp:121
//       at /src/apps/httpd/connection.cpp:119
//     thread waits on condvar 0x55d0c2a4e2b0
//       at /src/apps/hekate/server.cpp:727
//     thread sleeps, timer due in 495.145 ms
//       at /src/apps/hekate/server.cpp:665
//
// What is printed: one entry per thread suspended on the loop in one of the runtime's waits
// (a condvar wait, with or without a deadline; io_wait, with the fd and direction; sleep, with
// the time left; an io_uring operation, with its fd), then its chain of frames as file:line,
// innermost first: the co_await the thread is suspended at, then the co_await of each calling
// task up to the thread's root (64 frames at most, then how many more). Lines are those of the
// co_await expression (clang: of the keyword; g++: of the awaited operand, when the two
// differ). No function names: a frame knows where it awaits, not what it is.
//
// Which loop lists a thread: a thread in io_wait, sleep, an io_uring operation or a condvar
// wait with a deadline is listed by the loop it suspended on, from the moment it suspends
// until it runs again (a thread woken and not yet resumed is still listed). A thread in a
// plain condvar wait is listed by the loop that first waited on that condvar (every waiter of
// the condvar, whichever loop it waits from), while it is in the condvar's list. Not listed:
// threads in the loop's run queue (counted as runnable; colored ones are not counted),
// threads running on a pool (counted, process-wide), and waits in awaiters written outside the
// runtime.
//
// Cost when unused, in every program: each co_await in a task stores its file and line in the
// frame (8 bytes a frame, and 8 more a co_await for the reference await_transform passes on).
// io_wait, sleep, io_op and timed condvar waits link a 24-byte record into their loop's list
// when they suspend and unlink it when the thread runs (a few stores; a spin lock, uncontended,
// while several loops run). A plain condvar wait only tests whether its condvar is known to a
// loop yet; a condvar is 24 bytes larger. bench/threads, one loop, medians of 20 runs
// alternating with main (ABBA): an idle thread waiting on a condvar, 96 -> 112 bytes; spawn
// unchanged (7.7 ns); a yield round trip 6.6 -> 7.4 ns; a condvar round trip 13.3 -> 13.5 ns.
// A sleep(0) round trip (a record linked and unlinked), 62.8 -> 65.5 ns (epoll, 10 runs ABBA).
#pragma once

#include <string>

namespace cpc {

// The threads suspended on the calling kernel thread's loop, as described at the top of
// dump_threads.hpp; a single line saying so when no loop runs on the calling kernel thread.
// It reads the calling loop's records and the waiters of its condvars under their locks, so
// it is safe while other loops run and wake threads of this one.
std::string dump_threads();

// Writes dump_threads() to fd in one write(2) (more only if the kernel takes part of it), so
// that dumps of several loops do not mix on a file or a terminal (on a pipe, only dumps up to
// PIPE_BUF bytes are kept whole).
void dump_threads(int fd);

// Asks every running loop to write its own dump to fd (loop::call_soon: each on its own
// kernel thread, at its next iteration) and returns at once. Thread-safe, from any kernel
// thread; not from a signal handler (a server receives its signal with cpc::signal_watch).
void dump_all_threads(int fd = 2);

}  // namespace cpc
