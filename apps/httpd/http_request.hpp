// An HTTP/1.x request parser: incremental, bounded, allocation-free.
//
// The connection reads into one buffer and calls parse() with everything received so far
// for the current request (the buffer only grows between calls). The parser resumes where
// it stopped, checks each line as soon as it is complete (so junk is refused at its first
// line, not after the header limit), and keeps offsets, never copies: when the request is
// complete, request() holds views into the bytes of that last call. After the request is
// answered, the connection drops consumed() bytes from the front of its buffer (what is
// left is the next, pipelined, request) and calls reset().
//
// Refusals carry the status to answer (apps/httpd/README.md lists the RFC 9110 and 9112 rule
// behind each): 400 (malformed request line or header line; bad or conflicting
// Content-Length; no Host in HTTP/1.1, several, or one that is not a host; a
// Transfer-Encoding in HTTP/1.0, beside a Content-Length, or whose last coding is not
// chunked; malformed chunked framing), 413 (a body beyond the limit), 414 (request target
// beyond the limit), 417 (an expectation other than 100-continue), 431 (header block beyond
// its byte or line limit), 501 (a transfer coding other than chunked), 505 (an HTTP version other
// than 1.x). A small body (Content-Length up to max_body, or a chunked body whose data is up to
// max_body and whose framing, trailer included, is up to kChunkedFramingBytes more) is part of the
// request: it is waited for and counted in consumed(), so that pipelining stays framed. Its content
// is not kept: GET and HEAD have no use for it. A verdict never depends on how the bytes were split
// into calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace httpd {

struct request_limits {
    std::size_t max_uri = 8 * 1024;            // bytes of the request target
    std::size_t max_header_bytes = 16 * 1024;  // request line and header lines together
    std::size_t max_header_lines = 100;        // header lines (the request line excluded)
    std::size_t max_body = 1024;               // a larger declared body: 413
};

// What a chunked body may spend on its framing (chunk sizes, extensions, line ends, trailer
// fields) beyond its max_body bytes of data; a body that needs more is refused with 413.
inline constexpr std::size_t kChunkedFramingBytes = 512;

// What the method asks of a static server. `other`: a method of the HTTP method registry
// (RFC 9110 9.3, and PATCH of RFC 5789) that it does not allow on its files (405 with Allow);
// `unrecognized`: any other token, case-sensitively (501, RFC 9110 9.1).
enum class method_kind { get, head, other, unrecognized };

struct request {
    std::string_view method;  // as sent (a token)
    method_kind kind = method_kind::unrecognized;
    std::string_view target;  // as sent: origin-form ("/path?query") or absolute-form
    int version_minor = 1;    // HTTP/1.<minor>
    bool keep_alive = true;   // after Connection and the version's default
    bool has_host = false;
    std::string_view host;
    std::string_view if_modified_since;
    std::string_view if_none_match;
    std::string_view if_range;
    std::string_view range;
    std::uint64_t content_length = 0;
};

enum class parse_state { incomplete, done, error };

class request_parser {
  public:
    explicit request_parser(request_limits limits = {}) noexcept : limits_(limits) {}

    // data: every byte received for this request so far (a prefix of the next call's data).
    parse_state parse(std::string_view data) noexcept;

    // After done: the request (views into the last data). After an error: whatever of the
    // request line was understood (method and version, if the request line was valid).
    const request& get() const noexcept { return req_; }
    // After an error: the status to answer with.
    int error_status() const noexcept { return error_; }
    // After done: the bytes of this request (head and body).
    std::size_t consumed() const noexcept { return consumed_; }
    // True once some byte of a request (not only blank lines) was seen.
    bool started() const noexcept { return started_; }
    // True while an HTTP/1.1 request whose head asked for `Expect: 100-continue` waits for
    // its body: its client may hold the body back until it hears "100 Continue", which the
    // server then sends, once, before reading on (RFC 9110 10.1.1). An HTTP/1.0 request's
    // expectation is ignored, as that section requires.
    bool awaits_continue() const noexcept {
        return continue_expected_ && state_ == parse_state::incomplete;
    }

    // Ready for the next request.
    void reset() noexcept { *this = request_parser(limits_); }

    const request_limits& limits() const noexcept { return limits_; }

  private:
    struct span {
        std::size_t pos = 0;
        std::size_t len = 0;
    };

    parse_state fail(int status) noexcept {
        error_ = status;
        state_ = parse_state::error;
        return state_;
    }
    parse_state request_line(std::string_view line, std::size_t line_pos) noexcept;
    parse_state header_line(std::string_view line, std::size_t line_pos) noexcept;
    parse_state headers_done(std::string_view data) noexcept;
    parse_state check_partial_line(std::string_view data) noexcept;
    parse_state judge_line_start(std::string_view part) noexcept;
    parse_state fail_long_line(std::string_view line) noexcept;
    parse_state transfer_encoding(std::string_view value) noexcept;
    parse_state chunked_body(std::string_view data) noexcept;
    parse_state finish(std::string_view data) noexcept;
    void fill_views(std::string_view data) noexcept;

    // Where a chunked body's parse stands: before a chunk-size line, inside a chunk's data,
    // before the line end that follows the data, or in the trailer section.
    enum class chunk_phase : unsigned char { size_line, data, data_end, trailer };

    request_limits limits_;
    parse_state state_ = parse_state::incomplete;
    int error_ = 0;
    bool started_ = false;
    bool in_headers_ = false;  // the request line has been parsed
    bool transfer_encoding_ = false;
    bool chunked_last_ = false;        // the last transfer coding so far is chunked
    unsigned char chunked_count_ = 0;  // times chunked is named (once at most is valid)
    bool unknown_coding_ = false;      // a transfer coding other than chunked
    bool chunked_body_ = false;        // the head is done and the body is chunked
    chunk_phase phase_ = chunk_phase::size_line;
    std::size_t body_pos_ = 0;      // chunked: where the next unparsed part of the body starts
    std::uint64_t chunk_left_ = 0;  // chunked, in data: bytes of the chunk not yet passed
    std::uint64_t body_data_ = 0;   // chunked: data bytes so far
    bool has_content_length_ = false;
    bool conn_close_ = false;
    bool conn_keep_alive_ = false;
    bool expect_continue_ = false;    // the head has Expect: 100-continue
    bool unmet_expectation_ = false;  // the head has an expectation other than 100-continue
    bool continue_expected_ = false;  // the head is done, and its 100-continue is honoured
    std::size_t next_line_ = 0;       // where the next unparsed line starts
    std::size_t scanned_ = 0;         // no '\n' before this offset after next_line_
    std::size_t request_start_ = 0;   // after leading blank lines
    std::size_t header_lines_ = 0;
    std::size_t head_end_ = 0;  // after the blank line ending the head
    std::size_t consumed_ = 0;
    span method_, target_, host_, ims_, inm_, if_range_, range_;
    request req_;
};

// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace httpd
