// A structure-aware mutator for the peer wire: random bytes almost never form a handshake
// followed by well-framed messages, so most inputs would stop at parse_handshake() or at the
// first length prefix. This one reads the input as a handshake and a list of messages (a
// length prefix that overruns the input takes what is left), repairs the handshake's protocol
// string, edits the list (mutates one payload, changes an id, inserts a typical message,
// removes or duplicates one, mutates the handshake's reserved bits or info hash), and writes
// it back with consistent length prefixes. One time in eight it mutates the raw bytes, so
// that broken framing stays explored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "wire.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace hekate_fuzz {

struct wire_message {
    bool keep_alive = false;
    std::uint8_t id = 0;
    std::string payload;
};

inline std::string mutate_payload(std::string s, std::size_t extra) {
    if (s.empty()) s.push_back('\0');  // something for libFuzzer to work on
    const std::size_t size = s.size();
    s.resize(size + extra);
    s.resize(LLVMFuzzerMutate(reinterpret_cast<std::uint8_t*>(s.data()), size, s.size()));
    return s;
}

inline std::string be32(std::uint32_t v) {
    std::string s(4, '\0');
    hekate::wire::store_be32(s.data(), v);
    return s;
}

// A message of a kind hekate handles, with plausible fields.
inline wire_message typical_message(std::mt19937& rng) {
    static constexpr std::uint8_t ids[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 15, 16, 17, 20};
    wire_message m;
    m.id = ids[rng() % std::size(ids)];
    const auto small = [&] { return static_cast<std::uint32_t>(rng() % 4 ? rng() % 64 : rng()); };
    switch (m.id) {
        case 4:
        case 13:
        case 17:
            m.payload = be32(small());
            break;
        case 5:
            m.payload.assign(1 + rng() % 700, static_cast<char>(0xff));
            break;
        case 6:
        case 8:
        case 16:
            m.payload = be32(small()) + be32(16384 * (rng() % 8)) + be32(16384);
            break;
        case 7:
            m.payload = be32(small()) + be32(0) + std::string(rng() % 64, 'x');
            break;
        case 9:
            m.payload = std::string("\x1a\xe1", 2);
            break;
        case 20:
            if (rng() % 2) {
                m.payload = std::string(1, '\0') +
                            "d1:md11:ut_metadatai3ee13:metadata_sizei31235e11:upload_onlyi1ee";
            } else {
                m.payload = std::string(1, '\1') + "d8:msg_typei" + std::to_string(rng() % 3) +
                            "e5:piecei" + std::to_string(small()) + "ee";
            }
            break;
        default:
            break;
    }
    return m;
}

inline std::size_t mutate_wire(std::uint8_t* data, std::size_t size, std::size_t max_size,
                               unsigned int seed) {
    namespace wire = hekate::wire;
    std::mt19937 rng(seed);
    if (rng() % 8 == 0 || max_size < wire::handshake_size)
        return LLVMFuzzerMutate(data, size, max_size);

    std::string handshake(reinterpret_cast<const char*>(data),
                          std::min(size, wire::handshake_size));
    handshake.resize(wire::handshake_size, '\0');
    handshake[0] = static_cast<char>(wire::protocol_name.size());
    std::memcpy(handshake.data() + 1, wire::protocol_name.data(), wire::protocol_name.size());

    std::vector<wire_message> messages;
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    rest.remove_prefix(std::min(size, wire::handshake_size));
    while (rest.size() >= 4 && messages.size() < 64) {
        const std::uint32_t length = static_cast<std::uint32_t>(
            std::min<std::size_t>(wire::load_be32(rest.data()), rest.size() - 4));
        wire_message m;
        m.keep_alive = length == 0;
        if (length > 0) {
            m.id = static_cast<std::uint8_t>(rest[4]);
            m.payload = std::string(rest.substr(5, length - 1));
        }
        messages.push_back(std::move(m));
        rest.remove_prefix(4 + length);
    }

    switch (rng() % 7) {
        case 0:
        case 1:
            messages.insert(messages.begin() + rng() % (messages.size() + 1), typical_message(rng));
            break;
        case 2:
            if (!messages.empty()) {
                wire_message& m = messages[rng() % messages.size()];
                m.payload = mutate_payload(m.payload, 32);
            }
            break;
        case 3:
            if (!messages.empty())
                messages[rng() % messages.size()].id = static_cast<std::uint8_t>(rng() % 22);
            break;
        case 4:
            if (!messages.empty()) messages.erase(messages.begin() + rng() % messages.size());
            break;
        case 5:
            if (!messages.empty()) messages.push_back(messages[rng() % messages.size()]);
            break;
        default: {  // reserved bits (fast, extensions) and the info hash (the torrent's size)
            std::string tail = mutate_payload(handshake.substr(20, 28), 0);
            tail.resize(28, '\0');
            handshake.replace(20, 28, tail);
            break;
        }
    }

    std::string out = handshake;
    for (const wire_message& m : messages) {
        if (m.keep_alive) {
            out += be32(0);
            continue;
        }
        out += be32(static_cast<std::uint32_t>(m.payload.size() + 1));
        out += static_cast<char>(m.id);
        out += m.payload;
    }
    if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
    std::memcpy(data, out.data(), out.size());
    return out.size();
}

}  // namespace hekate_fuzz
