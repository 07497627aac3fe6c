// The listening socket: its address (IPv4 or IPv6), its options and its backlog.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "server.hpp"

namespace httpd {

std::string open_listener(const server_config& cfg, int* fd_out, std::uint16_t* port) {
    // An IPv4 or IPv6 address; the socket is non-blocking, so that cpc::accept waits for
    // readiness instead of blocking the loop.
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    int family = AF_INET;
    {
        auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
        auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
        if (::inet_pton(AF_INET, cfg.bind_address.c_str(), &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons(cfg.port);
            addr_len = sizeof *a4;
        } else if (::inet_pton(AF_INET6, cfg.bind_address.c_str(), &a6->sin6_addr) == 1) {
            family = AF_INET6;
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons(cfg.port);
            addr_len = sizeof *a6;
        } else {
            return "bad bind address: " + cfg.bind_address;
        }
    }
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (cfg.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        const int err = errno;
        ::close(fd);
        return std::string("SO_REUSEPORT: ") + std::strerror(err);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 ||
        ::listen(fd, cfg.backlog) != 0) {
        const int err = errno;
        ::close(fd);
        return cfg.bind_address + ":" + std::to_string(cfg.port) + ": " + std::strerror(err);
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    *port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    *fd_out = fd;
    return {};
}

}  // namespace httpd
