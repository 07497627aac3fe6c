// lazy_buffer: allocate the read buffer only once data is there.
//
// A native thread that blocks in read() must own its buffer before the call, so N idle
// connections hold N buffers. An event-driven server allocates a buffer only when an event
// says data is available. CPC threads can do the same without giving up straight-line code
// (paper, section 3): wait with cpc::io_wait first, and allocate after it returns. An idle
// connection then costs its thread's frame (a few hundred bytes), not a buffer.
//
// A C++ detail matters here: a coroutine frame holds every local that lives across a
// co_await, sized at compile time. A `char buf[65536]` declared after the io_wait would
// still be part of the frame, allocated when the thread starts. So the lazy buffer is
// allocated on the heap (the frame holds only the pointer).
//
// The program serves N idle connections twice, with an eager and a lazy echo thread, and
// counts the buffer bytes alive while all N are idle and at the peak of activity.
//
// Usage: lazy_buffer [--connections N] [--buffer-kib K]
//        (defaults 500 and 64; checks the result and exits 0 on success)
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"

namespace {

using namespace std::chrono_literals;

std::size_t buffer_size = 64 * 1024;

// Buffer accounting, so that the program can show what each strategy costs.
struct buffer_stats {
    std::size_t live = 0;
    std::size_t peak = 0;
};
buffer_stats stats;

// A heap buffer that counts itself.
class counted_buffer {
  public:
    explicit counted_buffer(std::size_t n) : data_(new char[n]), size_(n) {
        stats.live += n;
        stats.peak = std::max(stats.peak, stats.live);
    }
    ~counted_buffer() { stats.live -= size_; }
    counted_buffer(const counted_buffer&) = delete;
    counted_buffer& operator=(const counted_buffer&) = delete;
    char* data() const noexcept { return data_.get(); }
    std::size_t size() const noexcept { return size_; }

  private:
    std::unique_ptr<char[]> data_;
    std::size_t size_;
};

struct server {
    std::size_t waiting = 0;  // server threads waiting for their client to speak
    std::size_t live = 0;     // server threads alive
};

// The way a native thread does it: the buffer exists for the whole connection.
cpc::task<void> serve_eager(server& s, int fd) {
    ++s.live;
    counted_buffer buf(buffer_size);  // allocated before there is anything to read
    for (;;) {
        ++s.waiting;
        const cpc::io_result r = co_await cpc::read(fd, buf.data(), buf.size());
        --s.waiting;
        if (!r || r.bytes == 0) break;
        if (!co_await cpc::send(fd, buf.data(), r.bytes, 0)) break;
    }
    cpc::close(fd);
    --s.live;
}

// The CPC way: wait first, allocate after.
cpc::task<void> serve_lazy(server& s, int fd) {
    ++s.live;
    for (;;) {
        // While the client is silent, this thread is just its frame.
        ++s.waiting;
        const bool ready = co_await cpc::io_wait(fd, cpc::in);
        --s.waiting;
        if (!ready) break;  // only an interrupt would say false; there is none here
        // Data (or end of file) is there: the read below will not wait.
        counted_buffer buf(buffer_size);
        const cpc::io_result r = co_await cpc::read(fd, buf.data(), buf.size());
        if (!r || r.bytes == 0) break;
        if (!co_await cpc::send(fd, buf.data(), r.bytes, 0)) break;
        // buf is freed here, at the end of the iteration: back to zero while idle.
    }
    cpc::close(fd);
    --s.live;
}

struct result {
    std::size_t idle_bytes = 0;  // buffer bytes alive while every connection was idle
    std::size_t peak_bytes = 0;  // the most ever alive
    bool ok = false;
};

// Accepts n connections and gives each a server thread of the chosen kind.
cpc::task<void> acceptor(server& s, int listen_fd, std::size_t n, bool lazy) {
    for (std::size_t i = 0; i < n; ++i) {
        // Bounded, so that a broken client side cannot hang the program.
        std::optional<cpc::accept_result> a =
            co_await cpc::with_timeout(10s, cpc::accept(listen_fd));
        if (!a || !*a) break;
        cpc::spawn(lazy ? serve_lazy(s, a->fd) : serve_eager(s, a->fd));
    }
    cpc::close(listen_fd);
}

// Opens n connections, lets them all sit idle, then has each say one thing in turn.
cpc::task<void> clients(server& s, std::uint16_t port, std::size_t n, result& out,
                        example::watchdog& dog) {
    std::vector<std::unique_ptr<example::line_client>> conns;
    bool ok = true;
    for (std::size_t i = 0; ok && i < n; ++i) {
        conns.push_back(std::make_unique<example::line_client>());
        ok = co_await conns.back()->connect(port);
    }
    // Wait (bounded) until every server thread sits in its wait.
    for (int i = 0; ok && s.waiting < n && i < 5000; ++i)
        co_await cpc::sleep(1ms);
    ok = ok && s.waiting == n;
    out.idle_bytes = stats.live;
    // Activity: one client at a time sends a line and reads the echo.
    for (std::size_t i = 0; ok && i < n; ++i) {
        ok = co_await conns[i]->say("ping " + std::to_string(i));
        ok = ok && co_await conns[i]->expect("ping " + std::to_string(i));
    }
    conns.clear();  // closes every connection: the server threads end
    out.ok = ok;
    dog.finish();
}

result run(std::size_t n, bool lazy) {
    stats = {};
    server s;
    result out;
    std::uint16_t port = 0;
    const int listen_fd = example::listen_loopback(0, &port);
    example::watchdog dog;
    cpc::spawn(dog.run(30s));
    cpc::spawn(acceptor(s, listen_fd, n, lazy));
    cpc::spawn(clients(s, port, n, out, dog));
    const cpc::run_result r = cpc::main_loop();
    // The peak includes the end: each lazy thread wakes at end of file, takes a buffer,
    // reads 0 bytes and frees it, without suspending in between.
    out.peak_bytes = stats.peak;
    out.ok = out.ok && s.live == 0 && stats.live == 0 && r.blocked_threads == 0;
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 500;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--connections" && i + 1 < argc) {
            n = static_cast<std::size_t>(example::parse_long(argv[++i], 1, 5000, "connections"));
        } else if (a == "--buffer-kib" && i + 1 < argc) {
            buffer_size = 1024 * static_cast<std::size_t>(
                                     example::parse_long(argv[++i], 1, 1024, "buffer size"));
        } else {
            std::printf("usage: %s [--connections N] [--buffer-kib K]\n", argv[0]);
            return a == "--help" ? 0 : 2;
        }
    }
    // Each connection takes two descriptors here (both ends live in this process).
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur < 2 * n + 64) {
        lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 2 * n + 64);
        ::setrlimit(RLIMIT_NOFILE, &lim);
        if (lim.rlim_cur < 2 * n + 64) n = (lim.rlim_cur - 64) / 2;
    }

    std::printf("%zu connections, %zu KiB buffers\n", n, buffer_size / 1024);
    const result eager = run(n, false);
    const result lazy = run(n, true);
    std::printf("  %-6s  buffer bytes while all idle: %10zu   peak: %10zu\n", "eager",
                eager.idle_bytes, eager.peak_bytes);
    std::printf("  %-6s  buffer bytes while all idle: %10zu   peak: %10zu\n", "lazy",
                lazy.idle_bytes, lazy.peak_bytes);

    bool ok = example::check(eager.ok && lazy.ok, "both servers echoed every line and ended");
    ok &= example::check(eager.idle_bytes == n * buffer_size, "eager: one buffer per idle client");
    ok &= example::check(lazy.idle_bytes == 0, "lazy: idle clients hold no buffer");
    // The lazy server only holds a buffer while it serves a request; the clients speak one
    // at a time, so one buffer at a time.
    ok &= example::check(lazy.peak_bytes == buffer_size, "lazy: one buffer at the peak");
    return ok ? 0 : 1;
}
