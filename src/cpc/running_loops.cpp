#include "running_loops.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include "cpc/detail/spin_lock.hpp"
#include "cpc/loop.hpp"

namespace cpc::detail {

std::atomic<int> g_running_loops{0};

namespace {

std::atomic<std::size_t> g_detached{0};

struct registry {
    std::mutex mutex;
    std::vector<loop*> loops;
};

registry& running() {
    static registry* r = new registry;  // never destroyed: pool threads may end during exit
    return *r;
}

}  // namespace

std::size_t detached_threads() noexcept {
    return g_detached.load(std::memory_order_acquire);
}

void add_detached_thread() noexcept {
    g_detached.fetch_add(1, std::memory_order_relaxed);
}

void remove_detached_thread() noexcept {
    if (g_detached.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    registry& r = running();
    std::lock_guard lock(r.mutex);
    for (loop* l : r.loops)
        l->wake();
}

void call_on_running_loops(void (*fn)(loop&, void*) noexcept, void* obj) {
    registry& r = running();
    // call_soon takes the loop's remote-queue lock (and an idle runtime loop's runtime lock):
    // neither is held by anyone who takes this one.
    std::lock_guard lock(r.mutex);
    for (loop* l : r.loops)
        l->call_soon(fn, obj);
}

running_loop_registration::running_loop_registration(loop& l) : loop_(l) {
    registry& r = running();
    std::lock_guard lock(r.mutex);
    r.loops.push_back(&loop_);
    g_running_loops.fetch_add(1, std::memory_order_relaxed);
}

running_loop_registration::~running_loop_registration() {
    registry& r = running();
    std::lock_guard lock(r.mutex);
    r.loops.erase(std::find(r.loops.begin(), r.loops.end(), &loop_));
    g_running_loops.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace cpc::detail
