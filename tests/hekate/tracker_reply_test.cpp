#include "tracker_reply.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace hekate;
using namespace std::string_literals;

std::string bstr(const std::string& s) {
    return std::to_string(s.size()) + ":" + s;
}

TEST(TrackerReply, CompactPeers) {
    const std::string peers = "\x7f\x00\x00\x01\x1a\xe1"s + "\x0a\x00\x00\x02\x00\x50"s;
    const announce_result r = parse_tracker_reply(
        "d8:completei3e10:incompletei4e8:intervali1800e12:min intervali60e5:peers" + bstr(peers) +
        "e");
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.reply->interval, 1800);
    EXPECT_EQ(r.reply->min_interval, 60);
    EXPECT_EQ(r.reply->complete, 3);
    EXPECT_EQ(r.reply->incomplete, 4);
    ASSERT_EQ(r.reply->peers.size(), 2u);
    EXPECT_EQ(r.reply->peers[0].to_string(), "127.0.0.1:6881");
    EXPECT_EQ(r.reply->peers[1].to_string(), "10.0.0.2:80");
}

TEST(TrackerReply, DictionaryPeersSkipUnusableEntries) {
    const announce_result r = parse_tracker_reply(
        "d8:intervali900e5:peersl"
        "d2:ip9:127.0.0.17:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti6881ee"
        "d2:ip3:::14:porti7000ee"
        "d2:ip11:example.com4:porti1ee"  // names are not resolved
        "d2:ip8:10.0.0.14:porti0ee"      // port 0
        "d2:ip8:10.0.0.14:porti70000ee"  // port out of range
        "i5e"                            // not a dict
        "ee");
    ASSERT_TRUE(r) << r.error;
    ASSERT_EQ(r.reply->peers.size(), 2u);
    EXPECT_EQ(r.reply->peers[0].to_string(), "127.0.0.1:6881");
    EXPECT_EQ(r.reply->peers[1].to_string(), "[::1]:7000");
}

TEST(TrackerReply, Peers6AndWarningAndTrackerId) {
    std::string six(16, '\0');
    six[15] = 1;
    six += "\x1a\xe2"s;
    const announce_result r = parse_tracker_reply("d8:intervali60e5:peers0:6:peers6" + bstr(six) +
                                                  "10:tracker id3:xyz15:warning message4:caree");
    ASSERT_TRUE(r) << r.error;
    ASSERT_EQ(r.reply->peers.size(), 1u);
    EXPECT_EQ(r.reply->peers[0].to_string(), "[::1]:6882");
    EXPECT_EQ(r.reply->warning, "care");
    EXPECT_EQ(r.reply->tracker_id, "xyz");
    EXPECT_FALSE(r.reply->complete.has_value());
}

TEST(TrackerReply, FailureReason) {
    const announce_result r = parse_tracker_reply("d14:failure reason17:torrent not founde");
    EXPECT_FALSE(r);
    EXPECT_TRUE(r.refused);
    EXPECT_NE(r.error.find("torrent not found"), std::string::npos);
}

TEST(TrackerReply, GarbageIsAnErrorNotACrash) {
    const char* bad[] = {
        "",
        "<html>502 Bad Gateway</html>",
        "i42e",
        "d8:intervali60e",                           // truncated
        "d8:intervali-5e5:peers0:e",                 // negative interval
        "d8:interval3:abc5:peers0:e",                // interval not an integer
        "d8:intervali60e5:peers5:abcdee",            // compact not a multiple of 6
        "d8:intervali60e5:peersi3ee",                // peers of the wrong type
        "d8:intervali60e5:peers0:6:peers65:abcdee",  // peers6 not a multiple of 18
        "d8:intervali60ee",                          // no peers at all
        "d5:peers0:e trailing",
    };
    for (const char* body : bad) {
        const announce_result r = parse_tracker_reply(body);
        EXPECT_FALSE(r) << body;
        EXPECT_FALSE(r.error.empty()) << body;
        EXPECT_FALSE(r.refused) << body;
    }
}

TEST(TrackerReply, AllBytePrefixesOfAValidReplyAreHandled) {
    const std::string good =
        "d8:intervali60e5:peers6:\x7f\x00\x00\x01\x1a\xe1"
        "e"s;
    ASSERT_TRUE(parse_tracker_reply(good));
    for (std::size_t n = 0; n < good.size(); ++n) {
        EXPECT_FALSE(parse_tracker_reply(good.substr(0, n))) << n;
    }
}

TEST(TrackerReply, EventNames) {
    EXPECT_EQ(event_name(announce_event::started), "started");
    EXPECT_EQ(event_name(announce_event::stopped), "stopped");
    EXPECT_EQ(event_name(announce_event::completed), "completed");
    EXPECT_EQ(event_name(announce_event::none), "");
}

}  // namespace
