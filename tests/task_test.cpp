// cpc::task<T>: laziness, values (including move-only ones), exceptions through awaits, and
// deep await chains (symmetric transfer: no native stack per level).
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

// Counts its live instances, to check that frames destroy what they hold.
struct tracked {
    static inline int live = 0;
    tracked() { ++live; }
    tracked(const tracked&) { ++live; }
    tracked(tracked&&) noexcept { ++live; }
    ~tracked() { --live; }
};

cpc::task<int> answer() {
    co_return 42;
}

cpc::task<int> add(int a, int b) {
    co_return co_await answer() - 42 + a + b;
}

cpc::task<std::string> greet(std::string name) {
    co_await cpc::yield();
    co_return "hello " + name;
}

cpc::task<std::unique_ptr<int>> make_unique_int(int v) {
    co_await cpc::yield();
    co_return std::make_unique<int>(v);
}

cpc::task<void> set_flag(bool* flag) {
    *flag = true;
    co_return;
}

TEST(Task, IsLazyAndDestroyingAnUnawaitedTaskFreesItsFrame) {
    bool ran = false;
    {
        cpc::task<void> t = set_flag(&ran);
        EXPECT_TRUE(t.valid());
        EXPECT_FALSE(ran);
    }
    EXPECT_FALSE(ran);

    // The parameters copied into the frame are destroyed with it.
    EXPECT_EQ(tracked::live, 0);
    {
        auto t = [](tracked) -> cpc::task<void> { co_return; }(tracked{});
        EXPECT_EQ(tracked::live, 1);
    }
    EXPECT_EQ(tracked::live, 0);
}

TEST(Task, MovedFromTaskIsInvalid) {
    bool ran = false;
    cpc::task<void> a = set_flag(&ran);
    cpc::task<void> b = std::move(a);
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(b.valid());
    cpc::task<void> c;
    EXPECT_FALSE(c.valid());
    c = std::move(b);
    EXPECT_TRUE(c.valid());
    run_main(std::move(c));
    EXPECT_TRUE(ran);
}

TEST(Task, AwaitRunsTheTaskAndYieldsItsValue) {
    EXPECT_EQ(run_main_value(answer()), 42);
    EXPECT_EQ(run_main_value(add(2, 3)), 5);
    EXPECT_EQ(run_main_value(greet("world")), "hello world");
}

TEST(Task, MoveOnlyValues) {
    std::unique_ptr<int> p = run_main_value(make_unique_int(7));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 7);

    // Through two levels, with the value moved out of each frame.
    auto twice = [](int v) -> cpc::task<std::unique_ptr<int>> {
        std::unique_ptr<int> inner = co_await make_unique_int(v);
        *inner *= 2;
        co_return inner;
    };
    p = run_main_value(twice(21));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 42);
}

TEST(Task, ValueWithoutDefaultConstructor) {
    struct no_default {
        explicit no_default(int v) : v(v) {}
        int v;
    };
    auto make = []() -> cpc::task<no_default> { co_return no_default{9}; };
    EXPECT_EQ(run_main_value(make()).v, 9);
}

TEST(Task, AwaitingInASequenceReusesNothingStale) {
    auto body = [](std::vector<int>* out) -> cpc::task<void> {
        for (int i = 0; i < 100; ++i)
            out->push_back(co_await add(i, 1));
    };
    std::vector<int> out;
    run_main(body(&out));
    ASSERT_EQ(out.size(), 100u);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(out[static_cast<std::size_t>(i)], i + 1);
}

// An exception type that remembers where the thrown object lives, to check that the awaiting
// task catches the very object that was thrown.
struct test_error : std::runtime_error {
    explicit test_error(int id) : std::runtime_error("test_error " + std::to_string(id)), id(id) {}
    int id;
};

const void* g_thrown_at = nullptr;

cpc::task<int> throws_after_yield(int id) {
    co_await cpc::yield();
    try {
        throw test_error{id};
    } catch (const test_error& e) {
        g_thrown_at = &e;
        throw;
    }
    co_return 0;
}

TEST(Task, ExceptionReachesTheAwaitingTask) {
    struct seen {
        bool caught = false;
        int id = 0;
        std::string what;
        const void* address = nullptr;
    };
    auto body = [](seen* s) -> cpc::task<void> {
        try {
            co_await throws_after_yield(5);
            ADD_FAILURE() << "no exception";
        } catch (const test_error& e) {
            s->caught = true;
            s->id = e.id;
            s->what = e.what();
            s->address = &e;
        }
    };
    seen s;
    run_main(body(&s));
    EXPECT_TRUE(s.caught);
    EXPECT_EQ(s.id, 5);
    EXPECT_EQ(s.what, "test_error 5");
    EXPECT_EQ(s.address, g_thrown_at) << "the awaiting task caught a copy, not the thrown object";
}

cpc::task<int> middle(int* destroyed) {
    struct guard {
        int* n;
        ~guard() { ++*n; }
    } g{destroyed};
    const int v = co_await throws_after_yield(11);  // not caught here: unwinds this frame
    ADD_FAILURE() << "middle continued after an exception";
    co_return v;
}

cpc::task<int> upper(int* destroyed) {
    tracked t;
    co_return co_await middle(destroyed) + 1;
}

TEST(Task, NestedExceptionUnwindsEveryFrame) {
    auto body = [](int* destroyed, int* caught) -> cpc::task<void> {
        try {
            co_await upper(destroyed);
        } catch (const test_error& e) {
            *caught = e.id;
        }
    };
    int destroyed = 0;
    int caught = 0;
    run_main(body(&destroyed, &caught));
    EXPECT_EQ(caught, 11);
    EXPECT_EQ(destroyed, 1);
    EXPECT_EQ(tracked::live, 0);
}

TEST(Task, ExceptionCaughtAndRethrownAsAnother) {
    auto translate = []() -> cpc::task<void> {
        try {
            co_await throws_after_yield(1);
        } catch (const test_error&) {
            throw std::logic_error("translated");
        }
    };
    auto body = [](cpc::task<void> t, std::string* what) -> cpc::task<void> {
        try {
            co_await std::move(t);
        } catch (const std::logic_error& e) {
            *what = e.what();
        }
    };
    std::string what;
    run_main(body(translate(), &what));
    EXPECT_EQ(what, "translated");
}

TEST(Task, ExceptionFromVoidTaskAndThenNormalAwaitsContinue) {
    auto thrower = []() -> cpc::task<void> {
        throw std::out_of_range("void task");
        co_return;
    };
    auto body = [](cpc::task<void> t, int* after) -> cpc::task<void> {
        bool failed = false;
        try {
            co_await std::move(t);
        } catch (const std::out_of_range&) {
            failed = true;  // (no co_await inside a handler)
        }
        if (failed) *after = co_await answer();
    };
    int after = 0;
    run_main(body(thrower(), &after));
    EXPECT_EQ(after, 42);
}

TEST(TaskDeathTest, ExceptionEscapingAThreadTerminatesWithItsMessage) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    auto thrower = []() -> cpc::task<void> {
        co_await cpc::yield();
        throw std::runtime_error("escaped from a thread");
    };
    EXPECT_DEATH(
        {
            cpc::spawn(thrower());
            cpc_test::main_loop();
        },
        "escaped from a thread");
}

// --- Deep chains -------------------------------------------------------------------------

// A million levels: far beyond any native stack if a level used a native frame. Fast enough
// under AddressSanitizer too (CPC_PLAIN_FRAMES: every frame a red-zoned allocation).
constexpr long kDeep = 1'000'000;

cpc::task<long> depth(long n) {
    if (n == 0) co_return 0;
    co_return 1 + co_await depth(n - 1);
}

cpc::task<long> depth_with_yield_at_bottom(long n) {
    if (n == 0) {
        co_await cpc::yield();  // the whole chain is resumed from the loop, then unwinds
        co_return 0;
    }
    co_return 1 + co_await depth_with_yield_at_bottom(n - 1);
}

cpc::task<void> void_depth(long n, long* count) {
    if (n == 0) co_return;
    co_await void_depth(n - 1, count);
    ++*count;
}

TEST(Task, MillionDeepAwaitChain) {
    EXPECT_EQ(run_main_value(depth(kDeep)), kDeep);
}

TEST(Task, MillionDeepAwaitChainSuspendedAtTheBottom) {
    EXPECT_EQ(run_main_value(depth_with_yield_at_bottom(kDeep)), kDeep);
}

TEST(Task, MillionDeepVoidChain) {
    long count = 0;
    run_main(void_depth(kDeep, &count));
    EXPECT_EQ(count, kDeep);
}

cpc::task<long> depth_then_throw(long n) {
    if (n == 0) throw test_error{static_cast<int>(n)};
    co_return 1 + co_await depth_then_throw(n - 1);
}

TEST(Task, ExceptionThroughADeepChain) {
    // Each level rethrows once: ten thousand levels keep the test fast.
    auto body = [](bool* caught) -> cpc::task<void> {
        try {
            co_await depth_then_throw(10'000);
        } catch (const test_error& e) {
            *caught = e.id == 0;
        }
    };
    bool caught = false;
    run_main(body(&caught));
    EXPECT_TRUE(caught);
}

}  // namespace
