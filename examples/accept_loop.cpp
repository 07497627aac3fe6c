// accept_loop: Figure 1 of the paper, an echo server with one thread per client.
//
// In CPC, Hekate's listening thread is four lines:
//
//     cps void listening(hashtable *table) {
//         while (1) {
//             cpc_io_wait(socket_fd, CPC_IO_IN);
//             client_fd = accept(socket_fd, ...);
//             cpc_spawn client(table, client_fd);
//         }
//     }
//
// The same shape in C++20: a cps function is a coroutine returning cpc::task<>, cpc_spawn
// is cpc::spawn, and cpc::accept is "io_wait for readability, then accept4" in a loop (it
// also retries ECONNABORTED, and makes the new fd non-blocking). A thread per client is the
// natural design here, because an idle cpc thread is just its coroutine frame: no stack.
//
// Usage:
//   accept_loop [--port N]                      echo server on 127.0.0.1:N (default 7001);
//                                               try: nc 127.0.0.1 7001
//   accept_loop --port 0 --self-test [--clients N]
//                                               serve N client threads of its own (default
//                                               50) in the same loop, check the echoes and
//                                               exit 0 on success
#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "common.hpp"

namespace {

using namespace std::chrono_literals;

// What the server shares between its threads. No lock: all threads of a loop run one at a
// time, and each runs without interruption between two co_awaits.
struct server_state {
    int listen_fd = -1;
    cpc::condvar stop;  // signalled to end the listening thread
    bool stopping = false;
    std::size_t accepted = 0;
    std::size_t live_clients = 0;
    std::size_t echoed_bytes = 0;
};

// One thread per connection: read what comes, send it back, until end of file.
cpc::task<void> client(server_state& st, int fd) {
    ++st.live_clients;
    // The buffer lives in this thread's frame, so every connection costs 4 KiB even while it
    // is idle. lazy_buffer.cpp shows how CPC servers avoid that.
    std::array<char, 4096> buf;
    for (;;) {
        // While no data is there, cpc::read waits (io_wait) and the loop runs other threads.
        const cpc::io_result r = co_await cpc::read(fd, buf.data(), buf.size());
        if (!r || r.bytes == 0) break;  // error or end of file: the client is gone
        // cpc::send passes MSG_NOSIGNAL: a client that vanished is an EPIPE error value,
        // never a SIGPIPE, whatever the process's signal settings.
        const cpc::io_result w = co_await cpc::send(fd, buf.data(), r.bytes, 0);
        if (!w) break;
        st.echoed_bytes += w.bytes;
    }
    // cpc::close, not ::close: the loop forgets the fd before its number can be reused.
    cpc::close(fd);
    --st.live_clients;
}

// Figure 1. The listening thread waits for connections and spawns a thread for each.
cpc::task<void> listening(server_state& st) {
    while (!st.stopping) {
        // `&st.stop` makes the wait interruptible: signalling st.stop ends the accept with
        // std::errc::operation_canceled. That is how a cpc thread is told to stop.
        cpc::accept_result a = co_await cpc::accept(st.listen_fd, nullptr, nullptr, &st.stop);
        if (!a) {
            if (a.error == std::errc::operation_canceled) break;
            // EMFILE/ENFILE: out of descriptors. Back off a little instead of spinning; the
            // pending connection waits in the kernel's backlog meanwhile.
            std::fprintf(stderr, "accept: %s\n", a.error.message().c_str());
            co_await cpc::sleep(100ms, &st.stop);
            continue;
        }
        ++st.accepted;
        // The new thread starts at the next turn of the loop; this one goes back to waiting.
        cpc::spawn(client(st, a.fd));
    }
    cpc::close(st.listen_fd);
}

void request_stop(server_state& st) {
    st.stopping = true;
    st.stop.signal_all();  // wakes the accept wait, wherever it is
}

// ---- self-test: clients are cpc threads too, in the same loop as the server ----------

struct self_test {
    std::uint16_t port = 0;
    std::size_t clients = 50;
    std::size_t finished = 0;
    std::size_t failures = 0;
    example::watchdog dog;  // fails the test if it hangs
};

// A client thread: sends a few messages of different sizes and checks each echo.
cpc::task<void> echo_client(server_state& st, self_test& t, std::size_t id) {
    example::line_client c;
    bool ok = co_await c.connect(t.port);
    for (std::size_t round = 0; ok && round < 4; ++round) {
        // Sizes up to 64 KiB: larger than socket buffers, so sends and reads interleave.
        const std::size_t size = 16 + ((id * 7919 + round * 104729) % (64 * 1024));
        std::string message(size, '\0');
        for (std::size_t i = 0; i < size; ++i)
            message[i] = static_cast<char>('a' + (i + id) % 26);
        // Send a slice, read its echo back, next slice: one thread can then never fill
        // both directions' socket buffers and deadlock with the server.
        std::string echoed;
        for (std::size_t off = 0; ok && off < size; off += 4096) {
            const std::size_t n = std::min<std::size_t>(4096, size - off);
            ok = co_await c.send(message.substr(off, n));
            while (ok && echoed.size() < off + n) {
                char buf[4096];
                std::optional<cpc::io_result> r =
                    co_await cpc::with_timeout(5s, cpc::read(c.fd(), buf, sizeof buf));
                ok = r && *r && r->bytes > 0;
                if (ok) echoed.append(buf, r->bytes);
            }
        }
        ok = ok && echoed == message;
    }
    c.close();  // the server's thread for this client sees end of file and ends
    if (!ok) ++t.failures;
    if (++t.finished == t.clients) {  // the last client stops the server
        request_stop(st);
        t.dog.finish();
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::uint16_t port = 7001;
    bool run_self_test = false;
    self_test t;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--port" && i + 1 < argc) {
            port = example::parse_port(argv[++i]);
        } else if (a == "--self-test") {
            run_self_test = true;
        } else if (a == "--clients" && i + 1 < argc) {
            t.clients = static_cast<std::size_t>(example::parse_long(argv[++i], 1, 500, "clients"));
        } else {
            std::printf(
                "usage: %s [--port N] [--self-test [--clients N]]\n"
                "  an echo server on 127.0.0.1 (Figure 1 of the CPC paper)\n",
                argv[0]);
            return a == "--help" ? 0 : 2;
        }
    }

    server_state st;
    st.listen_fd = example::listen_loopback(port, &t.port);
    std::printf("echo server on 127.0.0.1:%u (try: nc 127.0.0.1 %u)\n", t.port, t.port);
    std::fflush(stdout);

    if (run_self_test) cpc::spawn(t.dog.run(20s));
    cpc::spawn(listening(st));
    if (run_self_test) {
        for (std::size_t i = 0; i < t.clients; ++i)
            cpc::spawn(echo_client(st, t, i));
    }

    // Runs until nothing is left to do: here, until the listening thread and every client
    // thread have ended. Without --self-test that is never.
    const cpc::run_result r = cpc::main_loop();

    if (!run_self_test) return 0;
    std::printf("self-test: %zu clients, %zu accepted, %zu bytes echoed\n", t.clients, st.accepted,
                st.echoed_bytes);
    bool ok = example::check(t.failures == 0, "every client got its messages back");
    ok &= example::check(st.accepted == t.clients, "one accepted connection per client");
    ok &= example::check(st.live_clients == 0, "every server thread ended");
    ok &= example::check(r.blocked_threads == 0, "no thread left blocked");
    return ok ? 0 : 1;
}
