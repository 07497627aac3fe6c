// Tutorial, step 2: a chat server. Every client gets two threads: a reader that sends each
// line it reads to the room, and a writer that sends the client what the room said, woken by
// a condvar. All threads run on one loop, so the room needs no lock. docs/tutorial.md walks
// through it, and examples/tutorial/tutorial_test.py checks it over loopback.
//
//   2_chat [--port N]     (default 7000; 0: any free port, printed at start)
#include <sys/socket.h>

#include <chrono>
#include <cpc/cpc.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <set>
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

struct client {
    explicit client(int fd, std::string name) : fd(fd), name(std::move(name)) {}
    const cpc::unique_fd fd;  // closed when both of its threads have let go of the client
    const std::string name;
    std::deque<std::string> outbox;  // lines for this client, oldest first
    cpc::condvar wake_writer;        // signalled when outbox grows or the client goes
    bool gone = false;               // the reader has ended: the writer ends too
};

struct room {
    std::set<client*> members;
    unsigned next_guest = 1;

    void tell(client& c, std::string line) {
        c.outbox.push_back(std::move(line) + "\n");
        c.wake_writer.signal();
    }
    void broadcast(const client* from, const std::string& line) {
        for (client* c : members) {
            if (c != from) tell(*c, line);
        }
    }
};

// Reads lines and says them to the room. A line may arrive in pieces, or several at once.
cpc::task<void> reader(room& r, std::shared_ptr<client> c) {
    r.members.insert(c.get());
    r.tell(*c, "* welcome, you are " + c->name);
    r.broadcast(c.get(), "* " + c->name + " joined");
    char buf[1024];
    std::string pending;
    for (;;) {
        const cpc::io_result got = co_await cpc::read(c->fd.get(), buf, sizeof buf);
        if (!got || got.bytes == 0) break;  // an error, or the client closed
        pending.append(buf, got.bytes);
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
            r.broadcast(c.get(), "<" + c->name + "> " + pending.substr(0, nl));
            pending.erase(0, nl + 1);
        }
    }
    r.members.erase(c.get());
    r.broadcast(c.get(), "* " + c->name + " left");
    c->gone = true;
    c->wake_writer.signal();
}

// Sends the client its outbox, line after line; sleeps on the condvar while it is empty.
cpc::task<void> writer(std::shared_ptr<client> c) {
    for (;;) {
        if (c->outbox.empty()) {
            if (c->gone) break;
            co_await c->wake_writer.wait();
            continue;
        }
        const std::string line = std::move(c->outbox.front());
        c->outbox.pop_front();
        const cpc::io_result sent = co_await cpc::write(c->fd.get(), line.data(), line.size());
        if (!sent) {
            ::shutdown(c->fd.get(), SHUT_RDWR);  // the reader sees the end and leaves the room
            break;
        }
    }
}

cpc::task<void> listener(int listen_fd, room& r) {
    for (;;) {
        const cpc::accept_result a = co_await cpc::accept(listen_fd);
        if (!a) {
            std::fprintf(stderr, "accept: %s\n", a.error.message().c_str());
            co_await cpc::sleep(100ms);
            continue;
        }
        auto c = std::make_shared<client>(a.fd, "guest" + std::to_string(r.next_guest++));
        cpc::spawn(reader(r, c));
        cpc::spawn(writer(c));
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
    std::printf("chat server listening on %s\n", bound.c_str());
    std::fflush(stdout);
    room r;
    cpc::spawn(listener(l.fd.get(), r));
    cpc::main_loop();  // runs the threads; this server runs until it is killed
}
