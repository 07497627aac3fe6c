// runtime-costs: the per-operation costs of cpc::runtime that decide how it scales.
//
//   build/bench/runtime-costs [rounds [name]]
//
// Prints, in ns (median of `rounds` runs, default 5):
// - cross_wake: one wake-up of a thread on another loop (a thread hopping between loop 0 and
//   loop 1 with attach; a condvar signalled from another loop takes the same path: the
//   target loop's locked queue, plus its eventfd since the target mostly sleeps in
//   epoll_wait, and the kernel's wake-up of that kernel thread);
// - cross_wake_busy: the same while both loops have other runnable work (a yielding thread
//   each), so the wake-up is the locked queue only, found at the target's next iteration;
// - steal: from the moment a color becomes stealable on a busy loop to the moment one of its
//   threads runs on the idle loop that asked for it (the thief sleeps in epoll_wait first);
// - steal_handoff: what the busy loop pays per steal (unlinking the color, queueing it for
//   the thief, waking the thief), as measured by the runtime;
// - condvar_1loop / condvar_2loops: a same-loop condvar ping-pong (one signal and one wait)
//   with one loop running, and with a second loop running (the waiter list's spin lock is
//   taken then): the price of shared structures when nothing is contended;
// - signal_busy / signal_sleeping: what a wake-up costs its sender, which bounds how many a
//   loop can send (the rows above measure how long it takes to arrive). Loop 1 has threads
//   blocked on a condvar and a thread of loop 0 signals them one at a time; only loop 0's time
//   in signal() counts (the waiter list's lock, the push on loop 1's locked queue, the
//   eventfd write when one is made). signal_busy: loop 1 runs a yielding thread, so it never
//   blocks in the kernel, and the sender spins 5 us between two signals (longer than a round
//   of loop 1: every signal finds its queue empty); signal_sleeping: loop 1 has nothing else
//   and blocks in epoll_wait between two signals (the sender sleeps 200 us). Pauses are not
//   counted.
// Loops are pinned to CPUs chosen from the topology; the machine's topology is printed first.
#include <cpc/color.hpp>
#include <cpc/cpc.hpp>
#include <cpc/runtime.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

namespace {

// The loop's clock (cpc/clock.hpp), unsigned: the costs below add up durations.
std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(cpc::monotonic_ns());
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// --- cross_wake ---------------------------------------------------------------------------

struct ping_pong {
    cpc::condvar cv[2];
    int turn = 0;
    std::atomic<bool> stop{false};
};

// A thread hopping between loop 0 and loop 1: every hop is a wake-up from another loop (the
// locked queue, and the eventfd when the other loop sleeps).
cpc::task<void> hopper(cpc::runtime* rt, ping_pong* p, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
        cpc::scheduler& left = co_await cpc::attach(rt->at(1));
        co_await cpc::attach(left);
    }
    p->stop.store(true);
}

cpc::task<void> busy(ping_pong* p) {
    while (!p->stop.load(std::memory_order_relaxed))
        co_await cpc::yield();
}

double cross_wake_ns(bool with_busy_loops, std::uint64_t n) {
    cpc::runtime rt({.threads = 2, .steal = false});
    ping_pong p;
    rt.spawn_on(rt.at(0), hopper(&rt, &p, n));
    if (with_busy_loops) {
        rt.spawn_on(rt.at(0), busy(&p));
        rt.spawn_on(rt.at(1), busy(&p));
    }
    const std::uint64_t t0 = now_ns();
    rt.run();
    return static_cast<double>(now_ns() - t0) / static_cast<double>(2 * n);
}

// Two threads of one loop taking turns through two condvars: one signal and one wait each.
cpc::task<void> pinger(ping_pong* p, int me, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
        while (p->turn != me)
            co_await p->cv[me].wait();
        p->turn = 1 - me;
        p->cv[1 - me].signal();
    }
}

// --- steal --------------------------------------------------------------------------------

struct steal_probe {
    cpc::runtime* rt;
    std::atomic<bool> stop{false};
    std::uint64_t offered = 0;  // when the color became stealable
    std::uint64_t total_ns = 0;
    std::uint64_t samples = 0;
};

// Two threads of a fresh color: the first on loop 1 records the latency.
cpc::task<void> stolen_thread(steal_probe* p, bool* seen) {
    while (cpc::loop::current() != &p->rt->at(1))
        co_await cpc::yield();
    if (!*seen) {
        *seen = true;
        p->total_ns += now_ns() - p->offered;
        ++p->samples;
    }
}

cpc::task<void> offer_colors(steal_probe* p, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
        // Wait until loop 1 is idle again (it asked: the previous color's threads ended).
        co_await cpc::sleep(std::chrono::microseconds(200));
        auto c = std::make_unique<cpc::color>(p->rt->at(0));
        bool seen = false;
        const std::uint64_t before = p->samples;
        p->offered = now_ns();
        cpc::spawn(*c, stolen_thread(p, &seen));
        cpc::spawn(*c, stolen_thread(p, &seen));
        // Loop 0 stays busy (this thread yields) until the color has moved and run there.
        while (p->samples == before) {
            if (now_ns() - p->offered > 1'000'000'000u) {
                std::fprintf(stderr, "runtime-costs: a color was not stolen within 1 s\n");
                std::exit(1);
            }
            co_await cpc::yield();
        }
        // The color's threads end on loop 1; wait for that before the color goes away.
        co_await cpc::sleep(std::chrono::microseconds(100));
    }
    p->stop.store(true);
}

double last_handoff_ns = 0;

double steal_ns(std::uint64_t n) {
    // The default thresholds for a near thief (2 runnable threads), whatever the distance.
    cpc::runtime rt({.threads = 2, .steal_far_min_ready = 2, .steal_hysteresis = 0});
    steal_probe p;
    p.rt = &rt;
    rt.spawn_on(rt.at(0), offer_colors(&p, n));
    rt.run();
    last_handoff_ns = static_cast<double>(rt.steal_handoff_ns()) /
                      static_cast<double>(std::max<std::size_t>(rt.steals(), 1));
    return static_cast<double>(p.total_ns) /
           static_cast<double>(std::max<std::uint64_t>(p.samples, 1));
}

// --- condvar with and without a second loop ------------------------------------------------

double condvar_ns(bool second_loop, std::uint64_t n) {
    ping_pong p;
    std::uint64_t t0 = 0;
    if (!second_loop) {
        cpc::loop l;
        cpc::spawn(l, pinger(&p, 0, n));
        cpc::spawn(l, pinger(&p, 1, n));
        t0 = now_ns();
        l.run();
    } else {
        cpc::runtime rt({.threads = 2, .steal = false});
        rt.spawn_on(rt.at(0), pinger(&p, 0, n));
        rt.spawn_on(rt.at(0), pinger(&p, 1, n));
        t0 = now_ns();
        rt.run();
    }
    return static_cast<double>(now_ns() - t0) / static_cast<double>(2 * n);
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

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
    const cpc::topology topo = cpc::topology::detect();
    std::printf("topology: %zu CPUs (cache sharing from %s)\n", topo.size(), topo.source());
    for (std::size_t i = 0; i < topo.size(); ++i) {
        const cpc::cpu_info& c = topo.cpus()[i];
        std::printf("  cpu %d: core %d, cache group %d, package %d%s\n", c.os_index, c.core,
                    c.cache_group, c.package, i > 0 && topo.near(0, i) ? " (near cpu 0)" : "");
    }
    if (topo.size() < 2)
        std::printf("note: one CPU: two loops share it, figures are upper bounds\n");

    struct row {
        const char* name;
        double (*run)();
    };
    const row rows[] = {
        {"cross_wake", [] { return cross_wake_ns(false, 20'000); }},
        {"cross_wake_busy", [] { return cross_wake_ns(true, 20'000); }},
        {"steal", [] { return steal_ns(500); }},
        {"steal_handoff", [] { return steal_ns(500), last_handoff_ns; }},
        {"condvar_1loop", [] { return condvar_ns(false, 1'000'000); }},
        {"condvar_2loops", [] { return condvar_ns(true, 1'000'000); }},
        {"signal_busy", [] { return signal_ns(true, 20'000); }},
        {"signal_sleeping", [] { return signal_ns(false, 2'000); }},
    };
    const char* only = argc > 2 ? argv[2] : nullptr;
    for (const row& r : rows) {
        if (only && std::string_view(only) != r.name) continue;
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
