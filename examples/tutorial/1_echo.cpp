// Tutorial, step 1: an echo server. A thread per connection reads and writes back what it
// read; a listening thread accepts and spawns them. docs/tutorial.md walks through it, and
// examples/tutorial/tutorial_test.py checks it over loopback.
//
//   1_echo [--port N]     (default 7000; 0: any free port, printed at start)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cpc/cpc.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

using namespace std::chrono_literals;

// A non-blocking TCP socket listening on 127.0.0.1:port (0: the kernel picks a free port).
// Non-blocking, so that cpc::accept never blocks the loop: without a pending connection the
// kernel answers EAGAIN and the thread waits for readiness instead. Returns the fd, or -1.
int listen_on(std::uint16_t port, std::uint16_t* bound) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd, SOMAXCONN) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const int error = errno;  // for the caller's perror, whatever close does
        ::close(fd);
        errno = error;
        return -1;
    }
    *bound = ntohs(addr.sin_port);
    return fd;
}

// `--port N`, or 7000. Anything else is a usage error.
bool parse_args(int argc, char** argv, std::uint16_t* port) {
    *port = 7000;
    if (argc == 1) return true;
    if (argc != 3 || std::string_view(argv[1]) != "--port") return false;
    char* end = nullptr;
    const long n = std::strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || n < 0 || n > 65535) return false;
    *port = static_cast<std::uint16_t>(n);
    return true;
}

// One connection: read what the client sent, write it back, until the client closes.
cpc::task<void> echo(int fd) {
    char buf[4096];
    for (;;) {
        const cpc::io_result got = co_await cpc::read(fd, buf, sizeof buf);
        if (!got || got.bytes == 0) break;  // an error, or the client closed
        const cpc::io_result sent = co_await cpc::write(fd, buf, got.bytes);
        if (!sent) break;
    }
    cpc::close(fd);
}

// The listening thread: a new thread for every connection.
cpc::task<void> listener(int listen_fd) {
    for (;;) {
        const cpc::accept_result client = co_await cpc::accept(listen_fd);
        if (client) {
            cpc::spawn(echo(client.fd));
        } else {
            // Out of file descriptors (EMFILE): the connection waits in the backlog.
            std::fprintf(stderr, "accept: %s\n", client.error.message().c_str());
            co_await cpc::sleep(100ms);
        }
    }
}

int main(int argc, char** argv) {
    std::uint16_t port = 0;
    if (!parse_args(argc, argv, &port)) {
        std::fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
        return 2;
    }
    std::uint16_t bound = 0;
    const int fd = listen_on(port, &bound);
    if (fd < 0) {
        std::perror("listen on 127.0.0.1");
        return 1;
    }
    std::printf("echo server listening on 127.0.0.1:%u\n", bound);
    std::fflush(stdout);
    cpc::spawn(listener(fd));
    cpc::main_loop();  // runs the threads; this server runs until it is killed
}
