#include "server.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "http_response.hpp"
#include "mime_types.hpp"

namespace httpd {

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kFdReserve = 16;           // descriptors kept for files, the log...
constexpr std::size_t kSendfileChunk = 1 << 20;  // each chunk of a big file has its own timeout
constexpr auto kLingerTime = 1s;                 // a lingering close reads this long...
constexpr std::size_t kLingerBytes = 1 << 20;    // ... and at most this much

std::int64_t monotonic_ns() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// One read(2) that never waits: > 0 bytes, 0 at end of file, < 0 with errno.
ssize_t read_now(int fd, char* buf, std::size_t len) {
    for (;;) {
        const ssize_t n = ::read(fd, buf, len);
        if (n >= 0 || errno != EINTR) return n;
    }
}

// One writev(2) that never waits: the bytes written, or < 0 with errno.
ssize_t writev_now(int fd, const iovec* iov, int n) {
    for (;;) {
        const ssize_t r = ::writev(fd, iov, std::min(n, IOV_MAX));
        if (r >= 0 || errno != EINTR) return r;
    }
}

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

// Descriptors open now (for the connection cap).
std::size_t open_descriptors() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.') ++n;
        }
        ::closedir(d);
    }
    return n;
}

struct unique_fd {
    int fd = -1;
    explicit unique_fd(int f = -1) noexcept : fd(f) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() {
        if (fd >= 0) ::close(fd);  // a file: never watched by the loop
    }
};

// The status a failed open answers with.
int status_for_open_error(int err) noexcept {
    switch (err) {
        case EACCES:
        case EPERM:
            return 403;
        case EMFILE:
        case ENFILE:
        case ENOMEM:
            return 503;
        default:  // ENOENT, ENOTDIR, EXDEV (would leave the root), ELOOP, ENAMETOOLONG...
            return 404;
    }
}

// "Date: ...\r\nConnection: ...\r\n\r\n": the part of every head written per response.
// Both forms are built again only when the Date changes (once a second), not per response.
std::string_view head_tail(bool keep_alive) {
    struct tails {
        std::string date;
        std::string of[2];  // [keep_alive]
    };
    thread_local tails t;
    const std::string_view date = http_date_now();
    if (date != t.date) {
        t.date = date;
        for (const bool keep : {false, true}) {
            std::string& s = t.of[keep];
            s.clear();
            append_header(s, "Date", date);
            append_header(s, "Connection", keep ? "keep-alive" : "close");
            s.append("\r\n");
        }
    }
    return t.of[keep_alive];
}

}  // namespace

// A connection's state for its whole life: it lives in its thread's frame.
struct server::connection {
    connection(server& s, int f, const sockaddr_in6& p) : srv(s), fd(f), peer(p) {
        next = s.connections_;
        if (next) next->prev = this;
        s.connections_ = this;
        ++s.live_;
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() {
        // The loop forgets fd before its number is reused. The close goes to the kernel with
        // the loop's next batch (io_uring), unless a listener short of descriptors waits for
        // this one: it must be free before the listener tries again.
        if (srv.listener_waits_for_descriptor_) {
            cpc::close(fd);
        } else {
            cpc::close_batched(fd);
        }
        if (prev) prev->next = next;
        if (next) next->prev = prev;
        if (srv.connections_ == this) srv.connections_ = next;
        --srv.live_;
        // A descriptor is free: a listener that waits for one retries.
        if (srv.listener_waits_for_descriptor_) srv.listener_wake_.signal();
        if (srv.stopping_ && srv.live_ == 0) srv.all_gone_.signal_all();
    }
    void hang_up() {
        closing = true;
        hangup.signal_all();
    }

    server& srv;
    const int fd;
    sockaddr_in6 peer;
    connection* prev = nullptr;
    connection* next = nullptr;
    cpc::condvar hangup;   // cuts every wait of this connection short
    bool idle = true;      // waiting for a request: closed at once by stop()
    bool closing = false;  // hung up: no further wait
    bool nodelay = false;  // TCP_NODELAY set (send_file sets it on its first use)
};

// What a request needs while it is read and answered; allocated when bytes arrive, freed
// when the connection is idle again. One allocation: the buffer starts inside, sized for
// the usual request (and what is pipelined after it), and moves to the heap, growing on
// demand, only for a request that does not fit, up to what the limits allow (the longest
// head and body, and some slack for the blank lines tolerated before a request line). It is
// never zero-filled: bytes are only looked at after a read has put them there.
//
// Freed states are recycled: the server keeps a few for the next requests (kSpareStates,
// with their inline buffer only), so that a request usually allocates nothing. They belong
// to the server, not to the idle connections, which still hold no buffer.
struct server::request_state {
    static constexpr std::size_t kInlineBytes = 4096;

    request_state(server& s, const request_limits& l)
        : owner(s), parser(l), max_capacity(largest(l)), capacity(first_capacity(l)) {}
    static std::size_t largest(const request_limits& l) noexcept {
        return l.max_header_bytes + l.max_body + 1024;
    }
    // What a new (or cleared) state holds before it grows.
    static std::size_t first_capacity(const request_limits& l) noexcept {
        return std::min(kInlineBytes, largest(l));
    }
    request_state(const request_state&) = delete;
    request_state& operator=(const request_state&) = delete;

    std::string_view data() const noexcept { return {buf, len}; }
    // What the bytes received so far make: 0 for a complete request, the status of a
    // refusal, or nothing yet (more must be read).
    std::optional<int> parsed() noexcept {
        switch (parser.parse(data())) {
            case parse_state::done:
                return 0;
            case parse_state::error:
                return parser.error_status();
            default:
                return std::nullopt;
        }
    }
    // As new, for another request.
    void clear() noexcept {
        parser.reset();
        len = 0;
        heap.reset();
        buf = inline_buf;
        capacity = std::min(kInlineBytes, max_capacity);
    }
    // Room for more bytes after len == capacity: false when the limits are reached. The
    // bytes move: the parser keeps offsets, and makes its views from the last data.
    bool grow() {
        if (capacity >= max_capacity) return false;
        const std::size_t to = std::min(capacity * 2, max_capacity);
        std::unique_ptr<char[]> bigger = std::make_unique_for_overwrite<char[]>(to);
        std::memcpy(bigger.get(), buf, len);
        heap = std::move(bigger);
        buf = heap.get();
        capacity = to;
        return true;
    }

    server& owner;
    request_parser parser;
    const std::size_t max_capacity;
    std::size_t capacity;
    std::size_t len = 0;
    char* buf = inline_buf;
    std::unique_ptr<char[]> heap;   // once grown
    char inline_buf[kInlineBytes];  // left uninitialised (a user-provided constructor)
};

namespace {
constexpr std::size_t kSpareStates = 8;
}

server::request_state_ptr server::new_request_state() {
    if (spare_states_.empty()) return request_state_ptr(new request_state(*this, cfg_.limits));
    request_state_ptr st(spare_states_.back().release());
    spare_states_.pop_back();
    return st;
}

void server::recycle_state::operator()(request_state* st) const noexcept {
    std::vector<std::unique_ptr<request_state>>& spares = st->owner.spare_states_;
    if (spares.size() < kSpareStates) {  // within the capacity reserved: no allocation
        st->clear();
        spares.emplace_back(st);
    } else {
        delete st;
    }
}

struct server::outcome {
    int status = 0;
    std::uint64_t bytes = 0;  // body bytes sent
    bool keep_alive = false;
};

server::server(server_config cfg)
    : cfg_(std::move(cfg)), cache_(cfg_.cache_size, cfg_.cache_file_max) {
    spare_states_.reserve(kSpareStates);
}

server::~server() {
    if (listen_fd_ >= 0 && cfg_.shared_listen_fd < 0) cpc::close(listen_fd_);
}

std::string open_listener(const server_config& cfg, int* fd_out, std::uint16_t* port) {
    // An IPv4 or IPv6 address; the socket is non-blocking, so that cpc::accept waits for
    // readiness instead of blocking the loop.
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    int family = AF_INET;
    {
        auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
        auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
        if (::inet_pton(AF_INET, cfg.bind_address.c_str(), &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons(cfg.port);
            addr_len = sizeof *a4;
        } else if (::inet_pton(AF_INET6, cfg.bind_address.c_str(), &a6->sin6_addr) == 1) {
            family = AF_INET6;
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons(cfg.port);
            addr_len = sizeof *a6;
        } else {
            return "bad bind address: " + cfg.bind_address;
        }
    }
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (cfg.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        const int err = errno;
        ::close(fd);
        return std::string("SO_REUSEPORT: ") + std::strerror(err);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 ||
        ::listen(fd, cfg.backlog) != 0) {
        const int err = errno;
        ::close(fd);
        return cfg.bind_address + ":" + std::to_string(cfg.port) + ": " + std::strerror(err);
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    *port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    *fd_out = fd;
    return {};
}

std::string server::start() {
    if (std::string err = root_.open(cfg_.root); !err.empty()) return "document root " + err;
    if (!cfg_.access_log.empty()) {
        if (std::string err = log_.open(cfg_.access_log); !err.empty()) return "access log " + err;
    }
    if (cfg_.shared_listen_fd >= 0) {
        listen_fd_ = cfg_.shared_listen_fd;
        port_ = cfg_.port;
    } else if (std::string err = open_listener(cfg_, &listen_fd_, &port_); !err.empty()) {
        return err;
    }

    max_connections_ = cfg_.max_connections;
    if (max_connections_ == 0) {
        rlimit lim{};
        ::getrlimit(RLIMIT_NOFILE, &lim);
        const std::size_t in_use = open_descriptors();
        const std::size_t limit = lim.rlim_cur == RLIM_INFINITY ? 1'000'000 : lim.rlim_cur;
        max_connections_ = limit > in_use + kFdReserve + 1 ? limit - in_use - kFdReserve : 1;
        max_connections_ = std::max<std::size_t>(max_connections_ / cfg_.descriptor_shares, 1);
    }
    return {};
}

// ---- accepting ------------------------------------------------------------------------

// The two policies of the Knot server (paper, section 5), as the listener's loop:
//
//   active (Knot-C, favour active connections): after each accepted connection the
//     listener waits for the listening socket to be readable again (on io_uring: for an
//     accept operation, with no accept4 of its own, cpc::accept_expecting_wait). Only the
//     loop's next look at the kernel can say so, and the loop looks only once it has run the
//     threads already in its run queue, so the listener takes at most one connection per
//     pass of the event loop: between two accepts every runnable connection thread runs once, and
//     those whose data arrived are woken by the same look. When the server is saturated, new
//     connections wait in the backlog: the natural throttling the paper describes.
//     (It used to sleep 0 s instead, which made every accept cost a look at the kernel of
//     its own, epoll_pwait2 with timeout 0, besides the loop's: bench/crossings measured
//     1.2 epoll waits and 1.2 accept4 per one-request connection, 1.0 and 1.0 now.)
//   accept (Knot-A, favour accepting): the listener accepts in a tight loop. cpc::accept
//     returns without suspending while accept4 succeeds, so every pending connection is
//     taken (and its thread spawned) before any connection thread runs; only when the
//     backlog is empty does the listener wait, and the connection threads get the loop:
//     more connections in progress at once (higher internal concurrency, as in Haboob).
cpc::task<void> server::listener() {
    std::chrono::milliseconds backoff{0};
    bool reported = false;
    bool one_per_pass = false;  // a connection was just taken under the active policy
    while (!stopping_) {
        if (live_ >= max_connections_) {
            // Full: wait for a connection to close (bounded, so that nothing waits forever).
            listener_waits_for_descriptor_ = true;
            co_await cpc::sleep(1s, &listener_wake_);
            listener_waits_for_descriptor_ = false;
            continue;
        }
        sockaddr_in6 peer{};
        socklen_t peer_len = sizeof peer;
        auto* peer_addr = reinterpret_cast<sockaddr*>(&peer);
        const bool shared = cfg_.shared_listen_fd >= 0;
        cpc::accept_result a;
        if (one_per_pass) {
            a = co_await cpc::accept_expecting_wait(listen_fd_, peer_addr, &peer_len,
                                                    &listener_wake_, shared);
        } else {
            a = co_await cpc::accept(listen_fd_, peer_addr, &peer_len, &listener_wake_, shared);
        }
        one_per_pass = false;
        if (!a) {
            if (a.error == std::errc::operation_canceled) continue;  // stop()
            // Out of descriptors (EMFILE, ENFILE) or kernel memory: the connection waits in
            // the backlog and the socket stays readable, so retrying at once would spin.
            // Sleep with a growing delay; a connection that closes wakes the listener early.
            backoff = std::clamp(backoff * 2, std::chrono::milliseconds{10},
                                 std::chrono::milliseconds{1000});
            if (!reported && !cfg_.quiet) {
                std::fprintf(stderr, "httpd: accept: %s (%zu connections); backing off\n",
                             a.error.message().c_str(), live_);
                reported = true;
            }
            listener_waits_for_descriptor_ = true;
            co_await cpc::sleep(backoff, &listener_wake_);
            listener_waits_for_descriptor_ = false;
            continue;
        }
        backoff = std::chrono::milliseconds{0};
        reported = false;
        ++stats_.accepted;
        cpc::spawn(serve(a.fd, peer));
        // Knot-C waits for the loop's next look at the kernel before the next accept.
        one_per_pass = cfg_.policy == accept_policy::active;
    }
    // New connections are refused from now on (a shared socket: once its last server stops).
    if (cfg_.shared_listen_fd < 0) cpc::close(listen_fd_);
    listen_fd_ = -1;
}

// ---- a connection ---------------------------------------------------------------------

cpc::task<void> server::serve(int fd, sockaddr_in6 peer) {
    connection c(*this, fd, peer);
    request_state_ptr st;
    // A new connection has the header timeout from its accept for its first request.
    std::int64_t head_deadline =
        monotonic_ns() +
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
            const auto limit = first ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::nanoseconds(head_deadline - monotonic_ns()))
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
                    monotonic_ns() +
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
            monotonic_ns() +
            std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.header_timeout).count();
    }
}

// A new connection's first read, at once: its request state with the bytes read, or null
// when nothing is there yet (EAGAIN) or the connection ended (end of file or an error: it
// is then marked closing). Not a cps function, so that serve's frame does not grow.
server::request_state_ptr server::read_at_once(connection& c) {
    request_state_ptr st = new_request_state();
    const ssize_t n = read_now(c.fd, st->buf, st->capacity);
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
            std::chrono::nanoseconds(head_deadline - monotonic_ns()));
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
    for (;;) {
        if (const std::optional<int> r = st.parsed()) co_return *r;
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
    const ssize_t sent = writev_now(c.fd, iov, n);
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

cpc::task<server::outcome> server::respond(connection& c, const request& req) {
    const bool head_only = req.kind == method_kind::head;
    if (req.kind == method_kind::other) {
        outcome o = co_await send_error(c, 405, false, "Allow: GET, HEAD\r\n");
        co_return o;
    }
    const decoded_target t = decode_target(req.target);
    if (t.status != 0) {
        outcome o = co_await send_error(c, t.status, head_only);
        co_return o;
    }
    std::string key = t.rel;
    if (t.trailing_slash) key.push_back('/');
    const std::int64_t now = monotonic_ns();

    if (std::shared_ptr<const cached_file> f = cache_.fresh(key, now)) {
        outcome o = co_await send_cached(c, req, std::move(f));
        co_return o;
    }
    outcome o = co_await respond_from_disk(c, req, t, key, now);
    co_return o;
}

// What is not answered from a fresh cache entry. A frame of its own: the common path above
// keeps a frame small enough for the runtime's pool (this one is not).
cpc::task<server::outcome> server::respond_from_disk(connection& c, const request& req,
                                                     const decoded_target& t,
                                                     const std::string& key, std::int64_t now) {
    const bool head_only = req.kind == method_kind::head;
    // Open beneath the root; a directory is served by its index.html.
    // Whatever the cache held for this key is out of date from here on, unless the same
    // file is found again below (then validate() keeps it).
    unique_fd file(root_.open_beneath(t.rel, O_RDONLY | O_NONBLOCK | O_NOCTTY));
    if (file.fd < 0) {
        cache_.forget(key);
        outcome o = co_await send_error(c, status_for_open_error(-file.fd), head_only);
        co_return o;
    }
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) {
        outcome o = co_await send_error(c, 500, head_only);
        co_return o;
    }
    std::string path = t.rel;
    if (S_ISDIR(st.st_mode)) {
        if (!t.trailing_slash) {
            std::string extra = "Location: ";
            extra.append(t.raw_path).append("/").append(t.query).append("\r\n");
            std::string r;
            append_status_line(r, 301);
            append_header(r, "Server", kServerName);
            append_header(r, "Content-Length", std::uint64_t{0});
            r.append(extra);
            const bool keep = req.keep_alive && !stopping_;
            r.append(head_tail(keep));
            const iovec iov{r.data(), r.size()};
            const bool sent = co_await send_all(c, &iov, 1);
            co_return outcome{301, 0, keep && sent};
        }
        path = t.rel.empty() ? "index.html" : t.rel + "/index.html";
        const int index_fd = root_.open_beneath(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        ::close(file.fd);
        file.fd = index_fd;
        if (file.fd < 0) {
            cache_.forget(key);
            outcome o = co_await send_error(c, status_for_open_error(-file.fd), head_only);
            co_return o;
        }
        if (::fstat(file.fd, &st) != 0) {
            outcome o = co_await send_error(c, 500, head_only);
            co_return o;
        }
    } else if (t.trailing_slash && !t.rel.empty()) {
        outcome o = co_await send_error(c, 404, head_only);  // "file.txt/": not a directory
        co_return o;
    }
    if (!S_ISREG(st.st_mode)) {  // fifos, devices, sockets: not served
        outcome o = co_await send_error(c, 404, head_only);
        co_return o;
    }
    const std::string_view mime = mime_type_for(path);

    if (cache_.cacheable(static_cast<std::uint64_t>(st.st_size))) {
        std::shared_ptr<const cached_file> f = cache_.validate(key, file_identity::of(st), now);
        if (!f) {
            std::optional<std::string> body =
                read_whole_file(file.fd, static_cast<std::size_t>(st.st_size));
            if (!body) {
                outcome o = co_await send_error(c, 500, head_only);
                co_return o;
            }
            std::shared_ptr<const cached_file> fresh =
                make_cached_file(key, st, mime, std::move(*body));
            cache_.insert(fresh, now);
            f = std::move(fresh);
        }
        ::close(file.fd);
        file.fd = -1;
        outcome o = co_await send_cached(c, req, std::move(f));
        co_return o;
    }
    cache_.forget(key);  // grown past the limit
    outcome o = co_await send_file(c, req, file.fd, st, mime);
    co_return o;
}

namespace {

// The head of a 304, 206 or 416 (the 200 of a cached file is prebuilt).
std::string build_head(int status, std::string_view mime, std::uint64_t length,
                       std::string_view content_range, std::string_view last_modified,
                       std::string_view etag, bool keep_alive, bool with_length = true) {
    std::string h;
    h.reserve(320);
    append_status_line(h, status);
    append_header(h, "Server", kServerName);
    if (!mime.empty()) append_header(h, "Content-Type", mime);
    if (with_length) append_header(h, "Content-Length", length);
    if (!content_range.empty()) append_header(h, "Content-Range", content_range);
    append_header(h, "Last-Modified", last_modified);
    append_header(h, "ETag", etag);
    append_header(h, "Accept-Ranges", "bytes");
    h.append(head_tail(keep_alive));
    return h;
}

struct plan {
    int status = 200;
    std::uint64_t first = 0;
    std::uint64_t length = 0;  // body bytes
    std::string content_range;
};

// What to answer for a file of `size` bytes: 304, 416, 206 or 200.
plan plan_response(const request& req, std::uint64_t size, std::string_view etag,
                   std::time_t mtime) {
    plan p;
    if (not_modified(req, etag, mtime)) {
        p.status = 304;
        return p;
    }
    p.length = size;
    if (req.range.empty() || !if_range_holds(req.if_range, etag, mtime)) return p;
    const range_result r = parse_range(req.range, size);
    char buf[80];
    if (r.kind == range_kind::unsatisfiable) {
        p.status = 416;
        p.length = 0;
        std::snprintf(buf, sizeof buf, "bytes */%llu", static_cast<unsigned long long>(size));
        p.content_range = buf;
    } else if (r.kind == range_kind::single) {
        p.status = 206;
        p.first = r.first;
        p.length = r.last - r.first + 1;
        std::snprintf(
            buf, sizeof buf, "bytes %llu-%llu/%llu", static_cast<unsigned long long>(r.first),
            static_cast<unsigned long long>(r.last), static_cast<unsigned long long>(size));
        p.content_range = buf;
    }
    return p;
}

}  // namespace

cpc::task<server::outcome> server::send_cached(connection& c, const request& req,
                                               std::shared_ptr<const cached_file> f) {
    const bool head_only = req.kind == method_kind::head;
    const bool keep = req.keep_alive && !stopping_;
    const plan p = plan_response(req, f->body.size(), f->etag, f->mtime);
    std::string head;
    char tail[64];  // "Date: ...\r\nConnection: keep-alive\r\n\r\n" is 63 bytes
    iovec iov[3];
    int n = 0;
    if (p.status == 200) {
        iov[n++] = {const_cast<char*>(f->head_200.data()), f->head_200.size()};
        // After the prebuilt part. Copied: a send that waits must not see it change when the
        // second does.
        const std::string_view t = head_tail(keep);
        if (t.size() <= sizeof tail) {
            std::memcpy(tail, t.data(), t.size());
            iov[n++] = {tail, t.size()};
        } else {
            head = t;
            iov[n++] = {head.data(), head.size()};
        }
    } else {
        head = build_head(p.status, p.status == 304 ? "" : f->mime, p.length, p.content_range,
                          f->last_modified, f->etag, keep, p.status != 304);
        iov[n++] = {head.data(), head.size()};
    }
    const bool with_body = !head_only && (p.status == 200 || p.status == 206) && p.length > 0;
    if (with_body) iov[n++] = {const_cast<char*>(f->body.data()) + p.first, p.length};
    const bool sent = co_await send_all(c, iov, n);
    co_return outcome{p.status, with_body ? p.length : 0, keep && sent};
}

cpc::task<server::outcome> server::send_file(connection& c, const request& req, int file_fd,
                                             const struct stat& st, std::string_view mime) {
    const bool head_only = req.kind == method_kind::head;
    const bool keep = req.keep_alive && !stopping_;
    const file_identity id = file_identity::of(st);
    const std::string etag = make_etag(id.size, id.mtime_ns, id.ino);
    const std::string last_modified = format_http_date(st.st_mtim.tv_sec);
    const plan p = plan_response(req, id.size, etag, st.st_mtim.tv_sec);
    const std::string head =
        build_head(p.status, p.status == 304 ? "" : mime, p.length, p.content_range, last_modified,
                   etag, keep, p.status != 304);
    {
        const iovec iov{const_cast<char*>(head.data()), head.size()};
        const bool sent = co_await send_all(c, &iov, 1);
        if (!sent) co_return outcome{p.status, 0, false};
    }
    const bool with_body = !head_only && (p.status == 200 || p.status == 206) && p.length > 0;
    if (!with_body) co_return outcome{p.status, 0, keep};
    // Without TCP_NODELAY, the last, partial segment of the body waits (Nagle) for the ACK of
    // the segments before it, which a kept-alive client delays (delayed ACK: up to 40 ms)
    // until... the end of the body it is waiting for: a 500 KiB file took 6 ms on loopback,
    // 0.4 ms with nginx (tcp_nodelay). Cached files go out in one writev and never wait.
    if (!c.nodelay) {
        const int one = 1;
        ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c.nodelay = true;
    }
    // The body straight from the page cache of the kernel; each chunk has its own timeout,
    // so a slow but live client is not cut off, and a dead one is.
    off_t offset = static_cast<off_t>(p.first);
    std::uint64_t left = p.length;
    while (left > 0) {
        const std::size_t chunk =
            static_cast<std::size_t>(std::min<std::uint64_t>(left, kSendfileChunk));
        const std::optional<cpc::io_result> r = co_await cpc::with_timeout(
            cfg_.send_timeout, cpc::sendfile(c.fd, file_fd, &offset, chunk, &c.hangup));
        if (!r || !*r) co_return outcome{p.status, p.length - left, false};
        left -= chunk;
    }
    co_return outcome{p.status, p.length, keep};
}

// ---- stopping -------------------------------------------------------------------------

void server::stop() {
    if (stopping_) return;
    stopping_ = true;
    listener_wake_.signal_all();  // the listener leaves accept (or its back-off sleep)
    for (connection* c = connections_; c; c = c->next) {
        if (c->idle) c->hang_up();  // nothing in progress: close now
    }
    if (live_ != 0) cpc::spawn(shutdown_deadline());
}

// Requests in progress have the shutdown grace to finish; whoever is left then is hung up.
// Sleeping on all_gone_ ends this thread as soon as the last connection is gone.
cpc::task<void> server::shutdown_deadline() {
    while (live_ != 0) {
        const bool slept = co_await cpc::sleep(cfg_.shutdown_grace, &all_gone_);
        if (slept) {
            for (connection* c = connections_; c; c = c->next)
                c->hang_up();
            break;
        }
    }
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
