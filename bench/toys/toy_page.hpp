// What the toy servers share, so that each toy_<x>.cpp is only its concurrency: the page,
// the response bytes, the end-of-request test and the listening socket.
//
// "Are events fast?" (Kerneis and Chroboczek, 2009) serves "a single short (305 bytes) page".
// Here the 305 bytes are the page itself, the body of the response (its Content-Length); the
// status line and headers come on top of it (84 bytes), 389 bytes in all on the wire.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace toy {

// The page and the headers as literals, so that the response is one constant.
#define TOY_PAGE                                                                             \
    "<!DOCTYPE html>\n<html>\n<head><title>cpc toy server</title></head>\n<body>\n"          \
    "<h1>Hello!</h1>\n"                                                                      \
    "<p>This page is served by a toy server of the cpc project, one of a set of servers of " \
    "identical structure that differ only in their concurrency: processes, kernel threads, " \
    "user threads or events.</p>\n"                                                          \
    "</body>\n</html>\n"
#define TOY_HEADERS               \
    "HTTP/1.0 200 OK\r\n"         \
    "Content-Type: text/html\r\n" \
    "Content-Length: 305\r\n"     \
    "Connection: close\r\n"       \
    "\r\n"

// The page: exactly 305 bytes.
inline constexpr std::string_view kPage = TOY_PAGE;
static_assert(kPage.size() == 305, "the paper's page is 305 bytes");

// The whole answer, headers and page, sent with one write: HTTP/1.0, then the server closes.
inline constexpr std::string_view kHeaders = TOY_HEADERS;
inline constexpr std::string_view kResponse = TOY_HEADERS TOY_PAGE;
static_assert(kResponse.size() == kHeaders.size() + kPage.size());
static_assert(kResponse.substr(kHeaders.size()) == kPage);

// A request is read into a buffer of this size; one that does not end within it is dropped.
inline constexpr std::size_t kRequestMax = 4096;

// True when buf[0..len) holds the end of the request headers ("\r\n\r\n"). `old_len` is how
// much of buf was already searched, so that a request arriving in pieces is scanned once.
inline bool request_complete(const char* buf, std::size_t old_len, std::size_t len) {
    const std::size_t from = old_len > 3 ? old_len - 3 : 0;
    return std::string_view(buf + from, len - from).find("\r\n\r\n") != std::string_view::npos;
}

[[noreturn]] inline void die(const char* what) {
    std::fprintf(stderr, "%s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

// Raises the soft limit on descriptors to the hard one: a connection is a descriptor.
inline void raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// `toy-X PORT [BACKLOG]`: raises the descriptor limit (raise_fd_limit), then a listening socket on
// 127.0.0.1:PORT with SO_REUSEADDR. PORT 0 lets the kernel choose, and the chosen port is printed
// as the first line of stdout. The backlog defaults to 1024 (the kernel caps it at
// net.core.somaxconn, the bottleneck of the paper's Figure 1). The socket is blocking unless
// `nonblocking`.
inline int listen_from_args(int argc, char** argv, bool nonblocking) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s PORT [BACKLOG]\n", argv[0]);
        std::exit(2);
    }
    char* end = nullptr;
    const long port = std::strtol(argv[1], &end, 10);
    if (*end || port < 0 || port > 65535) {
        std::fprintf(stderr, "bad port: %s\n", argv[1]);
        std::exit(2);
    }
    long backlog = 1024;
    if (argc == 3) {
        backlog = std::strtol(argv[2], &end, 10);
        if (*end || backlog < 1 || backlog > 65535) {
            std::fprintf(stderr, "bad backlog: %s\n", argv[2]);
            std::exit(2);
        }
    }
    raise_fd_limit();
    const int fd =
        ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) die("socket");
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) die("SO_REUSEADDR");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind 127.0.0.1");
    if (::listen(fd, static_cast<int>(backlog)) != 0) die("listen");
    if (port == 0) {
        socklen_t len = sizeof addr;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");
        std::printf("%u\n", static_cast<unsigned>(ntohs(addr.sin_port)));
        std::fflush(stdout);
    }
    return fd;
}

// The whole life of a connection with blocking calls, for the toys whose unit of concurrency
// the kernel schedules (fork, NPTL): reads the request up to the end of its headers, answers
// with the page, closes.
inline void serve_blocking(int fd) {
    char buf[toy::kRequestMax];
    std::size_t len = 0;
    bool complete = false;
    while (!complete && len < sizeof buf) {
        const ssize_t n = ::read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        complete = toy::request_complete(buf, len, len + static_cast<std::size_t>(n));
        len += static_cast<std::size_t>(n);
    }
    for (std::size_t off = 0; complete && off < toy::kResponse.size();) {
        const ssize_t n =
            ::send(fd, toy::kResponse.data() + off, toy::kResponse.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
    }
    ::close(fd);
}

}  // namespace toy
