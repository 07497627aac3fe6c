// cpc::condvar: a condition variable of cooperative threads.
//
// As in CPC there is no mutex: threads of one loop never run concurrently, so the state a
// condvar guards cannot change between a test and the wait. Waiters are woken oldest first.
// A condvar belongs to one loop: wait, signal and signal_all are called from threads of that
// loop only (not from pool threads). Waking does not run anything at once: the woken thread
// joins the end of the run queue.
#pragma once

#include <coroutine>
#include <cstddef>

#include "cpc/detail/wait_list.hpp"
#include "cpc/loop.hpp"

namespace cpc {

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
    std::size_t count() const noexcept { return waiters_.size(); }

    // For primitives that can be interrupted by this condvar.
    detail::wait_list& waiters() noexcept { return waiters_; }

private:
    detail::wait_list waiters_;
};

class condvar::awaiter : detail::wait_link {
public:
    explicit awaiter(condvar& cv) noexcept : cv_(&cv) {}
    // cv_ is needed only until the thread is linked: the frame of an idle thread is all its
    // memory, so the awaiter keeps no more than the link and the frame to resume.
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    // A frame destroyed while it waits (teardown of a blocked thread) leaves the list.
    ~awaiter() {
        if (linked()) {
            detail::wait_list::containing(this).remove(this);
            if (detail::tl_loop) detail::tl_loop->add_blocked(-1);
        }
    }

    bool await_ready() const noexcept { return false; }
    // The waiter's loop is not stored: it is the signaller's (a condvar serves one loop).
    void await_suspend(std::coroutine_handle<> h) noexcept {
        condvar* cv = cv_;
        frame_ = h;
        detail::tl_loop->add_blocked(1);
        wake = [](detail::wait_link* l) noexcept {
            detail::tl_loop->add_blocked(-1);
            detail::tl_loop->post(static_cast<awaiter*>(l)->frame_);
        };
        cv->waiters_.push_back(this);
    }
    void await_resume() const noexcept {}

private:
    union {
        condvar* cv_;                    // until await_suspend
        std::coroutine_handle<> frame_;  // from then on
    };
};

inline condvar::awaiter condvar::wait() noexcept { return awaiter{*this}; }

}  // namespace cpc
