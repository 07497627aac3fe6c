#include "token_bucket.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <queue>
#include <random>
#include <utility>
#include <vector>

namespace {

using hekate::token_bucket;

constexpr std::int64_t s = 1'000'000'000;  // one second of the fake clock, in ns

TEST(TokenBucket, ZeroIsUnlimited) {
    token_bucket b(0, 0);
    EXPECT_TRUE(b.unlimited());
    for (std::int64_t t = 0; t < 1000; ++t) {
        ASSERT_EQ(b.reserve(std::uint64_t{1} << 40, t), 0);
    }
}

TEST(TokenBucket, BurstGoesAtOnceThenTheRate) {
    token_bucket b(1000, 5000);
    EXPECT_EQ(b.available(0), 5000);
    EXPECT_EQ(b.reserve(2000, 0), 0);
    EXPECT_EQ(b.reserve(3000, 0), 0);
    EXPECT_EQ(b.available(0), 0);
    EXPECT_EQ(b.reserve(1000, 0), 1 * s);
    EXPECT_EQ(b.available(0), -1000);
    // Reservations queue: each waits behind the debt of the ones before.
    EXPECT_EQ(b.reserve(500, 0), s + s / 2);
    EXPECT_EQ(b.reserve(1, 0), s + s / 2 + s / 1000);
}

TEST(TokenBucket, RefillsUpToTheBurstOnly) {
    token_bucket b(1000, 5000);
    EXPECT_EQ(b.reserve(5000, 0), 0);
    EXPECT_EQ(b.available(2 * s), 2000);
    EXPECT_EQ(b.available(3600 * s), 5000);  // an hour idle saves no more than the burst
    EXPECT_EQ(b.reserve(5000, 3600 * s), 0);
    EXPECT_EQ(b.reserve(1000, 3600 * s), 1 * s);
}

TEST(TokenBucket, BlockLargerThanTheBurstWaitsForTheRest) {
    token_bucket b(1000, 1000);
    EXPECT_EQ(b.reserve(3000, 0), 2 * s);
    EXPECT_EQ(b.reserve(1000, 2 * s), 1 * s);
}

TEST(TokenBucket, ZeroBurstPacesStrictly) {
    token_bucket b(16 * 1024, 0);
    EXPECT_EQ(b.reserve(16 * 1024, 0), 1 * s);
    EXPECT_EQ(b.reserve(16 * 1024, 1 * s), 1 * s);
    EXPECT_EQ(b.reserve(8 * 1024, 3 * s), s / 2);  // the idle second saved nothing
}

TEST(TokenBucket, DelaysRoundUpWithoutDrift) {
    {
        token_bucket b(3, 1);           // a third of a second per byte
        ASSERT_EQ(b.reserve(1, 0), 0);  // the burst
        std::int64_t t = 0;
        for (int i = 0; i < 3000; ++i)
            t += b.reserve(1, t);
        EXPECT_EQ(t, 1000 * s);  // exact: the fraction of a ns each wait rounds up is kept
    }
    {
        // With no burst the bucket cannot hold that fraction: under 1 ns lost per wait.
        token_bucket b(3, 0);
        std::int64_t t = 0;
        for (int i = 0; i < 3000; ++i)
            t += b.reserve(1, t);
        EXPECT_GE(t, 1000 * s);
        EXPECT_LE(t, 1000 * s + 3000);
    }
}

TEST(TokenBucket, ClockGoingBackCountsAsTheLatestTime) {
    token_bucket b(1000, 0);
    EXPECT_EQ(b.reserve(1000, 10 * s), 1 * s);
    // Told 5 s, the bucket is still at 10 s: the wait is measured from the caller's clock.
    EXPECT_EQ(b.reserve(1000, 5 * s), 7 * s);
}

// Many writers each reserve a block, sleep the delay, send, and come back after a random
// pause. Over a long fake run: in every window of time, the bytes sent are at most
// max(burst, largest block) + rate * (window + 1 ns), and with writers always ready the
// rate is reached.
void run_writers(std::uint64_t rate, std::uint64_t burst, int writers, std::uint64_t block,
                 std::int64_t duration, std::uint64_t seed) {
    token_bucket b(rate, burst);
    std::mt19937_64 rng(seed);
    using event = std::pair<std::int64_t, int>;  // next reservation time, writer
    std::priority_queue<event, std::vector<event>, std::greater<>> ready;
    for (int w = 0; w < writers; ++w)
        ready.emplace(static_cast<std::int64_t>(rng() % s), w);
    std::vector<std::pair<std::int64_t, std::uint64_t>> sends;  // send time, bytes
    const std::int64_t first = ready.top().first;
    std::uint64_t largest = 0;
    while (!ready.empty()) {
        auto [t, w] = ready.top();
        ready.pop();
        if (t >= duration) continue;
        const std::uint64_t bytes = 1 + rng() % block;
        largest = std::max(largest, bytes);
        const std::int64_t delay = b.reserve(bytes, t);
        ASSERT_GE(delay, 0);
        sends.emplace_back(t + delay, bytes);
        ready.emplace(t + delay + static_cast<std::int64_t>(rng() % (s / 1000)), w);
    }
    std::sort(sends.begin(), sends.end());

    // Kadane over the send times, exact in bytes * 1e9: worst is the largest excess of bytes
    // sent in a window [a, b] over rate * (b - a), for all windows ending at each send.
    using wide = __int128;
    // A nanosecond of rate: a wait rounded up to the ns lets that much more accrue.
    const wide cap = static_cast<wide>(std::max(burst, largest)) * s + rate;
    wide worst = 0;
    wide excess = 0;
    std::int64_t previous = sends.front().first;
    std::uint64_t total = 0;
    for (auto [t, bytes] : sends) {
        excess -= static_cast<wide>(rate) * (t - previous);
        if (excess < 0) excess = 0;
        excess += static_cast<wide>(bytes) * s;
        worst = std::max(worst, excess);
        previous = t;
        total += bytes;
    }
    EXPECT_LE(worst, cap) << "a window exceeded burst + rate * window";
    const std::int64_t last = sends.back().first;
    // Never above the rate on the whole run, and within a few blocks of it: the writers
    // always want more, so no token goes unused.
    EXPECT_LE(static_cast<wide>(total) * s, cap + static_cast<wide>(rate) * (last - first));
    EXPECT_GE(static_cast<wide>(total + 2 * block) * s, static_cast<wide>(rate) * (last - first));
    EXPECT_GE(last, duration - s);
}

TEST(TokenBucket, RateRespectedOverALongRun) {
    run_writers(10 * 1024 * 1024, 256 * 1024, 32, 16 * 1024, 600 * s, 1);
}

TEST(TokenBucket, RateRespectedWithBlocksBiggerThanTheBurst) {
    run_writers(1'000'003, 4096, 5, 64 * 1024, 600 * s, 2);
}

TEST(TokenBucket, RateRespectedWithOneWriter) {
    run_writers(123'456, 16 * 1024, 1, 16 * 1024, 3600 * s, 3);
}

// Writers that pause for a long time let the bucket fill: the burst goes at once, and the
// window bound still holds.
TEST(TokenBucket, BurstAfterIdleIsBounded) {
    constexpr std::uint64_t rate = 100'000;
    constexpr std::uint64_t burst = 50'000;
    token_bucket b(rate, burst);
    std::int64_t t = 0;
    for (int round = 0; round < 100; ++round) {
        t += 10 * s;  // idle: the bucket is full again
        std::uint64_t at_once = 0;
        std::int64_t when = t;
        for (int i = 0; i < 20; ++i) {
            const std::int64_t d = b.reserve(10'000, when);
            if (d == 0) at_once += 10'000;
            when += d;
        }
        ASSERT_EQ(at_once, burst);
        // 200,000 bytes: 50,000 at once, the other 150,000 at the rate.
        ASSERT_EQ(when - t, 150'000 * s / static_cast<std::int64_t>(rate));
        t = when;
    }
}

}  // namespace
