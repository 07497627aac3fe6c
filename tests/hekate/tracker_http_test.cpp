#include "tracker_http.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.hpp"

namespace {

using namespace hekate;
using namespace std::string_literals;
using namespace std::chrono_literals;

// A one-connection-at-a-time HTTP server on 127.0.0.1 in a kernel thread: records each
// request head and answers with the status and body given.
class fake_http {
  public:
    fake_http(int status, std::string body, std::chrono::milliseconds delay = 0ms)
        : status_(status), body_(std::move(body)), delay_(delay) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 8) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            throw std::runtime_error("fake_http: cannot listen");
        }
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { loop(); });
    }
    ~fake_http() {
        done_ = true;
        thread_.join();
        ::close(fd_);
    }
    std::string url(const std::string& path = "/announce") const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    std::vector<std::string> heads() {
        std::lock_guard lock(mutex_);
        return heads_;
    }

  private:
    void loop() {
        while (!done_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            std::string head;
            char buf[4096];
            while (head.find("\r\n\r\n") == std::string::npos) {
                const ssize_t n = ::read(c, buf, sizeof buf);
                if (n <= 0) break;
                head.append(buf, static_cast<std::size_t>(n));
            }
            {
                std::lock_guard lock(mutex_);
                heads_.push_back(head);
            }
            const auto until = std::chrono::steady_clock::now() + delay_;
            while (!done_ && std::chrono::steady_clock::now() < until) {
                std::this_thread::sleep_for(5ms);
            }
            const std::string out = "HTTP/1.1 " + std::to_string(status_) +
                                    " X\r\nContent-Length: " + std::to_string(body_.size()) +
                                    "\r\nConnection: close\r\n\r\n" + body_;
            (void)!::write(c, out.data(), out.size());
            ::close(c);
        }
    }

    int status_;
    std::string body_;
    std::chrono::milliseconds delay_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> done_{false};
    std::mutex mutex_;
    std::vector<std::string> heads_;
    std::thread thread_;
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

// The query part of the request line of an HTTP head.
std::string query_of(const std::string& head) {
    const std::size_t q = head.find('?');
    const std::size_t end = head.find(' ', q);
    return head.substr(q + 1, end - q - 1);
}

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
    opts.bind = endpoint::parse("127.0.0.1:1");
    const announce_result ok = http_announce_blocking(server.url(), opts);
    EXPECT_TRUE(ok) << ok.error;
    opts.bind = endpoint::parse("192.0.2.1:1");  // TEST-NET: not an address of this host
    const announce_result bad = http_announce_blocking(server.url(), opts);
    EXPECT_FALSE(bad);
}

TEST(TrackerHttp, NonHttpSchemesAreRefused) {
    const announce_result r = http_announce_blocking("file:///etc/passwd", {});
    EXPECT_FALSE(r);
}

}  // namespace
