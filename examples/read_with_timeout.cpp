// read_with_timeout: a read that gives up after a while, the CPC way and the modern way.
//
// Hekate guards every network read with a timeout, so that idle peers do not clog the
// server. CPC has no timeout argument on its I/O primitives; instead, a read listens to a
// condition variable, and the buffered read function spawns a short-lived *timeout thread*
// that sleeps for the duration and then signals that condvar (paper, section 2). Most
// timeouts never expire, so this relies on spawning and switching threads being cheap:
// here a thread is one coroutine frame.
//
// Two details make it correct, and both are shown below:
//   - When the read completes first, the timeout thread must be woken so that it ends now,
//     not minutes later: it sleeps with an interrupt condvar of its own, which the reader
//     signals. (A forgotten timeout thread is not only a waste: main_loop keeps running
//     until its timer fires.)
//   - The timeout thread may outlive the reader's frame (the read can complete before the
//     timeout thread even starts), so the state they share is not in the reader's frame.
//
// cpc::with_timeout packages the same idea without an extra thread: every wait inside the
// awaited task is interrupted when the deadline passes, as if a timeout thread had signalled
// it. Both are demonstrated on a socketpair, where the test controls when data arrives.
//
// Usage: read_with_timeout   (runs the demonstration, checks it, exits 0 on success)
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "common.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = cpc::monotonic_clock;  // the loop's clock (cpc/clock.hpp)

// ---- the CPC way: a timeout thread -------------------------------------------------

// Shared by a read and its timeout thread, owned by both (shared_ptr): whichever ends last
// frees it.
struct timeout_state {
    cpc::condvar expire;  // the read listens to it: signalled when the time is up
    cpc::condvar cancel;  // the timeout thread's sleep listens to it: the read is over
    bool read_done = false;
    bool expired = false;
};

std::size_t live_timeout_threads = 0;  // to show that cancelled timeout threads end at once

cpc::task<void> timeout_thread(std::shared_ptr<timeout_state> s, std::chrono::nanoseconds d) {
    ++live_timeout_threads;
    // A fast read may have completed before this thread first ran: nothing to guard then.
    if (!s->read_done) {
        // sleep returns true when the whole duration elapsed, false when `cancel` woke it.
        const bool elapsed = co_await cpc::sleep(d, &s->cancel);
        // Both can happen in one turn of the loop: the timer fires, and the read completes
        // before this thread runs again. Then the read has won and nothing must be signalled.
        if (elapsed && !s->read_done) {
            s->expired = true;
            s->expire.signal_all();  // the read's wait ends with operation_canceled
        }
    }
    --live_timeout_threads;
}

// Hekate's guarded read: at most len bytes from fd, or std::errc::operation_canceled in
// the result's error after `timeout`.
cpc::task<cpc::io_result> read_with_timeout(int fd, void* buf, std::size_t len,
                                            std::chrono::nanoseconds timeout) {
    auto s = std::make_shared<timeout_state>();
    cpc::spawn(timeout_thread(s, timeout));
    // The last argument is the interrupt: a signal on s->expire ends the wait early.
    const cpc::io_result r = co_await cpc::read(fd, buf, len, &s->expire);
    s->read_done = true;
    s->cancel.signal_all();  // tell the timeout thread it is not needed any more
    co_return r;
}

// ---- the demonstration -------------------------------------------------------------

struct demo {
    int reader = -1;  // our end of the socketpair
    int writer = -1;  // the "peer"
    int failures = 0;
    example::watchdog dog;
};

// The peer: writes `text` after `delay` (a thread of its own, so the reader really waits).
cpc::task<void> peer_writes_later(int fd, std::chrono::milliseconds delay, std::string text) {
    co_await cpc::sleep(delay);
    co_await cpc::write(fd, text.data(), text.size());
}

double ms_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

cpc::task<void> run_demo(demo& d) {
    char buf[64];
    bool ok = true;

    std::printf("1. the CPC way, data arrives after 50 ms, timeout 30 s:\n");
    {
        cpc::spawn(peer_writes_later(d.writer, 50ms, "hello"));
        const auto t0 = clock_type::now();
        const cpc::io_result r = co_await read_with_timeout(d.reader, buf, sizeof buf, 30s);
        std::printf("   read %zu bytes after %.0f ms\n", r.bytes, ms_since(t0));
        ok &= example::check(r && std::string_view(buf, r.bytes) == "hello", "got \"hello\"");
        // The cancelled timeout thread was posted to the run queue; one yield lets it end.
        co_await cpc::yield();
        ok &= example::check(live_timeout_threads == 0,
                             "the 30 s timeout thread already ended (cancelled)");
    }

    std::printf("2. the CPC way, nothing arrives, timeout 100 ms:\n");
    {
        const auto t0 = clock_type::now();
        const cpc::io_result r = co_await read_with_timeout(d.reader, buf, sizeof buf, 100ms);
        const double ms = ms_since(t0);
        std::printf("   gave up after %.0f ms: %s\n", ms, r.error.message().c_str());
        ok &= example::check(r.error == std::errc::operation_canceled,
                             "the read was cancelled by its timeout thread");
        ok &= example::check(ms >= 90 && ms < 2000, "after about 100 ms");
    }

    std::printf("3. cpc::with_timeout, data arrives after 50 ms, timeout 30 s:\n");
    {
        cpc::spawn(peer_writes_later(d.writer, 50ms, "world"));
        // with_timeout returns std::optional: empty when the deadline passed first.
        const std::optional<cpc::io_result> r =
            co_await cpc::with_timeout(30s, cpc::read(d.reader, buf, sizeof buf));
        ok &=
            example::check(r && *r && std::string_view(buf, r->bytes) == "world", "got \"world\"");
    }

    std::printf("4. cpc::with_timeout, nothing arrives, timeout 100 ms:\n");
    {
        const auto t0 = clock_type::now();
        const std::optional<cpc::io_result> r =
            co_await cpc::with_timeout(100ms, cpc::read(d.reader, buf, sizeof buf));
        const double ms = ms_since(t0);
        std::printf("   gave up after %.0f ms\n", ms);
        ok &= example::check(!r, "timed out (empty optional)");
        ok &= example::check(ms >= 90 && ms < 2000, "after about 100 ms");
    }

    if (!ok) ++d.failures;
    d.dog.finish();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1) {
        std::printf("usage: %s\n  demonstrates reads guarded by timeouts; exits 0 on success\n",
                    argv[0]);
        return std::string_view(argv[1]) == "--help" ? 0 : 2;
    }
    demo d;
    int sv[2];
    // Non-blocking, as every fd a loop thread reads must be: cpc::read tries the call first
    // and only waits on EAGAIN.
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        std::perror("socketpair");
        return 1;
    }
    d.reader = sv[0];
    d.writer = sv[1];

    const auto t0 = clock_type::now();
    cpc::spawn(d.dog.run(20s));
    cpc::spawn(run_demo(d));
    const cpc::run_result r = cpc::main_loop();
    const double total = ms_since(t0);
    cpc::close(d.reader);
    cpc::close(d.writer);

    // Had a timeout thread been left sleeping, main_loop would have waited for its 30 s.
    std::printf("main_loop returned after %.0f ms\n", total);
    bool ok = d.failures == 0;
    ok &= example::check(total < 5000, "no forgotten timeout kept the loop running");
    ok &= example::check(r.blocked_threads == 0, "no thread left blocked");
    return ok ? 0 : 1;
}
