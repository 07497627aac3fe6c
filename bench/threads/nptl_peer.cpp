// threads-nptl: kernel threads through glibc's NPTL, on one pinned core.
//
// Stacks: every thread gets the smallest stack pthread allows, max(PTHREAD_STACK_MIN, 16 KiB),
// for all metrics: the default 8 MiB would make spawn pay for mmap/munmap (glibc caches only
// 40 MiB of stacks) and idle/seda run out of address space long before the kernel's limits.
// Each stack is still its own mapping plus a guard page, so max_map_count (65530) and pid_max
// bound the thread count; those failures are what the driver records as max_threads.
//
// idle_bytes is resident user memory only (stack pages and glibc's thread descriptor, which
// lives at the top of the stack); the kernel's task_struct and kernel stack, ~10-20 KiB per
// thread, are not in RSS, so the figure is a lower bound.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "bench_common.hpp"

namespace {

constexpr const char* kLib = "nptl";

pthread_attr_t joinable_attr, detached_attr;

void init_attrs() {
    size_t stack = std::max<size_t>(PTHREAD_STACK_MIN, 16 * 1024);
    pthread_attr_init(&joinable_attr);
    pthread_attr_setstacksize(&joinable_attr, stack);
    pthread_attr_init(&detached_attr);
    pthread_attr_setstacksize(&detached_attr, stack);
    pthread_attr_setdetachstate(&detached_attr, PTHREAD_CREATE_DETACHED);
}

pthread_t create(const pthread_attr_t& attr, void* (*fn)(void*), void* arg, uint64_t created) {
    pthread_t t;
    int rc = pthread_create(&t, &attr, fn, arg);
    if (rc != 0) {
        bench::cannot("pthread_create: %s at %llu threads", strerrorname_np(rc),
                      (unsigned long long)created);
    }
    return t;
}

void join(pthread_t t) {
    pthread_join(t, nullptr);
}

// One lock for everything: the threads share one core, so finer locking would only add code.
pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t main_cv = PTHREAD_COND_INITIALIZER;

std::atomic<uint64_t> sink{0};

void* adder(void* arg) {
    sink.fetch_add(reinterpret_cast<uintptr_t>(arg), std::memory_order_relaxed);
    return nullptr;
}

double spawn_ns(uint64_t n) {
    std::vector<pthread_t> batch(bench::kSpawnBatch);
    uint64_t t0 = bench::now_ns();
    for (uint64_t done = 0; done < n;) {
        uint64_t b = std::min(bench::kSpawnBatch, n - done);
        for (uint64_t i = 0; i < b; ++i) {
            batch[i] = create(joinable_attr, adder, reinterpret_cast<void*>(1), done + i);
        }
        for (uint64_t i = 0; i < b; ++i)
            join(batch[i]);
        done += b;
    }
    uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn: %llu of %llu ran", (unsigned long long)sink.load(),
                      (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

long read_proc_long(const char* path) {
    long v = -1;
    if (FILE* f = std::fopen(path, "r")) {
        if (std::fscanf(f, "%ld", &v) != 1) v = -1;
        std::fclose(f);
    }
    return v;
}

// All N created before any is joined, so none of their stacks goes back to glibc's cache for
// the next pthread_create.  Kernel threads may start as soon as they exist (the kernel decides;
// on the pinned core the creator mostly keeps running), and a finished joinable thread keeps its
// stack until joined.  A burst larger than pid_max (or threads-max, RLIMIT_NPROC,
// max_map_count) cannot be made: the peer then fails, saying where, and the driver records it.
double spawn_burst_ns(uint64_t n) {
    std::vector<pthread_t> threads(n);
    uint64_t t0 = bench::now_ns();
    for (uint64_t i = 0; i < n; ++i) {
        int rc = pthread_create(&threads[i], &joinable_attr, adder, reinterpret_cast<void*>(1));
        if (rc != 0) {
            bench::cannot("pthread_create: %s at %llu threads (pid_max %ld, threads-max %ld)",
                          strerrorname_np(rc), (unsigned long long)i,
                          read_proc_long("/proc/sys/kernel/pid_max"),
                          read_proc_long("/proc/sys/kernel/threads-max"));
        }
        bench::check_memory(i + 1, bench::kBurstMemoryCheck);
    }
    for (uint64_t i = 0; i < n; ++i)
        join(threads[i]);
    uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn_burst: %llu of %llu ran", (unsigned long long)sink.load(),
                      (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

uint64_t rounds = 0;

void* yielder(void*) {
    for (uint64_t i = 0; i < rounds; ++i)
        sched_yield();
    return nullptr;
}

double switch_ns(uint64_t n) {
    rounds = n;
    pthread_t a = create(joinable_attr, yielder, nullptr, 0);
    pthread_t b = create(joinable_attr, yielder, nullptr, 1);
    uint64_t t0 = bench::now_ns();
    join(a);
    join(b);
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

int turn = 0;
pthread_cond_t turn_cv[2] = {PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};

void* pinger(void* arg) {
    int me = int(reinterpret_cast<intptr_t>(arg));
    pthread_mutex_lock(&mu);
    for (uint64_t i = 0; i < rounds; ++i) {
        while (turn != me)
            pthread_cond_wait(&turn_cv[me], &mu);
        turn = 1 - me;
        pthread_cond_signal(&turn_cv[1 - me]);
    }
    pthread_mutex_unlock(&mu);
    return nullptr;
}

double condvar_ns(uint64_t n) {
    rounds = n;
    pthread_t a = create(joinable_attr, pinger, reinterpret_cast<void*>(intptr_t(0)), 0);
    pthread_t b = create(joinable_attr, pinger, reinterpret_cast<void*>(intptr_t(1)), 1);
    uint64_t t0 = bench::now_ns();
    join(a);
    join(b);
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;
uint64_t idle_n = 0, blocked = 0, finished = 0;
bool idle_go = false;

void* sleeper(void*) {
    pthread_mutex_lock(&mu);
    if (++blocked == idle_n) pthread_cond_signal(&main_cv);
    while (!idle_go)
        pthread_cond_wait(&idle_cv, &mu);
    if (++finished == idle_n) pthread_cond_signal(&main_cv);
    pthread_mutex_unlock(&mu);
    return nullptr;
}

double idle_bytes(uint64_t n) {
    idle_n = n;
    long long before = bench::rss_bytes();
    for (uint64_t i = 0; i < n; ++i) {
        create(detached_attr, sleeper, nullptr, i);
        bench::check_memory(i + 1);
    }
    pthread_mutex_lock(&mu);
    while (blocked < n)
        pthread_cond_wait(&main_cv, &mu);
    pthread_mutex_unlock(&mu);
    long long after = bench::rss_bytes();
    pthread_mutex_lock(&mu);
    idle_go = true;
    pthread_cond_broadcast(&idle_cv);
    while (finished < n)
        pthread_cond_wait(&main_cv, &mu);
    pthread_mutex_unlock(&mu);
    return bench::per_thread_bytes(before, after, n);
}

// Threads start reading only when all exist, so that the window measures N running threads.
pthread_cond_t seda_gate = PTHREAD_COND_INITIALIZER;
bool seda_go = false, seda_done = false;
int seda_fd = -1;
std::atomic<bool> seda_stop{false};
std::atomic<uint64_t> seda_reads{0};
uint64_t seda_deadline = 0, seda_end = 0, seda_count = 0;

void* seda_worker(void* arg) {
    uint64_t rng = bench::seed_for(reinterpret_cast<uintptr_t>(arg));
    pthread_mutex_lock(&mu);
    while (!seda_go)
        pthread_cond_wait(&seda_gate, &mu);
    pthread_mutex_unlock(&mu);
    while (!seda_stop.load(std::memory_order_relaxed)) {
        bench::seda_read(seda_fd, rng);
        uint64_t r = seda_reads.fetch_add(1, std::memory_order_relaxed) + 1;
        if (bench::seda_window_over(r, seda_deadline) && !seda_stop.exchange(true)) {
            uint64_t end = bench::now_ns();
            pthread_mutex_lock(&mu);
            seda_end = end;
            seda_count = r;
            seda_done = true;
            pthread_cond_signal(&main_cv);
            pthread_mutex_unlock(&mu);
        }
        sched_yield();
    }
    return nullptr;
}

double seda_rps(uint64_t n) {
    seda_fd = bench::seda_open();
    for (uint64_t i = 0; i < n; ++i) {
        create(detached_attr, seda_worker, reinterpret_cast<void*>(uintptr_t(i)), i);
        bench::check_memory(i + 1);
    }
    pthread_mutex_lock(&mu);
    uint64_t t0 = bench::now_ns();
    seda_deadline = t0 + uint64_t(bench::seda_seconds() * 1e9);
    seda_go = true;
    pthread_cond_broadcast(&seda_gate);
    while (!seda_done)
        pthread_cond_wait(&main_cv, &mu);
    pthread_mutex_unlock(&mu);
    return bench::per_second(seda_count, t0, seda_end);
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args a = bench::parse_args(argc, argv, kLib);
    bench::pin_single_cpu();
    init_attrs();
    bench::run(kLib, a, {spawn_ns, spawn_burst_ns, switch_ns, condvar_ns, idle_bytes, seda_rps});
}
