// Helpers shared by the tests.
//
// Coroutine bodies in the tests are capture-less lambdas taking what they need as parameters,
// or named lambdas that outlive the loop run that executes them: a coroutine made from a
// temporary lambda with captures would read its captures from a destroyed closure.
// ASSERT_* cannot be used inside a coroutine (it expands to `return`): coroutines use
// EXPECT_* or record what they saw for the test body to assert after the loop ends.
//
// No co_await inside a condition (if, while, EXPECT_*(co_await ...)): GCC 12.2 miscompiles a
// coroutine that has no local variable and awaits in a condition (the frame layout is wrong,
// the handle points 8 bytes into the allocation, and the coroutine never runs its body).
// Tests await into a named local first.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include "cpc/cpc.hpp"
#include "cpc/runtime.hpp"

namespace cpc_test {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

inline std::chrono::nanoseconds since(clock::time_point start) {
    return clock::now() - start;
}

// The kernel thread running the caller. Not std::this_thread::get_id() inside coroutines: it
// calls pthread_self(), which glibc declares __attribute__((const)), so clang reuses a value
// read before a co_await after the thread has moved to another kernel thread (attach).
[[gnu::noinline]] inline std::thread::id kernel_thread() {
    asm volatile("" ::: "memory");
    return std::this_thread::get_id();
}

// Loops the tests run on: 1, or the value of CPC_TEST_LOOPS (ctest runs every test both ways).
inline unsigned test_loops() {
    const char* v = std::getenv("CPC_TEST_LOOPS");
    const int n = v ? std::atoi(v) : 1;
    return n > 1 ? static_cast<unsigned>(n) : 1u;
}

// cpc::main_loop(), or with CPC_TEST_LOOPS=n a runtime of n loops whose loop 0 is the default
// loop: the threads a test spawns stay on the default loop (they are uncolored) while the
// other loops run beside it, so every test checks that one loop's semantics hold there too.
inline cpc::run_result main_loop() {
    const unsigned n = test_loops();
    if (n == 1) return cpc::main_loop();
    cpc::runtime rt({.threads = n, .pin = false, .adopt_default_loop = true});
    return rt.run();
}

// Runs t as a thread of the default loop, runs the loop to its end and checks that no thread
// was left blocked.
inline void run_main(cpc::task<void> t) {
    cpc::spawn(std::move(t));
    const cpc::run_result r = main_loop();
    EXPECT_EQ(r.blocked_threads, 0u);
}

// Same, returning the task's value.
template <class T>
T run_main_value(cpc::task<T> t) {
    std::optional<T> out;
    run_main([](cpc::task<T> t, std::optional<T>* out) -> cpc::task<void> {
        out->emplace(co_await std::move(t));
    }(std::move(t), &out));
    if (!out) throw std::logic_error("run_main_value: the task did not end");
    return std::move(*out);
}

// Two connected non-blocking stream sockets, closed at the end of the scope.
struct socket_pair {
    int fd[2] = {-1, -1};
    socket_pair() {
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0) {
            throw std::system_error(errno, std::generic_category(), "socketpair");
        }
    }
    socket_pair(const socket_pair&) = delete;
    socket_pair& operator=(const socket_pair&) = delete;
    ~socket_pair() { close_all(); }
    void close_all() {
        for (int& f : fd) {
            if (f >= 0) cpc::close(f);
            f = -1;
        }
    }
    void close(int i) {
        cpc::close(fd[i]);
        fd[i] = -1;
    }
};

// A non-blocking pipe, closed at the end of the scope.
struct pipe_pair {
    int read_end = -1;
    int write_end = -1;
    pipe_pair() {
        int p[2];
        if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
            throw std::system_error(errno, std::generic_category(), "pipe2");
        }
        read_end = p[0];
        write_end = p[1];
    }
    pipe_pair(const pipe_pair&) = delete;
    pipe_pair& operator=(const pipe_pair&) = delete;
    ~pipe_pair() {
        close_read();
        close_write();
    }
    void close_read() {
        if (read_end >= 0) cpc::close(read_end);
        read_end = -1;
    }
    void close_write() {
        if (write_end >= 0) cpc::close(write_end);
        write_end = -1;
    }
};

// The byte at position i of the test patterns.
inline unsigned char pattern(std::size_t i, unsigned seed = 0) {
    return static_cast<unsigned char>((i * 131 + seed * 17 + (i >> 12)) % 251);
}

}  // namespace cpc_test
