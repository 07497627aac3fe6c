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

namespace detail {
// Every condvar wait, timed or not, resumes on a loop: a pool thread must attach back to one
// first. Checked in builds with CPC_CHECKS (check.hpp).
inline void check_condvar_wait_on_a_loop() noexcept {
    CPC_CHECK(tl_loop,
              "condvar wait on a kernel thread without a loop (a pool thread: attach back to a "
              "loop before waiting)");
}
}  // namespace detail

// A condition variable of cooperative threads (CPC's cpc_condvar): waiters woken oldest
// first, no mutex (the guarantees are at the top of condvar.hpp).
class condvar : detail::registered_condvar {
  public:
    condvar() = default;
    condvar(const condvar&) = delete;
    condvar& operator=(const condvar&) = delete;
    ~condvar() { detail::wait_registry::remove_condvar(this); }

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

    // For cpc::dump_threads: calls f(condvar, frame) for the frame of every thread waiting on
    // the condvar r in a condvar wait (not the sleeps and io_waits it may interrupt), under
    // the condvar's lock.
    template <class F>
    static void for_each_waiter(detail::registered_condvar& r, F&& f);

  private:
    detail::shared_wait_list waiters_;
};

// What co_await cv.wait() awaits: links the thread at the end of cv's waiters.
class condvar::awaiter : detail::wait_link {
  public:
    // An awaiter that waits on cv.
    explicit awaiter(condvar& cv) noexcept : cv_(&cv) {}
    // cv_ is needed only until the thread is linked: the frame of an idle thread is all its
    // memory, so the awaiter keeps no more than the link and the frame. Where to resume it
    // (its loop or its color) is the link's waker: its scheduler's blocked_waker().
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    // A frame destroyed while it waits (teardown of a blocked thread) leaves the list.
    ~awaiter() {
        if (linked()) {
            detail::shared_wait_list& l =
                detail::shared_wait_list::of(detail::wait_list::containing(this));
            if (l.remove_if_linked(this) && detail::tl_loop) detail::tl_loop->add_blocked(-1);
        }
    }

    // The condvar to wait on; only before the awaiter is awaited (with_timeout waits on it
    // in its own way).
    condvar& target() const noexcept { return *cv_; }

    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
        // cpc::dump_threads walks the waiting frame as a task's.
        static_assert(detail::is_task_frame<P>, "a cpc::condvar is awaited in a cpc::task");
        detail::check_condvar_wait_on_a_loop();
        condvar* cv = cv_;
        frame_ = h;
        wake = detail::tl_scheduler->blocked_waker();
        detail::tl_loop->add_blocked(1);
        if (!cv->owner.load(std::memory_order_relaxed)) [[unlikely]]
            detail::tl_loop->waits().add_condvar(cv);
        cv->waiters_.push_back(this);
    }
    void await_resume() const noexcept {}

  private:
    friend void detail::resume_blocked(detail::wait_link* l) noexcept;
    friend class condvar;

    union {
        condvar* cv_;                    // until await_suspend
        std::coroutine_handle<> frame_;  // from then on
    };
};

template <class F>
void condvar::for_each_waiter(detail::registered_condvar& r, F&& f) {
    condvar& cv = static_cast<condvar&>(r);
    detail::shared_guard g(cv.waiters_.lock);
    cv.waiters_.list.for_each([&](const detail::wait_link* l) {
        if (l->wake->fire == &detail::resume_blocked) f(cv, static_cast<const awaiter*>(l)->frame_);
    });
}

inline condvar::awaiter condvar::wait() noexcept {
    return awaiter{*this};
}

}  // namespace cpc
