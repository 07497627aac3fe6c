#include "request_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <vector>

namespace hekate {
namespace {

wire::block_request block(std::uint32_t i) {
    return {i, i * 16384, 16384};
}

TEST(RequestQueue, FirstInFirstOutAcrossGrowth) {
    request_queue q(100);
    for (std::uint32_t i = 0; i < 50; ++i)
        ASSERT_TRUE(q.push(block(i)));
    for (std::uint32_t i = 0; i < 20; ++i)
        EXPECT_EQ(q.pop(), block(i));
    for (std::uint32_t i = 50; i < 90; ++i)
        ASSERT_TRUE(q.push(block(i)));
    for (std::uint32_t i = 20; i < 90; ++i)
        EXPECT_EQ(q.pop(), block(i));
    EXPECT_TRUE(q.empty());
}

TEST(RequestQueue, RefusesBeyondItsBound) {
    request_queue q(3);
    EXPECT_TRUE(q.push(block(1)));
    EXPECT_TRUE(q.push(block(2)));
    EXPECT_TRUE(q.push(block(3)));
    EXPECT_FALSE(q.push(block(4)));
    EXPECT_EQ(q.size(), 3u);
}

TEST(RequestQueue, CancelRemovesOneAndKeepsOrder) {
    request_queue q(10);
    for (std::uint32_t i = 0; i < 5; ++i)
        q.push(block(i));
    EXPECT_TRUE(q.cancel(block(2)));
    EXPECT_FALSE(q.cancel(block(2)));
    EXPECT_FALSE(q.cancel(block(9)));
    std::vector<std::uint32_t> left;
    q.drain([&](const wire::block_request& r) { left.push_back(r.piece); });
    EXPECT_EQ(left, (std::vector<std::uint32_t>{0, 1, 3, 4}));
    EXPECT_TRUE(q.empty());
}

std::vector<wire::block_request> drained(request_queue& q) {
    std::vector<wire::block_request> out;
    q.drain([&](const wire::block_request& r) { out.push_back(r); });
    return out;
}

TEST(RequestQueue, CancelOfEqualRequestsRemovesTheOldest) {
    request_queue q(10);
    q.push(block(1));
    q.push(block(2));
    q.push(block(1));
    q.push(block(3));
    q.push(block(1));
    EXPECT_TRUE(q.cancel(block(1)));
    EXPECT_EQ(drained(q), (std::vector{block(2), block(1), block(3), block(1)}));
}

TEST(RequestQueue, CancelTheOldestTheYoungestAndTheOnlyOne) {
    request_queue q(10);
    EXPECT_FALSE(q.cancel(block(1)));  // empty
    q.push(block(1));
    EXPECT_TRUE(q.cancel(block(1)));
    EXPECT_TRUE(q.empty());
    for (std::uint32_t i = 0; i < 4; ++i)
        q.push(block(i));
    EXPECT_TRUE(q.cancel(block(0)));
    EXPECT_TRUE(q.cancel(block(3)));
    EXPECT_TRUE(q.push(block(7)));
    EXPECT_EQ(drained(q), (std::vector{block(1), block(2), block(7)}));
}

TEST(RequestQueue, RequestsDifferingInOneFieldAreDifferent) {
    request_queue q(10);
    q.push({5, 0, 16384});
    q.push({5, 16384, 16384});
    q.push({5, 0, 8192});
    q.push({6, 0, 16384});
    EXPECT_FALSE(q.cancel({5, 0, 4096}));
    EXPECT_TRUE(q.cancel({5, 0, 8192}));
    EXPECT_EQ(drained(q),
              (std::vector<wire::block_request>{{5, 0, 16384}, {5, 16384, 16384}, {6, 0, 16384}}));
}

// A full queue's cancels do not depend on where the request sits, and a cancelled request
// frees its place for a new one.
TEST(RequestQueue, CancelsAtTheBound) {
    constexpr std::uint32_t n = 500;
    request_queue q(n);
    for (std::uint32_t i = 0; i < n; ++i)
        ASSERT_TRUE(q.push(block(i)));
    EXPECT_FALSE(q.push(block(n)));
    for (std::uint32_t i = n; i-- > 0;) {
        if (i % 2) {
            ASSERT_TRUE(q.cancel(block(i))) << i;
        }
    }
    EXPECT_EQ(q.size(), n / 2);
    for (std::uint32_t i = 0; i < n / 2; ++i)
        ASSERT_TRUE(q.push(block(n + i)));
    EXPECT_FALSE(q.push(block(2 * n)));
    const std::vector<wire::block_request> left = drained(q);
    ASSERT_EQ(left.size(), n);
    for (std::uint32_t i = 0; i < n / 2; ++i) {
        EXPECT_EQ(left[i], block(2 * i));
        EXPECT_EQ(left[n / 2 + i], block(n + i));
    }
}

// Against the obvious model (a deque, cancel by scan): random pushes, pops and cancels, with
// few distinct values so that equal requests are common, across growth, emptying and the
// bound.
TEST(RequestQueue, BehavesAsAScannedQueue) {
    std::mt19937 rng(7);
    request_queue q(64);
    std::deque<wire::block_request> model;
    for (int step = 0; step < 200000; ++step) {
        const wire::block_request r = block(static_cast<std::uint32_t>(rng() % 24));
        // Phases of 1,000 steps that fill the queue (to its bound) and that empty it.
        const bool filling = (step / 1000) % 2 == 0;
        const unsigned dice = rng() % 4;
        const int op = dice < (filling ? 3u : 1u) ? 0 : 1 + static_cast<int>(dice % 2);
        switch (op) {
            case 0:
                ASSERT_EQ(q.push(r), model.size() < 64);
                if (model.size() < 64) model.push_back(r);
                break;
            case 1:
                if (model.empty()) break;
                ASSERT_EQ(q.pop(), model.front());
                model.pop_front();
                break;
            case 2: {
                const auto it = std::find(model.begin(), model.end(), r);
                ASSERT_EQ(q.cancel(r), it != model.end());
                if (it != model.end()) model.erase(it);
                break;
            }
        }
        ASSERT_EQ(q.size(), model.size());
    }
    ASSERT_EQ(drained(q), std::vector(model.begin(), model.end()));
}

}  // namespace
}  // namespace hekate
