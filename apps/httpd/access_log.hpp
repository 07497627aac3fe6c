// The access log: one line per response in the Common Log Format,
//   127.0.0.1 - - [24/Nov/2026:12:00:00 +0000] "GET /index.html HTTP/1.1" 200 1234
// written to a file (appended) or to stdout ("-"). Off unless a destination is given. Each
// line is one write(2): several access_log objects (one per loop) may append to one file.
// Bytes of the request line that are not printable ASCII are written as \xHH, so that a
// hostile request cannot forge log lines.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace httpd {

class access_log {
  public:
    access_log() = default;
    access_log(const access_log&) = delete;
    access_log& operator=(const access_log&) = delete;
    ~access_log();

    // "-" is stdout. Returns an error message, empty on success.
    std::string open(const std::string& destination);
    bool enabled() const noexcept { return fd_ >= 0; }

    void record(std::string_view client, std::string_view request_line, int status,
                std::uint64_t bytes);

  private:
    int fd_ = -1;
    bool owned_ = false;
    std::string line_;
};

// Escapes what is not printable ASCII (and '"' and '\\') as \xHH.
std::string log_escape(std::string_view s);

}  // namespace httpd
