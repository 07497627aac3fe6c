#include "wire.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hekate::wire {
namespace {

TEST(Wire, HandshakeRoundTripsWithFastAndExtensionBits) {
    info_hash h{};
    h[0] = 0xab;
    peer_id id{};
    id[19] = 7;
    std::string bytes = encode_handshake(h, id);
    ASSERT_EQ(bytes.size(), handshake_size);
    auto parsed = parse_handshake(bytes);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->hash, h);
    EXPECT_EQ(parsed->id, id);
    EXPECT_TRUE(parsed->supports_fast());
    EXPECT_TRUE(parsed->supports_extensions());
}

TEST(Wire, AnEncryptedOpeningIsRecognisedFromItsFirstByte) {
    EXPECT_TRUE(could_be_handshake(""));
    EXPECT_TRUE(
        could_be_handshake("\x13"
                           "BitTor"));
    EXPECT_FALSE(could_be_handshake("\x7f"));
    EXPECT_FALSE(
        could_be_handshake("\x13"
                           "BitTorX"));
    EXPECT_FALSE(parse_handshake(std::string(68, 'x')));
}

TEST(Wire, MessageLimitsFollowTheTorrent) {
    EXPECT_EQ(max_payload(10), max_block + 9);
    // A 2,000,000-piece torrent's bitfield is 250,000 bytes and legal.
    EXPECT_EQ(max_payload(2'000'000), 1 + 250'000u);
}

TEST(Wire, FastAndExtendedIdsOnlyWhenNegotiated) {
    EXPECT_TRUE(allowed(6, false, false));
    EXPECT_FALSE(allowed(14, false, true));
    EXPECT_TRUE(allowed(14, true, false));
    EXPECT_FALSE(allowed(20, true, false));
    EXPECT_TRUE(allowed(20, false, true));
    EXPECT_FALSE(allowed(10, true, true));
    EXPECT_FALSE(allowed(99, true, true));
}

TEST(Wire, BitfieldHasSpareBitsClear) {
    std::string out;
    append_full_bitfield(out, 10);
    ASSERT_EQ(out.size(), 4u + 1 + 2);
    EXPECT_EQ(load_be32(out.data()), 3u);
    EXPECT_EQ(static_cast<std::uint8_t>(out[5]), 0xff);
    EXPECT_EQ(static_cast<std::uint8_t>(out[6]), 0xc0);
    EXPECT_TRUE(valid_bitfield(out.substr(5), 10));
    EXPECT_FALSE(valid_bitfield("\xff\xff", 10));  // spare bits set
    EXPECT_FALSE(valid_bitfield("\xff", 10));      // too short
    EXPECT_TRUE(valid_bitfield("\xff", 8));
}

TEST(Wire, RequestsParseOnlyAtTwelveBytes) {
    std::string out;
    append_block_message(out, message_id::request, {1, 16384, 16384});
    auto r = parse_block_request(std::string_view(out).substr(5));
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, (block_request{1, 16384, 16384}));
    EXPECT_FALSE(parse_block_request(std::string_view(out).substr(5, 11)));
    EXPECT_FALSE(parse_have("abc"));
}

TEST(Wire, PieceHeaderCountsTheDataThatFollows) {
    auto h = piece_header(3, 32768, 16384);
    EXPECT_EQ(load_be32(h.data()), 16384u + 9);
    EXPECT_EQ(h[4], static_cast<std::uint8_t>(message_id::piece));
    EXPECT_EQ(load_be32(h.data() + 5), 3u);
    EXPECT_EQ(load_be32(h.data() + 9), 32768u);
}

TEST(MessageReader, FramesMessagesSplitAcrossReads) {
    std::string stream;
    append_keep_alive(stream);
    append_have(stream, 7);
    append_block_message(stream, message_id::request, {1, 0, 16384});
    std::vector<std::string> seen;
    message_reader reader;
    for (char c : stream) {  // one byte per read: every split point
        auto status = reader.feed(&c, 1, 100, [&](const message& m) {
            // Appended piece by piece: g++ 12 warns (-Wrestrict) on a chain of operator+.
            std::string what = "keep-alive";
            if (!m.keep_alive) {
                what = std::to_string(m.id);
                what += ':';
                what += std::to_string(m.payload.size());
            }
            seen.push_back(what);
            return true;
        });
        ASSERT_EQ(status, message_reader::status::ok);
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"keep-alive", "4:4", "6:12"}));
}

TEST(MessageReader, StopsOnOversizedLengthsAndWhenTold) {
    message_reader reader;
    std::string big;
    big.resize(4);
    store_be32(big.data(), 101);
    EXPECT_EQ(reader.feed(big.data(), big.size(), 100, [](const message&) { return true; }),
              message_reader::status::oversized);
    EXPECT_EQ(reader.last_length(), 101u);

    std::string two;
    append_simple(two, message_id::interested);
    append_simple(two, message_id::choke);
    int calls = 0;
    message_reader other;
    EXPECT_EQ(other.feed(two.data(), two.size(), 100,
                         [&](const message&) {
                             ++calls;
                             return false;
                         }),
              message_reader::status::stopped);
    EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace hekate::wire
