#include "endpoint.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace hekate {

std::uint16_t endpoint::port() const noexcept {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    if (family() == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    }
    return 0;
}

std::string endpoint::host() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf,
                  sizeof buf);
    } else if (family() == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
                  sizeof buf);
    }
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

endpoint endpoint::from(const sockaddr* sa, socklen_t len) noexcept {
    endpoint e;
    if (len > sizeof e.storage) len = sizeof e.storage;
    std::memcpy(&e.storage, sa, len);
    e.length = len;
    return e;
}

std::optional<endpoint> endpoint::from_host(std::string_view host, std::uint16_t port) {
    std::string h(host);
    endpoint e;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&e.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.storage);
    if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        e.length = sizeof(sockaddr_in);
        return e;
    }
    e.storage = {};
    if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        e.length = sizeof(sockaddr_in6);
        return e;
    }
    return std::nullopt;
}

std::optional<endpoint> endpoint::parse(std::string_view s) {
    std::string_view host;
    std::string_view port_text;
    if (!s.empty() && s.front() == '[') {
        std::size_t close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
            return std::nullopt;
        }
        host = s.substr(1, close - 1);
        port_text = s.substr(close + 2);
    } else {
        std::size_t colon = s.rfind(':');
        if (colon == std::string_view::npos || s.find(':') != colon) return std::nullopt;
        host = s.substr(0, colon);
        port_text = s.substr(colon + 1);
    }
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
        return std::nullopt;
    }
    return from_host(host, static_cast<std::uint16_t>(port));
}

endpoint endpoint::from_compact4(const unsigned char* six) noexcept {
    endpoint e;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&e.storage);
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_addr, six, 4);
    std::memcpy(&v4->sin_port, six + 4, 2);
    e.length = sizeof(sockaddr_in);
    return e;
}

endpoint endpoint::from_compact6(const unsigned char* eighteen) noexcept {
    endpoint e;
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.storage);
    v6->sin6_family = AF_INET6;
    std::memcpy(&v6->sin6_addr, eighteen, 16);
    std::memcpy(&v6->sin6_port, eighteen + 16, 2);
    e.length = sizeof(sockaddr_in6);
    return e;
}

void endpoint::append_compact(std::string& out) const {
    if (family() == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage);
        out.append(reinterpret_cast<const char*>(&v4->sin_addr), 4);
        out.append(reinterpret_cast<const char*>(&v4->sin_port), 2);
    } else if (family() == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage);
        out.append(reinterpret_cast<const char*>(&v6->sin6_addr), 16);
        out.append(reinterpret_cast<const char*>(&v6->sin6_port), 2);
    }
}

bool operator==(const endpoint& a, const endpoint& b) noexcept {
    if (a.family() != b.family() || a.port() != b.port()) return false;
    if (a.family() == AF_INET) {
        return std::memcmp(&reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr,
                           &reinterpret_cast<const sockaddr_in*>(&b.storage)->sin_addr, 4) == 0;
    }
    if (a.family() == AF_INET6) {
        return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr,
                           &reinterpret_cast<const sockaddr_in6*>(&b.storage)->sin6_addr, 16) == 0;
    }
    return false;
}

}  // namespace hekate
