// Internal to the server: the clock of its deadlines and of the page cache's freshness.
#pragma once

#include <time.h>

#include <cstdint>

namespace httpd {

inline std::int64_t monotonic_ns() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace httpd
