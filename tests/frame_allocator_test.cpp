// detail::allocate_frame / deallocate_frame: blocks of every size class are distinct, aligned
// and writable; freed blocks are reused; lists that grow past their bound go through the
// shared depot; frees from other kernel threads. Under AddressSanitizer (CPC_PLAIN_FRAMES)
// frames are plain allocations, and the same tests check the plain path.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

#include "cpc/detail/frame_allocator.hpp"
#include "test_support.hpp"

namespace {

using cpc::detail::allocate_frame;
using cpc::detail::deallocate_frame;
using cpc::detail::kFrameCacheLimit;
using cpc::detail::kFrameGranule;
using cpc::detail::kMaxPooledFrame;

struct block {
    void* p;
    std::size_t size;
    unsigned char tag;
};

block make_block(std::size_t size, unsigned char tag) {
    block b{allocate_frame(size), size, tag};
    std::memset(b.p, tag, size);
    return b;
}

bool intact(const block& b) {
    const auto* bytes = static_cast<const unsigned char*>(b.p);
    return std::all_of(bytes, bytes + b.size, [&](unsigned char c) { return c == b.tag; });
}

void free_block(const block& b) {
    deallocate_frame(b.p, b.size);
}

TEST(FrameAllocator, EverySizeIsAlignedWritableAndDistinct) {
    std::vector<block> blocks;
    for (std::size_t size = 1; size <= kMaxPooledFrame + 100; ++size) {
        blocks.push_back(make_block(size, static_cast<unsigned char>(size * 13)));
    }
    for (const block& b : blocks) {
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.p) % __STDCPP_DEFAULT_NEW_ALIGNMENT__, 0u)
            << "size " << b.size;
        EXPECT_TRUE(intact(b)) << "size " << b.size << ": overlapping blocks";
    }
    for (const block& b : blocks)
        free_block(b);
}

#ifndef CPC_PLAIN_FRAMES
TEST(FrameAllocator, FreedBlockIsReusedFirst) {
    // The free list is LIFO per size class: the most recently freed block (warm in cache)
    // comes back first, for any size of the class.
    void* a = allocate_frame(100);
    void* b = allocate_frame(100);
    deallocate_frame(a, 100);
    void* c = allocate_frame(97);  // same 16-byte class as 100
    EXPECT_EQ(c, a);
    deallocate_frame(b, 100);
    deallocate_frame(c, 97);
    void* big = allocate_frame(kMaxPooledFrame + 1);  // not pooled
    deallocate_frame(big, kMaxPooledFrame + 1);
}
#endif

TEST(FrameAllocator, RandomAllocateFreePatterns) {
    std::mt19937 rng(99);
    std::vector<block> live;
    for (int step = 0; step < 200'000; ++step) {
        if (live.empty() || rng() % 3 != 0) {
            const std::size_t size = 1 + rng() % (kMaxPooledFrame + 64);
            live.push_back(make_block(size, static_cast<unsigned char>(step)));
        } else {
            const std::size_t i = rng() % live.size();
            ASSERT_TRUE(intact(live[i])) << "step " << step;
            free_block(live[i]);
            live[i] = live.back();
            live.pop_back();
        }
    }
    for (const block& b : live) {
        EXPECT_TRUE(intact(b));
        free_block(b);
    }
}

TEST(FrameAllocator, ListsPastTheirBoundGoThroughTheDepot) {
    // More frees of one class than a kernel thread keeps: batches go to the depot and come
    // back; every block stays distinct.
    constexpr std::size_t kCount = 3 * kFrameCacheLimit;
    constexpr std::size_t kSize = 48;
    for (int round = 0; round < 2; ++round) {
        std::vector<void*> blocks;
        blocks.reserve(kCount);
        for (std::size_t i = 0; i < kCount; ++i) {
            void* p = allocate_frame(kSize);
            std::memcpy(p, &i, sizeof i);
            blocks.push_back(p);
        }
        std::unordered_set<void*> distinct(blocks.begin(), blocks.end());
        EXPECT_EQ(distinct.size(), kCount);
        for (std::size_t i = 0; i < kCount; ++i) {
            std::size_t v;
            std::memcpy(&v, blocks[i], sizeof v);
            ASSERT_EQ(v, i);
        }
        for (void* p : blocks)
            deallocate_frame(p, kSize);
    }
}

TEST(FrameAllocator, FreesFromAnotherKernelThread) {
    // Blocks move one way, from an allocating thread to a freeing thread (as frames of
    // threads that end on a pool): the freed memory must come back to the allocator.
    constexpr std::size_t kPerRound = 50'000;
    constexpr std::size_t kSize = 80;
    std::mutex m;
    std::vector<std::vector<block>> handoff;
    bool producer_done = false;
    std::condition_variable cv;

    std::thread consumer([&] {
        for (;;) {
            std::vector<block> batch;
            {
                std::unique_lock lock(m);
                cv.wait(lock, [&] { return !handoff.empty() || producer_done; });
                if (handoff.empty()) return;
                batch = std::move(handoff.back());
                handoff.pop_back();
            }
            for (const block& b : batch) {
                EXPECT_TRUE(intact(b));
                free_block(b);
            }
        }
    });
    for (int round = 0; round < 8; ++round) {
        std::vector<block> batch;
        for (std::size_t i = 0; i < kPerRound; ++i) {
            batch.push_back(make_block(kSize, static_cast<unsigned char>(round + i)));
        }
        {
            std::lock_guard lock(m);
            handoff.push_back(std::move(batch));
        }
        cv.notify_one();
    }
    {
        std::lock_guard lock(m);
        producer_done = true;
    }
    cv.notify_one();
    consumer.join();
}

TEST(FrameAllocator, ManyThreadsAllocatingAndFreeingEachOthersBlocks) {
    // Four kernel threads in a ring: each allocates blocks and frees its neighbour's.
    constexpr int kThreads = 4;
    constexpr int kRounds = 20;
    constexpr std::size_t kPerRound = 20'000;
    struct mailbox {
        std::mutex m;
        std::condition_variable cv;
        std::vector<std::vector<block>> batches;
    };
    std::vector<mailbox> boxes(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937 rng(static_cast<unsigned>(t));
            mailbox& mine = boxes[static_cast<std::size_t>(t)];
            mailbox& next = boxes[static_cast<std::size_t>((t + 1) % kThreads)];
            for (int round = 0; round < kRounds; ++round) {
                std::vector<block> batch;
                for (std::size_t i = 0; i < kPerRound; ++i) {
                    const std::size_t size = 1 + rng() % (kMaxPooledFrame + 32);
                    batch.push_back(make_block(size, static_cast<unsigned char>(t * 50 + round)));
                }
                {
                    std::lock_guard lock(next.m);
                    next.batches.push_back(std::move(batch));
                }
                next.cv.notify_one();
                std::vector<block> received;
                {
                    std::unique_lock lock(mine.m);
                    mine.cv.wait(lock, [&] { return !mine.batches.empty(); });
                    received = std::move(mine.batches.front());
                    mine.batches.erase(mine.batches.begin());
                }
                for (const block& b : received) {
                    EXPECT_TRUE(intact(b));
                    free_block(b);
                }
            }
        });
    }
    for (auto& th : threads)
        th.join();
}

TEST(FrameAllocator, CoroutineFramesFreedOnThePool) {
    // The same through the runtime: frames allocated on the loop's kernel thread, threads
    // ending on pool kernel threads, over and over.
    auto body = [](std::atomic<int>* ended) -> cpc::task<void> {
        std::vector<char> local(10);  // a frame with a little in it
        co_await cpc::attach(cpc::default_pool());
        ended->fetch_add(1);
    };
    std::atomic<int> ended{0};
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 20'000; ++i)
            cpc::spawn(body(&ended));
        cpc_test::main_loop();
    }
    EXPECT_EQ(ended.load(), 100'000);
}

}  // namespace
