// A scheduler runs cooperative threads: an event loop (cpc::loop), a color (cpc::color, run
// by whichever loop owns it now) or a pool of kernel threads (cpc::thread_pool). A thread
// moves between them with cpc::attach.
#pragma once

#include <coroutine>

#include "cpc/detail/wait_list.hpp"

namespace cpc {

class scheduler;

namespace detail {

// The waker of a thread blocked on a condvar, one per scheduler: the waiter's link points at
// the waker of the scheduler it waited from, so the frame of an idle thread keeps no pointer
// to its scheduler.
struct home_waker : waker {
    scheduler* home;
};

// The fire function of every home_waker (src/cpc/condvar.cpp): resumes the condvar waiter
// at its home.
void resume_blocked(wait_link* l) noexcept;

}  // namespace detail

// Where a thread runs: a loop, a color or a pool (see the top of scheduler.hpp).
class scheduler {
  public:
    // Which of the three a scheduler is.
    enum class kind { loop, pool, color };

    // For the derived classes: a scheduler of kind k.
    explicit scheduler(kind k) noexcept
        : kind_(k), blocked_waker_{{&detail::resume_blocked}, this} {}
    virtual ~scheduler() = default;
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    // Makes the suspended frame h runnable here. Thread-safe: any kernel thread may call it.
    virtual void schedule(std::coroutine_handle<> h) = 0;

    // Which kind of scheduler this is.
    kind type() const noexcept { return kind_; }

    // The waker of a condvar waiter that waited from this scheduler.
    const detail::waker* blocked_waker() const noexcept { return &blocked_waker_; }

  private:
    kind kind_;
    detail::home_waker blocked_waker_;
};

}  // namespace cpc
