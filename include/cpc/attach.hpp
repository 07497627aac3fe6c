// Moving a thread between schedulers (CPC's cpc_attach), and running native code on the pool
// (CPC's cpc_detached).
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "cpc/detail/current.hpp"
#include "cpc/scheduler.hpp"
#include "cpc/task.hpp"
#include "cpc/thread_pool.hpp"

namespace cpc {

namespace detail {
// Moves h to `to`, keeping the count of threads detached from loops (loops keep running
// while one may come back).
void move_thread(scheduler* from, scheduler* to, std::coroutine_handle<> h);
}  // namespace detail

// What co_await cpc::attach(s) (and recolor) awaits: moves the awaiting thread to target,
// unless it is there already, and yields the scheduler it left.
class attach_awaiter {
  public:
    // An awaiter that moves the awaiting thread to target.
    explicit attach_awaiter(scheduler& target) noexcept : target_(&target) {}
    bool await_ready() noexcept {
        previous_ = detail::tl_scheduler;
        return previous_ == target_;
    }
    // After move_thread the thread may already run on another kernel thread: nothing of
    // this awaiter is touched afterwards.
    void await_suspend(std::coroutine_handle<> h) { detail::move_thread(previous_, target_, h); }
    scheduler& await_resume() const noexcept { return *previous_; }

  private:
    scheduler* target_;
    scheduler* previous_ = nullptr;
};

// co_await cpc::attach(s): the calling thread continues on scheduler s (a loop or a pool)
// and gets back the scheduler it left, so it can return there later.
inline attach_awaiter attach(scheduler& s) noexcept {
    return attach_awaiter{s};
}

// co_await cpc::detached(f): runs the native callable f on the default pool and comes back
// to the scheduler the thread left, with f's result or its exception. The loop keeps
// running other threads meanwhile.
template <class F>
auto detached(F f) -> task<std::invoke_result_t<F&>> {
    using R = std::invoke_result_t<F&>;
    scheduler& home = co_await attach(default_pool());
    std::exception_ptr error;
    if constexpr (std::is_void_v<R>) {
        try {
            f();
        } catch (...) {
            error = std::current_exception();
        }
        co_await attach(home);
        if (error) std::rethrow_exception(error);
    } else {
        std::optional<R> result;
        try {
            result.emplace(f());
        } catch (...) {
            error = std::current_exception();
        }
        co_await attach(home);
        if (error) std::rethrow_exception(error);
        co_return std::move(*result);
    }
}

}  // namespace cpc
