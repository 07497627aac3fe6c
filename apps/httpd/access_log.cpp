#include "access_log.hpp"

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
    if (out_ && owned_) std::fclose(out_);
}

std::string access_log::open(const std::string& destination) {
    if (destination == "-") {
        out_ = stdout;
        owned_ = false;
        return {};
    }
    out_ = std::fopen(destination.c_str(), "ae");
    if (!out_) return destination + ": " + std::strerror(errno);
    owned_ = true;
    return {};
}

void access_log::record(std::string_view client, std::string_view request_line, int status,
                        std::uint64_t bytes) {
    if (!out_) return;
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
    // One fwrite and a flush per line: lines stay whole, and a log being followed is current.
    std::fwrite(line_.data(), 1, line_.size(), out_);
    std::fflush(out_);
}

}  // namespace httpd
