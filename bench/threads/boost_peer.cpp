// threads-boost: Boost.Context fibers (stackful) under a minimal round-robin scheduler and
// condition variable written for this benchmark.  main() is the scheduler: it resumes the fiber
// at the head of the run queue, and the fiber comes back by resuming the scheduler.
//
// Stacks: 16 KiB from a pooled_fixedsize_stack, Boost's allocator for many short-lived fibers.
// Plain fixedsize_stack mallocs each stack, and glibc hands the freed 16 MiB of every spawn batch
// back to the kernel, so each spawn paid two page faults.  The pool (no guard pages, so no mapping
// per fiber and no max_map_count limit) grows by 1024 stacks at a time: at most 1023 unused
// stacks are touched (the pool links free blocks through their first bytes).  16 KiB is ample for
// the pread loop; what is resident per idle fiber is the stack's top page and the pool link at
// its bottom, whatever the stack size.
#include <algorithm>
#include <boost/context/fiber.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <memory>

#include "bench_common.hpp"
#include "ring.hpp"

namespace {

namespace ctx = boost::context;

constexpr const char* kLib = "boost";
constexpr size_t kStackSize = 16 * 1024;
constexpr size_t kPoolGrowth = 1024;

class Cond;

ctx::pooled_fixedsize_stack stacks(kStackSize, kPoolGrowth, kPoolGrowth);
bench::Ring<ctx::fiber> runq;
ctx::fiber scheduler;         // the continuation of main() while a fiber runs
Cond* blocking_on = nullptr;  // set by a fiber that suspends to wait rather than to yield

void yield() {
    scheduler = std::move(scheduler).resume();
}

class Cond {
  public:
    void wait() {
        blocking_on = this;
        yield();
    }
    void signal() {
        if (!waiters_.empty()) runq.push(waiters_.pop());
    }
    void broadcast() {
        while (!waiters_.empty())
            runq.push(waiters_.pop());
    }
    void park(ctx::fiber&& f) { waiters_.push(std::move(f)); }

  private:
    bench::Ring<ctx::fiber> waiters_;
};

template <class F>
void spawn(F body) {
    runq.push(ctx::fiber{std::allocator_arg, stacks, [body](ctx::fiber&& sched) mutable {
                             scheduler = std::move(sched);
                             body();
                             return std::move(scheduler);
                         }});
}

// Resumes one fiber and files it where it asked to go; a finished fiber comes back empty.
void step() {
    ctx::fiber f = std::move(runq.pop()).resume();
    if (!f) return;
    if (blocking_on) {
        blocking_on->park(std::move(f));
        blocking_on = nullptr;
    } else {
        runq.push(std::move(f));
    }
}

void run() {
    while (!runq.empty())
        step();
}

uint64_t sink = 0;

double spawn_ns(uint64_t n) {
    uint64_t t0 = bench::now_ns();
    for (uint64_t done = 0; done < n;) {
        uint64_t b = std::min(bench::kSpawnBatch, n - done);
        for (uint64_t i = 0; i < b; ++i)
            spawn([] { sink += 1; });
        run();
        done += b;
    }
    uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn: %llu of %llu ran", (unsigned long long)sink, (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

// All N fibers exist before the first one runs, so the pool grows to N stacks instead of
// recycling the 1000 of one batch.
double spawn_burst_ns(uint64_t n) {
    uint64_t t0 = bench::now_ns();
    for (uint64_t i = 0; i < n; ++i) {
        spawn([] { sink += 1; });
        bench::check_memory(i + 1, bench::kBurstMemoryCheck);
    }
    run();
    uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn_burst: %llu of %llu ran", (unsigned long long)sink,
                      (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

double switch_ns(uint64_t n) {
    for (int k = 0; k < 2; ++k) {
        spawn([n] {
            for (uint64_t i = 0; i < n; ++i)
                yield();
        });
    }
    uint64_t t0 = bench::now_ns();
    run();
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

int turn = 0;
Cond turn_cv[2];

double condvar_ns(uint64_t n) {
    for (int me = 0; me < 2; ++me) {
        spawn([me, n] {
            for (uint64_t i = 0; i < n; ++i) {
                while (turn != me)
                    turn_cv[me].wait();
                turn = 1 - me;
                turn_cv[1 - me].signal();
            }
        });
    }
    uint64_t t0 = bench::now_ns();
    run();
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

Cond idle_cv;
uint64_t finished = 0;

double idle_bytes(uint64_t n) {
    long long before = bench::rss_bytes();
    for (uint64_t done = 0; done < n;) {
        uint64_t b = std::min(bench::kSpawnBatch, n - done);
        for (uint64_t i = 0; i < b; ++i) {
            spawn([] {
                idle_cv.wait();
                ++finished;
            });
        }
        run();
        done += b;
        bench::check_memory(done);
    }
    long long after = bench::rss_bytes();
    idle_cv.broadcast();
    run();
    if (finished != n)
        bench::cannot("idle: %llu of %llu woke", (unsigned long long)finished,
                      (unsigned long long)n);
    return bench::per_thread_bytes(before, after, n);
}

int seda_fd = -1;
bool seda_stop = false;
uint64_t seda_reads = 0, seda_deadline = 0, seda_end = 0;

double seda_rps(uint64_t n) {
    seda_fd = bench::seda_open();
    for (uint64_t i = 0; i < n; ++i) {
        spawn([i] {
            uint64_t rng = bench::seed_for(i);
            while (!seda_stop) {
                bench::seda_read(seda_fd, rng);
                if (bench::seda_window_over(++seda_reads, seda_deadline)) {
                    seda_stop = true;
                    seda_end = bench::now_ns();
                }
                yield();
            }
        });
        bench::check_memory(i + 1);
    }
    uint64_t t0 = bench::now_ns();
    seda_deadline = t0 + uint64_t(bench::seda_seconds() * 1e9);
    while (!seda_stop && !runq.empty())
        step();
    return bench::per_second(seda_reads, t0, seda_end);
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args a = bench::parse_args(argc, argv, kLib);
    bench::pin_single_cpu();
    bench::run(kLib, a, {spawn_ns, spawn_burst_ns, switch_ns, condvar_ns, idle_bytes, seda_rps});
}
