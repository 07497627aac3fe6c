// cpc::task_group: join waits for every thread of the group and rethrows the first exception.
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

cpc::task<void> sleep_and_log(std::chrono::nanoseconds d, int id, std::vector<int>* ended) {
    co_await cpc::sleep(d);
    ended->push_back(id);
}

TEST(TaskGroup, JoinWaitsForAll) {
    auto body = [](std::vector<int>* ended, std::vector<std::size_t>* sizes) -> cpc::task<void> {
        cpc::task_group g;
        g.spawn(sleep_and_log(15ms, 3, ended));
        g.spawn(sleep_and_log(5ms, 1, ended));
        g.spawn(sleep_and_log(10ms, 2, ended));
        g.spawn([](std::vector<int>* ended) -> cpc::task<void> {
            for (int i = 0; i < 5; ++i)
                co_await cpc::yield();
            ended->push_back(0);
        }(ended));
        sizes->push_back(g.size());
        co_await g.join();
        sizes->push_back(g.size());
        ended->push_back(100);
    };
    std::vector<int> ended;
    std::vector<std::size_t> sizes;
    run_main(body(&ended, &sizes));
    EXPECT_EQ(ended, (std::vector<int>{0, 1, 2, 3, 100}));
    EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 0}));
}

TEST(TaskGroup, JoinOfAnEmptyGroupReturnsAtOnce) {
    auto body = [](bool* joined) -> cpc::task<void> {
        cpc::task_group g;
        co_await g.join();
        *joined = true;
    };
    bool joined = false;
    run_main(body(&joined));
    EXPECT_TRUE(joined);
}

TEST(TaskGroup, ThreadsRunOnTheSpawnersLoop) {
    auto body = [](cpc::loop** seen) -> cpc::task<void> {
        cpc::task_group g;
        g.spawn([](cpc::loop** seen) -> cpc::task<void> {
            *seen = cpc::loop::current();
            co_return;
        }(seen));
        co_await g.join();
    };
    cpc::loop own;
    cpc::loop* seen = nullptr;
    cpc::spawn(own, body(&seen));
    own.run();
    EXPECT_EQ(seen, &own);
}

struct group_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

TEST(TaskGroup, JoinRethrowsTheFirstException) {
    auto thrower = [](int yields, std::string what) -> cpc::task<void> {
        for (int i = 0; i < yields; ++i)
            co_await cpc::yield();
        throw group_error(what);
    };
    auto body = [](decltype(thrower) make, std::string* caught, std::vector<int>* ended,
                   bool* second_join_clean) -> cpc::task<void> {
        cpc::task_group g;
        g.spawn(make(3, "second"));
        g.spawn(make(1, "first"));
        g.spawn(sleep_and_log(5ms, 7, ended));  // ends after both threw
        try {
            co_await g.join();
        } catch (const group_error& e) {
            *caught = e.what();
        }
        EXPECT_EQ(g.size(), 0u);
        // The exception was handed over: a later join has nothing to rethrow.
        *second_join_clean = false;
        co_await g.join();
        *second_join_clean = true;
    };
    std::string caught;
    std::vector<int> ended;
    bool second_join_clean = false;
    run_main(body(thrower, &caught, &ended, &second_join_clean));
    EXPECT_EQ(caught, "first");
    EXPECT_EQ(ended, std::vector<int>{7});  // join waited for every thread, not only the throwers
    EXPECT_TRUE(second_join_clean);
}

TEST(TaskGroup, ExceptionFromAThreadThatThrowsAtOnce) {
    auto body = [](std::string* caught) -> cpc::task<void> {
        cpc::task_group g;
        g.spawn([]() -> cpc::task<void> {
            throw group_error("immediate");
            co_return;
        }());
        try {
            co_await g.join();
        } catch (const group_error& e) {
            *caught = e.what();
        }
    };
    std::string caught;
    run_main(body(&caught));
    EXPECT_EQ(caught, "immediate");
}

TEST(TaskGroup, ReusableAfterJoin) {
    auto body = [](int* n) -> cpc::task<void> {
        cpc::task_group g;
        for (int round = 0; round < 3; ++round) {
            for (int i = 0; i < 10; ++i) {
                g.spawn([](int* n) -> cpc::task<void> {
                    co_await cpc::yield();
                    ++*n;
                }(n));
            }
            co_await g.join();
            EXPECT_EQ(*n, (round + 1) * 10);
        }
    };
    int n = 0;
    run_main(body(&n));
    EXPECT_EQ(n, 30);
}

TEST(TaskGroup, SeveralJoinersAllWake) {
    auto joiner = [](cpc::task_group* g, int* joined) -> cpc::task<void> {
        co_await g->join();
        ++*joined;
    };
    auto body = [](decltype(joiner) make, int* joined) -> cpc::task<void> {
        cpc::task_group g;
        std::vector<int> ended;
        g.spawn(sleep_and_log(5ms, 1, &ended));
        cpc::task_group joiners;
        joiners.spawn(make(&g, joined));
        joiners.spawn(make(&g, joined));
        co_await g.join();
        co_await joiners.join();
        EXPECT_EQ(ended, std::vector<int>{1});
    };
    int joined = 0;
    run_main(body(joiner, &joined));
    EXPECT_EQ(joined, 2);
}

TEST(TaskGroup, ManyThreads) {
    auto body = [](long* sum) -> cpc::task<void> {
        cpc::task_group g;
        for (int i = 1; i <= 100'000; ++i) {
            g.spawn([](int i, long* sum) -> cpc::task<void> {
                co_await cpc::yield();
                *sum += i;
            }(i, sum));
        }
        co_await g.join();
    };
    long sum = 0;
    run_main(body(&sum));
    EXPECT_EQ(sum, 100'000L * 100'001L / 2);
}

}  // namespace
