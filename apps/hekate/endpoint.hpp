// endpoint: an IPv4 or IPv6 address and port, as peers, trackers and --peer/--bind give them.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hekate {

struct endpoint {
    // Big enough for IPv6, not sockaddr_storage's 128 bytes: several copies live in every
    // connected peer's frames, and a peer must cost little.
    union address_storage {
        sockaddr any;
        sockaddr_in v4;
        sockaddr_in6 v6;
    };
    address_storage storage{};
    socklen_t length = 0;

    int family() const noexcept { return storage.any.sa_family; }
    const sockaddr* address() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
    std::uint16_t port() const noexcept;
    // "1.2.3.4:6881" or "[::1]:6881".
    std::string to_string() const;
    // The address without the port, as text.
    std::string host() const;

    static endpoint from(const sockaddr* sa, socklen_t len) noexcept;
    // Numeric forms only: "1.2.3.4:6881", "[::1]:6881". No name resolution.
    static std::optional<endpoint> parse(std::string_view host_port);
    // A numeric host with a port: "1.2.3.4" or "::1" (no brackets).
    static std::optional<endpoint> from_host(std::string_view host, std::uint16_t port);
    // BEP 23 compact forms: 6 bytes (IPv4 + port) or 18 bytes (IPv6 + port), network order.
    static endpoint from_compact4(const unsigned char* six) noexcept;
    static endpoint from_compact6(const unsigned char* eighteen) noexcept;
    // Appends the compact form (6 or 18 bytes).
    void append_compact(std::string& out) const;

    friend bool operator==(const endpoint& a, const endpoint& b) noexcept;
};

}  // namespace hekate
