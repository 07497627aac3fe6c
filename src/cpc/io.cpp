#include "cpc/io.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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
std::error_code error_of(int res) {
    return {-res, std::generic_category()};
}
std::error_code interrupted() {
    return std::make_error_code(std::errc::operation_canceled);
}
bool would_block() {
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

// On an io_uring loop a call that would block becomes an operation (io_op.hpp); elsewhere the
// thread waits for readiness and calls again.
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

// One call's length as an operation: the kernel takes 32 bits (and moves < 2 GiB at once).
std::size_t capped(std::size_t len) {
    return std::min<std::size_t>(len, 0x7ffff000);
}

// The shape of every wrapper that moves all it is asked: continue short transfers. call(done)
// makes the call for the rest. When it would block, on io_uring rest(done) gives the
// arguments of the same call as an operation, which replaces the wait for readiness and the
// second call; on epoll the thread waits and calls again.
//
// The call is tried first on io_uring too: a call that can complete must not suspend the
// thread, and only one that would block pays for the operation.
template <class Call, class Rest>
task<io_result> transfer_all(int fd, std::size_t len, interrupt_source interrupt, Call call,
                             loop::prepare_fn prepare, Rest rest) {
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
        if (prepare && completes_here()) {
            rw_args args = rest(done);
            io_op_awaiter op(fd, prepare, &args, interrupt);
            const int res = co_await op;
            if (res > 0) done += static_cast<std::size_t>(res);
            // A completion that beat the cancellation counts (io.hpp); the next operation of
            // a with_timeout that fired is interrupted before it starts.
            if (res < 0 && op.interrupted()) co_return io_result{done, interrupted()};
            if (res == 0) co_return io_result{done, std::make_error_code(std::errc::broken_pipe)};
            if (res < 0 && res != -EINTR && res != -EAGAIN) {
                co_return io_result{done, error_of(res)};
            }
            continue;
        }
        if (!co_await io_wait(fd, out, interrupt)) co_return io_result{done, interrupted()};
    }
    co_return io_result{done, {}};
}

void prepare_write(io_uring_sqe* sqe, void* ctx) noexcept {
    const auto* a = static_cast<rw_args*>(ctx);
    io_uring_prep_write(sqe, a->fd, a->buf, static_cast<unsigned>(a->len), static_cast<__u64>(-1));
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

// A new fd may reuse the number of one closed behind the loop's back.
accept_result accepted(int fd) {
    if (loop* l = loop::current()) l->forget_fd(fd);
    return accept_result{fd, {}};
}

// The connect itself is the operation: a connect in progress cannot be handed to io_uring
// (it would answer EALREADY).
task<std::error_code> connect_op(int fd, const sockaddr* addr, socklen_t addrlen,
                                 interrupt_source interrupt) {
    connect_args args{fd, addr, addrlen};
    io_op_awaiter op(fd, &prepare_connect, &args, interrupt);
    const int res = co_await op;
    if (res == 0) co_return std::error_code{};  // connected, interrupted or not (io.hpp)
    if (op.interrupted()) co_return interrupted();
    co_return error_of(res);
}

task<std::error_code> connect_ready(int fd, const sockaddr* addr, socklen_t addrlen,
                                    interrupt_source interrupt) {
    if (::connect(fd, addr, addrlen) == 0) co_return std::error_code{};
    if (errno != EINPROGRESS && errno != EINTR) co_return last_error();
    if (!co_await io_wait(fd, out, interrupt)) co_return interrupted();
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) co_return last_error();
    co_return std::error_code{err, std::generic_category()};
}

auto no_rest = [](std::size_t) { return rw_args{}; };

struct receive_args {
    int fd;
    unsigned len;
    int flags;
    int group;
    bool socket;  // recv with flags, or read
};
void prepare_receive(io_uring_sqe* sqe, void* ctx) noexcept {
    const auto* a = static_cast<receive_args*>(ctx);
    if (a->socket) {
        io_uring_prep_recv(sqe, a->fd, nullptr, a->len, a->flags);
    } else {
        io_uring_prep_read(sqe, a->fd, nullptr, a->len, static_cast<__u64>(-1));
    }
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = static_cast<__u16>(a->group);
}

// An operation completed into a provided buffer: the data goes to buf and the buffer back to
// the loop it came from (the thread may run on another loop now, where its color is).
std::size_t take_provided(const io_op_awaiter& op, int res, void* buf) {
    const unsigned flags = op.completion_flags();
    if (!(flags & IORING_CQE_F_BUFFER)) return 0;
    const unsigned id = flags >> IORING_CQE_BUFFER_SHIFT;
    loop* from = op.submitted_on();
    const std::size_t n = res > 0 ? static_cast<std::size_t>(res) : 0;
    if (n != 0) std::memcpy(buf, from->provided_buffer(id), n);
    from->give_back_buffer(id);
    return n;
}

task<io_result> receive(int fd, void* buf, std::size_t len, int flags, bool socket,
                        interrupt_source interrupt) {
    for (;;) {
        const ssize_t n = socket ? ::recv(fd, buf, len, flags) : ::read(fd, buf, len);
        if (n >= 0) co_return io_result{static_cast<std::size_t>(n), {}};
        if (errno == EINTR) continue;
        if (!would_block()) co_return io_result{0, last_error()};
        loop* here = loop::current();
        // A ring exists only on io_uring loops: its group says both.
        const int group = here ? here->buffer_group() : -1;
        if (group >= 0 && len != 0) {
            receive_args args{fd, static_cast<unsigned>(std::min(len, here->buffer_size())), flags,
                              group, socket};
            io_op_awaiter op(fd, &prepare_receive, &args, interrupt);
            const int res = co_await op;
            const std::size_t got = take_provided(op, res, buf);
            // Data that beat a cancellation counts (io.hpp).
            if (res > 0) co_return io_result{got, {}};
            if (res == 0) co_return io_result{0, {}};  // end of file
            if (op.interrupted()) co_return io_result{0, interrupted()};
            if (res == -EINTR) continue;
            // ENOBUFS: the ring is empty (reads completed in this pass hold every buffer).
            // EAGAIN: flags asked not to wait (MSG_DONTWAIT). Either way, wait for readiness.
            if (res != -ENOBUFS && res != -EAGAIN) co_return io_result{0, error_of(res)};
        }
        if (!co_await io_wait(fd, in, interrupt)) co_return io_result{0, interrupted()};
    }
}

}  // namespace

// read and recv on io_uring: the call, and when it would block an operation that takes a
// buffer of the loop's provided-buffer ring only once data is there; the data is copied into
// the caller's buffer when the thread runs again. The caller's buffer is thus touched only
// while its thread runs, which buffers shared by the threads of a loop (hekate's and the swarm
// simulator's scratch) and the lazy-buffer idiom rely on: a read operation into it would hold
// it for as long as it waits. Without the ring (epoll, an old kernel, a pool thread), or when
// the ring is empty (ENOBUFS), the thread waits for readiness and calls again.
task<io_result> read(int fd, void* buf, std::size_t len, interrupt_source interrupt) {
    return receive(fd, buf, len, 0, false, interrupt);
}

task<io_result> recv(int fd, void* buf, std::size_t len, int flags, interrupt_source interrupt) {
    return receive(fd, buf, len, flags, true, interrupt);
}

// An idle descriptor's read: two coroutines rather than one, so that the frame of a thread
// that waits holds one awaiter, not both (an idle connection is mostly that frame).
namespace {

// io_uring: the read into the ring is the wait. Anything but data, the end or an error
// (the ring is empty, EINTR) falls back to read.
task<io_result> read_into_ring(int fd, void* buf, std::size_t len, interrupt_source interrupt) {
    loop* here = loop::current();
    receive_args args{fd, static_cast<unsigned>(std::min(len, here->buffer_size())), 0,
                      here->buffer_group(), false};
    io_op_awaiter op(fd, &prepare_receive, &args, interrupt);
    const int res = co_await op;
    const std::size_t got = take_provided(op, res, buf);
    if (res > 0) co_return io_result{got, {}};  // data that beat a cancellation counts
    if (res == 0) co_return io_result{0, {}};
    if (op.interrupted()) co_return io_result{0, interrupted()};
    if (res != -ENOBUFS && res != -EINTR && res != -EAGAIN) co_return io_result{0, error_of(res)};
    const io_result r = co_await read(fd, buf, len, interrupt);
    co_return r;
}

task<io_result> read_when_ready(int fd, void* buf, std::size_t len, interrupt_source interrupt) {
    for (;;) {
        const bool ready = co_await io_wait(fd, in, interrupt);
        if (!ready) co_return io_result{0, interrupted()};
        const ssize_t n = try_read(fd, buf, len);
        if (n >= 0) co_return io_result{static_cast<std::size_t>(n), {}};
        if (!would_block()) co_return io_result{0, last_error()};
    }
}

}  // namespace

ssize_t try_read(int fd, void* buf, std::size_t len) noexcept {
    for (;;) {
        const ssize_t n = ::read(fd, buf, len);
        if (n >= 0 || errno != EINTR) return n;
    }
}

task<io_result> read_expecting_wait(int fd, void* buf, std::size_t len,
                                    interrupt_source interrupt) {
    const loop* here = loop::current();
    if (here && here->buffer_group() >= 0 && len != 0) {
        return read_into_ring(fd, buf, len, interrupt);
    }
    return read_when_ready(fd, buf, len, interrupt);
}

task<io_result> write(int fd, const void* buf, std::size_t len, interrupt_source interrupt) {
    const char* bytes = static_cast<const char*>(buf);
    return transfer_all(
        fd, len, interrupt, [=](std::size_t done) { return ::write(fd, bytes + done, len - done); },
        &prepare_write,
        [=](std::size_t done) {
            return rw_args{fd, bytes + done, capped(len - done), 0};
        });
}

task<io_result> send(int fd, const void* buf, std::size_t len, int flags,
                     interrupt_source interrupt) {
    const char* bytes = static_cast<const char*>(buf);
    return transfer_all(
        fd, len, interrupt,
        [=](std::size_t done) {
            return ::send(fd, bytes + done, len - done, flags | MSG_NOSIGNAL);
        },
        &prepare_send,
        [=](std::size_t done) {
            return rw_args{fd, bytes + done, capped(len - done), flags | MSG_NOSIGNAL};
        });
}

ssize_t try_writev(int fd, const iovec* iov, int iovcnt) noexcept {
    for (;;) {
        const ssize_t n = ::writev(fd, iov, std::min(iovcnt, IOV_MAX));
        if (n >= 0 || errno != EINTR) return n;
    }
}

task<io_result> writev(int fd, const iovec* iov, int iovcnt, interrupt_source interrupt) {
    std::size_t total = 0;
    for (int i = 0; i < iovcnt; ++i)
        total += iov[i].iov_len;
    // After a short write the vectors still to send are rebuilt in a copy, never in the
    // caller's array (the operation's copy lives in its lambda, so until it completes).
    return transfer_all(
        fd, total, interrupt,
        [=, rest = std::vector<iovec>()](std::size_t done) mutable {
            if (done == 0) return try_writev(fd, iov, iovcnt);
            remaining(iov, iovcnt, done, rest);
            return ::writev(fd, rest.data(), std::min(static_cast<int>(rest.size()), IOV_MAX));
        },
        &prepare_writev,
        [=, rest = std::vector<iovec>()](std::size_t done) mutable {
            remaining(iov, iovcnt, done, rest);
            const auto count =
                static_cast<std::size_t>(std::min<std::size_t>(rest.size(), IOV_MAX));
            return rw_args{fd, rest.data(), count, 0};
        });
}

// Readiness and sendfile(2) on both backends: io_uring has no sendfile operation, and a
// splice through a pipe would cost a pipe per connection and two linked operations per chunk.
task<io_result> sendfile(int out_fd, int in_fd, off_t* offset, std::size_t len,
                         interrupt_source interrupt) {
    return transfer_all(
        out_fd, len, interrupt,
        [=](std::size_t done) { return ::sendfile(out_fd, in_fd, offset, len - done); }, nullptr,
        no_rest);
}

int try_accept(int listen_fd, sockaddr* addr, socklen_t* addrlen) noexcept {
    for (;;) {
        const int fd = ::accept4(listen_fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            if (loop* l = loop::current()) l->forget_fd(fd);
            return fd;
        }
        if (errno != EINTR && errno != ECONNABORTED) return -1;
    }
}

task<accept_result> accept(int listen_fd, sockaddr* addr, socklen_t* addrlen,
                           interrupt_source interrupt, bool shared) {
    for (;;) {
        const int fd = try_accept(listen_fd, addr, addrlen);
        if (fd >= 0) co_return accept_result{fd, {}};
        if (!would_block()) co_return accept_result{-1, last_error()};
        if (completes_here()) {
            // A shared socket: io_uring's accept waits with an exclusive poll of its own.
            accept_args args{listen_fd, addr, addrlen};
            io_op_awaiter op(listen_fd, &prepare_accept, &args, interrupt);
            const int res = co_await op;
            // Accepted, interrupted or not: the connection is not lost (io.hpp).
            if (res >= 0) co_return accepted(res);
            if (op.interrupted()) co_return accept_result{-1, interrupted()};
            if (res == -EINTR || res == -ECONNABORTED || res == -EAGAIN) continue;
            co_return accept_result{-1, error_of(res)};
        }
        const unsigned events = shared ? in | exclusive : in;
        if (!co_await io_wait(listen_fd, events, interrupt)) {
            co_return accept_result{-1, interrupted()};
        }
    }
}

task<accept_result> accept_expecting_wait(int listen_fd, sockaddr* addr, socklen_t* addrlen,
                                          interrupt_source interrupt, bool shared) {
    if (completes_here()) {
        accept_args args{listen_fd, addr, addrlen};
        io_op_awaiter op(listen_fd, &prepare_accept, &args, interrupt);
        const int res = co_await op;
        if (res >= 0) co_return accepted(res);  // interrupted or not (io.hpp)
        if (op.interrupted()) co_return accept_result{-1, interrupted()};
        if (res != -EINTR && res != -ECONNABORTED && res != -EAGAIN) {
            co_return accept_result{-1, error_of(res)};
        }
    } else {
        const bool ready = co_await io_wait(listen_fd, shared ? in | exclusive : in, interrupt);
        if (!ready) co_return accept_result{-1, interrupted()};
    }
    const accept_result r = co_await accept(listen_fd, addr, addrlen, interrupt, shared);
    co_return r;
}

task<std::error_code> connect(int fd, const sockaddr* addr, socklen_t addrlen,
                              interrupt_source interrupt) {
    if (completes_here()) return connect_op(fd, addr, addrlen, interrupt);
    return connect_ready(fd, addr, addrlen, interrupt);
}

namespace {

// What both closes do first: every loop that knows fd forgets it. Returns this thread's loop.
loop* forget_before_close(int fd) noexcept {
    loop* here = loop::current();
    if (here) here->forget_fd(fd);
    detail::forget_everywhere(fd, here);
    return here;
}

}  // namespace

int close(int fd) noexcept {
    forget_before_close(fd);
    return ::close(fd);
}

void close_batched(int fd) noexcept {
    loop* here = forget_before_close(fd);
    if (!here || !here->close_later(fd)) ::close(fd);
}

std::error_code set_nonblocking(int fd) noexcept {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return last_error();
    return {};
}

}  // namespace cpc
