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
#include <new>
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
    lazy_deadline(cancel_scope& scope, std::int64_t ns) noexcept {
        loop* const here = tl_loop;
        if (!here) return;
        // What add_timer would count from: the loop's clock is read afresh when no timer
        // is pending (it is only kept up to date while some are).
        const std::int64_t now = here->pending_timers() == 0 ? monotonic_ns() : here->now();
        new (&waiting_) waiting{now + std::max<std::int64_t>(ns, 0), tl_unarmed_deadlines, &scope,
                                tl_scheduler};
        tl_unarmed_deadlines = this;
        state_ = state::listed;
    }
    // Never armed: leaves the list, where it is first (deadlines end innermost first). Armed:
    // the timer is cancelled, on the loop that armed it (with_timeout is back there).
    ~lazy_deadline() {
        if (state_ == state::listed) {
            CPC_CHECK(tl_unarmed_deadlines == this,
                      "a with_timeout ended out of order or on another kernel thread");
            tl_unarmed_deadlines = waiting_.next;
        } else if (state_ == state::armed) {
            timer_.~deadline_timer();
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
        arm_outermost_first(d->waiting_.next);
        const waiting w = d->waiting_;
        new (&d->timer_) deadline_timer(*w.scope, *tl_loop, w.home, w.at_ns);
        d->state_ = state::armed;
    }

    // Until the timer is armed (a with_timeout frame holds one: an idle connection's memory
    // is mostly such frames, so the two share their place).
    struct waiting {
        std::int64_t at_ns;
        lazy_deadline* next;
        cancel_scope* scope;
        scheduler* home;
    };
    enum class state : unsigned char { off, listed, armed };
    union {
        waiting waiting_;
        deadline_timer timer_;
    };
    state state_ = state::off;
};

// Called by the loop each time a thread gives control back to it: arms the deadlines that
// thread set and had not armed yet.
inline void arm_deadlines_of_suspended_thread() noexcept {
    if (tl_unarmed_deadlines) [[unlikely]]
        lazy_deadline::arm_list();
}

}  // namespace cpc::detail
