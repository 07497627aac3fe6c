// co_await cpc::yield(): lets every other runnable thread of the loop run once, in FIFO
// order, before the caller continues. On a pool thread it yields the kernel thread.
#pragma once

#include <coroutine>

#include "cpc/loop.hpp"

namespace cpc {

namespace detail {
void yield_kernel_thread() noexcept;
}

struct yield_awaiter {
    bool await_ready() const noexcept {
        if (detail::tl_loop) return false;
        detail::yield_kernel_thread();
        return true;
    }
    void await_suspend(std::coroutine_handle<> h) const { detail::tl_loop->post(h); }
    void await_resume() const noexcept {}
};

inline yield_awaiter yield() noexcept { return {}; }

}  // namespace cpc
