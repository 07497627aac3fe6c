#include "access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace httpd {

std::string log_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\x%02x", c);
            out += esc;
        } else {
            out.push_back(ch);
        }
    }
    return out;
}

access_log::~access_log() {
    if (fd_ >= 0 && owned_) ::close(fd_);
}

std::string access_log::open(const std::string& destination) {
    if (destination == "-") {
        std::fflush(stdout);  // what was printed before comes first
        fd_ = STDOUT_FILENO;
        owned_ = false;
        return {};
    }
    fd_ = ::open(destination.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return destination + ": " + std::strerror(errno);
    owned_ = true;
    return {};
}

void access_log::record(std::string_view client, std::string_view request_line, int status,
                        std::uint64_t bytes) {
    if (fd_ < 0) return;
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char when[40];
    std::strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    line_.clear();
    line_.append(client).append(" - - [").append(when).append("] \"");
    line_.append(log_escape(request_line)).append("\" ");
    char tail[48];
    std::snprintf(tail, sizeof tail, "%d %llu\n", status, static_cast<unsigned long long>(bytes));
    line_.append(tail);
    // One write per line, appended: a line stays whole however long it is, even when several
    // loops (server_group) append to the same file, and a log being followed is current.
    // A log that cannot be written loses the line; serving goes on.
    while (::write(fd_, line_.data(), line_.size()) < 0 && errno == EINTR) {
    }
}

}  // namespace httpd
