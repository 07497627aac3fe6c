// cpc::attach and cpc::detached: moving threads between loops and pools, native code on the
// pool, and a loop that keeps running while many threads block on the pool.
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

struct trip {
    std::thread::id loop_thread;
    std::thread::id pool_thread;
    std::thread::id back_thread;
    cpc::loop* loop_on_pool = reinterpret_cast<cpc::loop*>(1);
    cpc::loop* loop_back = nullptr;
    cpc::scheduler* left = nullptr;
    cpc::scheduler* left_pool = nullptr;
};

cpc::task<void> round_trip(cpc::thread_pool* pool, trip* t) {
    t->loop_thread = kernel_thread();
    cpc::scheduler& previous = co_await cpc::attach(*pool);
    t->pool_thread = kernel_thread();
    t->loop_on_pool = cpc::loop::current();
    t->left = &previous;
    cpc::scheduler& from = co_await cpc::attach(previous);
    t->back_thread = kernel_thread();
    t->loop_back = cpc::loop::current();
    t->left_pool = &from;
}

TEST(Attach, RunsOnAnotherKernelThreadAndComesBack) {
    cpc::thread_pool pool(2);
    trip t;
    run_main(round_trip(&pool, &t));
    EXPECT_EQ(t.loop_thread, kernel_thread());
    EXPECT_NE(t.pool_thread, t.loop_thread);
    EXPECT_EQ(t.loop_on_pool, nullptr);
    EXPECT_EQ(t.back_thread, t.loop_thread);
    EXPECT_EQ(t.loop_back, &cpc::default_loop());
    // attach returns the scheduler the thread left.
    EXPECT_EQ(t.left, &cpc::default_loop());
    EXPECT_EQ(t.left_pool, &pool);
}

TEST(Attach, ToTheCurrentSchedulerIsANoOp) {
    auto body = [](std::vector<std::string>* log) -> cpc::task<void> {
        cpc::spawn([](std::vector<std::string>* log) -> cpc::task<void> {
            log->push_back("other");
            co_return;
        }(log));
        cpc::scheduler& s = co_await cpc::attach(cpc::default_loop());
        EXPECT_EQ(&s, &cpc::default_loop());
        log->push_back("after attach");  // did not suspend: the other thread has not run
        co_await cpc::yield();
    };
    std::vector<std::string> log;
    run_main(body(&log));
    EXPECT_EQ(log, (std::vector<std::string>{"after attach", "other"}));
}

TEST(Attach, ManyRoundTrips) {
    auto body = [](cpc::thread_pool* pool, int* trips) -> cpc::task<void> {
        const auto loop_thread = kernel_thread();
        for (int i = 0; i < 200; ++i) {
            cpc::scheduler& home = co_await cpc::attach(*pool);
            EXPECT_NE(kernel_thread(), loop_thread);
            co_await cpc::attach(home);
            EXPECT_EQ(kernel_thread(), loop_thread);
            ++*trips;
        }
    };
    cpc::thread_pool pool(4);
    int trips[8] = {};
    for (int& t : trips)
        cpc::spawn(body(&pool, &t));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    for (int t : trips)
        EXPECT_EQ(t, 200);
}

cpc::task<int> child(int v) {
    co_await cpc::yield();  // on the pool: yields the kernel thread
    co_return v + 1;
}

TEST(Attach, KernelThreadStateFollowsTheThread) {
    // What a thread reads of its kernel thread (the running loop, the frame allocator's
    // caches) must be read again after each attach, not reused from before the move: child
    // frames allocated and freed on both sides of each move, from eight threads at once.
    auto body = [](cpc::thread_pool* pool, int* wrong, int* sum) -> cpc::task<void> {
        for (int i = 0; i < 300; ++i) {
            *sum += co_await child(i);
            cpc::scheduler& home = co_await cpc::attach(*pool);
            if (cpc::loop::current() != nullptr) ++*wrong;
            *sum += co_await child(i);
            co_await cpc::attach(home);
            if (cpc::loop::current() != &cpc::default_loop()) ++*wrong;
            *sum += co_await child(i);
        }
    };
    cpc::thread_pool pool(4);
    int wrong[8] = {};
    int sums[8] = {};
    for (int t = 0; t < 8; ++t)
        cpc::spawn(body(&pool, &wrong[t], &sums[t]));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    for (int t = 0; t < 8; ++t) {
        EXPECT_EQ(wrong[t], 0);
        EXPECT_EQ(sums[t], 3 * (300 * 299 / 2 + 300));
    }
}

TEST(Attach, BetweenTwoLoopsOnTwoKernelThreads) {
    // A second loop runs on its own kernel thread, kept alive until the visitor has left.
    cpc::loop other;
    std::atomic<bool> done{false};
    std::thread::id other_thread;
    auto keep_alive = [](std::atomic<bool>* done) -> cpc::task<void> {
        while (!done->load())
            co_await cpc::sleep(1ms);
    };
    cpc::spawn(other, keep_alive(&done));
    std::thread runner([&] {
        other_thread = kernel_thread();
        EXPECT_EQ(other.run().blocked_threads, 0u);
    });

    auto visitor = [](cpc::loop* other, std::atomic<bool>* done, std::thread::id* seen,
                      cpc::loop** seen_loop) -> cpc::task<void> {
        cpc::scheduler& home = co_await cpc::attach(*other);
        *seen = kernel_thread();
        *seen_loop = cpc::loop::current();
        co_await cpc::yield();  // a thread of that loop now
        co_await cpc::attach(home);
        done->store(true);
    };
    std::thread::id seen;
    cpc::loop* seen_loop = nullptr;
    cpc::spawn(visitor(&other, &done, &seen, &seen_loop));
    // The default loop has nothing left while the visitor is away, but the visitor comes
    // back: run until it did.
    while (!done.load())
        cpc_test::main_loop();
    runner.join();
    EXPECT_EQ(seen, other_thread);
    EXPECT_EQ(seen_loop, &other);
}

TEST(Attach, DetachedReturnsTheValue) {
    auto body = [](int* out, std::thread::id* ran_on, std::thread::id* back_on) -> cpc::task<void> {
        *out = co_await cpc::detached([ran_on] {
            *ran_on = kernel_thread();
            return 6 * 7;
        });
        *back_on = kernel_thread();
    };
    int out = 0;
    std::thread::id ran_on;
    std::thread::id back_on;
    run_main(body(&out, &ran_on, &back_on));
    EXPECT_EQ(out, 42);
    EXPECT_NE(ran_on, kernel_thread());
    EXPECT_EQ(back_on, kernel_thread());
}

TEST(Attach, DetachedMoveOnlyAndVoid) {
    auto body = [](std::unique_ptr<std::string>* out, bool* ran) -> cpc::task<void> {
        *out = co_await cpc::detached([] { return std::make_unique<std::string>("pool"); });
        co_await cpc::detached([ran] { *ran = true; });
    };
    std::unique_ptr<std::string> out;
    bool ran = false;
    run_main(body(&out, &ran));
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(*out, "pool");
    EXPECT_TRUE(ran);
}

struct pool_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

TEST(Attach, DetachedRethrowsAfterComingBack) {
    auto body = [](std::string* what, std::thread::id* caught_on) -> cpc::task<void> {
        try {
            co_await cpc::detached([]() -> int { throw pool_error("from the pool"); });
        } catch (const pool_error& e) {
            *what = e.what();
            *caught_on = kernel_thread();
        }
        try {
            co_await cpc::detached([] { throw pool_error("void"); });
        } catch (const pool_error& e) {
            *what += std::string(" / ") + e.what();
        }
    };
    std::string what;
    std::thread::id caught_on;
    run_main(body(&what, &caught_on));
    EXPECT_EQ(what, "from the pool / void");
    EXPECT_EQ(caught_on, kernel_thread());
}

constexpr int kCalls = 50;
constexpr auto kBlock = 50ms;

TEST(Attach, ManyBlockingDetachedCallsDoNotBlockTheLoop) {
    // Each blocking call also waits (at most 2 s) until the loop's other thread has ticked 10
    // times: that happens only if the loop runs while every call blocks a pool thread, and
    // the test does not depend on how many 1 ms sleeps fit in kBlock on a loaded machine.
    constexpr int kTicksWhileBlocked = 10;
    auto caller = [](int* done, const std::atomic<int>* ticks) -> cpc::task<void> {
        co_await cpc::detached([ticks] {
            std::this_thread::sleep_for(kBlock);
            const auto deadline = clock::now() + 2s;
            while (ticks->load() < kTicksWhileBlocked && clock::now() < deadline)
                std::this_thread::sleep_for(1ms);
        });
        ++*done;
    };
    auto ticker = [](int* done, std::atomic<int>* ticks,
                     int* ticks_before_first_done) -> cpc::task<void> {
        while (*done < kCalls) {
            if (*done == 0) ++*ticks_before_first_done;
            ticks->fetch_add(1);
            co_await cpc::sleep(1ms);
        }
    };
    int done = 0;
    std::atomic<int> ticks{0};
    int ticks_before_first_done = 0;
    const auto start = clock::now();
    for (int i = 0; i < kCalls; ++i)
        cpc::spawn(caller(&done, &ticks));
    cpc::spawn(ticker(&done, &ticks, &ticks_before_first_done));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    const auto elapsed = since(start);
    EXPECT_EQ(done, kCalls);
    EXPECT_GE(elapsed, kBlock);
    EXPECT_LT(elapsed, kCalls * kBlock / 2) << "the blocking calls did not run in parallel";
    // The loop kept running its other thread while every call blocked a pool thread.
    EXPECT_GE(ticks_before_first_done, kTicksWhileBlocked);
}

TEST(Attach, PoolRunsBlockedThreadsInParallelUpToItsSize) {
    // The threads of a round block on the pool at once, each until all of the round have
    // arrived: a round ends only if the pool gives each its own kernel thread, including when
    // some of the pool's kernel threads already exist and are idle (after the first round).
    struct round {
        int size;
        std::atomic<int> arrived{0};
    };
    auto meet = [](round* r, bool* met) -> cpc::task<void> {
        r->arrived.fetch_add(1);
        const auto deadline = clock::now() + 2s;
        while (r->arrived.load() < r->size && clock::now() < deadline) {
            std::this_thread::sleep_for(100us);
        }
        *met = r->arrived.load() >= r->size;
        co_return;
    };
    cpc::thread_pool pool(4);
    for (int size : {1, 4, 2, 4, 3}) {
        round r{size};
        bool met[4] = {};
        for (int i = 0; i < size; ++i)
            cpc::spawn(pool, meet(&r, &met[i]));
        cpc_test::main_loop();
        for (int i = 0; i < size; ++i) {
            EXPECT_TRUE(met[i]) << "round of " << size << ": a thread waited in the queue while "
                                << "the pool had room for it";
        }
        std::this_thread::sleep_for(2ms);  // let the workers go idle
    }
}

TEST(Attach, PoolQueuesWorkBeyondItsSizeInFifoOrder) {
    auto one = [](int id, std::mutex* m, std::vector<int>* order) -> cpc::task<void> {
        std::this_thread::sleep_for(1ms);
        std::lock_guard lock(*m);
        order->push_back(id);
        co_return;
    };
    cpc::thread_pool pool(1);
    std::mutex m;
    std::vector<int> order;
    for (int id = 0; id < 10; ++id)
        cpc::spawn(pool, one(id, &m, &order));
    cpc_test::main_loop();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Attach, ThreadEndingOnAPoolFreesItsFrameThere) {
    // Threads that end on the pool: their frames are freed by pool kernel threads, and the
    // loop waits for them.
    auto body = [](cpc::thread_pool* pool, std::atomic<int>* ended) -> cpc::task<void> {
        co_await cpc::attach(*pool);
        std::this_thread::sleep_for(1ms);
        ended->fetch_add(1);
    };
    cpc::thread_pool pool(4);
    std::atomic<int> ended{0};
    for (int i = 0; i < 100; ++i)
        cpc::spawn(body(&pool, &ended));
    cpc_test::main_loop();
    EXPECT_EQ(ended.load(), 100);
}

TEST(Attach, PoolToPool) {
    auto body = [](cpc::thread_pool* a, cpc::thread_pool* b,
                   std::set<std::thread::id>* seen) -> cpc::task<void> {
        co_await cpc::attach(*a);
        seen->insert(kernel_thread());
        cpc::scheduler& from = co_await cpc::attach(*b);
        EXPECT_EQ(&from, a);
        seen->insert(kernel_thread());
        co_await cpc::attach(cpc::default_loop());
        seen->insert(kernel_thread());
    };
    cpc::thread_pool a(1);
    cpc::thread_pool b(1);
    std::set<std::thread::id> seen;
    run_main(body(&a, &b, &seen));
    EXPECT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen.count(kernel_thread()), 1u);
}

}  // namespace
