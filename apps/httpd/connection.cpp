// A connection's thread: the request loop (idle without a buffer between requests, reading
// at once when a connection is new), keep-alive and pipelining, the deadlines of each wait,
// the writes of a response, the lingering close, and the access log's line for a request.
#include "connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cpc/cpc.hpp>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "cpc/clock.hpp"
#include "http_response.hpp"
#include "request_state.hpp"
#include "server.hpp"

namespace httpd {

using namespace std::chrono_literals;

namespace {

constexpr auto kLingerTime = 1s;               // a lingering close reads this long...
constexpr std::size_t kLingerBytes = 1 << 20;  // ... and at most this much

// What is left of iov[0..n) after its first `done` bytes (nothing, usually: no allocation).
std::vector<iovec> after(const iovec* iov, int n, std::size_t done) {
    std::vector<iovec> rest;
    for (int i = 0; i < n; ++i) {
        if (done >= iov[i].iov_len) {
            done -= iov[i].iov_len;
        } else {
            rest.push_back({static_cast<char*>(iov[i].iov_base) + done, iov[i].iov_len - done});
            done = 0;
        }
    }
    return rest;
}

// Reads and drops what the client still sends, until it closes or the limits pass.
cpc::task<void> drain(int fd, cpc::condvar* interrupt) {
    char sink[4096];
    std::size_t total = 0;
    while (total < kLingerBytes) {
        const cpc::io_result r = co_await cpc::read(fd, sink, sizeof sink, interrupt);
        if (!r || r.bytes == 0) break;
        total += r.bytes;
    }
}

}  // namespace

cpc::task<void> server::serve(int fd, sockaddr_in6 peer) {
    connection c(*this, fd, peer);
    request_state_ptr st;
    // A new connection has the header timeout from its accept for its first request.
    std::int64_t head_deadline =
        cpc::monotonic_ns() +
        std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.header_timeout).count();
    bool first = true;
    const cpc::loop* here = cpc::loop::current();
    const bool batched_reads = here && here->buffer_group() >= 0;
    for (;;) {
        if (!st || st->len == 0) {
            st.reset();
            if (stopping_ || c.closing) break;
            if (first && !batched_reads) {
                // A new connection: its request has usually arrived with it (a client sends
                // as soon as its handshake completes, before we accept), so read at once,
                // without a round through the poller. Only if nothing is there yet (EAGAIN)
                // does it wait below like an idle connection, without the buffer. (On
                // io_uring the read below, an operation, takes what is there in the loop's
                // next batch without a system call of its own.)
                st = read_at_once(c);
                if (c.closing) break;  // closed at once, or an error: nothing to answer
            }
        }
        if (!st) {
            // Idle: no buffer, no parser; only this frame and the wait's.
            c.idle = true;
            const auto limit =
                first ? std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::nanoseconds(head_deadline - cpc::monotonic_ns()))
                      : cfg_.keepalive_timeout;
            // The wait and the read are one operation where the backend allows it (on
            // io_uring the kernel takes a buffer of the loop's ring only when bytes come).
            // They land in this kernel thread's scratch, copied out before anything else
            // runs here.
            thread_local char arrived[request_state::kInlineBytes];
            const std::optional<cpc::io_result> r = co_await cpc::with_timeout(
                std::max(limit, 0ms),
                cpc::read_expecting_wait(fd, arrived, request_state::first_capacity(cfg_.limits),
                                         &c.hangup));
            c.idle = false;
            // Idle too long, hung up, end of file or an error.
            if (!r || !*r || r->bytes == 0) break;
            if (!first) {
                head_deadline =
                    cpc::monotonic_ns() +
                    std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.header_timeout)
                        .count();
            }
            // Bytes are there: only now the buffer.
            st = new_request_state();
            std::memcpy(st->buf, arrived, r->bytes);
            st->len = r->bytes;
        }
        first = false;
        const bool again = co_await handle_request(c, *st, head_deadline);
        if (!again) break;
        // The next head has the header timeout from now (it may be in the buffer already).
        head_deadline =
            cpc::monotonic_ns() +
            std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.header_timeout).count();
    }
}

// A new connection's first read, at once: its request state with the bytes read, or null
// when nothing is there yet (EAGAIN) or the connection ended (end of file or an error: it
// is then marked closing). Not a cps function, so that serve's frame does not grow.
server::request_state_ptr server::read_at_once(connection& c) {
    request_state_ptr st = new_request_state();
    const ssize_t n = cpc::try_read(c.fd, st->buf, st->capacity);
    if (n > 0) {
        st->len = static_cast<std::size_t>(n);
        return st;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) c.closing = true;
    return nullptr;
}

// Reads one request (until head_deadline), answers it and logs it. Returns true when the
// connection stays open, with what follows the request (pipelined) left in st. A frame of
// its own, alive only while a request is handled: the idle connection's frame stays small.
cpc::task<bool> server::handle_request(connection& c, request_state& st,
                                       std::int64_t head_deadline) {
    // Usually the whole request is in the buffer already (it came with the first read, or
    // was pipelined): then there is nothing to wait for, and no deadline to arm.
    std::optional<int> got = st.parsed();
    if (!got) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::nanoseconds(head_deadline - cpc::monotonic_ns()));
        got = co_await cpc::with_timeout(std::max(left, 0ms), read_request(c, st));
    }
    if (!got) {
        // Too slow (slowloris): say so if a request had begun, then close.
        if (st.parser.started() && !c.closing) {
            const std::string r = error_response(408, false);
            const iovec iov{const_cast<char*>(r.data()), r.size()};
            co_await send_all(c, &iov, 1);
            log(c, "-", 408, 0);
        }
        co_return false;
    }
    if (*got < 0) co_return false;  // end of file, error, or hung up

    const request& req = st.parser.get();
    outcome out;
    if (*got == 0) {
        out = co_await respond(c, req);
        if (log_.enabled()) {
            log(c,
                std::string(req.method) + " " + std::string(req.target) + " HTTP/1." +
                    std::to_string(req.version_minor),
                out.status, out.bytes);
        }
    } else {
        const bool head_only = req.kind == method_kind::head;
        out = co_await send_error(c, *got, head_only);
        const std::string_view d = st.data();
        log(c, d.substr(0, std::min<std::size_t>(d.find_first_of("\r\n"), 200)), out.status,
            out.bytes);
    }
    if (stats_.responses++ == 0) stats_.accepted_at_first_response = stats_.accepted;
    if (!out.keep_alive) {
        // Closing with input unread makes the kernel answer with a reset, which can destroy
        // the response at the client before it is read; so a lingering close (linger_close)
        // when the client may still have bytes in flight that we would not read (nginx's
        // rule): bytes left after the request (pipelining: more may follow), a request
        // refused before it was read whole (its body or the rest of its head may still come),
        // or a request that did not ask to close (its client may be pipelining). A request
        // that asked to close, whose bytes were all consumed, is followed by nothing (RFC
        // 9112 9.6): a plain close, without the shutdown and the read of the end of file.
        const bool unread_input = *got != 0 || st.len > st.parser.consumed() || req.keep_alive;
        if (unread_input && !c.closing) co_await linger_close(c);
        co_return false;
    }
    // The next request may already be in the buffer (pipelining).
    const std::size_t used = st.parser.consumed();
    std::memmove(st.buf, st.buf + used, st.len - used);
    st.len -= used;
    st.parser.reset();
    co_return true;
}

// Reads until the parser has a complete request (0), a refusal (its status), or the
// connection ends (-1).
cpc::task<int> server::read_request(connection& c, request_state& st) {
    bool continued = false;
    for (;;) {
        if (const std::optional<int> r = st.parsed()) co_return *r;
        if (!continued && st.parser.awaits_continue()) {
            continued = true;
            static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
            const iovec iov{const_cast<char*>(k100.data()), k100.size()};
            if (!co_await send_all(c, &iov, 1)) co_return -1;
        }
        // (The limits fit the largest buffer: 431 is the parser's to say, not reached here.)
        if (st.len == st.capacity && !st.grow()) co_return 431;
        if (c.closing) co_return -1;
        const cpc::io_result r =
            co_await cpc::read(c.fd, st.buf + st.len, st.capacity - st.len, &c.hangup);
        if (!r || r.bytes == 0) co_return -1;
        st.len += r.bytes;
    }
}

cpc::task<bool> server::send_all(connection& c, const iovec* iov, int n) {
    // Usually the socket takes the whole response at once: then there is no deadline to
    // arm. What it does not take goes out under the send timeout.
    const ssize_t sent = cpc::try_writev(c.fd, iov, n);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) co_return false;
    const std::vector<iovec> rest = after(iov, n, sent < 0 ? 0 : static_cast<std::size_t>(sent));
    if (rest.empty()) co_return true;
    const std::optional<cpc::io_result> r = co_await cpc::with_timeout(
        cfg_.send_timeout,
        cpc::writev(c.fd, rest.data(), static_cast<int>(rest.size()), &c.hangup));
    co_return r&&* r;
}

cpc::task<server::outcome> server::send_error(connection& c, int status, bool head_only,
                                              std::string_view extra) {
    const std::string r = error_response(status, head_only, extra);
    const iovec iov{const_cast<char*>(r.data()), r.size()};
    co_await send_all(c, &iov, 1);
    co_return outcome{status, 0, false};
}

// When the client may still send (see handle_request): our side is done (FIN after the
// response), then what the client still sends is read and dropped for a moment, so that
// closing with unread input does not reset the connection and destroy the response before
// the client has read it.
cpc::task<void> server::linger_close(connection& c) {
    ::shutdown(c.fd, SHUT_WR);
    co_await cpc::with_timeout(kLingerTime, drain(c.fd, &c.hangup));
}

void server::log(const connection& c, std::string_view request_line, int status,
                 std::uint64_t bytes) {
    if (!log_.enabled()) return;
    char addr[INET6_ADDRSTRLEN] = "-";
    if (c.peer.sin6_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&c.peer)->sin_addr, addr,
                    sizeof addr);
    } else if (c.peer.sin6_family == AF_INET6) {
        ::inet_ntop(AF_INET6, &c.peer.sin6_addr, addr, sizeof addr);
    }
    log_.record(addr, request_line, status, bytes);
}

}  // namespace httpd
