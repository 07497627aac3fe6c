// cpc::spawn: starts a new cooperative thread.
//
// The task becomes the root frame of a thread that joins the end of the run queue; spawn
// returns at once and nothing of the task runs before the caller next suspends. Threads are
// detached, as in CPC: nobody waits for them, and a thread's frame is freed when it ends.
// Use cpc::task_group to wait for threads and collect their exceptions.
#pragma once

#include "cpc/detail/current.hpp"
#include "cpc/loop.hpp"
#include "cpc/task.hpp"

namespace cpc {

namespace detail {
void spawn_on(scheduler& s, std::coroutine_handle<> root);
}

// On the loop running on this kernel thread; from anywhere else, on the default loop.
inline void spawn(task<void> t) {
    std::coroutine_handle<> root = t.release();
    if (loop* l = detail::tl_loop) {
        l->post(root);
    } else {
        detail::spawn_on(default_loop(), root);
    }
}

// On scheduler s: another loop, or a pool (the thread starts detached). Thread-safe.
inline void spawn(scheduler& s, task<void> t) {
    detail::spawn_on(s, t.release());
}

}  // namespace cpc
