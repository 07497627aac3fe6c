// cpc::signal_watch: signals received as data by a thread of the loop, interruption, release.
#include <signal.h>

#include "test_support.hpp"

namespace {

using namespace cpc_test;

bool blocked_in_this_thread(int sig) {
    sigset_t current;
    ::pthread_sigmask(SIG_BLOCK, nullptr, &current);
    return sigismember(&current, sig) == 1;
}

TEST(SignalWatch, ASignalRaisedLaterIsReceivedByTheWaitingThread) {
    cpc::signal_watch signals({SIGUSR1, SIGUSR2});
    EXPECT_TRUE(blocked_in_this_thread(SIGUSR1));
    auto waiter = [](cpc::signal_watch* w, int* got) -> cpc::task<void> {
        const int sig = co_await w->next();
        *got = sig;
    };
    auto raiser = []() -> cpc::task<void> {
        co_await cpc::sleep(5ms);  // the waiter is suspended in io_wait by now
        ::kill(::getpid(), SIGUSR2);
    };
    int got = 0;
    cpc::spawn(waiter(&signals, &got));
    cpc::spawn(raiser());
    EXPECT_EQ(cpc_test::main_loop().blocked_threads, 0u);
    EXPECT_EQ(got, SIGUSR2);
}

TEST(SignalWatch, NextReturnsZeroWhenInterrupted) {
    cpc::signal_watch signals({SIGUSR1});
    auto body = [](cpc::signal_watch* w, int* got) -> cpc::task<void> {
        cpc::condvar stop;
        auto stopper = [](cpc::condvar* c) -> cpc::task<void> {
            co_await cpc::yield();
            c->signal_all();
        };
        cpc::spawn(stopper(&stop));
        const int sig = co_await w->next(&stop);
        *got = sig;
    };
    int got = -1;
    run_main(body(&signals, &got));
    EXPECT_EQ(got, 0);
}

TEST(SignalWatch, ReleaseUnblocksAndLaterWaitsReturnZero) {
    cpc::signal_watch signals({SIGUSR1});
    signals.release();
    signals.release();  // idempotent
    EXPECT_FALSE(blocked_in_this_thread(SIGUSR1));
    EXPECT_EQ(run_main_value(signals.next()), 0);
}

}  // namespace
