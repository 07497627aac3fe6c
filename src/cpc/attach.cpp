// Moving threads between schedulers, and the count of detached threads that loops wait for.
#include "cpc/attach.hpp"

#include "cpc/loop.hpp"
#include "cpc/spawn.hpp"
#include "running_loops.hpp"

namespace cpc::detail {

void move_thread(scheduler* from, scheduler* to, std::coroutine_handle<> h) {
    // Loops and colors are both run by loops.
    const bool leaves_loops =
        from->type() != scheduler::kind::pool && to->type() == scheduler::kind::pool;
    const bool returns_to_a_loop =
        from->type() == scheduler::kind::pool && to->type() != scheduler::kind::pool;
    if (leaves_loops) add_detached_thread();
    to->schedule(h);
    if (returns_to_a_loop) remove_detached_thread();
}

void spawn_on(scheduler& s, std::coroutine_handle<> root) {
    if (s.type() == scheduler::kind::pool) add_detached_thread();
    s.schedule(root);
}

void thread_ended_off_loop() noexcept {
    if (tl_scheduler && tl_scheduler->type() == scheduler::kind::pool) remove_detached_thread();
}

}  // namespace cpc::detail
