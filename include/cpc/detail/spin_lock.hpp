// The lock of structures that threads of several loops may touch at once (condvars, deadline
// scopes), taken only while two or more loops run in the process.
//
// Critical sections are a few pointer writes, so a spin lock beats a futex-based mutex; it is
// a test-and-test-and-set so that waiters spin on a shared cache line without writing to it.
// While a single loop runs, shared_guard takes no lock: one load of a flag that changes only
// when a loop starts or stops, so a one-loop program pays no atomic read-modify-write.
#pragma once

#include <atomic>

namespace cpc::detail {

class spin_lock {
  public:
    void lock() noexcept {
        for (;;) {
            if (!locked_.exchange(true, std::memory_order_acquire)) return;
            while (locked_.load(std::memory_order_relaxed))
                __builtin_ia32_pause();
        }
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

  private:
    std::atomic<bool> locked_{false};
};

// Loops running now in the process; maintained by loop::run.
extern std::atomic<int> g_running_loops;

// True while threads of another kernel thread may touch the same condvar or scope. A loop
// starting or stopping happens between its iterations, never inside a critical section.
inline bool several_loops() noexcept {
    return g_running_loops.load(std::memory_order_relaxed) > 1;
}

class shared_guard {
  public:
    explicit shared_guard(spin_lock& l) noexcept : lock_(several_loops() ? &l : nullptr) {
        if (lock_) lock_->lock();
    }
    ~shared_guard() {
        if (lock_) lock_->unlock();
    }
    shared_guard(const shared_guard&) = delete;
    shared_guard& operator=(const shared_guard&) = delete;

  private:
    spin_lock* lock_;
};

}  // namespace cpc::detail
