// cpc::task<T>: a cps function.
//
// A function returning task<T> is a coroutine, which the compiler turns into a heap frame
// and a state machine: the continuation-passing transform that CPC did with its own
// translator. Only cps code can suspend (co_await), so the type system enforces CPC's rule
// that native functions never block or yield.
//
// - Lazy: calling the function creates the frame and runs nothing. `co_await`ing the task
//   runs it inside the calling thread until it completes, then yields its value or rethrows
//   its exception. A task is awaited at most once; destroying one that was never awaited
//   frees its frame without running it.
// - Symmetric transfer: starting a child and resuming the parent are tail calls between
//   frames, so a million-deep chain of awaits uses no native stack.
// - A task handed to cpc::spawn becomes the root frame of a new thread; when it ends the
//   thread's frame is freed. An exception escaping a thread's root is a bug in the program:
//   it terminates the process with the exception's message, like std::thread does. Use a
//   task_group to collect exceptions instead.
// - Frames come from the kernel thread's pooled allocator (detail/frame_allocator.hpp).
// - Every co_await in a task records its file and line in the frame (one store, 8 bytes per
//   frame), so that cpc::dump_threads can print a waiting thread's chain of frames.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "cpc/detail/check.hpp"
#include "cpc/detail/current.hpp"
#include "cpc/detail/frame_allocator.hpp"

namespace cpc {

// A cps function's result: the lazy coroutine that computes a T (see the top of task.hpp).
template <class T = void>
class task;

namespace detail {

class cancel_scope;

// A co_await's file and line in one word: user-space addresses of x86-64 and AArch64 fit in
// 48 bits, which leaves 16 for the line (lines beyond 65535 read as 65535). Half the size of
// a pointer and a line, in every frame.
class await_site {
  public:
    void set(const char* file, unsigned line) noexcept {
        word_ = (reinterpret_cast<std::uintptr_t>(file) & kFileMask) |
                (static_cast<std::uintptr_t>(line < 0xffff ? line : 0xffff) << 48);
    }
    // Null before the frame's first co_await.
    const char* file() const noexcept { return reinterpret_cast<const char*>(word_ & kFileMask); }
    unsigned line() const noexcept { return static_cast<unsigned>(word_ >> 48); }

  private:
    static_assert(sizeof(std::uintptr_t) == 8, "await_site packs a pointer in 48 bits");
    static constexpr std::uintptr_t kFileMask = (std::uintptr_t{1} << 48) - 1;
    std::uintptr_t word_ = 0;
};

template <class A>
concept has_member_co_await = requires(A&& a) {
    static_cast<A&&>(a).operator co_await();
};

// What await_transform returns: the operand by reference, awaited as it would be without
// await_transform. Returning the operand itself (A&&) is what the standard allows, but g++ 12
// then copies it into the frame, which awaiters that cannot be copied refuse.
template <class R>
struct awaited {
    R operand;
    decltype(auto) operator co_await() && noexcept(
        noexcept(static_cast<R>(operand).operator co_await())) requires has_member_co_await<R> {
        return static_cast<R>(operand).operator co_await();
    }
    decltype(auto) await_ready() requires(!has_member_co_await<R>) { return operand.await_ready(); }
    template <class H>
    decltype(auto) await_suspend(H h) requires(!has_member_co_await<R>) {
        return operand.await_suspend(h);
    }
    decltype(auto) await_resume() requires(!has_member_co_await<R>) {
        return operand.await_resume();
    }
};

struct promise_base {
    std::coroutine_handle<> continuation;  // the awaiting frame; null for a thread's root
    cancel_scope* scope = nullptr;         // innermost with_timeout around this frame
    await_site site;                       // where this frame awaits (or last awaited)

    // Every co_await in a task goes through here: the default arguments are the file and
    // line of the co_await (g++ names the line of the awaited operand, clang the line of the
    // keyword), and the operand is awaited unchanged, through a proxy (see awaited).
    template <class A>
    awaited<A&&> await_transform(A&& a, const char* file = __builtin_FILE(),
                                 unsigned line = __builtin_LINE()) noexcept {
        site.set(file, line);
        return awaited<A&&>{static_cast<A&&>(a)};
    }

    static void* operator new(std::size_t n) { return allocate_frame(n); }
    static void operator delete(void* p, std::size_t n) noexcept { deallocate_frame(p, n); }

    std::suspend_always initial_suspend() const noexcept { return {}; }

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> self) noexcept {
            if (std::coroutine_handle<> parent = self.promise().continuation) return parent;
            self.destroy();  // the root frame: its thread ends here
            if (!tl_loop) thread_ended_off_loop();
            return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }

  protected:
    void capture_exception() noexcept {
        if (!continuation) std::terminate();  // escaped a thread's root: reported by terminate
        exception_ = std::current_exception();
    }
    void rethrow_if_failed() const {
        if (exception_) std::rethrow_exception(exception_);
    }

  private:
    std::exception_ptr exception_;
};

template <class T>
struct promise final : promise_base {
    // promise_base sits at the same place in every task frame, which lets dump_threads walk
    // continuations (type-erased handles) as task frames.
    static_assert(alignof(std::optional<T>) <= 16, "a task of an over-aligned type");
    task<T> get_return_object() noexcept;
    template <class U>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        value_.emplace(std::forward<U>(v));
    }
    void unhandled_exception() noexcept { capture_exception(); }
    T result() {
        rethrow_if_failed();
        return std::move(*value_);
    }

  private:
    std::optional<T> value_;
};

template <>
struct promise<void> final : promise_base {
    task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void unhandled_exception() noexcept { capture_exception(); }
    void result() const { rethrow_if_failed(); }
};

// The frames that cpc::dump_threads can walk: a wait is recorded only in a task's frame.
template <class P>
inline constexpr bool is_task_frame = std::is_base_of_v<promise_base, P>;

// The scope of the frame that awaits this: lets awaiters find their enclosing with_timeout.
template <class P>
cancel_scope* scope_of(std::coroutine_handle<P> h) noexcept {
    if constexpr (std::is_base_of_v<promise_base, P>) {
        return h.promise().scope;
    } else {
        return nullptr;
    }
}

}  // namespace detail

// A cps function's result: the lazy coroutine that computes a T (see the top of task.hpp).
template <class T>
class [[nodiscard]] task {
  public:
    // The coroutine machinery's (std::coroutine_traits).
    using promise_type = detail::promise<T>;
    // What co_await on the task yields.
    using value_type = T;

    // An empty task (valid() is false), to be assigned.
    task() noexcept = default;
    // Takes other's frame; other becomes empty.
    task(task&& other) noexcept : frame_(std::exchange(other.frame_, {})) {}
    // Frees this task's frame (never run), then takes other's.
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            if (frame_) frame_.destroy();
            frame_ = std::exchange(other.frame_, {});
        }
        return *this;
    }
    ~task() {
        if (frame_) frame_.destroy();
    }

    // Owns a frame: not empty, not moved from, not released.
    bool valid() const noexcept { return static_cast<bool>(frame_); }

    // What co_await on a task awaits: runs the task in the awaiting thread (symmetric
    // transfer), then yields its value or rethrows its exception.
    struct awaiter {
        // The task's frame.
        std::coroutine_handle<promise_type> frame;
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
            // cpc::dump_threads walks continuations as cpc::task frames.
            static_assert(std::is_base_of_v<detail::promise_base, P>,
                          "a cpc::task is awaited by a cpc::task");
            CPC_CHECK(!frame.promise().continuation, "a task awaited a second time");
            frame.promise().continuation = caller;
            frame.promise().scope = detail::scope_of(caller);
            return frame;
        }
        T await_resume() { return frame.promise().result(); }
    };
    // co_await t: runs the task to its end in the calling thread (at most once). Precondition
    // (checked in debug builds): valid(), and the task was never awaited.
    awaiter operator co_await() & noexcept {
        CPC_CHECK(frame_,
                  "co_await on an empty task (default-constructed, moved from, or spawned)");
        return awaiter{frame_};
    }
    // co_await f(...): the same for a task not kept in a variable.
    awaiter operator co_await() && noexcept {
        CPC_CHECK(frame_,
                  "co_await on an empty task (default-constructed, moved from, or spawned)");
        return awaiter{frame_};
    }

    // Gives up ownership of the frame (used by spawn, which makes it a thread's root).
    std::coroutine_handle<promise_type> release() noexcept { return std::exchange(frame_, {}); }

  private:
    friend promise_type;
    explicit task(std::coroutine_handle<promise_type> h) noexcept : frame_(h) {}
    std::coroutine_handle<promise_type> frame_;
};

namespace detail {
template <class T>
task<T> promise<T>::get_return_object() noexcept {
    return task<T>{std::coroutine_handle<promise<T>>::from_promise(*this)};
}
inline task<void> promise<void>::get_return_object() noexcept {
    return task<void>{std::coroutine_handle<promise<void>>::from_promise(*this)};
}
}  // namespace detail

}  // namespace cpc
