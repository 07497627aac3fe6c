// cpc::with_timeout: deadlines that interrupt every sleep and io_wait inside a task, values of
// tasks that end in time, nesting, I/O wrappers, exceptions, and what a deadline does not cut.
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

struct counted {
    static inline int live = 0;
    counted() { ++live; }
    ~counted() { --live; }
    counted(const counted&) = delete;
    counted& operator=(const counted&) = delete;
};

cpc::task<int> sleep_then(std::chrono::nanoseconds d, int value, bool* slept) {
    counted guard;
    *slept = co_await cpc::sleep(d);
    co_return value;
}

cpc::task<void> sleep_void(std::chrono::nanoseconds d, bool* slept) {
    counted guard;
    *slept = co_await cpc::sleep(d);
}

TEST(WithTimeout, SlowTaskGivesNullopt) {
    auto body = [](std::optional<int>* result, bool* slept,
                   std::chrono::nanoseconds* elapsed) -> cpc::task<void> {
        const auto start = clock::now();
        *result = co_await cpc::with_timeout(20ms, sleep_then(10s, 1, slept));
        *elapsed = since(start);
        EXPECT_EQ(counted::live, 0) << "the task's frame was not unwound";
    };
    std::optional<int> result = 5;
    bool slept = true;
    std::chrono::nanoseconds elapsed{};
    const auto start = clock::now();
    run_main(body(&result, &slept, &elapsed));
    EXPECT_FALSE(result.has_value());
    EXPECT_FALSE(slept);  // the inner sleep was interrupted, not completed
    EXPECT_GE(elapsed, 20ms);
    EXPECT_LT(elapsed, 2s);
    EXPECT_LT(since(start), 2s);  // no timer of the 10 s sleep was left behind
}

TEST(WithTimeout, SlowVoidTaskGivesFalse) {
    auto body = [](bool* in_time, bool* slept) -> cpc::task<void> {
        *in_time = co_await cpc::with_timeout(10ms, sleep_void(10s, slept));
    };
    bool in_time = true;
    bool slept = true;
    const auto start = clock::now();
    run_main(body(&in_time, &slept));
    EXPECT_FALSE(in_time);
    EXPECT_FALSE(slept);
    EXPECT_GE(since(start), 10ms);
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeout, FastTaskGivesItsValue) {
    auto body = [](std::optional<int>* result, bool* in_time, bool* slept) -> cpc::task<void> {
        *result = co_await cpc::with_timeout(10s, sleep_then(1ms, 42, slept));
        *in_time = co_await cpc::with_timeout(10s, sleep_void(1ms, slept));
    };
    std::optional<int> result;
    bool in_time = false;
    bool slept = false;
    const auto start = clock::now();
    run_main(body(&result, &in_time, &slept));
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(*result, 42);
    EXPECT_TRUE(in_time);
    EXPECT_TRUE(slept);
    // The deadline timers were cancelled: the loop did not wait 10 s for them.
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeout, TaskThatNeverSuspends) {
    auto instant = []() -> cpc::task<std::string> { co_return "now"; };
    auto body = [](decltype(instant) make, std::optional<std::string>* out) -> cpc::task<void> {
        *out = co_await cpc::with_timeout(10s, make());
    };
    std::optional<std::string> out;
    const auto start = clock::now();
    run_main(body(instant, &out));
    EXPECT_LT(since(start), 2s);
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(*out, "now");
}

TEST(WithTimeout, MoveOnlyValue) {
    auto make = []() -> cpc::task<std::unique_ptr<int>> {
        co_await cpc::sleep(1ms);
        co_return std::make_unique<int>(3);
    };
    auto body = [](decltype(make) m, std::unique_ptr<int>* out) -> cpc::task<void> {
        std::optional<std::unique_ptr<int>> r = co_await cpc::with_timeout(10s, m());
        if (r) *out = std::move(*r);
    };
    std::unique_ptr<int> out;
    run_main(body(make, &out));
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(*out, 3);
}

TEST(WithTimeout, LaterWaitsInTheTaskReturnAtOnce) {
    auto task_body = [](std::vector<bool>* results) -> cpc::task<int> {
        for (int i = 0; i < 3; ++i) {
            const bool slept = co_await cpc::sleep(10s);
            results->push_back(slept);
        }
        pipe_pair p;
        const bool ready = co_await cpc::io_wait(p.read_end, cpc::in);
        results->push_back(ready);
        co_return 7;
    };
    auto body = [](decltype(task_body) make, std::vector<bool>* results,
                   std::optional<int>* out) -> cpc::task<void> {
        *out = co_await cpc::with_timeout(10ms, make(results));
    };
    std::vector<bool> results;
    std::optional<int> out = 0;
    const auto start = clock::now();
    run_main(body(task_body, &results, &out));
    EXPECT_LT(since(start), 2s);
    EXPECT_EQ(results, (std::vector<bool>{false, false, false, false}));
    EXPECT_FALSE(out.has_value());  // the task ended, but after its deadline
}

cpc::task<int> deep_sleep(int levels, bool* slept) {
    if (levels == 0) {
        *slept = co_await cpc::sleep(10s);
        co_return 0;
    }
    co_return 1 + co_await deep_sleep(levels - 1, slept);
}

TEST(WithTimeout, InterruptsWaitsAtAnyDepth) {
    auto body = [](bool* slept, std::optional<int>* out) -> cpc::task<void> {
        *out = co_await cpc::with_timeout(10ms, deep_sleep(50, slept));
    };
    bool slept = true;
    std::optional<int> out = 0;
    const auto start = clock::now();
    run_main(body(&slept, &out));
    EXPECT_FALSE(slept);
    EXPECT_FALSE(out.has_value());
    EXPECT_GE(since(start), 10ms);
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeout, OuterDeadlineCutsALongerInnerOne) {
    auto inner = [](bool* slept, std::optional<int>* inner_result) -> cpc::task<int> {
        *inner_result = co_await cpc::with_timeout(10s, sleep_then(10s, 1, slept));
        co_return 2;
    };
    auto body = [](decltype(inner) make, bool* slept, std::optional<int>* inner_result,
                   std::optional<int>* outer_result) -> cpc::task<void> {
        *outer_result = co_await cpc::with_timeout(20ms, make(slept, inner_result));
    };
    bool slept = true;
    std::optional<int> inner_result = 0;
    std::optional<int> outer_result = 0;
    const auto start = clock::now();
    run_main(body(inner, &slept, &inner_result, &outer_result));
    const auto elapsed = since(start);
    EXPECT_FALSE(slept);
    EXPECT_FALSE(inner_result.has_value());
    EXPECT_FALSE(outer_result.has_value());
    EXPECT_GE(elapsed, 20ms);
    EXPECT_LT(elapsed, 2s);
}

TEST(WithTimeout, ShorterInnerDeadlineFiresFirst) {
    auto inner = [](bool* slept, std::optional<int>* inner_result) -> cpc::task<int> {
        *inner_result = co_await cpc::with_timeout(10ms, sleep_then(10s, 1, slept));
        // The outer deadline has not passed: waits here still work.
        const bool slept_after = co_await cpc::sleep(1ms);
        co_return slept_after ? 2 : -2;
    };
    auto body = [](decltype(inner) make, bool* slept, std::optional<int>* inner_result,
                   std::optional<int>* outer_result) -> cpc::task<void> {
        *outer_result = co_await cpc::with_timeout(10s, make(slept, inner_result));
    };
    bool slept = true;
    std::optional<int> inner_result = 0;
    std::optional<int> outer_result;
    const auto start = clock::now();
    run_main(body(inner, &slept, &inner_result, &outer_result));
    EXPECT_FALSE(slept);
    EXPECT_FALSE(inner_result.has_value());
    ASSERT_TRUE(outer_result.has_value());
    EXPECT_EQ(*outer_result, 2);
    EXPECT_GE(since(start), 10ms);
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeout, ReadInsideGetsOperationCanceled) {
    auto reader = [](int fd, cpc::io_result* r) -> cpc::task<void> {
        char buf[16];
        *r = co_await cpc::read(fd, buf, sizeof buf);
    };
    auto body = [](decltype(reader) make, int fd, cpc::io_result* r,
                   bool* in_time) -> cpc::task<void> {
        *in_time = co_await cpc::with_timeout(15ms, make(fd, r));
    };
    pipe_pair p;
    cpc::io_result r;
    bool in_time = true;
    const auto start = clock::now();
    run_main(body(reader, p.read_end, &r, &in_time));
    EXPECT_FALSE(in_time);
    EXPECT_EQ(r.error, std::errc::operation_canceled);
    EXPECT_EQ(r.bytes, 0u);
    EXPECT_GE(since(start), 15ms);
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeout, ReadThatSucceedsInTime) {
    auto reader = [](int fd) -> cpc::task<std::string> {
        char buf[16];
        const cpc::io_result r = co_await cpc::read(fd, buf, sizeof buf);
        EXPECT_FALSE(r.error);
        co_return std::string(buf, r.bytes);
    };
    auto body = [](decltype(reader) make, int fd,
                   std::optional<std::string>* out) -> cpc::task<void> {
        *out = co_await cpc::with_timeout(10s, make(fd));
    };
    auto writer = [](int fd) -> cpc::task<void> {
        co_await cpc::sleep(2ms);
        EXPECT_EQ(::write(fd, "abc", 3), 3);
    };
    pipe_pair p;
    std::optional<std::string> out;
    cpc::spawn(writer(p.write_end));
    run_main(body(reader, p.read_end, &out));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(*out, "abc");
}

struct timeout_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

TEST(WithTimeout, ExceptionsPropagate) {
    auto thrower = []() -> cpc::task<int> {
        co_await cpc::sleep(1ms);
        throw timeout_error("inside");
    };
    auto body = [](decltype(thrower) make, std::string* what) -> cpc::task<void> {
        try {
            co_await cpc::with_timeout(10s, make());
        } catch (const timeout_error& e) {
            *what = e.what();
        }
    };
    std::string what;
    const auto start = clock::now();
    run_main(body(thrower, &what));
    EXPECT_EQ(what, "inside");
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeout, ExceptionAfterTheDeadlinePropagatesToo) {
    auto thrower = []() -> cpc::task<void> {
        const bool slept = co_await cpc::sleep(10s);
        if (!slept) throw timeout_error("interrupted");
    };
    auto body = [](decltype(thrower) make, std::string* what) -> cpc::task<void> {
        try {
            co_await cpc::with_timeout(5ms, make());
        } catch (const timeout_error& e) {
            *what = e.what();
        }
    };
    std::string what;
    run_main(body(thrower, &what));
    EXPECT_EQ(what, "interrupted");
}

TEST(WithTimeout, CondvarWaitsAreNotInterrupted) {
    auto waiter = [](cpc::condvar* cv, bool* woke) -> cpc::task<int> {
        co_await cv->wait();
        *woke = true;
        co_return 1;
    };
    auto body = [](decltype(waiter) make, cpc::condvar* cv, bool* woke,
                   std::optional<int>* out) -> cpc::task<void> {
        *out = co_await cpc::with_timeout(5ms, make(cv, woke));
    };
    auto signaller = [](cpc::condvar* cv, bool* woke) -> cpc::task<void> {
        co_await cpc::sleep(30ms);
        EXPECT_FALSE(*woke);  // still waiting after the deadline passed
        cv->signal();
    };
    cpc::condvar cv;
    bool woke = false;
    std::optional<int> out = 0;
    cpc::spawn(signaller(&cv, &woke));
    run_main(body(waiter, &cv, &woke, &out));
    EXPECT_TRUE(woke);
    EXPECT_FALSE(out.has_value());  // ended, but after the deadline
}

TEST(WithTimeout, ExplicitInterruptCondvarStillWorksInside) {
    auto sleeper = [](cpc::condvar* cv, bool* slept) -> cpc::task<int> {
        *slept = co_await cpc::sleep(10s, cv);
        co_return 4;
    };
    auto body = [](decltype(sleeper) make, cpc::condvar* cv, bool* slept,
                   std::optional<int>* out) -> cpc::task<void> {
        *out = co_await cpc::with_timeout(10s, make(cv, slept));
    };
    auto interrupter = [](cpc::condvar* cv) -> cpc::task<void> {
        co_await cpc::sleep(2ms);
        cv->signal();
    };
    cpc::condvar cv;
    bool slept = true;
    std::optional<int> out;
    const auto start = clock::now();
    cpc::spawn(interrupter(&cv));
    run_main(body(sleeper, &cv, &slept, &out));
    EXPECT_FALSE(slept);
    ASSERT_TRUE(out.has_value());  // the deadline did not pass
    EXPECT_EQ(*out, 4);
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeout, ThreadsSpawnedInsideAreNotInTheScope) {
    auto spawner = [](bool* child_slept) -> cpc::task<int> {
        cpc::spawn([](bool* child_slept) -> cpc::task<void> {
            *child_slept = co_await cpc::sleep(30ms);
        }(child_slept));
        const bool slept = co_await cpc::sleep(10s);
        co_return slept ? 1 : 0;
    };
    auto body = [](decltype(spawner) make, bool* child_slept,
                   std::optional<int>* out) -> cpc::task<void> {
        *out = co_await cpc::with_timeout(5ms, make(child_slept));
    };
    bool child_slept = false;
    std::optional<int> out = 0;
    run_main(body(spawner, &child_slept, &out));
    EXPECT_FALSE(out.has_value());
    EXPECT_TRUE(child_slept);  // the deadline belongs to the awaiting thread only
}

TEST(WithTimeout, ManyConcurrentDeadlines) {
    // 100 threads, each with its own deadline; the odd ones finish in time. Their margin is
    // wide (1 ms of work, 10 s of deadline): a loaded machine (the sanitizer trees run in
    // parallel) once held the loop past a 20 ms deadline and its 1 ms sleep alike.
    auto one = [](int i, int* in_time, int* late) -> cpc::task<void> {
        bool slept = false;
        const std::chrono::milliseconds work = (i % 2) ? 1ms : 10s;
        const std::chrono::milliseconds deadline = (i % 2) ? 10s : 20ms;
        const std::optional<int> r =
            co_await cpc::with_timeout(deadline, sleep_then(work, i, &slept));
        if (r) {
            EXPECT_EQ(*r, i);
            ++*in_time;
        } else {
            ++*late;
        }
    };
    int in_time = 0;
    int late = 0;
    const auto start = clock::now();
    for (int i = 0; i < 100; ++i)
        cpc::spawn(one(i, &in_time, &late));
    cpc_test::main_loop();
    EXPECT_EQ(in_time, 50);
    EXPECT_EQ(late, 50);
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeout, NestedScopeOpenedAfterTheOuterDeadlineIsCutAtOnce) {
    auto inner = [](std::optional<int>* inner_result, bool* slept) -> cpc::task<int> {
        const bool first = co_await cpc::sleep(10s);  // cut by the outer deadline
        EXPECT_FALSE(first);
        *inner_result = co_await cpc::with_timeout(10s, sleep_then(10s, 1, slept));
        co_return 2;
    };
    auto body = [](decltype(inner) make, std::optional<int>* inner_result, bool* slept,
                   std::optional<int>* outer_result) -> cpc::task<void> {
        *outer_result = co_await cpc::with_timeout(5ms, make(inner_result, slept));
    };
    std::optional<int> inner_result = 0;
    std::optional<int> outer_result = 0;
    bool slept = true;
    const auto start = clock::now();
    run_main(body(inner, &inner_result, &slept, &outer_result));
    EXPECT_LT(since(start), 2s);
    EXPECT_FALSE(slept);
    EXPECT_FALSE(inner_result.has_value());
    EXPECT_FALSE(outer_result.has_value());
}

TEST(WithTimeout, DetachedCallIsNotCutShort) {
    // A blocking call on the pool cannot be interrupted: with_timeout returns when it comes
    // back, empty since the deadline passed meanwhile.
    auto body = [](std::optional<int>* out, std::chrono::nanoseconds* elapsed) -> cpc::task<void> {
        const auto start = clock::now();
        auto blocking = [] {
            std::this_thread::sleep_for(30ms);
            return 1;
        };
        *out = co_await cpc::with_timeout(5ms, cpc::detached(blocking));
        *elapsed = since(start);
    };
    std::optional<int> out = 0;
    std::chrono::nanoseconds elapsed{};
    run_main(body(&out, &elapsed));
    EXPECT_FALSE(out.has_value());
    EXPECT_GE(elapsed, 30ms);
}

TEST(WithTimeout, OnAPoolTheTaskRunsToItsEnd) {
    auto body = [](std::optional<int>* out, bool* slept,
                   std::thread::id* where) -> cpc::task<void> {
        cpc::scheduler& home = co_await cpc::attach(cpc::default_pool());
        *where = kernel_thread();
        *out = co_await cpc::with_timeout(1ms, sleep_then(20ms, 9, slept));
        co_await cpc::attach(home);
    };
    std::optional<int> out;
    bool slept = false;
    std::thread::id where;
    run_main(body(&out, &slept, &where));
    EXPECT_NE(where, kernel_thread());
    EXPECT_TRUE(slept);
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(*out, 9);
}

TEST(WithTimeout, TaskEndingOnAPoolComesBackBeforeTheDeadlineIsCancelled) {
    // The deadline lives on the loop's timer heap: with_timeout must return to the loop it was
    // called on before cancelling it, not touch the heap from a pool thread.
    auto ends_on_pool = []() -> cpc::task<int> {
        co_await cpc::attach(cpc::default_pool());
        co_return 4;
    };
    auto body = [](cpc::task<int> t, std::optional<int>* out, std::thread::id* where,
                   std::thread::id* after) -> cpc::task<void> {
        *where = kernel_thread();
        *out = co_await cpc::with_timeout(10s, std::move(t));
        *after = kernel_thread();
    };
    std::optional<int> out;
    std::thread::id where, after;
    const auto start = clock::now();
    run_main(body(ends_on_pool(), &out, &where, &after));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(*out, 4);
    EXPECT_EQ(after, where);
    EXPECT_LT(since(start), 5s);  // the 10 s deadline was cancelled, not waited for
}

// with_timeout(d, awaiter): one wait under a deadline, without a task.

std::size_t pending_timers() {
    return cpc::loop::current()->pending_timers();
}

// An awaiter ready at once, which records the loop's timers when it is resumed.
struct ready_value {
    std::size_t* timers_seen;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    int await_resume() const {
        *timers_seen = pending_timers();
        return 5;
    }
};

// An awaiter that is not ready but does not suspend either (as io_wait on a regular file).
struct not_suspending {
    std::size_t* timers_seen;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<>) const noexcept {
        *timers_seen = pending_timers();
        return false;
    }
    void await_resume() const noexcept {}
};

// with_timeout's result is awaited in the expression that made it, never kept.
template <class T>
concept awaitable_when_kept = requires(T& kept) {
    kept.operator co_await();
};
static_assert(!awaitable_when_kept<cpc::detail::timed<cpc::sleep_awaiter>>);

TEST(WithTimeoutAwaiter, ReadyAtOnceArmsNoTimer) {
    auto body = [](std::size_t* ready_timers, std::size_t* waiting_timers,
                   std::size_t* after_timers, std::optional<int>* value,
                   bool* in_time) -> cpc::task<void> {
        *value = co_await cpc::with_timeout(10s, ready_value{ready_timers});
        *in_time = co_await cpc::with_timeout(10s, not_suspending{waiting_timers});
        *after_timers = pending_timers();
    };
    std::size_t ready_timers = 9, waiting_timers = 9, after_timers = 9;
    std::optional<int> value;
    bool in_time = false;
    const auto start = clock::now();
    run_main(body(&ready_timers, &waiting_timers, &after_timers, &value, &in_time));
    EXPECT_EQ(ready_timers, 0u);    // ready at once: no deadline was armed
    EXPECT_EQ(waiting_timers, 1u);  // about to suspend: the deadline is armed
    EXPECT_EQ(after_timers, 0u);    // and cancelled when the wait ends
    ASSERT_TRUE(value.has_value());
    EXPECT_EQ(*value, 5);
    EXPECT_TRUE(in_time);
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeoutAwaiter, DeadlineInterruptsIoWait) {
    auto body = [](int fd, std::optional<bool>* ready, std::size_t* timers_after,
                   std::chrono::nanoseconds* elapsed) -> cpc::task<void> {
        const auto start = clock::now();
        *ready = co_await cpc::with_timeout(15ms, cpc::io_wait(fd, cpc::in));
        *elapsed = since(start);
        *timers_after = pending_timers();
    };
    pipe_pair p;
    std::optional<bool> ready = true;
    std::size_t timers_after = 9;
    std::chrono::nanoseconds elapsed{};
    run_main(body(p.read_end, &ready, &timers_after, &elapsed));
    EXPECT_FALSE(ready.has_value());
    EXPECT_EQ(timers_after, 0u);
    EXPECT_GE(elapsed, 15ms);
    EXPECT_LT(elapsed, 2s);
}

TEST(WithTimeoutAwaiter, IoWaitReadyInTimeOrInterruptedByItsCondvar) {
    auto body = [](int fd, cpc::condvar* cv, std::optional<bool>* ready,
                   std::optional<bool>* interrupted) -> cpc::task<void> {
        *interrupted = co_await cpc::with_timeout(10s, cpc::io_wait(fd, cpc::in, cv));
        *ready = co_await cpc::with_timeout(10s, cpc::io_wait(fd, cpc::in));
    };
    auto other = [](int fd, cpc::condvar* cv) -> cpc::task<void> {
        co_await cpc::sleep(2ms);
        cv->signal();
        co_await cpc::sleep(2ms);
        EXPECT_EQ(::write(fd, "x", 1), 1);
    };
    pipe_pair p;
    cpc::condvar cv;
    std::optional<bool> ready, interrupted;
    const auto start = clock::now();
    cpc::spawn(other(p.write_end, &cv));
    run_main(body(p.read_end, &cv, &ready, &interrupted));
    ASSERT_TRUE(interrupted.has_value());  // in time, but woken by the condvar
    EXPECT_FALSE(*interrupted);
    ASSERT_TRUE(ready.has_value());
    EXPECT_TRUE(*ready);
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeoutAwaiter, Sleep) {
    auto body = [](std::optional<bool>* cut, std::optional<bool>* whole) -> cpc::task<void> {
        *cut = co_await cpc::with_timeout(5ms, cpc::sleep(10s));
        *whole = co_await cpc::with_timeout(10s, cpc::sleep(1ms));
    };
    std::optional<bool> cut = true, whole;
    const auto start = clock::now();
    run_main(body(&cut, &whole));
    EXPECT_FALSE(cut.has_value());
    ASSERT_TRUE(whole.has_value());
    EXPECT_TRUE(*whole);
    EXPECT_GE(since(start), 6ms);
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeoutAwaiter, NestsInsideATaskDeadline) {
    // The task form's deadline cuts a longer direct one; a shorter direct one fires first and
    // leaves the task's scope as it was.
    auto inner = [](std::optional<bool>* short_one, bool* slept_after,
                    std::optional<bool>* long_one) -> cpc::task<int> {
        *short_one = co_await cpc::with_timeout(5ms, cpc::sleep(10s));
        *slept_after = co_await cpc::sleep(1ms);
        *long_one = co_await cpc::with_timeout(10s, cpc::sleep(10s));
        co_return 1;
    };
    auto body = [](decltype(inner) make, std::optional<bool>* short_one, bool* slept_after,
                   std::optional<bool>* long_one, std::optional<int>* outer) -> cpc::task<void> {
        *outer = co_await cpc::with_timeout(30ms, make(short_one, slept_after, long_one));
    };
    std::optional<bool> short_one = true, long_one = true;
    bool slept_after = false;
    std::optional<int> outer = 0;
    const auto start = clock::now();
    run_main(body(inner, &short_one, &slept_after, &long_one, &outer));
    EXPECT_FALSE(short_one.has_value());
    EXPECT_TRUE(slept_after);
    EXPECT_FALSE(long_one.has_value());
    EXPECT_FALSE(outer.has_value());
    EXPECT_GE(since(start), 30ms);
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeoutAwaiter, AfterTheEnclosingDeadlineItIsCutAtOnce) {
    auto inner = [](std::optional<bool>* direct, std::size_t* timers) -> cpc::task<void> {
        const bool first = co_await cpc::sleep(10s);  // cut by the enclosing deadline
        EXPECT_FALSE(first);
        *direct = co_await cpc::with_timeout(10s, cpc::sleep(10s));
        *timers = pending_timers();
    };
    auto body = [](decltype(inner) make, std::optional<bool>* direct,
                   std::size_t* timers) -> cpc::task<void> {
        const bool in_time = co_await cpc::with_timeout(5ms, make(direct, timers));
        EXPECT_FALSE(in_time);
    };
    std::optional<bool> direct = true;
    std::size_t timers = 9;
    const auto start = clock::now();
    run_main(body(inner, &direct, &timers));
    EXPECT_FALSE(direct.has_value());
    EXPECT_EQ(timers, 0u);  // the enclosing deadline fired, and the direct one left none
    EXPECT_LT(since(start), 2s);
}

TEST(WithTimeoutAwaiter, CondvarWaitEndsAtTheDeadline) {
    auto body = [](cpc::condvar* cv, bool* signalled,
                   std::chrono::nanoseconds* elapsed) -> cpc::task<void> {
        const auto start = clock::now();
        *signalled = co_await cpc::with_timeout(10ms, cv->wait());
        *elapsed = since(start);
        EXPECT_EQ(cv->count(), 0u);  // the waiter left the condvar
        cv->signal();                // wakes nobody
    };
    cpc::condvar cv;
    bool signalled = true;
    std::chrono::nanoseconds elapsed{};
    run_main(body(&cv, &signalled, &elapsed));  // also checks that nobody was left blocked
    EXPECT_FALSE(signalled);
    EXPECT_GE(elapsed, 10ms);
    EXPECT_LT(elapsed, 2s);
}

TEST(WithTimeoutAwaiter, CondvarSignalledInTime) {
    auto waiter = [](cpc::condvar* cv, int* woken) -> cpc::task<void> {
        const bool signalled = co_await cpc::with_timeout(10s, cv->wait());
        EXPECT_TRUE(signalled);
        ++*woken;
    };
    auto signaller = [](cpc::condvar* cv) -> cpc::task<void> {
        co_await cpc::sleep(2ms);
        EXPECT_EQ(cv->count(), 2u);
        cv->signal();  // the oldest waiter only
        co_await cpc::sleep(2ms);
        cv->signal_all();
    };
    cpc::condvar cv;
    int woken = 0;
    const auto start = clock::now();
    cpc::spawn(waiter(&cv, &woken));
    cpc::spawn(waiter(&cv, &woken));
    cpc::spawn(signaller(&cv));
    cpc_test::main_loop();
    EXPECT_EQ(woken, 2);
    EXPECT_LT(since(start), 2s);  // the 10 s deadlines were cancelled
}

TEST(WithTimeoutAwaiter, CondvarWaitCutByAnEnclosingDeadline) {
    auto inner = [](cpc::condvar* cv, bool* signalled) -> cpc::task<void> {
        *signalled = co_await cpc::with_timeout(10s, cv->wait());
    };
    auto body = [](decltype(inner) make, cpc::condvar* cv, bool* signalled) -> cpc::task<void> {
        const bool in_time = co_await cpc::with_timeout(5ms, make(cv, signalled));
        EXPECT_FALSE(in_time);
    };
    cpc::condvar cv;
    bool signalled = true;
    const auto start = clock::now();
    run_main(body(inner, &cv, &signalled));
    EXPECT_FALSE(signalled);
    EXPECT_EQ(cv.count(), 0u);
    EXPECT_LT(since(start), 2s);
}

// with_timeout(d, task): the deadline is armed at the thread's first suspension inside the
// task, and counts from the call.

cpc::task<std::size_t> timers_without_suspending() {
    co_return pending_timers();
}

cpc::task<std::size_t> timers_after_a_yield() {
    co_await cpc::yield();
    co_return pending_timers();
}

cpc::task<std::size_t> nested(cpc::task<std::size_t> inner) {
    std::optional<std::size_t> timers = co_await cpc::with_timeout(5s, std::move(inner));
    co_return timers.value_or(99);
}

TEST(WithTimeout, TaskThatDoesNotSuspendArmsNoTimer) {
    auto body = [](std::vector<std::optional<std::size_t>>* seen,
                   std::size_t* after) -> cpc::task<void> {
        seen->push_back(co_await cpc::with_timeout(10s, timers_without_suspending()));
        seen->push_back(co_await cpc::with_timeout(10s, nested(timers_without_suspending())));
        seen->push_back(co_await cpc::with_timeout(10s, timers_after_a_yield()));
        seen->push_back(co_await cpc::with_timeout(10s, nested(timers_after_a_yield())));
        *after = pending_timers();
    };
    std::vector<std::optional<std::size_t>> seen;
    std::size_t after = 9;
    const auto start = clock::now();
    run_main(body(&seen, &after));
    const std::vector<std::optional<std::size_t>> expected{
        0u,  // ended without suspending: no timer, nested or not
        0u,
        1u,  // suspended: its deadline was armed then
        2u,  // both deadlines, the outer one as well
    };
    EXPECT_EQ(seen, expected);
    EXPECT_EQ(after, 0u);  // every armed deadline was cancelled when its task ended
    EXPECT_LT(since(start), 2s);
}

// Runs past its deadline without suspending, then sleeps (an hour: only a deadline ends it)
// while an observer sleeps half the deadline's length from then.
cpc::task<void> overrun_then_sleep(std::chrono::nanoseconds d, std::string* order) {
    const std::int64_t until = cpc::monotonic_ns() + d.count();  // after with_timeout's call
    while (cpc::monotonic_ns() < until) {
    }
    cpc::spawn([](std::chrono::nanoseconds half, std::string* order) -> cpc::task<void> {
        co_await cpc::sleep(half);
        *order += 'o';
    }(d / 2, order));
    const bool slept = co_await cpc::sleep(1h);
    *order += slept ? 'S' : 't';
}

TEST(WithTimeout, DeadlineCountsFromTheCallNotFromTheFirstSuspension) {
    auto body = [](std::string* order, bool* in_time) -> cpc::task<void> {
        *in_time = co_await cpc::with_timeout(20ms, overrun_then_sleep(20ms, order));
    };
    std::string order;
    bool in_time = true;
    run_main(body(&order, &in_time));
    EXPECT_FALSE(in_time);
    // Counted from the call, the deadline had passed when the thread suspended: it fires
    // before the observer's sleep, which counts from then (from the first suspension, the
    // deadline would come half its length after the observer).
    EXPECT_EQ(order, "to");
}

}  // namespace
