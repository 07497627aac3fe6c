#include "announcer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "fake_http_server.hpp"

namespace {

using namespace hekate;
using namespace std::string_literals;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

using test::canned;

// An HTTP tracker: the handler gets each request's index and head and says what to answer.
class fake_tracker : public test::fake_http_server {
  public:
    using fake_http_server::fake_http_server;
    // The event of each request ("" for none).
    std::vector<std::string> events() const {
        std::vector<std::string> out;
        for (const request& r : requests()) {
            const std::size_t at = r.query.find("event=");
            out.push_back(at == std::string::npos
                              ? ""
                              : r.query.substr(at + 6, r.query.find('&', at) - at - 6));
        }
        return out;
    }
};

const std::string kPeer = "\x7f\x00\x00\x01\x1a\xe1"s;  // 127.0.0.1:6881

canned ok(int interval = 60, int min_interval = 0) {
    std::string body = "d8:intervali" + std::to_string(interval) + "e";
    if (min_interval) body += "12:min intervali" + std::to_string(min_interval) + "e";
    return {200, body + "5:peers6:" + kPeer + "e"};
}
canned broken() {
    return {500, "no"};
}

announcer_timing fast() {
    announcer_timing t;
    t.retry_min = 20ms;
    t.retry_max = 80ms;
    t.default_interval = 1s;
    t.shortest_interval = 0ms;
    t.tracker_second = 1ms;
    t.stop_timeout = 1s;
    t.http_timeout = 2s;
    t.udp_timeout = 50ms;
    t.udp_attempts = 2;
    t.shuffle_tiers = false;
    return t;
}

announce_identity identity() {
    announce_identity id;
    id.peer_id.fill('p');
    id.port = 6999;
    return id;
}

metainfo torrent_with(std::vector<std::vector<std::string>> tiers) {
    metainfo m;
    m.hash.fill(0x42);
    m.trackers = std::move(tiers);
    return m;
}

// A URL where nothing listens.
std::string dead_http_url() {
    std::uint16_t port = 0;
    ::close(test::listen_loopback(port));
    return "http://127.0.0.1:" + std::to_string(port) + "/announce";
}

struct outcome {
    std::vector<std::vector<cpc::endpoint>> peer_batches;
    steady::duration stop_took{};
    steady::duration ran{};
};

// Runs an announcer until `until` says so (checked every 5 ms, at most `limit`), then stops
// it and measures how long the stop took.
outcome run_until(announcer& a, std::function<bool()> until, std::chrono::milliseconds limit = 3s) {
    outcome out;
    struct ctx {
        announcer* a;
        std::function<bool()> until;
        std::chrono::milliseconds limit;
        outcome* out;
        cpc::condvar stop;
        bool stopping = false;
    } c{&a, std::move(until), limit, &out, {}, false};
    cpc::spawn([](ctx* c) -> cpc::task<void> {
        const auto start = steady::now();
        cpc::task_group group;
        group.spawn(c->a->run(c->stop, &c->stopping));
        while (!c->until() && steady::now() - start < c->limit)
            co_await cpc::sleep(5ms);
        const auto stop_at = steady::now();
        c->stopping = true;
        c->stop.signal_all();
        co_await group.join();
        c->out->stop_took = steady::now() - stop_at;
        c->out->ran = steady::now() - start;
    }(&c));
    const cpc::run_result r = cpc::main_loop();
    EXPECT_EQ(r.blocked_threads, 0u);
    return out;
}

TEST(Announcer, StartedPeriodicStoppedAndPeersDelivered) {
    fake_tracker t([](int, const std::string&) { return ok(30); });  // 30 ms
    std::vector<cpc::endpoint> peers;
    int asked = 0;
    announcer a(
        torrent_with({{t.url()}}), identity(),
        [&asked] {
            ++asked;
            return transfer_totals{777, 0, 0};
        },
        [&peers](const std::vector<cpc::endpoint>& p) {
            peers.insert(peers.end(), p.begin(), p.end());
        },
        fast());
    // Until three answers were delivered, not only asked for: the third request may reach
    // the tracker well before its answer reaches the announcer on a loaded machine.
    const outcome o = run_until(a, [&] { return t.requests().size() >= 3 && peers.size() >= 3; });
    const std::vector<std::string> events = t.events();
    ASSERT_GE(events.size(), 4u);
    EXPECT_EQ(events.front(), "started");
    for (std::size_t i = 1; i + 1 < events.size(); ++i)
        EXPECT_EQ(events[i], "") << i;
    EXPECT_EQ(events.back(), "stopped");
    EXPECT_NE(t.requests().back().query.find("numwant=0"), std::string::npos);
    EXPECT_NE(t.requests()[0].query.find("uploaded=777"), std::string::npos);
    EXPECT_NE(t.requests()[0].query.find("port=6999"), std::string::npos);
    EXPECT_NE(t.requests()[0].query.find("info_hash=BBBBBBBBBBBBBBBBBBBB"), std::string::npos);
    EXPECT_GE(asked, 4);
    ASSERT_GE(peers.size(), 3u);
    EXPECT_EQ(peers[0].to_string(), "127.0.0.1:6881");
    EXPECT_EQ(a.status().tracker, t.url());
    EXPECT_GE(a.status().successes, 3u);
    EXPECT_EQ(a.status().peers_received, peers.size());
    EXPECT_LT(o.stop_took, 500ms);
}

TEST(Announcer, TriesATierInOrderAndMovesTheAnswererToTheFront) {
    fake_tracker bad([](int, const std::string&) { return broken(); });
    fake_tracker good([](int, const std::string&) { return ok(20); });
    fake_tracker backup([](int, const std::string&) { return ok(20); });
    announcer a(torrent_with({{bad.url(), good.url()}, {backup.url()}}), identity(), nullptr,
                nullptr, fast());
    run_until(a, [&] { return good.requests().size() >= 3; });
    EXPECT_EQ(bad.requests().size(), 1u);  // tried first once, then behind the good one
    EXPECT_TRUE(backup.requests().empty());
    const std::vector<std::string> events = good.events();
    EXPECT_EQ(events.front(), "started");
    EXPECT_EQ(events.back(), "stopped");
    EXPECT_NE(a.status().last_error.find(bad.url()), std::string::npos);
}

TEST(Announcer, GoesToTheNextTierWhenATierFails) {
    fake_tracker bad([](int, const std::string&) { return broken(); });
    const std::string dead = dead_http_url();
    fake_tracker backup([](int, const std::string&) { return ok(40); });
    announcer a(torrent_with({{dead, "udp://127.0.0.1:1/x", bad.url()}, {backup.url()}}),
                identity(), nullptr, nullptr, fast());
    run_until(a, [&] { return backup.requests().size() >= 2; });
    // Every announce walks the first tier again before falling back.
    EXPECT_GE(bad.requests().size(), 2u);
    EXPECT_EQ(backup.events().front(), "started");
    EXPECT_EQ(backup.events()[1], "");
    EXPECT_EQ(backup.events().back(), "stopped");
    for (const std::string& e : bad.events())
        EXPECT_EQ(e, "started");  // it never answered
    EXPECT_EQ(a.status().tracker, backup.url());
}

TEST(Announcer, BacksOffDoublingUpToTheMaximum) {
    fake_tracker bad([](int, const std::string&) { return broken(); });
    announcer a(torrent_with({{bad.url()}}), identity(), nullptr, nullptr, fast());
    // The tracker records a request before the announcer has read its answer: wait for both.
    run_until(a, [&] { return bad.requests().size() >= 5 && a.status().failures >= 5; });
    const std::vector<fake_tracker::request> r = bad.requests();
    ASSERT_GE(r.size(), 5u);
    const std::chrono::milliseconds expected[] = {20ms, 40ms, 80ms, 80ms};
    for (int i = 0; i < 4; ++i) {
        const auto gap =
            std::chrono::duration_cast<std::chrono::milliseconds>(r[i + 1].at - r[i].at);
        EXPECT_GE(gap, expected[i] - 2ms) << i;
        EXPECT_LT(gap, expected[i] + 60ms) << i;
    }
    EXPECT_EQ(a.status().successes, 0u);
    EXPECT_GE(a.status().failures, 5u);
    EXPECT_NE(a.status().last_error.find("500"), std::string::npos) << a.status().last_error;
}

TEST(Announcer, HonoursIntervalAndMinInterval) {
    // interval 60 ms; then interval 10 ms but min interval 120 ms.
    fake_tracker t([](int i, const std::string&) { return i == 0 ? ok(60) : ok(10, 120); });
    announcer a(torrent_with({{t.url()}}), identity(), nullptr, nullptr, fast());
    run_until(a, [&] { return t.requests().size() >= 3; });
    const std::vector<fake_tracker::request> r = t.requests();
    ASSERT_GE(r.size(), 3u);
    const auto first = std::chrono::duration_cast<std::chrono::milliseconds>(r[1].at - r[0].at);
    const auto second = std::chrono::duration_cast<std::chrono::milliseconds>(r[2].at - r[1].at);
    EXPECT_GE(first, 58ms);
    EXPECT_LT(first, 110ms);
    EXPECT_GE(second, 118ms);
    EXPECT_LT(second, 200ms);
}

TEST(Announcer, ShortestIntervalFloorsTheTrackersInterval) {
    fake_tracker t([](int, const std::string&) { return ok(1); });
    announcer_timing timing = fast();
    timing.shortest_interval = 50ms;
    announcer a(torrent_with({{t.url()}}), identity(), nullptr, nullptr, timing);
    run_until(a, [&] { return t.requests().size() >= 3; });
    const std::vector<fake_tracker::request> r = t.requests();
    ASSERT_GE(r.size(), 3u);
    EXPECT_GE(r[2].at - r[1].at, 48ms);
}

TEST(Announcer, StoppedIsBoundedEvenWhenTheTrackerHangs) {
    fake_tracker t([](int i, const std::string&) {
        canned c = ok(10'000);
        if (i > 0) c.delay = 5s;  // the `stopped` announce hangs
        return c;
    });
    announcer_timing timing = fast();
    timing.stop_timeout = 200ms;
    announcer a(torrent_with({{t.url()}}), identity(), nullptr, nullptr, timing);
    const outcome o = run_until(a, [&] { return a.status().successes >= 1; });
    EXPECT_EQ(t.events(), (std::vector<std::string>{"started", "stopped"}));
    EXPECT_LT(o.stop_took, 1s);
}

TEST(Announcer, StopCutsAnAnnounceInProgressShort) {
    fake_tracker t([](int, const std::string&) {
        canned c = ok();
        c.delay = 10s;
        return c;
    });
    announcer a(torrent_with({{t.url()}}), identity(), nullptr, nullptr, fast());
    const outcome o = run_until(a, [&] { return !t.requests().empty(); });
    EXPECT_EQ(t.requests().size(), 1u);  // no `stopped`: it never answered
    EXPECT_LT(o.stop_took, 2500ms);      // libcurl looks at the cancel flag about every second
    EXPECT_EQ(a.status().failures, 0u);  // a cancelled announce is not the tracker's failure
}

TEST(Announcer, WithoutUsableTrackersWaitsForStop) {
    announcer a(torrent_with({{"wss://tracker.example/announce", "dht://x"}}), identity(), nullptr,
                nullptr, fast());
    EXPECT_EQ(a.status().notes.size(), 2u);
    const auto start = steady::now();
    int checks = 0;
    const outcome o = run_until(a, [&] { return ++checks > 5; });
    EXPECT_GE(steady::now() - start, 20ms);
    EXPECT_LT(o.stop_took, 100ms);

    announcer none(torrent_with({}), identity(), nullptr, nullptr, fast());
    checks = 0;
    const outcome o2 = run_until(none, [&] { return ++checks > 2; });
    EXPECT_LT(o2.stop_took, 100ms);
    EXPECT_TRUE(none.status().tracker.empty());
}

TEST(Announcer, StopSignalledBeforeRunStartsIsNotMissed) {
    fake_tracker t([](int, const std::string&) { return ok(); });
    announcer a(torrent_with({{t.url()}}), identity(), nullptr, nullptr, fast());
    const outcome o = run_until(a, [] { return true; });
    EXPECT_LT(o.ran, 1s);
}

}  // namespace
