// cpc::monotonic_clock: the clock the loops measure time with (loop::now(), sleep,
// with_timeout), for programs that time things themselves.
//
// It is CLOCK_MONOTONIC: it never goes back, is not changed by setting the date, and does not
// count time the machine is suspended. Its time_points compare with loop::now(): both are
// nanoseconds since the same (unspecified) origin, so a deadline taken from one is valid
// against the other. Thread-safe (a vDSO call, no system call on Linux).
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

namespace cpc {

// A std::chrono clock (the Clock requirements) over CLOCK_MONOTONIC, in nanoseconds.
struct monotonic_clock {
    // Nanoseconds in a signed 64-bit count: 292 years either way.
    using rep = std::int64_t;
    // One nanosecond.
    using period = std::nano;
    // A length of time on this clock.
    using duration = std::chrono::nanoseconds;
    // An instant on this clock; comparable with loop::now() through time_since_epoch().
    using time_point = std::chrono::time_point<monotonic_clock>;
    // It never goes back.
    static constexpr bool is_steady = true;

    // The current instant. Thread-safe.
    static time_point now() noexcept {
        timespec ts;
        ::clock_gettime(CLOCK_MONOTONIC, &ts);
        return time_point{duration{std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec}};
    }
};

// monotonic_clock::now() as a count of nanoseconds, the unit of loop::now(), for code that
// keeps times in integers (samples, deadlines in a struct that is written out).
inline std::int64_t monotonic_ns() noexcept {
    return monotonic_clock::now().time_since_epoch().count();
}

}  // namespace cpc
