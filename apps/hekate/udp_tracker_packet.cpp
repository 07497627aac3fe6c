#include "udp_tracker_packet.hpp"

#include <sys/socket.h>

#include "compact_address.hpp"

namespace hekate::udp_packet {

std::uint64_t get(std::string_view in, std::size_t at, int bytes) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
        v = v << 8 | static_cast<unsigned char>(in[at + i]);
    return v;
}

verdict classify(std::string_view d, std::uint32_t tid, std::uint32_t action,
                 std::size_t min_size) noexcept {
    if (d.size() < 8 || get(d, 4, 4) != tid) return verdict::ignore;
    const std::uint64_t act = get(d, 0, 4);
    if (act == error) return verdict::refused;
    if (act != action || d.size() < min_size) return verdict::ignore;
    return verdict::answer;
}

std::uint64_t connection_id(std::string_view connect_reply) noexcept {
    return get(connect_reply, 8, 8);
}

tracker_reply parse_announce_reply(std::string_view d, int family) {
    tracker_reply reply;
    reply.interval = static_cast<std::int64_t>(get(d, 8, 4));
    reply.incomplete = static_cast<std::int64_t>(get(d, 12, 4));
    reply.complete = static_cast<std::int64_t>(get(d, 16, 4));
    const bool v4 = family == AF_INET;
    const std::size_t size = v4 ? 6 : 18;
    for (std::size_t at = announce_reply_header_size; at + size <= d.size(); at += size) {
        const auto* p = reinterpret_cast<const unsigned char*>(d.data() + at);
        cpc::endpoint e = v4 ? from_compact4(p) : from_compact6(p);
        if (e.port() != 0) reply.peers.push_back(e);
    }
    return reply;
}

}  // namespace hekate::udp_packet
