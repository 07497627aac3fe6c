// libFuzzer target: the extension protocol (BEP 10) and ut_metadata (BEP 9), both from the
// peer's side and back. The input's first byte picks the extended message id (0: the peer's
// extended handshake, else a ut_metadata message); the rest is its payload. Invariants:
// - parse_handshake() accepts exactly the payloads that are a bencoded dictionary, and its
//   ut_metadata id is 0 or the peer's id in 1..255;
// - parse_metadata_message() gives a type in 0..2 only when msg_type and piece are integers
//   in range, whatever follows the dictionary (a data message carries its piece there);
// - hekate's reply to a request for that piece, taking the payload as the info dictionary,
//   parses back as data for that piece (the right slice follows it) or as a reject;
// - hekate's own handshake, built from fields of the input, parses back as a dictionary
//   with those fields, and announces ut_metadata and upload_only.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bencode.hpp"
#include "extension.hpp"

#include "fuzz_check.hpp"

namespace {

using namespace hekate;

using fuzz::check;

bool is_dict(std::string_view payload) {
    try {
        return bencode::parse(payload).is_dict();
    } catch (const bencode::error&) {
        return false;
    }
}

std::uint32_t be32_at(std::string_view s, std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = at; i < at + 4; ++i)
        v = v << 8 | (i < s.size() ? static_cast<std::uint8_t>(s[i]) : 0);
    return v;
}

void check_reply(std::string_view info, std::uint32_t piece) {
    const std::string reply = extension::encode_metadata_reply(info, piece);
    const auto back = extension::parse_metadata_message(reply);
    check(back && back->piece == piece);
    const std::uint64_t begin = std::uint64_t{piece} * extension::metadata_piece_size;
    if (begin >= info.size()) {
        check(back->type == extension::metadata_request::reject);
        return;
    }
    check(back->type == extension::metadata_request::data);
    std::size_t consumed = 0;
    const bencode::value v = bencode::parse_prefix(reply, consumed);
    const bencode::value* total = v.find("total_size");
    check(total && total->as_int() && *total->as_int() == static_cast<std::int64_t>(info.size()));
    check(std::string_view(reply).substr(consumed) ==
          info.substr(begin, extension::metadata_piece_size));
}

void check_our_handshake(std::string_view in) {
    extension::our_handshake ours;
    ours.metadata_size = be32_at(in, 0);
    ours.reqq = be32_at(in, 4);
    ours.listen_port = static_cast<std::uint16_t>(be32_at(in, 8));
    ours.version = std::string(in.substr(0, 16));
    ours.their_address = std::string(in.substr(0, in.size() >= 16 ? 16 : in.size() >= 4 ? 4 : 0));
    const std::string encoded = extension::encode_handshake(ours);
    const auto theirs = extension::parse_handshake(encoded);
    check(theirs && theirs->ut_metadata == extension::ut_metadata_id && theirs->upload_only);
    const bencode::value v = bencode::parse(encoded);
    const auto int_of = [&](std::string_view key) {
        const bencode::value* f = v.find(key);
        return f && f->as_int() ? *f->as_int() : -1;
    };
    check(int_of("reqq") == ours.reqq);
    check(ours.metadata_size == 0 ? !v.find("metadata_size")
                                  : int_of("metadata_size") == ours.metadata_size);
    check(ours.listen_port == 0 ? !v.find("p") : int_of("p") == ours.listen_port);
    const bencode::value* ver = v.find("v");
    check(ours.version.empty() ? !ver
                               : ver && ver->as_string() && *ver->as_string() == ours.version);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto sub = data[0];
    const std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (sub == extension::handshake_id) {
        const auto h = extension::parse_handshake(payload);
        check(h.has_value() == is_dict(payload));
        check_our_handshake(payload);
        return 0;
    }
    const auto m = extension::parse_metadata_message(payload);
    if (m) {
        check(m->type >= 0 && m->type <= 2);
        check_reply(payload, m->piece);
    }
    check_reply(payload, be32_at(payload, 0) % 8);
    return 0;
}
