// Tutorial, step 5: the chat server of step 4 on every core. A cpc::runtime runs a loop per
// core; the room's state belongs to a color, so that its threads never run at once whichever
// loop they are on, and each client's reads and writes happen uncolored on a loop of its
// own, in parallel with the other clients'. docs/tutorial.md walks through it, and
// examples/tutorial/tutorial_test.py checks it.
//
//   5_many_cores [--port N] [--idle-ms MS] [--threads N]
//   (default 7000, 60000, and a loop per CPU; port 0: any free port)
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cpc/cpc.hpp>
#include <cpc/runtime.hpp>
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
    unsigned threads = 0;  // loops; 0: one per CPU
};

// `--port N`, `--idle-ms MS`, `--threads N`. Anything else is a usage error.
bool parse_args(int argc, char** argv, options* opt) {
    for (int i = 1; i < argc; i += 2) {
        const std::string_view name = argv[i];
        long n = 0;
        if (i + 1 == argc) return false;
        if (name == "--port" && parse_number(argv[i + 1], 0, 65535, &n)) {
            opt->port = static_cast<std::uint16_t>(n);
        } else if (name == "--idle-ms" && parse_number(argv[i + 1], 1, 86'400'000, &n)) {
            opt->idle_timeout = std::chrono::milliseconds(n);
        } else if (name == "--threads" && parse_number(argv[i + 1], 0, 1024, &n)) {
            opt->threads = static_cast<unsigned>(n);
        } else {
            return false;
        }
    }
    return true;
}

struct client {
    client(int fd, std::string name, cpc::loop& io_loop)
        : fd(fd), name(std::move(name)), io_loop(io_loop) {}
    const cpc::unique_fd fd;  // closed when both of its threads have let go of the client
    const std::string name;
    cpc::loop& io_loop;  // where its threads wait for the kernel, uncolored
    // The rest is the room's: touched only in the room's color.
    std::deque<std::string> outbox;  // lines for this client, oldest first
    cpc::condvar wake_writer;        // signalled when outbox grows or the client goes
    bool gone = false;               // the reader has ended: the writer ends too
};

// A write that waits longer than this for the client to read drops the client.
constexpr auto kWriteTimeout = 10s;

struct room {
    room(cpc::runtime& rt, cpc::color& color, std::chrono::milliseconds idle_timeout)
        : rt(rt), color(color), idle_timeout(idle_timeout) {}
    cpc::runtime& rt;
    cpc::color& color;  // the members below are touched only by threads in this color
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

// getaddrinfo blocks: the thread moves to a kernel thread of the default pool for it, then
// back to the scheduler it came from (attach returns it).
cpc::task<std::string> resolve(std::string name) {
    cpc::scheduler& home = co_await cpc::attach(cpc::default_pool());
    // On a pool thread now: blocking is fine here, touching the room is not.
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int err = ::getaddrinfo(name.c_str(), nullptr, &hints, &found);
    std::string answer = "* " + name;
    if (err != 0) {
        answer += std::string(": ") + ::gai_strerror(err);
    } else {
        char host[NI_MAXHOST];
        ::getnameinfo(found->ai_addr, found->ai_addrlen, host, sizeof host, nullptr, 0,
                      NI_NUMERICHOST);
        answer += std::string(" is ") + host;
        ::freeaddrinfo(found);
    }
    co_await cpc::attach(home);
    co_return answer;
}

// A line from the client: a command, or something to say to the room.
cpc::task<void> on_line(room& r, client& c, std::string line) {
    long ms = 0;
    if (line.starts_with("/resolve ")) {
        const std::string answer = co_await resolve(line.substr(9));
        r.tell(c, answer);
    } else if (line.starts_with("/nap ") && parse_number(line.c_str() + 5, 0, 10'000, &ms)) {
        // detached: the same trip to the pool and back, around a native callable.
        co_await cpc::detached([ms] { ::usleep(static_cast<useconds_t>(ms) * 1000); });
        r.tell(c, "* napped " + std::to_string(ms) + " ms");
    } else if (line.starts_with("/")) {
        r.tell(c, "* commands: /resolve NAME, /nap MS (at most 10000)");
    } else {
        r.broadcast(&c, "<" + c.name + "> " + line);
    }
}

// Reads lines and says them to the room. A line may arrive in pieces, or several at once.
cpc::task<void> reader(room& r, std::shared_ptr<client> c) {
    r.members.insert(c.get());
    r.tell(*c, "* welcome, you are " + c->name);
    r.broadcast(c.get(), "* " + c->name + " joined");
    char buf[1024];
    std::string pending;
    std::string why;  // told to the others when the client leaves
    for (;;) {
        co_await cpc::attach(c->io_loop);  // wait and read on the client's own loop
        const std::optional<cpc::io_result> got =
            co_await cpc::with_timeout(r.idle_timeout, cpc::read(c->fd.get(), buf, sizeof buf));
        co_await cpc::recolor(r.color);  // back in the room
        if (!got) {                      // the deadline passed first
            r.tell(*c, "* idle for " + std::to_string(r.idle_timeout.count()) + " ms, bye");
            why = " (idle)";
            break;
        }
        if (!*got || got->bytes == 0) break;  // an error, or the client closed
        pending.append(buf, got->bytes);
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
            co_await on_line(r, *c, pending.substr(0, nl));
            pending.erase(0, nl + 1);
        }
    }
    r.members.erase(c.get());
    r.broadcast(c.get(), "* " + c->name + " left" + why);
    c->gone = true;
    c->wake_writer.signal();
}

// Takes the client's whole outbox in the room's color, and writes it on the client's loop.
cpc::task<void> writer(room& r, std::shared_ptr<client> c) {
    for (;;) {
        if (c->outbox.empty()) {
            if (c->gone) break;
            co_await c->wake_writer.wait();
            continue;
        }
        std::string batch;
        for (; !c->outbox.empty(); c->outbox.pop_front())
            batch += c->outbox.front();
        co_await cpc::attach(c->io_loop);
        const std::optional<cpc::io_result> sent = co_await cpc::with_timeout(
            kWriteTimeout, cpc::write(c->fd.get(), batch.data(), batch.size()));
        co_await cpc::recolor(r.color);
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
        auto c = std::make_shared<client>(a.fd, "guest" + std::to_string(r.next_guest++),
                                          r.rt.next_loop());
        cpc::spawn(r.color, reader(r, c));
        cpc::spawn(r.color, writer(r, c));
    }
}

int main(int argc, char** argv) {
    options opt;
    if (!parse_args(argc, argv, &opt)) {
        std::fprintf(stderr, "usage: %s [--port N] [--idle-ms MS] [--threads N]\n", argv[0]);
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
    cpc::runtime rt{{.threads = opt.threads}};
    cpc::color room_color(rt);
    std::printf("chat server listening on %s (loops: %zu)\n", bound.c_str(), rt.size());
    std::fflush(stdout);
    room r(rt, room_color, opt.idle_timeout);
    rt.spawn(listener(l.fd.get(), r), room_color);
    rt.run();  // runs every loop; this server runs until it is killed
}
