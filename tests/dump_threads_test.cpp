// cpc::dump_threads: each kind of wait is named, with the chain of frames as file:line of
// the co_await expressions; threads that run again leave the dump; dump_all_threads has each
// running loop write its own.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

// The line of each co_await below, taken with __LINE__ on the line before it.
int cv_line = 0;
int fd_line = 0;
int sleep_line = 0;
int inner_line = 0;
int middle_line = 0;
int timed_line = 0;
int read_line = 0;

std::string at(int line) {
    return std::string("    at ") + __FILE__ + ":" + std::to_string(line) + "\n";
}

std::string pointer(const void* p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%p", p);
    return buf;
}

cpc::task<void> wait_on_condvar(cpc::condvar& cv) {
    cv_line = __LINE__ + 1;
    co_await cv.wait();
}

cpc::task<void> read_wait(int fd) {
    fd_line = __LINE__ + 1;
    const bool ready = co_await cpc::io_wait(fd, cpc::in);
    EXPECT_TRUE(ready);
}

cpc::task<void> long_sleep(cpc::condvar& stop) {
    sleep_line = __LINE__ + 1;
    const bool completed = co_await cpc::sleep(std::chrono::hours(1), &stop);
    EXPECT_FALSE(completed);
}

cpc::task<void> inner(cpc::condvar& cv) {
    inner_line = __LINE__ + 1;
    co_await cv.wait();
}

cpc::task<void> middle(cpc::condvar& cv) {
    middle_line = __LINE__ + 1;
    co_await inner(cv);
}

cpc::task<void> timed_wait(cpc::condvar& cv) {
    timed_line = __LINE__ + 1;
    const bool signalled = co_await cpc::with_timeout(std::chrono::hours(1), cv.wait());
    EXPECT_TRUE(signalled);
}

// Through the library's own frames: cpc::read is a task that waits inside io.cpp.
cpc::task<void> read_one(int fd) {
    char byte = 0;
    read_line = __LINE__ + 1;
    const cpc::io_result r = co_await cpc::read(fd, &byte, 1);
    EXPECT_EQ(r.bytes, 1u);
}

// Threads of the scene that have run again and ended, for the dump after the waits.
int finished = 0;
cpc::condvar finished_cv;

cpc::task<void> counted(cpc::task<void> t) {
    co_await std::move(t);
    ++finished;
    finished_cv.signal();
}

struct pipe_fds {
    int fds[2] = {-1, -1};
    pipe_fds() {
        if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    }
    ~pipe_fds() {
        for (int fd : fds)
            if (fd >= 0) cpc::close(fd);
    }
};

struct scene {
    cpc::condvar cv;
    cpc::condvar nested_cv;
    cpc::condvar stop_sleep;
    cpc::condvar timed_cv;
    pipe_fds pipe;
    pipe_fds read_pipe;
    std::string dump;
    std::string dump_after;
};

cpc::task<void> dumper(scene& s) {
    co_await cpc::yield();  // every other thread is suspended by now
    s.dump = cpc::dump_threads();
    s.cv.signal();
    s.nested_cv.signal();
    s.stop_sleep.signal();
    s.timed_cv.signal();
    const char byte = 'x';
    EXPECT_EQ(::write(s.pipe.fds[1], &byte, 1), 1);
    EXPECT_EQ(::write(s.read_pipe.fds[1], &byte, 1), 1);
    // Woken, the threads run again, and leave the dump.
    while (finished < 6)
        co_await finished_cv.wait();
    s.dump_after = cpc::dump_threads();
}

TEST(DumpThreads, NamesEachWaitAndItsFrames) {
    scene s;
    cpc::spawn(counted(wait_on_condvar(s.cv)));
    cpc::spawn(counted(read_wait(s.pipe.fds[0])));
    cpc::spawn(counted(long_sleep(s.stop_sleep)));
    cpc::spawn(counted(middle(s.nested_cv)));
    cpc::spawn(counted(timed_wait(s.timed_cv)));
    cpc::spawn(counted(read_one(s.read_pipe.fds[0])));
    cpc::spawn(dumper(s));
    const cpc::run_result r = main_loop();
    EXPECT_EQ(r.blocked_threads, 0u);
    const std::string& d = s.dump;

    EXPECT_NE(d.find("6 suspended thread(s)"), std::string::npos) << d;
    const std::size_t cv = d.find("thread waits on condvar " + pointer(&s.cv) + "\n" + at(cv_line));
    EXPECT_NE(cv, std::string::npos) << d;
    const std::size_t fd =
        d.find("thread waits on fd " + std::to_string(s.pipe.fds[0]) + " (read)\n" + at(fd_line));
    EXPECT_NE(fd, std::string::npos) << d;
    const std::size_t sleep = d.find("thread sleeps, timer due in ");
    ASSERT_NE(sleep, std::string::npos) << d;
    EXPECT_EQ(d.find(at(sleep_line)), d.find('\n', sleep) + 1) << d;
    // The nested thread: its leaf frame first, then the frame that awaits it.
    EXPECT_NE(d.find("thread waits on condvar " + pointer(&s.nested_cv) + "\n" + at(inner_line) +
                     at(middle_line)),
              std::string::npos)
        << d;

    EXPECT_NE(d.find("thread waits on condvar " + pointer(&s.timed_cv) + ", with a deadline\n" +
                     at(timed_line)),
              std::string::npos)
        << d;
    // An io_uring operation or, on epoll, a readiness wait; in io.cpp, called from here.
    const std::string rfd = std::to_string(s.read_pipe.fds[0]);
    std::size_t read = d.find("thread waits on an io_uring operation on fd " + rfd + "\n");
    if (read == std::string::npos) read = d.find("thread waits on fd " + rfd + " (read)\n");
    ASSERT_NE(read, std::string::npos) << d;
    const std::size_t leaf = d.find('\n', read) + 1;
    const std::size_t caller = d.find('\n', leaf) + 1;
    EXPECT_NE(d.substr(leaf, caller - leaf).find("io.cpp:"), std::string::npos) << d;
    EXPECT_EQ(d.substr(caller, at(read_line).size()), at(read_line)) << d;

    EXPECT_NE(s.dump_after.find("0 suspended thread(s)"), std::string::npos) << s.dump_after;
    EXPECT_EQ(s.dump_after.find("  thread "), std::string::npos) << s.dump_after;
}

TEST(DumpThreads, SaysSoOutsideALoop) {
    EXPECT_NE(cpc::dump_threads().find("no loop"), std::string::npos);
}

cpc::task<void> dump_all_then_wake(cpc::condvar& cv, int fd) {
    cpc::dump_all_threads(fd);
    // The dumps are written at the loops' next iteration: the waiter is still waiting then.
    co_await cpc::sleep(std::chrono::milliseconds(1));
    cv.signal();
}

TEST(DumpThreads, DumpAllHasEveryLoopWriteItsOwn) {
    cpc::condvar cv;
    pipe_fds out;
    cpc::spawn(wait_on_condvar(cv));
    cpc::spawn(dump_all_then_wake(cv, out.fds[1]));
    main_loop();
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(out.fds[0], buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    std::size_t loops = 0;
    for (std::size_t p = 0; (p = text.find("cpc: loop ", p)) != std::string::npos; ++p)
        ++loops;
    // Loops of a runtime that have not started yet when it is called are not asked.
    EXPECT_GE(loops, 1u) << text;
    EXPECT_LE(loops, test_loops()) << text;
    EXPECT_NE(text.find("cpc: loop 0 "), std::string::npos) << text;
    EXPECT_NE(text.find("thread waits on condvar " + pointer(&cv) + "\n" + at(cv_line)),
              std::string::npos)
        << text;
}

}  // namespace
