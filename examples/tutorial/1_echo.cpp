// Tutorial, step 1: an echo server. A thread per connection reads and writes back what it
// read; a listening thread accepts and spawns them. docs/tutorial.md walks through it, and
// examples/tutorial/tutorial_test.py checks it over loopback.
//
//   1_echo [--port N]     (default 7000; 0: any free port, printed at start)
#include <chrono>
#include <cpc/cpc.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace std::chrono_literals;

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

// One connection: read what the client sent, write it back, until the client closes. The
// thread owns the socket: it is closed when the thread ends, whichever way it leaves.
cpc::task<void> echo(cpc::unique_fd fd) {
    char buf[4096];
    for (;;) {
        const cpc::io_result got = co_await cpc::read(fd.get(), buf, sizeof buf);
        if (!got || got.bytes == 0) break;  // an error, or the client closed
        const cpc::io_result sent = co_await cpc::write(fd.get(), buf, got.bytes);
        if (!sent) break;
    }
}

// The listening thread: a new thread for every connection.
cpc::task<void> listener(int listen_fd) {
    for (;;) {
        const cpc::accept_result client = co_await cpc::accept(listen_fd);
        if (client) {
            cpc::spawn(echo(cpc::unique_fd(client.fd)));
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
    // Non-blocking (listen_on's default), so that cpc::accept never blocks the loop: without a
    // pending connection the kernel answers EAGAIN and the thread waits for readiness instead.
    const cpc::listen_result l = cpc::listen_on(cpc::endpoint::loopback_v4(port));
    if (!l) {
        std::fprintf(stderr, "%s on 127.0.0.1:%u: %s\n", l.failed_call, port,
                     l.error.message().c_str());
        return 1;
    }
    // With port 0 the kernel chose the port: the socket's own address tells which.
    const std::string bound = cpc::local_endpoint(l.fd.get()).value().to_string();
    std::printf("echo server listening on %s\n", bound.c_str());
    std::fflush(stdout);
    cpc::spawn(listener(l.fd.get()));
    cpc::main_loop();  // runs the threads; this server runs until it is killed
}
