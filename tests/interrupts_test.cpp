// cpc::interrupts: a wait cut short by any of several condvars (sleep, io_wait, the I/O
// wrappers), which leaves the other condvars' lists; sets reused by waits one after the
// other; null entries; with an enclosing deadline; the single-condvar form unchanged.
#include <chrono>
#include <optional>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

static_assert(sizeof(cpc::interrupt_source) == sizeof(void*));

// Signals *cv after d.
cpc::task<void> signal_after(std::chrono::milliseconds d, cpc::condvar* cv) {
    co_await cpc::sleep(d);
    cv->signal();
}

TEST(Interrupts, AnyCondvarOfTheSetCutsASleep) {
    auto body = [](cpc::condvar* a, cpc::condvar* b, bool* slept) -> cpc::task<void> {
        cpc::spawn(signal_after(2ms, b));
        cpc::interrupts any{a, b};
        EXPECT_EQ(any.size(), 2u);
        *slept = co_await cpc::sleep(10s, any);
        EXPECT_EQ(a->count(), 0u);  // the wait left the condvar that did not fire
        EXPECT_EQ(b->count(), 0u);
    };
    cpc::condvar a, b;
    bool slept = true;
    const auto start = clock::now();
    run_main(body(&a, &b, &slept));
    EXPECT_FALSE(slept);
    EXPECT_LT(since(start), 2s);
}

TEST(Interrupts, AnyCondvarOfTheSetCutsAnIoWaitAndTheSetServesTheNextWait) {
    auto body = [](int fd, cpc::condvar* a, cpc::condvar* b,
                   std::vector<bool>* results) -> cpc::task<void> {
        cpc::interrupts any{a, b};
        cpc::spawn(signal_after(2ms, a));
        const bool first = co_await cpc::io_wait(fd, cpc::in, any);
        results->push_back(first);
        cpc::spawn(signal_after(2ms, b));
        const bool second = co_await cpc::io_wait(fd, cpc::in, any);  // the same set again
        results->push_back(second);
        EXPECT_EQ(a->count() + b->count(), 0u);
    };
    pipe_pair p;
    cpc::condvar a, b;
    std::vector<bool> results;
    const auto start = clock::now();
    run_main(body(p.read_end, &a, &b, &results));
    EXPECT_EQ(results, (std::vector<bool>{false, false}));
    EXPECT_LT(since(start), 2s);
}

TEST(Interrupts, ReadWithATemporarySet) {
    auto body = [](int fd, cpc::condvar* a, cpc::condvar* b, cpc::io_result* r) -> cpc::task<void> {
        cpc::spawn(signal_after(2ms, b));
        char buf[16];
        *r = co_await cpc::read(fd, buf, sizeof buf, cpc::interrupts{a, b});
        EXPECT_EQ(a->count() + b->count(), 0u);
    };
    pipe_pair p;
    cpc::condvar a, b;
    cpc::io_result r;
    const auto start = clock::now();
    run_main(body(p.read_end, &a, &b, &r));
    EXPECT_EQ(r.error, std::errc::operation_canceled);
    EXPECT_EQ(r.bytes, 0u);
    EXPECT_LT(since(start), 2s);
}

TEST(Interrupts, ReadyBeforeAnyCondvarFires) {
    auto body = [](int fd, cpc::condvar* a, cpc::condvar* b, bool* ready) -> cpc::task<void> {
        *ready = co_await cpc::io_wait(fd, cpc::in, cpc::interrupts{a, b});
        EXPECT_EQ(a->count() + b->count(), 0u);
        a->signal();  // wakes nobody
        b->signal_all();
    };
    auto writer = [](int fd) -> cpc::task<void> {
        co_await cpc::sleep(2ms);
        EXPECT_EQ(::write(fd, "x", 1), 1);
    };
    pipe_pair p;
    cpc::condvar a, b;
    bool ready = false;
    cpc::spawn(writer(p.write_end));
    run_main(body(p.read_end, &a, &b, &ready));
    EXPECT_TRUE(ready);
}

TEST(Interrupts, NullEntriesAreSkippedAndAnEmptySetInterruptsNothing) {
    auto body = [](cpc::condvar* a, bool* cut, bool* whole) -> cpc::task<void> {
        cpc::interrupts one{static_cast<cpc::condvar*>(nullptr), a};
        EXPECT_EQ(one.size(), 1u);
        cpc::spawn(signal_after(2ms, a));
        *cut = co_await cpc::sleep(10s, one);
        cpc::interrupts none{static_cast<cpc::condvar*>(nullptr)};
        EXPECT_EQ(none.size(), 0u);
        *whole = co_await cpc::sleep(1ms, none);
    };
    cpc::condvar a;
    bool cut = true, whole = false;
    const auto start = clock::now();
    run_main(body(&a, &cut, &whole));
    EXPECT_FALSE(cut);
    EXPECT_TRUE(whole);
    EXPECT_LT(since(start), 2s);
}

TEST(Interrupts, TheDeadlineOfAnEnclosingWithTimeoutToo) {
    auto body = [](cpc::condvar* a, cpc::condvar* b,
                   std::optional<bool>* slept) -> cpc::task<void> {
        cpc::interrupts any{a, b};
        *slept = co_await cpc::with_timeout(5ms, cpc::sleep(10s, any));
        EXPECT_EQ(a->count() + b->count(), 0u);
    };
    cpc::condvar a, b;
    std::optional<bool> slept = true;
    const auto start = clock::now();
    run_main(body(&a, &b, &slept));
    EXPECT_FALSE(slept.has_value());
    EXPECT_GE(since(start), 5ms);
    EXPECT_LT(since(start), 2s);
}

TEST(Interrupts, ManyWaitersEachWithItsOwnSet) {
    // signal_all on the shared condvar cuts every wait; each wait leaves its own condvar.
    auto waiter = [](cpc::condvar* shared, int* cut) -> cpc::task<void> {
        cpc::condvar own;
        const bool slept = co_await cpc::sleep(10s, cpc::interrupts{&own, shared});
        if (!slept) ++*cut;
        EXPECT_EQ(own.count(), 0u);
    };
    auto stopper = [](cpc::condvar* shared) -> cpc::task<void> {
        co_await cpc::sleep(2ms);
        EXPECT_EQ(shared->count(), 50u);
        shared->signal_all();
    };
    cpc::condvar shared;
    int cut = 0;
    const auto start = clock::now();
    for (int i = 0; i < 50; ++i)
        cpc::spawn(waiter(&shared, &cut));
    cpc::spawn(stopper(&shared));
    cpc_test::main_loop();
    EXPECT_EQ(cut, 50);
    EXPECT_EQ(shared.count(), 0u);
    EXPECT_LT(since(start), 2s);
}

}  // namespace
