// detail::timer_heap against a std::multimap model: random adds, cancels and expirations,
// ties in insertion order, and slots kept right in every node.
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "cpc/detail/timer_heap.hpp"
#include "test_support.hpp"

namespace {

using cpc::detail::timer_heap;
using cpc::detail::timer_node;

// A multimap keeps equal keys in insertion order: the order the heap must fire ties in.
class model {
  public:
    void add(timer_node* t, std::int64_t deadline) { entries_.emplace(deadline, t); }
    void cancel(timer_node* t, std::int64_t deadline) {
        auto [first, last] = entries_.equal_range(deadline);
        for (auto it = first; it != last; ++it) {
            if (it->second == t) {
                entries_.erase(it);
                return;
            }
        }
        ADD_FAILURE() << "cancel of a timer the model does not hold";
    }
    timer_node* pop_expired(std::int64_t now) {
        if (entries_.empty() || entries_.begin()->first > now) return nullptr;
        timer_node* t = entries_.begin()->second;
        entries_.erase(entries_.begin());
        return t;
    }
    std::size_t size() const { return entries_.size(); }
    std::int64_t next_deadline() const { return entries_.begin()->first; }

  private:
    std::multimap<std::int64_t, timer_node*> entries_;
};

TEST(TimerHeap, EmptyHeap) {
    timer_heap h;
    EXPECT_TRUE(h.empty());
    EXPECT_EQ(h.size(), 0u);
    EXPECT_EQ(h.pop_expired(1'000'000), nullptr);
}

TEST(TimerHeap, FiresInDeadlineOrderWithTiesInInsertionOrder) {
    timer_heap h;
    std::vector<timer_node> nodes(8);
    const std::int64_t deadlines[8] = {50, 10, 30, 10, 50, 20, 10, 0};
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        h.add(&nodes[i], deadlines[i]);
        EXPECT_TRUE(nodes[i].pending());
    }
    EXPECT_EQ(h.size(), 8u);
    EXPECT_EQ(h.next_deadline(), 0);
    EXPECT_EQ(h.pop_expired(-1), nullptr);  // nothing due yet
    std::vector<std::size_t> order;
    while (timer_node* t = h.pop_expired(100)) {
        EXPECT_FALSE(t->pending());
        order.push_back(static_cast<std::size_t>(t - nodes.data()));
    }
    EXPECT_EQ(order, (std::vector<std::size_t>{7, 1, 3, 6, 5, 2, 0, 4}));
    EXPECT_TRUE(h.empty());
}

TEST(TimerHeap, PopExpiredStopsAtNow) {
    timer_heap h;
    timer_node a;
    timer_node b;
    h.add(&a, 10);
    h.add(&b, 20);
    EXPECT_EQ(h.pop_expired(9), nullptr);
    EXPECT_EQ(h.pop_expired(10), &a);  // a deadline equal to now is due
    EXPECT_EQ(h.pop_expired(19), nullptr);
    EXPECT_EQ(h.next_deadline(), 20);
    EXPECT_EQ(h.pop_expired(25), &b);
}

TEST(TimerHeap, CancelInPlace) {
    timer_heap h;
    std::vector<timer_node> nodes(20);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        h.add(&nodes[i], static_cast<std::int64_t>((i * 7) % 20));
    }
    // Cancel the root, a leaf and a middle node.
    timer_node* root = nullptr;
    for (auto& n : nodes) {
        if (n.slot == 0) root = &n;
    }
    ASSERT_NE(root, nullptr);
    h.cancel(root);
    EXPECT_FALSE(root->pending());
    h.cancel(&nodes[19]);
    h.cancel(&nodes[10]);
    EXPECT_EQ(h.size(), 17u);
    std::int64_t last = -1;
    std::size_t popped = 0;
    while (timer_node* t = h.pop_expired(1000)) {
        EXPECT_NE(t, root);
        EXPECT_NE(t, &nodes[19]);
        EXPECT_NE(t, &nodes[10]);
        const auto i = static_cast<std::int64_t>(t - nodes.data());
        const std::int64_t d = (i * 7) % 20;
        EXPECT_GE(d, last);
        last = d;
        ++popped;
    }
    EXPECT_EQ(popped, 17u);
}

TEST(TimerHeap, RandomOperationsAgainstAMultimap) {
    std::mt19937_64 rng(12345);
    constexpr std::size_t kNodes = 256;
    std::vector<timer_node> nodes(kNodes);
    std::vector<std::int64_t> deadline_of(kNodes, 0);
    timer_heap h;
    model m;
    std::int64_t now = 0;
    std::size_t fired = 0;
    std::size_t cancelled = 0;

    for (int step = 0; step < 200'000; ++step) {
        const unsigned op = static_cast<unsigned>(rng() % 10);
        timer_node* t = &nodes[rng() % kNodes];
        const std::size_t i = static_cast<std::size_t>(t - nodes.data());
        if (op < 5) {
            if (!t->pending()) {
                // Small range of deadlines: many ties.
                const std::int64_t d = now + static_cast<std::int64_t>(rng() % 256);
                deadline_of[i] = d;
                h.add(t, d);
                m.add(t, d);
            }
        } else if (op < 7) {
            if (t->pending()) {
                h.cancel(t);
                m.cancel(t, deadline_of[i]);
                EXPECT_FALSE(t->pending());
                ++cancelled;
            }
        } else {
            now += static_cast<std::int64_t>(rng() % 8);
            for (;;) {
                timer_node* got = h.pop_expired(now);
                timer_node* want = m.pop_expired(now);
                ASSERT_EQ(got, want) << "step " << step;
                if (!got) break;
                EXPECT_FALSE(got->pending());
                ++fired;
            }
        }
        ASSERT_EQ(h.size(), m.size()) << "step " << step;
        ASSERT_EQ(h.empty(), m.size() == 0);
        if (!h.empty()) {
            ASSERT_EQ(h.next_deadline(), m.next_deadline()) << "step " << step;
        }
    }
    // Every pending node knows its slot: slots are distinct and in range.
    std::vector<bool> used(h.size(), false);
    for (const timer_node& n : nodes) {
        if (!n.pending()) continue;
        ASSERT_LT(n.slot, used.size());
        EXPECT_FALSE(used[n.slot]);
        used[n.slot] = true;
    }
    // Drain in order.
    for (;;) {
        timer_node* got = h.pop_expired(INT64_MAX);
        timer_node* want = m.pop_expired(INT64_MAX);
        ASSERT_EQ(got, want);
        if (!got) break;
    }
    // The run exercised both ways out of the heap (about 74000 and 7500 with this seed).
    EXPECT_GT(fired, 10'000u);
    EXPECT_GT(cancelled, 2'000u);
}

TEST(TimerHeap, ReAddAfterFireAndCancel) {
    timer_heap h;
    timer_node a;
    h.add(&a, 5);
    EXPECT_EQ(h.pop_expired(5), &a);
    h.add(&a, 7);
    EXPECT_TRUE(a.pending());
    h.cancel(&a);
    EXPECT_FALSE(a.pending());
    h.add(&a, 9);
    EXPECT_EQ(h.next_deadline(), 9);
    EXPECT_EQ(h.pop_expired(9), &a);
    EXPECT_TRUE(h.empty());
}

TEST(TimerHeap, AMillionTimers) {
    timer_heap h;
    std::vector<timer_node> nodes(1'000'000);
    std::mt19937_64 rng(7);
    for (auto& n : nodes)
        h.add(&n, static_cast<std::int64_t>(rng() % 1'000'000));
    // Cancel every other one.
    for (std::size_t i = 0; i < nodes.size(); i += 2)
        h.cancel(&nodes[i]);
    EXPECT_EQ(h.size(), 500'000u);
    std::int64_t last = -1;
    std::size_t n = 0;
    std::int64_t now = 0;
    while (!h.empty()) {
        now = h.next_deadline();
        EXPECT_GE(now, last);
        last = now;
        while (h.pop_expired(now))
            ++n;
    }
    EXPECT_EQ(n, 500'000u);
}

}  // namespace
