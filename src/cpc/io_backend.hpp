// The loop's window on the kernel: readiness notification (both backends) and, on io_uring,
// operations that complete in the kernel (io_op.hpp). Small on purpose, so that the loop does
// not know which mechanism it runs on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "cpc/loop.hpp"

struct io_uring_sqe;

namespace cpc::detail {

struct io_event {
    int fd;
    unsigned events;  // cpc::in | cpc::out; an error or hang-up reports both
};

class io_backend {
  public:
    virtual ~io_backend() = default;

    virtual backend_kind kind() const noexcept = 0;

    // Whether a report of readiness ends the registration (io_uring's single-shot polls).
    // Such interest is kept only while somebody waits (fd_table.hpp): a poll left armed for
    // nobody would take a wake-up of an exclusive fd (a listening socket shared by loops)
    // that another loop was waiting for, and the connection would sit in the backlog.
    virtual bool reports_once() const noexcept { return false; }

    // Sets which readiness kinds (cpc::in | cpc::out, or 0) the kernel reports for fd, with
    // the cpc::exclusive flag or not; `current` is what was set before (0: fd is not in the
    // set). Returns 0, or the errno with which the kernel refused (EPERM for a regular file,
    // EBADF...).
    virtual int set_interest(int fd, unsigned current, unsigned wanted) noexcept = 0;

    // fd is being closed: the kernel must let go of it (an io_uring poll or operation holds a
    // reference to the file, which would keep a socket open after close(2)). Operations on it
    // complete with -ECANCELED at a later wait().
    virtual void forget(int fd) noexcept { (void)fd; }

    // Waits up to timeout_ns (negative: without limit; 0: just looks) for readiness or for
    // wake(). Completed operations are delivered (io_op_base::complete) during the call. The
    // span stays valid until the next call.
    virtual std::span<const io_event> wait(std::int64_t timeout_ns) = 0;

    // Makes a wait() in progress, or the next one, return. Thread-safe.
    virtual void wake() noexcept = 0;

    // The loop's run ends: hands the kernel what is queued for it (the removals and cancels
    // of a close, which let go of the file) without waiting for their completions.
    virtual void flush() noexcept {}

    // Operations (io_uring only; the epoll backend has none, and callers check first).
    // Queues op on fd: prepare fills the SQE, whose user_data the backend sets; the SQE goes
    // to the kernel at the next wait().
    using prepare_fn = void (*)(io_uring_sqe* sqe, void* ctx) noexcept;
    virtual void submit(io_op_base* op, prepare_fn prepare, void* ctx) {
        (void)op, (void)prepare, (void)ctx;
    }
    // Asks the kernel to cancel op; its completion still comes (with -ECANCELED, or its
    // result if it finished first).
    virtual void cancel(io_op_base* op) noexcept { (void)op; }
    // Queues close(fd) for the next wait(), whose result nobody waits for (io_uring only, and
    // not under ThreadSanitizer: false elsewhere, and the caller closes at once). Queued after the
    // cancels of forget(fd), which the kernel runs first.
    virtual bool close_later(int fd) noexcept {
        (void)fd;
        return false;
    }

    // The provided-buffer ring (io_uring only): buffers the kernel takes from only when data
    // arrives for an operation submitted with IOSQE_BUFFER_SELECT in this group, and which
    // the completion names (IORING_CQE_F_BUFFER). -1: none (epoll, or a kernel that refused
    // the ring). A buffer named by a completion belongs to the caller until recycled; only on
    // the loop's kernel thread.
    virtual int buffer_group() const noexcept { return -1; }
    virtual std::size_t buffer_size() const noexcept { return 0; }
    virtual const std::byte* provided_buffer(unsigned id) const noexcept {
        (void)id;
        return nullptr;
    }
    virtual void recycle_buffer(unsigned id) noexcept { (void)id; }

    // Operations submitted and not completed yet.
    std::size_t in_flight() const noexcept { return in_flight_; }

  protected:
    std::size_t in_flight_ = 0;
};

std::unique_ptr<io_backend> make_epoll_backend();
// Null, with the reason in *why, when the kernel refuses io_uring. slot: the loop's bit in
// the masks of fd_owners.hpp (fds with operations in flight are marked there, as armed ones).
std::unique_ptr<io_backend> make_io_uring_backend(const unsigned& slot, std::string* why);
// The backend that options (and CPC_BACKEND) ask for, or epoll with the reason in *why when
// io_uring was wanted and the kernel refuses it. Throws std::invalid_argument for an unknown
// CPC_BACKEND.
std::unique_ptr<io_backend> make_backend(backend_kind wanted, const unsigned& slot,
                                         std::string* why);

}  // namespace cpc::detail
