#include "choker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace {

using hekate::choker;
using hekate::choker_config;
using hekate::peer_key;
using keys = std::vector<peer_key>;

constexpr std::int64_t s = 1'000'000'000;  // one second of the fake clock, in ns

choker_config small(std::size_t slots, std::size_t max_peers = 100, std::uint64_t credit = 1000) {
    choker_config c;
    c.max_unchoked = slots;
    c.max_peers = max_peers;
    c.credit = credit;
    return c;
}

// Connects the keys and makes them interested, in this order.
void join(choker& c, const keys& ks, std::int64_t now) {
    for (peer_key k : ks) {
        ASSERT_TRUE(c.add(k));
        c.interested(k, now);
    }
}

TEST(Choker, NewlyInterestedPeerGetsAFreeSlotAtOnce) {
    choker c(small(2));
    ASSERT_TRUE(c.add(1));
    EXPECT_TRUE(c.update(0).empty());  // not interested: does not wait
    EXPECT_EQ(c.waiting(), 0u);
    c.interested(1, 0);
    EXPECT_EQ(c.waiting(), 1u);
    auto d = c.update(0);
    EXPECT_EQ(d.unchoke, keys{1});
    EXPECT_TRUE(d.choke.empty());
    EXPECT_TRUE(c.is_unchoked(1));
    EXPECT_EQ(c.unchoked(), 1u);
    EXPECT_EQ(c.waiting(), 0u);
}

TEST(Choker, UnchokesOldestWaiterFirst) {
    choker c(small(2));
    join(c, {5, 3, 9, 7}, 0);
    EXPECT_EQ(c.update(0).unchoke, (keys{5, 3}));
    EXPECT_EQ(c.waiting(), 2u);
    c.remove(3);
    EXPECT_EQ(c.update(1).unchoke, keys{9});
    c.remove(5);
    EXPECT_EQ(c.update(2).unchoke, keys{7});
}

TEST(Choker, RefillWhenNobodyWaits) {
    choker c(small(1));
    join(c, {1}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    c.sent(1, 1000);  // credit exhausted: spent >= credit
    EXPECT_EQ(c.credit_left(1), 0u);
    auto refilled = c.update(1 * s);
    EXPECT_TRUE(refilled.empty());
    EXPECT_EQ(refilled.renew, keys{1});  // nothing to send, but a fresh turn
    EXPECT_EQ(c.credit_left(1), choker::full_credit(small(1)));
    EXPECT_TRUE(c.is_unchoked(1));
    // The refill granted a fresh credit: a waiter now has to wait for all of it.
    join(c, {2}, 2 * s);
    c.sent(1, 999);
    EXPECT_TRUE(c.update(2 * s).empty());
    c.sent(1, 1);
    auto d = c.update(3 * s);
    EXPECT_EQ(d.choke, keys{1});
    EXPECT_EQ(d.unchoke, keys{2});
    EXPECT_TRUE(d.drop.empty());
}

TEST(Choker, OutOfTimeRotates) {
    choker c(small(1));
    join(c, {1, 2}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    for (std::int64_t t = 1; t < 300; ++t) {
        c.requested(1, t * s);
        ASSERT_TRUE(c.update(t * s).empty()) << t;
    }
    c.requested(1, 300 * s - 1);
    auto d = c.update(300 * s);  // now - start >= 300 s
    EXPECT_EQ(d.choke, keys{1});
    EXPECT_EQ(d.unchoke, keys{2});
    for (std::int64_t t = 301; t < 600; ++t) {
        c.requested(2, t * s);
        ASSERT_TRUE(c.update(t * s).empty()) << t;
    }
    d = c.update(600 * s);
    EXPECT_EQ(d.choke, keys{2});
    EXPECT_EQ(d.unchoke, keys{1});
}

TEST(Choker, RefillRestartsTheTimer) {
    choker c(small(1));
    join(c, {1}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    for (std::int64_t t = 10; t <= 300; t += 10)
        c.requested(1, t * s);
    EXPECT_TRUE(c.update(300 * s).empty());  // time is up, nobody waits: new turn from 300 s
    join(c, {2}, 400 * s);
    for (std::int64_t t = 410; t < 600; t += 10) {
        c.requested(1, t * s);
        ASSERT_TRUE(c.update(t * s).empty()) << t;
    }
    auto d = c.update(600 * s);
    EXPECT_EQ(d.choke, keys{1});
    EXPECT_EQ(d.unchoke, keys{2});
}

TEST(Choker, IdlePeerLosesItsSlotToAWaiter) {
    choker c(small(1));
    join(c, {1, 2}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    c.requested(1, 20 * s);  // the idle timer restarts from the last request
    EXPECT_TRUE(c.update(29 * s).empty());
    EXPECT_TRUE(c.update(49 * s).empty());
    auto d = c.update(50 * s);
    EXPECT_EQ(d.choke, keys{1});
    EXPECT_EQ(d.unchoke, keys{2});
    EXPECT_EQ(c.waiting(), 1u);  // back of the queue, still interested
    EXPECT_TRUE(c.is_interested(1));
}

TEST(Choker, IdleCountsFromTheUnchoke) {
    choker c(small(1));
    join(c, {1}, 0);
    EXPECT_EQ(c.update(100 * s).unchoke, keys{1});  // unchoked late, at 100 s
    join(c, {2}, 100 * s);
    EXPECT_TRUE(c.update(129 * s).empty());
    EXPECT_EQ(c.update(130 * s).choke, keys{1});
}

TEST(Choker, IdlePeerKeepsItsSlotWhileNobodyWaits) {
    choker c(small(1));
    join(c, {1}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    for (std::int64_t t = 1; t <= 100; ++t)
        ASSERT_TRUE(c.update(t * s).empty());
    EXPECT_TRUE(c.is_unchoked(1));
    join(c, {2}, 100 * s);
    auto d = c.update(100 * s);
    EXPECT_EQ(d.choke, keys{1});
    EXPECT_EQ(d.unchoke, keys{2});
}

TEST(Choker, DropWhenFull) {
    choker c(small(1, 2));
    join(c, {1, 2}, 0);
    EXPECT_FALSE(c.admit());
    EXPECT_FALSE(c.add(3));
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    c.sent(1, 1000);
    auto d = c.update(1 * s);
    EXPECT_EQ(d.drop, keys{1});
    EXPECT_TRUE(d.choke.empty());
    EXPECT_EQ(d.unchoke, keys{2});
    EXPECT_FALSE(c.contains(1));
    EXPECT_EQ(c.connected(), 1u);
    EXPECT_TRUE(c.admit());
    c.remove(1);  // the caller's disconnect: already forgotten
    EXPECT_EQ(c.connected(), 1u);
    EXPECT_TRUE(c.add(3));
}

TEST(Choker, IdlePeerIsChokedNotDroppedWhenFull) {
    // Idle is not the end of a turn: the peer goes back to the queue even if the server is full.
    choker c(small(1, 2));
    join(c, {1, 2}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    auto d = c.update(30 * s);
    EXPECT_EQ(d.choke, keys{1});
    EXPECT_TRUE(d.drop.empty());
}

TEST(Choker, OnlyOneDropPerFreeConnection) {
    choker c(small(2, 3));
    join(c, {1, 2, 3}, 0);
    ASSERT_EQ(c.update(0).unchoke, (keys{1, 2}));
    c.sent(1, 1000);
    c.sent(2, 1000);
    // One waiter: one turn ends (the first to end), the other keeps its slot for now.
    auto d = c.update(1 * s);
    EXPECT_EQ(d.drop, keys{1});
    EXPECT_EQ(d.unchoke, keys{3});
    EXPECT_TRUE(d.choke.empty());
    EXPECT_TRUE(c.is_unchoked(2));
    // Nobody waited any more: peer 2's turn was refilled.
    join(c, {4}, 2 * s);
    EXPECT_TRUE(c.update(2 * s).empty());
    c.sent(2, 1000);
    d = c.update(3 * s);
    EXPECT_EQ(d.drop, keys{2});
    EXPECT_EQ(d.unchoke, keys{4});
}

TEST(Choker, TurnsEndOnlyForTheWaitersThatNeedThem) {
    choker c(small(3));
    join(c, {1, 2, 3, 4}, 0);
    ASSERT_EQ(c.update(0).unchoke, (keys{1, 2, 3}));
    c.sent(3, 1000);
    c.sent(1, 1000);
    c.sent(2, 1000);
    auto d = c.update(1 * s);
    EXPECT_EQ(d.choke, keys{3});  // the turn that ended first
    EXPECT_EQ(d.unchoke, keys{4});
    // Overdue turns rotate as soon as somebody waits again...
    d = c.update(2 * s);
    EXPECT_EQ(d.choke, keys{1});
    EXPECT_EQ(d.unchoke, keys{3});
    // ...and are refilled when nobody does.
    c.not_interested(1, 2 * s);
    EXPECT_TRUE(c.update(3 * s).empty());
    EXPECT_TRUE(c.is_unchoked(2));
    c.sent(2, 999);  // a fresh credit
    join(c, {5}, 4 * s);
    EXPECT_TRUE(c.update(4 * s).empty());
    c.sent(2, 1);
    d = c.update(5 * s);
    EXPECT_EQ(d.choke, keys{2});
    EXPECT_EQ(d.unchoke, keys{5});
}

TEST(Choker, NotInterestedFreesTheSlot) {
    choker c(small(1));
    join(c, {1, 2}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    c.not_interested(1, 1 * s);
    EXPECT_FALSE(c.is_unchoked(1));
    EXPECT_FALSE(c.is_interested(1));
    auto d = c.update(1 * s);
    EXPECT_EQ(d.choke, keys{1});
    EXPECT_EQ(d.unchoke, keys{2});
    EXPECT_EQ(c.waiting(), 0u);
    EXPECT_TRUE(c.update(2 * s).empty());
}

TEST(Choker, NotInterestedLeavesTheQueue) {
    choker c(small(1));
    join(c, {1, 2, 3}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    c.not_interested(2, 0);
    EXPECT_EQ(c.waiting(), 1u);
    c.remove(1);
    EXPECT_EQ(c.update(1 * s).unchoke, keys{3});
    c.interested(2, 1 * s);  // back of the queue
    EXPECT_EQ(c.waiting(), 1u);
}

TEST(Choker, InterestRegainedBeforeTheUpdateChangesNothingForThePeer) {
    choker c(small(1));
    join(c, {1}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    c.sent(1, 1000);
    c.not_interested(1, 1 * s);
    c.interested(1, 1 * s);
    auto d = c.update(1 * s);
    EXPECT_TRUE(d.empty());
    EXPECT_EQ(d.renew, keys{1});  // a new turn all the same
    EXPECT_EQ(c.credit_left(1), 1000u);
    EXPECT_TRUE(c.is_unchoked(1));
}

TEST(Choker, RemovingAnUnchokedPeerLetsTheNextWaiterIn) {
    choker c(small(2));
    join(c, {1, 2, 3, 4}, 0);
    ASSERT_EQ(c.update(0).unchoke, (keys{1, 2}));
    c.remove(2);
    EXPECT_EQ(c.unchoked(), 1u);
    auto d = c.update(1 * s);
    EXPECT_EQ(d.unchoke, keys{3});
    EXPECT_TRUE(d.choke.empty());
    c.remove(4);   // a waiter
    c.remove(42);  // unknown
    EXPECT_EQ(c.waiting(), 0u);
    EXPECT_EQ(c.connected(), 2u);
}

TEST(Choker, SentWhileChokedIsIgnored) {
    choker c(small(1));
    join(c, {1, 2}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    c.sent(2, 5000);  // a block in flight when it was choked, say
    c.sent(1, 999);
    EXPECT_TRUE(c.update(1 * s).empty());
}

TEST(Choker, CreditLeftIsWhatTheTurnMayStillSend) {
    choker c(small(1));
    join(c, {1, 2}, 0);
    EXPECT_EQ(c.credit_left(1), 0u);  // waiting: no turn yet
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    EXPECT_EQ(c.credit_left(1), 1000u);
    EXPECT_EQ(c.credit_left(2), 0u);
    c.sent(1, 600);
    EXPECT_EQ(c.credit_left(1), 400u);
    c.sent(1, 400);  // the credit is reached: the turn is over
    EXPECT_EQ(c.credit_left(1), 0u);
    auto d = c.update(1 * s);
    EXPECT_EQ(d.choke, keys{1});
    EXPECT_EQ(d.unchoke, keys{2});
    EXPECT_EQ(c.credit_left(2), 1000u);
    EXPECT_EQ(c.credit_left(3), 0u);  // unknown
}

TEST(Choker, CreditLeftIsUnboundedWithoutACredit) {
    choker c(small(1, 100, 0));
    join(c, {1}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    c.sent(1, std::uint64_t{1} << 40);
    EXPECT_EQ(c.credit_left(1), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(choker::full_credit(small(1, 100, 0)), std::numeric_limits<std::uint64_t>::max());
}

TEST(Choker, ZeroDisablesTheLimits) {
    choker_config cfg = small(1, 100, 0);
    cfg.max_unchoked_time = std::chrono::nanoseconds(0);
    cfg.request_idle = std::chrono::nanoseconds(0);
    choker c(cfg);
    join(c, {1, 2}, 0);
    ASSERT_EQ(c.update(0).unchoke, keys{1});
    c.sent(1, std::uint64_t{1} << 40);
    EXPECT_TRUE(c.update(100'000 * s).empty());
}

TEST(Choker, ClockGoingBackIsTheLatestTimeSeen) {
    choker c(small(1));
    join(c, {1, 2}, 100 * s);
    ASSERT_EQ(c.update(100 * s).unchoke, keys{1});
    EXPECT_TRUE(c.update(120 * s).empty());
    c.requested(1, 50 * s);  // counts as 120 s
    EXPECT_TRUE(c.update(149 * s).empty());
    EXPECT_EQ(c.update(150 * s).choke, keys{1});
}

// 3N interested peers that request and download continuously: each turn ends by credit,
// every peer gets a turn within two turns of waiting, and the unchokes go round in the order
// the peers first asked.
TEST(Choker, NoStarvationRoundRobin) {
    constexpr std::size_t n = 50;
    choker_config cfg;
    cfg.max_unchoked = n;
    cfg.max_peers = 10 * n;
    choker c(cfg);
    keys all;
    for (peer_key k = 0; k < 3 * n; ++k)
        all.push_back(1000 + k);
    join(c, all, 0);

    keys order;
    std::map<peer_key, std::int64_t> last_unchoke;
    std::int64_t longest_wait = 0;
    constexpr std::uint64_t per_second = 128 * 1024;  // a turn lasts 8 s
    for (std::int64_t t = 0; t <= 600; ++t) {
        for (peer_key k : all) {
            if (!c.is_unchoked(k)) continue;
            c.requested(k, t * s);
            c.sent(k, per_second);
        }
        auto d = c.update(t * s);
        ASSERT_LE(c.unchoked(), n);
        ASSERT_TRUE(d.drop.empty());
        for (peer_key k : d.choke) {
            auto it = last_unchoke.find(k);
            ASSERT_NE(it, last_unchoke.end());
            EXPECT_EQ(t - it->second, 8);  // exactly one credit per turn
        }
        for (peer_key k : d.unchoke) {
            order.push_back(k);
            auto it = last_unchoke.find(k);
            if (it != last_unchoke.end()) longest_wait = std::max(longest_wait, t - it->second);
            last_unchoke[k] = t;
        }
    }
    for (peer_key k : all) {
        ASSERT_TRUE(last_unchoke.contains(k)) << k;
        EXPECT_GE(last_unchoke[k], 600 - 3 * 8) << k;
    }
    EXPECT_LE(longest_wait, 3 * 8);  // its own turn and two turns of waiting
    ASSERT_GE(order.size(), 10 * all.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
        ASSERT_EQ(order[i], all[i % all.size()]) << i;
    }
}

// Peers that download at different speeds still take turns oldest waiter first: checked
// against a model queue.
TEST(Choker, UnevenSpeedsStillOldestWaiterFirst) {
    constexpr std::size_t n = 10;
    choker c(small(n, 1000, 1 << 20));
    keys all;
    for (peer_key k = 0; k < 4 * n; ++k)
        all.push_back(k);
    join(c, all, 0);
    std::deque<peer_key> model(all.begin(), all.end());
    std::mt19937_64 rng(7);
    std::map<peer_key, int> turns;
    for (std::int64_t t = 0; t < 2000; ++t) {
        for (peer_key k : all) {
            if (!c.is_unchoked(k)) continue;
            c.requested(k, t * s);
            c.sent(k, (k % 7 + 1) * 16 * 1024 + rng() % 4096);
        }
        auto d = c.update(t * s);
        for (peer_key k : d.choke)
            model.push_back(k);
        for (peer_key k : d.unchoke) {
            ASSERT_FALSE(model.empty());
            ASSERT_EQ(model.front(), k) << "at " << t;
            model.pop_front();
            ++turns[k];
        }
        ASSERT_EQ(model.size(), c.waiting());
    }
    // The slowest peer needs 8x the time of the fastest per turn, and waits as long.
    for (peer_key k : all)
        EXPECT_GE(turns[k], 5) << k;
}

// Random events on thousands of peers: after every update the bounds hold, what the caller
// was told matches the choker's view, and the queue counts only interested choked peers.
TEST(Choker, RandomEventsRespectBounds) {
    choker_config cfg;
    cfg.max_unchoked = 100;
    cfg.max_peers = 1000;
    cfg.credit = 256 * 1024;
    cfg.max_unchoked_time = std::chrono::seconds(20);
    cfg.request_idle = std::chrono::seconds(15);
    choker c(cfg);

    std::mt19937_64 rng(12345);
    std::vector<peer_key> live;     // connected, for random picks
    std::map<peer_key, bool> told;  // connected peer -> told unchoked
    peer_key next_key = 1;
    std::int64_t now = 0;
    std::size_t drops = 0, chokes = 0, unchokes = 0;

    auto pick = [&]() -> peer_key { return live[rng() % live.size()]; };
    // Requests and sends mostly go to unchoked peers, as in a real swarm.
    auto pick_unchoked = [&]() -> peer_key {
        peer_key k = pick();
        for (int tries = 0; tries < 20 && !c.is_unchoked(k); ++tries)
            k = pick();
        return k;
    };
    auto forget = [&](peer_key k) {
        live.erase(std::find(live.begin(), live.end(), k));
        told.erase(k);
    };

    for (int step = 0; step < 4000; ++step) {
        const int events = static_cast<int>(rng() % 60);
        for (int e = 0; e < events; ++e) {
            const unsigned what = rng() % 100;
            if (what < 15) {
                if (c.admit()) {
                    ASSERT_TRUE(c.add(next_key));
                    live.push_back(next_key);
                    told[next_key] = false;
                    ++next_key;
                } else {
                    ASSERT_FALSE(c.add(next_key++));
                }
            } else if (live.empty()) {
                continue;
            } else if (what < 20) {
                peer_key k = pick();
                c.remove(k);
                forget(k);
            } else if (what < 40) {
                c.interested(pick(), now);
            } else if (what < 45) {
                c.not_interested(pick(), now);
            } else if (what < 75) {
                c.requested(pick_unchoked(), now);
            } else {
                c.sent(pick_unchoked(), rng() % (64 * 1024));
            }
        }
        now += static_cast<std::int64_t>(rng() % (2 * s));
        auto d = c.update(now);

        std::set<peer_key> seen;
        for (const keys* list : {&d.unchoke, &d.choke, &d.drop}) {
            for (peer_key k : *list)
                ASSERT_TRUE(seen.insert(k).second) << "twice: " << k;
        }
        for (peer_key k : d.drop) {
            ASSERT_FALSE(c.contains(k));
            forget(k);
            ++drops;
        }
        for (peer_key k : d.unchoke) {
            ASSERT_FALSE(told.at(k));
            told[k] = true;
            ++unchokes;
        }
        for (peer_key k : d.choke) {
            ASSERT_TRUE(told.at(k));
            told[k] = false;
            ++chokes;
        }
        ASSERT_LE(c.unchoked(), cfg.max_unchoked);
        ASSERT_LE(c.connected(), cfg.max_peers);
        ASSERT_EQ(c.connected(), live.size());
        std::size_t unchoked = 0, waiting = 0;
        for (auto [k, t] : told) {
            ASSERT_EQ(t, c.is_unchoked(k)) << k;
            if (t) {
                ++unchoked;
                ASSERT_TRUE(c.is_interested(k));
            } else if (c.is_interested(k)) {
                ++waiting;
            }
        }
        ASSERT_EQ(unchoked, c.unchoked());
        ASSERT_EQ(waiting, c.waiting());
        // Slots are never left free while somebody waits.
        ASSERT_TRUE(c.waiting() == 0 || c.unchoked() == cfg.max_unchoked);
    }
    // The run exercised every path.
    EXPECT_GT(next_key, 5000u);
    EXPECT_GT(drops, 0u);
    EXPECT_GT(chokes, 1000u);
    EXPECT_GT(unchokes, 1000u);
}

TEST(Choker, ManyPeersStayCheap) {
    // 50,000 peers, 50 slots: a second of events and an update per second stay O(changes).
    choker_config cfg;
    cfg.max_peers = 100'000;
    choker c(cfg);
    keys all;
    for (peer_key k = 0; k < 50'000; ++k)
        all.push_back(k);
    join(c, all, 0);
    std::size_t unchokes = 0;
    for (std::int64_t t = 0; t < 3000; ++t) {
        auto d = c.update(t * s);
        unchokes += d.unchoke.size();
        for (peer_key k : d.unchoke)
            c.sent(k, cfg.credit);  // each turn ends at once
    }
    EXPECT_EQ(c.unchoked(), 50u);
    EXPECT_EQ(unchokes, 3000u * 50u);
}

}  // namespace
