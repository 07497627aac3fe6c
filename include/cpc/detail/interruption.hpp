// Links a suspended wait (sleep, io_wait) to what may cut it short: an explicit interrupt
// condvar (or a set of them, interrupts.hpp) and the enclosing with_timeout scope. The first
// of them to fire unlinks the others and calls the owner's handler; the owner disarms it when
// the wait completes normally.
//
// Whoever ends the wait first claims it (one atomic word): the completion (timer, fd), a
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
#include "cpc/detail/check.hpp"
#include "cpc/detail/shared_wait_list.hpp"
#include "cpc/interrupts.hpp"
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
    bool arm(interrupt_source interrupt, cancel_scope* scope, loop* where, void* owner,
             handler h) noexcept {
        owner_ = owner;
        handler_ = h;
        loop_ = where;
        if (scope) {
            prepare(scope_, &scope->waiters(), kScopePopped);
            if (!scope->link(&scope_)) {
                note_wait_cut_short_before_suspending();
                return false;
            }
        }
        if (condvar* cv = interrupt.single()) {
            prepare(cv_, &cv->waiters(), kCvPopped);
            cv->waiters().push_back(&cv_);
        } else if (interrupts* set = interrupt.set()) {
            set_ = set;
            for (unsigned i = 0; i < set->count_; ++i) {
                prepare(set->links_[i], &set->cvs_[i]->waiters(),
                        static_cast<unsigned char>(kSetPopped << i));
                set->cvs_[i]->waiters().push_back(&set->links_[i]);
            }
        }
        armed_ = true;
        return true;
    }

    // The wait completed: unlinks both sources. Returns false when an interruption claimed
    // the wait first: the caller must not resume the thread, the interruption will.
    bool disarm() noexcept {
        if (!armed_) return (state_.load(std::memory_order_acquire) & kClaimed) == 0;
        armed_ = false;
        if (claim(0) & kClaimed) return false;
        release_all();
        return true;
    }

    // The condvar fired on this wait (its signal picked it), whether or not it won the claim:
    // a signal that reached the wait is not lost. Final once the thread has resumed.
    bool condvar_fired() const noexcept {
        return (state_.load(std::memory_order_acquire) & ~(kClaimed | kScopePopped)) != 0;
    }

  private:
    // state_: who claimed the wait, and which sources their lists popped (fired). One atomic
    // word, so that a source that fires and loses the claim has touched the wait for the
    // last time in that single step: the thread may resume and reuse the memory at once.
    static constexpr unsigned char kClaimed = 1;
    static constexpr unsigned char kCvPopped = 2;
    static constexpr unsigned char kScopePopped = 4;
    static constexpr unsigned char kSetPopped = 8;  // the first of a set's; the others above
    static_assert(interrupts::max <= 5);

    using source = interrupt_link;

    // Sets bits and claims the wait; returns the state before. One loop: nobody else can
    // claim, and the wait's own paths need no atomic RMW.
    unsigned char claim(unsigned char bits) noexcept {
        bits |= kClaimed;
        if (!several_loops()) [[likely]] {
            const unsigned char before = state_.load(std::memory_order_relaxed);
            state_.store(before | bits, std::memory_order_relaxed);
            return before;
        }
        return state_.fetch_or(bits, std::memory_order_acq_rel);
    }

    void prepare(source& s, shared_wait_list* list, unsigned char popped_bit) noexcept {
        s.self = this;
        s.list = list;
        s.popped_bit = popped_bit;
        s.wake = &fire_source;
    }
    static void fired(wait_link* l) noexcept {
        auto* s = static_cast<source*>(l);
        interruption* self = s->self;
        if (self->claim(s->popped_bit) & kClaimed) return;  // the last touch of a loser
        if (self->loop_ == tl_loop) {
            self->armed_ = false;
            self->release_all();  // not s: its bit is set, its list popped it
            self->handler_(self->owner_);
        } else {
            self->loop_->call_soon(&deliver, self);
        }
    }
    static constexpr waker fire_source{&fired};
    static void deliver(loop&, void* p) noexcept {
        auto* self = static_cast<interruption*>(p);
        self->armed_ = false;
        self->release_all();
        self->handler_(self->owner_);
    }
    // A source its list popped is not touched again (the list may be gone). One not popped
    // yet is unlinked under its list's lock, which also waits for a firing in progress.
    void release(source& s) noexcept {
        if (s.list && (state_.load(std::memory_order_acquire) & s.popped_bit) == 0) {
            s.list->remove_if_linked(&s);
        }
    }

    void release_all() noexcept {
        release(cv_);
        release(scope_);
        if (set_) {
            for (unsigned i = 0; i < set_->count_; ++i)
                release(set_->links_[i]);
        }
    }

    source cv_;
    source scope_;
    interrupts* set_ = nullptr;
    loop* loop_ = nullptr;
    void* owner_ = nullptr;
    handler handler_ = nullptr;
    bool armed_ = false;
    std::atomic<unsigned char> state_{0};
};

}  // namespace cpc::detail
