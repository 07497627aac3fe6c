#include "tracker_udp.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.hpp"
#include "udp_tracker_packet.hpp"

namespace {

using namespace hekate;
using namespace std::string_literals;
using namespace std::chrono_literals;

std::uint64_t get(const std::string& d, std::size_t at, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
        v = v << 8 | static_cast<unsigned char>(d[at + i]);
    return v;
}
void put(std::string& out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i)
        out += static_cast<char>((v >> (8 * i)) & 0xff);
}

constexpr std::uint64_t kConnectionId = 0x1122334455667788;

// A UDP tracker in a kernel thread. `script` sees each datagram with its index among those
// received and returns the datagrams to answer (none: the request is "lost").
class fake_udp_tracker {
  public:
    using script = std::function<std::vector<std::string>(const std::string&, int)>;

    fake_udp_tracker(script s, bool ipv6 = false) : script_(std::move(s)) {
        fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_storage ss{};
        socklen_t len;
        if (ipv6) {
            auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
            a->sin6_family = AF_INET6;
            a->sin6_addr = in6addr_loopback;
            len = sizeof *a;
        } else {
            auto* a = reinterpret_cast<sockaddr_in*>(&ss);
            a->sin_family = AF_INET;
            a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            len = sizeof *a;
        }
        ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
              ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0;
        port_ = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                           : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
        url_ = std::string("udp://") + (ipv6 ? "[::1]" : "127.0.0.1") + ":" +
               std::to_string(port_) + "/announce";
        if (ok_) thread_ = std::thread([this] { loop(); });
    }
    ~fake_udp_tracker() {
        done_ = true;
        if (thread_.joinable()) thread_.join();
        ::close(fd_);
    }
    bool ok() const { return ok_; }
    const std::string& url() const { return url_; }
    std::vector<std::string> received() {
        std::lock_guard lock(mutex_);
        return received_;
    }
    int count(std::uint32_t action) {
        int n = 0;
        for (const std::string& d : received())
            n += d.size() >= 12 && get(d, 8, 4) == action;
        return n;
    }

  private:
    void loop() {
        char buf[2048];
        while (!done_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 10) <= 0) continue;
            sockaddr_storage from{};
            socklen_t len = sizeof from;
            const ssize_t n =
                ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
            if (n <= 0) continue;
            const std::string d(buf, static_cast<std::size_t>(n));
            int index;
            {
                std::lock_guard lock(mutex_);
                received_.push_back(d);
                index = static_cast<int>(received_.size()) - 1;
            }
            for (const std::string& out : script_(d, index)) {
                ::sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
            }
        }
    }

    script script_;
    int fd_ = -1;
    bool ok_ = false;
    std::uint16_t port_ = 0;
    std::string url_;
    std::atomic<bool> done_{false};
    std::mutex mutex_;
    std::vector<std::string> received_;
    std::thread thread_;
};

std::string connect_reply(const std::string& req, std::uint32_t tid_xor = 0) {
    std::string out;
    put(out, 0, 4);
    put(out, get(req, 12, 4) ^ tid_xor, 4);
    put(out, kConnectionId, 8);
    return out;
}

std::string announce_reply(const std::string& req, const std::string& peers,
                           std::uint32_t tid_xor = 0) {
    std::string out;
    put(out, 1, 4);
    put(out, get(req, 12, 4) ^ tid_xor, 4);
    put(out, 900, 4);  // interval
    put(out, 2, 4);    // leechers
    put(out, 5, 4);    // seeders
    return out + peers;
}

bool is_connect(const std::string& d) {
    return d.size() == 16 && get(d, 0, 8) == 0x41727101980 && get(d, 8, 4) == 0;
}
bool is_announce(const std::string& d) {
    return d.size() >= 98 && get(d, 8, 4) == 1;
}

const std::string kPeers = "\x7f\x00\x00\x01\x1a\xe1"s + "\x0a\x01\x02\x03\x00\x50"s;

// A tracker that answers everything at once.
std::vector<std::string> answer_all(const std::string& d, int) {
    if (is_connect(d)) return {connect_reply(d)};
    if (is_announce(d)) return {announce_reply(d, kPeers)};
    return {};
}

announce_request sample_request() {
    announce_request r;
    for (int i = 0; i < 20; ++i) {
        r.hash[i] = static_cast<std::uint8_t>(0xa0 + i);
        r.peer_id[i] = static_cast<std::uint8_t>('a' + i);
    }
    r.port = 51413;
    r.uploaded = 300;
    r.downloaded = 200;
    r.left = 100;
    r.event = announce_event::started;
    r.numwant = 25;
    r.key = 0xcafef00d;
    return r;
}

udp_options fast() {
    udp_options o;
    o.base_timeout = 50ms;
    o.attempts = 3;
    return o;
}

announce_result announce_once(udp_tracker& t, const announce_request& req) {
    return cpc_test::run_main_value(t.announce(req));
}

TEST(TrackerUdp, ParsesUrls) {
    auto a = parse_udp_url("udp://tracker.example.org:1337/announce");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "tracker.example.org");
    EXPECT_EQ(a->port, 1337);
    a = parse_udp_url("udp://[2001:db8::1]:80");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "2001:db8::1");
    EXPECT_EQ(a->port, 80);
    EXPECT_FALSE(parse_udp_url("udp://host"));
    EXPECT_FALSE(parse_udp_url("udp://host:0"));
    EXPECT_FALSE(parse_udp_url("udp://host:70000"));
    EXPECT_FALSE(parse_udp_url("udp://:80"));
    EXPECT_FALSE(parse_udp_url("http://host:80"));
    EXPECT_FALSE(parse_udp_url("udp://[::1:80"));
}

// The datagram checks on their own (udp_tracker_packet.hpp), as the client applies them.
TEST(TrackerUdp, ClassifiesDatagramsByTransactionActionAndSize) {
    using udp_packet::verdict;
    std::string connect;
    put(connect, udp_packet::connect, 4);
    put(connect, 7, 4);
    put(connect, kConnectionId, 8);
    EXPECT_EQ(udp_packet::classify(connect, 7, udp_packet::connect, 16), verdict::answer);
    EXPECT_EQ(udp_packet::connection_id(connect), kConnectionId);
    EXPECT_EQ(udp_packet::classify(connect, 8, udp_packet::connect, 16), verdict::ignore);
    EXPECT_EQ(udp_packet::classify(connect, 7, udp_packet::announce, 16), verdict::ignore);
    EXPECT_EQ(udp_packet::classify(connect.substr(0, 15), 7, udp_packet::connect, 16),
              verdict::ignore);
    EXPECT_EQ(udp_packet::classify(connect.substr(0, 7), 7, udp_packet::connect, 0),
              verdict::ignore);
    std::string error;
    put(error, udp_packet::error, 4);
    put(error, 7, 4);
    EXPECT_EQ(udp_packet::classify(error + "no", 7, udp_packet::announce, 20), verdict::refused);
}

TEST(TrackerUdp, AnnounceReplyDropsPortZeroAndAPartialEntry) {
    std::string d;
    for (std::uint64_t v : {1, 9, 1800, 2, 3})
        put(d, v, 4);
    d += "\x7f\x00\x00\x01\x1a\xe1"s;  // 127.0.0.1:6881
    d += "\x0a\x00\x00\x02\x00\x00"s;  // port 0: dropped
    d += "\x0a\x00\x00"s;              // partial: ignored
    const tracker_reply r = udp_packet::parse_announce_reply(d, AF_INET);
    EXPECT_EQ(r.interval, 1800);
    EXPECT_EQ(r.incomplete, 2);
    EXPECT_EQ(r.complete, 3);
    ASSERT_EQ(r.peers.size(), 1u);
    EXPECT_EQ(r.peers[0].to_string(), "127.0.0.1:6881");
    EXPECT_TRUE(udp_packet::parse_announce_reply(d, AF_INET6).peers.empty());
}

TEST(TrackerUdp, ConnectsThenAnnounces) {
    fake_udp_tracker tracker(answer_all);
    ASSERT_TRUE(tracker.ok());
    udp_tracker client(tracker.url(), fast());
    const announce_request req = sample_request();
    const announce_result r = announce_once(client, req);
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.reply->interval, 900);
    EXPECT_EQ(r.reply->incomplete, 2);
    EXPECT_EQ(r.reply->complete, 5);
    ASSERT_EQ(r.reply->peers.size(), 2u);
    EXPECT_EQ(r.reply->peers[0].to_string(), "127.0.0.1:6881");
    EXPECT_EQ(r.reply->peers[1].to_string(), "10.1.2.3:80");

    const std::vector<std::string> got = tracker.received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_TRUE(is_connect(got[0]));
    const std::string& a = got[1];
    ASSERT_EQ(a.size(), 98u);
    EXPECT_EQ(get(a, 0, 8), kConnectionId);
    EXPECT_EQ(get(a, 8, 4), 1u);
    EXPECT_EQ(a.substr(16, 20), std::string(reinterpret_cast<const char*>(req.hash.data()), 20));
    EXPECT_EQ(a.substr(36, 20), "abcdefghijklmnopqrst");
    EXPECT_EQ(get(a, 56, 8), 200u);  // downloaded
    EXPECT_EQ(get(a, 64, 8), 100u);  // left
    EXPECT_EQ(get(a, 72, 8), 300u);  // uploaded
    EXPECT_EQ(get(a, 80, 4), 2u);    // started
    EXPECT_EQ(get(a, 84, 4), 0u);    // ip
    EXPECT_EQ(get(a, 88, 4), 0xcafef00du);
    EXPECT_EQ(get(a, 92, 4), 25u);
    EXPECT_EQ(get(a, 96, 2), 51413u);
}

TEST(TrackerUdp, ReusesTheConnectionIdWithinItsLifetime) {
    fake_udp_tracker tracker(answer_all);
    ASSERT_TRUE(tracker.ok());
    udp_tracker client(tracker.url(), fast());
    announce_request req = sample_request();
    EXPECT_TRUE(announce_once(client, req));
    req.event = announce_event::none;
    EXPECT_TRUE(announce_once(client, req));
    EXPECT_EQ(tracker.count(0), 1);
    EXPECT_EQ(tracker.count(1), 2);
    EXPECT_EQ(get(tracker.received().back(), 80, 4), 0u);  // event none
}

TEST(TrackerUdp, RenewsAnExpiredConnectionId) {
    fake_udp_tracker tracker(answer_all);
    ASSERT_TRUE(tracker.ok());
    udp_options o = fast();
    o.connection_lifetime = 0ms;
    udp_tracker client(tracker.url(), o);
    EXPECT_TRUE(announce_once(client, sample_request()));
    std::this_thread::sleep_for(2ms);
    EXPECT_TRUE(announce_once(client, sample_request()));
    EXPECT_EQ(tracker.count(0), 2);
}

TEST(TrackerUdp, RetransmitsLostDatagrams) {
    // The first connect and the first announce are lost.
    fake_udp_tracker tracker([](const std::string& d, int index) -> std::vector<std::string> {
        if (index == 0 || index == 2) return {};
        return answer_all(d, index);
    });
    ASSERT_TRUE(tracker.ok());
    udp_tracker client(tracker.url(), fast());
    const auto start = std::chrono::steady_clock::now();
    const announce_result r = announce_once(client, sample_request());
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.reply->peers.size(), 2u);
    EXPECT_EQ(tracker.count(0), 2);
    EXPECT_EQ(tracker.count(1), 2);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);  // two 50 ms timeouts
    const std::vector<std::string> got = tracker.received();
    EXPECT_EQ(got[0], got[1]);  // the same transaction, sent again
}

TEST(TrackerUdp, IgnoresWrongTransactionIds) {
    fake_udp_tracker tracker([](const std::string& d, int) -> std::vector<std::string> {
        if (is_connect(d)) return {connect_reply(d, 0x5555), connect_reply(d)};
        if (is_announce(d)) {
            return {announce_reply(d, "\x01\x02\x03\x04\x00\x01"s, 1), announce_reply(d, kPeers)};
        }
        return {};
    });
    ASSERT_TRUE(tracker.ok());
    udp_tracker client(tracker.url(), fast());
    const announce_result r = announce_once(client, sample_request());
    ASSERT_TRUE(r) << r.error;
    ASSERT_EQ(r.reply->peers.size(), 2u);
    EXPECT_EQ(r.reply->peers[0].to_string(), "127.0.0.1:6881");
    EXPECT_EQ(tracker.count(0), 1);  // no retransmission was needed
    EXPECT_EQ(tracker.count(1), 1);
}

TEST(TrackerUdp, GivesUpAfterBoundedAttempts) {
    fake_udp_tracker tracker([](const std::string&, int) { return std::vector<std::string>{}; });
    ASSERT_TRUE(tracker.ok());
    udp_options o = fast();
    o.base_timeout = 20ms;
    udp_tracker client(tracker.url(), o);
    const auto start = std::chrono::steady_clock::now();
    const announce_result r = announce_once(client, sample_request());
    EXPECT_FALSE(r);
    EXPECT_FALSE(r.refused);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 140ms);  // 20 + 40 + 80
    EXPECT_LT(took, 1s);
    EXPECT_EQ(tracker.count(0), 3);
}

TEST(TrackerUdp, ErrorActionIsARefusal) {
    fake_udp_tracker tracker([](const std::string& d, int) -> std::vector<std::string> {
        if (is_connect(d)) return {connect_reply(d)};
        std::string out;
        put(out, 3, 4);
        put(out, get(d, 12, 4), 4);
        return {out + "torrent not registered"};
    });
    ASSERT_TRUE(tracker.ok());
    udp_tracker client(tracker.url(), fast());
    const announce_result r = announce_once(client, sample_request());
    EXPECT_FALSE(r);
    EXPECT_TRUE(r.refused);
    EXPECT_NE(r.error.find("torrent not registered"), std::string::npos);
}

TEST(TrackerUdp, Ipv6TrackerGivesIpv6Peers) {
    std::string peer6(16, '\0');
    peer6[15] = 1;
    peer6 += "\x1a\xe1"s;
    fake_udp_tracker tracker(
        [peer6](const std::string& d, int) -> std::vector<std::string> {
            if (is_connect(d)) return {connect_reply(d)};
            return {announce_reply(d, peer6 + peer6.substr(0, 5))};  // a torn entry is dropped
        },
        true);
    if (!tracker.ok()) GTEST_SKIP() << "no IPv6 loopback";
    udp_tracker client(tracker.url(), fast());
    const announce_result r = announce_once(client, sample_request());
    ASSERT_TRUE(r) << r.error;
    ASSERT_EQ(r.reply->peers.size(), 1u);
    EXPECT_EQ(r.reply->peers[0].to_string(), "[::1]:6881");

    udp_options v4only = fast();
    v4only.ipv6 = false;
    udp_tracker refused(tracker.url(), v4only);
    EXPECT_FALSE(announce_once(refused, sample_request()));
}

TEST(TrackerUdp, NothingListeningFailsFast) {
    std::string url;
    {
        fake_udp_tracker probe([](const std::string&, int) { return std::vector<std::string>{}; });
        url = probe.url();
    }
    udp_options o = fast();
    o.base_timeout = 2s;
    udp_tracker client(url, o);
    const auto start = std::chrono::steady_clock::now();
    const announce_result r = announce_once(client, sample_request());
    EXPECT_FALSE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << r.error;
}

TEST(TrackerUdp, InterruptCutsTheWaitShort) {
    fake_udp_tracker tracker([](const std::string&, int) { return std::vector<std::string>{}; });
    ASSERT_TRUE(tracker.ok());
    udp_options o = fast();
    o.base_timeout = 5s;
    udp_tracker client(tracker.url(), o);
    cpc::condvar stop;
    std::string error;
    const auto start = std::chrono::steady_clock::now();
    cpc::spawn([](udp_tracker* c, cpc::condvar* stop, std::string* error) -> cpc::task<void> {
        const announce_result r = co_await c->announce(sample_request(), stop);
        *error = r.error;
    }(&client, &stop, &error));
    cpc::spawn([](cpc::condvar* stop) -> cpc::task<void> {
        co_await cpc::sleep(50ms);
        stop->signal_all();
    }(&stop));
    const cpc::run_result run = cpc::main_loop();
    EXPECT_EQ(run.blocked_threads, 0u);
    EXPECT_EQ(error, "cancelled");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

}  // namespace
