// threads-cpc: the runtime measured on the same work as the other peers, written the way a
// cpc program is: everything happens in threads of the main loop, a spawner thread spawns
// a batch and yields so that the batch runs (spawn), or spawns all N without yielding and
// returns, leaving the main loop to run them (spawn_burst).
#include <cpc/cpc.hpp>

#include <algorithm>

#include "bench_common.hpp"

namespace {

constexpr const char* kLib = "cpc";

uint64_t sink = 0;

cpc::task<void> adder(uint64_t x) {
    sink += x;
    co_return;
}

cpc::task<void> spawner(uint64_t n) {
    for (uint64_t done = 0; done < n;) {
        const uint64_t batch = std::min(bench::kSpawnBatch, n - done);
        for (uint64_t i = 0; i < batch; ++i)
            cpc::spawn(adder(1));
        done += batch;
        co_await cpc::yield();
    }
}

double spawn_ns(uint64_t n) {
    cpc::spawn(spawner(n));
    const uint64_t t0 = bench::now_ns();
    cpc::main_loop();
    const uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn: %llu of %llu ran", (unsigned long long)sink, (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

cpc::task<void> burst_spawner(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
        cpc::spawn(adder(1));
        bench::check_memory(i + 1, bench::kBurstMemoryCheck);
    }
    if (sink != 0) bench::cannot("spawn_burst: a thread ran before the burst was over");
    co_return;
}

double spawn_burst_ns(uint64_t n) {
    cpc::spawn(burst_spawner(n));
    const uint64_t t0 = bench::now_ns();
    cpc::main_loop();
    const uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn_burst: %llu of %llu ran", (unsigned long long)sink,
                      (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

cpc::task<void> yielder(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i)
        co_await cpc::yield();
}

double switch_ns(uint64_t n) {
    cpc::spawn(yielder(n));
    cpc::spawn(yielder(n));
    const uint64_t t0 = bench::now_ns();
    cpc::main_loop();
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

int turn = 0;
cpc::condvar turn_cv[2];

cpc::task<void> pinger(int me, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
        while (turn != me)
            co_await turn_cv[me].wait();
        turn = 1 - me;
        turn_cv[1 - me].signal();
    }
}

double condvar_ns(uint64_t n) {
    cpc::spawn(pinger(0, n));
    cpc::spawn(pinger(1, n));
    const uint64_t t0 = bench::now_ns();
    cpc::main_loop();
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

cpc::condvar idle_cv;
uint64_t finished = 0;
double idle_result = 0;

cpc::task<void> sleeper() {
    co_await idle_cv.wait();
    ++finished;
}

cpc::task<void> idle_spawner(uint64_t n) {
    const long long before = bench::rss_bytes();
    for (uint64_t done = 0; done < n;) {
        const uint64_t batch = std::min(bench::kSpawnBatch, n - done);
        for (uint64_t i = 0; i < batch; ++i)
            cpc::spawn(sleeper());
        done += batch;
        bench::check_memory(done);
        co_await cpc::yield();
    }
    idle_result = bench::per_thread_bytes(before, bench::rss_bytes(), n);
    idle_cv.signal_all();
}

double idle_bytes(uint64_t n) {
    cpc::spawn(idle_spawner(n));
    cpc::main_loop();
    if (finished != n)
        bench::cannot("idle: %llu of %llu woke", (unsigned long long)finished,
                      (unsigned long long)n);
    return idle_result;
}

int seda_fd = -1;
bool seda_stop = false;
uint64_t seda_reads = 0, seda_deadline = 0, seda_end = 0;

cpc::task<void> seda_worker(uint64_t index) {
    uint64_t rng = bench::seed_for(index);
    while (!seda_stop) {
        bench::seda_read(seda_fd, rng);
        if (bench::seda_window_over(++seda_reads, seda_deadline)) {
            seda_stop = true;
            seda_end = bench::now_ns();
        }
        co_await cpc::yield();
    }
}

uint64_t seda_t0 = 0;

cpc::task<void> seda_spawner(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
        cpc::spawn(seda_worker(i));
        bench::check_memory(i + 1);
    }
    seda_t0 = bench::now_ns();
    seda_deadline = seda_t0 + uint64_t(bench::seda_seconds() * 1e9);
    co_return;
}

double seda_rps(uint64_t n) {
    seda_fd = bench::seda_open();
    cpc::spawn(seda_spawner(n));
    cpc::main_loop();
    return bench::per_second(seda_reads, seda_t0, seda_end);
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args a = bench::parse_args(argc, argv, kLib);
    bench::pin_single_cpu();
    bench::run(kLib, a, {spawn_ns, spawn_burst_ns, switch_ns, condvar_ns, idle_bytes, seda_rps});
}
