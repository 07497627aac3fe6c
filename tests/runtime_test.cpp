// cpc::runtime and cpc::color: one loop per kernel thread, colors, wake-ups across loops,
// stealing, and the topology the loops are placed with.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "cpc/color.hpp"
#include "cpc/runtime.hpp"
#include "cpc/topology.hpp"
#include "test_support.hpp"

namespace {

using namespace cpc_test;

TEST(Topology, DetectsTheCpusOfTheAffinityMask) {
    const cpc::topology t = cpc::topology::detect();
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
    EXPECT_EQ(t.size(), static_cast<std::size_t>(CPU_COUNT(&set)));
    std::set<int> seen;
    for (const cpc::cpu_info& c : t.cpus()) {
        EXPECT_TRUE(CPU_ISSET(c.os_index, &set));
        seen.insert(c.os_index);
    }
    EXPECT_EQ(seen.size(), t.size());
    for (std::size_t a = 0; a < t.size(); ++a) {
        EXPECT_EQ(t.distance(a, a), 0);
        for (std::size_t b = 0; b < t.size(); ++b)
            EXPECT_EQ(t.distance(a, b), t.distance(b, a));
    }
}

TEST(Topology, DistanceFollowsSharedCoresCachesAndPackages) {
    // Two packages; package 0 has two cache groups, one with an SMT pair.
    const cpc::topology t({{0, 0, 0, 0}, {1, 0, 0, 0}, {2, 1, 0, 0}, {3, 2, 1, 0}, {4, 3, 2, 1}});
    EXPECT_EQ(t.distance(0, 1), 1);
    EXPECT_EQ(t.distance(0, 2), 2);
    EXPECT_EQ(t.distance(0, 3), 3);
    EXPECT_EQ(t.distance(0, 4), 4);
    EXPECT_TRUE(t.near(1, 2));
    EXPECT_FALSE(t.near(2, 3));
}

TEST(Runtime, RunsOneLoopPerKernelThread) {
    cpc::runtime rt({.threads = 3, .pin = false});
    ASSERT_EQ(rt.size(), 3u);
    std::vector<std::thread::id> ran(3);
    std::vector<cpc::loop*> on(3);
    for (std::size_t i = 0; i < 3; ++i) {
        rt.spawn_on(rt.at(i), [](std::thread::id* id, cpc::loop** l) -> cpc::task<void> {
            *id = kernel_thread();
            *l = cpc::loop::current();
            co_return;
        }(&ran[i], &on[i]));
    }
    EXPECT_EQ(rt.run().blocked_threads, 0u);
    EXPECT_EQ(std::set<std::thread::id>(ran.begin(), ran.end()).size(), 3u);
    for (std::size_t i = 0; i < 3; ++i)
        EXPECT_EQ(on[i], &rt.at(i));
    EXPECT_EQ(ran[0], kernel_thread());  // loop 0 runs on the caller
}

TEST(Runtime, RunsAgainAfterItEnded) {
    cpc::runtime rt({.threads = 2, .pin = false});
    int runs = 0;
    for (int round = 0; round < 3; ++round) {
        rt.spawn([](int* runs) -> cpc::task<void> {
            co_await cpc::sleep(1ms);
            ++*runs;
        }(&runs));
        rt.run();
    }
    EXPECT_EQ(runs, 3);
}

TEST(Runtime, WaitsForThreadsSentBetweenLoops) {
    // A chain of hops between the loops: the run ends only after the last.
    cpc::runtime rt({.threads = 2, .pin = false});
    int hops = 0;
    rt.spawn_on(rt.at(0), [](cpc::runtime* rt, int* hops) -> cpc::task<void> {
        for (int i = 0; i < 100; ++i) {
            co_await cpc::attach(rt->at(static_cast<std::size_t>(i % 2)));
            ++*hops;
        }
    }(&rt, &hops));
    rt.run();
    EXPECT_EQ(hops, 100);
}

TEST(Runtime, ACallFromOutsideMayMeetTheEndOfTheRun) {
    // A kernel thread of no loop of the runtime queues calls for the default loop while
    // runtimes that adopt it start, run out of work and are destroyed, over and over: the end
    // of a run must not free what such a sender still uses, and no call is lost or run twice.
    std::atomic<bool> stop{false};
    std::atomic<long> sent{0};
    long ran = 0;  // only touched on the default loop's kernel thread (this one)
    auto count = [](cpc::loop&, void* p) noexcept { ++*static_cast<long*>(p); };
    std::thread sender([&] {
        while (!stop.load()) {
            cpc::default_loop().call_soon(count, &ran);
            sent.fetch_add(1);
            std::this_thread::yield();
        }
    });
    for (int round = 0; round < 200; ++round) {
        cpc::runtime rt({.threads = 2, .pin = false, .adopt_default_loop = true});
        rt.spawn_on(rt.at(1), []() -> cpc::task<void> { co_await cpc::yield(); }());
        rt.run();
    }
    stop.store(true);
    sender.join();
    cpc::main_loop();  // the calls queued after the last run
    EXPECT_EQ(ran, sent.load());
}

TEST(Runtime, CondvarSignalFromAnotherLoopWakesTheWaiterOnItsLoop) {
    cpc::runtime rt({.threads = 2, .pin = false});
    cpc::condvar cv;
    bool ready = false;  // guarded by the hand-over through the condvar's lock
    cpc::loop* woke_on = nullptr;
    rt.spawn_on(rt.at(0), [](cpc::condvar* cv, bool* ready, cpc::loop** on) -> cpc::task<void> {
        while (!*ready)
            co_await cv->wait();
        *on = cpc::loop::current();
    }(&cv, &ready, &woke_on));
    rt.spawn_on(rt.at(1), [](cpc::condvar* cv, bool* ready) -> cpc::task<void> {
        // Signal only once the waiter waits: a signal before is lost, as with any condvar.
        while (cv->count() == 0)
            co_await cpc::sleep(100us);
        *ready = true;
        cv->signal();
    }(&cv, &ready));
    EXPECT_EQ(rt.run().blocked_threads, 0u);
    EXPECT_EQ(woke_on, &rt.at(0));
}

TEST(Runtime, SleepInterruptedFromAnotherLoop) {
    cpc::runtime rt({.threads = 2, .pin = false});
    cpc::condvar cv;
    bool completed = true;
    cpc::loop* resumed_on = nullptr;
    rt.spawn_on(rt.at(0), [](cpc::condvar* cv, bool* completed, cpc::loop** on) -> cpc::task<void> {
        const bool c = co_await cpc::sleep(10s, cv);
        *completed = c;
        *on = cpc::loop::current();
    }(&cv, &completed, &resumed_on));
    rt.spawn_on(rt.at(1), [](cpc::condvar* cv) -> cpc::task<void> {
        while (cv->count() == 0)
            co_await cpc::sleep(100us);
        cv->signal();
    }(&cv));
    rt.run();
    EXPECT_FALSE(completed);
    EXPECT_EQ(resumed_on, &rt.at(0));
}

TEST(Runtime, DeadlineInterruptsASleepArmedOnAnotherLoop) {
    // The task recolors to a color of loop 1 and sleeps there; the deadline fires on loop 0,
    // the sleep is interrupted on loop 1, and with_timeout ends back on loop 0.
    cpc::runtime rt({.threads = 2, .pin = false, .steal = false});
    cpc::color far(rt.at(1));
    struct seen {
        bool slept = true;
        cpc::loop* slept_on = nullptr;
        bool in_time = true;
        cpc::loop* ended_on = nullptr;
    } s;
    rt.spawn_on(rt.at(0), [](cpc::color* far, seen* s) -> cpc::task<void> {
        auto body = [](cpc::color* far, seen* s) -> cpc::task<void> {
            co_await cpc::recolor(*far);
            const bool slept = co_await cpc::sleep(10s);
            s->slept = slept;
            s->slept_on = cpc::loop::current();
        };
        const bool in_time = co_await cpc::with_timeout(5ms, body(far, s));
        s->in_time = in_time;
        s->ended_on = cpc::loop::current();
    }(&far, &s));
    rt.run();
    EXPECT_FALSE(s.slept);
    EXPECT_EQ(s.slept_on, &rt.at(1));
    EXPECT_FALSE(s.in_time);
    EXPECT_EQ(s.ended_on, &rt.at(0));
}

TEST(Runtime, SignalsFromAnotherLoopReachASetAndATimedCondvarWait) {
    // Loop 1 signals condvars that a thread of loop 0 waits on through an interrupts set and
    // through with_timeout(d, cv.wait()): the claim comes from another loop, and the wait's
    // own loop unlinks it from the other condvar of the set.
    cpc::runtime rt({.threads = 2, .pin = false, .steal = false});
    struct shared {
        cpc::condvar a, b, c;
        std::optional<bool> slept;
        std::size_t left_linked = 9;
        bool signalled = false;
    } s;
    rt.spawn_on(rt.at(0), [](shared* s) -> cpc::task<void> {
        const bool slept = co_await cpc::sleep(10s, cpc::interrupts{&s->a, &s->b});
        s->slept = slept;
        s->left_linked = s->a.count() + s->b.count();
        s->signalled = co_await cpc::with_timeout(10s, s->c.wait());
    }(&s));
    rt.spawn_on(rt.at(1), [](shared* s) -> cpc::task<void> {
        const auto give_up = clock::now() + 5s;  // a safety net only
        while (s->b.count() == 0 && clock::now() < give_up)
            co_await cpc::sleep(100us);
        s->b.signal();
        while (s->c.count() == 0 && clock::now() < give_up)
            co_await cpc::sleep(100us);
        s->c.signal();
    }(&s));
    const auto start = clock::now();
    rt.run();
    ASSERT_TRUE(s.slept.has_value());
    EXPECT_FALSE(*s.slept);
    EXPECT_EQ(s.left_linked, 0u);
    EXPECT_TRUE(s.signalled);
    EXPECT_LT(since(start), 2s);
}

// What two loops' threads share in the close tests: each step is published by one loop and
// polled by the other.
struct close_steps {
    std::atomic<int> step{0};
    int fd = -1;  // published by step 1
};

cpc::task<void> wait_for_step(close_steps* s, int step) {
    while (s->step.load() < step)
        co_await cpc::sleep(100us);
}

cpc::task<bool> wait_readable(int fd) {
    const bool ready = co_await cpc::io_wait(fd, cpc::in);
    co_return ready;
}

cpc::task<void> write_byte_later(int fd) {
    co_await cpc::sleep(2ms);
    const char c = 'x';
    EXPECT_EQ(::write(fd, &c, 1), 1);
}

TEST(Runtime, CloseOnAnotherLoopForgetsTheFdOnTheLoopThatWaitedOnIt) {
    // Loop 0 waits on a pipe (its interest stays armed afterwards), loop 1 closes it, loop 0
    // makes a new pipe that reuses the number and waits on it: it must really be watched.
    cpc::runtime rt({.threads = 2, .pin = false, .steal = false});
    close_steps s;
    struct seen {
        int first_fd = -1;
        int reused_fd = -2;
        std::optional<bool> ready;
    } r;
    rt.spawn_on(rt.at(0), [](close_steps* s, seen* r) -> cpc::task<void> {
        int p[2];
        EXPECT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
        const char c = 'x';
        EXPECT_EQ(::write(p[1], &c, 1), 1);
        const bool first = co_await cpc::io_wait(p[0], cpc::in);
        EXPECT_TRUE(first);
        char got;
        EXPECT_EQ(::read(p[0], &got, 1), 1);
        // The write end stays open: its close would be a hang-up on p[0], which the loop
        // would see and disarm by itself.
        const int first_write_end = p[1];
        r->first_fd = s->fd = p[0];
        s->step.store(1);
        co_await wait_for_step(s, 2);  // loop 1 closed p[0]
        EXPECT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
        r->reused_fd = p[0];
        ::close(first_write_end);
        cpc::spawn(write_byte_later(p[1]));
        r->ready = co_await cpc::with_timeout(2s, wait_readable(p[0]));
        cpc::close(p[0]);
        cpc::close(p[1]);
    }(&s, &r));
    rt.spawn_on(rt.at(1), [](close_steps* s) -> cpc::task<void> {
        co_await wait_for_step(s, 1);
        cpc::close(s->fd);
        s->step.store(2);
    }(&s));
    rt.run();
    ASSERT_EQ(r.reused_fd, r.first_fd);  // otherwise the test proves nothing
    ASSERT_TRUE(r.ready.has_value());    // empty: the deadline passed, the fd was not watched
    EXPECT_TRUE(*r.ready);
}

TEST(Runtime, CloseOnAnotherLoopWakesTheWaitersThere) {
    // A closed fd leaves the poll set without an event: only the close can wake its waiters.
    cpc::runtime rt({.threads = 2, .pin = false, .steal = false});
    close_steps s;
    std::optional<bool> woken;
    int write_end = -1;
    rt.spawn_on(rt.at(0),
                [](close_steps* s, std::optional<bool>* woken, int* write_end) -> cpc::task<void> {
                    int p[2];
                    EXPECT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
                    s->fd = p[0];
                    *write_end = p[1];
                    // Runs once this thread waits: only then may loop 1 close the fd.
                    cpc::spawn([](close_steps* s) -> cpc::task<void> {
                        s->step.store(1);
                        co_return;
                    }(s));
                    *woken = co_await cpc::with_timeout(2s, wait_readable(p[0]));
                }(&s, &woken, &write_end));
    rt.spawn_on(rt.at(1), [](close_steps* s) -> cpc::task<void> {
        co_await wait_for_step(s, 1);
        cpc::close(s->fd);
    }(&s));
    const auto start = clock::now();
    rt.run();
    ::close(write_end);
    ASSERT_TRUE(woken.has_value());  // empty: the deadline passed, the close woke nobody
    EXPECT_TRUE(*woken);             // the next call on the fd tells what happened
    EXPECT_LT(since(start), 1s);
}

struct shared_listener {
    int fd = -1;
    sockaddr_in addr{};
    std::atomic<int> accepted[2] = {0, 0};
    std::atomic<int> failed{0};
    std::atomic<bool> stopping{false};
    std::atomic<int> stopped{0};
    cpc::condvar stop;
};

cpc::task<void> accept_shared(shared_listener* l, int me) {
    while (!l->stopping.load()) {
        const cpc::accept_result a = co_await cpc::accept(l->fd, nullptr, nullptr, &l->stop, true);
        if (a.error == std::errc::operation_canceled) continue;
        if (!a) {
            l->failed.fetch_add(1);
            break;
        }
        l->accepted[me].fetch_add(1);
        cpc::close(a.fd);
    }
    l->stopped.fetch_add(1);
}

cpc::task<void> connect_many(shared_listener* l, int n) {
    for (int i = 0; i < n; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        const std::error_code e =
            co_await cpc::connect(fd, reinterpret_cast<const sockaddr*>(&l->addr), sizeof l->addr);
        EXPECT_FALSE(e) << e.message();
        cpc::close(fd);
    }
    const auto start = clock::now();
    while (l->accepted[0].load() + l->accepted[1].load() < n && since(start) < 5s)
        co_await cpc::sleep(1ms);
    // A signal sent while an acceptor is between two waits is lost: repeat until both left.
    l->stopping.store(true);
    while (l->stopped.load() < 2) {
        l->stop.signal_all();
        co_await cpc::sleep(1ms);
    }
}

TEST(Runtime, EveryLoopAcceptsOnOneSharedListeningSocket) {
    // Both loops wait on the same socket with EPOLLEXCLUSIVE; every connection is accepted
    // exactly once, by one of them.
    cpc::runtime rt({.threads = 2, .pin = false, .steal = false});
    shared_listener l;
    l.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(l.fd, 0);
    l.addr.sin_family = AF_INET;
    l.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof l.addr;
    ASSERT_EQ(::bind(l.fd, reinterpret_cast<sockaddr*>(&l.addr), sizeof l.addr), 0);
    ASSERT_EQ(::listen(l.fd, 64), 0);
    ASSERT_EQ(::getsockname(l.fd, reinterpret_cast<sockaddr*>(&l.addr), &len), 0);
    rt.spawn_on(rt.at(0), accept_shared(&l, 0));
    rt.spawn_on(rt.at(1), accept_shared(&l, 1));
    rt.spawn_on(rt.at(0), connect_many(&l, 50));
    EXPECT_EQ(rt.run().blocked_threads, 0u);
    cpc::close(l.fd);
    EXPECT_EQ(l.failed.load(), 0);
    EXPECT_EQ(l.accepted[0].load() + l.accepted[1].load(), 50);
}

TEST(Color, RecolorMovesTheThreadToTheColorsLoop) {
    cpc::runtime rt({.threads = 2, .pin = false, .steal = false});
    cpc::color c(rt.at(1));
    struct seen {
        cpc::color* before = nullptr;
        cpc::color* after = nullptr;
        cpc::loop* loop_after = nullptr;
        cpc::scheduler* left = nullptr;
        cpc::loop* back = nullptr;
    } s;
    rt.spawn_on(rt.at(0), [](cpc::color* c, seen* s, cpc::loop* home) -> cpc::task<void> {
        s->before = cpc::current_color();
        cpc::scheduler& left = co_await cpc::recolor(*c);
        s->after = cpc::current_color();
        s->loop_after = cpc::loop::current();
        s->left = &left;
        co_await cpc::attach(*home);
        s->back = cpc::loop::current();
    }(&c, &s, &rt.at(0)));
    rt.run();
    EXPECT_EQ(s.before, nullptr);
    EXPECT_EQ(s.after, &c);
    EXPECT_EQ(s.loop_after, &rt.at(1));
    EXPECT_EQ(s.left, &rt.at(0));
    EXPECT_EQ(s.back, &rt.at(0));
}

TEST(Color, ThreadsOfOneColorRunInFifoOrderOnOneLoop) {
    cpc::runtime rt({.threads = 2, .pin = false});
    cpc::color c(rt);
    std::vector<int> order;  // state of color c: no lock
    for (int i = 0; i < 5; ++i) {
        rt.spawn(
            [](int i, std::vector<int>* order) -> cpc::task<void> {
                order->push_back(i);
                co_await cpc::yield();
                order->push_back(10 + i);
            }(i, &order),
            c);
    }
    rt.run();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 10, 11, 12, 13, 14}));
}

TEST(Color, TaskGroupOfAColoredThreadStaysInItsColor) {
    cpc::runtime rt({.threads = 2, .pin = false});
    cpc::color c(rt);
    int in_color = 0;
    rt.spawn(
        [](cpc::color* c, int* in_color) -> cpc::task<void> {
            cpc::task_group g;
            for (int i = 0; i < 4; ++i) {
                g.spawn([](cpc::color* c, int* in_color) -> cpc::task<void> {
                    co_await cpc::yield();
                    if (cpc::current_color() == c) ++*in_color;
                }(c, in_color));
            }
            co_await g.join();
        }(&c, &in_color),
        c);
    rt.run();
    EXPECT_EQ(in_color, 4);
}

// Two unpinned loops that steal at the first chance: one runnable thread is enough for a
// near or a far move, and a color may move again at once, so that a stealing test needs no
// real load to provoke (or to fail to prevent) a steal.
cpc::runtime_options eager_stealing() {
    return {.threads = 2,
            .pin = false,
            .steal_min_ready = 1,
            .steal_far_min_ready = 1,
            .steal_hysteresis = 0};
}

// n colors that all start on loop l, the busy loop of a stealing test. (Colors are neither
// copyable nor movable: the vector holds pointers.)
std::vector<std::unique_ptr<cpc::color>> colors_on(cpc::loop& l, std::size_t n) {
    std::vector<std::unique_ptr<cpc::color>> colors;
    for (std::size_t i = 0; i < n; ++i)
        colors.push_back(std::make_unique<cpc::color>(l));
    return colors;
}

// Yields in colors that all start on loop 0 until the idle loop 1 has stolen one.
TEST(Stealing, AnIdleLoopTakesAColorFromABusyOne) {
    cpc::runtime rt(eager_stealing());
    const std::vector<std::unique_ptr<cpc::color>> colors = colors_on(rt.at(0), 4);
    std::atomic<int> ran_on_1{0};
    for (int i = 0; i < 8; ++i) {
        rt.spawn(
            [](cpc::runtime* rt, std::atomic<int>* ran_on_1) -> cpc::task<void> {
                const auto give_up = clock::now() + 20s;  // a safety net only
                while (rt->steals() == 0 && clock::now() < give_up)
                    co_await cpc::yield();
                if (cpc::loop::current() == &rt->at(1)) ran_on_1->fetch_add(1);
                co_await cpc::yield();
            }(&rt, &ran_on_1),
            *colors[static_cast<std::size_t>(i % 4)]);
    }
    rt.run();
    EXPECT_GE(rt.steals(), 1u);
    EXPECT_GE(ran_on_1.load(), 1);
}

TEST(Stealing, APinnedColorStays) {
    // with_timeout pins its color: its deadline timer must be cancelled where it was armed.
    cpc::runtime rt(eager_stealing());
    cpc::color pinned(rt.at(0));
    cpc::color other(rt.at(0));
    std::atomic<bool> stop{false};
    bool moved = false;
    rt.spawn(
        [](std::atomic<bool>* stop, bool* moved) -> cpc::task<void> {
            auto body = [](std::atomic<bool>* stop, bool* moved) -> cpc::task<void> {
                cpc::loop* start = cpc::loop::current();
                for (int i = 0; i < 2000; ++i) {
                    co_await cpc::yield();
                    if (cpc::loop::current() != start) *moved = true;
                }
                stop->store(true);
            };
            const bool in_time = co_await cpc::with_timeout(10s, body(stop, moved));
            EXPECT_TRUE(in_time);
        }(&stop, &moved),
        pinned);
    for (int i = 0; i < 3; ++i) {
        rt.spawn(
            [](std::atomic<bool>* stop) -> cpc::task<void> {
                while (!stop->load())
                    co_await cpc::yield();
            }(&stop),
            other);
    }
    rt.run();
    EXPECT_FALSE(moved);
}

TEST(Stealing, AColorWaitingUnderADirectDeadlineStays) {
    // with_timeout(d, awaiter) pins the color too while its deadline is armed: the color's
    // other threads, yielding meanwhile on a busy loop beside an idle one, never move.
    cpc::runtime rt(eager_stealing());
    const std::vector<std::unique_ptr<cpc::color>> colors = colors_on(rt.at(0), 4);
    std::vector<cpc::condvar> done(colors.size());
    std::atomic<int> moved{0};
    std::vector<std::optional<bool>> slept(colors.size(), true);
    for (std::size_t c = 0; c < colors.size(); ++c) {
        rt.spawn(
            [](cpc::condvar* done, std::optional<bool>* slept) -> cpc::task<void> {
                *slept = co_await cpc::with_timeout(10s, cpc::sleep(10s, done));
            }(&done[c], &slept[c]),
            *colors[c]);
        rt.spawn(
            [](cpc::condvar* done, std::atomic<int>* moved) -> cpc::task<void> {
                cpc::loop* start = cpc::loop::current();
                for (int i = 0; i < 2000; ++i) {
                    co_await cpc::yield();
                    if (cpc::loop::current() != start) moved->fetch_add(1);
                }
                done->signal_all();
            }(&done[c], &moved),
            *colors[c]);
    }
    rt.run();
    // (A color may be stolen before its first thread has run and armed the deadline: the
    // yielder measures from where it starts.)
    EXPECT_EQ(moved.load(), 0);
    for (const std::optional<bool>& s : slept) {
        ASSERT_TRUE(s.has_value());  // in time, woken by its condvar
        EXPECT_FALSE(*s);
    }
}

}  // namespace
