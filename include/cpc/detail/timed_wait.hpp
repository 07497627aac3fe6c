// with_timeout(d, awaiter) without a frame of its own (with_timeout.hpp says what it
// guarantees). The awaiter is awaited by the caller's own frame: for the length of the wait,
// the caller's promise names the deadline's cancel_scope as its innermost scope, so that the
// awaiter (which reads the scope of the frame it suspends) is interrupted by it exactly as a
// wait inside with_timeout(d, task) is. The scope and the timer are made only when the awaiter
// is not ready at once, and are gone when the wait ends.
#pragma once

#include <coroutine>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "cpc/condvar.hpp"
#include "cpc/detail/cancel_scope.hpp"
#include "cpc/detail/deadline_timer.hpp"
#include "cpc/detail/interruption.hpp"
#include "cpc/detail/wake.hpp"
#include "cpc/task.hpp"

namespace cpc::detail {

// What with_timeout accepts besides a task: an awaiter (io_wait, sleep, io_op, a condvar
// wait, or one of the program's own that reads the scope of the frame it suspends).
template <class A>
concept timed_awaitable = requires(A& a) {
    { a.await_ready() } -> std::convertible_to<bool>;
    a.await_resume();
};

template <class R>
using timed_result_of = std::conditional_t<std::is_void_v<R>, bool, std::optional<R>>;

// The awaiter with_timeout(d, a) is awaited through. inner_ is the caller's awaiter, a
// temporary of the same co_await expression (with_timeout's result cannot be kept and
// awaited later, see timed below), so it outlives this one's wait.
template <class A>
class timed_awaiter {
  public:
    using value_type = std::remove_cvref_t<decltype(std::declval<A&>().await_resume())>;

    timed_awaiter(A& inner, std::int64_t ns) noexcept : inner_(inner), ns_(ns) {}
    timed_awaiter(const timed_awaiter&) = delete;
    timed_awaiter& operator=(const timed_awaiter&) = delete;

    // Ready at once: neither a scope nor a timer is made.
    bool await_ready() { return inner_.await_ready(); }

    template <class P>
    auto await_suspend(std::coroutine_handle<P> h) {
        static_assert(std::is_base_of_v<promise_base, P>,
                      "with_timeout(d, awaiter) is awaited in a cpc::task");
        caller_ = &h.promise();
        outer_ = caller_->scope;
        scope_.emplace(outer_);
        deadline_.emplace(*scope_, ns_);
        caller_->scope = &*scope_;
        using suspend_result = decltype(inner_.await_suspend(h));
        try {
            if constexpr (std::is_void_v<suspend_result>) {
                inner_.await_suspend(h);
            } else {
                return inner_.await_suspend(h);
            }
        } catch (...) {
            end_wait();
            throw;
        }
    }

    timed_result_of<value_type> await_resume() {
        if (!scope_) return wrap_ready();
        struct ender {
            timed_awaiter* self;
            ~ender() { self->end_wait(); }
        };
        // inner_'s own result first: an io_op that completed although the deadline passed
        // marks the scope (keep_outcome), which decides below.
        if constexpr (std::is_void_v<value_type>) {
            {
                ender end{this};
                inner_.await_resume();
            }
            return !timed_out();
        } else {
            std::optional<value_type> value;
            {
                ender end{this};
                value.emplace(inner_.await_resume());
            }
            if (timed_out()) return std::nullopt;
            return value;
        }
    }

  private:
    timed_result_of<value_type> wrap_ready() {
        if constexpr (std::is_void_v<value_type>) {
            inner_.await_resume();
            return true;
        } else {
            // A named local: g++ 12 miscompiles braced temporaries around awaited values.
            std::optional<value_type> value(inner_.await_resume());
            return value;
        }
    }
    bool timed_out() const noexcept { return scope_->fired() && !scope_->outcome_kept(); }
    // The timer is cancelled (and the color unpinned) on the loop that armed it: the waits
    // this accepts resume where the thread waited, and its color is pinned meanwhile.
    void end_wait() noexcept {
        deadline_.reset();
        caller_->scope = outer_;
    }

    A& inner_;
    std::int64_t ns_;
    promise_base* caller_ = nullptr;
    cancel_scope* outer_ = nullptr;
    std::optional<cancel_scope> scope_;
    std::optional<deadline_timer> deadline_;
};

// A condvar wait under a deadline: the thread waits for a signal or for the deadline (or an
// enclosing one), whichever comes first. Unlike a plain condvar wait, it is linked to the
// condvar through an interruption (as io_wait is to its interrupt condvar), so that the
// deadline can unlink it. A signal that reached the wait is never lost: if it picked this
// waiter, the result says "signalled" even when the deadline passed in the same instant.
class timed_condvar_wait : wait_record {
  public:
    // For cpc::dump_threads: what this wait is (wait_record.hpp), and its frame.
    static std::coroutine_handle<> describe_wait(const ::cpc::detail::wait_record& r,
                                                 std::string& out);
    timed_condvar_wait(condvar& cv, std::int64_t ns) noexcept : cv_(&cv), ns_(ns) {}
    timed_condvar_wait(const timed_condvar_wait&) = delete;
    timed_condvar_wait& operator=(const timed_condvar_wait&) = delete;
    ~timed_condvar_wait() { end_wait_record(*this); }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        static_assert(std::is_base_of_v<promise_base, P>,
                      "with_timeout(d, cv.wait()) is awaited in a cpc::task");
        check_condvar_wait_on_a_loop();
        scope_.emplace(h.promise().scope);
        if (scope_->fired()) {  // an enclosing deadline passed already
            note_wait_cut_short_before_suspending();
            return false;
        }
        deadline_.emplace(*scope_, ns_);
        frame_ = h;
        home_ = tl_scheduler;
        tl_loop->waits().link(this, wait_kind::timed_condvar);
        return interruption_.arm(cv_, &*scope_, tl_loop, this, [](void* owner) noexcept {
            auto* self = static_cast<timed_condvar_wait*>(owner);
            wake_at(self->home_, self->frame_);
        });
    }

    // true: signalled; false: the deadline passed first.
    bool await_resume() noexcept {
        end_wait_record(*this);
        deadline_.reset();
        return interruption_.condvar_fired();
    }

  private:
    condvar* cv_;
    std::int64_t ns_;
    scheduler* home_ = nullptr;
    std::coroutine_handle<> frame_;
    std::optional<cancel_scope> scope_;
    std::optional<deadline_timer> deadline_;
    interruption interruption_;
};

// with_timeout's result for an awaiter: awaitable once, in the expression that made it.
template <class A>
class [[nodiscard]] timed {
  public:
    timed(A& inner, std::int64_t ns) noexcept : inner_(inner), ns_(ns) {}
    timed_awaiter<A> operator co_await() && noexcept { return {inner_, ns_}; }
    // The awaiter given to with_timeout is a temporary of the expression that called it: a
    // with_timeout kept in a variable would await it after its end.
    void operator co_await() & = delete;

  private:
    A& inner_;
    std::int64_t ns_;
};

template <>
class [[nodiscard]] timed<condvar::awaiter> {
  public:
    timed(condvar::awaiter& inner, std::int64_t ns) noexcept : cv_(&inner.target()), ns_(ns) {}
    timed_condvar_wait operator co_await() && noexcept { return {*cv_, ns_}; }
    void operator co_await() & = delete;

  private:
    condvar* cv_;
    std::int64_t ns_;
};

}  // namespace cpc::detail
