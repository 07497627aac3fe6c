#include "listen.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sfs {

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "sfs: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

}  // namespace

int listen_on(const std::string& address, std::uint16_t port, bool reuseport) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1) {
        std::fprintf(stderr, "sfs: not an IPv4 address: %s\n", address.c_str());
        std::exit(1);
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) fail("SO_REUSEADDR");
    if (reuseport && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        fail("SO_REUSEPORT");
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) fail("bind");
    if (::listen(fd, 1024) != 0) fail("listen");
    std::printf("sfs: listening on %s:%u\n", address.c_str(), static_cast<unsigned>(port));
    std::fflush(stdout);
    return fd;
}

void no_delay(int fd) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace sfs
