// cpc::io_wait: readiness on pipes and sockets, interruption by a condvar, CPC's timeout
// idiom, regular files, hang-ups, closing, and the blocking form on a pool.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

void write_byte(int fd) {
    const char c = 'x';
    ASSERT_EQ(::write(fd, &c, 1), 1);
}

TEST(IoWait, ReadableWhenDataIsAlreadyThere) {
    auto body = [](int rfd, int wfd, bool* ready) -> cpc::task<void> {
        write_byte(wfd);
        *ready = co_await cpc::io_wait(rfd, cpc::in);
    };
    pipe_pair p;
    bool ready = false;
    run_main(body(p.read_end, p.write_end, &ready));
    EXPECT_TRUE(ready);
}

TEST(IoWait, WaitsUntilAnotherThreadWrites) {
    auto reader = [](int fd, std::vector<std::string>* log) -> cpc::task<void> {
        log->push_back("wait");
        const bool ready = co_await cpc::io_wait(fd, cpc::in);
        log->push_back(ready ? "readable" : "interrupted");
        char c = 0;
        EXPECT_EQ(::read(fd, &c, 1), 1);
    };
    auto writer = [](int fd, std::vector<std::string>* log) -> cpc::task<void> {
        for (int i = 0; i < 5; ++i)
            co_await cpc::yield();
        co_await cpc::sleep(5ms);
        log->push_back("write");
        write_byte(fd);
    };
    pipe_pair p;
    std::vector<std::string> log;
    cpc::spawn(reader(p.read_end, &log));
    cpc::spawn(writer(p.write_end, &log));
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(log, (std::vector<std::string>{"wait", "write", "readable"}));
}

TEST(IoWait, WritableWhenThereIsRoom) {
    auto body = [](int fd, bool* ready) -> cpc::task<void> {
        *ready = co_await cpc::io_wait(fd, cpc::out);
    };
    pipe_pair p;
    bool ready = false;
    run_main(body(p.write_end, &ready));
    EXPECT_TRUE(ready);
}

TEST(IoWait, WritableAgainWhenTheReaderDrainsAFullSocket) {
    auto filler = [](int fd, bool* ready, std::size_t* filled) -> cpc::task<void> {
        std::vector<char> chunk(64 * 1024, 'a');
        for (;;) {
            const ssize_t n = ::write(fd, chunk.data(), chunk.size());
            if (n < 0) break;
            *filled += static_cast<std::size_t>(n);
        }
        EXPECT_EQ(errno, EAGAIN);
        *ready = co_await cpc::io_wait(fd, cpc::out);
    };
    auto drainer = [](int fd, std::size_t* filled) -> cpc::task<void> {
        co_await cpc::yield();
        EXPECT_GT(*filled, 0u);
        std::vector<char> buf(64 * 1024);
        for (;;) {
            const ssize_t n = ::read(fd, buf.data(), buf.size());
            if (n <= 0) break;
        }
    };
    socket_pair s;
    bool ready = false;
    std::size_t filled = 0;
    cpc::spawn(filler(s.fd[0], &ready, &filled));
    cpc::spawn(drainer(s.fd[1], &filled));
    cpc_test::main_loop();
    EXPECT_TRUE(ready);
}

TEST(IoWait, InOrOutOnASocket) {
    auto body = [](int fd, bool* ready) -> cpc::task<void> {
        *ready = co_await cpc::io_wait(fd, cpc::in | cpc::out);
    };
    socket_pair s;
    bool ready = false;
    run_main(body(s.fd[0], &ready));  // writable at once
    EXPECT_TRUE(ready);
}

TEST(IoWait, InterruptedBySignalReturnsFalse) {
    auto waiter = [](int fd, cpc::condvar* cv, bool* ready) -> cpc::task<void> {
        *ready = co_await cpc::io_wait(fd, cpc::in, cv);
    };
    auto interrupter = [](cpc::condvar* cv) -> cpc::task<void> {
        co_await cpc::sleep(5ms);
        EXPECT_EQ(cv->count(), 1u);
        cv->signal();
        EXPECT_EQ(cv->count(), 0u);
    };
    pipe_pair p;
    cpc::condvar cv;
    bool ready = true;
    cpc::spawn(waiter(p.read_end, &cv, &ready));
    cpc::spawn(interrupter(&cv));
    // The interrupted wait no longer keeps the loop alive: main_loop returns.
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_FALSE(ready);
}

TEST(IoWait, InterruptedWaitCanWaitAgain) {
    auto body = [](int rfd, int wfd, cpc::condvar* cv,
                   std::vector<bool>* results) -> cpc::task<void> {
        cpc::spawn([](cpc::condvar* cv) -> cpc::task<void> {
            co_await cpc::yield();
            cv->signal();
        }(cv));
        results->push_back(co_await cpc::io_wait(rfd, cpc::in, cv));
        cpc::spawn([](int wfd) -> cpc::task<void> {
            co_await cpc::yield();
            write_byte(wfd);
        }(wfd));
        results->push_back(co_await cpc::io_wait(rfd, cpc::in, cv));
        EXPECT_EQ(cv->count(), 0u);
    };
    pipe_pair p;
    cpc::condvar cv;
    std::vector<bool> results;
    run_main(body(p.read_end, p.write_end, &cv, &results));
    EXPECT_EQ(results, (std::vector<bool>{false, true}));
}

// CPC's timeout idiom: a timeout thread sleeps, then signals the condvar the I/O wait
// listens to; the I/O thread cancels the timeout thread through the timeout's own condvar.
cpc::task<void> timeout_thread(std::chrono::nanoseconds d, cpc::condvar* cancel,
                               cpc::condvar* io_interrupt, bool* fired) {
    const bool timed_out = co_await cpc::sleep(d, cancel);
    if (timed_out) {
        *fired = true;
        io_interrupt->signal();
    }
}

cpc::task<void> wait_with_timeout(int fd, std::chrono::nanoseconds d, bool* ready, bool* fired,
                                  std::chrono::nanoseconds* elapsed) {
    cpc::condvar io_interrupt;
    cpc::condvar cancel;
    const auto start = clock::now();
    cpc::spawn(timeout_thread(d, &cancel, &io_interrupt, fired));
    *ready = co_await cpc::io_wait(fd, cpc::in, &io_interrupt);
    *elapsed = since(start);
    cancel.signal();  // no-op when the timeout already fired
    // The timeout thread must not outlive the condvars: let it end.
    while (cancel.count() != 0 || io_interrupt.count() != 0)
        co_await cpc::yield();
    co_await cpc::yield();
}

TEST(IoWait, TimeoutThreadInterruptsTheWait) {
    pipe_pair p;
    bool ready = true;
    bool fired = false;
    std::chrono::nanoseconds elapsed{};
    run_main(wait_with_timeout(p.read_end, 20ms, &ready, &fired, &elapsed));
    EXPECT_FALSE(ready);
    EXPECT_TRUE(fired);
    EXPECT_GE(elapsed, 20ms);
    EXPECT_LT(elapsed, 2s);
}

TEST(IoWait, DataBeforeTheTimeoutCancelsTheTimeoutThread) {
    auto writer = [](int fd) -> cpc::task<void> {
        co_await cpc::sleep(5ms);
        write_byte(fd);
    };
    pipe_pair p;
    bool ready = false;
    bool fired = false;
    std::chrono::nanoseconds elapsed{};
    const auto start = clock::now();
    cpc::spawn(wait_with_timeout(p.read_end, 10s, &ready, &fired, &elapsed));
    cpc::spawn(writer(p.write_end));  // starts its 5 ms after the waiter took its start time
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_TRUE(ready);
    EXPECT_FALSE(fired);
    EXPECT_GE(elapsed, 5ms);
    // The cancelled timeout thread did not keep the loop waiting for 10 s.
    EXPECT_LT(since(start), 2s);
}

TEST(IoWait, RegularFileReturnsAtOnce) {
    char path[] = "/tmp/cpc_io_wait_XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::unlink(path);
    auto body = [](int fd, std::vector<bool>* results) -> cpc::task<void> {
        results->push_back(co_await cpc::io_wait(fd, cpc::in));
        results->push_back(co_await cpc::io_wait(fd, cpc::out));
        results->push_back(co_await cpc::io_wait(fd, cpc::in | cpc::out));
        cpc::condvar cv;
        results->push_back(co_await cpc::io_wait(fd, cpc::in, &cv));
        EXPECT_EQ(cv.count(), 0u);
    };
    std::vector<bool> results;
    const auto start = clock::now();
    run_main(body(fd, &results));
    EXPECT_LT(since(start), 1s);
    EXPECT_EQ(results, (std::vector<bool>{true, true, true, true}));
    cpc::close(fd);
}

TEST(IoWait, BadFdReturnsAtOnce) {
    auto body = [](bool* ready) -> cpc::task<void> { *ready = co_await cpc::io_wait(-1, cpc::in); };
    bool ready = false;
    run_main(body(&ready));
    EXPECT_TRUE(ready);  // "ready": the next call on it tells what is wrong
}

TEST(IoWait, HangUpCountsAsReadable) {
    auto reader = [](int fd, bool* ready, ssize_t* got) -> cpc::task<void> {
        *ready = co_await cpc::io_wait(fd, cpc::in);
        char c;
        *got = ::read(fd, &c, 1);
    };
    auto closer = [](socket_pair* s) -> cpc::task<void> {
        co_await cpc::sleep(2ms);
        s->close(1);
    };
    socket_pair s;
    bool ready = false;
    ssize_t got = -1;
    cpc::spawn(reader(s.fd[0], &ready, &got));
    cpc::spawn(closer(&s));
    cpc_test::main_loop();
    EXPECT_TRUE(ready);
    EXPECT_EQ(got, 0);
}

TEST(IoWait, SeveralWaitersOnOneFdAllWake) {
    auto waiter = [](int fd, int* woken) -> cpc::task<void> {
        const bool ready = co_await cpc::io_wait(fd, cpc::in);
        if (ready) ++*woken;
    };
    auto writer = [](int fd) -> cpc::task<void> {
        co_await cpc::yield();
        write_byte(fd);
    };
    pipe_pair p;
    int woken = 0;
    for (int i = 0; i < 3; ++i)
        cpc::spawn(waiter(p.read_end, &woken));
    cpc::spawn(writer(p.write_end));
    cpc_test::main_loop();
    EXPECT_EQ(woken, 3);
}

TEST(IoWait, ReaderAndWriterOnOneSocket) {
    auto reader = [](int fd, bool* ready) -> cpc::task<void> {
        *ready = co_await cpc::io_wait(fd, cpc::in);
    };
    auto writer = [](int fd, bool* ready) -> cpc::task<void> {
        co_await cpc::yield();
        *ready = co_await cpc::io_wait(fd, cpc::out);
        co_await cpc::sleep(2ms);
        write_byte(fd);
    };
    socket_pair s;
    bool readable = false;
    bool writable = false;
    cpc::spawn(reader(s.fd[0], &readable));
    cpc::spawn(writer(s.fd[0], &writable));
    cpc::spawn([](int fd) -> cpc::task<void> {  // echoes one byte back
        const bool ready = co_await cpc::io_wait(fd, cpc::in);
        EXPECT_TRUE(ready);
        char c;
        EXPECT_EQ(::read(fd, &c, 1), 1);
        write_byte(fd);
    }(s.fd[1]));
    cpc_test::main_loop();
    EXPECT_TRUE(readable);
    EXPECT_TRUE(writable);
}

TEST(IoWait, ClosingTheFdWakesItsWaiters) {
    auto waiter = [](int fd, bool* returned) -> cpc::task<void> {
        co_await cpc::io_wait(fd, cpc::in);
        *returned = true;
    };
    auto closer = [](pipe_pair* p) -> cpc::task<void> {
        co_await cpc::yield();
        p->close_read();  // cpc::close: the loop forgets the fd and wakes its waiters
    };
    pipe_pair p;
    bool returned = false;
    cpc::spawn(waiter(p.read_end, &returned));
    cpc::spawn(closer(&p));
    const auto start = clock::now();
    cpc_test::main_loop();
    EXPECT_TRUE(returned);
    EXPECT_LT(since(start), 2s);
}

TEST(IoWait, FdNumberReusedAfterClose) {
    // Wait on a pipe, close it, make a new pipe that reuses the numbers, wait again.
    auto body = [](std::vector<bool>* results) -> cpc::task<void> {
        for (int round = 0; round < 3; ++round) {
            pipe_pair p;
            write_byte(p.write_end);
            results->push_back(co_await cpc::io_wait(p.read_end, cpc::in));
            // Interest is left armed after the wait: this close must clear it.
        }
        pipe_pair p;
        cpc::spawn([](int wfd) -> cpc::task<void> {
            co_await cpc::sleep(2ms);
            write_byte(wfd);
        }(p.write_end));
        results->push_back(co_await cpc::io_wait(p.read_end, cpc::in));
    };
    std::vector<bool> results;
    run_main(body(&results));
    EXPECT_EQ(results, (std::vector<bool>{true, true, true, true}));
}

TEST(IoWait, OnAPoolPollsTheKernelThread) {
    auto body = [](int rfd, bool* ready, std::thread::id* where) -> cpc::task<void> {
        cpc::condvar unused;
        cpc::scheduler& home = co_await cpc::attach(cpc::default_pool());
        *where = kernel_thread();
        *ready = co_await cpc::io_wait(rfd, cpc::in, &unused);
        co_await cpc::attach(home);
    };
    auto writer = [](int wfd) -> cpc::task<void> {
        co_await cpc::sleep(10ms);
        write_byte(wfd);
    };
    pipe_pair p;
    bool ready = false;
    std::thread::id where;
    cpc::spawn(body(p.read_end, &ready, &where));
    cpc::spawn(writer(p.write_end));
    cpc_test::main_loop();
    EXPECT_TRUE(ready);
    EXPECT_NE(where, kernel_thread());
}

}  // namespace
