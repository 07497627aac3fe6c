// What may cut a wait short besides an enclosing with_timeout: nothing, one condvar, or a set
// of condvars (cpc::interrupts).
//
//   cpc::interrupts any{&shutdown, &kicked};
//   const bool ready = co_await cpc::io_wait(fd, cpc::in, any);
//   const cpc::io_result r = co_await cpc::read(fd, buf, n, cpc::interrupts{&a, &b});
//
// Every wait that takes `interrupt` (io_wait, sleep, io_op, the I/O wrappers of io.hpp) takes
// an interrupt_source: a condvar* (the single-condvar form, unchanged), nullptr, or an
// interrupts set. A signal on any condvar of the set interrupts the wait as a signal on the
// single condvar does, and the wait then leaves the others' lists. The wait stores one word
// either way, and a wait with a single condvar or none runs exactly the code it ran before.
//
// An interrupts set holds the links the wait puts into its condvars' lists, so:
// - it must outlive every wait it is passed to (a temporary in the co_await expression does),
//   and, like a condvar that interrupts a wait from another loop, stay alive until the thread
//   has resumed;
// - it serves one wait at a time: waits one after the other (a read's waits, a loop) may
//   share it, two threads waiting at once may not (each makes its own).
// A signal wakes the oldest waiter of its condvar, which may be a wait through a set: as with
// a single condvar, signal_all is the way to be sure every waiter sees it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "cpc/condvar.hpp"
#include "cpc/detail/shared_wait_list.hpp"

namespace cpc {

namespace detail {

class interruption;

// One source of an interruption, linked into the waiter list of a condvar or of a scope.
struct interrupt_link : wait_link {
    interruption* self = nullptr;
    shared_wait_list* list = nullptr;
    unsigned char popped_bit = 0;  // its bit in the interruption's state
};

}  // namespace detail

// A set of up to four condvars, a signal on any of which cuts a wait short (see above).
class interrupts {
  public:
    // At most this many condvars (the wait keeps which ones fired in one byte).
    static constexpr std::size_t max = 4;

    // Null pointers are skipped, so that optional condvars can be passed as they are.
    template <class... Condvars>
    requires(std::is_convertible_v<Condvars, condvar*>&&...) explicit interrupts(
        Condvars... cvs) noexcept {
        static_assert(sizeof...(Condvars) <= max, "cpc::interrupts takes at most 4 condvars");
        (add(cvs), ...);
    }
    interrupts(const interrupts&) = delete;
    interrupts& operator=(const interrupts&) = delete;

    // The condvars in the set (the null ones were skipped).
    std::size_t size() const noexcept { return count_; }

  private:
    friend class detail::interruption;

    void add(condvar* cv) noexcept {
        if (cv) cvs_[count_++] = cv;
    }

    condvar* cvs_[max] = {};
    detail::interrupt_link links_[max];
    unsigned char count_ = 0;
};

// One word: a condvar*, or an interrupts* tagged in its lowest bit, or nothing.
class interrupt_source {
  public:
    // Nothing interrupts the wait (but an enclosing with_timeout).
    interrupt_source() noexcept = default;
    // The same: no condvar.
    interrupt_source(std::nullptr_t) noexcept {}
    // A signal on cv interrupts the wait (cv may be null: nothing does).
    interrupt_source(condvar* cv) noexcept : bits_(reinterpret_cast<std::uintptr_t>(cv)) {}
    // A signal on any condvar of the set interrupts the wait; the set must outlive it.
    interrupt_source(interrupts& set) noexcept
        : bits_(reinterpret_cast<std::uintptr_t>(&set) | kSet) {}
    // A temporary set lives until the end of the co_await expression that made it.
    interrupt_source(interrupts&& set) noexcept : interrupt_source(set) {}

    // True when a condvar or a set was given.
    explicit operator bool() const noexcept { return bits_ != 0; }
    // The single condvar, or null.
    condvar* single() const noexcept {
        return (bits_ & kSet) ? nullptr : reinterpret_cast<condvar*>(bits_);
    }
    // The set, or null.
    interrupts* set() const noexcept {
        return (bits_ & kSet) ? reinterpret_cast<interrupts*>(bits_ & ~kSet) : nullptr;
    }

  private:
    static constexpr std::uintptr_t kSet = 1;
    static_assert(alignof(condvar) > 1 && alignof(interrupts) > 1);
    std::uintptr_t bits_ = 0;
};

}  // namespace cpc
