#include "http_request.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace httpd {

namespace {

// RFC 9110 tchar: the characters of a token (method, header name).
bool is_tchar(unsigned char c) noexcept {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~':
            return true;
        default:
            return false;
    }
}

bool all_tchars(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return is_tchar(static_cast<unsigned char>(c));
    });
}

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

constexpr std::size_t kMaxBlankLines = 8;  // blank lines tolerated before a request line

bool is_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_hex(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hex_value(char c) noexcept {
    if (is_digit(c)) return c - '0';
    return (c >= 'a' ? c - 'a' : c - 'A') + 10;
}

// RFC 3986 unreserved and sub-delims: what a reg-name is made of, with pct-encoded.
bool is_unreserved_or_sub_delim(char c) noexcept {
    if (is_alpha(c) || is_digit(c)) return true;
    return std::strchr("-._~!$&'()*+,;=", c) != nullptr && c != '\0';
}

// RFC 9110 7.2: Host = uri-host [ ":" port ], uri-host from RFC 3986: an IP-literal in
// brackets (an IPv6 address or IPvFuture), or a reg-name (an IPv4 address is one). An empty
// host is valid: a client sends one for a target URI without authority.
bool is_valid_host(std::string_view v) noexcept {
    std::string_view port;
    if (!v.empty() && v.front() == '[') {
        const std::size_t close = v.find(']');
        if (close == std::string_view::npos) return false;
        const std::string_view literal = v.substr(1, close - 1);
        const std::string_view rest = v.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port = rest.substr(1);
        }
        if (!literal.empty() && (literal.front() == 'v' || literal.front() == 'V')) {
            // IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
            const std::size_t dot = literal.find('.');
            if (dot == std::string_view::npos || dot < 2 || dot + 1 == literal.size()) return false;
            const std::string_view version = literal.substr(1, dot - 1);
            const std::string_view rest_of = literal.substr(dot + 1);
            if (!std::all_of(version.begin(), version.end(), is_hex)) return false;
            if (!std::all_of(rest_of.begin(), rest_of.end(),
                             [](char c) { return c == ':' || is_unreserved_or_sub_delim(c); })) {
                return false;
            }
        } else {
            char text[INET6_ADDRSTRLEN + 1];
            if (literal.size() >= sizeof text) return false;
            std::memcpy(text, literal.data(), literal.size());
            text[literal.size()] = '\0';
            in6_addr addr;
            if (::inet_pton(AF_INET6, text, &addr) != 1) return false;
        }
    } else {
        const std::size_t colon = v.find(':');
        const std::string_view name = v.substr(0, colon);
        if (colon != std::string_view::npos) port = v.substr(colon + 1);
        for (std::size_t i = 0; i < name.size(); ++i) {
            if (name[i] == '%') {
                if (i + 2 >= name.size() || !is_hex(name[i + 1]) || !is_hex(name[i + 2])) {
                    return false;
                }
                i += 2;
            } else if (!is_unreserved_or_sub_delim(name[i])) {
                return false;
            }
        }
    }
    return std::all_of(port.begin(), port.end(), is_digit);
}

// What a line of a chunked body's framing looks like so far. A line is judged on what has
// arrived of it, so that the verdict on a line does not depend on where the reads split it:
// `bad` as soon as a byte cannot continue it, `complete` only for a whole line.
enum class line_verdict { bad, so_far_good, complete };

// RFC 9112 7.1: chunk-size [ chunk-ext ], chunk-size = 1*HEXDIG, chunk-ext =
// *( BWS ";" BWS ext-name [ BWS "=" BWS ext-value ] ), ext-value = token / quoted-string.
// Extensions are checked and ignored. *size saturates beyond 64 bits (more than any limit).
line_verdict chunk_size_line(std::string_view line, bool whole, std::uint64_t* size) noexcept {
    enum {
        hex,
        after_hex,
        before_name,
        name,
        after_name,
        before_value,
        token,
        quoted,
        escape,
        after_value
    } at = hex;
    std::uint64_t n = 0;
    std::size_t significant = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c == '\r' && i + 1 == line.size() && !whole) break;  // perhaps the line's end
        const bool ws = c == ' ' || c == '\t';
        const bool tchar = is_tchar(static_cast<unsigned char>(c));
        switch (at) {
            case hex:
            case after_hex:
                if (is_hex(c) && at == hex) {
                    if (n != 0 || c != '0') ++significant;
                    n = significant > 16 ? UINT64_MAX
                                         : n * 16 + static_cast<unsigned>(hex_value(c));
                    break;
                }
                if (at == hex && i == 0) return line_verdict::bad;
                if (ws) {
                    at = after_hex;
                } else if (c == ';') {
                    at = before_name;
                } else {
                    return line_verdict::bad;
                }
                break;
            case before_name:
                if (ws) break;
                if (!tchar) return line_verdict::bad;
                at = name;
                break;
            case name:
            case after_name:
                if (tchar && at == name) break;
                if (ws) {
                    at = after_name;
                } else if (c == '=') {
                    at = before_value;
                } else if (c == ';') {
                    at = before_name;
                } else {
                    return line_verdict::bad;
                }
                break;
            case before_value:
                if (ws) break;
                if (c == '"') {
                    at = quoted;
                } else if (tchar) {
                    at = token;
                } else {
                    return line_verdict::bad;
                }
                break;
            case token:
            case after_value:
                if (tchar && at == token) break;
                if (ws) {
                    at = after_value;
                } else if (c == ';') {
                    at = before_name;
                } else {
                    return line_verdict::bad;
                }
                break;
            case quoted: {
                const auto u = static_cast<unsigned char>(c);
                if (c == '"') {
                    at = after_value;
                } else if (c == '\\') {
                    at = escape;
                } else if ((u < 0x20 && c != '\t') || u == 0x7f) {
                    return line_verdict::bad;
                }
                break;
            }
            case escape: {
                const auto u = static_cast<unsigned char>(c);
                if ((u < 0x20 && c != '\t') || u == 0x7f) return line_verdict::bad;
                at = quoted;
                break;
            }
        }
    }
    if (!whole) return line_verdict::so_far_good;
    const bool ends_well = (at == hex && !line.empty()) || at == after_hex || at == name ||
                           at == after_name || at == token || at == after_value;
    if (!ends_well) return line_verdict::bad;
    *size = n;
    return line_verdict::complete;
}

// RFC 9112 7.1.2: a trailer field line has the syntax of a header field line (its content is
// ignored). Judged on what has arrived of it, as chunk_size_line().
line_verdict trailer_line(std::string_view line, bool whole) noexcept {
    bool in_value = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c == '\r' && i + 1 == line.size() && !whole) break;  // perhaps the line's end
        const auto u = static_cast<unsigned char>(c);
        if (in_value) {
            if ((u < 0x20 && c != '\t') || u == 0x7f) return line_verdict::bad;
        } else if (c == ':' && i > 0) {
            in_value = true;
        } else if (!is_tchar(u)) {
            return line_verdict::bad;
        }
    }
    if (!whole) return line_verdict::so_far_good;
    return in_value ? line_verdict::complete : line_verdict::bad;
}

method_kind kind_of_method(std::string_view m) noexcept {
    if (m == "GET") return method_kind::get;
    if (m == "HEAD") return method_kind::head;
    static constexpr std::string_view kRegistered[] = {"POST",    "PUT",   "DELETE", "CONNECT",
                                                       "OPTIONS", "TRACE", "PATCH"};
    return std::find(std::begin(kRegistered), std::end(kRegistered), m) != std::end(kRegistered)
               ? method_kind::other
               : method_kind::unrecognized;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i];
        char y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

parse_state request_parser::parse(std::string_view data) noexcept {
    if (state_ != parse_state::incomplete) return state_;
    if (chunked_body_) return chunked_body(data);
    if (head_end_ != 0) {  // the head is complete: waiting for the (small) body
        if (data.size() < consumed_) return state_;
        return finish(data);
    }
    for (;;) {
        const std::size_t nl = data.find('\n', std::max(next_line_, scanned_));
        if (nl == std::string_view::npos) {
            scanned_ = data.size();
            return check_partial_line(data);
        }
        const std::size_t line_pos = next_line_;
        std::string_view line = data.substr(line_pos, nl - line_pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        next_line_ = nl + 1;
        scanned_ = next_line_;

        if (!in_headers_) {
            if (line.empty()) {  // blank lines before a request are ignored (RFC 9112 2.2)
                if (next_line_ > kMaxBlankLines * 2) return fail(400);
                request_start_ = next_line_;
                continue;
            }
            started_ = true;
            if (next_line_ - request_start_ > limits_.max_header_bytes) return fail_long_line(line);
            if (request_line(line, line_pos) == parse_state::error) return state_;
            in_headers_ = true;
            continue;
        }
        if (next_line_ - request_start_ > limits_.max_header_bytes) return fail(431);
        if (line.empty()) {
            head_end_ = next_line_;
            return headers_done(data);
        }
        if (header_line(line, line_pos) == parse_state::error) return state_;
    }
}

// Refuses a line before it is complete when it can already be judged: junk instead of a
// method, a target beyond the limit, a head beyond its byte limit.
parse_state request_parser::check_partial_line(std::string_view data) noexcept {
    std::string_view part = data.substr(next_line_);
    if (!in_headers_) {
        if (part.empty() || part == "\r") return state_;
        started_ = true;
        if (data.size() - request_start_ > limits_.max_header_bytes) return fail_long_line(part);
        if (part.back() == '\r') part.remove_suffix(1);  // perhaps the end of the line
        judge_line_start(part);
        return state_;
    }
    if (data.size() - request_start_ > limits_.max_header_bytes) return fail(431);
    return state_;
}

// What can be said of a request line from its start alone. The same verdicts on the same
// bytes whether or not the rest of the line has arrived, so that a status never depends on
// how the request was split into reads.
parse_state request_parser::judge_line_start(std::string_view part) noexcept {
    const std::size_t sp = part.find(' ');
    const std::string_view method = part.substr(0, sp);
    for (char c : method) {
        if (!is_tchar(static_cast<unsigned char>(c))) return fail(400);
    }
    if (sp == std::string_view::npos) return state_;
    if (method.empty()) return fail(400);
    const std::string_view rest = part.substr(sp + 1);
    if (rest.substr(0, rest.find(' ')).size() > limits_.max_uri) return fail(414);
    return state_;
}

// A request line beyond the head's byte limit, judged on its first max_header_bytes bytes
// alone (what a partial line shows of it in every split): judge_line_start()'s verdict, else
// no method seen yet is a malformed line, else the head is too large.
parse_state request_parser::fail_long_line(std::string_view line) noexcept {
    line = line.substr(0, limits_.max_header_bytes);
    if (judge_line_start(line) == parse_state::error) return state_;
    return fail(line.find(' ') == std::string_view::npos ? 400 : 431);
}

parse_state request_parser::request_line(std::string_view line, std::size_t line_pos) noexcept {
    const std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return fail(400);
    const std::string_view method = line.substr(0, sp1);
    if (!all_tchars(method)) return fail(400);
    const std::string_view rest = line.substr(sp1 + 1);
    const std::size_t sp2 = rest.find(' ');
    const std::string_view target = rest.substr(0, sp2);
    if (target.size() > limits_.max_uri) return fail(414);  // as judge_line_start() does
    if (sp2 == std::string_view::npos) return fail(400);    // HTTP/0.9 is not spoken here
    if (target.empty()) return fail(400);
    for (char ch : target) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c >= 0x7f) return fail(400);
    }
    const std::string_view version = rest.substr(sp2 + 1);
    if (!version.starts_with("HTTP/")) return fail(400);
    const std::string_view v = version.substr(5);
    // HTTP/<digits>[.<digits>]: a version, maybe not ours (505); anything else is garbage.
    const std::size_t dot = v.find('.');
    const std::string_view major = v.substr(0, dot);
    const std::string_view minor = dot == std::string_view::npos ? "" : v.substr(dot + 1);
    const auto digits = [](std::string_view s) {
        return !s.empty() && s.size() <= 3 && std::all_of(s.begin(), s.end(), is_digit);
    };
    if (!digits(major) || (dot != std::string_view::npos && !digits(minor))) return fail(400);

    method_ = {line_pos, method.size()};
    target_ = {line_pos + sp1 + 1, target.size()};
    req_.method = method;
    req_.target = target;
    req_.kind = kind_of_method(method);
    if (major != "1" || minor.size() != 1) return fail(505);
    req_.version_minor = minor[0] - '0';
    return state_;
}

parse_state request_parser::header_line(std::string_view line, std::size_t line_pos) noexcept {
    if (++header_lines_ > limits_.max_header_lines) return fail(431);
    if (line.front() == ' ' || line.front() == '\t') return fail(400);  // obsolete line folding
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400);
    const std::string_view name = line.substr(0, colon);
    if (!all_tchars(name)) return fail(400);  // also: whitespace before the colon
    const std::string_view value = trim_ows(line.substr(colon + 1));
    for (char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) return fail(400);
    }
    const span where{line_pos + static_cast<std::size_t>(value.data() - line.data()), value.size()};

    if (iequals(name, "host")) {
        if (req_.has_host || !is_valid_host(value)) return fail(400);
        req_.has_host = true;
        host_ = where;
    } else if (iequals(name, "content-length")) {
        if (value.empty() || !std::all_of(value.begin(), value.end(), is_digit)) {
            return fail(400);
        }
        std::uint64_t n = 0;
        if (value.size() > 18) {
            n = UINT64_MAX;  // more than any limit: 413 below
        } else {
            for (char c : value)
                n = n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (has_content_length_ && n != req_.content_length) return fail(400);
        has_content_length_ = true;
        req_.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
        return transfer_encoding(value);
    } else if (iequals(name, "connection")) {
        std::string_view rest = value;
        while (!rest.empty()) {
            const std::size_t comma = rest.find(',');
            const std::string_view token = trim_ows(rest.substr(0, comma));
            if (iequals(token, "close")) conn_close_ = true;
            if (iequals(token, "keep-alive")) conn_keep_alive_ = true;
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    } else if (iequals(name, "expect")) {
        // Expect = #expectation; only 100-continue (no parameters) is defined.
        std::string_view rest = value;
        while (!rest.empty()) {
            const std::size_t comma = rest.find(',');
            const std::string_view token = trim_ows(rest.substr(0, comma));
            if (iequals(token, "100-continue")) {
                expect_continue_ = true;
            } else if (!token.empty()) {
                unmet_expectation_ = true;
            }
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    } else if (iequals(name, "if-modified-since")) {
        ims_ = where;
    } else if (iequals(name, "if-none-match")) {
        inm_ = where;
    } else if (iequals(name, "if-range")) {
        if_range_ = where;
    } else if (iequals(name, "range")) {
        range_ = where;
    }
    return state_;
}

// RFC 9112 6.1: Transfer-Encoding = #transfer-coding, transfer-coding = token *( OWS ";" OWS
// transfer-parameter ); the codings of several field lines add up, in order.
parse_state request_parser::transfer_encoding(std::string_view value) noexcept {
    transfer_encoding_ = true;
    while (!value.empty()) {
        const std::size_t comma = value.find(',');
        const std::string_view element = trim_ows(value.substr(0, comma));
        value.remove_prefix(comma == std::string_view::npos ? value.size() : comma + 1);
        if (element.empty()) continue;  // empty list elements are allowed (RFC 9110 5.6.1)
        const std::size_t semicolon = element.find(';');
        const std::string_view coding = trim_ows(element.substr(0, semicolon));
        if (!all_tchars(coding)) return fail(400);
        if (iequals(coding, "chunked")) {
            if (semicolon != std::string_view::npos) return fail(400);  // chunked has none
            if (chunked_count_ < 2) ++chunked_count_;
            chunked_last_ = true;
        } else {
            unknown_coding_ = true;
            chunked_last_ = false;
        }
    }
    return state_;
}

parse_state request_parser::headers_done(std::string_view data) noexcept {
    if (req_.version_minor >= 1 && !req_.has_host) return fail(400);
    req_.keep_alive = req_.version_minor >= 1 ? !conn_close_ : conn_keep_alive_ && !conn_close_;
    if (req_.version_minor >= 1) {  // RFC 9110 10.1.1: HTTP/1.0's expectations are ignored
        // An expectation the server cannot meet MAY get 417: better than a client that waits
        // for something that never comes.
        if (unmet_expectation_) return fail(417);
        continue_expected_ = expect_continue_;
    }
    if (transfer_encoding_) {
        // RFC 9112 6.1: a Transfer-Encoding in HTTP/1.0 is faulty framing. 6.3: beside a
        // Content-Length it may be smuggling, and without chunked last the body has no
        // length: 400 and close (as every refusal here does). Chunked applied twice is
        // forbidden (7.1). 6.1: a coding the server does not implement gets 501.
        if (req_.version_minor == 0 || has_content_length_) return fail(400);
        if (chunked_count_ != 1 || !chunked_last_) return fail(400);
        if (unknown_coding_) return fail(501);
        chunked_body_ = true;
        body_pos_ = head_end_;
        return chunked_body(data);
    }
    if (req_.content_length > limits_.max_body) return fail(413);
    consumed_ = head_end_ + static_cast<std::size_t>(req_.content_length);
    if (data.size() < consumed_) return state_;
    return finish(data);
}

// RFC 9112 7.1. The body is read as far as its framing goes and no further: its data is
// passed over, its lines are checked as they arrive. Bytes beyond the body's limit are never
// looked at: needing one is 413, and a line is judged on what arrived of it below the limit,
// so that the verdict does not depend on how the reads split the body.
parse_state request_parser::chunked_body(std::string_view data) noexcept {
    const std::size_t limit_end = head_end_ + limits_.max_body + kChunkedFramingBytes;
    const std::string_view have = data.substr(0, std::min(data.size(), limit_end));
    const auto need_more = [&] { return data.size() > limit_end ? fail(413) : state_; };
    for (;;) {
        switch (phase_) {
            case chunk_phase::size_line:
            case chunk_phase::trailer: {
                const std::size_t nl = have.find('\n', body_pos_);
                const bool whole = nl != std::string_view::npos;
                std::string_view line =
                    have.substr(body_pos_, whole ? nl - body_pos_ : have.size());
                if (whole && !line.empty() && line.back() == '\r') line.remove_suffix(1);
                if (phase_ == chunk_phase::trailer) {
                    if (whole && line.empty()) {  // the end of the trailer and of the body
                        consumed_ = nl + 1;
                        return finish(data);
                    }
                    if (trailer_line(line, whole) == line_verdict::bad) return fail(400);
                    if (!whole) return need_more();
                    body_pos_ = nl + 1;
                    break;
                }
                std::uint64_t size = 0;
                if (chunk_size_line(line, whole, &size) == line_verdict::bad) return fail(400);
                if (!whole) return need_more();
                body_pos_ = nl + 1;
                if (size == 0) {
                    phase_ = chunk_phase::trailer;
                } else {
                    if (size > limits_.max_body - body_data_) return fail(413);
                    body_data_ += size;
                    chunk_left_ = size;
                    phase_ = chunk_phase::data;
                }
                break;
            }
            case chunk_phase::data: {
                const std::size_t here = have.size() - body_pos_;
                if (here < chunk_left_) {
                    body_pos_ += here;
                    chunk_left_ -= here;
                    return need_more();
                }
                body_pos_ += static_cast<std::size_t>(chunk_left_);
                chunk_left_ = 0;
                phase_ = chunk_phase::data_end;
                break;
            }
            case chunk_phase::data_end: {  // CRLF (or a bare LF, as for every line here)
                if (body_pos_ >= have.size()) return need_more();
                if (have[body_pos_] == '\r') {
                    if (body_pos_ + 1 >= have.size()) return need_more();
                    if (have[body_pos_ + 1] != '\n') return fail(400);
                    ++body_pos_;
                } else if (have[body_pos_] != '\n') {
                    return fail(400);
                }
                ++body_pos_;
                phase_ = chunk_phase::size_line;
                break;
            }
        }
    }
}

parse_state request_parser::finish(std::string_view data) noexcept {
    fill_views(data);
    return state_ = parse_state::done;
}

void request_parser::fill_views(std::string_view data) noexcept {
    const auto view = [&](span s) { return data.substr(s.pos, s.len); };
    req_.method = view(method_);
    req_.target = view(target_);
    req_.host = view(host_);
    req_.if_modified_since = view(ims_);
    req_.if_none_match = view(inm_);
    req_.if_range = view(if_range_);
    req_.range = view(range_);
}

}  // namespace httpd
