// The epoll backend: level-triggered interest per fd, plus an eventfd for wake-ups from
// other kernel threads.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <system_error>
#include <vector>

#include "cpc/loop.hpp"
#include "io_backend.hpp"

namespace cpc::detail {

namespace {

std::system_error errno_error(const char* what) {
    return std::system_error(errno, std::generic_category(), what);
}

unsigned to_epoll(unsigned kinds) {
    // EPOLLEXCLUSIVE admits no EPOLLRDHUP (EINVAL); a hang-up still reports EPOLLIN.
    if (kinds & exclusive) {
        return ((kinds & in) ? EPOLLIN : 0u) | ((kinds & out) ? EPOLLOUT : 0u) | EPOLLEXCLUSIVE;
    }
    return ((kinds & in) ? EPOLLIN | EPOLLRDHUP : 0u) | ((kinds & out) ? EPOLLOUT : 0u);
}

class epoll_backend final : public io_backend {
  public:
    epoll_backend() : epfd_(::epoll_create1(EPOLL_CLOEXEC)), wakefd_(-1), kernel_events_(256) {
        if (epfd_ < 0) throw errno_error("epoll_create1");
        wakefd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wakefd_ < 0) {
            ::close(epfd_);
            throw errno_error("eventfd");
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = wakefd_;
        ::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
        events_.reserve(kernel_events_.size());
    }
    ~epoll_backend() override {
        ::close(wakefd_);
        ::close(epfd_);
    }

    backend_kind kind() const noexcept override { return backend_kind::epoll; }

    int set_interest(int fd, unsigned current, unsigned wanted) noexcept override {
        epoll_event ev{};
        ev.events = to_epoll(wanted);
        ev.data.fd = fd;
        if (wanted == 0) {
            ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
            return 0;
        }
        // An exclusive registration cannot be modified (EINVAL): it is replaced.
        if (current && ((current | wanted) & exclusive)) {
            ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
            current = 0;
        }
        int op = current ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (::epoll_ctl(epfd_, op, fd, &ev) == 0) return 0;
        // The kernel's view differs from ours (fd closed behind our back and reused, or
        // dup'ed): fix it up rather than fail.
        if (errno == ENOENT) {
            op = EPOLL_CTL_ADD;
        } else if (errno == EEXIST) {
            op = EPOLL_CTL_MOD;
        } else {
            return errno;
        }
        return ::epoll_ctl(epfd_, op, fd, &ev) == 0 ? 0 : errno;
    }

    std::span<const io_event> wait(std::int64_t timeout_ns) override {
        timespec ts{};
        timespec* tsp = nullptr;
        if (timeout_ns >= 0) {
            ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
            ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
            tsp = &ts;
        }
        const int n = wait_kernel(tsp, timeout_ns);
        events_.clear();
        for (int i = 0; i < n; ++i) {
            const epoll_event& e = kernel_events_[static_cast<std::size_t>(i)];
            if (e.data.fd == wakefd_) {
                std::uint64_t count;
                [[maybe_unused]] ssize_t r = ::read(wakefd_, &count, sizeof count);
                continue;
            }
            unsigned kinds = 0;
            if (e.events & (EPOLLIN | EPOLLRDHUP)) kinds |= in;
            if (e.events & EPOLLOUT) kinds |= out;
            if (e.events & (EPOLLERR | EPOLLHUP)) kinds |= in | out;
            events_.push_back({e.data.fd, kinds});
        }
        return events_;
    }

    void wake() noexcept override {
        const std::uint64_t one = 1;
        [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
    }

  private:
    int wait_kernel(const timespec* ts, std::int64_t timeout_ns) {
        const int cap = static_cast<int>(kernel_events_.size());
        for (;;) {
            int n;
            if (have_pwait2_) {
                n = ::epoll_pwait2(epfd_, kernel_events_.data(), cap, ts, nullptr);
                if (n < 0 &&
                    (errno == ENOSYS || errno == EPERM)) {  // old kernel, or a seccomp filter
                    have_pwait2_ = false;
                    continue;
                }
            } else {
                // Round up: waking early would spin until the deadline.
                const int ms =
                    timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
                n = ::epoll_wait(epfd_, kernel_events_.data(), cap, ms);
            }
            if (n >= 0) return n;
            if (errno != EINTR) throw errno_error("epoll_wait");
        }
    }

    int epfd_;
    int wakefd_;
    bool have_pwait2_ = true;
    std::vector<epoll_event> kernel_events_;
    std::vector<io_event> events_;
};

}  // namespace

std::unique_ptr<io_backend> make_epoll_backend() {
    return std::make_unique<epoll_backend>();
}

}  // namespace cpc::detail
