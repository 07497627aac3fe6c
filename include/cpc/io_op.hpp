// co_await cpc::io_op(fd, prepare, ctx, interrupt): submits one io_uring operation on the
// calling thread's loop and suspends until the kernel completes it. The building block of the
// I/O wrappers (io.hpp) on an io_uring loop, public so that new primitives can reuse it.
//
//   static void prep(io_uring_sqe* sqe, void* ctx) noexcept { ... io_uring_prep_recv(...) }
//   const int res = co_await cpc::io_op(fd, &prep, &args, interrupt);  // >= 0, or -errno
//
// Only on a loop whose completes_io() is true (io_uring); the caller checks first. prepare
// fills the SQE (its user_data belongs to the loop) when the thread suspends; the SQE goes to
// the kernel at the loop's next look at it (one io_uring_enter per loop pass). fd is the file
// the operation works on (-1 if none): a cpc::close of it, from any kernel thread, cancels the
// operation and it completes with -EBADF.
//
// Interruption is cancellation: when `interrupt` (a condvar* or a cpc::interrupts set) is
// signalled, or the deadline of an enclosing
// with_timeout passes, the loop asks the kernel to cancel the operation, and the thread
// resumes only when the operation's completion has arrived, that is when the kernel no longer
// uses its buffers: memory the operation reads or writes may be freed as soon as co_await
// returns. interrupted() then says so, and the result is -ECANCELED or, when the operation
// finished before the cancellation reached it, its real result (bytes that did move: callers
// should treat it as a completion, or lose them; an enclosing with_timeout then returns the
// task's value instead of dropping it, with_timeout.hpp). A scope that had fired before the
// call submits nothing and returns -ECANCELED.
//
// The thread resumes where its color runs by then (wake.hpp), like io_wait's.
#pragma once

#include <cerrno>
#include <coroutine>

#include "cpc/condvar.hpp"
#include "cpc/detail/interruption.hpp"
#include "cpc/detail/wake.hpp"
#include "cpc/interrupts.hpp"
#include "cpc/loop.hpp"
#include "cpc/task.hpp"

namespace cpc {

namespace detail {

// What the loop's backend knows of an operation in flight.
struct io_op_base {
    void (*complete)(io_op_base* op, int res) noexcept = nullptr;
    io_op_base* prev = nullptr;  // operations in flight on one fd (for cpc::close)
    io_op_base* next = nullptr;
    int fd = -1;
    unsigned cqe_flags = 0;  // of the completion: which provided buffer holds the data
    bool closed = false;     // cancelled because fd is being closed
};

}  // namespace detail

// What co_await cpc::io_op(...) awaits: one io_uring operation; the result is the
// completion's (>= 0, or -errno).
class io_op_awaiter : detail::io_op_base, detail::wait_record {
  public:
    // For cpc::dump_threads: what this wait is (wait_record.hpp), and its frame.
    static std::coroutine_handle<> describe_wait(const detail::wait_record& r, std::string& out);
    // An operation on fd (-1 if none) whose SQE prepare(sqe, ctx) fills.
    io_op_awaiter(int fd, loop::prepare_fn prepare, void* ctx, interrupt_source interrupt) noexcept
        : prepare_(prepare), ctx_(ctx), interrupt_(interrupt) {
        this->fd = fd;
        complete = &completed;
    }
    io_op_awaiter(const io_op_awaiter&) = delete;
    io_op_awaiter& operator=(const io_op_awaiter&) = delete;
    ~io_op_awaiter() { detail::end_wait_record(*this); }

    bool await_ready() const noexcept { return false; }

    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
        detail::cancel_scope* scope = detail::scope_of(h);
        if (scope && scope->fired()) {
            detail::note_wait_cut_short_before_suspending();
            interrupted_ = true;
            return false;  // res_ stays -ECANCELED
        }
        frame_ = h;
        loop_ = detail::tl_loop;
        home_ = detail::tl_scheduler;
        scope_ = scope;
        if (!loop_ || !loop_->completes_io()) {
            res_ = -EOPNOTSUPP;  // a pool thread, or an epoll loop: the caller's mistake
            return false;
        }
        if constexpr (detail::is_task_frame<P>) loop_->waits().link(this, detail::wait_kind::io_op);
        loop_->submit_op(this, prepare_, ctx_);
        if (interrupt_ || scope) {
            if (!interruption_.arm(interrupt_, scope, loop_, this, &interrupted)) {
                // The deadline passed on another loop meanwhile: the operation is in the
                // kernel's hands already, so it is cancelled and its completion awaited.
                interrupted_ = true;
                loop_->cancel_op(this);
            }
        }
        return true;
    }

    int await_resume() noexcept {
        detail::end_wait_record(*this);
        // A result that beat the deadline's cancellation is kept by with_timeout: bytes that
        // moved, or an accepted connection, dropped there would be lost.
        if (res_ >= 0 && scope_ && scope_->fired()) scope_->keep_outcome();
        return res_;
    }
    // The wait was interrupted (by `interrupt` or a deadline); the result says whether the
    // operation completed anyway.
    bool interrupted() const noexcept { return interrupted_; }
    // The loop the operation was submitted on (after co_await the thread may run on another
    // one, where its color is), and the flags of its completion.
    loop* submitted_on() const noexcept { return loop_; }
    // The flags of the operation's completion (IORING_CQE_F_BUFFER and the buffer's id).
    unsigned completion_flags() const noexcept { return cqe_flags; }

  private:
    // Both run on loop_, in either order: the completion, and the interruption's handler.
    static void completed(detail::io_op_base* op, int res) noexcept {
        auto* self = static_cast<io_op_awaiter*>(op);
        self->res_ = res;
        self->done_ = true;
        // Not interrupted, or interrupted and cancelled already: resume now. Else an
        // interruption claimed the wait from another loop and its handler, still to run,
        // resumes the thread.
        if (self->interrupted_ || self->interruption_.disarm())
            detail::wake_at(self->home_, self->frame_);
    }
    static void interrupted(void* owner) noexcept {
        auto* self = static_cast<io_op_awaiter*>(owner);
        self->interrupted_ = true;
        if (self->done_) {
            detail::wake_at(self->home_, self->frame_);
        } else {
            self->loop_->cancel_op(self);  // the completion resumes the thread
        }
    }

    loop::prepare_fn prepare_;
    void* ctx_;
    interrupt_source interrupt_;
    loop* loop_ = nullptr;
    scheduler* home_ = nullptr;
    detail::cancel_scope* scope_ = nullptr;
    std::coroutine_handle<> frame_;
    detail::interruption interruption_;
    int res_ = -ECANCELED;
    bool done_ = false;
    bool interrupted_ = false;
};

// co_await cpc::io_op(fd, prepare, ctx, interrupt): one io_uring operation (see the top of
// this file).
inline io_op_awaiter io_op(int fd, loop::prepare_fn prepare, void* ctx,
                           interrupt_source interrupt = {}) noexcept {
    return io_op_awaiter{fd, prepare, ctx, interrupt};
}

}  // namespace cpc
