// The deadline of one with_timeout(d, task), armed only when the thread first suspends inside
// the task: a task that ends without suspending (its data was there, its wait was ready)
// never touches the loop's timers.
//
// The deadline counts from the call: its time is taken then, and a deadline that passed
// while the thread ran is honoured at its first suspension (the timer is armed in the past
// and fires at the loop's next look at its timers, as an armed one would have).
//
// Until then the deadline waits in a list of its kernel thread's, innermost first. Every
// deadline in it belongs to the thread running now: a thread runs from its resumption to its
// suspension without another thread of the kernel thread in between, and a with_timeout that
// ends takes its deadline out of the list. So when the loop gets control back from a thread
// (the thread suspended), it arms the whole list on itself: the loop the thread ran on when it
// set them, which with_timeout comes back to before cancelling them. A thread's color cannot
// move between the call and its suspension (the loop that owns it gives colors away only
// between threads), so pinning it from then on is as good as from the call.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include "cpc/clock.hpp"
#include "cpc/detail/cancel_scope.hpp"
#include "cpc/detail/check.hpp"
#include "cpc/detail/deadline_timer.hpp"
#include "cpc/loop.hpp"

namespace cpc::detail {

class lazy_deadline;

// The deadlines of the running thread not armed yet, innermost first.
inline constinit thread_local lazy_deadline* tl_unarmed_deadlines = nullptr;

class lazy_deadline {
  public:
    // Sets scope's deadline ns from now, to be armed if the thread suspends. Nothing on a
    // pool thread (no deadline interrupts its blocking calls).
    lazy_deadline(cancel_scope& scope, std::int64_t ns) noexcept
        : scope_(&scope), loop_(tl_loop), home_(tl_scheduler) {
        if (!loop_) return;
        // What add_timer would count from: the loop's clock is read afresh when no timer
        // is pending (it is only kept up to date while some are).
        const std::int64_t now = loop_->pending_timers() == 0 ? monotonic_ns() : loop_->now();
        at_ns_ = now + std::max<std::int64_t>(ns, 0);
        next_ = tl_unarmed_deadlines;
        tl_unarmed_deadlines = this;
        unarmed_ = true;
    }
    // Never armed: leaves the list, where it is first (deadlines end innermost first). Armed:
    // the timer is cancelled, on the loop that armed it (with_timeout is back there).
    ~lazy_deadline() {
        if (unarmed_) {
            CPC_CHECK(tl_unarmed_deadlines == this,
                      "a with_timeout ended out of order or on another kernel thread");
            tl_unarmed_deadlines = next_;
        }
    }
    lazy_deadline(const lazy_deadline&) = delete;
    lazy_deadline& operator=(const lazy_deadline&) = delete;

    // The thread that set the deadlines of the list suspended: arms them on this loop (the
    // timer heap's growth failing there ends the process, as with a sleep's timer).
    static void arm_list() noexcept {
        arm_outermost_first(std::exchange(tl_unarmed_deadlines, nullptr));
    }

  private:
    // In the order they were set, as eager timers were: equal deadlines fire outermost first.
    static void arm_outermost_first(lazy_deadline* d) noexcept {
        if (!d) return;
        arm_outermost_first(d->next_);
        d->unarmed_ = false;
        d->timer_.emplace(*d->scope_, *d->loop_, d->home_, d->at_ns_);
    }

    cancel_scope* scope_;
    loop* loop_;
    scheduler* home_;
    std::int64_t at_ns_ = 0;
    lazy_deadline* next_ = nullptr;
    bool unarmed_ = false;
    std::optional<deadline_timer> timer_;
};

// Called by the loop each time a thread gives control back to it: arms the deadlines that
// thread set and had not armed yet.
inline void arm_deadlines_of_suspended_thread() noexcept {
    if (tl_unarmed_deadlines) [[unlikely]]
        lazy_deadline::arm_list();
}

}  // namespace cpc::detail
