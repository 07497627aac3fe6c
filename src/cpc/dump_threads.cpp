#include "cpc/dump_threads.hpp"

#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>

#include "cpc/clock.hpp"
#include "cpc/condvar.hpp"
#include "cpc/detail/timed_wait.hpp"
#include "cpc/io_op.hpp"
#include "cpc/io_wait.hpp"
#include "cpc/loop.hpp"
#include "cpc/sleep.hpp"
#include "running_loops.hpp"

namespace cpc {

namespace {

// A million-deep chain is legal (task.hpp); its dump stays readable.
constexpr std::size_t kFramesShown = 64;

template <class... Args>
void append(std::string& out, const char* format, Args... args) {
    char buf[160];
    const int n = std::snprintf(buf, sizeof buf, format, args...);
    if (n > 0) out.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
}

void append_time_left(std::string& out, std::int64_t deadline) {
    const std::int64_t left = deadline - monotonic_ns();
    append(out, "%s%" PRId64 ".%03" PRId64 " ms", left < 0 ? "-" : "",
           (left < 0 ? -left : left) / 1'000'000, ((left < 0 ? -left : left) / 1'000) % 1'000);
}

// Every frame linked by continuation is a task's (task::awaiter asserts it), and
// promise_base sits at the same offset in all of them (promise<T> asserts its alignment).
void append_frames(std::coroutine_handle<> h, std::string& out) {
    std::size_t shown = 0;
    std::size_t hidden = 0;
    for (; h; ++shown) {
        const detail::promise_base& p =
            std::coroutine_handle<detail::promise_base>::from_address(h.address()).promise();
        if (shown < kFramesShown) {
            if (const char* file = p.site.file()) {
                append(out, "    at %s:%u\n", file, p.site.line());
            } else {
                out += "    at (not started)\n";
            }
        } else {
            ++hidden;
        }
        h = p.continuation;
    }
    if (hidden != 0) append(out, "    ... and %zu more frame(s)\n", hidden);
}

void write_all(int fd, const std::string& s) noexcept {
    std::size_t done = 0;
    while (done < s.size()) {
        const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace

std::coroutine_handle<> io_wait_awaiter::describe_wait(const detail::wait_record& r,
                                                       std::string& out) {
    const auto& self = static_cast<const io_wait_awaiter&>(r);
    const bool read = (self.events_ & in) != 0;
    const bool write = (self.events_ & cpc::out) != 0;
    append(out, "waits on fd %d (%s)", self.fd_,
           read && write ? "read, write" : (read ? "read" : "write"));
    return self.frame_;
}

std::coroutine_handle<> sleep_awaiter::describe_wait(const detail::wait_record& r,
                                                     std::string& out) {
    const auto& self = static_cast<const sleep_awaiter&>(r);
    out += "sleeps, timer due in ";
    append_time_left(out, self.ns_);
    return self.frame_;
}

std::coroutine_handle<> io_op_awaiter::describe_wait(const detail::wait_record& r,
                                                     std::string& out) {
    const auto& self = static_cast<const io_op_awaiter&>(r);
    append(out, "waits on an io_uring operation on fd %d", self.fd);
    return self.frame_;
}

namespace detail {
std::coroutine_handle<> timed_condvar_wait::describe_wait(const ::cpc::detail::wait_record& r,
                                                          std::string& out) {
    const auto& self = static_cast<const timed_condvar_wait&>(r);
    append(out, "waits on condvar %p, with a deadline", static_cast<const void*>(self.cv_));
    return self.frame_;
}

// In wait_kind's order; unsized, so that a missing one conflicts with the declaration.
const describe_wait_fn wait_describers[] = {
    &timed_condvar_wait::describe_wait,
    &io_wait_awaiter::describe_wait,
    &sleep_awaiter::describe_wait,
    &io_op_awaiter::describe_wait,
};
}  // namespace detail

std::string dump_threads() {
    loop* l = detail::tl_loop;
    if (!l) return "cpc: no loop runs on this kernel thread: no threads to dump\n";
    std::string entries;
    std::size_t suspended = 0;
    l->waits().for_each(
        [&](const detail::wait_record& r) {
            ++suspended;
            entries += "  thread ";
            const std::coroutine_handle<> leaf =
                detail::wait_describers[static_cast<unsigned>(r.kind())](r, entries);
            entries += '\n';
            append_frames(leaf, entries);
        },
        [&](detail::registered_condvar& c) {
            // The frames are walked under the condvar's lock: the thread cannot resume meanwhile.
            condvar::for_each_waiter(c, [&](const condvar& cv, std::coroutine_handle<> leaf) {
                ++suspended;
                append(entries, "  thread waits on condvar %p\n", static_cast<const void*>(&cv));
                append_frames(leaf, entries);
            });
        });
    std::string out;
    append(out,
           "cpc: loop %u (%s, kernel thread %d): %zu suspended thread(s), %zu runnable, %zu on "
           "pools\n",
           l->index(), to_string(l->backend()), static_cast<int>(::gettid()), suspended,
           l->runnable(), detail::detached_threads());
    out += entries;
    return out;
}

void dump_threads(int fd) {
    write_all(fd, dump_threads());
}

void dump_all_threads(int fd) {
    detail::call_on_running_loops(
        [](loop&, void* p) noexcept {
            try {
                dump_threads(static_cast<int>(reinterpret_cast<std::intptr_t>(p)));
            } catch (...) {  // out of memory: no dump rather than no loop
            }
        },
        reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
}

}  // namespace cpc
