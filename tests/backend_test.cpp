// Which kernel interface a loop uses: loop_options, CPC_BACKEND, the default, and what a
// loop says about it.
#include <stdlib.h>

#include <stdexcept>
#include <string>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

// Sets CPC_BACKEND for one test and puts back what ctest gave (the /epoll variants set it).
struct backend_env {
    std::string saved;
    bool had;
    explicit backend_env(const char* value) {
        const char* v = ::getenv("CPC_BACKEND");
        had = v != nullptr;
        if (had) saved = v;
        if (value) {
            ::setenv("CPC_BACKEND", value, 1);
        } else {
            ::unsetenv("CPC_BACKEND");
        }
    }
    ~backend_env() {
        if (had) {
            ::setenv("CPC_BACKEND", saved.c_str(), 1);
        } else {
            ::unsetenv("CPC_BACKEND");
        }
    }
};

TEST(Backend, OptionsChooseTheBackend) {
    backend_env env("io_uring");  // the options win over the environment
    cpc::loop l({.backend = cpc::backend_kind::epoll});
    EXPECT_EQ(l.backend(), cpc::backend_kind::epoll);
    EXPECT_TRUE(l.backend_fallback().empty());
    EXPECT_EQ(l.backend_description(), "epoll");
    EXPECT_FALSE(l.completes_io());
}

TEST(Backend, EnvironmentChoosesTheBackend) {
    {
        backend_env env("epoll");
        cpc::loop l;
        EXPECT_EQ(l.backend(), cpc::backend_kind::epoll);
    }
    {
        backend_env env("io_uring");
        cpc::loop l;
        // io_uring, or epoll with the reason when this kernel refuses it.
        EXPECT_EQ(l.backend() == cpc::backend_kind::epoll, !l.backend_fallback().empty());
    }
}

TEST(Backend, DefaultIsIoUringWhenTheKernelAllowsIt) {
    backend_env env(nullptr);
    cpc::loop l;
    if (l.backend() == cpc::backend_kind::epoll) {
        EXPECT_FALSE(l.backend_fallback().empty());
        EXPECT_NE(l.backend_description().find(l.backend_fallback()), std::string::npos);
        GTEST_SKIP() << "io_uring unavailable: " << l.backend_fallback();
    }
    EXPECT_EQ(l.backend(), cpc::backend_kind::io_uring);
    EXPECT_EQ(l.backend_description(), "io_uring");
    EXPECT_TRUE(l.completes_io());
}

TEST(Backend, UnknownBackendIsAClearError) {
    backend_env env("kqueue");
    try {
        cpc::loop l;
        FAIL() << "a loop was made with CPC_BACKEND=kqueue";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("CPC_BACKEND=kqueue"), std::string::npos) << e.what();
    }
}

// A runtime's loops use the backend of its options; every one runs a thread that does I/O.
TEST(Backend, RuntimeLoopsUseTheBackendOfTheirOptions) {
    for (cpc::backend_kind k : {cpc::backend_kind::epoll, cpc::backend_kind::io_uring}) {
        cpc::runtime rt({.threads = 2, .pin = false, .backend = k});
        for (std::size_t i = 0; i < rt.size(); ++i) {
            const cpc::backend_kind got = rt.at(i).backend();
            EXPECT_TRUE(got == k || !rt.at(i).backend_fallback().empty());
        }
        socket_pair s;
        auto echo = [](int fd) -> cpc::task<void> {
            char c = 0;
            const cpc::io_result r = co_await cpc::read(fd, &c, 1);
            EXPECT_EQ(r.bytes, 1u);
            const cpc::io_result w = co_await cpc::write(fd, &c, 1);
            EXPECT_FALSE(w.error);
        };
        auto ask = [](int fd, char* answer) -> cpc::task<void> {
            const cpc::io_result w = co_await cpc::write(fd, "x", 1);
            EXPECT_FALSE(w.error);
            const cpc::io_result r = co_await cpc::read(fd, answer, 1);
            EXPECT_EQ(r.bytes, 1u);
        };
        char answer = 0;
        rt.spawn_on(rt.at(0), echo(s.fd[0]));
        rt.spawn_on(rt.at(1), ask(s.fd[1], &answer));
        EXPECT_EQ(rt.run().blocked_threads, 0u);
        EXPECT_EQ(answer, 'x');
    }
}

}  // namespace
