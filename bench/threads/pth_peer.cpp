// threads-pth: GNU Pth 2.0.7 (libpth-dev).
//
// Stacks: Pth's default 64 KiB, malloc'd by Pth.  Pth's ready and new queues are priority queues
// with O(n) insertion, and its scheduler scans every waiting thread's events on each pass, so
// large N degrades quadratically; the driver's timeout records that as a failure.
//
// pth_cond_await needs a mutex.  The threads are cooperative, so it is taken only around the
// await itself and nobody ever finds it held: its cost is two uncontended calls per wait.
#include <pth.h>

#include <algorithm>

#include "bench_common.hpp"

namespace {

constexpr const char* kLib = "pth";

pth_attr_t detached_attr, joinable_attr;
pth_mutex_t cv_mutex;

pth_t create(pth_attr_t attr, void* (*fn)(void*), void* arg, uint64_t created) {
    pth_t t = pth_spawn(attr, fn, arg);
    if (!t)
        bench::cannot("pth_spawn: %s at %llu threads", std::strerror(errno),
                      (unsigned long long)created);
    return t;
}

pth_cond_t new_cond() {
    pth_cond_t c;
    pth_cond_init(&c);
    return c;
}

void wait(pth_cond_t& c) {
    pth_mutex_acquire(&cv_mutex, FALSE, nullptr);
    pth_cond_await(&c, &cv_mutex, nullptr);
    pth_mutex_release(&cv_mutex);
}

// Signalled by the thread that completes whatever main() is waiting for.
pth_cond_t main_cv;

uint64_t sink = 0;
uint64_t batch_done = 0, batch_size = 0;

void* adder(void* arg) {
    sink += reinterpret_cast<uintptr_t>(arg);
    if (++batch_done == batch_size) pth_cond_notify(&main_cv, FALSE);
    return nullptr;
}

double spawn_ns(uint64_t n) {
    uint64_t t0 = bench::now_ns();
    for (uint64_t done = 0; done < n;) {
        batch_size = std::min(bench::kSpawnBatch, n - done);
        batch_done = 0;
        for (uint64_t i = 0; i < batch_size; ++i) {
            create(detached_attr, adder, reinterpret_cast<void*>(1), done + i);
        }
        while (batch_done < batch_size)
            wait(main_cv);
        done += batch_size;
    }
    uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn: %llu of %llu ran", (unsigned long long)sink, (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

// pth_spawn does not switch: all N threads are created before main() waits and any of them runs.
double spawn_burst_ns(uint64_t n) {
    uint64_t t0 = bench::now_ns();
    batch_size = n;
    batch_done = 0;
    for (uint64_t i = 0; i < n; ++i) {
        create(detached_attr, adder, reinterpret_cast<void*>(1), i);
        bench::check_memory(i + 1, bench::kBurstMemoryCheck);
    }
    if (sink != 0) bench::cannot("spawn_burst: a thread ran before the burst was over");
    while (batch_done < batch_size)
        wait(main_cv);
    uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn_burst: %llu of %llu ran", (unsigned long long)sink,
                      (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

uint64_t rounds = 0;

void* yielder(void*) {
    for (uint64_t i = 0; i < rounds; ++i)
        pth_yield(nullptr);
    return nullptr;
}

double switch_ns(uint64_t n) {
    rounds = n;
    pth_t a = create(joinable_attr, yielder, nullptr, 0);
    pth_t b = create(joinable_attr, yielder, nullptr, 1);
    uint64_t t0 = bench::now_ns();
    pth_join(a, nullptr);
    pth_join(b, nullptr);
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

int turn = 0;
pth_cond_t turn_cv[2];

void* pinger(void* arg) {
    int me = int(reinterpret_cast<intptr_t>(arg));
    for (uint64_t i = 0; i < rounds; ++i) {
        while (turn != me)
            wait(turn_cv[me]);
        turn = 1 - me;
        pth_cond_notify(&turn_cv[1 - me], FALSE);
    }
    return nullptr;
}

double condvar_ns(uint64_t n) {
    rounds = n;
    turn_cv[0] = new_cond();
    turn_cv[1] = new_cond();
    pth_t a = create(joinable_attr, pinger, reinterpret_cast<void*>(intptr_t(0)), 0);
    pth_t b = create(joinable_attr, pinger, reinterpret_cast<void*>(intptr_t(1)), 1);
    uint64_t t0 = bench::now_ns();
    pth_join(a, nullptr);
    pth_join(b, nullptr);
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

pth_cond_t idle_cv;
uint64_t idle_n = 0, blocked = 0, finished = 0;
bool idle_go = false;

// pth_cond_notify yields to the woken thread, so main() can run before the last sleeper waits;
// the flag keeps that sleeper from missing the broadcast.
void* sleeper(void*) {
    if (++blocked == idle_n) pth_cond_notify(&main_cv, FALSE);
    while (!idle_go)
        wait(idle_cv);
    if (++finished == idle_n) pth_cond_notify(&main_cv, FALSE);
    return nullptr;
}

double idle_bytes(uint64_t n) {
    idle_n = n;
    idle_cv = new_cond();
    long long before = bench::rss_bytes();
    for (uint64_t i = 0; i < n; ++i) {
        create(detached_attr, sleeper, nullptr, i);
        bench::check_memory(i + 1);
    }
    while (blocked < n)
        wait(main_cv);
    long long after = bench::rss_bytes();
    idle_go = true;
    pth_cond_notify(&idle_cv, TRUE);
    while (finished < n)
        wait(main_cv);
    return bench::per_thread_bytes(before, after, n);
}

int seda_fd = -1;
bool seda_stop = false;
uint64_t seda_reads = 0, seda_deadline = 0, seda_end = 0;

void* seda_worker(void* arg) {
    uint64_t rng = bench::seed_for(reinterpret_cast<uintptr_t>(arg));
    while (!seda_stop) {
        bench::seda_read(seda_fd, rng);
        if (bench::seda_window_over(++seda_reads, seda_deadline)) {
            seda_stop = true;
            seda_end = bench::now_ns();
            pth_cond_notify(&main_cv, FALSE);
        }
        pth_yield(nullptr);
    }
    return nullptr;
}

double seda_rps(uint64_t n) {
    seda_fd = bench::seda_open();
    for (uint64_t i = 0; i < n; ++i) {
        create(detached_attr, seda_worker, reinterpret_cast<void*>(uintptr_t(i)), i);
        bench::check_memory(i + 1);
    }
    uint64_t t0 = bench::now_ns();
    seda_deadline = t0 + uint64_t(bench::seda_seconds() * 1e9);
    while (!seda_stop)
        wait(main_cv);
    return bench::per_second(seda_reads, t0, seda_end);
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args a = bench::parse_args(argc, argv, kLib);
    bench::pin_single_cpu();
    if (!pth_init()) bench::die("pth_init");
    pth_mutex_init(&cv_mutex);
    main_cv = new_cond();
    detached_attr = pth_attr_new();
    pth_attr_set(detached_attr, PTH_ATTR_JOINABLE, FALSE);
    joinable_attr = pth_attr_new();
    pth_attr_set(joinable_attr, PTH_ATTR_JOINABLE, TRUE);
    bench::run(kLib, a, {spawn_ns, spawn_burst_ns, switch_ns, condvar_ns, idle_bytes, seda_rps});
}
