// co_await cpc::sleep(d, interrupt): suspends the thread for d.
//
// Returns true when the whole duration elapsed, false when the thread was woken early by a
// signal on `interrupt` (signal or signal_all; a condvar*, or a cpc::interrupts set of
// several, interrupts.hpp) or by the deadline of an enclosing
// with_timeout. CPC's timeouts are built this way: a timeout thread sleeps, then signals the
// condvar that an I/O wait listens to. Deadlines are measured from the loop's cached time
// (loop::now). On a pool thread the kernel thread sleeps and `interrupt` is not listened to.
//
// The timer is armed on the loop the thread runs on; if the thread's color moves to another
// loop meanwhile (runtime.hpp), the timer still fires there and the thread resumes where its
// color runs. `interrupt` may be signalled from any loop.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>

#include "cpc/condvar.hpp"
#include "cpc/detail/interruption.hpp"
#include "cpc/detail/timer_heap.hpp"
#include "cpc/detail/wake.hpp"
#include "cpc/interrupts.hpp"
#include "cpc/loop.hpp"
#include "cpc/task.hpp"

namespace cpc {

namespace detail {
void sleep_kernel_thread(std::int64_t ns) noexcept;
}

// What co_await cpc::sleep(...) awaits: true when the whole duration elapsed.
class sleep_awaiter : detail::wait_record {
  public:
    // For cpc::dump_threads: what this wait is (wait_record.hpp), and its frame.
    static std::coroutine_handle<> describe_wait(const detail::wait_record& r, std::string& out);
    // A sleep of ns nanoseconds, interrupted by interrupt (a condvar, an interrupts set, or none).
    sleep_awaiter(std::int64_t ns, interrupt_source interrupt) noexcept
        : ns_(ns), interrupt_(interrupt) {}
    sleep_awaiter(const sleep_awaiter&) = delete;
    sleep_awaiter& operator=(const sleep_awaiter&) = delete;
    ~sleep_awaiter() {
        detail::end_wait_record(*this);
        if (loop_) loop_->cancel_timer(&timer_);
    }

    bool await_ready() noexcept {
        if (detail::tl_loop) return false;
        detail::sleep_kernel_thread(ns_);
        completed_ = true;
        return true;
    }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        detail::cancel_scope* scope = detail::scope_of(h);
        if (scope && scope->fired()) {  // completed_ stays false
            detail::note_wait_cut_short_before_suspending();
            return false;
        }
        frame_ = h;
        loop_ = detail::tl_loop;
        home_ = detail::tl_scheduler;
        timer_.self = this;
        // The timer fires on this loop; the thread resumes at home, wherever its color runs.
        timer_.fire = [](detail::timer_node* t) noexcept {
            sleep_awaiter* self = static_cast<timer*>(t)->self;
            // An interruption already on its way wins: it happened first.
            if (!self->interruption_.disarm()) return;
            self->completed_ = true;
            detail::wake_at(self->home_, self->frame_);
        };
        if constexpr (detail::is_task_frame<P>) loop_->waits().link(this, detail::wait_kind::sleep);
        loop_->add_timer(&timer_, ns_);
        // From now on the deadline, on the loop's clock, for dump_threads.
        ns_ = loop_->now() + (ns_ > 0 ? ns_ : 0);
        if (interrupt_ || scope) {
            const bool armed =
                interruption_.arm(interrupt_, scope, loop_, this, [](void* owner) noexcept {
                    auto* self = static_cast<sleep_awaiter*>(owner);
                    self->loop_->cancel_timer(&self->timer_);
                    detail::wake_at(self->home_, self->frame_);
                });
            if (!armed) {  // the deadline passed on another loop meanwhile
                loop_->cancel_timer(&timer_);
                return false;
            }
        }
        return true;
    }

    bool await_resume() noexcept {
        detail::end_wait_record(*this);
        return completed_;
    }

  private:
    struct timer : detail::timer_node {
        sleep_awaiter* self = nullptr;
    };

    std::int64_t ns_;  // the duration; once the timer is armed, its deadline (loop::now's clock)
    interrupt_source interrupt_;
    loop* loop_ = nullptr;  // where the timer is armed
    scheduler* home_ = nullptr;
    std::coroutine_handle<> frame_;
    timer timer_;
    detail::interruption interruption_;
    bool completed_ = false;
};

// co_await cpc::sleep(d, interrupt): true when d elapsed, false when interrupted (see the
// top of this file).
template <class Rep, class Period>
sleep_awaiter sleep(std::chrono::duration<Rep, Period> d,
                    interrupt_source interrupt = {}) noexcept {
    return sleep_awaiter{std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(),
                         interrupt};
}

}  // namespace cpc
