// threads-baseline: the floor.  A bare C++20 coroutine task, a FIFO run queue of handles and an
// intrusive condition variable, with no timers, no I/O integration and no allocator tuning.
// Anything cpc adds on top of this is overhead to explain.
#include <algorithm>
#include <coroutine>
#include <exception>

#include "bench_common.hpp"
#include "ring.hpp"

namespace {

constexpr const char* kLib = "baseline";

struct Task {
    struct promise_type {
        Task get_return_object() noexcept {
            return Task{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        // Suspended at start so that spawning only queues the task; the frame frees itself at
        // the end so that nobody has to join.
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::terminate(); }
    };
    std::coroutine_handle<> h;
};

bench::Ring<std::coroutine_handle<>> runq;

void spawn(Task t) {
    runq.push(t.h);
}

void run() {
    while (!runq.empty())
        runq.pop().resume();
}

struct Yield {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { runq.push(h); }
    void await_resume() const noexcept {}
};

// Waiters are linked through the awaiter, which lives in the suspended frame: blocking costs no
// allocation and no memory beyond the frame itself.
class Cond {
  public:
    struct Wait {
        Cond& c;
        std::coroutine_handle<> h{};
        Wait* next = nullptr;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> self) noexcept {
            h = self;
            *c.tail_ = this;
            c.tail_ = &next;
        }
        void await_resume() const noexcept {}
    };

    Wait wait() { return Wait{*this}; }

    void signal() {
        if (Wait* w = head_) {
            head_ = w->next;
            if (!head_) tail_ = &head_;
            runq.push(w->h);
        }
    }

    void broadcast() {
        while (head_)
            signal();
    }

  private:
    Wait* head_ = nullptr;
    Wait** tail_ = &head_;
};

uint64_t sink = 0;

Task adder(uint64_t x) {
    sink += x;
    co_return;
}

double spawn_ns(uint64_t n) {
    uint64_t t0 = bench::now_ns();
    for (uint64_t done = 0; done < n;) {
        uint64_t b = std::min(bench::kSpawnBatch, n - done);
        for (uint64_t i = 0; i < b; ++i)
            spawn(adder(1));
        run();
        done += b;
    }
    uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn: %llu of %llu ran", (unsigned long long)sink, (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

// All N queued before the first one runs: the frames of finished tasks cannot be reused.
double spawn_burst_ns(uint64_t n) {
    uint64_t t0 = bench::now_ns();
    for (uint64_t i = 0; i < n; ++i) {
        spawn(adder(1));
        bench::check_memory(i + 1, bench::kBurstMemoryCheck);
    }
    run();
    uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn_burst: %llu of %llu ran", (unsigned long long)sink,
                      (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

Task yielder(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i)
        co_await Yield{};
}

double switch_ns(uint64_t n) {
    spawn(yielder(n));
    spawn(yielder(n));
    uint64_t t0 = bench::now_ns();
    run();
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

int turn = 0;
Cond turn_cv[2];

Task pinger(int me, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
        while (turn != me)
            co_await turn_cv[me].wait();
        turn = 1 - me;
        turn_cv[1 - me].signal();
    }
}

double condvar_ns(uint64_t n) {
    spawn(pinger(0, n));
    spawn(pinger(1, n));
    uint64_t t0 = bench::now_ns();
    run();
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

Cond idle_cv;
uint64_t finished = 0;

Task sleeper() {
    co_await idle_cv.wait();
    ++finished;
}

double idle_bytes(uint64_t n) {
    long long before = bench::rss_bytes();
    for (uint64_t done = 0; done < n;) {
        uint64_t b = std::min(bench::kSpawnBatch, n - done);
        for (uint64_t i = 0; i < b; ++i)
            spawn(sleeper());
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

Task seda_worker(uint64_t index) {
    uint64_t rng = bench::seed_for(index);
    while (!seda_stop) {
        bench::seda_read(seda_fd, rng);
        if (bench::seda_window_over(++seda_reads, seda_deadline)) {
            seda_stop = true;
            seda_end = bench::now_ns();
        }
        co_await Yield{};
    }
}

double seda_rps(uint64_t n) {
    seda_fd = bench::seda_open();
    for (uint64_t i = 0; i < n; ++i) {
        spawn(seda_worker(i));
        bench::check_memory(i + 1);
    }
    uint64_t t0 = bench::now_ns();
    seda_deadline = t0 + uint64_t(bench::seda_seconds() * 1e9);
    while (!seda_stop && !runq.empty())
        runq.pop().resume();
    return bench::per_second(seda_reads, t0, seda_end);
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args a = bench::parse_args(argc, argv, kLib);
    bench::pin_single_cpu();
    bench::run(kLib, a, {spawn_ns, spawn_burst_ns, switch_ns, condvar_ns, idle_bytes, seda_rps});
}
