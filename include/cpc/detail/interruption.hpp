// Links a suspended wait (sleep, io_wait) to what may cut it short: an explicit interrupt
// condvar and the enclosing with_timeout scope. The first of them to fire unlinks both and
// calls the owner's handler; the owner disarms it when the wait completes normally.
#pragma once

#include "cpc/detail/cancel_scope.hpp"
#include "cpc/detail/wait_list.hpp"

namespace cpc::detail {

class interruption {
public:
    using handler = void (*)(void* owner) noexcept;

    interruption() = default;
    interruption(const interruption&) = delete;
    interruption& operator=(const interruption&) = delete;
    ~interruption() { disarm(); }

    void arm(wait_list* condvar_waiters, cancel_scope* scope, void* owner, handler h) noexcept {
        owner_ = owner;
        handler_ = h;
        if (condvar_waiters) link(cv_, condvar_waiters);
        if (scope) link(scope_, &scope->waiters());
    }

    void disarm() noexcept {
        unlink(cv_);
        unlink(scope_);
    }

private:
    struct source : wait_link {
        interruption* self = nullptr;
        wait_list* list = nullptr;
    };

    void link(source& s, wait_list* list) noexcept {
        s.self = this;
        s.list = list;
        s.wake = [](wait_link* l) noexcept {
            interruption* self = static_cast<source*>(l)->self;
            self->disarm();
            self->handler_(self->owner_);
        };
        list->push_back(&s);
    }
    static void unlink(source& s) noexcept {
        if (s.linked()) s.list->remove(&s);
    }

    source cv_;
    source scope_;
    void* owner_ = nullptr;
    handler handler_ = nullptr;
};

}  // namespace cpc::detail
