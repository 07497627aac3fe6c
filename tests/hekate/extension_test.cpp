#include "extension.hpp"

#include <gtest/gtest.h>

#include "bencode.hpp"
#include "client_version.hpp"

namespace hekate::extension {
namespace {

TEST(Extension, OurHandshakeAdvertisesMetadataAndReqq) {
    our_handshake h;
    h.metadata_size = 1234;
    h.reqq = 250;
    h.listen_port = 6881;
    h.version = client_name;
    std::string payload = encode_handshake(h);
    bencode::value v = bencode::parse(payload);
    ASSERT_TRUE(v.find("m"));
    EXPECT_EQ(*v.find("m")->find("ut_metadata")->as_int(), ut_metadata_id);
    EXPECT_EQ(*v.find("metadata_size")->as_int(), 1234);
    EXPECT_EQ(*v.find("reqq")->as_int(), 250);
    EXPECT_EQ(*v.find("p")->as_int(), 6881);
    ASSERT_TRUE(v.find("v"));
    EXPECT_EQ(*v.find("v")->as_string(), client_name);
}

TEST(Extension, TheirHandshakeGivesTheirMetadataId) {
    auto h = parse_handshake("d1:md11:ut_metadatai3e6:ut_pexi1ee4:reqqi2000ee");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->ut_metadata, 3);
    EXPECT_FALSE(h->upload_only);
    EXPECT_FALSE(parse_handshake("i3e"));
    EXPECT_FALSE(parse_handshake("d1:m"));
    auto none = parse_handshake("d1:md11:ut_metadatai0eee");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->ut_metadata, 0);  // 0 disables the extension
}

TEST(Extension, MetadataIsServedIn16KiBPiecesAndRejectedBeyond) {
    std::string info(40000, 'i');
    info[16384] = 'X';
    std::string second = encode_metadata_reply(info, 1);
    std::size_t consumed = 0;
    bencode::value head = bencode::parse_prefix(second, consumed);
    EXPECT_EQ(*head.find("msg_type")->as_int(), 1);
    EXPECT_EQ(*head.find("total_size")->as_int(), 40000);
    EXPECT_EQ(second.size() - consumed, 16384u);
    EXPECT_EQ(second[consumed], 'X');
    std::string last = encode_metadata_reply(info, 2);
    bencode::parse_prefix(last, consumed);
    EXPECT_EQ(last.size() - consumed, 40000u - 32768);
    std::string rejected = encode_metadata_reply(info, 3);  // the parsed views point into it
    bencode::value reject = bencode::parse(rejected);
    EXPECT_EQ(*reject.find("msg_type")->as_int(), 2);
}

TEST(Extension, MetadataMessagesAreValidated) {
    auto r = parse_metadata_message("d8:msg_typei0e5:piecei2ee");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->type, metadata_request::request);
    EXPECT_EQ(r->piece, 2u);
    EXPECT_FALSE(parse_metadata_message("d8:msg_typei7e5:piecei2ee"));
    EXPECT_FALSE(parse_metadata_message("d5:piecei2ee"));
    EXPECT_FALSE(parse_metadata_message("d8:msg_typei0e5:piecei-1ee"));
    EXPECT_FALSE(parse_metadata_message("garbage"));
}

}  // namespace
}  // namespace hekate::extension
