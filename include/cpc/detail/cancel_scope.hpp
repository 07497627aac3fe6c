// The deadline region of one cpc::with_timeout. Every cps frame carries a pointer to the
// innermost scope around it (inherited when it is awaited); sleep and io_wait listen to it as
// they listen to an explicit interrupt condvar. A scope is itself a waiter on its parent, so a
// deadline that passes interrupts everything nested inside it.
#pragma once

#include "cpc/detail/wait_list.hpp"

namespace cpc::detail {

class cancel_scope {
public:
    explicit cancel_scope(cancel_scope* parent) noexcept : parent_(parent) {
        if (!parent_) return;
        if (parent_->fired_) {
            fired_ = true;
            return;
        }
        in_parent_.wake = [](wait_link* l) noexcept {
            // in_parent_ is the first member: the link is the scope.
            reinterpret_cast<cancel_scope*>(l)->fire();
        };
        parent_->waiters_.push_back(&in_parent_);
    }
    ~cancel_scope() {
        if (in_parent_.linked()) parent_->waiters_.remove(&in_parent_);
    }
    cancel_scope(const cancel_scope&) = delete;
    cancel_scope& operator=(const cancel_scope&) = delete;

    bool fired() const noexcept { return fired_; }
    wait_list& waiters() noexcept { return waiters_; }

    // Interrupts every wait inside the scope, now and later.
    void fire() noexcept {
        fired_ = true;
        waiters_.wake_all();
    }

private:
    wait_link in_parent_;  // must stay first (see the constructor)
    cancel_scope* parent_;
    wait_list waiters_;
    bool fired_ = false;
};

}  // namespace cpc::detail
