#include "cpc/detail/current.hpp"

#include <poll.h>
#include <sched.h>
#include <time.h>

#include <cerrno>

#include "cpc/loop.hpp"

namespace cpc::detail {

constinit thread_local loop* tl_loop = nullptr;
constinit thread_local scheduler* tl_scheduler = nullptr;

// The blocking forms of the primitives, used by detached threads (on a pool).

void yield_kernel_thread() noexcept {
    ::sched_yield();
}

void sleep_kernel_thread(std::int64_t ns) noexcept {
    if (ns <= 0) return;
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool poll_kernel_thread(int fd, unsigned events) noexcept {
    pollfd p{fd, static_cast<short>(((events & in) ? POLLIN : 0) | ((events & out) ? POLLOUT : 0)),
             0};
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    return true;
}

}  // namespace cpc::detail
