// Where a woken thread goes: back to the scheduler it waited on (its "home"), which is the
// loop it ran on or, for a colored thread, its color (which may have moved to another loop
// since: a color's threads always run where the color is now).
#pragma once

#include <coroutine>

#include "cpc/detail/current.hpp"
#include "cpc/loop.hpp"

namespace cpc::detail {

// The common case, an uncolored thread woken on its own loop, is the push of loop::post.
inline void wake_at(scheduler* home, std::coroutine_handle<> h) {
    if (home == tl_loop) {
        tl_loop->post(h);
    } else {
        home->schedule(h);
    }
}

// Puts the running thread back at the end of its run queue (yield).
inline void requeue_current(std::coroutine_handle<> h) {
    wake_at(tl_scheduler, h);
}

}  // namespace cpc::detail
