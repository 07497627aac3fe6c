#include "compact_address.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace hekate {

cpc::endpoint from_compact4(const unsigned char* six) noexcept {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    std::memcpy(&v4.sin_addr, six, 4);
    std::memcpy(&v4.sin_port, six + 4, 2);
    return *cpc::endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
}

cpc::endpoint from_compact6(const unsigned char* eighteen) noexcept {
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    std::memcpy(&v6.sin6_addr, eighteen, 16);
    std::memcpy(&v6.sin6_port, eighteen + 16, 2);
    return *cpc::endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
}

void append_compact(std::string& out, const cpc::endpoint& e) {
    if (e.family() == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(e.address());
        out.append(reinterpret_cast<const char*>(&v4->sin_addr), 4);
        out.append(reinterpret_cast<const char*>(&v4->sin_port), 2);
    } else if (e.family() == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(e.address());
        out.append(reinterpret_cast<const char*>(&v6->sin6_addr), 16);
        out.append(reinterpret_cast<const char*>(&v6->sin6_port), 2);
    }
}

}  // namespace hekate
