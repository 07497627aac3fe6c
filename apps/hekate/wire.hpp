// The peer wire protocol (BEP 3, BEP 6 fast extension, BEP 10 extension protocol): message
// ids, limits, encoders and payload decoders. Pure functions on bytes: the peer threads do
// the I/O, the tests and the swarm simulator use the same code.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "metainfo.hpp"

namespace hekate::wire {

constexpr std::string_view protocol_name = "BitTorrent protocol";
constexpr std::size_t handshake_size = 68;
// The largest block hekate serves or accepts a request for, and so the largest PIECE.
constexpr std::uint32_t max_block = 128 * 1024;
constexpr std::uint32_t piece_header_size = 13;  // length, id, index, begin
// Extension messages (ut_metadata pieces are 16 KiB plus a small dict) stay far below this.
constexpr std::uint32_t max_extended = 64 * 1024;

enum class message_id : std::uint8_t {
    choke = 0,
    unchoke = 1,
    interested = 2,
    not_interested = 3,
    have = 4,
    bitfield = 5,
    request = 6,
    piece = 7,
    cancel = 8,
    port = 9,  // DHT (BEP 5): ignored
    suggest_piece = 13,
    have_all = 14,
    have_none = 15,
    reject_request = 16,
    allowed_fast = 17,
    extended = 20,
};

using peer_id = std::array<std::uint8_t, 20>;

struct handshake {
    std::array<std::uint8_t, 8> reserved{};
    info_hash hash{};
    peer_id id{};

    bool supports_fast() const noexcept { return reserved[7] & 0x04; }
    bool supports_extensions() const noexcept { return reserved[5] & 0x10; }
};

// True when `prefix` (the first bytes a connection sent, any length) can still be the start
// of a plaintext handshake. Encrypted (MSE) openings fail at once, so the connection can be
// closed immediately and the client retries in plaintext.
bool could_be_handshake(std::string_view prefix) noexcept;
// Decodes 68 bytes; nullopt if the protocol string is wrong.
std::optional<handshake> parse_handshake(std::string_view bytes) noexcept;
// Hekate's handshake: fast extension and extension protocol bits set.
std::string encode_handshake(const info_hash& hash, const peer_id& id);

struct block_request {
    std::uint32_t piece = 0;
    std::uint32_t begin = 0;
    std::uint32_t length = 0;
    friend bool operator==(const block_request&, const block_request&) = default;
};

// The largest payload (after the 4-byte length) a message may have on a connection for a
// torrent of piece_count pieces: a PIECE of max_block, a BITFIELD of the torrent's size, an
// extension message. Anything longer closes the connection.
std::uint32_t max_payload(std::uint32_t piece_count) noexcept;

// Whether a peer may send message `id` on this connection: fast-extension ids only when both
// sides set the bit, EXTENDED only when both support BEP 10.
bool allowed(std::uint8_t id, bool fast, bool extensions) noexcept;

// Payload decoders: nullopt when the payload has the wrong size.
std::optional<block_request> parse_block_request(std::string_view payload) noexcept;
std::optional<std::uint32_t> parse_have(std::string_view payload) noexcept;
// A bitfield must have exactly ceil(piece_count/8) bytes and its spare bits clear.
bool valid_bitfield(std::string_view payload, std::uint32_t piece_count) noexcept;

// Encoders append whole messages (length prefix included) to out.
void append_simple(std::string& out, message_id id);  // choke, unchoke, interested...
void append_keep_alive(std::string& out);
void append_have(std::string& out, std::uint32_t piece);
void append_full_bitfield(std::string& out, std::uint32_t piece_count);
void append_block_message(std::string& out, message_id id, const block_request& r);
void append_extended(std::string& out, std::uint8_t extended_id, std::string_view payload);
// The 13 bytes that precede a block's data in a PIECE message.
std::array<std::uint8_t, piece_header_size> piece_header(std::uint32_t piece, std::uint32_t begin,
                                                         std::uint32_t length) noexcept;

std::uint32_t load_be32(const void* p) noexcept;
void store_be32(void* p, std::uint32_t v) noexcept;

// One framed message: a keep-alive, or an id and its payload (a view into the read buffer,
// valid during the callback only).
struct message {
    bool keep_alive = false;
    std::uint8_t id = 0;
    std::string_view payload;
};

// Cuts the length-prefixed messages out of the bytes a connection delivers, read by read.
// Only an incomplete message is kept between reads, so a peer that is quiet holds no buffer
// (a large one is freed once drained).
class message_reader {
  public:
    enum class status { ok, oversized, stopped };

    // Calls on_message(const message&) for every complete message in order; it returns false
    // to stop (status::stopped). A length above max_payload stops at once (status::oversized,
    // its length in last_length()).
    template <class F>
    status feed(const char* data, std::size_t n, std::uint32_t max_payload, F&& on_message) {
        std::string_view in;
        const bool buffered = !pending_.empty();
        if (buffered) {
            pending_.append(data, n);
            in = pending_;
        } else {
            in = std::string_view(data, n);
        }
        std::size_t offset = 0;
        while (in.size() - offset >= 4) {
            last_length_ = load_be32(in.data() + offset);
            if (last_length_ > max_payload) return status::oversized;
            if (in.size() - offset - 4 < last_length_) break;
            message m;
            m.keep_alive = last_length_ == 0;
            if (!m.keep_alive) {
                m.id = static_cast<std::uint8_t>(in[offset + 4]);
                m.payload = in.substr(offset + 5, last_length_ - 1);
            }
            offset += 4 + last_length_;
            if (!on_message(m)) return status::stopped;
        }
        if (buffered) {
            pending_.erase(0, offset);
        } else {
            pending_.assign(in.substr(offset));
        }
        if (pending_.empty() && pending_.capacity() > 4096) std::string().swap(pending_);
        return status::ok;
    }

    std::uint32_t last_length() const noexcept { return last_length_; }

  private:
    std::string pending_;
    std::uint32_t last_length_ = 0;
};

}  // namespace hekate::wire
