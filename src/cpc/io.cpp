#include "cpc/io.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

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

}  // namespace

task<io_result> read(int fd, void* buf, std::size_t len, condvar* interrupt) {
    return transfer_once(fd, in, interrupt, [=] { return ::read(fd, buf, len); });
}

task<io_result> recv(int fd, void* buf, std::size_t len, int flags, condvar* interrupt) {
    return transfer_once(fd, in, interrupt, [=] { return ::recv(fd, buf, len, flags); });
}

task<io_result> write(int fd, const void* buf, std::size_t len, condvar* interrupt) {
    const char* bytes = static_cast<const char*>(buf);
    return transfer_all(fd, len, interrupt,
                        [=](std::size_t done) { return ::write(fd, bytes + done, len - done); });
}

task<io_result> send(int fd, const void* buf, std::size_t len, int flags, condvar* interrupt) {
    const char* bytes = static_cast<const char*>(buf);
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
    return transfer_all(
        fd, total, interrupt, [=, rest = std::vector<iovec>()](std::size_t done) mutable {
            if (done == 0) return ::writev(fd, iov, std::min(iovcnt, IOV_MAX));
            rest.clear();
            for (int i = 0; i < iovcnt; ++i) {
                if (done >= iov[i].iov_len) {
                    done -= iov[i].iov_len;
                    continue;
                }
                rest.push_back({static_cast<char*>(iov[i].iov_base) + done, iov[i].iov_len - done});
                done = 0;
            }
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

task<std::error_code> connect(int fd, const sockaddr* addr, socklen_t addrlen, condvar* interrupt) {
    if (::connect(fd, addr, addrlen) == 0) co_return std::error_code{};
    if (errno != EINPROGRESS && errno != EINTR) co_return last_error();
    if (!co_await io_wait(fd, out, interrupt)) co_return interrupted();
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) co_return last_error();
    co_return std::error_code{err, std::generic_category()};
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
