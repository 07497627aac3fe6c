#include "wire.hpp"

#include <algorithm>
#include <cstring>

namespace hekate::wire {

std::uint32_t load_be32(const void* p) noexcept {
    const auto* b = static_cast<const std::uint8_t*>(p);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
}

void store_be32(void* p, std::uint32_t v) noexcept {
    auto* b = static_cast<std::uint8_t*>(p);
    b[0] = static_cast<std::uint8_t>(v >> 24);
    b[1] = static_cast<std::uint8_t>(v >> 16);
    b[2] = static_cast<std::uint8_t>(v >> 8);
    b[3] = static_cast<std::uint8_t>(v);
}

bool could_be_handshake(std::string_view prefix) noexcept {
    if (prefix.empty()) return true;
    if (static_cast<std::uint8_t>(prefix[0]) != protocol_name.size()) return false;
    std::string_view name = prefix.substr(1, protocol_name.size());
    return protocol_name.substr(0, name.size()) == name;
}

std::optional<handshake> parse_handshake(std::string_view bytes) noexcept {
    if (bytes.size() != handshake_size || !could_be_handshake(bytes)) return std::nullopt;
    handshake h;
    std::memcpy(h.reserved.data(), bytes.data() + 20, 8);
    std::memcpy(h.hash.data(), bytes.data() + 28, 20);
    std::memcpy(h.id.data(), bytes.data() + 48, 20);
    return h;
}

std::string encode_handshake(const info_hash& hash, const peer_id& id) {
    std::string out;
    out.reserve(handshake_size);
    out += static_cast<char>(protocol_name.size());
    out += protocol_name;
    std::array<char, 8> reserved{};
    reserved[5] = 0x10;  // BEP 10
    reserved[7] = 0x04;  // BEP 6
    out.append(reserved.data(), reserved.size());
    out.append(reinterpret_cast<const char*>(hash.data()), hash.size());
    out.append(reinterpret_cast<const char*>(id.data()), id.size());
    return out;
}

std::uint32_t max_payload(std::uint32_t piece_count) noexcept {
    std::uint32_t bitfield = 1 + (piece_count + 7) / 8;
    return std::max({max_block + piece_header_size - 4, bitfield, max_extended});
}

bool allowed(std::uint8_t id, bool fast, bool extensions) noexcept {
    if (id <= static_cast<std::uint8_t>(message_id::port)) return true;
    if (id >= static_cast<std::uint8_t>(message_id::suggest_piece) &&
        id <= static_cast<std::uint8_t>(message_id::allowed_fast)) {
        return fast;
    }
    if (id == static_cast<std::uint8_t>(message_id::extended)) return extensions;
    return false;
}

std::optional<block_request> parse_block_request(std::string_view payload) noexcept {
    if (payload.size() != 12) return std::nullopt;
    return block_request{load_be32(payload.data()), load_be32(payload.data() + 4),
                         load_be32(payload.data() + 8)};
}

std::optional<std::uint32_t> parse_have(std::string_view payload) noexcept {
    if (payload.size() != 4) return std::nullopt;
    return load_be32(payload.data());
}

bool valid_bitfield(std::string_view payload, std::uint32_t piece_count) noexcept {
    if (payload.size() != (std::size_t{piece_count} + 7) / 8) return false;
    unsigned spare = static_cast<unsigned>(payload.size() * 8 - piece_count);
    if (spare == 0) return true;
    auto last = static_cast<std::uint8_t>(payload.back());
    return (last & ((1u << spare) - 1)) == 0;
}

namespace {

void append_header(std::string& out, std::uint32_t payload_length, message_id id) {
    char header[5];
    store_be32(header, payload_length + 1);
    header[4] = static_cast<char>(id);
    out.append(header, sizeof header);
}

void append_be32(std::string& out, std::uint32_t v) {
    char b[4];
    store_be32(b, v);
    out.append(b, 4);
}

}  // namespace

void append_simple(std::string& out, message_id id) {
    append_header(out, 0, id);
}

void append_keep_alive(std::string& out) {
    append_be32(out, 0);
}

void append_have(std::string& out, std::uint32_t piece) {
    append_header(out, 4, message_id::have);
    append_be32(out, piece);
}

void append_full_bitfield(std::string& out, std::uint32_t piece_count) {
    std::uint32_t bytes = (piece_count + 7) / 8;
    append_header(out, bytes, message_id::bitfield);
    std::size_t start = out.size();
    out.append(bytes, static_cast<char>(0xff));
    if (unsigned spare = bytes * 8 - piece_count) {
        out[start + bytes - 1] = static_cast<char>(0xffu << spare);
    }
}

void append_block_message(std::string& out, message_id id, const block_request& r) {
    append_header(out, 12, id);
    append_be32(out, r.piece);
    append_be32(out, r.begin);
    append_be32(out, r.length);
}

void append_extended(std::string& out, std::uint8_t extended_id, std::string_view payload) {
    append_header(out, static_cast<std::uint32_t>(payload.size() + 1), message_id::extended);
    out += static_cast<char>(extended_id);
    out += payload;
}

std::array<std::uint8_t, piece_header_size> piece_header(std::uint32_t piece, std::uint32_t begin,
                                                         std::uint32_t length) noexcept {
    std::array<std::uint8_t, piece_header_size> h{};
    store_be32(h.data(), length + 9);
    h[4] = static_cast<std::uint8_t>(message_id::piece);
    store_be32(h.data() + 5, piece);
    store_be32(h.data() + 9, begin);
    return h;
}

}  // namespace hekate::wire
