// co_await cpc::io_wait(fd, cpc::in | cpc::out, interrupt): suspends until fd is ready.
// cpc::exclusive may be added for an fd that several loops wait on at once (loop.hpp).
//
// `interrupt` is a condvar*, a cpc::interrupts set (any of its condvars), or nothing.
// Returns true when the kernel reports one of the requested kinds of readiness (or an error
// or hang-up on fd, which the next read or write will report), false when interrupted by a
// signal on `interrupt` or by the deadline of an enclosing with_timeout. Readiness is level-
// triggered: waiting on an fd that is already ready returns at the next loop iteration. On a
// pool thread the kernel thread blocks in poll() and `interrupt` is not listened to.
//
// On both backends (loop.hpp): epoll's level-triggered interest, or on io_uring a poll
// operation re-armed at every loop pass while interest remains, with the same meaning. A
// regular file counts as ready at once on both (epoll refuses it; io_uring's poll reports it
// ready), a bad fd too (the next call says what is wrong).
//
// fds a loop has waited on must be closed with cpc::close, from any kernel thread, so that
// every loop that knows them forgets them before the number is reused (and, on io_uring, so
// that the pending poll, which holds a reference to the file, lets go of it).
//
// The fd is watched by the loop the thread runs on. If the thread's color moves to another
// loop meanwhile (runtime.hpp), readiness is still reported there and the thread resumes
// where its color runs; its next io_wait watches fd from the new loop.
#pragma once

#include <coroutine>

#include "cpc/condvar.hpp"
#include "cpc/detail/interruption.hpp"
#include "cpc/detail/wake.hpp"
#include "cpc/interrupts.hpp"
#include "cpc/loop.hpp"
#include "cpc/task.hpp"

namespace cpc {

namespace detail {
bool poll_kernel_thread(int fd, unsigned events) noexcept;
}

// What co_await cpc::io_wait(...) awaits.
class io_wait_awaiter : detail::wait_record {
  public:
    // For cpc::dump_threads: what this wait is (wait_record.hpp), and its frame.
    static std::coroutine_handle<> describe_wait(const detail::wait_record& r, std::string& out);
    // An awaiter for events of fd, interrupted by interrupt (a condvar, an interrupts set, or
    // none).
    io_wait_awaiter(int fd, unsigned events, interrupt_source interrupt) noexcept
        : fd_(fd), events_(events), interrupt_(interrupt) {}
    io_wait_awaiter(const io_wait_awaiter&) = delete;
    io_wait_awaiter& operator=(const io_wait_awaiter&) = delete;
    ~io_wait_awaiter() {
        detail::end_wait_record(*this);
        stop_watching();
    }

    bool await_ready() noexcept {
        if (detail::tl_loop) return false;
        ready_ = detail::poll_kernel_thread(fd_, events_);
        return true;
    }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        detail::cancel_scope* scope = detail::scope_of(h);
        if (scope && scope->fired()) {  // ready_ stays false
            detail::note_wait_cut_short_before_suspending();
            return false;
        }
        frame_ = h;
        loop_ = detail::tl_loop;
        home_ = detail::tl_scheduler;
        if constexpr (detail::is_task_frame<P>)
            loop_->waits().link(this, detail::wait_kind::io_wait);
        if (((events_ & in) && !watch(reader_, in)) || ((events_ & out) && !watch(writer_, out))) {
            stop_watching();
            ready_ = true;  // the kernel cannot poll fd: the next call will say why
            return false;
        }
        if (interrupt_ || scope) {
            const bool armed =
                interruption_.arm(interrupt_, scope, loop_, this, [](void* owner) noexcept {
                    auto* self = static_cast<io_wait_awaiter*>(owner);
                    self->stop_watching();
                    detail::wake_at(self->home_, self->frame_);
                });
            if (!armed) {  // the deadline passed on another loop meanwhile
                stop_watching();
                return false;
            }
        }
        return true;
    }

    bool await_resume() noexcept {
        detail::end_wait_record(*this);
        return ready_;
    }

  private:
    struct watcher : detail::wait_link {
        io_wait_awaiter* self = nullptr;
    };

    bool watch(watcher& w, io_events kind) {
        w.self = this;
        static constexpr detail::waker ready{[](detail::wait_link* l) noexcept {
            io_wait_awaiter* self = static_cast<watcher*>(l)->self;
            self->stop_watching();
            // An interruption already on its way wins: it happened first.
            if (!self->interruption_.disarm()) return;
            self->ready_ = true;
            detail::wake_at(self->home_, self->frame_);
        }};
        w.wake = &ready;
        return loop_->watch_fd(fd_, static_cast<io_events>(kind | (events_ & exclusive)), &w);
    }

    void stop_watching() noexcept {
        if (reader_.linked()) loop_->unwatch_fd(fd_, in, &reader_);
        if (writer_.linked()) loop_->unwatch_fd(fd_, out, &writer_);
    }

    int fd_;
    unsigned events_;
    interrupt_source interrupt_;
    loop* loop_ = nullptr;  // where fd is watched
    scheduler* home_ = nullptr;
    std::coroutine_handle<> frame_;
    watcher reader_;
    watcher writer_;
    detail::interruption interruption_;
    bool ready_ = false;
};

// co_await cpc::io_wait(fd, events, interrupt): true when fd is ready, false when
// interrupted (see the top of this file).
inline io_wait_awaiter io_wait(int fd, unsigned events, interrupt_source interrupt = {}) noexcept {
    return io_wait_awaiter{fd, events, interrupt};
}

}  // namespace cpc
