// wake-costs: what a wake-up of a thread on another loop costs the loop that sends it.
//
//   build/bench/wake-costs [rounds]
//
// bench/many-cores/runtime-costs measures how long a wake-up takes to arrive; this measures
// what the sender pays, which is what bounds how many wake-ups a loop can send. Loop 1 has
// threads blocked on a condvar; a thread of loop 0 signals it, and only loop 0's time in
// signal() is counted (the lock of the waiter list, the push on loop 1's locked queue, and
// the eventfd write when one is made). Prints ns per signal, median of `rounds` runs
// (default 5):
// - signal_busy: loop 1 is busy (a thread that yields), so it never blocks in the kernel;
//   the sender spins 5 us between two signals, longer than a round of loop 1, so that every
//   signal finds loop 1's queue empty (a loop that sends now and then, not in bursts);
// - signal_sleeping: loop 1 has nothing else to do and blocks in epoll_wait between two
//   signals (the sender sleeps 200 us between them).
// The pauses are not counted.
#include <cpc/cpc.hpp>
#include <cpc/runtime.hpp>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

std::uint64_t now_ns() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

// What the sender touches and what loop 1 touches sit on different cache lines.
struct probe {
    alignas(64) cpc::condvar cv;
    std::uint64_t sender_ns = 0;
    alignas(64) std::atomic<std::uint64_t> waiting{0};
    std::atomic<std::uint64_t> woken{0};
    std::atomic<bool> stop{false};
};

cpc::task<void> waiter(probe* p) {
    p->waiting.fetch_add(1, std::memory_order_relaxed);
    co_await p->cv.wait();
    p->woken.fetch_add(1, std::memory_order_relaxed);
}

cpc::task<void> busy(probe* p) {
    while (!p->stop.load(std::memory_order_relaxed))
        co_await cpc::yield();
}

cpc::task<void> sender(probe* p, std::uint64_t n, bool target_busy) {
    while (p->waiting.load(std::memory_order_relaxed) != n)
        co_await cpc::sleep(std::chrono::microseconds(100));
    for (std::uint64_t i = 0; i < n; ++i) {
        if (target_busy) {
            for (const std::uint64_t until = now_ns() + 5'000; now_ns() < until;) {
            }
        } else {
            co_await cpc::sleep(std::chrono::microseconds(200));
        }
        const std::uint64_t t0 = now_ns();
        p->cv.signal();
        p->sender_ns += now_ns() - t0;
    }
    while (p->woken.load(std::memory_order_relaxed) != n)
        co_await cpc::sleep(std::chrono::microseconds(100));
    p->stop.store(true);
}

double signal_ns(bool target_busy, std::uint64_t n) {
    cpc::runtime rt({.threads = 2, .steal = false});
    probe p;
    for (std::uint64_t i = 0; i < n; ++i)
        rt.spawn_on(rt.at(1), waiter(&p));
    if (target_busy) rt.spawn_on(rt.at(1), busy(&p));
    rt.spawn_on(rt.at(0), sender(&p, n, target_busy));
    rt.run();
    return static_cast<double>(p.sender_ns) / static_cast<double>(n);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
    struct row {
        const char* name;
        double (*run)();
    };
    const row rows[] = {
        {"signal_busy", [] { return signal_ns(true, 20'000); }},
        {"signal_sleeping", [] { return signal_ns(false, 2'000); }},
    };
    for (const row& r : rows) {
        std::vector<double> v;
        for (int i = 0; i < rounds; ++i)
            v.push_back(r.run());
        std::printf("%-16s %10.1f ns  (median of %d; min %.1f, max %.1f)\n", r.name, median(v),
                    rounds, *std::min_element(v.begin(), v.end()),
                    *std::max_element(v.begin(), v.end()));
        std::fflush(stdout);
    }
    return 0;
}
