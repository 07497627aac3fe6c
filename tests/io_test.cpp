// The I/O wrappers on pipes, socketpairs and TCP loopback: short writes continued, EOF,
// accept/connect, sendfile, errors as values, interruption, and the blocking forms on a pool.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

constexpr std::size_t kMiB = std::size_t{1} << 20;

std::vector<char> make_pattern(std::size_t n, unsigned seed = 0) {
    std::vector<char> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<char>(pattern(i, seed));
    return v;
}

// Reads fd to its end in chunks of `chunk` bytes, yielding after each read: a slow reader.
cpc::task<void> read_all(int fd, std::size_t chunk, std::vector<char>* out,
                         std::error_code* error) {
    std::vector<char> buf(chunk);
    for (;;) {
        const cpc::io_result r = co_await cpc::read(fd, buf.data(), buf.size());
        if (r.error) {
            *error = r.error;
            co_return;
        }
        if (r.bytes == 0) co_return;
        out->insert(out->end(), buf.data(), buf.data() + r.bytes);
        co_await cpc::yield();
    }
}

// Writes with cpc::write, then closes the fd so that the reader sees the end.
cpc::task<void> write_then_close(int* fd, const std::vector<char>* data, cpc::io_result* r) {
    *r = co_await cpc::write(*fd, data->data(), data->size());
    cpc::close(*fd);
    *fd = -1;
}

TEST(Io, LargeWriteAgainstASlowReaderOnASocketpair) {
    const std::vector<char> data = make_pattern(8 * kMiB);
    socket_pair s;
    cpc::io_result w;
    std::vector<char> got;
    std::error_code read_error;
    cpc::spawn(write_then_close(&s.fd[0], &data, &w));
    cpc::spawn(read_all(s.fd[1], 4096, &got, &read_error));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_FALSE(w.error) << w.error.message();
    EXPECT_EQ(w.bytes, data.size());
    EXPECT_FALSE(read_error) << read_error.message();
    ASSERT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data);
}

TEST(Io, LargeWriteAgainstASlowReaderOnAPipe) {
    const std::vector<char> data = make_pattern(4 * kMiB, 3);
    pipe_pair p;
    cpc::io_result w;
    std::vector<char> got;
    std::error_code read_error;
    cpc::spawn(write_then_close(&p.write_end, &data, &w));
    cpc::spawn(read_all(p.read_end, 1000, &got, &read_error));
    cpc_test::main_loop();
    EXPECT_FALSE(w.error);
    EXPECT_EQ(w.bytes, data.size());
    EXPECT_FALSE(read_error);
    EXPECT_TRUE(got == data);
}

TEST(Io, WritevLargerThanTheSocketBuffer) {
    // Buffers of awkward sizes, an empty one among them; the whole exceeds the socket buffer
    // many times, so writev is short and continues from the middle of a vector.
    std::vector<std::vector<char>> parts;
    unsigned seed = 0;
    for (std::size_t n : {std::size_t{1}, kMiB, std::size_t{0}, 3 * kMiB + 7, std::size_t{5},
                          2 * kMiB - 3, std::size_t{4096}}) {
        parts.push_back(make_pattern(n, ++seed));
    }
    std::vector<iovec> iov;
    std::vector<char> expected;
    for (auto& p : parts) {
        iov.push_back({p.data(), p.size()});
        expected.insert(expected.end(), p.begin(), p.end());
    }
    const std::vector<iovec> iov_before = iov;

    auto writer = [](int* fd, const std::vector<iovec>* iov, cpc::io_result* r) -> cpc::task<void> {
        *r = co_await cpc::writev(*fd, iov->data(), static_cast<int>(iov->size()));
        cpc::close(*fd);
        *fd = -1;
    };
    socket_pair s;
    cpc::io_result w;
    std::vector<char> got;
    std::error_code read_error;
    cpc::spawn(writer(&s.fd[0], &iov, &w));
    cpc::spawn(read_all(s.fd[1], 64 * 1024, &got, &read_error));
    cpc_test::main_loop();
    EXPECT_FALSE(w.error) << w.error.message();
    EXPECT_EQ(w.bytes, expected.size());
    EXPECT_TRUE(got == expected);
    // The caller's array is not modified.
    ASSERT_EQ(iov.size(), iov_before.size());
    for (std::size_t i = 0; i < iov.size(); ++i) {
        EXPECT_EQ(iov[i].iov_base, iov_before[i].iov_base);
        EXPECT_EQ(iov[i].iov_len, iov_before[i].iov_len);
    }
}

TEST(Io, ABatchedCloseEndsTheStreamAfterEverythingWritten) {
    auto replier = [](int fd) -> cpc::task<void> {
        const char head[] = "HTTP/1.1 200 OK\r\n\r\n";
        const char body[] = "hello";
        const iovec iov[] = {{const_cast<char*>(head), sizeof head - 1},
                             {const_cast<char*>(body), sizeof body - 1}};
        const cpc::io_result r = co_await cpc::writev(fd, iov, 2);
        EXPECT_FALSE(r.error) << r.error.message();
        EXPECT_EQ(r.bytes, sizeof head - 1 + sizeof body - 1);
        cpc::close_batched(fd);
    };
    socket_pair s;
    std::vector<char> got;
    std::error_code read_error;
    cpc::spawn(replier(s.fd[0]));
    s.fd[0] = -1;
    cpc::spawn(read_all(s.fd[1], 64, &got, &read_error));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_FALSE(read_error) << read_error.message();
    EXPECT_EQ(std::string(got.begin(), got.end()), "HTTP/1.1 200 OK\r\n\r\nhello");
}

TEST(Io, ABatchedCloseWakesAThreadWaitingOnTheFd) {
    // As close: the loop forgets the fd, so a read in progress on it ends with an error, and
    // the peer sees the end once the close reaches the kernel.
    auto reader = [](int fd, cpc::io_result* r) -> cpc::task<void> {
        char buf[16];
        *r = co_await cpc::read(fd, buf, sizeof buf);
    };
    auto closer = [](int fd, int peer, bool* peer_saw_end) -> cpc::task<void> {
        co_await cpc::yield();  // the reader waits now
        cpc::close_batched(fd);
        char buf[16];
        const cpc::io_result r = co_await cpc::read(peer, buf, sizeof buf);
        *peer_saw_end = !r.error && r.bytes == 0;
    };
    socket_pair s;
    cpc::io_result r;
    r.bytes = 99;
    bool peer_saw_end = false;
    cpc::spawn(reader(s.fd[0], &r));
    cpc::spawn(closer(s.fd[0], s.fd[1], &peer_saw_end));
    s.fd[0] = -1;
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_TRUE(r.error) << "a read on a closed fd succeeded";
    EXPECT_EQ(r.bytes, 0u);
    EXPECT_TRUE(peer_saw_end);
}

TEST(Io, WritevWithMoreVectorsThanIovMax) {
    constexpr std::size_t kVectors = 3 * IOV_MAX + 17;
    const std::vector<char> data = make_pattern(kVectors * 97, 5);
    std::vector<iovec> iov;
    for (std::size_t i = 0; i < kVectors; ++i) {
        iov.push_back({const_cast<char*>(data.data()) + i * 97, 97});
    }
    auto writer = [](int* fd, const std::vector<iovec>* iov, cpc::io_result* r) -> cpc::task<void> {
        *r = co_await cpc::writev(*fd, iov->data(), static_cast<int>(iov->size()));
        cpc::close(*fd);
        *fd = -1;
    };
    socket_pair s;
    cpc::io_result w;
    std::vector<char> got;
    std::error_code read_error;
    cpc::spawn(writer(&s.fd[0], &iov, &w));
    cpc::spawn(read_all(s.fd[1], 8192, &got, &read_error));
    cpc_test::main_loop();
    EXPECT_FALSE(w.error) << w.error.message();
    EXPECT_EQ(w.bytes, data.size());
    EXPECT_TRUE(got == data);
}

// n socket pairs, for tests with many readers.
std::vector<std::unique_ptr<socket_pair>> socket_pairs(int n) {
    std::vector<std::unique_ptr<socket_pair>> pairs;
    for (int i = 0; i < n; ++i)
        pairs.push_back(std::make_unique<socket_pair>());
    return pairs;
}

// Once the readers block (after a yield), writes "message i" into the i-th pair, all in one
// loop pass.
cpc::task<void> send_numbered_messages(std::vector<std::unique_ptr<socket_pair>>* pairs) {
    co_await cpc::yield();
    for (std::size_t i = 0; i < pairs->size(); ++i) {
        const std::string m = "message " + std::to_string(i);
        EXPECT_EQ(::write((*pairs)[i]->fd[1], m.data(), m.size()), static_cast<ssize_t>(m.size()));
    }
}

TEST(Io, ReadWaitsForDataAndReturnsZeroAtEof) {
    auto reader = [](int fd, std::vector<cpc::io_result>* results,
                     std::string* text) -> cpc::task<void> {
        char buf[64];
        for (;;) {
            const cpc::io_result r = co_await cpc::read(fd, buf, sizeof buf);
            results->push_back(r);
            if (r.error || r.bytes == 0) co_return;
            text->append(buf, r.bytes);
        }
    };
    auto writer = [](pipe_pair* p) -> cpc::task<void> {
        co_await cpc::sleep(2ms);
        const cpc::io_result r = co_await cpc::write(p->write_end, "hello", 5);
        EXPECT_EQ(r.bytes, 5u);
        co_await cpc::sleep(2ms);
        p->close_write();
    };
    pipe_pair p;
    std::vector<cpc::io_result> results;
    std::string text;
    cpc::spawn(reader(p.read_end, &results, &text));
    cpc::spawn(writer(&p));
    cpc_test::main_loop();
    EXPECT_EQ(text, "hello");
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].bytes, 5u);
    EXPECT_FALSE(results[1].error);
    EXPECT_EQ(results[1].bytes, 0u);
    EXPECT_TRUE(static_cast<bool>(results[1]));
}

TEST(Io, ABlockedReadTouchesTheCallersBufferOnlyOnceItsThreadRuns) {
    // One buffer shared by two threads of a loop, as a server's per-loop scratch: the reader
    // blocks in read on it while the other thread fills it, makes the reader's data arrive and
    // lets the loop look at the kernel. Until the reader runs again the buffer holds what the
    // other thread put there (on io_uring the data waits in a provided buffer, not in this one).
    struct shared_state {
        char buf[64];
        bool reader_resumed = false;
        cpc::io_result got;
        std::string text;
    };
    auto reader = [](int fd, shared_state* st) -> cpc::task<void> {
        st->got = co_await cpc::read(fd, st->buf, sizeof st->buf);
        st->reader_resumed = true;
        st->text.assign(st->buf, st->got.bytes);
    };
    auto other = [](int peer, shared_state* st) -> cpc::task<void> {
        co_await cpc::yield();  // the reader is blocked now
        std::memset(st->buf, 'x', sizeof st->buf);
        EXPECT_EQ(::write(peer, "late", 4), 4);
        for (int i = 0; i < 20 && !st->reader_resumed; ++i) {
            EXPECT_TRUE(std::all_of(std::begin(st->buf), std::end(st->buf), [](char c) {
                return c == 'x';
            })) << "the buffer of a blocked read changed before its thread ran";
            co_await cpc::sleep(1ms);
        }
    };
    socket_pair s;
    shared_state st;
    cpc::spawn(reader(s.fd[0], &st));
    cpc::spawn(other(s.fd[1], &st));
    cpc_test::main_loop();
    EXPECT_FALSE(st.got.error) << st.got.error.message();
    EXPECT_EQ(st.text, "late");
}

TEST(Io, MoreBlockedReadsThanTheLoopHasReceiveBuffers) {
    // 300 readers blocked at once and all their data arriving in one loop pass: more than an
    // io_uring loop's provided buffers (256), so some reads find none and wait for readiness.
    constexpr int kReaders = 300;
    auto reader = [](int fd, int i, int* correct) -> cpc::task<void> {
        char buf[32];
        const cpc::io_result r = co_await cpc::read(fd, buf, sizeof buf);
        const std::string want = "message " + std::to_string(i);
        EXPECT_EQ(std::string(buf, r.bytes), want);
        if (!r.error && std::string(buf, r.bytes) == want) ++*correct;
    };
    std::vector<std::unique_ptr<socket_pair>> pairs = socket_pairs(kReaders);
    int correct = 0;
    for (int i = 0; i < kReaders; ++i)
        cpc::spawn(reader(pairs[static_cast<std::size_t>(i)]->fd[0], i, &correct));
    cpc::spawn(send_numbered_messages(&pairs));
    cpc_test::main_loop();
    EXPECT_EQ(correct, kReaders);
}

TEST(Io, ALargeReadThatBlockedGetsEveryByteOverSeveralCalls) {
    // Reads of 64 KiB that block: on io_uring each returns what one provided buffer held, and
    // the next call takes the rest; no byte is lost or reordered.
    auto reader = [](int fd, std::vector<char>* out) -> cpc::task<void> {
        std::vector<char> buf(64 * 1024);
        for (;;) {
            const cpc::io_result r = co_await cpc::read(fd, buf.data(), buf.size());
            EXPECT_FALSE(r.error) << r.error.message();
            if (r.error || r.bytes == 0) co_return;
            out->insert(out->end(), buf.data(), buf.data() + r.bytes);
        }
    };
    auto writer = [](socket_pair* s, const std::vector<char>* data) -> cpc::task<void> {
        for (std::size_t done = 0; done < data->size(); done += 10'000) {
            co_await cpc::sleep(1ms);  // the reader is blocked again
            const std::size_t n = std::min<std::size_t>(10'000, data->size() - done);
            EXPECT_EQ((co_await cpc::write(s->fd[1], data->data() + done, n)).bytes, n);
        }
        s->close(1);
    };
    socket_pair s;
    const std::vector<char> data = make_pattern(100'000, 7);
    std::vector<char> got;
    cpc::spawn(reader(s.fd[0], &got));
    cpc::spawn(writer(&s, &data));
    cpc_test::main_loop();
    EXPECT_TRUE(got == data) << "got " << got.size() << " bytes of " << data.size();
}

TEST(Io, ReadExpectingWaitGetsWhatIsThereWhatComesLaterAndTheEnd) {
    auto reader = [](int fd, std::vector<std::string>* got) -> cpc::task<void> {
        char buf[64];
        for (;;) {
            const cpc::io_result r = co_await cpc::read_expecting_wait(fd, buf, sizeof buf);
            EXPECT_FALSE(r.error) << r.error.message();
            if (r.error || r.bytes == 0) co_return;
            got->emplace_back(buf, r.bytes);
        }
    };
    auto writer = [](socket_pair* s) -> cpc::task<void> {
        co_await cpc::sleep(2ms);  // the reader waits now
        EXPECT_EQ(::write(s->fd[1], "later", 5), 5);
        co_await cpc::sleep(2ms);
        s->close(1);
    };
    socket_pair s;
    EXPECT_EQ(::write(s.fd[1], "early", 5), 5);  // there before the first call
    std::vector<std::string> got;
    cpc::spawn(reader(s.fd[0], &got));
    cpc::spawn(writer(&s));
    cpc_test::main_loop();
    EXPECT_EQ(got, (std::vector<std::string>{"early", "later"}));
}

TEST(Io, ReadsExpectingWaitShareOneScratchBufferAsAServersIdleConnectionsDo) {
    // httpd's idle connections: 300 threads wait on one scratch buffer (more than the ring's
    // 256 buffers), and each copies its bytes out as soon as it runs. Since the scratch is
    // written only while its reader's thread runs, every thread finds its own message.
    constexpr int kReaders = 300;
    struct shared_scratch {
        char buf[32];
        int correct = 0;
    };
    auto reader = [](int fd, int i, shared_scratch* sc) -> cpc::task<void> {
        const cpc::io_result r = co_await cpc::read_expecting_wait(fd, sc->buf, sizeof sc->buf);
        const std::string got(sc->buf, r.bytes);
        const std::string want = "message " + std::to_string(i);
        EXPECT_EQ(got, want);
        if (!r.error && got == want) ++sc->correct;
        std::memset(sc->buf, 'x', sizeof sc->buf);
    };
    std::vector<std::unique_ptr<socket_pair>> pairs = socket_pairs(kReaders);
    shared_scratch scratch;
    for (int i = 0; i < kReaders; ++i)
        cpc::spawn(reader(pairs[static_cast<std::size_t>(i)]->fd[0], i, &scratch));
    cpc::spawn(send_numbered_messages(&pairs));
    cpc_test::main_loop();
    EXPECT_EQ(scratch.correct, kReaders);
}

TEST(Io, AReadExpectingWaitIsInterruptedAndLeavesItsBufferAlone) {
    // Interrupted by its condvar, and by a with_timeout deadline; bytes sent after the
    // interruption are not taken from the socket, and the buffer is never written.
    struct outcome {
        char buf[16];
        cpc::io_result by_condvar;
        std::optional<cpc::io_result> by_deadline;
    };
    auto waits = [](int fd, cpc::condvar* cv, outcome* o) -> cpc::task<void> {
        o->by_condvar = co_await cpc::read_expecting_wait(fd, o->buf, sizeof o->buf, cv);
        o->by_deadline =
            co_await cpc::with_timeout(5ms, cpc::read_expecting_wait(fd, o->buf, sizeof o->buf));
    };
    auto interrupter = [](cpc::condvar* cv) -> cpc::task<void> {
        co_await cpc::sleep(2ms);
        cv->signal_all();
    };
    socket_pair s;
    outcome o;
    std::memset(o.buf, 'p', sizeof o.buf);
    cpc::condvar cv;
    cpc::spawn(waits(s.fd[0], &cv, &o));
    cpc::spawn(interrupter(&cv));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(o.by_condvar.error, std::errc::operation_canceled);
    EXPECT_EQ(o.by_condvar.bytes, 0u);
    EXPECT_FALSE(o.by_deadline.has_value());
    EXPECT_EQ(::write(s.fd[1], "after", 5), 5);
    EXPECT_TRUE(std::all_of(std::begin(o.buf), std::end(o.buf), [](char c) { return c == 'p'; }));
    char rest[16];
    EXPECT_EQ(::read(s.fd[0], rest, sizeof rest), 5) << "bytes sent later were taken";
}

TEST(Io, SocketShutdownGivesEof) {
    auto body = [](socket_pair* s, cpc::io_result* r) -> cpc::task<void> {
        EXPECT_EQ(::shutdown(s->fd[0], SHUT_WR), 0);
        char c;
        *r = co_await cpc::recv(s->fd[1], &c, 1, 0);
    };
    socket_pair s;
    cpc::io_result r;
    r.bytes = 99;
    run_main(body(&s, &r));
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.bytes, 0u);
}

TEST(Io, SendAndRecvWithFlags) {
    auto body = [](socket_pair* s, std::string* peeked, std::string* got) -> cpc::task<void> {
        const cpc::io_result w = co_await cpc::send(s->fd[0], "abcdef", 6, 0);
        EXPECT_EQ(w.bytes, 6u);
        char buf[16];
        const cpc::io_result p = co_await cpc::recv(s->fd[1], buf, 3, MSG_PEEK);
        peeked->assign(buf, p.bytes);
        const cpc::io_result r = co_await cpc::recv(s->fd[1], buf, sizeof buf, 0);
        got->assign(buf, r.bytes);
    };
    socket_pair s;
    std::string peeked;
    std::string got;
    run_main(body(&s, &peeked, &got));
    EXPECT_EQ(peeked, "abc");
    EXPECT_EQ(got, "abcdef");
}

// A listening TCP socket on 127.0.0.1 with an ephemeral port.
struct listener {
    int fd = -1;
    sockaddr_in addr{};
    explicit listener(bool listen = true) {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        socklen_t len = sizeof addr;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            (listen && ::listen(fd, 64) != 0) ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            throw std::system_error(errno, std::generic_category(), "bind/listen");
        }
    }
    ~listener() { cpc::close(fd); }
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
};

int tcp_socket() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    return fd;
}

cpc::task<void> echo_server(int listen_fd, int connections, std::vector<std::string>* peers) {
    for (int i = 0; i < connections; ++i) {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        const cpc::accept_result a =
            co_await cpc::accept(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len);
        EXPECT_FALSE(a.error) << a.error.message();
        if (a.error) co_return;
        EXPECT_NE(::fcntl(a.fd, F_GETFL) & O_NONBLOCK, 0) << "accepted fd is blocking";
        EXPECT_NE(::fcntl(a.fd, F_GETFD) & FD_CLOEXEC, 0) << "accepted fd is not close-on-exec";
        char ip[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        peers->push_back(ip);
        cpc::spawn([](int fd) -> cpc::task<void> {
            std::vector<char> buf(64 * 1024);
            for (;;) {
                const cpc::io_result r = co_await cpc::read(fd, buf.data(), buf.size());
                if (r.error || r.bytes == 0) break;
                const cpc::io_result w = co_await cpc::write(fd, buf.data(), r.bytes);
                if (w.error) break;
            }
            cpc::close(fd);
        }(a.fd));
    }
}

TEST(Io, AcceptExpectingWaitTakesPendingAndLaterConnectionsAndIsInterrupted) {
    // Knot-C's listener: one connection pending before the call, one that comes while it
    // waits, then a wait that only an interruption ends.
    struct outcome {
        std::vector<cpc::accept_result> accepted;
        cpc::accept_result interrupted;
    };
    auto listener_thread = [](int listen_fd, cpc::condvar* cv, outcome* o) -> cpc::task<void> {
        for (int i = 0; i < 2; ++i) {
            sockaddr_in peer{};
            socklen_t len = sizeof peer;
            const cpc::accept_result a = co_await cpc::accept_expecting_wait(
                listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, cv);
            o->accepted.push_back(a);
            EXPECT_EQ(peer.sin_family, AF_INET);
        }
        o->interrupted = co_await cpc::accept_expecting_wait(listen_fd, nullptr, nullptr, cv);
    };
    auto late_client = [](const sockaddr_in* addr, int* fd) -> cpc::task<void> {
        co_await cpc::sleep(2ms);  // the listener waits now
        *fd = tcp_socket();
        const std::error_code e =
            co_await cpc::connect(*fd, reinterpret_cast<const sockaddr*>(addr), sizeof *addr);
        EXPECT_FALSE(e) << e.message();
    };
    auto interrupter = [](cpc::condvar* cv) -> cpc::task<void> {
        co_await cpc::sleep(20ms);
        cv->signal_all();
    };
    listener l;
    const int early = tcp_socket();
    const int r = ::connect(early, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr);
    EXPECT_TRUE(r == 0 || errno == EINPROGRESS);
    int late = -1;
    cpc::condvar cv;
    outcome o;
    o.interrupted.fd = 99;
    cpc::spawn(listener_thread(l.fd, &cv, &o));
    cpc::spawn(late_client(&l.addr, &late));
    cpc::spawn(interrupter(&cv));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    ASSERT_EQ(o.accepted.size(), 2u);
    for (const cpc::accept_result& a : o.accepted) {
        EXPECT_FALSE(a.error) << a.error.message();
        EXPECT_GE(a.fd, 0);
        EXPECT_NE(::fcntl(a.fd, F_GETFL) & O_NONBLOCK, 0) << "accepted fd is blocking";
        if (a.fd >= 0) cpc::close(a.fd);
    }
    EXPECT_EQ(o.interrupted.error, std::errc::operation_canceled);
    EXPECT_EQ(o.interrupted.fd, -1);
    cpc::close(early);
    if (late >= 0) cpc::close(late);
}

TEST(Io, AcceptAndConnectOnLoopback) {
    auto client = [](const sockaddr_in* addr, std::string* reply) -> cpc::task<void> {
        const int fd = tcp_socket();
        const std::error_code e =
            co_await cpc::connect(fd, reinterpret_cast<const sockaddr*>(addr), sizeof *addr);
        EXPECT_FALSE(e) << e.message();
        const cpc::io_result w = co_await cpc::write(fd, "ping", 4);
        EXPECT_EQ(w.bytes, 4u);
        char buf[16];
        std::size_t got = 0;
        while (got < 4) {
            const cpc::io_result r = co_await cpc::read(fd, buf + got, sizeof buf - got);
            if (r.error || r.bytes == 0) break;
            got += r.bytes;
        }
        reply->assign(buf, got);
        cpc::close(fd);
    };
    listener l;
    std::vector<std::string> peers;
    std::string replies[3];
    cpc::spawn(echo_server(l.fd, 3, &peers));
    for (auto& r : replies)
        cpc::spawn(client(&l.addr, &r));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    for (auto& r : replies)
        EXPECT_EQ(r, "ping");
    EXPECT_EQ(peers, (std::vector<std::string>{"127.0.0.1", "127.0.0.1", "127.0.0.1"}));
}

TEST(Io, TryAcceptTakesWhatIsPendingWithoutWaiting) {
    listener l;
    errno = 0;
    EXPECT_EQ(cpc::try_accept(l.fd), -1);  // nothing pending: no wait
    EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
    int clients[2];
    for (int& c : clients) {
        c = tcp_socket();
        const int r = ::connect(c, reinterpret_cast<const sockaddr*>(&l.addr), sizeof l.addr);
        ASSERT_TRUE(r == 0 || errno == EINPROGRESS) << std::strerror(errno);
    }
    // Loopback connections are in the accept queue once connect has returned.
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    const int first = cpc::try_accept(l.fd, reinterpret_cast<sockaddr*>(&peer), &len);
    ASSERT_GE(first, 0) << std::strerror(errno);
    EXPECT_EQ(peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    EXPECT_TRUE(::fcntl(first, F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(first, F_GETFD) & FD_CLOEXEC);
    const int second = cpc::try_accept(l.fd);
    ASSERT_GE(second, 0) << std::strerror(errno);
    EXPECT_EQ(cpc::try_accept(l.fd), -1);
    EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
    for (int fd : {first, second, clients[0], clients[1]})
        cpc::close(fd);
    errno = 0;
    EXPECT_EQ(cpc::try_accept(-1), -1);  // any other error comes back as it is
    EXPECT_EQ(errno, EBADF);
}

TEST(Io, TryReadTakesWhatIsThereWithoutWaiting) {
    socket_pair s;
    char buf[16];
    errno = 0;
    EXPECT_EQ(cpc::try_read(s.fd[0], buf, sizeof buf), -1);  // nothing there: no wait
    EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
    ASSERT_EQ(::write(s.fd[1], "hello", 5), 5);
    EXPECT_EQ(cpc::try_read(s.fd[0], buf, 3), 3);  // at most len
    EXPECT_EQ(std::string(buf, 3), "hel");
    EXPECT_EQ(cpc::try_read(s.fd[0], buf, sizeof buf), 2);
    EXPECT_EQ(std::string(buf, 2), "lo");
    s.close(1);
    EXPECT_EQ(cpc::try_read(s.fd[0], buf, sizeof buf), 0);  // end of file
    errno = 0;
    EXPECT_EQ(cpc::try_read(-1, buf, sizeof buf), -1);  // any other error comes back as it is
    EXPECT_EQ(errno, EBADF);
}

TEST(Io, TryWritevWritesWhatFitsWithoutWaiting) {
    socket_pair s;
    std::string a = "abc", b = "defg";
    const iovec two[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
    EXPECT_EQ(cpc::try_writev(s.fd[0], two, 2), 7);
    EXPECT_EQ(two[0].iov_base, a.data());  // the array is not modified
    char buf[16];
    ASSERT_EQ(::read(s.fd[1], buf, sizeof buf), 7);
    EXPECT_EQ(std::string(buf, 7), "abcdefg");
    // More than the socket takes: one call writes what fits, the next finds no room.
    std::string big(1 << 23, 'x');
    const iovec one{big.data(), big.size()};
    const ssize_t first = cpc::try_writev(s.fd[0], &one, 1);
    ASSERT_GT(first, 0) << std::strerror(errno);
    EXPECT_LT(static_cast<std::size_t>(first), big.size());
    errno = 0;
    EXPECT_EQ(cpc::try_writev(s.fd[0], &one, 1), -1);
    EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
    // More vectors than IOV_MAX: one call of IOV_MAX of them, not EINVAL.
    socket_pair t;
    std::vector<char> bytes(IOV_MAX + 5, 'y');
    std::vector<iovec> many;
    for (char& c : bytes)
        many.push_back({&c, 1});
    EXPECT_EQ(cpc::try_writev(t.fd[0], many.data(), static_cast<int>(many.size())), IOV_MAX);
    errno = 0;
    EXPECT_EQ(cpc::try_writev(-1, two, 2), -1);  // any other error comes back as it is
    EXPECT_EQ(errno, EBADF);
}

TEST(Io, LargeTransferBothWaysOverTcp) {
    // One client thread writes 4 MiB while another reads the echo on the same socket.
    auto client = [](const sockaddr_in* addr, const std::vector<char>* data,
                     std::vector<char>* echoed) -> cpc::task<void> {
        const int fd = tcp_socket();
        const std::error_code e =
            co_await cpc::connect(fd, reinterpret_cast<const sockaddr*>(addr), sizeof *addr);
        EXPECT_FALSE(e);
        cpc::task_group g;
        g.spawn([](int fd, const std::vector<char>* data) -> cpc::task<void> {
            const cpc::io_result w = co_await cpc::write(fd, data->data(), data->size());
            EXPECT_EQ(w.bytes, data->size());
            ::shutdown(fd, SHUT_WR);
        }(fd, data));
        std::error_code read_error;
        g.spawn(read_all(fd, 32 * 1024, echoed, &read_error));
        co_await g.join();
        EXPECT_FALSE(read_error);
        cpc::close(fd);
    };
    const std::vector<char> data = make_pattern(4 * kMiB, 9);
    listener l;
    std::vector<std::string> peers;
    std::vector<char> echoed;
    cpc::spawn(echo_server(l.fd, 1, &peers));
    cpc::spawn(client(&l.addr, &data, &echoed));
    cpc_test::main_loop();
    EXPECT_EQ(echoed.size(), data.size());
    EXPECT_TRUE(echoed == data);
}

TEST(Io, ConnectToAClosedPortIsRefused) {
    // A port bound but not listening refuses connections, and nobody else can take it.
    listener not_listening(false);
    auto body = [](const sockaddr_in* addr, std::error_code* e) -> cpc::task<void> {
        const int fd = tcp_socket();
        *e = co_await cpc::connect(fd, reinterpret_cast<const sockaddr*>(addr), sizeof *addr);
        cpc::close(fd);
    };
    std::error_code e;
    run_main(body(&not_listening.addr, &e));
    EXPECT_EQ(e, std::errc::connection_refused) << e.message();
}

TEST(Io, Sendfile) {
    char path[] = "/tmp/cpc_sendfile_XXXXXX";
    const int file = ::mkstemp(path);
    ASSERT_GE(file, 0);
    ::unlink(path);
    const std::vector<char> content = make_pattern(3 * kMiB + 123, 11);
    ASSERT_EQ(::write(file, content.data(), content.size()), static_cast<ssize_t>(content.size()));

    auto sender = [](int* out, int file, off_t* offset, std::size_t len,
                     cpc::io_result* r) -> cpc::task<void> {
        *r = co_await cpc::sendfile(*out, file, offset, len);
        cpc::close(*out);
        *out = -1;
    };
    // From offset 100 to the end.
    socket_pair s;
    off_t offset = 100;
    const std::size_t len = content.size() - 100;
    cpc::io_result r;
    std::vector<char> got;
    std::error_code read_error;
    cpc::spawn(sender(&s.fd[0], file, &offset, len, &r));
    cpc::spawn(read_all(s.fd[1], 16 * 1024, &got, &read_error));
    cpc_test::main_loop();
    ::close(file);
    EXPECT_FALSE(r.error) << r.error.message();
    EXPECT_EQ(r.bytes, len);
    EXPECT_EQ(offset, static_cast<off_t>(content.size()));
    ASSERT_EQ(got.size(), len);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), content.begin() + 100));
}

TEST(Io, WriteToAClosedSocketIsEpipe) {
    // Errors come back as values. A write to a socket whose peer is gone must not raise
    // SIGPIPE (which would kill this test).
    auto body = [](socket_pair* s, std::vector<cpc::io_result>* results) -> cpc::task<void> {
        s->close(1);
        const std::vector<char> data(64 * 1024, 'x');
        results->push_back(co_await cpc::write(s->fd[0], data.data(), data.size()));
        iovec iov[2] = {{const_cast<char*>(data.data()), 10}, {const_cast<char*>(data.data()), 10}};
        results->push_back(co_await cpc::writev(s->fd[0], iov, 2));
        results->push_back(co_await cpc::send(s->fd[0], data.data(), data.size(), 0));
    };
    socket_pair s;
    std::vector<cpc::io_result> results;
    run_main(body(&s, &results));
    ASSERT_EQ(results.size(), 3u);
    for (const cpc::io_result& r : results) {
        EXPECT_EQ(r.error, std::errc::broken_pipe) << r.error.message();
        EXPECT_FALSE(static_cast<bool>(r));
        EXPECT_EQ(r.bytes, 0u);
    }
}

TEST(Io, WriteToAPipeWithoutReaderIsEpipe) {
    auto body = [](pipe_pair* p, cpc::io_result* r) -> cpc::task<void> {
        p->close_read();
        *r = co_await cpc::write(p->write_end, "x", 1);
    };
    pipe_pair p;
    cpc::io_result r;
    run_main(body(&p, &r));
    EXPECT_EQ(r.error, std::errc::broken_pipe) << r.error.message();
}

TEST(Io, SendfileToAClosedSocketIsEpipe) {
    char path[] = "/tmp/cpc_sendfile_XXXXXX";
    const int file = ::mkstemp(path);
    ASSERT_GE(file, 0);
    ::unlink(path);
    ASSERT_EQ(::write(file, "0123456789", 10), 10);
    auto body = [](socket_pair* s, int file, cpc::io_result* r) -> cpc::task<void> {
        s->close(1);
        off_t offset = 0;
        *r = co_await cpc::sendfile(s->fd[0], file, &offset, 10);
    };
    socket_pair s;
    cpc::io_result r;
    run_main(body(&s, file, &r));
    ::close(file);
    EXPECT_EQ(r.error, std::errc::broken_pipe) << r.error.message();
}

TEST(Io, OtherErrorsComeBackAsValues) {
    auto body = [](std::vector<std::error_code>* errors) -> cpc::task<void> {
        char buf[8];
        const cpc::io_result r = co_await cpc::read(-1, buf, sizeof buf);
        errors->push_back(r.error);
        const cpc::io_result w = co_await cpc::write(-1, buf, sizeof buf);
        errors->push_back(w.error);
        // accept on a socket that is not listening.
        const int fd = tcp_socket();
        const cpc::accept_result a = co_await cpc::accept(fd);
        errors->push_back(a.error);
        EXPECT_EQ(a.fd, -1);
        cpc::close(fd);
        errors->push_back(cpc::set_nonblocking(-1));
    };
    std::vector<std::error_code> errors;
    run_main(body(&errors));
    ASSERT_EQ(errors.size(), 4u);
    EXPECT_EQ(errors[0], std::errc::bad_file_descriptor);
    EXPECT_EQ(errors[1], std::errc::bad_file_descriptor);
    EXPECT_EQ(errors[2], std::errc::invalid_argument);
    EXPECT_EQ(errors[3], std::errc::bad_file_descriptor);
}

TEST(Io, SetNonblocking) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    EXPECT_EQ(::fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    EXPECT_FALSE(cpc::set_nonblocking(p[0]));
    EXPECT_NE(::fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    ::close(p[0]);
    ::close(p[1]);
}

TEST(Io, InterruptedReadAcceptAndWrite) {
    auto interrupter = [](cpc::condvar* cv) -> cpc::task<void> {
        co_await cpc::sleep(10ms);
        EXPECT_EQ(cv->count(), 3u);
        cv->signal_all();
    };
    auto reader = [](int fd, cpc::condvar* cv, cpc::io_result* r) -> cpc::task<void> {
        char buf[8];
        *r = co_await cpc::read(fd, buf, sizeof buf, cv);
    };
    auto acceptor = [](int fd, cpc::condvar* cv, cpc::accept_result* r) -> cpc::task<void> {
        *r = co_await cpc::accept(fd, nullptr, nullptr, cv);
    };
    auto writer = [](int fd, const std::vector<char>* data, cpc::condvar* cv,
                     cpc::io_result* r) -> cpc::task<void> {
        *r = co_await cpc::write(fd, data->data(), data->size(), cv);
    };
    pipe_pair p;
    socket_pair s;  // nobody reads s.fd[1]: the write fills the buffer and waits
    listener l;
    const std::vector<char> data(8 * kMiB, 'w');
    cpc::condvar cv;
    cpc::io_result read_result;
    read_result.bytes = 99;
    cpc::accept_result accept_result;
    accept_result.fd = 99;
    cpc::io_result write_result;
    cpc::spawn(reader(p.read_end, &cv, &read_result));
    cpc::spawn(acceptor(l.fd, &cv, &accept_result));
    cpc::spawn(writer(s.fd[0], &data, &cv, &write_result));
    cpc::spawn(interrupter(&cv));
    const auto start = clock::now();
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_LT(since(start), 2s);
    EXPECT_EQ(read_result.error, std::errc::operation_canceled);
    EXPECT_EQ(read_result.bytes, 0u);
    EXPECT_EQ(accept_result.error, std::errc::operation_canceled);
    EXPECT_EQ(accept_result.fd, -1);
    EXPECT_EQ(write_result.error, std::errc::operation_canceled);
    // The bytes moved before the interruption are reported.
    EXPECT_GT(write_result.bytes, 0u);
    EXPECT_LT(write_result.bytes, data.size());
}

TEST(Io, DetachedThreadUsesTheSameWrappersAsBlockingCalls) {
    // A thread on the pool writes 2 MiB and reads a reply with the same wrappers, on the
    // same non-blocking socket, while a loop thread serves the other end.
    auto detached_side = [](int fd, const std::vector<char>* data, std::string* reply,
                            std::thread::id* where) -> cpc::task<void> {
        cpc::scheduler& home = co_await cpc::attach(cpc::default_pool());
        *where = kernel_thread();
        const cpc::io_result w = co_await cpc::write(fd, data->data(), data->size());
        EXPECT_FALSE(w.error);
        EXPECT_EQ(w.bytes, data->size());
        char buf[16];
        const cpc::io_result r = co_await cpc::read(fd, buf, sizeof buf);
        EXPECT_FALSE(r.error);
        reply->assign(buf, r.bytes);
        co_await cpc::attach(home);
    };
    auto loop_side = [](int fd, std::size_t expect, std::vector<char>* got) -> cpc::task<void> {
        std::vector<char> buf(4096);
        while (got->size() < expect) {
            const cpc::io_result r = co_await cpc::read(fd, buf.data(), buf.size());
            if (r.error || r.bytes == 0) break;
            got->insert(got->end(), buf.data(), buf.data() + r.bytes);
        }
        co_await cpc::sleep(5ms);  // the pool thread now blocks in its read
        const cpc::io_result w = co_await cpc::write(fd, "done", 4);
        EXPECT_EQ(w.bytes, 4u);
    };
    const std::vector<char> data = make_pattern(2 * kMiB, 21);
    socket_pair s;
    std::string reply;
    std::vector<char> got;
    std::thread::id where;
    cpc::spawn(detached_side(s.fd[0], &data, &reply, &where));
    cpc::spawn(loop_side(s.fd[1], data.size(), &got));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_NE(where, kernel_thread());
    EXPECT_TRUE(got == data);
    EXPECT_EQ(reply, "done");
}

TEST(Io, DetachedConnectAndAccept) {
    auto detached_client = [](const sockaddr_in* addr, std::string* reply) -> cpc::task<void> {
        cpc::scheduler& home = co_await cpc::attach(cpc::default_pool());
        const int fd = tcp_socket();
        const std::error_code e =
            co_await cpc::connect(fd, reinterpret_cast<const sockaddr*>(addr), sizeof *addr);
        EXPECT_FALSE(e) << e.message();
        const cpc::io_result w = co_await cpc::send(fd, "pool", 4, 0);
        EXPECT_EQ(w.bytes, 4u);
        char buf[16];
        std::size_t got = 0;
        while (got < 4) {
            const cpc::io_result r = co_await cpc::recv(fd, buf + got, sizeof buf - got, 0);
            if (r.error || r.bytes == 0) break;
            got += r.bytes;
        }
        reply->assign(buf, got);
        ::close(fd);  // not known to any loop
        co_await cpc::attach(home);
    };
    auto detached_server = [](int listen_fd) -> cpc::task<void> {
        cpc::scheduler& home = co_await cpc::attach(cpc::default_pool());
        const cpc::accept_result a = co_await cpc::accept(listen_fd);
        EXPECT_FALSE(a.error);
        co_await cpc::attach(home);
        // Back on the loop: echo with the non-blocking forms.
        char buf[16];
        const cpc::io_result r = co_await cpc::read(a.fd, buf, sizeof buf);
        const cpc::io_result w = co_await cpc::write(a.fd, buf, r.bytes);
        EXPECT_EQ(w.bytes, r.bytes);
        cpc::close(a.fd);
    };
    listener l;
    std::string reply;
    cpc::spawn(detached_server(l.fd));
    cpc::spawn(detached_client(&l.addr, &reply));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(reply, "pool");
}

}  // namespace
