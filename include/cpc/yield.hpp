// co_await cpc::yield(): lets every other runnable thread of the loop run once, in FIFO
// order, before the caller continues (a colored thread: every other runnable thread of its
// color, then the loop's other work). On a pool thread it yields the kernel thread.
#pragma once

#include <coroutine>

#include "cpc/detail/wake.hpp"
#include "cpc/loop.hpp"

namespace cpc {

namespace detail {
void yield_kernel_thread() noexcept;
}

// What co_await cpc::yield() awaits.
struct yield_awaiter {
    bool await_ready() const noexcept {
        if (detail::tl_loop) return false;
        detail::yield_kernel_thread();
        return true;
    }
    void await_suspend(std::coroutine_handle<> h) const { detail::requeue_current(h); }
    void await_resume() const noexcept {}
};

// co_await cpc::yield(): every other runnable thread runs once first.
inline yield_awaiter yield() noexcept {
    return {};
}

}  // namespace cpc
