// libFuzzer target: what a peer sends on a connection, as hekate reads it. The input is the
// peer's 68-byte handshake followed by the message stream. Invariants:
// - could_be_handshake() accepts every prefix of a handshake that parse_handshake() accepts,
//   and an encoded handshake parses back to its hash and peer id;
// - message_reader cuts the same messages, in the same order and with the same outcome,
//   whether the stream arrives at once or in reads of any size; no message exceeds the limit;
// - each decoder accepts exactly the payload sizes of its message, and what it decodes encodes
//   back to the same payload; a bitfield is valid exactly when its size and spare bits are.
// Extended messages go through the extension decoders (fuzz_extension checks those in depth).
// The custom mutator (wire_mutator.hpp) keeps the handshake valid and the framing consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "extension.hpp"
#include "wire.hpp"
#include "wire_mutator.hpp"

#include "fuzz_check.hpp"

namespace {

using namespace hekate;

using fuzz::check;

struct cut {
    bool keep_alive;
    std::uint8_t id;
    std::string payload;
    bool operator==(const cut&) const = default;
};

struct reading {
    std::vector<cut> messages;
    wire::message_reader::status status = wire::message_reader::status::ok;
    std::uint32_t last_length = 0;
};

// Feeds the stream in reads whose sizes come from `seed` (0: all at once).
reading read_stream(std::string_view stream, std::uint32_t limit, std::uint32_t seed) {
    reading r;
    wire::message_reader reader;
    std::size_t at = 0;
    while (at < stream.size()) {
        std::size_t n = stream.size() - at;
        if (seed != 0) {
            seed = seed * 1103515245u + 12345u;
            n = std::min<std::size_t>(n, 1 + (seed >> 16) % 200);
        }
        // A copy, so that a view kept past its read would be caught by AddressSanitizer.
        const std::string chunk(stream.substr(at, n));
        at += n;
        r.status = reader.feed(chunk.data(), chunk.size(), limit, [&](const wire::message& m) {
            check(m.keep_alive || m.payload.size() + 1 <= limit);
            r.messages.push_back({m.keep_alive, m.id, std::string(m.payload)});
            return true;
        });
        r.last_length = reader.last_length();
        if (r.status != wire::message_reader::status::ok) break;
    }
    return r;
}

std::string payload_of(const std::string& framed) {
    check(framed.size() >= 5 && wire::load_be32(framed.data()) == framed.size() - 4);
    return framed.substr(5);
}

void check_bitfield(std::string_view payload, std::uint32_t pieces) {
    bool expected = payload.size() == (std::size_t{pieces} + 7) / 8;
    for (std::uint64_t bit = pieces; expected && bit < payload.size() * 8; ++bit) {
        if (static_cast<std::uint8_t>(payload[bit / 8]) & (0x80u >> (bit % 8))) expected = false;
    }
    check(wire::valid_bitfield(payload, pieces) == expected);
    if (expected) {
        std::string full;
        wire::append_full_bitfield(full, pieces);
        check(wire::valid_bitfield(payload_of(full), pieces));
    }
}

void check_message(const cut& m, std::uint32_t pieces, bool fast, bool extensions) {
    using wire::message_id;
    if (m.keep_alive) return;
    const bool allowed = wire::allowed(m.id, fast, extensions);
    if (m.id > 20 || (m.id > 9 && m.id < 13) || (m.id > 17 && m.id < 20)) check(!allowed);
    if (!allowed) return;
    const auto id = static_cast<message_id>(m.id);
    switch (id) {
        case message_id::have:
        case message_id::suggest_piece:
        case message_id::allowed_fast: {
            const auto index = wire::parse_have(m.payload);
            check(index.has_value() == (m.payload.size() == 4));
            if (index && id == message_id::have) {
                std::string again;
                wire::append_have(again, *index);
                check(payload_of(again) == m.payload);
            }
            break;
        }
        case message_id::bitfield:
            check_bitfield(m.payload, pieces);
            break;
        case message_id::request:
        case message_id::cancel:
        case message_id::reject_request: {
            const auto r = wire::parse_block_request(m.payload);
            check(r.has_value() == (m.payload.size() == 12));
            if (r) {
                std::string again;
                wire::append_block_message(again, id, *r);
                check(payload_of(again) == m.payload);
                check(wire::parse_block_request(payload_of(again)) == r);
            }
            break;
        }
        case message_id::piece:
            if (m.payload.size() >= 8) {
                const std::uint32_t length = static_cast<std::uint32_t>(m.payload.size() - 8);
                const auto h = wire::piece_header(wire::load_be32(m.payload.data()),
                                                  wire::load_be32(m.payload.data() + 4), length);
                const std::string head(reinterpret_cast<const char*>(h.data()), h.size());
                check(wire::load_be32(head.data()) == m.payload.size() + 1);
                check(head.substr(5) == std::string_view(m.payload).substr(0, 8));
            }
            break;
        case message_id::extended:
            if (!m.payload.empty()) {
                const std::string_view body = std::string_view(m.payload).substr(1);
                if (static_cast<std::uint8_t>(m.payload[0]) == extension::handshake_id) {
                    (void)extension::parse_handshake(body);
                } else if (static_cast<std::uint8_t>(m.payload[0]) == extension::ut_metadata_id) {
                    if (const auto r = extension::parse_metadata_message(body)) {
                        check(r->type >= 0 && r->type <= 2);
                    }
                }
            }
            break;
        default:
            break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::string_view opening = in.substr(0, wire::handshake_size);
    const std::optional<wire::handshake> h = wire::parse_handshake(opening);
    if (!h) return 0;
    for (std::size_t n = 0; n <= opening.size(); ++n)
        check(wire::could_be_handshake(opening.substr(0, n)));
    const std::string ours = wire::encode_handshake(h->hash, h->id);
    const std::optional<wire::handshake> back = wire::parse_handshake(ours);
    check(back && back->hash == h->hash && back->id == h->id && back->supports_fast() &&
          back->supports_extensions());

    // The torrent's size comes from the info hash, so that bitfields of every size are tried.
    const std::uint32_t pieces = 1 + (std::uint32_t{h->hash[0]} << 8 | h->hash[1]) % 5000;
    const std::uint32_t limit = wire::max_payload(pieces);
    check(limit >= wire::max_block + wire::piece_header_size - 4 && limit >= 1 + (pieces + 7) / 8);
    const std::string_view stream = in.substr(wire::handshake_size);
    const reading whole = read_stream(stream, limit, 0);
    const reading split = read_stream(stream, limit, 1 + h->id[0]);
    check(whole.messages == split.messages && whole.status == split.status);
    if (whole.status == wire::message_reader::status::oversized) {
        check(whole.last_length > limit && split.last_length == whole.last_length);
    }
    for (const cut& m : whole.messages)
        check_message(m, pieces, h->supports_fast(), h->supports_extensions());
    return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size,
                                               std::size_t max_size, unsigned int seed) {
    return hekate_fuzz::mutate_wire(data, size, max_size, seed);
}
