#include "builtin_tracker.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "../test_support.hpp"
#include "announcer.hpp"
#include "bencode.hpp"
#include "fake_http_server.hpp"
#include "tracker_http.hpp"
#include "tracker_reply.hpp"

namespace {

using namespace hekate;
using namespace std::string_literals;
using namespace std::chrono_literals;

info_hash hash_of(char c) {
    info_hash h;
    h.fill(static_cast<std::uint8_t>(c));
    return h;
}

std::array<std::uint8_t, 20> id_of(char c) {
    std::array<std::uint8_t, 20> id;
    id.fill(static_cast<std::uint8_t>(c));
    return id;
}

std::string target(const info_hash& h, char id, std::uint16_t port, std::string extra = "") {
    announce_request r;
    r.hash = h;
    r.peer_id = id_of(id);
    r.port = port;
    r.left = 0;
    r.numwant = -1;
    return announce_url("/announce", r) + extra;
}

cpc::endpoint from(const char* host_port) {
    return *cpc::endpoint::parse(host_port);
}

announce_result reply_of(const builtin_tracker::answer& a) {
    EXPECT_EQ(a.status, 200);
    return parse_tracker_reply(a.body);
}

std::vector<std::string> peers_of(const announce_result& r) {
    std::vector<std::string> out;
    if (r) {
        for (const cpc::endpoint& e : r.reply->peers)
            out.push_back(e.to_string());
    }
    return out;
}

TEST(BuiltinTracker, PeersSeeEachOtherButNotThemselves) {
    builtin_tracker t;
    const info_hash h = hash_of('h');
    announce_result r =
        reply_of(t.handle(target(h, 'a', 1001, "&event=started"), from("10.0.0.1:5")));
    ASSERT_TRUE(r) << r.error;
    EXPECT_TRUE(r.reply->peers.empty());
    EXPECT_EQ(r.reply->interval, 60);
    EXPECT_EQ(r.reply->complete, 1);

    r = reply_of(t.handle(target(h, 'b', 1002, "&event=started"), from("10.0.0.2:6")));
    EXPECT_EQ(peers_of(r), std::vector<std::string>{"10.0.0.1:1001"});
    r = reply_of(t.handle(target(h, 'a', 1001), from("10.0.0.1:7")));
    EXPECT_EQ(peers_of(r), std::vector<std::string>{"10.0.0.2:1002"});
    EXPECT_EQ(t.peer_count(h), 2u);

    // Another torrent is another swarm.
    r = reply_of(t.handle(target(hash_of('i'), 'c', 1003), from("10.0.0.3:8")));
    EXPECT_TRUE(r.reply->peers.empty());
    EXPECT_EQ(t.torrent_count(), 2u);
}

TEST(BuiltinTracker, StoppedRemovesThePeer) {
    builtin_tracker t;
    const info_hash h = hash_of('h');
    reply_of(t.handle(target(h, 'a', 1001), from("10.0.0.1:5")));
    reply_of(t.handle(target(h, 'b', 1002), from("10.0.0.2:5")));
    const announce_result r =
        reply_of(t.handle(target(h, 'a', 1001, "&event=stopped"), from("10.0.0.1:5")));
    ASSERT_TRUE(r) << r.error;
    EXPECT_TRUE(r.reply->peers.empty());
    EXPECT_EQ(t.peer_count(h), 1u);
    EXPECT_TRUE(peers_of(reply_of(t.handle(target(h, 'b', 1002), from("10.0.0.2:5")))).empty());
    reply_of(t.handle(target(h, 'b', 1002, "&event=stopped"), from("10.0.0.2:5")));
    EXPECT_EQ(t.torrent_count(), 0u);
}

TEST(BuiltinTracker, PeersExpire) {
    builtin_tracker_config cfg;
    cfg.peer_ttl = 30ms;
    builtin_tracker t(cfg);
    const info_hash h = hash_of('h');
    reply_of(t.handle(target(h, 'a', 1001), from("10.0.0.1:5")));
    std::this_thread::sleep_for(60ms);
    const announce_result r = reply_of(t.handle(target(h, 'b', 1002), from("10.0.0.2:5")));
    EXPECT_TRUE(peers_of(r).empty());
    EXPECT_EQ(t.peer_count(h), 1u);
}

TEST(BuiltinTracker, IpParameterAndFamilies) {
    builtin_tracker t;
    const info_hash h = hash_of('h');
    reply_of(t.handle(target(h, 'a', 1001), from("[::1]:5")));
    reply_of(t.handle(target(h, 'b', 1002, "&ip=192.0.2.7"), from("10.0.0.2:5")));
    // A v4-mapped client address is an IPv4 peer.
    reply_of(t.handle(target(h, 'c', 1003), from("[::ffff:10.0.0.3]:5")));
    const announce_result r = reply_of(t.handle(target(h, 'd', 1004), from("10.0.0.4:5")));
    ASSERT_TRUE(r);
    std::vector<std::string> got = peers_of(r);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{"10.0.0.3:1003", "192.0.2.7:1002", "[::1]:1001"}));
    EXPECT_NE(r.reply->peers.back().family(), AF_INET);  // peers6 parsed after peers
}

TEST(BuiltinTracker, NumwantLimitsThePeersAndCountsSeeds) {
    builtin_tracker t;
    const info_hash h = hash_of('h');
    for (int i = 0; i < 10; ++i) {
        const std::string left = i < 4 ? "&left=0" : "&left=10";
        const std::string ip = "10.0.1." + std::to_string(i + 1) + ":5";
        t.handle("/announce?info_hash=" + percent_encode(std::string(20, 'h')) + "&peer_id=" +
                     percent_encode(std::string(19, 'p') + char('a' + i)) + "&port=2000" + left,
                 from(ip.c_str()));
    }
    const announce_result r =
        reply_of(t.handle(target(h, 'z', 3000, "&numwant=3"), from("10.0.2.1:5")));
    ASSERT_TRUE(r) << r.error;
    EXPECT_EQ(r.reply->peers.size(), 3u);
    EXPECT_EQ(r.reply->complete, 5);  // four seeds and the asker (left=0)
    EXPECT_EQ(r.reply->incomplete, 6);
}

TEST(BuiltinTracker, MalformedAnnouncesGetAFailureReason) {
    builtin_tracker t;
    const std::string h = "info_hash=" + percent_encode(std::string(20, 'h'));
    const std::string id = "&peer_id=" + percent_encode(std::string(20, 'p'));
    const std::string bad[] = {
        "/announce",
        "/announce?" + h + "&port=1",                      // no peer_id
        "/announce?" + id.substr(1) + "&port=1",           // no info_hash
        "/announce?info_hash=abc" + id + "&port=1",        // short hash
        "/announce?" + h + id,                             // no port
        "/announce?" + h + id + "&port=0",                 // port 0
        "/announce?" + h + id + "&port=99999",             // port too large
        "/announce?" + h + id + "&port=x",                 // port not a number
        "/announce?" + h + id + "&port=1&event=dance",     // unknown event
        "/announce?" + h + id + "&port=1&ip=example.com",  // not numeric
        "/announce?info_hash=%zz" + id + "&port=1",        // bad escape
        "/announce?info_hash=%4" + id + "&port=1",         // truncated escape
        "/announce?%",
        "/announce?&&&===",
    };
    for (const std::string& target : bad) {
        const builtin_tracker::answer a = t.handle(target, from("10.0.0.1:5"));
        EXPECT_EQ(a.status, 200) << target;
        const announce_result r = parse_tracker_reply(a.body);
        EXPECT_TRUE(r.refused) << target << " -> " << a.body;
    }
    const builtin_tracker::answer nf = t.handle("/scrape?" + h, from("10.0.0.1:5"));
    EXPECT_EQ(nf.status, 404);
    EXPECT_EQ(t.torrent_count(), 0u);
}

// ---- over HTTP, on the loop ---------------------------------------------------------------

// A non-blocking listening socket on 127.0.0.1 and its port.
int listen_loopback(std::uint16_t& port) {
    return test::listen_loopback(port, SOCK_NONBLOCK, 64);
}

// Sends `request` on a new connection and returns all the server sends until it closes.
cpc::task<std::string> exchange(std::uint16_t port, std::string request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const std::error_code ec = co_await cpc::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    std::string out;
    if (!ec) {
        co_await cpc::write(fd, request.data(), request.size());
        char buf[4096];
        for (;;) {
            const std::optional<cpc::io_result> r =
                co_await cpc::with_timeout(3s, cpc::read(fd, buf, sizeof buf));
            if (!r || !*r || r->bytes == 0) break;
            out.append(buf, r->bytes);
        }
    }
    cpc::close(fd);
    co_return out;
}

// serve(), then closing the listening socket on the loop, so that the loop forgets it before
// the number is reused by the next test.
cpc::task<void> serve_then_close(builtin_tracker* t, int fd, cpc::condvar* stop) {
    co_await t->serve(fd, *stop);
    cpc::close(fd);
}

std::string body_of(const std::string& response) {
    const std::size_t at = response.find("\r\n\r\n");
    return at == std::string::npos ? std::string() : response.substr(at + 4);
}

TEST(BuiltinTracker, ServesOverHttpAndSurvivesGarbage) {
    builtin_tracker_config cfg;
    cfg.read_timeout = 200ms;
    cfg.max_request = 512;
    builtin_tracker tracker(cfg);
    std::uint16_t port = 0;
    const int listen_fd = listen_loopback(port);
    cpc::condvar stop;
    std::vector<std::string> responses;
    announce_result via_curl;
    cpc::spawn(serve_then_close(&tracker, listen_fd, &stop));
    cpc::spawn([](std::uint16_t port, cpc::condvar* stop, std::vector<std::string>* out,
                  announce_result* via_curl) -> cpc::task<void> {
        const std::string hq = target(hash_of('h'), 'a', 1001);
        std::string r = co_await exchange(port, "GET " + hq + " HTTP/1.1\r\nHost: x\r\n\r\n");
        out->push_back(r);
        r = co_await exchange(port, "NONSENSE\r\n\r\n");
        out->push_back(r);
        r = co_await exchange(port, "GET /" + std::string(2000, 'a') + " HTTP/1.1\r\n\r\n");
        out->push_back(r);
        r = co_await exchange(port, "GET /announce?info_hash=1 HTTP/1.1\r\n\r\n");
        out->push_back(r);
        r = co_await exchange(port, "GET /announce HTTP/1.1\r\n");  // never ends: timed out
        out->push_back(r);
        // Still serving, through libcurl this time.
        *via_curl = co_await http_announce(
            announce_url("http://127.0.0.1:" + std::to_string(port) + "/announce",
                         [] {
                             announce_request q;
                             q.hash = hash_of('h');
                             q.peer_id = id_of('b');
                             q.port = 1002;
                             return q;
                         }()),
            {});
        stop->signal_all();
    }(port, &stop, &responses, &via_curl));
    const cpc::run_result run = cpc::main_loop();
    EXPECT_EQ(run.blocked_threads, 0u);

    ASSERT_EQ(responses.size(), 5u);
    EXPECT_EQ(responses[0].rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << responses[0];
    const announce_result first = parse_tracker_reply(body_of(responses[0]));
    EXPECT_TRUE(first) << first.error;
    EXPECT_EQ(responses[1].rfind("HTTP/1.0 400", 0), 0u) << responses[1];
    EXPECT_TRUE(parse_tracker_reply(body_of(responses[1])).refused);
    EXPECT_EQ(responses[2].rfind("HTTP/1.0 400", 0), 0u) << responses[2];
    EXPECT_EQ(responses[3].rfind("HTTP/1.0 200", 0), 0u) << responses[3];
    EXPECT_TRUE(parse_tracker_reply(body_of(responses[3])).refused);
    EXPECT_EQ(responses[4].rfind("HTTP/1.0 400", 0), 0u) << responses[4];
    ASSERT_TRUE(via_curl) << via_curl.error;
    EXPECT_EQ(peers_of(via_curl), std::vector<std::string>{"127.0.0.1:1001"});
}

TEST(BuiltinTracker, TwoAnnouncersSeeEachOtherAndStoppedRemovesThem) {
    builtin_tracker tracker;
    std::uint16_t port = 0;
    const int listen_fd = listen_loopback(port);

    metainfo torrent;
    torrent.hash = hash_of('t');
    torrent.trackers = {{"http://127.0.0.1:" + std::to_string(port) + "/announce"}};
    announcer_timing timing;
    timing.tracker_second = 1ms;  // the tracker's 60 s interval is 60 ms
    timing.shortest_interval = 0ms;
    timing.shuffle_tiers = false;

    struct state {
        std::vector<std::string> seen_by_a, seen_by_b;
        cpc::condvar stop_announcers, stop_tracker;
        std::size_t peers_after_stop = 99;
    } st;
    auto record = [](std::vector<std::string>* into) {
        return [into](const std::vector<cpc::endpoint>& peers) {
            for (const cpc::endpoint& e : peers)
                into->push_back(e.to_string());
        };
    };
    announce_identity ida{id_of('a'), 7001, std::nullopt, true, true, 50};
    announce_identity idb{id_of('b'), 7002, std::nullopt, true, true, 50};
    announcer a(
        torrent, ida, [] { return transfer_totals{}; }, record(&st.seen_by_a), timing);
    announcer b(
        torrent, idb, [] { return transfer_totals{}; }, record(&st.seen_by_b), timing);

    cpc::spawn(serve_then_close(&tracker, listen_fd, &st.stop_tracker));
    cpc::spawn([](announcer* a, announcer* b, builtin_tracker* t, state* st,
                  info_hash h) -> cpc::task<void> {
        cpc::task_group group;
        group.spawn(a->run(st->stop_announcers));
        group.spawn(b->run(st->stop_announcers));
        for (int i = 0; i < 300; ++i) {
            if (!st->seen_by_a.empty() && !st->seen_by_b.empty()) break;
            co_await cpc::sleep(10ms);
        }
        st->stop_announcers.signal_all();
        co_await group.join();
        st->peers_after_stop = t->peer_count(h);
        st->stop_tracker.signal_all();
    }(&a, &b, &tracker, &st, torrent.hash));
    const cpc::run_result run = cpc::main_loop();
    EXPECT_EQ(run.blocked_threads, 0u);

    ASSERT_FALSE(st.seen_by_a.empty())
        << a.status().last_error << " ok=" << a.status().successes
        << " fail=" << a.status().failures << " b: " << b.status().last_error
        << " ok=" << b.status().successes;
    ASSERT_FALSE(st.seen_by_b.empty());
    for (const std::string& p : st.seen_by_a)
        EXPECT_EQ(p, "127.0.0.1:7002");
    for (const std::string& p : st.seen_by_b)
        EXPECT_EQ(p, "127.0.0.1:7001");
    EXPECT_EQ(st.peers_after_stop, 0u);
    EXPECT_EQ(a.status().tracker, torrent.trackers[0][0]);
    EXPECT_GE(a.status().successes, 1u);
}

}  // namespace
