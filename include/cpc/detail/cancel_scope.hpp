// The deadline region of one cpc::with_timeout. Every cps frame carries a pointer to the
// innermost scope around it (inherited when it is awaited); sleep and io_wait listen to it as
// they listen to an explicit interrupt condvar. A scope is itself a waiter on its parent, so a
// deadline that passes interrupts everything nested inside it.
//
// Thread-safe like a condvar: waits inside the scope may be armed on other loops than the
// one whose timer fires it (a thread that recolors inside with_timeout).
#pragma once

#include <atomic>

#include "cpc/detail/shared_wait_list.hpp"

namespace cpc::detail {

class cancel_scope {
  public:
    explicit cancel_scope(cancel_scope* parent) noexcept : parent_(parent) {
        if (!parent_) return;
        static constexpr waker fire_scope{[](wait_link* l) noexcept {
            // in_parent_ is the first member: the link is the scope.
            reinterpret_cast<cancel_scope*>(l)->fire();
        }};
        in_parent_.wake = &fire_scope;
        if (!parent_->link(&in_parent_)) fired_.store(true, std::memory_order_relaxed);
    }
    ~cancel_scope() {
        if (parent_) parent_->waiters_.remove_if_linked(&in_parent_);
    }
    cancel_scope(const cancel_scope&) = delete;
    cancel_scope& operator=(const cancel_scope&) = delete;

    bool fired() const noexcept { return fired_.load(std::memory_order_acquire); }

    // An operation inside the scope completed in the kernel although the scope had fired
    // (its bytes moved, its connection was accepted): the task's value reports it and must
    // not be dropped by with_timeout, here and in every enclosing scope that had fired too
    // (a scope that fires later is a later deadline, which cut nothing short yet).
    void keep_outcome() noexcept {
        for (cancel_scope* s = this; s && s->fired(); s = s->parent_)
            s->outcome_kept_.store(true, std::memory_order_relaxed);
    }
    bool outcome_kept() const noexcept { return outcome_kept_.load(std::memory_order_relaxed); }
    shared_wait_list& waiters() noexcept { return waiters_; }

    // Links l to be woken when the scope fires; false (nothing linked) if it already has.
    bool link(wait_link* l) noexcept {
        shared_guard g(waiters_.lock);
        if (fired_.load(std::memory_order_relaxed)) return false;
        waiters_.list.push_back(l);
        return true;
    }

    // Interrupts every wait inside the scope, now and later.
    void fire() noexcept {
        shared_guard g(waiters_.lock);
        fired_.store(true, std::memory_order_release);
        waiters_.list.wake_all();
    }

  private:
    wait_link in_parent_;  // must stay first (see the constructor)
    cancel_scope* parent_;
    shared_wait_list waiters_;
    std::atomic<bool> fired_{false};
    std::atomic<bool> outcome_kept_{false};
};

}  // namespace cpc::detail
