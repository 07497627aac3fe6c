// I/O wrappers: system calls for cooperative threads (CPC's cpc_read, cpc_write...).
//
// On a loop, each wrapper tries the call on the (non-blocking) fd first, so that a call that
// can complete never suspends the thread. When the kernel answers EAGAIN, on an io_uring loop
// (loop::completes_io()) write, send, writev and accept submit the same call as an operation
// (io_op.hpp) and the thread sleeps until the kernel completes it; connect is an operation
// from the start (a connect in progress cannot be handed over). read and recv become an
// operation into the loop's provided-buffer ring (loop::buffer_group): the kernel takes a
// buffer only when data arrives, and the data is copied into the caller's buffer when the
// thread runs again, so that the caller's buffer is touched only while its thread runs (the
// lazy-buffer idiom, and buffers shared by the threads of a loop, rely on it). Such a read
// returns at most loop::buffer_size() bytes; the next call takes the rest. Without the ring,
// or when it is empty, they wait for readiness and call again. sendfile waits for readiness
// (io_uring has no sendfile). On an
// epoll loop every wrapper waits with io_wait and calls again. Either way the other threads
// run meanwhile. On a pool thread (a detached thread) the same calls block the kernel thread,
// as CPC's wrappers did. EINTR is retried inside; every other error comes back as a value in
// `error`, never as a retry forever.
//
// `interrupt` (a condvar*, or a cpc::interrupts set of several: interrupts.hpp) and an
// enclosing with_timeout cut a call short: the result then carries
// std::errc::operation_canceled and the bytes moved so far. On io_uring an operation in
// flight is cancelled and the call returns only once the kernel has let go of the buffer:
// memory passed to an interrupted call may be freed as soon as it returns, on either backend.
// If the operation completed before the cancellation reached it, its result wins, as when
// readiness wins the same race on epoll: a write goes on with the rest (under a with_timeout
// that fired, the next operation is interrupted before it starts), an accept or a connect
// succeeds. No byte and no connection is lost.
//
// write, writev, send and sendfile move everything asked for unless an error or an
// interruption stops them (short writes are continued inside); read and recv return after
// the first successful call (0 bytes: end of file).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <system_error>

#include "cpc/condvar.hpp"
#include "cpc/interrupts.hpp"
#include "cpc/task.hpp"

namespace cpc {

// The outcome of a transfer: the bytes moved, and the error that stopped it, if any.
struct io_result {
    // Bytes moved, also when an error or an interruption cut the call short.
    std::size_t bytes = 0;
    // Empty on success; std::errc::operation_canceled when interrupted.
    std::error_code error;
    // True when there was no error.
    explicit operator bool() const noexcept { return !error; }
};

// The outcome of an accept: the new connection, or the error.
struct accept_result {
    // The accepted connection (non-blocking, close-on-exec), or -1.
    int fd = -1;
    // Empty on success; std::errc::operation_canceled when interrupted.
    std::error_code error;
    // True when a connection was accepted.
    explicit operator bool() const noexcept { return !error; }
};

// Reads up to len bytes of fd into buf; returns after the first successful call (0 bytes:
// end of file).
task<io_result> read(int fd, void* buf, std::size_t len, interrupt_source interrupt = {});
// read with recv(2)'s flags.
task<io_result> recv(int fd, void* buf, std::size_t len, int flags,
                     interrupt_source interrupt = {});
// read for a descriptor that is probably idle, such as a kept-alive connection between two
// requests: the caller expects to wait. The results, the interruption and the buffer's
// guarantees are read's. On an io_uring loop with a provided-buffer ring, the read is submitted
// as an operation at once, without the call that read tries first (on an idle descriptor it
// would answer EAGAIN): the wait and the read are one operation, and the data costs no system
// call of its own. Elsewhere the thread waits for readiness and then reads.
task<io_result> read_expecting_wait(int fd, void* buf, std::size_t len,
                                    interrupt_source interrupt = {});
// read without waiting, for a descriptor that probably has data (a connection just
// accepted: its request usually came with it): a plain function, callable from native code.
// One read(2): returns the bytes read (0 at end of file), or -1 with errno as read left it:
// EAGAIN (== EWOULDBLOCK) when nothing is there yet, any other error. EINTR is retried. fd
// must be non-blocking, else the call blocks the kernel thread.
ssize_t try_read(int fd, void* buf, std::size_t len) noexcept;
// Writes all len bytes of buf to fd, unless an error or an interruption stops it.
task<io_result> write(int fd, const void* buf, std::size_t len, interrupt_source interrupt = {});
// write with send(2)'s flags (MSG_NOSIGNAL is always added).
task<io_result> send(int fd, const void* buf, std::size_t len, int flags,
                     interrupt_source interrupt = {});
// The iovec array is not modified; partial writes continue from where the kernel stopped.
task<io_result> writev(int fd, const iovec* iov, int iovcnt, interrupt_source interrupt = {});
// writev without waiting, for a socket that probably has room (a response written at once,
// the common case): a plain function, callable from native code. One writev(2) of at most
// IOV_MAX vectors: returns the bytes written, possibly fewer than asked (the caller sends the
// rest, with writev, which may wait), or -1 with errno as writev left it: EAGAIN
// (== EWOULDBLOCK) when there is no room, any other error. EINTR is retried. The iovec array
// is not modified. fd must be non-blocking, else the call blocks the kernel thread.
ssize_t try_writev(int fd, const iovec* iov, int iovcnt) noexcept;
// Sends len bytes of in_fd from *offset (advanced by what was sent) to out_fd.
task<io_result> sendfile(int out_fd, int in_fd, off_t* offset, std::size_t len,
                         interrupt_source interrupt = {});
// The accepted fd is non-blocking and close-on-exec. ECONNABORTED is retried; EMFILE and
// ENFILE come back as errors so that the server decides how to back off. `shared`: several
// loops accept on listen_fd at once; each waits with cpc::exclusive (loop.hpp), so that a
// new connection wakes one sleeping loop rather than all of them.
task<accept_result> accept(int listen_fd, sockaddr* addr = nullptr, socklen_t* addrlen = nullptr,
                           interrupt_source interrupt = {}, bool shared = false);
// accept for a listener that expects to wait, such as Knot-C's after each connection it
// takes (httpd's --policy active). Results, interruption and `shared` are accept's. On an
// io_uring loop it is submitted as an operation at once, without the accept4 that accept
// tries first: the kernel completes it at the loop's next look when a connection is pending,
// so that taking one costs no system call of its own. Elsewhere the thread waits for
// readiness, then accepts.
task<accept_result> accept_expecting_wait(int listen_fd, sockaddr* addr = nullptr,
                                          socklen_t* addrlen = nullptr,
                                          interrupt_source interrupt = {}, bool shared = false);
// accept without waiting, for a loop that drains a listener it knows to be ready (after an
// io_wait, or in a batch after one accept): a plain function, callable from native code.
// Returns the new fd (non-blocking and close-on-exec, as accept's), or -1 with errno as
// accept4 left it: EAGAIN (== EWOULDBLOCK) when no connection is pending, EMFILE and ENFILE
// for the server to back off, any other error. EINTR and ECONNABORTED are retried. The
// loop of the calling kernel thread forgets whatever it knew of the new fd's number, as
// accept does. listen_fd must be non-blocking, else the call blocks the kernel thread.
int try_accept(int listen_fd, sockaddr* addr = nullptr, socklen_t* addrlen = nullptr) noexcept;
// fd must be a non-blocking socket. Returns the connection's outcome.
task<std::error_code> connect(int fd, const sockaddr* addr, socklen_t addrlen,
                              interrupt_source interrupt = {});

// Closes fd after every loop that knows it forgets it, so that a later fd with the same
// number starts afresh everywhere. Thread-safe. The loop of this kernel thread (if any)
// forgets it at once and its waiters on fd wake; any other loop that has fd in its poll set
// or an operation on it forgets it before its next io_wait and at its next iteration, waking
// its waiters then. On io_uring, forgetting cancels every poll and operation of the loop on
// fd (they hold a reference to the file, which would keep a socket open): a thread blocked in
// a wrapper on fd wakes with EBADF, and the peer sees the connection end once every loop has
// let go. close(2) itself is a plain system call, not an operation: its result is wanted at
// once, and it costs the same either way.
// Starting an io_wait on fd on one loop while another closes it is a race in the program,
// as with any use of an fd being closed.
int close(int fd) noexcept;
// close for an fd whose close result does not matter (a connection at its end), with the
// same forgetting as close. On an io_uring loop the close(2) goes to the kernel with the
// loop's next batch of operations, before the loop waits again, instead of being a system
// call of its own: until then the number stays taken and the peer has not seen the end.
// Elsewhere it is close. Thread-safe, as close.
void close_batched(int fd) noexcept;

// Sets O_NONBLOCK on fd; returns the error, if any.
std::error_code set_nonblocking(int fd) noexcept;

}  // namespace cpc
