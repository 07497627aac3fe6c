// The runtime's precondition checks (include/cpc/detail/check.hpp): each misuse the headers
// forbid aborts with a message naming it, in builds with CPC_CHECKS (Debug, and the sanitizer
// trees of `make test`). Elsewhere the checks are compiled out and these tests are skipped.
#include <gtest/gtest.h>

#include <chrono>
#include <utility>

#include "cpc/detail/ring_queue.hpp"
#include "cpc/detail/timer_heap.hpp"
#include "test_support.hpp"

namespace {

using namespace cpc_test;

class Checks : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!CPC_CHECKS) GTEST_SKIP() << "built without CPC_CHECKS";
        // The child re-executes the test binary: no state of this process (a loop's kernel
        // threads) is inherited half-way.
        GTEST_FLAG_SET(death_test_style, "threadsafe");
    }
};

cpc::task<void> nothing() {
    co_return;
}

cpc::task<void> await_it(cpc::task<void>* t) {
    co_await std::move(*t);
}

TEST_F(Checks, AwaitingAnEmptyTaskAborts) {
    EXPECT_DEATH(
        {
            cpc::task<void> empty;
            run_main(await_it(&empty));
        },
        "co_await on an empty task");
}

TEST_F(Checks, AwaitingATaskTwiceAborts) {
    EXPECT_DEATH(
        {
            cpc::task<void> once = nothing();
            run_main([](cpc::task<void>* t) -> cpc::task<void> {
                co_await *t;
                co_await *t;
            }(&once));
        },
        "a task awaited a second time");
}

TEST_F(Checks, ACondvarWaitOnAPoolThreadAborts) {
    EXPECT_DEATH(
        {
            cpc::thread_pool pool(1);
            cpc::condvar cv;
            run_main([](cpc::thread_pool* p, cpc::condvar* c) -> cpc::task<void> {
                co_await cpc::attach(*p);
                co_await c->wait();
            }(&pool, &cv));
        },
        "condvar wait on a kernel thread without a loop");
}

TEST_F(Checks, ATimedCondvarWaitOnAPoolThreadAborts) {
    EXPECT_DEATH(
        {
            cpc::thread_pool pool(1);
            cpc::condvar cv;
            run_main([](cpc::thread_pool* p, cpc::condvar* c) -> cpc::task<void> {
                co_await cpc::attach(*p);
                co_await cpc::with_timeout(std::chrono::seconds(1), c->wait());
            }(&pool, &cv));
        },
        "condvar wait on a kernel thread without a loop");
}

TEST_F(Checks, ArmingATimerOfAnotherLoopAborts) {
    EXPECT_DEATH(
        {
            cpc::loop other;
            cpc::detail::timer_node t;
            t.fire = [](cpc::detail::timer_node*) noexcept {};
            other.add_timer(&t, 1'000'000);  // this kernel thread runs no loop
        },
        "add_timer called from another kernel thread");
}

TEST_F(Checks, TheTimerHeapRefusesADoubleAddAndAStrayCancel) {
    EXPECT_DEATH(
        {
            cpc::detail::timer_heap heap;
            cpc::detail::timer_node t;
            heap.add(&t, 10);
            heap.add(&t, 20);
        },
        "a timer added while it is pending");
    EXPECT_DEATH(
        {
            cpc::detail::timer_heap heap;
            cpc::detail::timer_node t;
            heap.cancel(&t);
        },
        "a timer cancelled that is not pending");
    EXPECT_DEATH(
        {
            cpc::detail::timer_heap heap;
            (void)heap.next_deadline();
        },
        "next_deadline of an empty timer heap");
}

TEST_F(Checks, PoppingAnEmptyRunQueueAborts) {
    EXPECT_DEATH(
        {
            cpc::detail::ring_queue q;
            (void)q.pop_front();
        },
        "pop_front on an empty run queue");
}

// The swarm simulator's hazard: after the deadline, every sleep returns "interrupted" at once,
// and a thread that sleeps again on that answer never gives its loop back.
cpc::task<void> sleep_forever_ignoring_interruptions() {
    for (;;) {
        const bool slept = co_await cpc::sleep(1ms);
        (void)slept;
    }
}

TEST_F(Checks, AThreadThatNeverSuspendsInsideAPassedDeadlineAborts) {
    EXPECT_DEATH(
        {
            run_main([]() -> cpc::task<void> {
                const bool ended =
                    co_await cpc::with_timeout(5ms, sleep_forever_ignoring_interruptions());
                (void)ended;
            }());
        },
        "1,048,576 waits in a row without suspending");
}

// What the checks must not refuse: many waits cut short, each followed by a real suspension.
TEST_F(Checks, WaitsCutShortCountOnlyUntilTheThreadSuspends) {
    int cut_short = 0;
    run_main([](int* n) -> cpc::task<void> {
        for (int round = 0; round < 3; ++round) {
            const bool ended = co_await cpc::with_timeout(1ms, [](int* n) -> cpc::task<void> {
                co_await cpc::sleep(1s);  // cut by the deadline after suspending
                for (std::uint32_t i = 0; i < cpc::detail::kMaxWaitsCutShortInARow / 2; ++i) {
                    const bool slept = co_await cpc::sleep(1s);
                    if (!slept) ++*n;
                }
            }(n));
            EXPECT_FALSE(ended);
            co_await cpc::yield();
        }
    }(&cut_short));
    EXPECT_EQ(cut_short, 3 * static_cast<int>(cpc::detail::kMaxWaitsCutShortInARow / 2));
}

}  // namespace
