#include "listen.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cpc/net.hpp>
#include <cstdio>
#include <cstdlib>

namespace sfs {

int listen_on(const std::string& address, std::uint16_t port, bool reuseport) {
    const std::optional<cpc::endpoint> at = cpc::endpoint::from_host(address, port);
    if (!at || at->family() != AF_INET) {
        std::fprintf(stderr, "sfs: not an IPv4 address: %s\n", address.c_str());
        std::exit(1);
    }
    cpc::listen_result l = cpc::listen_on(*at, 1024, {.reuse_port = reuseport});
    if (!l) {
        std::fprintf(stderr, "sfs: %s: %s\n", l.failed_call, l.error.message().c_str());
        std::exit(1);
    }
    std::printf("sfs: listening on %s:%u\n", address.c_str(), static_cast<unsigned>(port));
    std::fflush(stdout);
    return l.fd.release();
}

void no_delay(int fd) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace sfs
