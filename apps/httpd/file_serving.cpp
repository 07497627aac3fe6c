// Answering a request with a file: the method and the target, then the page cache (a fresh
// entry, or the file read whole into it) or the disk (a directory's index.html, a redirect
// for a directory without its slash, sendfile in chunks for a file too big to cache).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cpc/cpc.hpp>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/log.hpp"
#include "connection.hpp"
#include "cpc/clock.hpp"
#include "http_response.hpp"
#include "mime_types.hpp"
#include "server.hpp"

namespace httpd {

namespace {

constexpr std::size_t kSendfileChunk = 1 << 20;  // each chunk of a big file has its own timeout
constexpr std::size_t kCopyChunk = 128 << 10;    // without --sendfile: one read, one write

// pread(2), EINTR retried: the bytes read, 0 at the file's end, < 0 with errno.
ssize_t read_at(int fd, char* buf, std::size_t len, off_t offset) {
    for (;;) {
        const ssize_t n = ::pread(fd, buf, len, offset);
        if (n >= 0 || errno != EINTR) return n;
    }
}

// Reports a file that is now shorter than `end`, the offset its head promised bytes up to (it
// was truncated while sent); nothing for a file still as long (the client went away).
void report_if_truncated(std::string_view path, int fd, std::uint64_t end, std::uint64_t sent,
                         std::uint64_t promised) {
    struct stat now {};
    if (::fstat(fd, &now) != 0 || static_cast<std::uint64_t>(now.st_size) >= end) return;
    app_log::warn("{}: truncated to {} bytes while being sent; {} of {} sent, closing", path,
                  now.st_size, sent, promised);
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

}  // namespace

cpc::task<server::outcome> server::respond(connection& c, const request& req) {
    const bool head_only = req.kind == method_kind::head;
    if (req.kind == method_kind::other) {
        outcome o = co_await send_error(c, 405, false, "Allow: GET, HEAD\r\n");
        co_return o;
    }
    if (req.kind == method_kind::unrecognized) {
        outcome o = co_await send_error(c, 501, false);
        co_return o;
    }
    const decoded_target t = decode_target(req.target);
    if (t.status != 0) {
        outcome o = co_await send_error(c, t.status, head_only);
        co_return o;
    }
    std::string key = t.rel;
    if (t.trailing_slash) key.push_back('/');
    const std::int64_t now = cpc::monotonic_ns();

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
            std::string location(t.raw_path);
            location.append("/").append(t.query);
            const bool keep = req.keep_alive && !stopping_;
            std::string r = moved_permanently_head(location, keep);
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
                app_log::warn("{}: could not be read whole (changed while read?): 500", path);
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
    outcome o = co_await send_file(c, req, file.fd, st, mime, path);
    co_return o;
}

cpc::task<server::outcome> server::send_cached(connection& c, const request& req,
                                               std::shared_ptr<const cached_file> f) {
    const bool head_only = req.kind == method_kind::head;
    const bool keep = req.keep_alive && !stopping_;
    const response_plan p = plan_response(req, f->body.size(), f->etag, f->mtime);
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
                                             const struct stat& st, std::string_view mime,
                                             std::string_view path) {
    const bool head_only = req.kind == method_kind::head;
    const bool keep = req.keep_alive && !stopping_;
    const file_identity id = file_identity::of(st);
    const std::string etag = make_etag(id.size, id.mtime_ns, id.ino);
    const std::string last_modified = format_http_date(st.st_mtim.tv_sec);
    const response_plan p = plan_response(req, id.size, etag, st.st_mtim.tv_sec);
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
    // Each chunk has its own timeout, so a slow but live client is not cut off, and a dead one
    // is. With --sendfile the body goes straight from the kernel's page cache; otherwise
    // through a buffer (send_file's comment in server.hpp says why).
    std::unique_ptr<char[]> copy;
    if (!cfg_.sendfile) copy = std::make_unique_for_overwrite<char[]>(kCopyChunk);
    off_t offset = static_cast<off_t>(p.first);
    std::uint64_t sent = 0;
    while (sent < p.length) {
        const std::uint64_t left = p.length - sent;
        std::optional<cpc::io_result> r;
        if (copy) {
            const ssize_t n = read_at(
                file_fd, copy.get(),
                static_cast<std::size_t>(std::min<std::uint64_t>(left, kCopyChunk)), offset);
            if (n < 0) {  // EIO and the like
                app_log::warn("{}: read error while being sent: {}; {} of {} bytes sent, closing",
                              path, std::strerror(errno), sent, p.length);
                co_return outcome{p.status, sent, false};
            }
            if (n == 0) {  // the file ends sooner than the head said
                report_if_truncated(path, file_fd, p.first + p.length, sent, p.length);
                co_return outcome{p.status, sent, false};
            }
            offset += n;
            r = co_await cpc::with_timeout(
                cfg_.send_timeout,
                cpc::write(c.fd, copy.get(), static_cast<std::size_t>(n), &c.hangup));
        } else {
            const auto chunk =
                static_cast<std::size_t>(std::min<std::uint64_t>(left, kSendfileChunk));
            r = co_await cpc::with_timeout(cfg_.send_timeout,
                                           cpc::sendfile(c.fd, file_fd, &offset, chunk, &c.hangup));
        }
        if (r) sent += r->bytes;
        if (!r || !*r) {
            // The client went away, or sendfile found the file's end before the head's length
            // (truncated meanwhile). The connection closes short, which the client sees.
            if (!copy && r) report_if_truncated(path, file_fd, p.first + p.length, sent, p.length);
            co_return outcome{p.status, sent, false};
        }
    }
    co_return outcome{p.status, p.length, keep};
}

}  // namespace httpd
