// co_await cpc::with_timeout(d, some_task): runs some_task in the calling thread with a
// deadline.
//
// Every sleep and io_wait (and so every I/O wrapper) inside the task, at any depth, is
// interrupted when the deadline passes, exactly as if a CPC timeout thread had signalled the
// condvar it listens to; later waits in the task return "interrupted" at once. The task then
// unwinds normally, so its destructors run and nothing is leaked. Condvar waits are not
// interrupted (as in CPC): pass the condvar to sleep/io_wait instead. Deadlines nest.
//
// Returns std::optional<T>: empty when the deadline passed before the task ended (the task's
// value is dropped), else its value. For task<void>, returns true when it ended in time. One
// exception: on io_uring an operation in flight when the deadline passes may complete anyway
// (its cancellation came too late: a read's bytes were taken from the socket, a connection
// was accepted). Then the task's value is returned although the deadline passed, since
// dropping it would lose those bytes or leak that connection; the task's later waits were
// interrupted as usual, so its value says how far it got.
// Exceptions from the task propagate. On a pool thread no deadline can interrupt blocking
// calls: the task runs to its end.
//
// The deadline counts from the call, but its timer is armed only when the thread first
// suspends inside the task (any suspension: a wait, a yield, an attach): a task that ends
// without suspending never touches the loop's timers. A deadline that passed while the thread
// ran is honoured at that first suspension, as an armed one would have been: the loop fires
// it at its next look at its timers.
//
// In a cpc::runtime, a colored thread's color is pinned to its loop while the thread is inside
// with_timeout (from its first suspension until it returns; before it, the color cannot move
// anyway, the thread running in it): stealing never moves that color meanwhile,
// because the deadline's timer lives on the loop that armed it and must be cancelled there.
// A color whose threads spend their whole life inside with_timeout is therefore never
// balanced by stealing; recolor (or spawn in) a color of another loop to move work
// explicitly. Uncolored threads never move anyway. The task may still recolor or attach
// elsewhere inside with_timeout: the deadline reaches its waits on any loop.
//
// co_await cpc::with_timeout(d, awaiter): the same for one wait, without a task: a bare
// io_wait, sleep or io_op (or an awaiter of the program's that reads the scope of the frame
// it suspends, as those do), awaited by the caller's own frame, with no frame of its own.
//   std::optional<bool> ready = co_await cpc::with_timeout(5s, cpc::io_wait(fd, cpc::in));
// - Results and rules as above: std::optional of the awaiter's value, empty when the deadline
//   passed first (bool for a void awaiter); an io_op that completed although the deadline
//   passed keeps its value; deadlines nest both ways with task-form ones; the color is pinned
//   while the deadline is armed.
// - The deadline is armed only when the thread suspends: an awaiter ready at once
//   (await_ready) makes no scope and touches no timer. It is cancelled when the wait ends.
// - A condvar wait is the exception to "condvar waits are not interrupted": with_timeout(d,
//   cv.wait()) waits for a signal or the deadline, whichever comes first, and returns bool
//   (true: signalled). A signal that picked the waiter is never lost: if it arrives in the
//   same instant as the deadline, the result is true. It does not count as a thread blocked
//   on a condvar (the pending deadline keeps the loop running).
// - The awaiter is held by reference: call with_timeout in the co_await expression that makes
//   it (awaiting a with_timeout kept in a variable does not compile). Awaiters that move the
//   thread (attach, recolor, yield to another loop) take the task form, which comes back home.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>

#include "cpc/attach.hpp"
#include "cpc/color.hpp"
#include "cpc/detail/cancel_scope.hpp"
#include "cpc/detail/lazy_deadline.hpp"
#include "cpc/detail/timed_wait.hpp"
#include "cpc/loop.hpp"
#include "cpc/task.hpp"

namespace cpc {

namespace detail {

// Reads the scope of the awaiting frame without suspending.
struct enclosing_scope {
    cancel_scope* scope = nullptr;
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) noexcept {
        scope = scope_of(h);
        return false;
    }
    cancel_scope* await_resume() const noexcept { return scope; }
};

// What with_timeout keeps of the task's outcome until it is back home.
template <class T>
struct value_or_done {
    T value;
};
template <>
struct value_or_done<void> {};

// Awaits a task inside a given scope instead of the caller's.
template <class T>
struct scoped_await : task<T>::awaiter {
    cancel_scope* scope;
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
        std::coroutine_handle<> child = task<T>::awaiter::await_suspend(caller);
        this->frame.promise().scope = scope;
        return child;
    }
};

}  // namespace detail

// Runs t in the calling thread with deadline d (see the top of this file).
template <class Rep, class Period, class T>
auto with_timeout(std::chrono::duration<Rep, Period> d, task<T> t)
    -> task<std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>> {
    // The deadline and the scope belong to this loop: if the task ends on another scheduler
    // (it attached to a pool), come back before touching them.
    scheduler* const home = detail::tl_scheduler;
    detail::cancel_scope scope(co_await detail::enclosing_scope{});
    std::exception_ptr error;
    std::optional<detail::value_or_done<T>> result;
    {
        detail::lazy_deadline deadline(
            scope, std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
        detail::scoped_await<T> awaiting{{t.operator co_await()}, &scope};
        try {
            if constexpr (std::is_void_v<T>) {
                co_await awaiting;
                result.emplace();
            } else {
                // A named local: g++ 12 miscompiles co_await inside a braced temporary.
                T value = co_await awaiting;
                result.emplace(detail::value_or_done<T>{std::move(value)});
            }
        } catch (...) {
            error = std::current_exception();
        }
        if (home && detail::tl_scheduler != home) co_await attach(*home);
    }
    if (error) std::rethrow_exception(error);
    const bool timed_out = scope.fired() && !scope.outcome_kept();
    if constexpr (std::is_void_v<T>) {
        co_return !timed_out;
    } else {
        if (timed_out) co_return std::nullopt;
        co_return std::optional<T>{std::move(result->value)};
    }
}

// Awaits one wait (io_wait, sleep, an io_op, a condvar wait) with deadline d, without a task
// frame; the deadline is armed only if the wait suspends (see the top of this file). Call it in
// the co_await expression that makes the awaiter.
template <class Rep, class Period, detail::timed_awaitable A>
detail::timed<std::remove_reference_t<A>> with_timeout(std::chrono::duration<Rep, Period> d,
                                                       A&& awaiter) noexcept {
    return {awaiter, std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()};
}

}  // namespace cpc
