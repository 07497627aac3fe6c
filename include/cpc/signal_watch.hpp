// cpc::signal_watch: POSIX signals received by a cooperative thread, as data.
//
//   cpc::signal_watch signals({SIGINT, SIGTERM});  // in main, before any other kernel thread
//   ...
//   int sig = co_await signals.next();              // in a thread of the loop
//
// The constructor blocks the signals in the calling kernel thread (threads created later
// inherit the mask, so create it first) and opens a signalfd for them: they are no longer
// delivered asynchronously but read by whichever thread waits in next(). release() closes the
// fd and unblocks them, so that a second Ctrl-C takes the default action at once. A
// signal_watch belongs to the loop whose threads wait on it.
#pragma once

#include <signal.h>

#include <initializer_list>

#include "cpc/condvar.hpp"
#include "cpc/task.hpp"

namespace cpc {

// Signals received as data by a cooperative thread (the guarantees are at the top of
// signal_watch.hpp).
class signal_watch {
  public:
    // Throws std::system_error when the signalfd cannot be opened.
    explicit signal_watch(std::initializer_list<int> signals);
    ~signal_watch() { release(); }
    signal_watch(const signal_watch&) = delete;
    signal_watch& operator=(const signal_watch&) = delete;

    // The next of the signals to arrive; 0 when interrupted (by `interrupt` or an enclosing
    // with_timeout) or after release().
    task<int> next(condvar* interrupt = nullptr);

    // Stops watching: closes the fd and unblocks the signals. Idempotent.
    void release() noexcept;

  private:
    sigset_t mask_;
    int fd_ = -1;
};

}  // namespace cpc
