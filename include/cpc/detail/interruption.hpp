// Links a suspended wait (sleep, io_wait) to what may cut it short: an explicit interrupt
// condvar and the enclosing with_timeout scope. The first of them to fire unlinks both and
// calls the owner's handler; the owner disarms it when the wait completes normally.
//
// The handler always runs on the loop where the wait is armed (its timer or fd watch lives
// there). While one loop runs it is called at once by whoever fires; while several run, a
// firing only marks the interruption "in flight" and asks that loop to run the handler at
// its next iteration: the firing thread may be on another loop, and calling the handler
// under the source's lock would take a second list's lock (see shared_wait_list.hpp). A
// wait that completes while an interruption is in flight leaves the resumption to it.
#pragma once

#include <atomic>

#include "cpc/detail/cancel_scope.hpp"
#include "cpc/detail/shared_wait_list.hpp"
#include "cpc/loop.hpp"

namespace cpc::detail {

class interruption {
  public:
    using handler = void (*)(void* owner) noexcept;

    interruption() = default;
    interruption(const interruption&) = delete;
    interruption& operator=(const interruption&) = delete;
    ~interruption() {
        if (armed_) disarm();
    }

    // Returns false, linking nothing, when the scope has already fired: the wait is
    // interrupted before it starts.
    bool arm(shared_wait_list* condvar_waiters, cancel_scope* scope, loop* where, void* owner,
             handler h) noexcept {
        owner_ = owner;
        handler_ = h;
        loop_ = where;
        if (scope) {
            prepare(scope_, &scope->waiters());
            if (!scope->link(&scope_)) return false;
        }
        if (condvar_waiters) {
            prepare(cv_, condvar_waiters);
            condvar_waiters->push_back(&cv_);
        }
        armed_ = true;
        return true;
    }

    // Unlinks both sources. Returns false when an interruption is on its way to the wait's
    // loop: the caller must not resume the thread, the interruption will.
    bool disarm() noexcept {
        armed_ = false;
        unlink(cv_);
        unlink(scope_);
        return !in_flight_.load(std::memory_order_acquire);
    }

  private:
    struct source : wait_link {
        interruption* self = nullptr;
        shared_wait_list* list = nullptr;
    };

    void prepare(source& s, shared_wait_list* list) noexcept {
        s.self = this;
        s.list = list;
        s.wake = [](wait_link* l) noexcept {
            interruption* self = static_cast<source*>(l)->self;
            if (!several_loops() && self->loop_ == tl_loop) {
                self->disarm();
                self->handler_(self->owner_);
            } else if (!self->in_flight_.exchange(true, std::memory_order_acq_rel)) {
                self->loop_->call_soon(&deliver, self);
            }
        };
    }
    static void deliver(loop&, void* p) noexcept {
        auto* self = static_cast<interruption*>(p);
        self->armed_ = false;
        unlink(self->cv_);
        unlink(self->scope_);
        self->handler_(self->owner_);
    }
    static void unlink(source& s) noexcept {
        if (s.list) s.list->remove_if_linked(&s);
    }

    source cv_;
    source scope_;
    loop* loop_ = nullptr;
    void* owner_ = nullptr;
    handler handler_ = nullptr;
    bool armed_ = false;
    std::atomic<bool> in_flight_{false};
};

}  // namespace cpc::detail
