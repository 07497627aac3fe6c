#include "http.hpp"

#include <cctype>
#include <charconv>
#include <cpc/version.hpp>

namespace loadgen {

namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// "close", "keep-alive" or a list of tokens: is `token` among them?
bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        const std::size_t comma = value.find(',');
        if (iequals(trim(value.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

std::optional<url> parse_url(std::string_view s) {
    constexpr std::string_view scheme = "http://";
    if (s.substr(0, scheme.size()) != scheme) return std::nullopt;
    s.remove_prefix(scheme.size());
    url u;
    const std::size_t slash = s.find('/');
    std::string_view authority = s.substr(0, slash);
    if (slash != std::string_view::npos) u.path = std::string(s.substr(slash));
    const std::size_t colon = authority.find(':');
    std::string_view host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
        const std::string_view port = authority.substr(colon + 1);
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
            return std::nullopt;
        u.port = static_cast<std::uint16_t>(value);
    }
    u.host = std::string(host);
    const std::string_view numeric = host == "localhost" ? "127.0.0.1" : host;
    const std::optional<cpc::endpoint> address = cpc::endpoint::from_host(numeric, u.port);
    if (!address || address->family() != AF_INET) return std::nullopt;
    u.address = *address;
    return u;
}

std::string make_request(const url& u, bool keep_alive) {
    std::string r = "GET " + u.path + (keep_alive ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
    r += "Host: " + u.host + ":" + std::to_string(u.port) + "\r\n";
    r += "User-Agent: cpc-loadgen/" CPC_VERSION_STRING "\r\nAccept: */*\r\n";
    if (keep_alive) r += "Connection: keep-alive\r\n";
    r += "\r\n";
    return r;
}

head_state parse_head(std::string_view received, response_head& out) {
    const std::size_t end = received.find("\r\n\r\n");
    if (end == std::string_view::npos) return head_state::incomplete;
    out = response_head{};
    out.header_bytes = end + 4;
    std::string_view head = received.substr(0, end + 2);  // every line ends with \r\n

    // Status line: HTTP/1.x SSS reason
    std::size_t eol = head.find("\r\n");
    const std::string_view status_line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
        !std::isdigit(static_cast<unsigned char>(status_line[7])) || status_line[8] != ' ')
        return head_state::bad;
    out.minor_version = status_line[7] - '0';
    const auto [p, ec] =
        std::from_chars(status_line.data() + 9, status_line.data() + 12, out.status);
    if (ec != std::errc{} || p != status_line.data() + 12 || out.status < 100)
        return head_state::bad;

    bool close = false, keep = false;
    while (!head.empty()) {
        eol = head.find("\r\n");
        const std::string_view line = head.substr(0, eol);
        head.remove_prefix(eol + 2);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return head_state::bad;
        const std::string_view name = trim(line.substr(0, colon));
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "Content-Length")) {
            std::size_t n = 0;
            const auto [q, e] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (e != std::errc{} || q != value.data() + value.size()) return head_state::bad;
            if (out.content_length && *out.content_length != n) return head_state::bad;
            out.content_length = n;
        } else if (iequals(name, "Connection")) {
            close = close || has_token(value, "close");
            keep = keep || has_token(value, "keep-alive");
        }
    }
    // HTTP/1.1 is persistent unless told otherwise; HTTP/1.0 only when asked for. Without a
    // length the body ends when the connection does.
    out.keep_alive = (out.minor_version >= 1 ? !close : keep) && out.content_length.has_value();
    return head_state::done;
}

}  // namespace loadgen
