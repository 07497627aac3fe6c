// Tutorial, step 3: the chat server of step 2 with timeouts. A client silent for too long is
// told and disconnected; a client that stops reading is dropped once a write has waited too
// long, instead of holding its writer forever. docs/tutorial.md walks through it, and
// examples/tutorial/tutorial_test.py checks it over loopback.
//
//   3_timeouts [--port N] [--idle-ms MS]   (default 7000 and 60000; port 0: any free port)
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cpc/cpc.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

using namespace std::chrono_literals;

// A number in [lo, hi], or false.
bool parse_number(const char* text, long lo, long hi, long* out) {
    char* end = nullptr;
    errno = 0;
    *out = std::strtol(text, &end, 10);
    return *text != '\0' && *end == '\0' && errno == 0 && *out >= lo && *out <= hi;
}

struct options {
    std::uint16_t port = 7000;
    std::chrono::milliseconds idle_timeout = 60s;
};

// `--port N`, `--idle-ms MS`. Anything else is a usage error.
bool parse_args(int argc, char** argv, options* opt) {
    for (int i = 1; i < argc; i += 2) {
        const std::string_view name = argv[i];
        long n = 0;
        if (i + 1 == argc) return false;
        if (name == "--port" && parse_number(argv[i + 1], 0, 65535, &n)) {
            opt->port = static_cast<std::uint16_t>(n);
        } else if (name == "--idle-ms" && parse_number(argv[i + 1], 1, 86'400'000, &n)) {
            opt->idle_timeout = std::chrono::milliseconds(n);
        } else {
            return false;
        }
    }
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

// A write that waits longer than this for the client to read drops the client.
constexpr auto kWriteTimeout = 10s;

struct room {
    explicit room(std::chrono::milliseconds idle_timeout) : idle_timeout(idle_timeout) {}
    const std::chrono::milliseconds idle_timeout;
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
    std::string why;  // told to the others when the client leaves
    for (;;) {
        // Every sleep and wait inside with_timeout's task ends when the deadline passes.
        const std::optional<cpc::io_result> got =
            co_await cpc::with_timeout(r.idle_timeout, cpc::read(c->fd.get(), buf, sizeof buf));
        if (!got) {  // the deadline passed first
            r.tell(*c, "* idle for " + std::to_string(r.idle_timeout.count()) + " ms, bye");
            why = " (idle)";
            break;
        }
        if (!*got || got->bytes == 0) break;  // an error, or the client closed
        pending.append(buf, got->bytes);
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
            r.broadcast(c.get(), "<" + c->name + "> " + pending.substr(0, nl));
            pending.erase(0, nl + 1);
        }
    }
    r.members.erase(c.get());
    r.broadcast(c.get(), "* " + c->name + " left" + why);
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
        const std::optional<cpc::io_result> sent = co_await cpc::with_timeout(
            kWriteTimeout, cpc::write(c->fd.get(), line.data(), line.size()));
        if (!sent || !*sent) {                   // the client does not read, or is gone
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
    options opt;
    if (!parse_args(argc, argv, &opt)) {
        std::fprintf(stderr, "usage: %s [--port N] [--idle-ms MS]\n", argv[0]);
        return 2;
    }
    // Non-blocking (listen_on's default), so that cpc::accept never blocks the loop: without a
    // pending connection the kernel answers EAGAIN and the thread waits for readiness instead.
    const cpc::listen_result l = cpc::listen_on(cpc::endpoint::loopback_v4(opt.port));
    if (!l) {
        std::fprintf(stderr, "%s on 127.0.0.1:%u: %s\n", l.failed_call, opt.port,
                     l.error.message().c_str());
        return 1;
    }
    // With port 0 the kernel chose the port: the socket's own address tells which.
    const std::string bound = cpc::local_endpoint(l.fd.get()).value().to_string();
    std::printf("chat server listening on %s\n", bound.c_str());
    std::fflush(stdout);
    room r(opt.idle_timeout);
    cpc::spawn(listener(l.fd.get(), r));
    cpc::main_loop();  // runs the threads; this server runs until it is killed
}
