// The datagrams a UDP tracker (BEP 15) sends back to hekate, as bytes: which ones answer the
// request hekate waits for, and what an answer holds. Pure functions on a datagram, so that
// the client's checks are tested and fuzzed without a socket; the client (tracker_udp.hpp)
// does the I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tracker_reply.hpp"

namespace hekate::udp_packet {

enum action : std::uint32_t { connect = 0, announce = 1, error = 3 };

constexpr std::size_t connect_reply_size = 16;          // action, tid, connection id
constexpr std::size_t announce_reply_header_size = 20;  // action, tid, interval, leechers, seeds

// Big-endian integer of `bytes` bytes at `at`; the caller checks that they are there.
std::uint64_t get(std::string_view in, std::size_t at, int bytes) noexcept;

enum class verdict {
    ignore,   // shorter than 8 bytes, another transaction, another action, or too short
    refused,  // an error datagram for this transaction: the message is after its 8 bytes
    answer,   // the awaited action for this transaction, with at least min_size bytes
};
// How a datagram that arrives while hekate waits for `action` of transaction `tid` is taken.
verdict classify(std::string_view datagram, std::uint32_t tid, std::uint32_t action,
                 std::size_t min_size) noexcept;

// The connection id of a connect answer (classify() gave answer with connect_reply_size).
std::uint64_t connection_id(std::string_view connect_reply) noexcept;

// The announce answer (classify() gave answer with announce_reply_header_size): interval,
// leechers, seeds, and the peers of `family` (AF_INET: 6-byte entries, else 18), BEP 15
// giving peers of the family the tracker was reached over. Entries with port 0 are dropped; a
// trailing partial entry is ignored.
tracker_reply parse_announce_reply(std::string_view reply, int family);

}  // namespace hekate::udp_packet
