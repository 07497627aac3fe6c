// The timer of one with_timeout: fires its cancel_scope when the loop's clock reaches the
// deadline.
#pragma once

#include <cstdint>

#include "cpc/color.hpp"
#include "cpc/detail/cancel_scope.hpp"
#include "cpc/detail/timer_heap.hpp"
#include "cpc/loop.hpp"

namespace cpc::detail {

// Fires the scope when the loop's clock reaches the deadline. The timer must be cancelled on
// the loop where it was armed: a colored thread pins its color meanwhile, so that stealing
// does not move it (with_timeout comes back to that color before the timer is destroyed).
class deadline_timer : timer_node {
  public:
    // Armed ns from now on the calling kernel thread's loop, for the thread running there
    // (nothing on a pool thread: no deadline interrupts its blocking calls).
    deadline_timer(cancel_scope& scope, std::int64_t ns) : scope_(&scope), loop_(tl_loop) {
        if (!loop_) return;
        prepare(tl_scheduler);
        loop_->add_timer(this, ns);
    }
    // Armed at the loop-clock time at_ns on l, the calling kernel thread's loop, for a thread
    // of home (the scheduler it ran in when the deadline was set: with_timeout(d, task) arms
    // its deadline after the thread suspended).
    deadline_timer(cancel_scope& scope, loop& l, scheduler* home, std::int64_t at_ns)
        : scope_(&scope), loop_(&l) {
        prepare(home);
        loop_->add_timer_at(this, at_ns);
    }
    ~deadline_timer() {
        if (loop_) loop_->cancel_timer(this);
        if (color_) color_->unpin();
    }
    deadline_timer(const deadline_timer&) = delete;
    deadline_timer& operator=(const deadline_timer&) = delete;

  private:
    // Pins a color home; sets what firing does.
    void prepare(scheduler* home) noexcept {
        if (home && home->type() == scheduler::kind::color) {
            color_ = static_cast<color*>(home);
            color_->pin();
        }
        fire = [](timer_node* t) noexcept { static_cast<deadline_timer*>(t)->scope_->fire(); };
    }

    cancel_scope* scope_;
    loop* loop_;
    color* color_ = nullptr;
};

}  // namespace cpc::detail
