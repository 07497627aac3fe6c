// cpc::sleep: the full duration, interruption by a condvar, timer order, sleep(0), and the
// blocking form on a pool.
#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

struct sleep_outcome {
    bool completed = false;
    std::chrono::nanoseconds elapsed{};
};

cpc::task<void> timed_sleep(std::chrono::nanoseconds d, cpc::condvar* interrupt,
                            sleep_outcome* out) {
    const auto start = clock::now();
    out->completed = co_await cpc::sleep(d, interrupt);
    out->elapsed = since(start);
}

TEST(Sleep, ReturnsTrueAfterTheFullDuration) {
    for (auto d : {1ms, 20ms, 50ms}) {
        sleep_outcome o;
        run_main(timed_sleep(d, nullptr, &o));
        EXPECT_TRUE(o.completed);
        EXPECT_GE(o.elapsed, d);
        EXPECT_LT(o.elapsed, d + 500ms);
    }
}

TEST(Sleep, MainLoopWaitsForTheTimer) {
    sleep_outcome o;
    const auto start = clock::now();
    cpc::spawn(timed_sleep(30ms, nullptr, &o));
    cpc_test::main_loop();
    EXPECT_GE(since(start), 30ms);
    EXPECT_TRUE(o.completed);
}

TEST(Sleep, InterruptedBySignalReturnsFalse) {
    auto signaller = [](cpc::condvar* cv) -> cpc::task<void> {
        co_await cpc::sleep(10ms);
        EXPECT_EQ(cv->count(), 1u);
        cv->signal();
    };
    cpc::condvar cv;
    sleep_outcome o;
    const auto start = clock::now();
    cpc::spawn(timed_sleep(10s, &cv, &o));
    cpc::spawn(signaller(&cv));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    // The interrupted sleep's timer is gone: the loop did not wait for it.
    EXPECT_LT(since(start), 2s);
    EXPECT_FALSE(o.completed);
    EXPECT_GE(o.elapsed, 10ms);
    EXPECT_LT(o.elapsed, 2s);
    EXPECT_EQ(cv.count(), 0u);
}

TEST(Sleep, SignalAllInterruptsEverySleeper) {
    auto signaller = [](cpc::condvar* cv) -> cpc::task<void> {
        co_await cpc::yield();
        EXPECT_EQ(cv->count(), 3u);
        cv->signal_all();
    };
    cpc::condvar cv;
    sleep_outcome o[3];
    const auto start = clock::now();
    for (auto& out : o)
        cpc::spawn(timed_sleep(10s, &cv, &out));
    cpc::spawn(signaller(&cv));
    cpc_test::main_loop();
    EXPECT_LT(since(start), 2s);
    for (auto& out : o)
        EXPECT_FALSE(out.completed);
}

TEST(Sleep, SignalInterruptsOnlyTheOldestSleeper) {
    auto signaller = [](cpc::condvar* cv) -> cpc::task<void> {
        co_await cpc::yield();
        cv->signal();
    };
    cpc::condvar cv;
    sleep_outcome first;
    sleep_outcome second;
    cpc::spawn(timed_sleep(10s, &cv, &first));
    cpc::spawn(timed_sleep(20ms, &cv, &second));
    cpc::spawn(signaller(&cv));
    cpc_test::main_loop();
    EXPECT_FALSE(first.completed);
    EXPECT_TRUE(second.completed);
    // Measured from the loop's clock, read when the first sleep was armed: a kernel thread
    // preempted (or slowed by a sanitizer) before the second sleep starts loses that time.
    EXPECT_GE(second.elapsed, 15ms);
}

TEST(Sleep, CompletedSleepLeavesTheInterruptCondvar) {
    auto body = [](cpc::condvar* cv, bool* a, bool* b) -> cpc::task<void> {
        *a = co_await cpc::sleep(1ms, cv);
        EXPECT_EQ(cv->count(), 0u);
        cv->signal();  // nobody listens any more: lost
        *b = co_await cpc::sleep(1ms, cv);
    };
    cpc::condvar cv;
    bool a = false;
    bool b = false;
    run_main(body(&cv, &a, &b));
    EXPECT_TRUE(a);
    EXPECT_TRUE(b);
}

cpc::task<void> sleep_and_log(std::chrono::nanoseconds d, int id, std::vector<int>* order) {
    const bool slept = co_await cpc::sleep(d);
    EXPECT_TRUE(slept);
    order->push_back(id);
}

TEST(Sleep, ShorterSleepsEndFirst) {
    std::vector<int> order;
    cpc::spawn(sleep_and_log(40ms, 4, &order));
    cpc::spawn(sleep_and_log(10ms, 1, &order));
    cpc::spawn(sleep_and_log(30ms, 3, &order));
    cpc::spawn(sleep_and_log(20ms, 2, &order));
    cpc_test::main_loop();
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

TEST(Sleep, EqualDeadlinesEndInOrder) {
    // Threads run in one loop iteration see the same now(): equal durations give equal
    // deadlines, which fire in the order the sleeps began.
    std::vector<int> order;
    for (int id = 0; id < 8; ++id)
        cpc::spawn(sleep_and_log(10ms, id, &order));
    cpc_test::main_loop();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(Sleep, ZeroLetsTheOtherRunnableThreadsRunFirst) {
    auto other = [](std::vector<int>* log) -> cpc::task<void> {
        log->push_back(1);
        co_return;
    };
    auto sleeper = [](std::vector<int>* log, decltype(other) make) -> cpc::task<void> {
        cpc::spawn(make(log));
        const bool slept = co_await cpc::sleep(0ms);
        EXPECT_TRUE(slept);
        log->push_back(2);
        const bool slept_negative = co_await cpc::sleep(-5ms);  // a negative duration is zero
        EXPECT_TRUE(slept_negative);
        log->push_back(3);
    };
    std::vector<int> log;
    run_main(sleeper(&log, other));
    EXPECT_EQ(log, (std::vector<int>{1, 2, 3}));
}

TEST(Sleep, ZeroInALoopDoesNotStarveOthers) {
    auto spinner = [](bool* stop, int* spins) -> cpc::task<void> {
        while (!*stop) {
            co_await cpc::sleep(0ms);
            ++*spins;
        }
    };
    auto stopper = [](bool* stop) -> cpc::task<void> {
        co_await cpc::sleep(5ms);
        *stop = true;
    };
    bool stop = false;
    int spins = 0;
    cpc::spawn(spinner(&stop, &spins));
    cpc::spawn(stopper(&stop));
    cpc_test::main_loop();
    EXPECT_TRUE(stop);
    EXPECT_GT(spins, 0);
}

TEST(Sleep, OnAPoolBlocksTheKernelThread) {
    auto body = [](sleep_outcome* o, std::thread::id* where) -> cpc::task<void> {
        cpc::condvar unused;
        cpc::scheduler& home = co_await cpc::attach(cpc::default_pool());
        *where = kernel_thread();
        co_await timed_sleep(20ms, &unused, o);
        co_await cpc::attach(home);
    };
    sleep_outcome o;
    std::thread::id where;
    run_main(body(&o, &where));
    EXPECT_NE(where, kernel_thread());
    EXPECT_TRUE(o.completed);
    EXPECT_GE(o.elapsed, 20ms);
}

TEST(Sleep, FullDurationAfterWakingFromIo) {
    // The loop caches its clock. A thread woken by I/O after the loop blocked in the kernel
    // for a while must still sleep its whole duration, measured from when it calls sleep,
    // even while another timer is pending.
    auto long_sleeper = [](cpc::condvar* stop) -> cpc::task<void> {
        co_await cpc::sleep(10s, stop);
    };
    auto io_then_sleep = [](int fd, cpc::condvar* stop, sleep_outcome* o) -> cpc::task<void> {
        const bool ready = co_await cpc::io_wait(fd, cpc::in);
        EXPECT_TRUE(ready);
        co_await timed_sleep(30ms, nullptr, o);
        stop->signal();
    };
    pipe_pair p;
    cpc::condvar stop;
    sleep_outcome o;
    cpc::spawn(long_sleeper(&stop));
    cpc::spawn(io_then_sleep(p.read_end, &stop, &o));
    std::thread writer([fd = p.write_end] {
        std::this_thread::sleep_for(40ms);
        const char c = 'x';
        EXPECT_EQ(::write(fd, &c, 1), 1);
    });
    cpc_test::main_loop();
    writer.join();
    EXPECT_TRUE(o.completed);
    // A stale clock shortens the sleep by the 40 ms the loop blocked; the loop's clock is
    // read once per iteration, so a kernel thread preempted between that read and the
    // sleep (a loaded machine) legitimately loses that much: a few ms of slack, no more.
    EXPECT_GE(o.elapsed, 25ms) << "the sleep was measured from a stale clock";
}

TEST(Sleep, FullDurationAfterComingBackFromAPool) {
    // Same, for a thread woken from another kernel thread (back from a detached call).
    auto long_sleeper = [](cpc::condvar* stop) -> cpc::task<void> {
        co_await cpc::sleep(10s, stop);
    };
    auto detached_then_sleep = [](cpc::condvar* stop, sleep_outcome* o) -> cpc::task<void> {
        co_await cpc::detached([] { std::this_thread::sleep_for(40ms); });
        co_await timed_sleep(30ms, nullptr, o);
        stop->signal();
    };
    cpc::condvar stop;
    sleep_outcome o;
    cpc::spawn(long_sleeper(&stop));
    cpc::spawn(detached_then_sleep(&stop, &o));
    cpc_test::main_loop();
    EXPECT_TRUE(o.completed);
    // A stale clock shortens the sleep by the 40 ms the loop blocked; the loop's clock is
    // read once per iteration, so a kernel thread preempted between that read and the
    // sleep (a loaded machine) legitimately loses that much: a few ms of slack, no more.
    EXPECT_GE(o.elapsed, 25ms) << "the sleep was measured from a stale clock";
}

TEST(Sleep, ManyTimersFireInDeadlineOrder) {
    // 200 sleepers with shuffled durations from 0 to 19 ms end sorted by duration, ties in
    // start order.
    std::vector<std::pair<int, int>> order;  // (duration, id)
    auto one = [](int ms, int id, std::vector<std::pair<int, int>>* order) -> cpc::task<void> {
        co_await cpc::sleep(std::chrono::milliseconds(ms));
        order->emplace_back(ms, id);
    };
    for (int id = 0; id < 200; ++id)
        cpc::spawn(one((id * 7) % 20, id, &order));
    cpc_test::main_loop();
    ASSERT_EQ(order.size(), 200u);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

}  // namespace
