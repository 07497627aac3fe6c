// Checks of the runtime's documented preconditions, for debug builds.
//
// CPC_CHECK(condition, what) aborts the process with `what`, the condition and its place when
// the condition is false, in builds that define CPC_CHECKS to 1: the CMake option CPC_CHECKS,
// on by default in Debug builds and in this project's sanitizer trees. The definition is a
// public one of the cpc target, so a program and the library always agree on it. Elsewhere a
// check costs nothing: the condition is not evaluated.
//
// What is checked is a bug in the calling program, never bad input: awaiting an empty task or
// one task twice, a condvar wait on a kernel thread without a loop, a loop's own-thread calls
// made from another kernel thread, the timer heap's and run queue's preconditions, and a
// thread that ends a great many waits in a row without ever suspending.
#pragma once

#include <cstdint>

#if !defined(CPC_CHECKS)
#define CPC_CHECKS 0
#endif

#if CPC_CHECKS
#define CPC_CHECK(condition, what) \
    ((condition) ? void(0) : ::cpc::detail::check_failed(#condition, what, __FILE__, __LINE__))
#else
#define CPC_CHECK(condition, what) void(0)
#endif

namespace cpc::detail {

// Writes the failed check to stderr and aborts.
[[noreturn]] void check_failed(const char* condition, const char* what, const char* file,
                               int line) noexcept;

// The hazard met while building the swarm simulator: inside a passed deadline every wait
// returns "interrupted" at once, so a loop that waits again on that answer never suspends and
// holds its loop forever. Each wait cut short before it suspended is counted on its kernel
// thread; the loop and the pool reset the count whenever they resume a thread, so the count
// is the number of such waits since the running thread last suspended.
inline constexpr std::uint32_t kMaxWaitsCutShortInARow = std::uint32_t{1} << 20;
#if CPC_CHECKS
inline constinit thread_local std::uint32_t tl_waits_cut_short = 0;
inline void note_wait_cut_short_before_suspending() noexcept {
    CPC_CHECK(++tl_waits_cut_short < kMaxWaitsCutShortInARow,
              "a thread ended 1,048,576 waits in a row without suspending: it waits again on "
              "an \"interrupted\" answer inside a deadline that has passed");
}
inline void note_thread_resumed() noexcept {
    tl_waits_cut_short = 0;
}
#else
inline void note_wait_cut_short_before_suspending() noexcept {}
inline void note_thread_resumed() noexcept {}
#endif

}  // namespace cpc::detail
