// libFuzzer target: a datagram that reaches hekate's UDP tracker client (BEP 15) while it
// waits for an answer, taken as the answer to a connect and to an announce (over IPv4 and
// IPv6). Invariants:
// - classify() answers only a datagram of the awaited transaction and action that is long
//   enough, refuses only an error datagram of that transaction, and ignores the rest;
// - an announce answer's counts are its header fields, and its peers are exactly its
//   complete compact entries whose port is not 0, in order (written back, they give those
//   entries' bytes).
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "compact_address.hpp"
#include "udp_tracker_packet.hpp"

#include "fuzz_check.hpp"

namespace {

using namespace hekate;

// The transaction id the seeds carry: the fuzzer finds it in the comparisons anyway.
constexpr std::uint32_t kTid = 0x12345678;

using fuzz::check;

void check_announce(std::string_view d, int family) {
    const tracker_reply r = udp_packet::parse_announce_reply(d, family);
    check(r.interval == static_cast<std::int64_t>(udp_packet::get(d, 8, 4)));
    check(r.incomplete == static_cast<std::int64_t>(udp_packet::get(d, 12, 4)));
    check(r.complete == static_cast<std::int64_t>(udp_packet::get(d, 16, 4)));
    const std::size_t entry = family == AF_INET ? 6 : 18;
    std::string expected;
    for (std::size_t at = udp_packet::announce_reply_header_size; at + entry <= d.size();
         at += entry) {
        if (udp_packet::get(d, at + entry - 2, 2) != 0) expected += d.substr(at, entry);
    }
    std::string written;
    for (const cpc::endpoint& e : r.peers) {
        check(e.family() == family && e.port() != 0);
        append_compact(written, e);
    }
    check(written == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view d(reinterpret_cast<const char*>(data), size);
    for (auto [action, min_size] :
         {std::pair{udp_packet::connect, udp_packet::connect_reply_size},
          std::pair{udp_packet::announce, udp_packet::announce_reply_header_size}}) {
        const udp_packet::verdict v = udp_packet::classify(d, kTid, action, min_size);
        const bool ours = d.size() >= 8 && udp_packet::get(d, 4, 4) == kTid;
        const std::uint64_t act = d.size() >= 4 ? udp_packet::get(d, 0, 4) : ~0ull;
        check((v == udp_packet::verdict::refused) == (ours && act == udp_packet::error));
        check((v == udp_packet::verdict::answer) ==
              (ours && act == action && d.size() >= min_size));
        if (v != udp_packet::verdict::answer) continue;
        if (action == udp_packet::connect) {
            check(udp_packet::connection_id(d) == udp_packet::get(d, 8, 8));
        } else {
            check_announce(d, AF_INET);
            check_announce(d, AF_INET6);
        }
    }
    return 0;
}
