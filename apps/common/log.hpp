// The apps' diagnostics (httpd, hekate): leveled lines on stderr, in one format for both.
//
//   httpd: error: document root /srv/www: No such file or directory
//   hekate: warning: not serving a.torrent: data file missing
//   httpd: event loops on io_uring
//
// "<program>: ", then "error: " or "warning: " for those two levels, then the message. A
// message that reports a failure says what failed, then why, after ": ". Output proper
// (httpd's "listening on" line, an access log) is not diagnostics and does not come here.
//
// Guarantees: a line is formatted only when its level is enabled; each line goes out with
// one locked fwrite on stderr, so lines of different kernel threads never mix; errors are
// printed whatever the threshold. init() is called once at startup, before any other thread
// exists: the threshold and the name are then read without synchronisation.
#pragma once

#include <fmt/core.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace app_log {

// From the most to the least severe. Levels past debug (debug + 1, debug + 2...) are finer
// degrees of debug an app may define (hekate's -d 3 and -d 4); they print like debug.
enum class level : int { error = 0, warn = 1, info = 2, debug = 3 };

// The names --log-level takes, from the most severe: "error", "warn", "info", "debug".
inline constexpr std::string_view kLevelNames[] = {"error", "warn", "info", "debug"};
// A name of kLevelNames as its level; nothing for another word.
std::optional<level> parse_level(std::string_view name) noexcept;

namespace detail {
inline std::string_view program = "app";
inline level threshold = level::info;
}  // namespace detail

// The program's name for the prefix (a string that outlives the program, e.g. a literal),
// and the most detailed level printed.
inline void init(std::string_view program, level threshold) noexcept {
    detail::program = program;
    detail::threshold = threshold;
}
// Another threshold (after the command line is parsed; the same rule as init()).
inline void set_threshold(level threshold) noexcept {
    detail::threshold = threshold;
}
inline level threshold() noexcept {
    return detail::threshold;
}
inline bool enabled(level l) noexcept {
    return l == level::error || static_cast<int>(l) <= static_cast<int>(detail::threshold);
}

// The whole line for a message at level l, with its newline.
std::string format_line(level l, std::string_view message);
// Prints a formatted message at level l, whatever the threshold (callers check enabled()).
void write(level l, std::string_view message) noexcept;

template <class... Args>
void at(level l, fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(l)) write(l, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
    at(level::error, f, std::forward<Args>(args)...);
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
    at(level::warn, f, std::forward<Args>(args)...);
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
    at(level::info, f, std::forward<Args>(args)...);
}
template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
    at(level::debug, f, std::forward<Args>(args)...);
}

}  // namespace app_log
