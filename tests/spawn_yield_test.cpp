// cpc::spawn and cpc::yield: FIFO scheduling, where spawned threads go, when they start, and
// a million threads.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

using log_t = std::vector<std::string>;

cpc::task<void> rounds(int id, int n, std::vector<int>* order) {
    for (int i = 0; i < n; ++i) {
        order->push_back(id);
        co_await cpc::yield();
    }
}

TEST(Yield, IsFifoAcrossThreads) {
    std::vector<int> order;
    for (int id = 0; id < 3; ++id)
        cpc::spawn(rounds(id, 3, &order));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
}

TEST(Yield, ThreadsThatEndDropOutOfTheRotation) {
    std::vector<int> order;
    cpc::spawn(rounds(0, 1, &order));
    cpc::spawn(rounds(1, 3, &order));
    cpc::spawn(rounds(2, 2, &order));
    cpc::spawn(rounds(3, 4, &order));
    cpc_test::main_loop();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 1, 2, 3, 1, 3, 3}));
}

TEST(Yield, EveryRunnableThreadRunsOnceBeforeTheYielderAgain) {
    // D is spawned by B while A is already queued behind C: A runs before D, D before B.
    auto a = [](log_t* log) -> cpc::task<void> {
        log->push_back("A1");
        co_await cpc::yield();
        log->push_back("A2");
    };
    auto d = [](log_t* log) -> cpc::task<void> {
        log->push_back("D1");
        co_return;
    };
    auto b = [](log_t* log, cpc::task<void> child) -> cpc::task<void> {
        log->push_back("B1");
        cpc::spawn(std::move(child));
        co_await cpc::yield();
        log->push_back("B2");
    };
    auto c = [](log_t* log) -> cpc::task<void> {
        log->push_back("C1");
        co_await cpc::yield();
        log->push_back("C2");
    };
    log_t log;
    cpc::spawn(a(&log));
    cpc::spawn(b(&log, d(&log)));
    cpc::spawn(c(&log));
    cpc_test::main_loop();
    EXPECT_EQ(log, (log_t{"A1", "B1", "C1", "A2", "D1", "B2", "C2"}));
}

TEST(Yield, AloneReturnsAtOnce) {
    auto body = [](int* n) -> cpc::task<void> {
        for (int i = 0; i < 1000; ++i) {
            co_await cpc::yield();
            ++*n;
        }
    };
    int n = 0;
    run_main(body(&n));
    EXPECT_EQ(n, 1000);
}

cpc::task<void> returns_at_once() {
    co_return;
}

TEST(Spawn, SpawnedThreadDoesNotRunBeforeTheSpawnerSuspends) {
    auto child = [](log_t* log, int id) -> cpc::task<void> {
        log->push_back("child" + std::to_string(id));
        co_return;
    };
    auto spawner = [](log_t* log, decltype(child) make) -> cpc::task<void> {
        cpc::spawn(make(log, 1));
        cpc::spawn(make(log, 2));
        log->push_back("spawner after spawn");
        co_await returns_at_once();
        log->push_back("spawner after a non-suspending await");
        co_await cpc::yield();
        log->push_back("spawner after yield");
    };
    log_t log;
    run_main(spawner(&log, child));
    EXPECT_EQ(log, (log_t{"spawner after spawn", "spawner after a non-suspending await", "child1",
                          "child2", "spawner after yield"}));
}

TEST(Spawn, SpawnedThreadsStartAfterTheSpawnerEnds) {
    auto child = [](log_t* log) -> cpc::task<void> {
        log->push_back("child");
        co_return;
    };
    auto spawner = [](log_t* log, decltype(child) make) -> cpc::task<void> {
        cpc::spawn(make(log));
        log->push_back("spawner ends");
        co_return;
    };
    log_t log;
    run_main(spawner(&log, child));
    EXPECT_EQ(log, (log_t{"spawner ends", "child"}));
}

struct where {
    cpc::loop* loop = nullptr;
    std::thread::id kernel_thread;
    bool ran = false;
};

cpc::task<void> record_where(where* w) {
    w->loop = cpc::loop::current();
    w->kernel_thread = kernel_thread();
    w->ran = true;
    co_return;
}

TEST(Spawn, FromOutsideALoopGoesToTheDefaultLoop) {
    where w;
    cpc::spawn(record_where(&w));
    EXPECT_FALSE(w.ran) << "spawn ran the thread at once";
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_TRUE(w.ran);
    EXPECT_EQ(w.loop, &cpc::default_loop());
    EXPECT_EQ(w.kernel_thread, kernel_thread());
}

TEST(Spawn, FromAnotherKernelThreadGoesToTheDefaultLoop) {
    where w;
    std::thread other([&] { cpc::spawn(record_where(&w)); });
    other.join();
    EXPECT_FALSE(w.ran);
    cpc_test::main_loop();
    EXPECT_TRUE(w.ran);
    EXPECT_EQ(w.loop, &cpc::default_loop());
    EXPECT_EQ(w.kernel_thread, kernel_thread());
}

TEST(Spawn, InsideALoopGoesToThatLoop) {
    auto body = [](where* w) -> cpc::task<void> {
        cpc::spawn(record_where(w));
        co_return;
    };
    cpc::loop other;
    where w;
    cpc::spawn(other, body(&w));
    other.run();
    EXPECT_TRUE(w.ran);
    EXPECT_EQ(w.loop, &other);
}

TEST(Spawn, OnAnotherLoopObject) {
    cpc::loop other;
    where w;
    cpc::spawn(other, record_where(&w));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_FALSE(w.ran) << "the default loop ran a thread spawned on another loop";
    other.run();
    EXPECT_TRUE(w.ran);
    EXPECT_EQ(w.loop, &other);
    EXPECT_EQ(w.kernel_thread, kernel_thread());
}

struct pool_where {
    std::atomic<bool> ran{false};
    std::thread::id kernel_thread;
    cpc::loop* loop = nullptr;
};

cpc::task<void> blocking_on_pool(pool_where* w) {
    w->kernel_thread = kernel_thread();
    w->loop = cpc::loop::current();
    co_await cpc::yield();                        // yields the kernel thread
    std::this_thread::sleep_for(20ms);            // a blocking call is fine here
    const bool slept = co_await cpc::sleep(5ms);  // blocks the kernel thread
    EXPECT_TRUE(slept);
    w->ran.store(true);
}

TEST(Spawn, OnAPoolRunsDetachedAndTheLoopWaitsForIt) {
    cpc::thread_pool pool(2);
    pool_where w;
    cpc::spawn(pool, blocking_on_pool(&w));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_TRUE(w.ran.load()) << "main_loop returned before the pool thread ended";
    EXPECT_NE(w.kernel_thread, kernel_thread());
    EXPECT_EQ(w.loop, nullptr);
}

TEST(Spawn, OnAPoolFromInsideALoopThread) {
    auto body = [](pool_where* w) -> cpc::task<void> {
        cpc::spawn(cpc::default_pool(), blocking_on_pool(w));
        co_return;
    };
    pool_where w;
    run_main(body(&w));
    EXPECT_TRUE(w.ran.load());
    EXPECT_NE(w.kernel_thread, kernel_thread());
}

TEST(Spawn, OnAPoolThenAttachToTheLoop) {
    auto body = [](where* w, std::thread::id* pool_thread) -> cpc::task<void> {
        *pool_thread = kernel_thread();
        cpc::scheduler& previous = co_await cpc::attach(cpc::default_loop());
        EXPECT_EQ(previous.type(), cpc::scheduler::kind::pool);
        co_await record_where(w);
    };
    cpc::thread_pool pool(1);
    where w;
    std::thread::id pool_thread;
    cpc::spawn(pool, body(&w, &pool_thread));
    cpc_test::main_loop();
    EXPECT_TRUE(w.ran);
    EXPECT_EQ(w.loop, &cpc::default_loop());
    EXPECT_EQ(w.kernel_thread, kernel_thread());
    EXPECT_NE(pool_thread, kernel_thread());
}

TEST(Spawn, FromAPoolThreadGoesToTheDefaultLoop) {
    auto body = [](where* w, std::thread::id* pool_thread) -> cpc::task<void> {
        co_await cpc::attach(cpc::default_pool());
        *pool_thread = kernel_thread();
        cpc::spawn(record_where(w));
    };
    where w;
    std::thread::id pool_thread;
    run_main(body(&w, &pool_thread));
    EXPECT_TRUE(w.ran);
    EXPECT_EQ(w.loop, &cpc::default_loop());
    EXPECT_EQ(w.kernel_thread, kernel_thread());
    EXPECT_NE(pool_thread, kernel_thread());
}

constexpr int kMillion = 1'000'000;

cpc::task<void> count_one(int* n) {
    ++*n;
    co_return;
}

TEST(Spawn, AMillionThreads) {
    auto spawner = [](int* n) -> cpc::task<void> {
        for (int i = 0; i < kMillion; ++i)
            cpc::spawn(count_one(n));
        co_return;
    };
    int n = 0;
    run_main(spawner(&n));
    EXPECT_EQ(n, kMillion);
}

TEST(Spawn, AMillionThreadsThatEachYield) {
    auto one = [](int* started, int* ended) -> cpc::task<void> {
        ++*started;
        co_await cpc::yield();
        ++*ended;
    };
    // The spawner yields now and then, so the run queue holds a mix of new and resumed threads.
    auto spawner = [](int* started, int* ended, decltype(one) make) -> cpc::task<void> {
        for (int i = 0; i < kMillion; ++i) {
            cpc::spawn(make(started, ended));
            if (i % 1000 == 999) co_await cpc::yield();
        }
    };
    int started = 0;
    int ended = 0;
    run_main(spawner(&started, &ended, one));
    EXPECT_EQ(started, kMillion);
    EXPECT_EQ(ended, kMillion);
}

TEST(Spawn, AMillionThreadsFromOutsideTheLoop) {
    int n = 0;
    for (int i = 0; i < kMillion; ++i)
        cpc::spawn(count_one(&n));
    EXPECT_EQ(n, 0);
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(n, kMillion);
}

}  // namespace
