#include "cpc/io.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "cpc/io_op.hpp"
#include "cpc/io_wait.hpp"
#include "cpc/loop.hpp"
#include "fd_owners.hpp"

namespace cpc {

namespace {

std::error_code last_error() {
    return {errno, std::generic_category()};
}
std::error_code interrupted() {
    return std::make_error_code(std::errc::operation_canceled);
}
bool would_block() {
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

std::error_code error_of(int res) {
    return {-res, std::generic_category()};
}

// On an io_uring loop the wrappers submit operations (io_op.hpp); elsewhere they try the
// call and wait for readiness.
bool completes_here() noexcept {
    const loop* l = loop::current();
    return l && l->completes_io();
}

// An operation's arguments, read by its prepare function when the thread suspends.
struct rw_args {
    int fd;
    const void* buf;
    std::size_t len;
    int flags;
};

// A completion after an interruption still reports the bytes moved (the kernel finished
// before the cancel reached it): those count; the error says that the call was cut short.
struct op_outcome {
    int res;
    bool interrupted;
};

template <class Prepare>
task<op_outcome> run_op(int fd, Prepare prepare, void* ctx, condvar* interrupt) {
    io_op_awaiter op(fd, prepare, ctx, interrupt);
    const int res = co_await op;
    co_return op_outcome{res, op.interrupted()};
}

// The shape of every wrapper that moves bytes once, as an operation: submit, and resubmit
// after EINTR (or EAGAIN, should the kernel answer it for a non-blocking file).
task<io_result> op_once(int fd, io_events kind, loop::prepare_fn prepare, rw_args args,
                        condvar* interrupt) {
    for (;;) {
        const op_outcome o = co_await run_op(fd, prepare, &args, interrupt);
        if (o.interrupted) {
            co_return io_result{o.res > 0 ? static_cast<std::size_t>(o.res) : 0, interrupted()};
        }
        if (o.res >= 0) co_return io_result{static_cast<std::size_t>(o.res), {}};
        if (o.res == -EINTR) continue;
        if (o.res != -EAGAIN) co_return io_result{0, error_of(o.res)};
        if (!co_await io_wait(fd, kind, interrupt)) co_return io_result{0, interrupted()};
    }
}

// The shape of every wrapper that moves all it is asked, as operations: next(done) prepares
// the arguments of the rest.
template <class Next>
task<io_result> op_all(int fd, std::size_t len, loop::prepare_fn prepare, condvar* interrupt,
                       Next next) {
    std::size_t done = 0;
    while (done < len) {
        auto args = next(done);
        const op_outcome o = co_await run_op(fd, prepare, &args, interrupt);
        if (o.res > 0) done += static_cast<std::size_t>(o.res);
        if (o.interrupted) co_return io_result{done, interrupted()};
        if (o.res > 0 || o.res == -EINTR) continue;
        if (o.res == 0) co_return io_result{done, std::make_error_code(std::errc::broken_pipe)};
        if (o.res != -EAGAIN) co_return io_result{done, error_of(o.res)};
        if (!co_await io_wait(fd, out, interrupt)) co_return io_result{done, interrupted()};
    }
    co_return io_result{done, {}};
}

void prepare_read(io_uring_sqe* sqe, void* ctx) noexcept {
    const auto* a = static_cast<rw_args*>(ctx);
    // Offset -1: the file position, as read(2) (and what a socket or pipe ignores).
    io_uring_prep_read(sqe, a->fd, const_cast<void*>(a->buf), static_cast<unsigned>(a->len),
                       static_cast<__u64>(-1));
}
void prepare_write(io_uring_sqe* sqe, void* ctx) noexcept {
    const auto* a = static_cast<rw_args*>(ctx);
    io_uring_prep_write(sqe, a->fd, a->buf, static_cast<unsigned>(a->len), static_cast<__u64>(-1));
}
void prepare_recv(io_uring_sqe* sqe, void* ctx) noexcept {
    const auto* a = static_cast<rw_args*>(ctx);
    io_uring_prep_recv(sqe, a->fd, const_cast<void*>(a->buf), a->len, a->flags);
}
void prepare_send(io_uring_sqe* sqe, void* ctx) noexcept {
    const auto* a = static_cast<rw_args*>(ctx);
    io_uring_prep_send(sqe, a->fd, a->buf, a->len, a->flags);
}
void prepare_writev(io_uring_sqe* sqe, void* ctx) noexcept {
    const auto* a = static_cast<rw_args*>(ctx);
    io_uring_prep_writev(sqe, a->fd, static_cast<const iovec*>(a->buf),
                         static_cast<unsigned>(a->len), static_cast<__u64>(-1));
}

// One call's length: the kernel takes an unsigned length (and moves at most ~2 GiB anyway).
std::size_t capped(std::size_t len) {
    return std::min<std::size_t>(len, 0x7ffff000);
}

// The shape of every wrapper that moves bytes once: call, and on EAGAIN wait and call again.
template <class Call>
task<io_result> transfer_once(int fd, io_events kind, condvar* interrupt, Call call) {
    for (;;) {
        const ssize_t n = call();
        if (n >= 0) co_return io_result{static_cast<std::size_t>(n), {}};
        if (errno == EINTR) continue;
        if (!would_block()) co_return io_result{0, last_error()};
        if (!co_await io_wait(fd, kind, interrupt)) co_return io_result{0, interrupted()};
    }
}

// The shape of every wrapper that moves all it is asked: continue short transfers.
template <class Call>
task<io_result> transfer_all(int fd, std::size_t len, condvar* interrupt, Call call) {
    std::size_t done = 0;
    while (done < len) {
        const ssize_t n = call(done);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n == 0) co_return io_result{done, std::make_error_code(std::errc::broken_pipe)};
        if (errno == EINTR) continue;
        if (!would_block()) co_return io_result{done, last_error()};
        if (!co_await io_wait(fd, out, interrupt)) co_return io_result{done, interrupted()};
    }
    co_return io_result{done, {}};
}

// The vectors still to send after `done` bytes of iov, in rest.
void remaining(const iovec* iov, int iovcnt, std::size_t done, std::vector<iovec>& rest) {
    rest.clear();
    for (int i = 0; i < iovcnt; ++i) {
        if (done >= iov[i].iov_len) {
            done -= iov[i].iov_len;
            continue;
        }
        rest.push_back({static_cast<char*>(iov[i].iov_base) + done, iov[i].iov_len - done});
        done = 0;
    }
}
std::size_t rest_count(int iovcnt) {
    return static_cast<std::size_t>(std::min(iovcnt, IOV_MAX));
}

struct accept_args {
    int fd;
    sockaddr* addr;
    socklen_t* addrlen;
};
void prepare_accept(io_uring_sqe* sqe, void* ctx) noexcept {
    const auto* a = static_cast<accept_args*>(ctx);
    io_uring_prep_accept(sqe, a->fd, a->addr, a->addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

struct connect_args {
    int fd;
    const sockaddr* addr;
    socklen_t addrlen;
};
void prepare_connect(io_uring_sqe* sqe, void* ctx) noexcept {
    const auto* a = static_cast<connect_args*>(ctx);
    io_uring_prep_connect(sqe, a->fd, a->addr, a->addrlen);
}

task<accept_result> accept_op(int listen_fd, sockaddr* addr, socklen_t* addrlen, condvar* interrupt,
                              bool shared) {
    accept_args args{listen_fd, addr, addrlen};
    for (;;) {
        const op_outcome o = co_await run_op(listen_fd, &prepare_accept, &args, interrupt);
        if (o.res >= 0) {
            loop::current()->forget_fd(o.res);
            co_return accept_result{o.res, {}};  // accepted, interrupted or not: not lost
        }
        if (o.interrupted) co_return accept_result{-1, interrupted()};
        if (o.res == -EINTR || o.res == -ECONNABORTED) continue;
        if (o.res != -EAGAIN) co_return accept_result{-1, error_of(o.res)};
        const unsigned events = shared ? in | exclusive : in;
        if (!co_await io_wait(listen_fd, events, interrupt)) {
            co_return accept_result{-1, interrupted()};
        }
    }
}

task<std::error_code> connect_op(int fd, const sockaddr* addr, socklen_t addrlen,
                                 condvar* interrupt) {
    connect_args args{fd, addr, addrlen};
    const op_outcome o = co_await run_op(fd, &prepare_connect, &args, interrupt);
    if (o.res == 0) co_return std::error_code{};  // connected, interrupted or not
    if (o.interrupted) co_return interrupted();
    co_return error_of(o.res);
}

task<accept_result> accept_ready(int listen_fd, sockaddr* addr, socklen_t* addrlen,
                                 condvar* interrupt, bool shared) {
    for (;;) {
        const int fd = ::accept4(listen_fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            // A new fd may reuse the number of one closed behind the loop's back.
            if (loop* l = loop::current()) l->forget_fd(fd);
            co_return accept_result{fd, {}};
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (!would_block()) co_return accept_result{-1, last_error()};
        const unsigned events = shared ? in | exclusive : in;
        if (!co_await io_wait(listen_fd, events, interrupt)) {
            co_return accept_result{-1, interrupted()};
        }
    }
}

task<std::error_code> connect_ready(int fd, const sockaddr* addr, socklen_t addrlen,
                                    condvar* interrupt) {
    if (::connect(fd, addr, addrlen) == 0) co_return std::error_code{};
    if (errno != EINPROGRESS && errno != EINTR) co_return last_error();
    if (!co_await io_wait(fd, out, interrupt)) co_return interrupted();
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) co_return last_error();
    co_return std::error_code{err, std::generic_category()};
}

}  // namespace

task<io_result> read(int fd, void* buf, std::size_t len, condvar* interrupt) {
    if (completes_here())
        return op_once(fd, in, &prepare_read, {fd, buf, capped(len), 0}, interrupt);
    return transfer_once(fd, in, interrupt, [=] { return ::read(fd, buf, len); });
}

task<io_result> recv(int fd, void* buf, std::size_t len, int flags, condvar* interrupt) {
    if (completes_here())
        return op_once(fd, in, &prepare_recv, {fd, buf, capped(len), flags}, interrupt);
    return transfer_once(fd, in, interrupt, [=] { return ::recv(fd, buf, len, flags); });
}

task<io_result> write(int fd, const void* buf, std::size_t len, condvar* interrupt) {
    const char* bytes = static_cast<const char*>(buf);
    if (completes_here()) {
        return op_all(fd, len, &prepare_write, interrupt, [=](std::size_t done) {
            return rw_args{fd, bytes + done, capped(len - done), 0};
        });
    }
    return transfer_all(fd, len, interrupt,
                        [=](std::size_t done) { return ::write(fd, bytes + done, len - done); });
}

task<io_result> send(int fd, const void* buf, std::size_t len, int flags, condvar* interrupt) {
    const char* bytes = static_cast<const char*>(buf);
    if (completes_here()) {
        return op_all(fd, len, &prepare_send, interrupt, [=](std::size_t done) {
            return rw_args{fd, bytes + done, capped(len - done), flags | MSG_NOSIGNAL};
        });
    }
    return transfer_all(fd, len, interrupt, [=](std::size_t done) {
        return ::send(fd, bytes + done, len - done, flags | MSG_NOSIGNAL);
    });
}

task<io_result> writev(int fd, const iovec* iov, int iovcnt, condvar* interrupt) {
    std::size_t total = 0;
    for (int i = 0; i < iovcnt; ++i)
        total += iov[i].iov_len;
    // After a short write the vectors still to send are rebuilt in a copy, never in the
    // caller's array.
    if (completes_here()) {
        return op_all(
            fd, total, &prepare_writev, interrupt,
            [=, rest = std::vector<iovec>()](std::size_t done) mutable {
                if (done == 0) return rw_args{fd, iov, rest_count(iovcnt), 0};
                remaining(iov, iovcnt, done, rest);
                return rw_args{fd, rest.data(), rest_count(static_cast<int>(rest.size())), 0};
            });
    }
    return transfer_all(
        fd, total, interrupt, [=, rest = std::vector<iovec>()](std::size_t done) mutable {
            if (done == 0) return ::writev(fd, iov, std::min(iovcnt, IOV_MAX));
            remaining(iov, iovcnt, done, rest);
            return ::writev(fd, rest.data(), std::min(static_cast<int>(rest.size()), IOV_MAX));
        });
}

task<io_result> sendfile(int out_fd, int in_fd, off_t* offset, std::size_t len,
                         condvar* interrupt) {
    return transfer_all(out_fd, len, interrupt, [=](std::size_t done) {
        return ::sendfile(out_fd, in_fd, offset, len - done);
    });
}

task<accept_result> accept(int listen_fd, sockaddr* addr, socklen_t* addrlen, condvar* interrupt,
                           bool shared) {
    if (completes_here()) return accept_op(listen_fd, addr, addrlen, interrupt, shared);
    return accept_ready(listen_fd, addr, addrlen, interrupt, shared);
}

task<std::error_code> connect(int fd, const sockaddr* addr, socklen_t addrlen, condvar* interrupt) {
    if (completes_here()) return connect_op(fd, addr, addrlen, interrupt);
    return connect_ready(fd, addr, addrlen, interrupt);
}

int close(int fd) noexcept {
    loop* here = loop::current();
    if (here) here->forget_fd(fd);
    detail::forget_everywhere(fd, here);
    return ::close(fd);
}

std::error_code set_nonblocking(int fd) noexcept {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return last_error();
    return {};
}

}  // namespace cpc
