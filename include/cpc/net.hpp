// TCP sockets for cooperative threads: an owned descriptor (unique_fd), a numeric address
// (endpoint), a listening socket (listen_on) and a connection (connect_to).
//
// Nothing here resolves names: an endpoint is parsed from numeric text only, so parsing never
// blocks, and a name to resolve is the program's business (a detached thread, see
// examples/resolve_detached.cpp). Bad input is a value (std::nullopt with a reason, an error
// code), never an exception.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "cpc/condvar.hpp"
#include "cpc/task.hpp"

namespace cpc {

// Owns one file descriptor and closes it with cpc::close (io.hpp) when destroyed or reset,
// so that every loop that waited on it forgets it before the number is reused. Move-only; a
// moved-from unique_fd is empty (-1). Not thread-safe: one owner at a time, as for any object.
class unique_fd {
  public:
    unique_fd() noexcept = default;
    // Takes fd (may be -1: empty).
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    // Takes other's descriptor; other is empty.
    unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
    // Closes the descriptor held, then takes other's; other is empty.
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    // The descriptor, still owned; -1 when empty.
    int get() const noexcept { return fd_; }
    // True when a descriptor is held.
    explicit operator bool() const noexcept { return fd_ >= 0; }
    // Gives the descriptor up without closing it; the caller owns it, this is empty.
    [[nodiscard]] int release() noexcept {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }
    // Closes the descriptor held (if any, and if it is not fd itself), then owns fd.
    void reset(int fd = -1) noexcept;

  private:
    int fd_ = -1;
};

// An IPv4 or IPv6 address and a TCP port. Small enough to copy freely (a sockaddr_in6, not
// a sockaddr_storage). A default-constructed endpoint has no family (family() == AF_UNSPEC).
class endpoint {
  public:
    endpoint() noexcept = default;

    // "1.2.3.4:80" or "[::1]:80": a numeric address, a colon, a decimal port in 0..65535
    // (0: any port, for listen_on). An IPv6 address is always in brackets; a zone
    // ("[fe80::1%eth0]") is refused. On bad input returns nullopt and, when `why` is given,
    // stores a one-line reason there that names the text.
    static std::optional<endpoint> parse(std::string_view host_port, std::string* why = nullptr);
    // A numeric host without brackets ("1.2.3.4", "::1") and a port; nullopt (and the reason
    // in *why) if the host is not a numeric IPv4 or IPv6 address.
    static std::optional<endpoint> from_host(std::string_view host, std::uint16_t port,
                                             std::string* why = nullptr);
    // 127.0.0.1:port.
    static endpoint loopback_v4(std::uint16_t port) noexcept;
    // A copy of an AF_INET or AF_INET6 socket address (as accept and getsockname give them);
    // nullopt for any other family or a length too short for its family.
    static std::optional<endpoint> from_sockaddr(const sockaddr* sa, socklen_t len) noexcept;

    // AF_INET, AF_INET6, or AF_UNSPEC for a default-constructed endpoint.
    int family() const noexcept { return storage_.any.sa_family; }
    // The socket address, to pass with length() to bind or connect.
    const sockaddr* address() const noexcept { return &storage_.any; }
    // The length to pass with address() to bind or connect: 0 when there is no family.
    socklen_t length() const noexcept;
    // The port, in host byte order (0 without a family).
    std::uint16_t port() const noexcept;
    // Changes the port, keeping the address (nothing without a family).
    void set_port(std::uint16_t port) noexcept;
    // The address alone: "1.2.3.4", "::1" (empty without a family).
    std::string host() const;
    // What parse reads: "1.2.3.4:80", "[::1]:80".
    std::string to_string() const;

    // Same family, address and port (IPv6 flow labels and scope ids are not compared).
    friend bool operator==(const endpoint& a, const endpoint& b) noexcept;

  private:
    union storage {
        sockaddr any;
        sockaddr_in v4;
        sockaddr_in6 v6;
    };
    storage storage_{};
};

// The address a socket is bound to (getsockname): after listen_on to port 0, the port the
// kernel chose. nullopt if fd is not a bound IPv4 or IPv6 socket.
std::optional<endpoint> local_endpoint(int fd) noexcept;

// How listen_on sets up its socket.
struct listen_options {
    // SO_REUSEPORT: several sockets (processes, loops) listen on the same port and the kernel
    // spreads the connections over them.
    bool reuse_port = false;
    // O_NONBLOCK, what cpc::accept wants (it waits for readiness on EAGAIN instead of
    // blocking the loop). Off for a server whose accept blocks its kernel thread on purpose.
    bool nonblocking = true;
    // IPV6_V6ONLY on an IPv6 socket: it takes IPv6 connections alone, so that an IPv4 socket
    // may listen on the same port (a server listening on both, as hekate does). Off: an IPv6
    // wildcard socket ([::]) also takes IPv4 connections, as mapped addresses (the kernel's
    // default, net.ipv6.bindv6only=0). Ignored on an IPv4 socket.
    bool ipv6_only = false;
};

// What listen_on gives: a listening socket, or why there is none.
struct listen_result {
    // The listening socket; empty on failure.
    unique_fd fd;
    // Why the call named by failed_call failed; empty on success.
    std::error_code error;
    // The call that failed ("socket", "SO_REUSEADDR", "SO_REUSEPORT", "IPV6_V6ONLY", "bind",
    // "listen"); empty on success.
    const char* failed_call = "";
    // True on success.
    explicit operator bool() const noexcept { return !error; }
};

// A TCP socket bound to `at` and listening, close-on-exec, with SO_REUSEADDR (a restarted
// server binds at once while old connections are in TIME_WAIT). `backlog` goes to listen(2)
// as given (the kernel caps it at net.core.somaxconn). On failure nothing is left open and
// the result says which call failed and why.
listen_result listen_on(const endpoint& at, int backlog = SOMAXCONN, listen_options options = {});

// How connect_to sets up its socket before connecting.
struct connect_options {
    // Binds the socket to this local address first (a client with several source addresses).
    // With port 0 the port is chosen at connect time (IP_BIND_ADDRESS_NO_PORT), so that many
    // connections to different servers can share a port from the ephemeral range.
    std::optional<endpoint> source = std::nullopt;
    // SO_RCVBUF before the handshake, when > 0 (the window offered in the SYN follows it).
    int receive_buffer = 0;
};

// What connect_to gives: a connected socket, or why there is none.
struct connect_result {
    unique_fd fd;  // connected, non-blocking, close-on-exec; empty on failure
    // Why the call named by failed_call failed (operation_canceled when interrupted).
    std::error_code error;
    // The call that failed ("socket", "bind", "connect"); empty on success.
    const char* failed_call = "";
    // True on success.
    explicit operator bool() const noexcept { return !error; }
};

// Connects a new TCP socket to `to` from a cooperative thread: the connect is cpc::connect
// (io.hpp), so the other threads run during the handshake, and `interrupt` or an enclosing
// with_timeout cuts it short (error: std::errc::operation_canceled; a connection that won the
// race is kept, as cpc::connect says). On failure the socket is closed and fd is empty.
task<connect_result> connect_to(endpoint to, condvar* interrupt = nullptr,
                                connect_options options = {});

}  // namespace cpc
