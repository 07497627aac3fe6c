// cpc::condvar: a condition variable of cooperative threads.
//
// As in CPC there is no mutex: threads of one loop (or of one color) never run concurrently,
// so the state a condvar guards cannot change between a test and the wait. Waiters are woken
// oldest first. Waking does not run anything at once: the woken thread joins the end of the
// run queue of the loop it waited on, or of its color wherever that color runs now.
//
// Thread-safety: wait, signal, signal_all and count may be called from threads of any loop
// and any color at once (the waiter list takes a spin lock while several loops run; a
// one-loop program takes none). What the condvar guards must then be state of one color, or
// be protected otherwise: a condvar does not make threads of two colors exclusive. Not from
// pool threads.
#pragma once

#include <coroutine>
#include <cstddef>

#include "cpc/detail/check.hpp"
#include "cpc/detail/shared_wait_list.hpp"
#include "cpc/detail/wait_record.hpp"
#include "cpc/loop.hpp"
#include "cpc/task.hpp"

namespace cpc {

// A condition variable of cooperative threads (CPC's cpc_condvar): waiters woken oldest
// first, no mutex (the guarantees are at the top of condvar.hpp).
class condvar {
  public:
    condvar() = default;
    condvar(const condvar&) = delete;
    condvar& operator=(const condvar&) = delete;

    class awaiter;
    // co_await cv.wait(): suspends until signal() picks this waiter or signal_all().
    awaiter wait() noexcept;

    // Wakes the oldest waiter, if any.
    void signal() noexcept { waiters_.wake_one(); }
    // Wakes every thread waiting now.
    void signal_all() noexcept { waiters_.wake_all(); }
    // How many threads wait (including sleeps and io_waits that this condvar may interrupt).
    std::size_t count() noexcept { return waiters_.size(); }

    // For primitives that can be interrupted by this condvar.
    detail::shared_wait_list& waiters() noexcept { return waiters_; }

  private:
    detail::shared_wait_list waiters_;
};

// What co_await cv.wait() awaits: links the thread at the end of cv's waiters.
class condvar::awaiter : detail::wait_link, detail::wait_record {
  public:
    // For cpc::dump_threads: what this wait is (wait_record.hpp), and its frame.
    static std::coroutine_handle<> describe_wait(const detail::wait_record& r, std::string& out);
    // An awaiter that waits on cv.
    explicit awaiter(condvar& cv) noexcept : cv_(&cv) {}
    // Where to resume the thread (its loop or its color) is the link's waker: its scheduler's
    // blocked_waker(), which spares the frame a pointer to its scheduler.
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    // A frame destroyed while it waits (teardown of a blocked thread) leaves the list.
    ~awaiter() {
        if (detail::wait_link::linked() || detail::wait_record::linked()) [[unlikely]]
            leave();
    }

    // The condvar to wait on; only before the awaiter is awaited (with_timeout waits on it
    // in its own way).
    condvar& target() const noexcept { return *cv_; }

    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
        CPC_CHECK(detail::tl_loop,
                  "condvar wait on a kernel thread without a loop (a pool thread: attach back "
                  "to a loop before waiting)");
        frame_ = h;
        wake = detail::tl_scheduler->blocked_waker();
        detail::tl_loop->add_blocked(1);
        if constexpr (detail::is_task_frame<P>)
            detail::tl_loop->waits().link(this, detail::wait_kind::condvar);
        cv_->waiters_.push_back(this);
    }
    void await_resume() noexcept { detail::end_wait_record(*this); }

  private:
    friend void detail::resume_blocked(detail::wait_link* l) noexcept;

    // Out of line: the frame of a thread still waiting is being destroyed.
    void leave() noexcept;

    condvar* cv_;
    std::coroutine_handle<> frame_;
};

inline condvar::awaiter condvar::wait() noexcept {
    return awaiter{*this};
}

}  // namespace cpc
