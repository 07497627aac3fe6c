#include "request_queue.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace hekate
