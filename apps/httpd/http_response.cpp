#include "http_response.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace httpd {

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
        case 200:
            return "OK";
        case 206:
            return "Partial Content";
        case 301:
            return "Moved Permanently";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 416:
            return "Range Not Satisfiable";
        case 417:
            return "Expectation Failed";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Unknown";
    }
}

namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Tries one strptime format on the whole of s.
std::optional<std::time_t> parse_with(const char* s, const char* format) {
    std::tm tm{};
    const char* end = ::strptime(s, format, &tm);
    if (!end || *end != '\0') return std::nullopt;
    return ::timegm(&tm);
}

bool parse_u64(std::string_view s, std::uint64_t& out) noexcept {
    if (s.empty()) return false;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// The opaque part of an entity tag: "x" for "x" and W/"x".
std::string_view opaque_tag(std::string_view tag) noexcept {
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    return tag;
}

}  // namespace

std::string format_http_date(std::time_t t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                  tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

std::optional<std::time_t> parse_http_date(std::string_view s) {
    char buf[64];
    if (s.size() >= sizeof buf) return std::nullopt;
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = '\0';
    // strptime uses the C locale here: the program never calls setlocale.
    if (auto t = parse_with(buf, "%a, %d %b %Y %H:%M:%S GMT")) return t;  // IMF-fixdate
    if (auto t = parse_with(buf, "%A, %d-%b-%y %H:%M:%S GMT")) return t;  // RFC 850
    if (auto t = parse_with(buf, "%a %b %e %H:%M:%S %Y")) return t;       // asctime
    return std::nullopt;
}

std::string_view http_date_now() {
    thread_local std::time_t cached_at = -1;
    thread_local std::string cached;
    const std::time_t now = std::time(nullptr);
    if (now != cached_at) {
        cached = format_http_date(now);
        cached_at = now;
    }
    return cached;
}

std::string make_etag(std::uint64_t size, std::int64_t mtime_ns, std::uint64_t inode) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(inode),
                  static_cast<unsigned long long>(size), static_cast<unsigned long long>(mtime_ns));
    return buf;
}

range_result parse_range(std::string_view header, std::uint64_t size) noexcept {
    header = trim(header);
    const std::size_t eq = header.find('=');
    if (eq == std::string_view::npos || !iequals(trim(header.substr(0, eq)), "bytes")) return {};
    const std::string_view spec = trim(header.substr(eq + 1));
    if (spec.find(',') != std::string_view::npos) return {};  // several ranges: whole body
    const std::size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return {};
    const std::string_view a = trim(spec.substr(0, dash));
    const std::string_view b = trim(spec.substr(dash + 1));
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    if (a.empty()) {  // -n: the last n bytes
        if (!parse_u64(b, last)) return {};
        if (last == 0 || size == 0) return {range_kind::unsatisfiable};
        return {range_kind::single, size - std::min(last, size), size - 1};
    }
    if (!parse_u64(a, first)) return {};
    if (b.empty()) {  // a-
        last = UINT64_MAX;
    } else if (!parse_u64(b, last) || last < first) {
        return {};  // invalid: the Range is ignored
    }
    if (first >= size) return {range_kind::unsatisfiable};
    return {range_kind::single, first, std::min(last, size - 1)};
}

bool if_none_match_hits(std::string_view header, std::string_view etag) noexcept {
    header = trim(header);
    if (header == "*") return true;
    const std::string_view mine = opaque_tag(etag);
    while (!header.empty()) {
        const std::size_t comma = header.find(',');
        const std::string_view tag = trim(header.substr(0, comma));
        if (!tag.empty() && opaque_tag(tag) == mine) return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

bool not_modified(const request& req, std::string_view etag, std::time_t mtime) {
    if (req.kind != method_kind::get && req.kind != method_kind::head) return false;
    if (!req.if_none_match.empty()) return if_none_match_hits(req.if_none_match, etag);
    if (req.if_modified_since.empty()) return false;
    const std::optional<std::time_t> since = parse_http_date(trim(req.if_modified_since));
    return since && mtime <= *since;
}

bool if_range_holds(std::string_view header, std::string_view etag, std::time_t mtime) {
    header = trim(header);
    if (header.empty()) return true;
    if (header.starts_with("W/")) return false;  // weak tags never match strongly
    if (header.front() == '"') return header == etag;
    const std::optional<std::time_t> date = parse_http_date(header);
    return date && *date == mtime;
}

void append_status_line(std::string& out, int status) {
    char code[8];
    std::snprintf(code, sizeof code, "%d", status);
    out.append("HTTP/1.1 ").append(code).append(" ").append(reason_phrase(status)).append("\r\n");
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

void append_header(std::string& out, std::string_view name, std::uint64_t value) {
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    append_header(out, name, std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

std::string error_response(int status, bool head_only, std::string_view extra_headers) {
    std::string body;
    char title[64];
    std::snprintf(title, sizeof title, "%d %.*s", status,
                  static_cast<int>(reason_phrase(status).size()), reason_phrase(status).data());
    body.append("<!DOCTYPE html>\n<html><head><title>")
        .append(title)
        .append("</title></head><body><h1>")
        .append(title)
        .append("</h1></body></html>\n");
    std::string out;
    out.reserve(256 + body.size() + extra_headers.size());
    append_status_line(out, status);
    append_header(out, "Date", http_date_now());
    append_header(out, "Server", kServerName);
    append_header(out, "Content-Type", "text/html; charset=utf-8");
    append_header(out, "Content-Length", static_cast<std::uint64_t>(body.size()));
    append_header(out, "Connection", "close");
    out.append(extra_headers).append("\r\n");
    if (!head_only) out.append(body);
    return out;
}

std::string_view head_tail(bool keep_alive) {
    struct tails {
        std::string date;
        std::string of[2];  // [keep_alive]
    };
    thread_local tails t;
    const std::string_view date = http_date_now();
    if (date != t.date) {
        t.date = date;
        for (const bool keep : {false, true}) {
            std::string& s = t.of[keep];
            s.clear();
            append_header(s, "Date", date);
            append_header(s, "Connection", keep ? "keep-alive" : "close");
            s.append("\r\n");
        }
    }
    return t.of[keep_alive];
}

std::string build_head(int status, std::string_view mime, std::uint64_t length,
                       std::string_view content_range, std::string_view last_modified,
                       std::string_view etag, bool keep_alive, bool with_length) {
    std::string h;
    h.reserve(320);
    append_status_line(h, status);
    append_header(h, "Server", kServerName);
    if (!mime.empty()) append_header(h, "Content-Type", mime);
    if (with_length) append_header(h, "Content-Length", length);
    if (!content_range.empty()) append_header(h, "Content-Range", content_range);
    append_header(h, "Last-Modified", last_modified);
    append_header(h, "ETag", etag);
    append_header(h, "Accept-Ranges", "bytes");
    h.append(head_tail(keep_alive));
    return h;
}

std::string moved_permanently_head(std::string_view location, bool keep_alive) {
    std::string r;
    append_status_line(r, 301);
    append_header(r, "Server", kServerName);
    append_header(r, "Content-Length", std::uint64_t{0});
    append_header(r, "Location", location);
    r.append(head_tail(keep_alive));
    return r;
}

response_plan plan_response(const request& req, std::uint64_t size, std::string_view etag,
                            std::time_t mtime) {
    response_plan p;
    if (not_modified(req, etag, mtime)) {
        p.status = 304;
        return p;
    }
    p.length = size;
    if (req.range.empty() || !if_range_holds(req.if_range, etag, mtime)) return p;
    const range_result r = parse_range(req.range, size);
    char buf[80];
    if (r.kind == range_kind::unsatisfiable) {
        p.status = 416;
        p.length = 0;
        std::snprintf(buf, sizeof buf, "bytes */%llu", static_cast<unsigned long long>(size));
        p.content_range = buf;
    } else if (r.kind == range_kind::single) {
        p.status = 206;
        p.first = r.first;
        p.length = r.last - r.first + 1;
        std::snprintf(
            buf, sizeof buf, "bytes %llu-%llu/%llu", static_cast<unsigned long long>(r.first),
            static_cast<unsigned long long>(r.last), static_cast<unsigned long long>(size));
        p.content_range = buf;
    }
    return p;
}

}  // namespace httpd
