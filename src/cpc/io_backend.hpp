// The loop's window on the kernel's readiness notification. Small on purpose, so that
// another mechanism (io_uring's poll) can replace epoll without touching the loop.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

namespace cpc::detail {

struct io_event {
    int fd;
    unsigned events;  // cpc::in | cpc::out; an error or hang-up reports both
};

class io_backend {
  public:
    virtual ~io_backend() = default;

    // Sets which readiness kinds (cpc::in | cpc::out, or 0) the kernel reports for fd, with
    // the cpc::exclusive flag or not; `current` is what was set before (0: fd is not in the
    // set). Returns 0, or the errno with which the kernel refused (EPERM for a regular file,
    // EBADF...).
    virtual int set_interest(int fd, unsigned current, unsigned wanted) noexcept = 0;

    // Waits up to timeout_ns (negative: without limit; 0: just looks) for readiness or for
    // wake(). The span stays valid until the next call.
    virtual std::span<const io_event> wait(std::int64_t timeout_ns) = 0;

    // Makes a wait() in progress, or the next one, return. Thread-safe.
    virtual void wake() noexcept = 0;
};

std::unique_ptr<io_backend> make_epoll_backend();

}  // namespace cpc::detail
