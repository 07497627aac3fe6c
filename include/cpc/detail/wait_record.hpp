// What a suspended thread waits for, kept where cpc::dump_threads (dump_threads.hpp) can find
// it: each runtime awaiter (condvar wait, io_wait, sleep, io_op, a timed condvar wait) embeds
// a wait_record and links it into the wait_registry of the loop it suspends on, from just
// before the wait becomes visible to its wakers until the thread runs again (await_resume) or
// its frame is destroyed.
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

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string>

#include "cpc/detail/spin_lock.hpp"

namespace cpc::detail {

class wait_registry;

// The awaiters that record their waits; dump_threads.cpp has a describer for each.
enum class wait_kind : unsigned char { condvar, timed_condvar, io_wait, sleep, io_op };

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
extern const describe_wait_fn wait_describers[5];

// The waits of one loop: a circular list with a sentinel.
class alignas(8) wait_registry {
  public:
    wait_registry() noexcept { head_.prev = head_.next = &head_; }
    wait_registry(const wait_registry&) = delete;
    wait_registry& operator=(const wait_registry&) = delete;

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

    // Calls f(record) for every record, oldest first, under the lock.
    template <class F>
    void for_each(F&& f) {
        shared_guard g(lock_);
        for (wait_record* r = head_.next; r != &head_; r = r->next)
            f(*r);
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
    spin_lock lock_;
};

// Unlinks r if it is linked: what awaiters call when the thread runs again.
inline void end_wait_record(wait_record& r) noexcept {
    if (r.linked()) wait_registry::unlink(&r);
}

}  // namespace cpc::detail
