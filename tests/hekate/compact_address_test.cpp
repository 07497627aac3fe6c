// BEP 23 compact addresses: the bytes trackers and the extension handshake carry, both ways.
#include "compact_address.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

using namespace hekate;

namespace {

const unsigned char* bytes(const std::string& s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

TEST(CompactAddress, ReadsIPv4InNetworkOrder) {
    const std::string six("\xC0\x00\x02\x07\x1A\xE1", 6);  // 192.0.2.7, port 6881
    const cpc::endpoint e = from_compact4(bytes(six));
    EXPECT_EQ(e.family(), AF_INET);
    EXPECT_EQ(e.to_string(), "192.0.2.7:6881");
}

TEST(CompactAddress, ReadsIPv6InNetworkOrder) {
    std::string eighteen(18, '\0');
    eighteen[0] = '\x20';
    eighteen[1] = '\x01';
    eighteen[2] = '\x0d';
    eighteen[3] = '\xb8';
    eighteen[15] = '\x07';
    eighteen[16] = '\xC8';  // port 51413
    eighteen[17] = '\xD5';
    const cpc::endpoint e = from_compact6(bytes(eighteen));
    EXPECT_EQ(e.family(), AF_INET6);
    EXPECT_EQ(e.to_string(), "[2001:db8::7]:51413");
}

TEST(CompactAddress, WritesWhatItReads) {
    for (const char* text : {"192.0.2.7:6881", "[2001:db8::7]:51413", "[::ffff:192.0.2.8]:1"}) {
        const cpc::endpoint e = *cpc::endpoint::parse(text);
        std::string out = "x";  // appended to, not replaced
        append_compact(out, e);
        const bool v4 = e.family() == AF_INET;
        ASSERT_EQ(out.size(), 1u + (v4 ? 6 : 18)) << text;
        const unsigned char* p = bytes(out) + 1;
        EXPECT_EQ(v4 ? from_compact4(p) : from_compact6(p), e) << text;
    }
}

TEST(CompactAddress, AppendsNothingWithoutAFamily) {
    std::string out;
    append_compact(out, cpc::endpoint{});
    EXPECT_TRUE(out.empty());
}
