#include "cpc/runtime.hpp"

#include "cpc/spawn.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <thread>

#include "cpc/detail/spin_lock.hpp"
#include "running_loops.hpp"
#include "runtime_state.hpp"

namespace cpc {

namespace detail {

bool runtime_state::go_idle(loop& l) {
    std::lock_guard lock(mutex);
    {
        std::lock_guard queued(l.remote_mutex_);
        if (!l.remote_.empty()) return false;
        if (!l.idle_) {
            l.idle_ = true;
            ++idle_loops;
        }
    }
    // A loop counted idle stays so until something is queued for it (push_remote, under this
    // lock), and a detached thread is queued before it stops being counted: when both counts
    // say so under this lock, nothing is left to run.
    if (!stopping && idle_loops == loops.size() && detached_threads() == 0) {
        stopping = true;
        for (loop* other : loops) {
            if (other != &l) other->wake();
        }
    }
    return stopping;
}

}  // namespace detail

namespace {

unsigned affinity_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return std::max(1, CPU_COUNT(&set));
}

// Errors are ignored: an unpinned loop is slower, not wrong (a container may forbid it).
void pin_to(int os_cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(os_cpu, &set);
    ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
}

}  // namespace

runtime::runtime(runtime_options options)
    : state_(std::make_unique<detail::runtime_state>(options, topology::detect())) {
    detail::runtime_state& s = *state_;
    const unsigned n = options.threads ? options.threads : affinity_cpus();
    for (unsigned i = 0; i < n; ++i) {
        if (i == 0 && options.adopt_default_loop) {
            loops_.push_back(&default_loop());
            continue;
        }
        owned_.push_back(std::make_unique<loop>(loop_options{options.backend}));
        loops_.push_back(owned_.back().get());
    }
    s.loops = loops_;
    const std::size_t cpus = std::max<std::size_t>(s.topo.size(), 1);
    for (unsigned i = 0; i < n; ++i)
        s.cpu.push_back(i % cpus);
    auto distance = [&](unsigned a, unsigned b) {
        if (s.topo.size() == 0) return a == b ? 0 : 4;
        return s.topo.distance(s.cpu[a], s.cpu[b]);
    };
    s.near.assign(n, std::vector<unsigned char>(n, 0));
    s.victims.resize(n);
    for (unsigned a = 0; a < n; ++a) {
        for (unsigned b = 0; b < n; ++b) {
            s.near[a][b] = distance(a, b) <= 2;
            if (b != a) s.victims[a].push_back(b);
        }
        // Nearest first; among equals, the next loops first, so that thieves spread.
        std::stable_sort(s.victims[a].begin(), s.victims[a].end(), [&](unsigned x, unsigned y) {
            const int dx = distance(a, x), dy = distance(a, y);
            if (dx != dy) return dx < dy;
            return (x + n - a) % n < (y + n - a) % n;
        });
    }
}

runtime::~runtime() = default;

loop& runtime::next_loop() noexcept {
    const unsigned i = state_->round_robin.fetch_add(1, std::memory_order_relaxed);
    return *loops_[i % loops_.size()];
}

void runtime::spawn(task<void> t) {
    cpc::spawn(next_loop(), std::move(t));
}

void runtime::spawn(task<void> t, color& c) {
    cpc::spawn(c, std::move(t));
}

void runtime::spawn_on(loop& l, task<void> t) {
    cpc::spawn(l, std::move(t));
}

std::size_t runtime::cpu_of(std::size_t i) const noexcept {
    return state_->cpu[i];
}

const cpc::topology& runtime::topology() const noexcept {
    return state_->topo;
}

std::size_t runtime::steals() const noexcept {
    return state_->steals.load(std::memory_order_relaxed);
}

std::uint64_t runtime::steal_handoff_ns() const noexcept {
    return state_->handoff_ns.load(std::memory_order_relaxed);
}

run_result runtime::run() {
    detail::runtime_state& s = *state_;
    s.idle_loops = 0;
    s.stopping = false;
    for (std::size_t i = 0; i < loops_.size(); ++i) {
        loop& l = *loops_[i];
        std::lock_guard lock(l.remote_mutex_);
        l.rt_ = &s;
        l.index_ = static_cast<unsigned>(i);
    }
    const bool pin = s.options.pin && s.topo.size() != 0;
    auto cpu_id = [&](std::size_t i) { return s.topo.cpus()[s.cpu[i]].os_index; };

    // Counted as running together before any of them starts: a loop must not touch a
    // condvar without its lock while another loop is starting up and may touch it with.
    const int together = loops_.size() > 1 ? static_cast<int>(loops_.size()) : 0;
    detail::g_running_loops.fetch_add(together, std::memory_order_relaxed);
    std::vector<run_result> results(loops_.size());
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < loops_.size(); ++i) {
        threads.emplace_back([&, i] {
            if (pin) pin_to(cpu_id(i));
            results[i] = loops_[i]->run();
        });
    }
    cpu_set_t saved;
    const bool restore =
        pin && ::pthread_getaffinity_np(::pthread_self(), sizeof saved, &saved) == 0;
    if (pin) pin_to(cpu_id(0));
    results[0] = loops_[0]->run();
    for (std::thread& t : threads)
        t.join();
    detail::g_running_loops.fetch_sub(together, std::memory_order_relaxed);
    if (restore) ::pthread_setaffinity_np(::pthread_self(), sizeof saved, &saved);

    std::ptrdiff_t blocked = 0;
    for (loop* l : loops_) {
        blocked += l->blocked_;
        std::lock_guard lock(l->remote_mutex_);
        l->rt_ = nullptr;
        l->idle_ = false;
        l->asked_ = false;
        l->steal_request_.store(nullptr, std::memory_order_relaxed);
    }
    // A sender that found a loop idle before rt_ was cleared may still be on its way to the
    // counts (push_remote): the state must outlive it, and must not be reset under it by the
    // next run.
    while (s.waking_senders.load(std::memory_order_acquire) != 0)
        std::this_thread::yield();
    run_result result;
    result.blocked_threads = static_cast<std::size_t>(std::max<std::ptrdiff_t>(blocked, 0));
    if (result.blocked_threads != 0) {
        std::fprintf(stderr,
                     "cpc: runtime finished with %zu thread(s) blocked forever on condition "
                     "variables\n",
                     result.blocked_threads);
    }
    return result;
}

}  // namespace cpc
