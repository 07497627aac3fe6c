#include "tracker_http.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.hpp"
#include "fake_http_server.hpp"

namespace {

using namespace hekate;
using namespace std::string_literals;
using namespace std::chrono_literals;

// The shared fake server with a fixed answer; heads() are the request heads it read.
class fake_http : public test::fake_http_server {
  public:
    using fake_http_server::fake_http_server;
    std::vector<std::string> heads() const {
        std::vector<std::string> out;
        for (const request& r : requests())
            out.push_back(r.head);
        return out;
    }
};

announce_request sample_request() {
    announce_request r;
    for (int i = 0; i < 20; ++i) {
        r.hash[i] = static_cast<std::uint8_t>(i * 13);  // 0x00, 0x0d, ... includes unreserved
        r.peer_id[i] = static_cast<std::uint8_t>('A' + i);
    }
    r.peer_id[0] = '-';
    r.peer_id[1] = ' ';
    r.port = 6881;
    r.uploaded = 1234;
    r.downloaded = 5;
    r.left = 0;
    r.event = announce_event::started;
    r.numwant = 30;
    r.key = 0xdeadbeef;
    return r;
}

using test::query_of;

TEST(TrackerHttp, PercentEncodeKeepsOnlyUnreserved) {
    EXPECT_EQ(percent_encode("aZ09-._~"), "aZ09-._~");
    EXPECT_EQ(percent_encode("a b/?&=%+"), "a%20b%2F%3F%26%3D%25%2B");
    EXPECT_EQ(percent_encode("\x00\xff\x7f"s), "%00%FF%7F");
    EXPECT_EQ(percent_encode(""), "");
}

TEST(TrackerHttp, AnnounceUrlCarriesEveryField) {
    const announce_request r = sample_request();
    const std::string url = announce_url("http://t.example/announce", r);
    EXPECT_EQ(url,
              "http://t.example/announce?info_hash=%00%0D%1A%274AN%5Bhu%82%8F%9C%A9%B6%C3%D0%DD%"
              "EA%F7&peer_id=-%20CDEFGHIJKLMNOPQRST&port=6881&uploaded=1234&downloaded=5&left=0&"
              "compact=1&numwant=30&key=DEADBEEF&event=started");
}

TEST(TrackerHttp, AnnounceUrlAppendsToAnExistingQuery) {
    announce_request r = sample_request();
    r.event = announce_event::none;
    r.numwant = -1;
    r.tracker_id = "a b";
    const std::string url = announce_url("https://t.example/a?passkey=xyz", r);
    EXPECT_EQ(url.rfind("https://t.example/a?passkey=xyz&info_hash=", 0), 0u) << url;
    EXPECT_EQ(url.find("event="), std::string::npos);
    EXPECT_EQ(url.find("numwant="), std::string::npos);
    EXPECT_NE(url.find("&trackerid=a%20b"), std::string::npos);
}

TEST(TrackerHttp, AnnouncesToALocalServerAndParsesPeers) {
    const std::string peers = "\x7f\x00\x00\x01\x1a\xe1"s + "\x7f\x00\x00\x02\x1a\xe2"s;
    fake_http server(200, "d8:intervali120e5:peers12:" + peers + "e");
    const std::string url = announce_url(server.url(), sample_request());
    http_options opts;
    opts.timeout = 5s;
    const announce_result r = cpc_test::run_main_value(http_announce(url, opts));
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.reply->interval, 120);
    ASSERT_EQ(r.reply->peers.size(), 2u);
    EXPECT_EQ(r.reply->peers[1].to_string(), "127.0.0.2:6882");

    const std::vector<std::string> heads = server.heads();
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].rfind("GET /announce?", 0), 0u) << heads[0];
    EXPECT_EQ(query_of(heads[0]), query_of(" " + url + " "));
    EXPECT_NE(heads[0].find("peer_id=-%20CDEFGHIJKLMNOPQRST&"), std::string::npos);
    EXPECT_NE(heads[0].find("&event=started"), std::string::npos);
}

TEST(TrackerHttp, FailureReasonWithAnErrorStatusIsARefusal) {
    fake_http server(403, "d14:failure reason12:unregisterede");
    const announce_result r =
        cpc_test::run_main_value(http_announce(announce_url(server.url(), sample_request()), {}));
    EXPECT_FALSE(r);
    EXPECT_TRUE(r.refused);
    EXPECT_NE(r.error.find("unregistered"), std::string::npos);
}

TEST(TrackerHttp, ErrorStatusWithoutReasonIsAnError) {
    fake_http server(500, "oops");
    const announce_result r =
        cpc_test::run_main_value(http_announce(announce_url(server.url(), sample_request()), {}));
    EXPECT_FALSE(r);
    EXPECT_FALSE(r.refused);
    EXPECT_NE(r.error.find("500"), std::string::npos) << r.error;
}

TEST(TrackerHttp, GarbageBodyIsAnError) {
    fake_http server(200, "<html>hello</html>");
    const announce_result r = http_announce_blocking(server.url(), {});
    EXPECT_FALSE(r);
    EXPECT_NE(r.error.find("malformed"), std::string::npos) << r.error;
}

TEST(TrackerHttp, OversizedBodyIsAnError) {
    fake_http server(200, "d5:peers" + std::to_string(6000) + ":" + std::string(6000, 'x') + "e");
    http_options opts;
    opts.max_body = 1000;
    const announce_result r = http_announce_blocking(server.url(), opts);
    EXPECT_FALSE(r);
    EXPECT_NE(r.error.find("limit"), std::string::npos) << r.error;
}

TEST(TrackerHttp, TimeoutIsBounded) {
    fake_http server(200, "d5:peers0:e", 2000ms);
    http_options opts;
    opts.timeout = 200ms;
    const auto start = std::chrono::steady_clock::now();
    const announce_result r = http_announce_blocking(server.url(), opts);
    EXPECT_FALSE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST(TrackerHttp, CancelFlagAbandonsTheTransfer) {
    fake_http server(200, "d5:peers0:e", 3000ms);
    std::atomic<bool> cancel{false};
    std::thread canceller([&] {
        std::this_thread::sleep_for(100ms);
        cancel = true;
    });
    const auto start = std::chrono::steady_clock::now();
    const announce_result r = http_announce_blocking(server.url(), {}, &cancel);
    canceller.join();
    EXPECT_FALSE(r);
    EXPECT_EQ(r.error, "cancelled");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
}

TEST(TrackerHttp, ConnectionRefusedIsAnError) {
    // A port that was just free: nothing listens there.
    std::uint16_t port;
    {
        fake_http probe(200, "");
        port = static_cast<std::uint16_t>(std::stoi(probe.url().substr(17)));
    }
    const announce_result r =
        http_announce_blocking("http://127.0.0.1:" + std::to_string(port) + "/announce", {});
    EXPECT_FALSE(r);
    EXPECT_FALSE(r.error.empty());
}

TEST(TrackerHttp, Ipv6OnlyCannotReachAnIpv4Tracker) {
    fake_http server(200, "d5:peers0:e");
    http_options opts;
    opts.ipv4 = false;
    const announce_result r = http_announce_blocking(server.url(), opts);
    EXPECT_FALSE(r);
    EXPECT_TRUE(server.heads().empty());
}

TEST(TrackerHttp, BindsToTheGivenAddress) {
    fake_http server(200, "d5:peers0:e");
    http_options opts;
    opts.bind = cpc::endpoint::parse("127.0.0.1:1");
    const announce_result ok = http_announce_blocking(server.url(), opts);
    EXPECT_TRUE(ok) << ok.error;
    opts.bind = cpc::endpoint::parse("192.0.2.1:1");  // TEST-NET: not an address of this host
    const announce_result bad = http_announce_blocking(server.url(), opts);
    EXPECT_FALSE(bad);
}

TEST(TrackerHttp, NonHttpSchemesAreRefused) {
    const announce_result r = http_announce_blocking("file:///etc/passwd", {});
    EXPECT_FALSE(r);
}

}  // namespace
