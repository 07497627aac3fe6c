#include "cpc/net.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "cpc/io.hpp"

namespace cpc {

void unique_fd::reset(int fd) noexcept {
    if (fd_ >= 0 && fd_ != fd) cpc::close(fd_);
    fd_ = fd;
}

namespace {

void set_reason(std::string* why, std::string text) {
    if (why) *why = std::move(text);
}

std::string quoted(std::string_view s) {
    std::string out = "\"";
    out += s;
    out += '"';
    return out;
}

}  // namespace

std::optional<endpoint> endpoint::from_host(std::string_view host, std::uint16_t port,
                                            std::string* why) {
    // inet_pton wants a terminated string; an address is at most INET6_ADDRSTRLEN - 1 long.
    char text[INET6_ADDRSTRLEN];
    if (host.empty() || host.size() >= sizeof text) {
        set_reason(why, "not a numeric IPv4 or IPv6 address: " + quoted(host));
        return std::nullopt;
    }
    std::memcpy(text, host.data(), host.size());
    text[host.size()] = '\0';
    endpoint e;
    if (::inet_pton(AF_INET, text, &e.storage_.v4.sin_addr) == 1) {
        e.storage_.v4.sin_family = AF_INET;
        e.storage_.v4.sin_port = htons(port);
        return e;
    }
    e.storage_ = {};
    if (::inet_pton(AF_INET6, text, &e.storage_.v6.sin6_addr) == 1) {
        e.storage_.v6.sin6_family = AF_INET6;
        e.storage_.v6.sin6_port = htons(port);
        return e;
    }
    set_reason(why, "not a numeric IPv4 or IPv6 address: " + quoted(host));
    return std::nullopt;
}

std::optional<endpoint> endpoint::parse(std::string_view s, std::string* why) {
    std::string_view host;
    std::string_view port_text;
    bool bracketed = false;
    if (!s.empty() && s.front() == '[') {
        const std::size_t close = s.find(']');
        if (close == std::string_view::npos) {
            set_reason(why, "no ']' after the IPv6 address: " + quoted(s));
            return std::nullopt;
        }
        if (close + 1 >= s.size() || s[close + 1] != ':') {
            set_reason(why, "no ':PORT' after the address: " + quoted(s));
            return std::nullopt;
        }
        host = s.substr(1, close - 1);
        port_text = s.substr(close + 2);
        bracketed = true;
    } else {
        const std::size_t colon = s.rfind(':');
        if (colon == std::string_view::npos) {
            set_reason(why, "no ':PORT' after the address: " + quoted(s));
            return std::nullopt;
        }
        if (s.find(':') != colon) {
            set_reason(why, "an IPv6 address needs brackets, as in [::1]:80: " + quoted(s));
            return std::nullopt;
        }
        host = s.substr(0, colon);
        port_text = s.substr(colon + 1);
    }
    unsigned port = 0;
    const char* const end = port_text.data() + port_text.size();
    const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
    if (port_text.empty() || ec != std::errc{} || ptr != end || port > 65535) {
        set_reason(why, "not a port in 0..65535: " + quoted(port_text) + " in " + quoted(s));
        return std::nullopt;
    }
    std::optional<endpoint> e = from_host(host, static_cast<std::uint16_t>(port), why);
    if (!e) return std::nullopt;
    // "[1.2.3.4]:80" and "::1:80"-like forms are refused: brackets are for IPv6 alone.
    if (bracketed != (e->family() == AF_INET6)) {
        set_reason(why, "brackets are only for an IPv6 address: " + quoted(s));
        return std::nullopt;
    }
    return e;
}

endpoint endpoint::loopback_v4(std::uint16_t port) noexcept {
    endpoint e;
    e.storage_.v4.sin_family = AF_INET;
    e.storage_.v4.sin_port = htons(port);
    e.storage_.v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return e;
}

std::optional<endpoint> endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) noexcept {
    endpoint e;
    if (sa == nullptr || len < sizeof(sa_family_t)) return std::nullopt;
    if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
        std::memcpy(&e.storage_.v4, sa, sizeof(sockaddr_in));
        return e;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
        std::memcpy(&e.storage_.v6, sa, sizeof(sockaddr_in6));
        return e;
    }
    return std::nullopt;
}

socklen_t endpoint::length() const noexcept {
    if (family() == AF_INET) return sizeof(sockaddr_in);
    if (family() == AF_INET6) return sizeof(sockaddr_in6);
    return 0;
}

std::uint16_t endpoint::port() const noexcept {
    if (family() == AF_INET) return ntohs(storage_.v4.sin_port);
    if (family() == AF_INET6) return ntohs(storage_.v6.sin6_port);
    return 0;
}

void endpoint::set_port(std::uint16_t port) noexcept {
    if (family() == AF_INET) storage_.v4.sin_port = htons(port);
    if (family() == AF_INET6) storage_.v6.sin6_port = htons(port);
}

std::string endpoint::host() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET) ::inet_ntop(AF_INET, &storage_.v4.sin_addr, buf, sizeof buf);
    if (family() == AF_INET6) ::inet_ntop(AF_INET6, &storage_.v6.sin6_addr, buf, sizeof buf);
    return buf;
}

std::string endpoint::to_string() const {
    // Appended piece by piece: g++ 12 warns (-Wrestrict) on a chain of operator+ here.
    std::string out;
    if (family() == AF_INET6) out += '[';
    out += host();
    if (family() == AF_INET6) out += ']';
    out += ':';
    out += std::to_string(port());
    return out;
}

bool operator==(const endpoint& a, const endpoint& b) noexcept {
    if (a.family() != b.family() || a.port() != b.port()) return false;
    if (a.family() == AF_INET) {
        return a.storage_.v4.sin_addr.s_addr == b.storage_.v4.sin_addr.s_addr;
    }
    if (a.family() == AF_INET6) {
        return std::memcmp(&a.storage_.v6.sin6_addr, &b.storage_.v6.sin6_addr,
                           sizeof a.storage_.v6.sin6_addr) == 0;
    }
    return true;  // two endpoints without a family
}

std::optional<endpoint> local_endpoint(int fd) noexcept {
    sockaddr_in6 addr{};  // the larger of the two families
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return std::nullopt;
    return endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&addr), len);
}

namespace {

std::error_code last_error() noexcept {
    return {errno, std::generic_category()};
}

}  // namespace

listen_result listen_on(const endpoint& at, int backlog, listen_options options) {
    listen_result r;
    if (at.length() == 0) {
        r.error = std::make_error_code(std::errc::address_family_not_supported);
        r.failed_call = "socket";
        return r;
    }
    const int type = SOCK_STREAM | SOCK_CLOEXEC | (options.nonblocking ? SOCK_NONBLOCK : 0);
    unique_fd fd(::socket(at.family(), type, 0));
    const int one = 1;
    if (!fd) {
        r.failed_call = "socket";
    } else if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        r.failed_call = "SO_REUSEADDR";
    } else if (options.reuse_port &&
               ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        r.failed_call = "SO_REUSEPORT";
    } else if (options.ipv6_only && at.family() == AF_INET6 &&
               ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
        r.failed_call = "IPV6_V6ONLY";
    } else if (::bind(fd.get(), at.address(), at.length()) != 0) {
        r.failed_call = "bind";
    } else if (::listen(fd.get(), backlog) != 0) {
        r.failed_call = "listen";
    } else {
        r.fd = std::move(fd);
        return r;
    }
    r.error = last_error();
    return r;  // fd's destructor closes the socket (errno was read first)
}

task<connect_result> connect_to(endpoint to, condvar* interrupt, connect_options options) {
    connect_result r;
    if (to.length() == 0) {
        r.error = std::make_error_code(std::errc::address_family_not_supported);
        r.failed_call = "socket";
        co_return r;
    }
    unique_fd fd(::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        r.error = last_error();
        r.failed_call = "socket";
        co_return r;
    }
    if (options.receive_buffer > 0) {
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &options.receive_buffer,
                     sizeof options.receive_buffer);
    }
    if (options.source) {
        const int one = 1;
        if (options.source->port() == 0) {
            ::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        }
        if (::bind(fd.get(), options.source->address(), options.source->length()) != 0) {
            r.error = last_error();
            r.failed_call = "bind";
            co_return r;
        }
    }
    const std::error_code ec =
        co_await cpc::connect(fd.get(), to.address(), to.length(), interrupt);
    if (ec) {
        r.error = ec;
        r.failed_call = "connect";
        co_return r;
    }
    r.fd = std::move(fd);
    co_return r;
}

}  // namespace cpc
