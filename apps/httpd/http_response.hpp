// What responses are made of: status lines and reasons, header lines, HTTP dates
// (IMF-fixdate), entity tags, byte ranges and the conditional-request rules (RFC 9110), the
// heads the server sends and the plan of a file's response (which status, which bytes).
// Pure functions, so that the unit tests cover them without a socket.
#pragma once

#include <sys/types.h>

#include <cpc/version.hpp>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "http_request.hpp"

namespace httpd {

inline constexpr std::string_view kServerName = "cpc-httpd/" CPC_VERSION_STRING;

std::string_view reason_phrase(int status) noexcept;

// "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_http_date(std::time_t t);
// IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept.
std::optional<std::time_t> parse_http_date(std::string_view s);
// The Date header's value for now, formatted at most once a second (per kernel thread).
std::string_view http_date_now();

// A strong entity tag from what identifies a version of a file: its size and its
// modification time to the nanosecond (and inode, so that a replaced file differs).
std::string make_etag(std::uint64_t size, std::int64_t mtime_ns, std::uint64_t inode);

// ---- ranges ---------------------------------------------------------------------------

enum class range_kind {
    none,           // no usable Range: answer 200 with the whole body (also for several ranges)
    single,         // 206 with first..last (inclusive)
    unsatisfiable,  // 416 with Content-Range: bytes */size
};
struct range_result {
    range_kind kind = range_kind::none;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
};
// Range: bytes=a-b, a-, -n (one range). Malformed values and other units are ignored.
range_result parse_range(std::string_view header, std::uint64_t size) noexcept;

// ---- conditionals ---------------------------------------------------------------------

// If-None-Match: "*" or a list of entity tags, compared weakly.
bool if_none_match_hits(std::string_view header, std::string_view etag) noexcept;
// True when a GET or HEAD should be answered 304: If-None-Match when present, otherwise
// If-Modified-Since (a date that does not parse is ignored).
bool not_modified(const request& req, std::string_view etag, std::time_t mtime);
// If-Range: the Range applies only if the validator still matches (strong comparison).
bool if_range_holds(std::string_view header, std::string_view etag, std::time_t mtime);

// ---- heads ----------------------------------------------------------------------------

// "HTTP/1.1 404 Not Found\r\n".
void append_status_line(std::string& out, int status);
void append_header(std::string& out, std::string_view name, std::string_view value);
void append_header(std::string& out, std::string_view name, std::uint64_t value);

// A complete error response (head and small HTML body; no body for HEAD), with
// Connection: close. extra_headers are whole lines ending in "\r\n".
std::string error_response(int status, bool head_only, std::string_view extra_headers = {});

// "Date: ...\r\nConnection: ...\r\n\r\n": the part of every head written per response.
// Both forms are built again only when the Date changes (once a second, per kernel thread),
// not per response; the view stays valid until then.
std::string_view head_tail(bool keep_alive);

// The head of a 304, 206 or 416 (the 200 of a cached file is prebuilt: make_cached_file).
std::string build_head(int status, std::string_view mime, std::uint64_t length,
                       std::string_view content_range, std::string_view last_modified,
                       std::string_view etag, bool keep_alive, bool with_length = true);

// The head of a 301 to `location` (a directory asked for without its trailing slash).
std::string moved_permanently_head(std::string_view location, bool keep_alive);

// ---- planning -------------------------------------------------------------------------

// What a file's response is: its status and which of its bytes go out.
struct response_plan {
    int status = 200;
    std::uint64_t first = 0;
    std::uint64_t length = 0;  // body bytes
    std::string content_range;
};

// What to answer for a file of `size` bytes: 304, 416, 206 or 200.
response_plan plan_response(const request& req, std::uint64_t size, std::string_view etag,
                            std::time_t mtime);

}  // namespace httpd
