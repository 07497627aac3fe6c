// cpc::thread_pool: a scheduler made of kernel threads, for threads that must block (a
// blocking library call, getaddrinfo, disk reads) or compute in parallel.
//
// A thread attached to a pool is "detached" in CPC's words: it runs preemptively on one of
// the pool's kernel threads, shares nothing implicitly with loop threads, and the runtime's
// primitives behave as blocking calls there (sleep sleeps, io_wait polls, the I/O wrappers
// block). Kernel threads are started on demand up to max_threads; work beyond that waits in
// FIFO order.
#pragma once

#include <condition_variable>
#include <coroutine>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "cpc/scheduler.hpp"

namespace cpc {

// A pool of kernel threads for threads that block (see the top of thread_pool.hpp).
class thread_pool final : public scheduler {
  public:
    // Like a loop, a pool sets SIGPIPE to SIG_IGN if it was SIG_DFL (see loop::loop).
    explicit thread_pool(unsigned max_threads);
    // Finishes the queued work, then joins the kernel threads.
    ~thread_pool() override;

    void schedule(std::coroutine_handle<> h) override;

    // The most kernel threads the pool starts.
    unsigned max_threads() const noexcept { return max_threads_; }

  private:
    void work();

    const unsigned max_threads_;
    std::mutex mutex_;
    std::condition_variable work_ready_;
    std::deque<std::coroutine_handle<>> queue_;
    std::vector<std::thread> workers_;
    unsigned idle_ = 0;
    bool stopping_ = false;
};

// The pool used by cpc::detached: 32 kernel threads at most.
thread_pool& default_pool();

}  // namespace cpc
