// Leveled logging to stderr (-d: 0 quiet, 1 errors and periodic statistics, 2 connections,
// 3 protocol events, 4 every message). The level is global and set once at startup; a line
// is formatted only when its level is enabled.
#pragma once

#include <fmt/core.h>

#include <cstdio>
#include <utility>

namespace hekate {

enum class log_level : int { quiet = 0, info = 1, connections = 2, protocol = 3, messages = 4 };

inline log_level g_log_level = log_level::info;

inline bool log_enabled(log_level l) noexcept {
    return l <= g_log_level && l != log_level::quiet;
}

template <class... Args>
void log(log_level l, fmt::format_string<Args...> f, Args&&... args) {
    if (!log_enabled(l)) return;
    fmt::print(stderr, "hekate: {}\n", fmt::format(f, std::forward<Args>(args)...));
}

// Errors the user must see whatever the level (a torrent skipped, a port in use).
template <class... Args>
void log_error(fmt::format_string<Args...> f, Args&&... args) {
    fmt::print(stderr, "hekate: {}\n", fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace hekate
