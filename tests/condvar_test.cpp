// cpc::condvar: oldest waiter first, signal_all wakes the waiters present, count(), and a
// signal with nobody waiting is lost.
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

cpc::task<void> wait_and_log(cpc::condvar* cv, int id, std::vector<int>* woken) {
    co_await cv->wait();
    woken->push_back(id);
}

TEST(Condvar, SignalWakesTheOldestWaiter) {
    auto signaller = [](cpc::condvar* cv, std::vector<int>* woken,
                        std::vector<std::size_t>* counts) -> cpc::task<void> {
        co_await cpc::yield();  // every waiter is waiting now
        for (int i = 0; i < 4; ++i) {
            counts->push_back(cv->count());
            cv->signal();
            counts->push_back(cv->count());
            // Woken threads join the run queue: nothing ran yet.
            EXPECT_EQ(woken->size(), static_cast<std::size_t>(i));
            co_await cpc::yield();
            EXPECT_EQ(woken->size(), static_cast<std::size_t>(i + 1));
        }
    };
    cpc::condvar cv;
    std::vector<int> woken;
    std::vector<std::size_t> counts;
    // Waiters 2, 0, 3, 1 start waiting in that order.
    for (int id : {2, 0, 3, 1})
        cpc::spawn(wait_and_log(&cv, id, &woken));
    cpc::spawn(signaller(&cv, &woken, &counts));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(woken, (std::vector<int>{2, 0, 3, 1}));
    EXPECT_EQ(counts, (std::vector<std::size_t>{4, 3, 3, 2, 2, 1, 1, 0}));
    EXPECT_EQ(cv.count(), 0u);
}

TEST(Condvar, WokenThreadJoinsTheEndOfTheRunQueue) {
    auto other = [](std::vector<int>* log) -> cpc::task<void> {
        log->push_back(100);
        co_return;
    };
    auto signaller = [](cpc::condvar* cv, std::vector<int>* log,
                        decltype(other) make) -> cpc::task<void> {
        co_await cpc::yield();
        cv->signal();           // the waiter is queued now...
        cpc::spawn(make(log));  // ...before this thread
        log->push_back(50);
        co_return;
    };
    cpc::condvar cv;
    std::vector<int> log;
    cpc::spawn(wait_and_log(&cv, 1, &log));
    cpc::spawn(signaller(&cv, &log, other));
    cpc_test::main_loop();
    EXPECT_EQ(log, (std::vector<int>{50, 1, 100}));
}

TEST(Condvar, SignalAllWakesEveryWaiterPresentInOrder) {
    auto signaller = [](cpc::condvar* cv, std::vector<int>* woken) -> cpc::task<void> {
        co_await cpc::yield();
        EXPECT_EQ(cv->count(), 5u);
        cv->signal_all();
        EXPECT_EQ(cv->count(), 0u);
        EXPECT_TRUE(woken->empty());
        co_return;
    };
    cpc::condvar cv;
    std::vector<int> woken;
    for (int id = 0; id < 5; ++id)
        cpc::spawn(wait_and_log(&cv, id, &woken));
    cpc::spawn(signaller(&cv, &woken));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(woken, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Condvar, SignalAllDoesNotWakeLaterWaiters) {
    // A thread that waits again right after being woken, and one that starts waiting after
    // the signal_all, both stay blocked.
    auto rewaiter = [](cpc::condvar* cv, int* wakes) -> cpc::task<void> {
        co_await cv->wait();
        ++*wakes;
        co_await cv->wait();
        ++*wakes;
    };
    auto signaller = [](cpc::condvar* cv) -> cpc::task<void> {
        co_await cpc::yield();
        cv->signal_all();
        co_return;
    };
    cpc::condvar cv;
    int wakes = 0;
    std::vector<int> late;
    cpc::spawn(rewaiter(&cv, &wakes));
    cpc::spawn(signaller(&cv));
    cpc::spawn([](cpc::condvar* cv, std::vector<int>* late) -> cpc::task<void> {
        co_await cpc::yield();
        co_await cpc::yield();  // after the signal_all
        co_await wait_and_log(cv, 7, late);
    }(&cv, &late));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 2u);
    EXPECT_EQ(wakes, 1);
    EXPECT_TRUE(late.empty());
    EXPECT_EQ(cv.count(), 2u);

    // Release them so that their frames are freed.
    cpc::spawn(signaller(&cv));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(wakes, 2);
    EXPECT_EQ(late, (std::vector<int>{7}));
}

TEST(Condvar, SignalWithoutWaiterIsANoOp) {
    auto body = [](cpc::condvar* cv, std::vector<int>* woken) -> cpc::task<void> {
        cv->signal();
        cv->signal_all();
        EXPECT_EQ(cv->count(), 0u);
        cpc::spawn(wait_and_log(cv, 1, woken));
        for (int i = 0; i < 10; ++i)
            co_await cpc::yield();
        // The earlier signals were not remembered.
        EXPECT_TRUE(woken->empty());
        EXPECT_EQ(cv->count(), 1u);
        cv->signal();
        co_await cpc::yield();
        EXPECT_EQ(*woken, std::vector<int>{1});
    };
    cpc::condvar cv;
    std::vector<int> woken;
    run_main(body(&cv, &woken));
    EXPECT_EQ(woken, std::vector<int>{1});
}

TEST(Condvar, CountIncludesSleepsAndIoWaitsItMayInterrupt) {
    auto body = [](cpc::condvar* cv, bool* slept, bool* ready) -> cpc::task<void> {
        pipe_pair p;
        cpc::spawn([](cpc::condvar* cv, bool* slept) -> cpc::task<void> {
            *slept = co_await cpc::sleep(10s, cv);
        }(cv, slept));
        cpc::spawn([](cpc::condvar* cv, int fd, bool* ready) -> cpc::task<void> {
            *ready = co_await cpc::io_wait(fd, cpc::in, cv);
        }(cv, p.read_end, ready));
        cpc::spawn([](cpc::condvar* cv) -> cpc::task<void> { co_await cv->wait(); }(cv));
        co_await cpc::yield();
        EXPECT_EQ(cv->count(), 3u);
        cv->signal_all();
        EXPECT_EQ(cv->count(), 0u);
    };
    cpc::condvar cv;
    bool slept = true;
    bool ready = true;
    run_main(body(&cv, &slept, &ready));
    EXPECT_FALSE(slept);
    EXPECT_FALSE(ready);
}

TEST(Condvar, ManyWaitersAndSignalsKeepFifoOrder) {
    auto signaller = [](cpc::condvar* cv, int n) -> cpc::task<void> {
        co_await cpc::yield();
        for (int i = 0; i < n; ++i) {
            cv->signal();
            if (i % 3 == 0) co_await cpc::yield();
        }
    };
    constexpr int kWaiters = 1000;
    cpc::condvar cv;
    std::vector<int> woken;
    for (int id = 0; id < kWaiters; ++id)
        cpc::spawn(wait_and_log(&cv, id, &woken));
    cpc::spawn(signaller(&cv, kWaiters));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    ASSERT_EQ(woken.size(), static_cast<std::size_t>(kWaiters));
    for (int i = 0; i < kWaiters; ++i)
        EXPECT_EQ(woken[static_cast<std::size_t>(i)], i);
}

}  // namespace
