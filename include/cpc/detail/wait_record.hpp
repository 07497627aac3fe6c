// What a suspended thread waits for, kept where cpc::dump_threads (dump_threads.hpp) can find
// it: each runtime awaiter (io_wait, sleep, io_op, a timed condvar wait) embeds a wait_record
// and links it into the wait_registry of the loop it suspends on, from just before the wait
// becomes visible to its wakers until the thread runs again (await_resume) or its frame is
// destroyed.
//
// Plain condvar waits, the hottest of the waits and the one idle threads sit in, keep no
// record: a condvar links itself into the registry of the loop of its first wait (one load
// and a branch a wait), and the dump lists the waiters of the condvars of its registry, under
// each condvar's lock.
//
// Why the waits and not the threads: a registry of threads would need links in every frame and
// a way down from the root to the leaf that waits, which frames do not have. The awaiter knows
// the leaf frame and what it waits for; the chain up to the root is the frames' continuations.
// Only suspended threads cost anything, and only while they are suspended.
//
// A thread may be resumed on another kernel thread than the one it suspended on (a colored
// thread whose color moved, woken by a condvar of another loop), so a record is unlinked from
// its owner's list under the list's spin lock, taken only while several loops run (as
// condvars do, spin_lock.hpp): a one-loop program links and unlinks with plain stores.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string>

#include "cpc/detail/spin_lock.hpp"

namespace cpc::detail {

class wait_registry;

// The awaiters that record their waits; dump_threads.cpp has a describer for each.
enum class wait_kind : unsigned char { timed_condvar, io_wait, sleep, io_op };

struct wait_record {
    // Meaningful only while linked: left uninitialised, so that an awaiter that never suspends
    // costs one store.
    wait_record* prev;
    wait_record* next;
    // The owner registry with the kind in its low bits (a registry is aligned to 8): 24 bytes
    // a record rather than 32, in the frame of every waiting thread.
    std::uintptr_t owner_and_kind = 0;

    bool linked() const noexcept { return owner_and_kind != 0; }
    wait_registry* owner() const noexcept {
        return reinterpret_cast<wait_registry*>(owner_and_kind & ~std::uintptr_t{7});
    }
    wait_kind kind() const noexcept { return static_cast<wait_kind>(owner_and_kind & 7); }
};

// Appends what the thread of r waits for to out (one line, no newline) and returns its leaf
// frame, the one that awaits. Called by the dump on the owner loop's kernel thread, under
// the registry's lock: it reads only what the awaiter set before linking. Indexed by kind.
using describe_wait_fn = std::coroutine_handle<> (*)(const wait_record& r, std::string& out);
extern const describe_wait_fn wait_describers[4];

// A condvar's link into the registry of the loop of its first wait (owner null before).
struct registered_condvar {
    registered_condvar* prev;
    registered_condvar* next;
    std::atomic<wait_registry*> owner{nullptr};
};

// The waits of one loop: a circular list with a sentinel.
class alignas(8) wait_registry {
  public:
    wait_registry() noexcept {
        head_.prev = head_.next = &head_;
        condvars_.prev = condvars_.next = &condvars_;
    }
    // Condvars that outlive the loop (globals, with the default loop) forget it.
    ~wait_registry() {
        shared_guard g(lock_);
        for (registered_condvar* c = condvars_.next; c != &condvars_; c = c->next)
            c->owner.store(nullptr, std::memory_order_relaxed);
    }
    wait_registry(const wait_registry&) = delete;
    wait_registry& operator=(const wait_registry&) = delete;

    // At a condvar's first wait, on this loop's kernel thread: the first loop to claim it
    // keeps it.
    void add_condvar(registered_condvar* c) noexcept {
        wait_registry* none = nullptr;
        if (!c->owner.compare_exchange_strong(none, this, std::memory_order_relaxed)) return;
        shared_guard g(lock_);
        c->prev = condvars_.prev;
        c->next = &condvars_;
        condvars_.prev->next = c;
        condvars_.prev = c;
    }
    // When the condvar is destroyed, from any kernel thread.
    static void remove_condvar(registered_condvar* c) noexcept {
        wait_registry* o = c->owner.load(std::memory_order_relaxed);
        if (!o) return;
        shared_guard g(o->lock_);
        c->prev->next = c->next;
        c->next->prev = c->prev;
    }

    // On the registry's loop's kernel thread, before the wait can be woken.
    void link(wait_record* r, wait_kind kind) noexcept {
        r->owner_and_kind =
            reinterpret_cast<std::uintptr_t>(this) | static_cast<std::uintptr_t>(kind);
        if (!several_loops()) [[likely]] {
            push(r);
            return;
        }
        shared_guard g(lock_);
        push(r);
    }

    // From any kernel thread.
    static void unlink(wait_record* r) noexcept {
        wait_registry* o = r->owner();
        if (!several_loops()) [[likely]] {
            o->pop(r);
            return;
        }
        shared_guard g(o->lock_);
        o->pop(r);
    }

    // Calls f(record) for every record, oldest first, then g(condvar) for every condvar, all
    // under the lock.
    template <class F, class G>
    void for_each(F&& f, G&& g) {
        shared_guard guard(lock_);
        for (wait_record* r = head_.next; r != &head_; r = r->next)
            f(*r);
        for (registered_condvar* c = condvars_.next; c != &condvars_; c = c->next)
            g(*c);
    }

  private:
    void push(wait_record* r) noexcept {
        r->prev = head_.prev;
        r->next = &head_;
        head_.prev->next = r;
        head_.prev = r;
    }
    void pop(wait_record* r) noexcept {
        r->prev->next = r->next;
        r->next->prev = r->prev;
        r->owner_and_kind = 0;
    }

    wait_record head_;
    registered_condvar condvars_;
    spin_lock lock_;
};

// Unlinks r if it is linked: what awaiters call when the thread runs again.
inline void end_wait_record(wait_record& r) noexcept {
    if (r.linked()) wait_registry::unlink(&r);
}

}  // namespace cpc::detail
