// Links a suspended wait (sleep, io_wait) to what may cut it short: an explicit interrupt
// condvar and the enclosing with_timeout scope. The first of them to fire unlinks both and
// calls the owner's handler; the owner disarms it when the wait completes normally.
//
// Whoever ends the wait first claims it (one atomic flag): the completion (timer, fd), a
// source firing on the wait's own loop, or a source firing from another loop. The handler
// always runs on the loop where the wait is armed, since its timer or fd watch lives there:
// a firing on that loop calls it at once (the firing thread holds the source's list lock,
// and unlinking the other source takes that list's lock: a nesting that never closes a
// cycle, since one thread waits in one place at a time); a firing from another loop only
// claims the wait and asks its loop to run the handler at its next iteration. A source that
// fired is never touched again by the wait (its condvar may be destroyed as soon as its
// count() says nobody waits). A condvar that interrupts a wait from another loop must stay
// alive until the waiting thread has resumed: the wait may still unlink itself from it.
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

    // The wait completed: unlinks both sources. Returns false when an interruption claimed
    // the wait first: the caller must not resume the thread, the interruption will.
    bool disarm() noexcept {
        if (!armed_) return !claimed_.load(std::memory_order_acquire);
        armed_ = false;
        if (!claim()) return false;
        release(cv_);
        release(scope_);
        return true;
    }

  private:
    struct source : wait_link {
        interruption* self = nullptr;
        shared_wait_list* list = nullptr;
        std::atomic<bool> fired{false};  // popped by its list: never touch the list again
    };

    // One loop: nobody else can claim, and the wait's own paths need no atomic RMW.
    bool claim() noexcept {
        if (!several_loops()) [[likely]] {
            if (claimed_.load(std::memory_order_relaxed)) return false;
            claimed_.store(true, std::memory_order_relaxed);
            return true;
        }
        return !claimed_.exchange(true, std::memory_order_acq_rel);
    }

    void prepare(source& s, shared_wait_list* list) noexcept {
        s.self = this;
        s.list = list;
        s.wake = &fire_source;
    }
    static void fired(wait_link* l) noexcept {
        auto* s = static_cast<source*>(l);
        interruption* self = s->self;
        s->fired.store(true, std::memory_order_relaxed);
        if (!self->claim()) return;
        if (self->loop_ == tl_loop) {
            self->armed_ = false;
            release(s == &self->cv_ ? self->scope_ : self->cv_);
            self->handler_(self->owner_);
        } else {
            self->loop_->call_soon(&deliver, self);
        }
    }
    static constexpr waker fire_source{&fired};
    static void deliver(loop&, void* p) noexcept {
        auto* self = static_cast<interruption*>(p);
        self->armed_ = false;
        release(self->cv_);
        release(self->scope_);
        self->handler_(self->owner_);
    }
    static void release(source& s) noexcept {
        if (s.list && !s.fired.load(std::memory_order_acquire)) s.list->remove_if_linked(&s);
    }

    source cv_;
    source scope_;
    loop* loop_ = nullptr;
    void* owner_ = nullptr;
    handler handler_ = nullptr;
    bool armed_ = false;
    std::atomic<bool> claimed_{false};
};

}  // namespace cpc::detail
