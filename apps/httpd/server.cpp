#include "server.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include "http_response.hpp"
#include "mime_types.hpp"

namespace httpd {

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kFdReserve = 16;           // descriptors kept for files, the log...
constexpr std::size_t kSendfileChunk = 1 << 20;  // each chunk of a big file has its own timeout
constexpr auto kLingerTime = 1s;                 // draining input before closing after an error
constexpr std::size_t kLingerBytes = 1 << 20;    // ... and at most this much

std::int64_t monotonic_ns() {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// io_wait as a cps function, so that with_timeout can guard it.
cpc::task<bool> wait_readable(int fd, cpc::condvar* interrupt) {
    const bool ready = co_await cpc::io_wait(fd, cpc::in, interrupt);
    co_return ready;
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
std::string head_tail(bool keep_alive) {
    std::string t;
    t.reserve(80);
    append_header(t, "Date", http_date_now());
    append_header(t, "Connection", keep_alive ? "keep-alive" : "close");
    t.append("\r\n");
    return t;
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
        cpc::close(fd);  // the loop forgets fd before its number is reused
        if (prev) prev->next = next;
        if (next) next->prev = prev;
        if (srv.connections_ == this) srv.connections_ = next;
        --srv.live_;
        srv.listener_wake_.signal();  // a descriptor is free: a backed-off listener retries
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
};

// What a request needs while it is read and answered; allocated when bytes arrive, freed
// when the connection is idle again.
struct server::request_state {
    explicit request_state(const request_limits& l)
        : parser(l),
          capacity(l.max_header_bytes + l.max_body + 1024),
          buf(std::make_unique<char[]>(capacity)) {}
    request_parser parser;
    std::size_t capacity;
    std::unique_ptr<char[]> buf;
    std::size_t len = 0;
    std::string_view data() const noexcept { return {buf.get(), len}; }
};

struct server::outcome {
    int status = 0;
    std::uint64_t bytes = 0;  // body bytes sent
    bool keep_alive = false;
};

server::server(server_config cfg)
    : cfg_(std::move(cfg)), cache_(cfg_.cache_size, cfg_.cache_file_max) {}

server::~server() {
    if (listen_fd_ >= 0) cpc::close(listen_fd_);
}

std::string server::start() {
    if (std::string err = root_.open(cfg_.root); !err.empty()) return "document root " + err;
    if (!cfg_.access_log.empty()) {
        if (std::string err = log_.open(cfg_.access_log); !err.empty()) return "access log " + err;
    }

    // An IPv4 or IPv6 address; the socket is non-blocking, so that cpc::accept waits for
    // readiness instead of blocking the loop.
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    int family = AF_INET;
    {
        auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
        auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
        if (::inet_pton(AF_INET, cfg_.bind_address.c_str(), &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons(cfg_.port);
            addr_len = sizeof *a4;
        } else if (::inet_pton(AF_INET6, cfg_.bind_address.c_str(), &a6->sin6_addr) == 1) {
            family = AF_INET6;
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons(cfg_.port);
            addr_len = sizeof *a6;
        } else {
            return "bad bind address: " + cfg_.bind_address;
        }
    }
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("socket: ") + std::strerror(errno);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 ||
        ::listen(fd, cfg_.backlog) != 0) {
        const int err = errno;
        ::close(fd);
        return cfg_.bind_address + ":" + std::to_string(cfg_.port) + ": " + std::strerror(err);
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    listen_fd_ = fd;

    max_connections_ = cfg_.max_connections;
    if (max_connections_ == 0) {
        rlimit lim{};
        ::getrlimit(RLIMIT_NOFILE, &lim);
        const std::size_t in_use = open_descriptors();
        const std::size_t limit = lim.rlim_cur == RLIM_INFINITY ? 1'000'000 : lim.rlim_cur;
        max_connections_ = limit > in_use + kFdReserve + 1 ? limit - in_use - kFdReserve : 1;
    }
    return {};
}

// ---- accepting ------------------------------------------------------------------------

// The two policies of the Knot server (paper, section 5), as the listener's loop:
//
//   active (Knot-C, favour active connections): after each accepted connection the
//     listener sleeps for 0 s. A zero timer fires only after the loop has run the threads
//     already in its run queue, and the loop polls the kernel before its next pass, so the
//     listener takes at most one connection per pass of the event loop: between two accepts
//     every runnable connection thread runs once, and those whose data arrived are woken.
//     When the server is saturated, new connections wait in the backlog: the natural
//     throttling the paper describes.
//   accept (Knot-A, favour accepting): the listener accepts in a tight loop. cpc::accept
//     returns without suspending while accept4 succeeds, so every pending connection is
//     taken (and its thread spawned) before any connection thread runs; only when the
//     backlog is empty does the listener wait, and the connection threads get the loop:
//     more connections in progress at once (higher internal concurrency, as in Haboob).
cpc::task<void> server::listener() {
    std::chrono::milliseconds backoff{0};
    bool reported = false;
    while (!stopping_) {
        if (live_ >= max_connections_) {
            // Full: wait for a connection to close (bounded, so that nothing waits forever).
            co_await cpc::sleep(1s, &listener_wake_);
            continue;
        }
        sockaddr_in6 peer{};
        socklen_t peer_len = sizeof peer;
        const cpc::accept_result a = co_await cpc::accept(
            listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len, &listener_wake_);
        if (!a) {
            if (a.error == std::errc::operation_canceled) continue;  // stop(), or a close
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
            co_await cpc::sleep(backoff, &listener_wake_);
            continue;
        }
        backoff = std::chrono::milliseconds{0};
        reported = false;
        ++stats_.accepted;
        cpc::spawn(serve(a.fd, peer));
        if (cfg_.policy == accept_policy::active) co_await cpc::sleep(0ms);
    }
    cpc::close(listen_fd_);  // new connections are refused from now on
    listen_fd_ = -1;
}

// ---- a connection ---------------------------------------------------------------------

cpc::task<void> server::serve(int fd, sockaddr_in6 peer) {
    connection c(*this, fd, peer);
    std::unique_ptr<request_state> st;
    // A new connection has the header timeout from its accept for its first request.
    std::int64_t head_deadline =
        monotonic_ns() +
        std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.header_timeout).count();
    bool first = true;
    for (;;) {
        if (!st || st->len == 0) {
            // Idle: no buffer, no parser; only this frame and the wait's.
            st.reset();
            if (stopping_ || c.closing) break;
            c.idle = true;
            const auto limit = first ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::nanoseconds(head_deadline - monotonic_ns()))
                                     : cfg_.keepalive_timeout;
            const std::optional<bool> ready =
                co_await cpc::with_timeout(std::max(limit, 0ms), wait_readable(fd, &c.hangup));
            c.idle = false;
            if (!ready || !*ready) break;  // idle too long, or hung up
            if (!first) {
                head_deadline =
                    monotonic_ns() +
                    std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.header_timeout)
                        .count();
            }
            // Bytes are there: only now the buffer.
            st = std::make_unique<request_state>(cfg_.limits);
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

// Reads one request (until head_deadline), answers it and logs it. Returns true when the
// connection stays open, with what follows the request (pipelined) left in st. A frame of
// its own, alive only while a request is handled: the idle connection's frame stays small.
cpc::task<bool> server::handle_request(connection& c, request_state& st,
                                       std::int64_t head_deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(head_deadline - monotonic_ns()));
    const std::optional<int> got =
        co_await cpc::with_timeout(std::max(left, 0ms), read_request(c, st));
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
        log(c,
            std::string(req.method) + " " + std::string(req.target) + " HTTP/1." +
                std::to_string(req.version_minor),
            out.status, out.bytes);
    } else {
        const bool head_only = req.kind == method_kind::head;
        out = co_await send_error(c, *got, head_only);
        const std::string_view d = st.data();
        log(c, d.substr(0, std::min<std::size_t>(d.find_first_of("\r\n"), 200)), out.status,
            out.bytes);
    }
    if (stats_.responses++ == 0) stats_.accepted_at_first_response = stats_.accepted;
    if (!out.keep_alive) {
        if (!c.closing) co_await linger_close(c);
        co_return false;
    }
    // The next request may already be in the buffer (pipelining).
    const std::size_t used = st.parser.consumed();
    std::memmove(st.buf.get(), st.buf.get() + used, st.len - used);
    st.len -= used;
    st.parser.reset();
    co_return true;
}

// Reads until the parser has a complete request (0), a refusal (its status), or the
// connection ends (-1).
cpc::task<int> server::read_request(connection& c, request_state& st) {
    for (;;) {
        const parse_state ps = st.parser.parse(st.data());
        if (ps == parse_state::done) co_return 0;
        if (ps == parse_state::error) co_return st.parser.error_status();
        if (st.len == st.capacity) co_return 431;  // (the limits fit the buffer: not reached)
        if (c.closing) co_return -1;
        const cpc::io_result r =
            co_await cpc::read(c.fd, st.buf.get() + st.len, st.capacity - st.len, &c.hangup);
        if (!r || r.bytes == 0) co_return -1;
        st.len += r.bytes;
    }
}

cpc::task<bool> server::send_all(connection& c, const iovec* iov, int n) {
    const std::optional<cpc::io_result> r =
        co_await cpc::with_timeout(cfg_.send_timeout, cpc::writev(c.fd, iov, n, &c.hangup));
    co_return r&&* r;
}

cpc::task<server::outcome> server::send_error(connection& c, int status, bool head_only,
                                              std::string_view extra) {
    const std::string r = error_response(status, head_only, extra);
    const iovec iov{const_cast<char*>(r.data()), r.size()};
    co_await send_all(c, &iov, 1);
    co_return outcome{status, 0, false};
}

// After an error response: our side is done (FIN after the response), then what the client
// still sends is read and dropped for a moment, so that closing with unread input does not
// reset the connection and destroy the response before the client has read it.
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
    iovec iov[3];
    int n = 0;
    if (p.status == 200) {
        head = head_tail(keep);  // after the prebuilt part
        iov[n++] = {const_cast<char*>(f->head_200.data()), f->head_200.size()};
        iov[n++] = {head.data(), head.size()};
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
