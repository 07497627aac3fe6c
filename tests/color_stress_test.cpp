// The color guarantee under stress: two threads of one color never run at the same time.
//
// Threads of several colors run on a 3-loop runtime that steals as often as it can (every
// threshold at its minimum). Every slice of a thread (the code between two suspension
// points) enters its color on resumption and leaves it before suspending: entering a color
// that another slice is inside of is a violation. Threads yield, sleep, wait on and signal a
// condvar shared by all loops, and recolor, with choices drawn from a fixed seed. Each
// color also keeps a plain counter that only its slices touch: under ThreadSanitizer, two
// slices of one color that are not ordered by the runtime are reported as a data race.
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "cpc/color.hpp"
#include "cpc/runtime.hpp"
#include "test_support.hpp"

namespace {

using namespace cpc_test;

constexpr int kColors = 6;
constexpr int kThreads = 36;
constexpr int kSlices = 250;
constexpr std::size_t kWantedSteals = 20;

struct color_slot {
    std::unique_ptr<cpc::color> c;
    std::atomic<int> inside{0};
    long slices = 0;  // only touched inside the color
};

struct world {
    cpc::runtime* rt;
    color_slot colors[kColors];
    cpc::condvar shared;
    std::atomic<long> violations{0};
    std::atomic<long> slices{0};
    std::atomic<int> finished{0};
};

struct rng {
    std::uint64_t s;
    unsigned next(unsigned n) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return static_cast<unsigned>(s % n);
    }
};

void enter(world* w, int c) {
    if (w->colors[c].inside.fetch_add(1, std::memory_order_acq_rel) != 0) {
        w->violations.fetch_add(1);
    }
    ++w->colors[c].slices;
    w->slices.fetch_add(1, std::memory_order_relaxed);
}

void leave(world* w, int c) {
    w->colors[c].inside.fetch_sub(1, std::memory_order_acq_rel);
}

cpc::task<void> worker(world* w, int id, int c) {
    rng r{0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(id + 1)};
    enter(w, c);
    // At least kSlices slices, and on until the runtime has stolen often enough (the wall
    // clock only bounds a run that would otherwise never end: it decides no verdict).
    const auto give_up = clock::now() + 20s;
    for (int i = 0; i < kSlices || (w->rt->steals() < kWantedSteals && clock::now() < give_up);
         ++i) {
        // Some work inside the slice, so that slices of one color would overlap if they could.
        for (int spin = 0; spin < 50; ++spin)
            asm volatile("" ::: "memory");
        const unsigned what = r.next(16);
        leave(w, c);
        if (what < 8) {
            co_await cpc::yield();
        } else if (what < 10) {
            const bool slept = co_await cpc::sleep(std::chrono::microseconds(r.next(200)));
            static_cast<void>(slept);
        } else if (what < 12) {
            // Woken by a signal from any loop, or by the timer.
            const bool slept =
                co_await cpc::sleep(std::chrono::microseconds(r.next(500)), &w->shared);
            static_cast<void>(slept);
        } else if (what < 13) {
            w->shared.signal_all();
            co_await cpc::yield();
        } else {
            c = static_cast<int>(r.next(kColors));
            co_await cpc::recolor(*w->colors[c].c);
        }
        enter(w, c);
        EXPECT_EQ(cpc::current_color(), w->colors[c].c.get());
        // Wherever the thread waited, it resumes on the loop that owns its color now.
        EXPECT_EQ(cpc::loop::current(), &w->colors[c].c->owner());
    }
    leave(w, c);
    w->finished.fetch_add(1);
}

void stress(unsigned loops) {
    cpc::runtime rt({.threads = loops,
                     .pin = false,
                     .steal_min_ready = 1,
                     .steal_far_min_ready = 1,
                     .steal_hysteresis = 0});
    world w{&rt, {}, {}, {}, {}, {}};
    // Every color starts on loop 0: the others get work only by stealing.
    for (color_slot& s : w.colors)
        s.c = std::make_unique<cpc::color>(rt.at(0));
    for (int t = 0; t < kThreads; ++t)
        rt.spawn(worker(&w, t, t % kColors), *w.colors[t % kColors].c);
    EXPECT_EQ(rt.run().blocked_threads, 0u);
    EXPECT_EQ(w.violations.load(), 0);
    EXPECT_EQ(w.finished.load(), kThreads);
    long per_color = 0;
    for (color_slot& s : w.colors) {
        EXPECT_EQ(s.inside.load(), 0);
        per_color += s.slices;
    }
    EXPECT_EQ(per_color, w.slices.load());
    EXPECT_GE(rt.steals(), kWantedSteals);
}

TEST(ColorStress, NoTwoThreadsOfOneColorOverlapOnTwoLoops) {
    stress(2);
}

TEST(ColorStress, NoTwoThreadsOfOneColorOverlapOnThreeLoops) {
    stress(3);
}

}  // namespace
