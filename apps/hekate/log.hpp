// hekate's verbosity (-d) on the apps' shared levels (common/log.hpp): 0 quiet (errors and
// warnings only), 1 statistics (info), 2 connections (debug), 3 protocol events and 4 every
// message (finer degrees of debug). Errors and warnings go through app_log::error and
// app_log::warn directly.
#pragma once

#include <utility>

#include "common/log.hpp"

namespace hekate {

enum class log_level : int { quiet = 0, info = 1, connections = 2, protocol = 3, messages = 4 };

// -d's level on the shared scale: quiet is warn, info is info, connections is debug...
constexpr app_log::level shared_level(log_level l) noexcept {
    return static_cast<app_log::level>(static_cast<int>(l) + 1);
}

inline bool log_enabled(log_level l) noexcept {
    return l != log_level::quiet && app_log::enabled(shared_level(l));
}

template <class... Args>
void log(log_level l, fmt::format_string<Args...> f, Args&&... args) {
    if (l != log_level::quiet) app_log::at(shared_level(l), f, std::forward<Args>(args)...);
}

}  // namespace hekate
