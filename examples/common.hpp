// Small helpers shared by the examples: loopback sockets, a line-oriented test client, a
// watchdog and option parsing. They are not part of cpc; each example's interesting code
// is in its own file, and this one only keeps the self-tests short.
//
// Everything here is loopback only (127.0.0.1): the examples never touch the network.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cpc/cpc.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace example {

using namespace std::chrono_literals;

// A listening TCP socket on 127.0.0.1:port (port 0: the kernel picks a free one, which is
// stored in *bound). It is non-blocking (cpc::listen_on's default), so that cpc::accept never
// blocks the loop: when no connection is pending, accept answers EAGAIN and cpc waits for
// readiness instead. The caller owns the fd and closes it with cpc::close. Throws
// std::system_error if the socket cannot be had (the port is taken).
inline int listen_loopback(std::uint16_t port, std::uint16_t* bound = nullptr) {
    cpc::listen_result l = cpc::listen_on(cpc::endpoint::loopback_v4(port));
    if (!l) {
        throw std::system_error(
            l.error, std::string(l.failed_call) + " on 127.0.0.1:" + std::to_string(port));
    }
    if (bound) *bound = cpc::local_endpoint(l.fd.get())->port();
    return l.fd.release();
}

// Connects to 127.0.0.1:port from a cooperative thread: cpc::connect_to waits for the
// handshake while the other threads (the server, in the self-tests) run. Returns the fd, or
// an empty one. rcvbuf > 0 shrinks the receive buffer first (a client that will not read
// fills up sooner).
inline cpc::task<cpc::unique_fd> connect_loopback(std::uint16_t port, int rcvbuf = 0) {
    cpc::connect_result c = co_await cpc::connect_to(cpc::endpoint::loopback_v4(port), nullptr,
                                                     {.receive_buffer = rcvbuf});
    co_return std::move(c.fd);
}

// A test client that speaks in lines. Every wait is bounded: a self-test must fail, never
// hang, whatever the bug.
class line_client {
  public:
    line_client() = default;
    explicit line_client(int fd) : fd_(fd) {}

    int fd() const noexcept { return fd_.get(); }
    bool connected() const noexcept { return static_cast<bool>(fd_); }

    cpc::task<bool> connect(std::uint16_t port, int rcvbuf = 0) {
        fd_ = co_await connect_loopback(port, rcvbuf);
        co_return connected();
    }

    void close() noexcept { fd_.reset(); }

    // Sends raw bytes (MSG_NOSIGNAL: a peer that hung up is an error, not SIGPIPE).
    cpc::task<bool> send(std::string bytes) {
        cpc::io_result r = co_await cpc::send(fd_.get(), bytes.data(), bytes.size(), 0);
        co_return static_cast<bool>(r);
    }
    cpc::task<bool> say(std::string line) { co_return co_await send(std::move(line) + "\n"); }

    // The next line without its '\n'; nullopt at end of file, on error or after `limit`.
    cpc::task<std::optional<std::string>> line(std::chrono::milliseconds limit = 5s) {
        for (;;) {
            if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
                std::string l = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                co_return l;
            }
            char chunk[4096];
            std::optional<cpc::io_result> r =
                co_await cpc::with_timeout(limit, cpc::read(fd_.get(), chunk, sizeof chunk));
            if (!r || !*r || r->bytes == 0) co_return std::nullopt;
            buf_.append(chunk, r->bytes);
        }
    }

    // Reads lines until one contains `needle`; false if the connection ends or `limit`
    // passes first. Skipped lines are normal: other clients' chatter, notices.
    cpc::task<bool> expect(std::string needle, std::chrono::milliseconds limit = 5s) {
        for (;;) {
            std::optional<std::string> l = co_await line(limit);
            if (!l) {
                std::fprintf(stderr, "  (no line containing \"%s\")\n", needle.c_str());
                co_return false;
            }
            if (l->find(needle) != std::string::npos) co_return true;
        }
    }

    // True when the server closes the connection within `limit` (lines before that are
    // skipped; a reset counts as closed).
    cpc::task<bool> expect_closed(std::chrono::milliseconds limit = 5s) {
        const auto deadline = cpc::monotonic_clock::now() + limit;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - cpc::monotonic_clock::now());
            if (left <= 0ms) co_return false;
            char chunk[4096];
            std::optional<cpc::io_result> r =
                co_await cpc::with_timeout(left, cpc::read(fd_.get(), chunk, sizeof chunk));
            if (!r) co_return false;  // still open at the deadline
            if (!*r || r->bytes == 0) co_return true;
        }
    }

  private:
    cpc::unique_fd fd_;  // closed with cpc::close when the client goes
    std::string buf_;
};

// Ends the process with a failure unless finish() is called within `limit`. Spawn it first
// in a self-test; finish() wakes it (its sleep listens to a condvar) so that it ends at once
// and does not keep main_loop running until the limit.
class watchdog {
  public:
    cpc::task<void> run(std::chrono::seconds limit) {
        if (finished_) co_return;
        if (co_await cpc::sleep(limit, &done_) && !finished_) {
            std::fprintf(stderr, "self-test: still running after %llds, giving up\n",
                         static_cast<long long>(limit.count()));
            std::_Exit(2);
        }
    }
    void finish() {
        finished_ = true;
        done_.signal_all();
    }

  private:
    cpc::condvar done_;
    bool finished_ = false;
};

// Prints a check's outcome; returns it so that checks chain with &&.
inline bool check(bool ok, const char* what) {
    std::printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
    std::fflush(stdout);
    return ok;
}

// "--port N": parses N, or exits with a message.
inline std::uint16_t parse_port(const char* s) {
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 65535) {
        std::fprintf(stderr, "bad port: %s\n", s);
        std::exit(2);
    }
    return static_cast<std::uint16_t>(v);
}

inline long parse_long(const char* s, long lo, long hi, const char* what) {
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        std::fprintf(stderr, "bad %s: %s (expected %ld..%ld)\n", what, s, lo, hi);
        std::exit(2);
    }
    return v;
}

}  // namespace example
