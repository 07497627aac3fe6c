// Interruption of an operation in flight and closing an fd under a blocked thread. On io_uring
// both cancel an operation the kernel holds: the thread must resume only once the kernel has
// let go of its buffer (io_op.hpp), and a closed socket must not be kept open by an operation.
// The reads here are io_uring read operations into the caller's buffer, made with cpc::io_op
// (cpc::read reads into the loop's provided buffers instead, io.cpp says why); the tests that
// need them are skipped on epoll.
#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>
#include <atomic>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "cpc/io_op.hpp"
#include "test_support.hpp"

namespace {

using namespace cpc_test;

constexpr unsigned char kPoison = 0xA5;
constexpr char kLate[] = "late data";

bool on_io_uring() {
    return cpc::default_loop().backend() == cpc::backend_kind::io_uring;
}

struct read_args {
    int fd;
    void* buf;
    unsigned len;
};

// A read as an operation: the kernel holds buf until the completion.
cpc::task<int> op_read(int fd, void* buf, std::size_t len, cpc::condvar* interrupt = nullptr) {
    static constexpr cpc::loop::prepare_fn prepare = [](io_uring_sqe* sqe, void* ctx) noexcept {
        const auto* a = static_cast<read_args*>(ctx);
        io_uring_prep_read(sqe, a->fd, a->buf, a->len, static_cast<__u64>(-1));
    };
    read_args a{fd, buf, static_cast<unsigned>(len)};
    const int res = co_await cpc::io_op(fd, prepare, &a, interrupt);
    co_return res;
}

// Reads into buf with a deadline that passes, then makes data arrive and lets the loop run
// (a kernel still holding buf would write it by then), then reads the data with another
// buffer: it must all be there, since the timed-out read took none of it.
cpc::task<void> time_out_then_deliver(int fd, int peer, unsigned char* buf, std::size_t len,
                                      bool free_buf, bool* timed_out, std::string* late) {
    auto r = co_await cpc::with_timeout(5ms, op_read(fd, buf, len));
    *timed_out = !r.has_value();
    if (free_buf) delete[] buf;  // the kernel must be done with it: ASan would see a later use
    EXPECT_EQ(::write(peer, kLate, sizeof kLate), static_cast<ssize_t>(sizeof kLate));
    co_await cpc::sleep(20ms);
    // Bounded: if a read still in the kernel took the data, this one would wait forever.
    char got[64];
    const auto r2 = co_await cpc::with_timeout(2s, cpc::read(fd, got, sizeof got));
    if (!r2) co_return;  // late stays empty: the test fails
    EXPECT_FALSE(r2->error) << r2->error.message();
    late->assign(got, r2->bytes);
}

TEST(IoCancel, TimedOutReadLeavesItsBufferAlone) {
    if (!on_io_uring()) GTEST_SKIP() << "read operations are io_uring's";
    socket_pair s;
    std::vector<unsigned char> buf(4096, kPoison);
    bool timed_out = false;
    std::string late;
    run_main(
        time_out_then_deliver(s.fd[0], s.fd[1], buf.data(), buf.size(), false, &timed_out, &late));
    EXPECT_TRUE(timed_out);
    EXPECT_EQ(late, std::string(kLate, sizeof kLate));
    EXPECT_TRUE(std::all_of(buf.begin(), buf.end(), [](unsigned char c) { return c == kPoison; }))
        << "the kernel wrote into the buffer of a read that had timed out";
}

TEST(IoCancel, BufferFreedAfterATimedOutReadIsNeverUsed) {
    if (!on_io_uring()) GTEST_SKIP() << "read operations are io_uring's";
    socket_pair s;
    auto* buf = new unsigned char[4096];
    bool timed_out = false;
    std::string late;
    run_main(time_out_then_deliver(s.fd[0], s.fd[1], buf, 4096, true, &timed_out, &late));
    EXPECT_TRUE(timed_out);
    EXPECT_EQ(late, std::string(kLate, sizeof kLate));
}

// with_timeout on the operation itself (no task around it): the same cancellation, and the
// value of an operation that completed in time.
TEST(IoCancel, DirectDeadlineOnAnOperation) {
    if (!on_io_uring()) GTEST_SKIP() << "read operations are io_uring's";
    static constexpr cpc::loop::prepare_fn prepare = [](io_uring_sqe* sqe, void* ctx) noexcept {
        const auto* a = static_cast<read_args*>(ctx);
        io_uring_prep_read(sqe, a->fd, a->buf, a->len, static_cast<__u64>(-1));
    };
    auto body = [](int fd, int peer, unsigned char* buf, std::optional<int>* late,
                   std::optional<int>* in_time) -> cpc::task<void> {
        read_args a{fd, buf, 4096};
        *late = co_await cpc::with_timeout(5ms, cpc::io_op(fd, prepare, &a));
        delete[] buf;  // the kernel must be done with it: ASan would see a later use
        EXPECT_EQ(::write(peer, kLate, sizeof kLate), static_cast<ssize_t>(sizeof kLate));
        co_await cpc::sleep(20ms);
        char got[64];
        read_args b{fd, got, sizeof got};
        *in_time = co_await cpc::with_timeout(2s, cpc::io_op(fd, prepare, &b));
    };
    socket_pair s;
    std::optional<int> late = 0, in_time;
    run_main(body(s.fd[0], s.fd[1], new unsigned char[4096], &late, &in_time));
    EXPECT_FALSE(late.has_value());
    ASSERT_TRUE(in_time.has_value());
    EXPECT_EQ(*in_time, static_cast<int>(sizeof kLate));  // the timed-out read took none of it
}

TEST(IoCancel, InterruptedReadResumesWithNothingRead) {
    if (!on_io_uring()) GTEST_SKIP() << "read operations are io_uring's";
    auto body = [](int fd, int peer, std::vector<unsigned char>* buf, int* r) -> cpc::task<void> {
        cpc::condvar cv;
        auto interrupter = [](cpc::condvar* cv) -> cpc::task<void> {
            co_await cpc::sleep(5ms);
            cv->signal_all();
        };
        cpc::spawn(interrupter(&cv));
        *r = co_await op_read(fd, buf->data(), buf->size(), &cv);
        EXPECT_EQ(::write(peer, kLate, sizeof kLate), static_cast<ssize_t>(sizeof kLate));
        co_await cpc::sleep(20ms);
    };
    socket_pair s;
    std::vector<unsigned char> buf(256, kPoison);
    int r = 0;
    run_main(body(s.fd[0], s.fd[1], &buf, &r));
    EXPECT_EQ(r, -ECANCELED);
    EXPECT_TRUE(std::all_of(buf.begin(), buf.end(), [](unsigned char c) { return c == kPoison; }));
    char got[64];
    EXPECT_EQ(::read(s.fd[0], got, sizeof got), static_cast<ssize_t>(sizeof kLate));
}

// A reader blocked on fd while another kernel thread closes it: the reader wakes with an
// error, and the peer sees the end of the stream (no operation keeps the socket open).
// A read operation: a reader woken from a wait for readiness calls read(2) again, and may
// find fd still open (cpc::close forgets before it closes) and wait on it again, the race
// io.hpp leaves to the program; the operation cancelled by the close ends with EBADF instead.
TEST(IoCancel, CloseFromAnotherKernelThreadWakesABlockedReader) {
    if (!on_io_uring()) GTEST_SKIP() << "read operations are io_uring's";
    // The close must come once the read is submitted: closed earlier, its number could be
    // reused (by the loops the run creates, under load) and the read would wait on another
    // file. The marker, spawned just before the reader suspends, runs only after it has.
    auto marker = [](std::atomic<bool>* submitted) -> cpc::task<void> {
        submitted->store(true);
        co_return;
    };
    auto reader = [marker](int fd, int* r, std::atomic<bool>* submitted) -> cpc::task<void> {
        char buf[64];
        cpc::spawn(marker(submitted));
        *r = co_await op_read(fd, buf, sizeof buf);
    };
    socket_pair s;
    const int fd = s.fd[0];
    s.fd[0] = -1;  // closed by the other kernel thread
    int r = 0;
    std::atomic<bool> submitted{false};
    cpc::spawn(reader(fd, &r, &submitted));
    std::thread closer([fd, &submitted] {
        while (!submitted.load())
            std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(20ms);  // usually in the kernel by now; either way works
        cpc::close(fd);
    });
    const auto start = clock::now();
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    closer.join();
    EXPECT_LT(since(start), 2s);
    EXPECT_EQ(r, -EBADF);
    char c;
    ssize_t n = -1;
    for (int i = 0; i < 100 && n < 0; ++i) {  // the peer's end is non-blocking
        n = ::read(s.fd[1], &c, 1);
        if (n < 0) std::this_thread::sleep_for(1ms);
    }
    EXPECT_EQ(n, 0) << "the peer did not see the end of the stream";
}

TEST(IoCancel, CloseOnTheSameLoopWakesABlockedReader) {
    auto reader = [](int fd, cpc::io_result* r) -> cpc::task<void> {
        char buf[64];
        *r = co_await cpc::read(fd, buf, sizeof buf);
    };
    auto closer = [](int fd) -> cpc::task<void> {
        co_await cpc::sleep(5ms);
        cpc::close(fd);
    };
    socket_pair s;
    const int fd = s.fd[0];
    s.fd[0] = -1;
    cpc::io_result r;
    cpc::spawn(reader(fd, &r));
    cpc::spawn(closer(fd));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(r.error, std::errc::bad_file_descriptor) << r.error.message();
    char c;
    EXPECT_EQ(::read(s.fd[1], &c, 1), 0);
}

// The op type new primitives build on: a recv with MSG_PEEK, then the read that takes it.
TEST(IoCancel, IoOpRunsAPrimitiveOfItsOwn) {
    struct peek_args {
        int fd;
        char* buf;
        std::size_t len;
    };
    static constexpr cpc::loop::prepare_fn prepare = [](io_uring_sqe* sqe, void* ctx) noexcept {
        const auto* a = static_cast<peek_args*>(ctx);
        io_uring_prep_recv(sqe, a->fd, a->buf, a->len, MSG_PEEK);
    };
    auto body = [](int fd, int peer, int* peeked, std::string* got) -> cpc::task<void> {
        if (!cpc::loop::current()->completes_io()) co_return;  // epoll: nothing to check
        auto writer = [](int peer) -> cpc::task<void> {
            co_await cpc::sleep(2ms);
            EXPECT_EQ(::write(peer, "abc", 3), 3);
        };
        cpc::spawn(writer(peer));
        char buf[8];
        peek_args a{fd, buf, sizeof buf};
        *peeked = co_await cpc::io_op(fd, prepare, &a);
        const cpc::io_result r = co_await cpc::read(fd, buf, sizeof buf);
        got->assign(buf, r.bytes);
    };
    socket_pair s;
    int peeked = 3;
    std::string got = "abc";
    run_main(body(s.fd[0], s.fd[1], &peeked, &got));
    EXPECT_EQ(peeked, 3);
    EXPECT_EQ(got, "abc");
}

}  // namespace

// A NOP as an operation: it completes as soon as the kernel sees it, with 0.
cpc::task<int> nop_op() {
    static constexpr cpc::loop::prepare_fn prepare = [](io_uring_sqe* sqe, void*) noexcept {
        io_uring_prep_nop(sqe);
    };
    co_return co_await cpc::io_op(-1, prepare, nullptr);
}

cpc::task<bool> nap() {
    co_return co_await cpc::sleep(1s);
}

TEST(IoCancel, AResultThatBeatsTheDeadlineIsKeptByWithTimeout) {
    if (!on_io_uring()) GTEST_SKIP() << "operations are io_uring's";
    // The deadline (0 ms) fires in the loop pass where the NOP was queued, before the loop's
    // look at the kernel: the interruption claims the wait and queues a cancellation that
    // finds nothing, and the NOP's completion arrives with its result. A read's bytes or an
    // accepted connection would come back the same way: with_timeout must return the task's
    // value, not drop it.
    auto body = [](std::optional<int>* kept, bool* cut_short) -> cpc::task<void> {
        *kept = co_await cpc::with_timeout(0ms, nop_op());
        // Without an operation the same deadline cuts a wait short, and the value is dropped.
        *cut_short = !(co_await cpc::with_timeout(0ms, nap())).has_value();
    };
    std::optional<int> kept;
    bool cut_short = false;
    run_main(body(&kept, &cut_short));
    ASSERT_TRUE(kept.has_value()) << "with_timeout dropped a completed operation's result";
    EXPECT_EQ(*kept, 0);
    EXPECT_TRUE(cut_short);
}
