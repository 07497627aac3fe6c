#include "http_request.hpp"

#include <algorithm>

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
    if (head_end_ != 0) {  // the head is complete: waiting for the (small) body
        if (data.size() < consumed_) return state_;
        fill_views(data);
        return state_ = parse_state::done;
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
    req_.kind = method == "GET"    ? method_kind::get
                : method == "HEAD" ? method_kind::head
                                   : method_kind::other;
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
        if (req_.has_host) return fail(400);
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
        transfer_encoding_ = true;
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

parse_state request_parser::headers_done(std::string_view data) noexcept {
    if (transfer_encoding_) return fail(has_content_length_ ? 400 : 413);
    if (req_.version_minor >= 1 && !req_.has_host) return fail(400);
    if (req_.content_length > limits_.max_body) return fail(413);
    req_.keep_alive = req_.version_minor >= 1 ? !conn_close_ : conn_keep_alive_ && !conn_close_;
    consumed_ = head_end_ + static_cast<std::size_t>(req_.content_length);
    if (data.size() < consumed_) return state_;
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
