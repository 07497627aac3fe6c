// cpc::loop: when run() returns (nothing left, but not before timers, fd waits and detached
// threads are done), blocked threads, loop objects on other kernel threads, and scheduling
// from other kernel threads.
#include <atomic>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

TEST(Loop, RunWithNothingReturnsAtOnce) {
    const auto start = clock::now();
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);  // and again
    cpc::loop own;
    EXPECT_EQ(own.run().blocked_threads, 0u);
    EXPECT_LT(since(start), 1s);
    EXPECT_EQ(cpc::loop::current(), nullptr);
}

TEST(Loop, CurrentIsSetOnlyWhileRunning) {
    auto body = [](cpc::loop** seen) -> cpc::task<void> {
        *seen = cpc::loop::current();
        co_return;
    };
    cpc::loop* seen = nullptr;
    EXPECT_EQ(cpc::loop::current(), nullptr);
    run_main(body(&seen));
    EXPECT_EQ(seen, &cpc::default_loop());
    EXPECT_EQ(cpc::loop::current(), nullptr);
}

TEST(Loop, ReturnsWhenEveryThreadEnded) {
    auto body = [](int* ended) -> cpc::task<void> {
        for (int i = 0; i < 10; ++i)
            co_await cpc::yield();
        ++*ended;
    };
    int ended = 0;
    for (int i = 0; i < 5; ++i)
        cpc::spawn(body(&ended));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(ended, 5);
}

TEST(Loop, WaitsForPendingTimers) {
    auto body = [](bool* woke) -> cpc::task<void> {
        co_await cpc::sleep(30ms);
        *woke = true;
    };
    bool woke = false;
    const auto start = clock::now();
    cpc::spawn(body(&woke));
    cpc_test::main_loop();
    EXPECT_TRUE(woke);
    EXPECT_GE(since(start), 30ms);
}

TEST(Loop, WaitsForFdWaits) {
    auto reader = [](int fd, char* got) -> cpc::task<void> {
        const cpc::io_result r = co_await cpc::read(fd, got, 1);
        EXPECT_EQ(r.bytes, 1u);
    };
    pipe_pair p;
    char got = 0;
    cpc::spawn(reader(p.read_end, &got));
    const auto start = clock::now();
    std::thread writer([fd = p.write_end] {
        std::this_thread::sleep_for(30ms);
        const char c = 'z';
        EXPECT_EQ(::write(fd, &c, 1), 1);
    });
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_GE(since(start), 30ms);  // main_loop returned after the write, not before
    writer.join();
    EXPECT_EQ(got, 'z');
}

TEST(Loop, WaitsForDetachedThreadsToComeBack) {
    auto body = [](std::atomic<int>* stage) -> cpc::task<void> {
        cpc::scheduler& home = co_await cpc::attach(cpc::default_pool());
        std::this_thread::sleep_for(30ms);
        stage->store(1);
        co_await cpc::attach(home);
        stage->store(2);
    };
    std::atomic<int> stage{0};
    cpc::spawn(body(&stage));
    const auto start = clock::now();
    cpc_test::main_loop();
    EXPECT_EQ(stage.load(), 2);
    EXPECT_GE(since(start), 30ms);
}

TEST(Loop, WaitsForDetachedThreadsThatEndOnThePool) {
    auto body = [](std::atomic<bool>* ended) -> cpc::task<void> {
        co_await cpc::attach(cpc::default_pool());
        std::this_thread::sleep_for(20ms);
        ended->store(true);
    };
    std::atomic<bool> ended{false};
    cpc::spawn(body(&ended));
    cpc_test::main_loop();
    EXPECT_TRUE(ended.load());
}

TEST(Loop, CountsThreadsBlockedForeverAndRunsAgainAfterASignal) {
    auto waiter = [](cpc::condvar* cv, int* woken) -> cpc::task<void> {
        co_await cv->wait();
        ++*woken;
    };
    cpc::condvar cv;
    cpc::condvar other;
    int woken = 0;
    for (int i = 0; i < 3; ++i)
        cpc::spawn(waiter(&cv, &woken));
    cpc::spawn(waiter(&other, &woken));
    const cpc::run_result r = cpc_test::main_loop();
    EXPECT_EQ(r.blocked_threads, 4u);
    EXPECT_EQ(woken, 0);
    EXPECT_EQ(cv.count(), 3u);

    // Signal from a thread of the loop (condvars are used from their loop's threads only),
    // and run again: the blocked threads end and their frames are freed.
    cpc::spawn([](cpc::condvar* cv) -> cpc::task<void> {
        cv->signal();
        co_return;
    }(&cv));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 3u);
    EXPECT_EQ(woken, 1);

    cpc::spawn([](cpc::condvar* cv, cpc::condvar* other) -> cpc::task<void> {
        cv->signal_all();
        other->signal();
        co_return;
    }(&cv, &other));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(woken, 4);
}

TEST(Loop, SleepsAndIoWaitsOnACondvarAreNotBlockedThreads) {
    // A sleep or io_wait that a condvar may interrupt still has its timer or fd: it keeps the
    // loop running rather than counting as blocked.
    auto sleeper = [](cpc::condvar* cv, bool* slept) -> cpc::task<void> {
        *slept = co_await cpc::sleep(5ms, cv);
    };
    cpc::condvar cv;
    bool slept = false;
    cpc::spawn(sleeper(&cv, &slept));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_TRUE(slept);
}

TEST(Loop, OwnLoopObjectIsIndependentOfTheDefaultLoop) {
    auto body = [](cpc::loop** seen, int* n) -> cpc::task<void> {
        *seen = cpc::loop::current();
        cpc::spawn([](int* n) -> cpc::task<void> {  // lands on the same loop
            ++*n;
            co_return;
        }(n));
        co_await cpc::sleep(1ms);
        ++*n;
    };
    cpc::loop own;
    cpc::loop* seen = nullptr;
    int n = 0;
    cpc::spawn(own, body(&seen, &n));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(n, 0);
    EXPECT_EQ(own.run().blocked_threads, 0u);
    EXPECT_EQ(seen, &own);
    EXPECT_EQ(n, 2);
}

TEST(Loop, RunsOnAnotherKernelThreadAndTakesWorkFromOutside) {
    // The loop runs on its own kernel thread, blocked in the kernel waiting for a pipe; work
    // scheduled from the main thread wakes it, and the last piece of work releases the waiter.
    auto keep_alive = [](int fd) -> cpc::task<void> {
        char c;
        const cpc::io_result r = co_await cpc::read(fd, &c, 1);
        EXPECT_EQ(r.bytes, 1u);
    };
    auto work = [](std::atomic<int>* done, std::thread::id* where, int release_fd,
                   bool last) -> cpc::task<void> {
        *where = kernel_thread();
        done->fetch_add(1);
        if (last) {
            const cpc::io_result r = co_await cpc::write(release_fd, "x", 1);
            EXPECT_EQ(r.bytes, 1u);
        }
    };
    cpc::loop other;
    pipe_pair p;
    cpc::spawn(other, keep_alive(p.read_end));
    std::thread::id loop_thread;
    std::thread runner([&] {
        loop_thread = kernel_thread();
        EXPECT_EQ(other.run().blocked_threads, 0u);
    });
    std::atomic<int> done{0};
    constexpr int kWork = 100;
    std::thread::id where[kWork];
    for (int i = 0; i < kWork; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(i % 10 == 0 ? 500 : 0));
        cpc::spawn(other, work(&done, &where[i], p.write_end, i == kWork - 1));
    }
    runner.join();
    EXPECT_EQ(done.load(), kWork);
    for (const auto& w : where)
        EXPECT_EQ(w, loop_thread);
}

TEST(Loop, ScheduleFromManyKernelThreadsAtOnce) {
    auto count = [](std::atomic<int>* n) -> cpc::task<void> {
        n->fetch_add(1, std::memory_order_relaxed);
        co_return;
    };
    // The default loop runs in this thread, kept alive by a sleeper until the producers are
    // done; four kernel threads spawn onto it meanwhile.
    auto keeper = [](std::atomic<bool>* producers_done) -> cpc::task<void> {
        while (!producers_done->load())
            co_await cpc::sleep(1ms);
    };
    std::atomic<int> n{0};
    std::atomic<bool> producers_done{false};
    cpc::spawn(keeper(&producers_done));
    std::vector<std::thread> producers;
    for (int t = 0; t < 4; ++t) {
        producers.emplace_back([&] {
            for (int i = 0; i < 5000; ++i)
                cpc::spawn(cpc::default_loop(), count(&n));
        });
    }
    std::thread closer([&] {
        for (auto& p : producers)
            p.join();
        producers_done.store(true);
    });
    cpc_test::main_loop();
    closer.join();
    cpc_test::main_loop();  // whatever arrived after the keeper ended
    EXPECT_EQ(n.load(), 4 * 5000);
}

TEST(Loop, NowIsMonotonicAndAdvances) {
    auto body = [](std::vector<std::int64_t>* times) -> cpc::task<void> {
        for (int i = 0; i < 5; ++i) {
            times->push_back(cpc::loop::current()->now());
            co_await cpc::sleep(2ms);
        }
        times->push_back(cpc::loop::current()->now());
    };
    std::vector<std::int64_t> times;
    run_main(body(&times));
    ASSERT_EQ(times.size(), 6u);
    for (std::size_t i = 1; i < times.size(); ++i) {
        EXPECT_GE(times[i] - times[i - 1], 2'000'000) << "at " << i;
    }
}

TEST(Loop, BusyThreadsDoNotStarveTimersOrIo) {
    // Two threads that only yield keep the run queue full; a sleeper and an fd waiter still
    // get their turn.
    auto spinner = [](const bool* stop, long* spins) -> cpc::task<void> {
        while (!*stop) {
            ++*spins;
            co_await cpc::yield();
        }
    };
    auto sleeper = [](bool* stop) -> cpc::task<void> {
        co_await cpc::sleep(10ms);
        *stop = true;
    };
    auto reader = [](int fd, bool* got) -> cpc::task<void> {
        char c;
        const cpc::io_result r = co_await cpc::read(fd, &c, 1);
        *got = r.bytes == 1;
    };
    pipe_pair p;
    bool stop = false;
    bool got = false;
    long spins[2] = {};
    cpc::spawn(spinner(&stop, &spins[0]));
    cpc::spawn(spinner(&stop, &spins[1]));
    cpc::spawn(sleeper(&stop));
    cpc::spawn(reader(p.read_end, &got));
    ASSERT_EQ(::write(p.write_end, "r", 1), 1);
    const auto start = clock::now();
    cpc_test::main_loop();
    EXPECT_TRUE(got);
    EXPECT_GE(since(start), 10ms);
    EXPECT_LT(since(start), 2s);
    EXPECT_GT(spins[0], 0);
    EXPECT_GT(spins[1], 0);
}

}  // namespace
