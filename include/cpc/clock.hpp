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

struct monotonic_clock {
    using rep = std::int64_t;
    using period = std::nano;
    using duration = std::chrono::nanoseconds;
    using time_point = std::chrono::time_point<monotonic_clock>;
    static constexpr bool is_steady = true;

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
