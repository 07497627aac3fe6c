#include "log.hpp"

#include <cstdio>

namespace app_log {

std::optional<level> parse_level(std::string_view name) noexcept {
    for (int i = 0; i < static_cast<int>(std::size(kLevelNames)); ++i) {
        if (name == kLevelNames[i]) return static_cast<level>(i);
    }
    return std::nullopt;
}

std::string format_line(level l, std::string_view message) {
    std::string line;
    line.reserve(detail::program.size() + message.size() + 16);
    line.append(detail::program).append(": ");
    if (l == level::error) {
        line.append("error: ");
    } else if (l == level::warn) {
        line.append("warning: ");
    }
    line.append(message).push_back('\n');
    return line;
}

void write(level l, std::string_view message) noexcept {
    try {
        const std::string line = format_line(l, message);
        std::fwrite(line.data(), 1, line.size(), stderr);
    } catch (...) {
        // Out of memory for a diagnostic: dropped rather than ending the server.
    }
}

}  // namespace app_log
