#include "extension.hpp"

#include "bencode.hpp"

namespace hekate::extension {

std::string encode_handshake(const our_handshake& h) {
    bencode::writer w;
    w.begin_dict();
    w.string("m").begin_dict();
    w.string("ut_metadata").integer(ut_metadata_id);
    w.end();
    if (h.metadata_size != 0) w.string("metadata_size").integer(h.metadata_size);
    if (h.listen_port != 0) w.string("p").integer(h.listen_port);
    w.string("reqq").integer(h.reqq);
    w.string("upload_only").integer(1);
    if (!h.version.empty()) w.string("v").string(h.version);
    if (!h.their_address.empty()) w.string("yourip").string(h.their_address);
    w.end();
    return w.take();
}

std::optional<their_handshake> parse_handshake(std::string_view payload) {
    try {
        bencode::value v = bencode::parse(payload);
        if (!v.is_dict()) return std::nullopt;
        their_handshake h;
        if (const bencode::value* m = v.find("m")) {
            if (const bencode::value* id = m->find("ut_metadata")) {
                if (const std::int64_t* n = id->as_int(); n && *n > 0 && *n < 256) {
                    h.ut_metadata = static_cast<std::uint8_t>(*n);
                }
            }
        }
        if (const bencode::value* u = v.find("upload_only")) {
            if (const std::int64_t* n = u->as_int()) h.upload_only = *n != 0;
        }
        return h;
    } catch (const bencode::error&) {
        return std::nullopt;
    }
}

std::optional<metadata_request> parse_metadata_message(std::string_view payload) {
    try {
        // A data message carries the piece after the dictionary.
        std::size_t consumed = 0;
        bencode::value v = bencode::parse_prefix(payload, consumed);
        const bencode::value* type = v.find("msg_type");
        const bencode::value* piece = v.find("piece");
        if (!type || !piece || !type->as_int() || !piece->as_int()) return std::nullopt;
        std::int64_t t = *type->as_int();
        std::int64_t p = *piece->as_int();
        if (t < 0 || t > 2 || p < 0 || p > UINT32_MAX) return std::nullopt;
        return metadata_request{static_cast<metadata_request::kind>(t),
                                static_cast<std::uint32_t>(p)};
    } catch (const bencode::error&) {
        return std::nullopt;
    }
}

std::string encode_metadata_reply(std::string_view info_bytes, std::uint32_t piece) {
    std::uint64_t begin = std::uint64_t{piece} * metadata_piece_size;
    bencode::writer w;
    w.begin_dict();
    if (begin >= info_bytes.size()) {
        w.string("msg_type").integer(metadata_request::reject).string("piece").integer(piece).end();
        return w.take();
    }
    w.string("msg_type").integer(metadata_request::data).string("piece").integer(piece);
    w.string("total_size").integer(static_cast<std::int64_t>(info_bytes.size())).end();
    std::string out = w.take();
    out += info_bytes.substr(begin, metadata_piece_size);
    return out;
}

}  // namespace hekate::extension
