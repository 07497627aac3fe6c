// threads-st: State Threads 1.9 (libst-dev).
//
// Stacks: ST's default size (stack_size 0 to st_thread_create, 64 KiB in 1.9), mmap'd, with the
// thread structure at the top of the stack; stacks of finished threads are kept on a free list
// and reused, which is what ST users get.
//
// Yield: ST has no st_yield.  st_usleep(0) is the way to give up the processor: the thread goes
// on the sleep queue with an expired timeout, and once the run queue is empty the idle thread
// polls (zero timeout) and moves every expired sleeper back to the run queue.  That poll is part
// of what a yield costs in ST.
#include <st.h>

#include <algorithm>

#include "bench_common.hpp"

namespace {

constexpr const char* kLib = "st";

st_thread_t create(void* (*fn)(void*), void* arg, bool joinable, uint64_t created) {
    st_thread_t t = st_thread_create(fn, arg, joinable ? 1 : 0, 0);
    if (!t)
        bench::cannot("st_thread_create: %s at %llu threads", std::strerror(errno),
                      (unsigned long long)created);
    return t;
}

// Signalled by the thread that completes whatever main() is waiting for.
st_cond_t main_cv;

uint64_t sink = 0;
uint64_t batch_done = 0, batch_size = 0;

void* adder(void* arg) {
    sink += reinterpret_cast<uintptr_t>(arg);
    if (++batch_done == batch_size) st_cond_signal(main_cv);
    return nullptr;
}

double spawn_ns(uint64_t n) {
    uint64_t t0 = bench::now_ns();
    for (uint64_t done = 0; done < n;) {
        batch_size = std::min(bench::kSpawnBatch, n - done);
        batch_done = 0;
        for (uint64_t i = 0; i < batch_size; ++i)
            create(adder, reinterpret_cast<void*>(1), false, done + i);
        while (batch_done < batch_size)
            st_cond_wait(main_cv);
        done += batch_size;
    }
    uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn: %llu of %llu ran", (unsigned long long)sink, (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

// New threads run only once main() blocks, so all N are created (each with a stack of its own:
// the free list is empty until the first one ends) before any runs.
double spawn_burst_ns(uint64_t n) {
    uint64_t t0 = bench::now_ns();
    batch_size = n;
    batch_done = 0;
    for (uint64_t i = 0; i < n; ++i) {
        create(adder, reinterpret_cast<void*>(1), false, i);
        bench::check_memory(i + 1, bench::kBurstMemoryCheck);
    }
    if (sink != 0) bench::cannot("spawn_burst: a thread ran before the burst was over");
    while (batch_done < batch_size)
        st_cond_wait(main_cv);
    uint64_t t1 = bench::now_ns();
    if (sink != n)
        bench::cannot("spawn_burst: %llu of %llu ran", (unsigned long long)sink,
                      (unsigned long long)n);
    return bench::per_op_ns(t0, t1, n);
}

uint64_t rounds = 0;

void* yielder(void*) {
    for (uint64_t i = 0; i < rounds; ++i)
        st_usleep(0);
    return nullptr;
}

double switch_ns(uint64_t n) {
    rounds = n;
    st_thread_t a = create(yielder, nullptr, true, 0);
    st_thread_t b = create(yielder, nullptr, true, 1);
    uint64_t t0 = bench::now_ns();
    st_thread_join(a, nullptr);
    st_thread_join(b, nullptr);
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

int turn = 0;
st_cond_t turn_cv[2];

void* pinger(void* arg) {
    int me = int(reinterpret_cast<intptr_t>(arg));
    for (uint64_t i = 0; i < rounds; ++i) {
        while (turn != me)
            st_cond_wait(turn_cv[me]);
        turn = 1 - me;
        st_cond_signal(turn_cv[1 - me]);
    }
    return nullptr;
}

double condvar_ns(uint64_t n) {
    rounds = n;
    turn_cv[0] = st_cond_new();
    turn_cv[1] = st_cond_new();
    st_thread_t a = create(pinger, reinterpret_cast<void*>(intptr_t(0)), true, 0);
    st_thread_t b = create(pinger, reinterpret_cast<void*>(intptr_t(1)), true, 1);
    uint64_t t0 = bench::now_ns();
    st_thread_join(a, nullptr);
    st_thread_join(b, nullptr);
    return bench::per_op_ns(t0, bench::now_ns(), n);
}

st_cond_t idle_cv;
uint64_t idle_n = 0, blocked = 0, finished = 0;
bool idle_go = false;

void* sleeper(void*) {
    if (++blocked == idle_n) st_cond_signal(main_cv);
    while (!idle_go)
        st_cond_wait(idle_cv);
    if (++finished == idle_n) st_cond_signal(main_cv);
    return nullptr;
}

double idle_bytes(uint64_t n) {
    idle_n = n;
    idle_cv = st_cond_new();
    long long before = bench::rss_bytes();
    // New threads only run once main() blocks, and ST's run queue is intrusive, so creating all
    // of them first costs no more memory than batches would.
    for (uint64_t i = 0; i < n; ++i) {
        create(sleeper, nullptr, false, i);
        bench::check_memory(i + 1);
    }
    while (blocked < n)
        st_cond_wait(main_cv);
    long long after = bench::rss_bytes();
    idle_go = true;
    st_cond_broadcast(idle_cv);
    while (finished < n)
        st_cond_wait(main_cv);
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
            st_cond_signal(main_cv);
        }
        st_usleep(0);
    }
    return nullptr;
}

double seda_rps(uint64_t n) {
    seda_fd = bench::seda_open();
    for (uint64_t i = 0; i < n; ++i) {
        create(seda_worker, reinterpret_cast<void*>(uintptr_t(i)), false, i);
        bench::check_memory(i + 1);
    }
    uint64_t t0 = bench::now_ns();
    seda_deadline = t0 + uint64_t(bench::seda_seconds() * 1e9);
    while (!seda_stop)
        st_cond_wait(main_cv);
    return bench::per_second(seda_reads, t0, seda_end);
}

}  // namespace

int main(int argc, char** argv) {
    bench::Args a = bench::parse_args(argc, argv, kLib);
    bench::pin_single_cpu();
    // epoll when the library was built with it; the idle thread's zero-timeout poll then does
    // not depend on the number of descriptors.
    st_set_eventsys(ST_EVENTSYS_ALT);
    if (st_init() != 0) bench::die("st_init");
    main_cv = st_cond_new();
    bench::run(kLib, a, {spawn_ns, spawn_burst_ns, switch_ns, condvar_ns, idle_bytes, seda_rps});
}
