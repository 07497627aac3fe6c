// The extension protocol (BEP 10) as hekate speaks it, and ut_metadata (BEP 9), which lets a
// leecher that joined from a magnet link fetch the info dictionary from hekate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hekate::extension {

// Extended message ids hekate assigns in its handshake (peers send these to hekate).
constexpr std::uint8_t handshake_id = 0;
constexpr std::uint8_t ut_metadata_id = 1;
constexpr std::uint32_t metadata_piece_size = 16 * 1024;

struct our_handshake {
    std::uint32_t metadata_size = 0;
    std::uint32_t reqq = 0;  // requests hekate queues per peer
    std::uint16_t listen_port = 0;
    std::string version;        // "v"
    std::string their_address;  // "yourip": 4 or 16 bytes, or empty
};
// The payload of hekate's extended handshake (after the extended id byte).
std::string encode_handshake(const our_handshake& h);

struct their_handshake {
    std::uint8_t ut_metadata = 0;  // their id for ut_metadata; 0 = not supported
    bool upload_only = false;      // they are a seed, or want nothing more
};
// nullopt when the payload is not a bencoded dictionary.
std::optional<their_handshake> parse_handshake(std::string_view payload);

struct metadata_request {
    enum kind : std::int64_t { request = 0, data = 1, reject = 2 } type = request;
    std::uint32_t piece = 0;
};
// nullopt when malformed (not a dict, missing or out-of-range msg_type/piece).
std::optional<metadata_request> parse_metadata_message(std::string_view payload);
// The reply to a request for `piece` of info_bytes: its data, or a reject when out of range.
std::string encode_metadata_reply(std::string_view info_bytes, std::uint32_t piece);

}  // namespace hekate::extension
