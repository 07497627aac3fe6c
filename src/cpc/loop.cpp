#include "cpc/loop.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>

#include "fd_table.hpp"
#include "io_backend.hpp"
#include "running_loops.hpp"
#include "sigpipe.hpp"

namespace cpc {

namespace {

// Resumes in one round before timers and I/O get their turn: enough to spread the cost of
// a round (and of a look at the kernel) over many switches, few enough that a busy loop
// still notices timers and I/O within microseconds.
constexpr std::size_t kResumesPerRound = 256;

}  // namespace

loop::loop()
    : scheduler(kind::loop),
      backend_(detail::make_epoll_backend()),
      fds_(std::make_unique<detail::fd_table>(*backend_)) {
    detail::ignore_sigpipe_by_default();
    update_now();
}

loop::~loop() = default;

void loop::update_now() noexcept {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    now_ = std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void loop::add_timer(detail::timer_node* t, std::int64_t delay_ns) {
    if (timers_.empty()) update_now();
    timers_.add(t, now_ + std::max<std::int64_t>(delay_ns, 0));
}

bool loop::watch_fd(int fd, io_events kind, detail::wait_link* l) {
    return fds_->watch(fd, kind, l);
}

void loop::unwatch_fd(int fd, io_events kind, detail::wait_link* l) noexcept {
    fds_->unwatch(fd, kind, l);
}

void loop::forget_fd(int fd) noexcept { fds_->forget(fd); }

void loop::wake() noexcept { backend_->wake(); }

void loop::schedule(std::coroutine_handle<> h) {
    if (detail::tl_loop == this) {
        post(h);
        return;
    }
    bool first;
    {
        std::lock_guard lock(remote_mutex_);
        remote_.push_back(h);
        first = !remote_pending_.exchange(true, std::memory_order_release);
    }
    if (first) backend_->wake();
}

void loop::drain_remote() {
    std::vector<std::coroutine_handle<>> arrived;
    {
        std::lock_guard lock(remote_mutex_);
        arrived.swap(remote_);
        remote_pending_.store(false, std::memory_order_relaxed);
    }
    for (std::coroutine_handle<> h : arrived) post(h);
}

void loop::run_ready() {
    std::size_t budget = kResumesPerRound;
    while (!ready_.empty() && budget-- != 0) ready_.pop_front().resume();
}

void loop::fire_timers() {
    update_now();
    while (detail::timer_node* t = timers_.pop_expired(now_)) t->fire(t);
}

void loop::poll(std::int64_t timeout_ns) {
    for (const detail::io_event& e : backend_->wait(timeout_ns)) fds_->dispatch(e.fd, e.events);
}

bool loop::nothing_left() {
    if (!ready_.empty() || !timers_.empty() || fds_->waiters() != 0) return false;
    if (detail::detached_threads() != 0) return false;
    std::lock_guard lock(remote_mutex_);
    return remote_.empty();
}

run_result loop::run() {
    loop* const outer_loop = detail::tl_loop;
    scheduler* const outer_scheduler = detail::tl_scheduler;
    detail::tl_loop = this;
    detail::tl_scheduler = this;
    detail::running_loop_registration registration(*this);

    for (;;) {
        if (remote_pending_.load(std::memory_order_acquire)) drain_remote();
        run_ready();
        if (!timers_.empty()) fire_timers();
        if (!ready_.empty()) {
            if (fds_->waiters() != 0) poll(0);
            continue;
        }
        if (nothing_left()) break;
        std::int64_t timeout = -1;
        if (!timers_.empty()) timeout = std::max<std::int64_t>(timers_.next_deadline() - now_, 0);
        poll(timeout);
        // The loop may have slept in the kernel: threads woken by I/O or from another kernel
        // thread run next, and a sleep they start must be measured from the time now.
        update_now();
    }

    detail::tl_loop = outer_loop;
    detail::tl_scheduler = outer_scheduler;
    run_result result;
    result.blocked_threads = static_cast<std::size_t>(blocked_);
    if (result.blocked_threads != 0) {
        std::fprintf(stderr,
                     "cpc: loop finished with %zu thread(s) blocked forever on condition "
                     "variables\n",
                     result.blocked_threads);
    }
    return result;
}

loop& default_loop() {
    static loop the_default_loop;
    return the_default_loop;
}

}  // namespace cpc
