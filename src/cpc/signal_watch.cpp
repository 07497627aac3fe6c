#include "cpc/signal_watch.hpp"

#include <pthread.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <system_error>

#include "cpc/io.hpp"

namespace cpc {

signal_watch::signal_watch(std::initializer_list<int> signals) {
    sigemptyset(&mask_);
    for (int s : signals)
        sigaddset(&mask_, s);
    ::pthread_sigmask(SIG_BLOCK, &mask_, nullptr);
    // Non-blocking, like every fd a loop thread reads: cpc::read waits on EAGAIN.
    fd_ = ::signalfd(-1, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd_ < 0) {
        const int err = errno;
        ::pthread_sigmask(SIG_UNBLOCK, &mask_, nullptr);
        throw std::system_error(err, std::generic_category(), "signalfd");
    }
}

task<int> signal_watch::next(condvar* interrupt) {
    if (fd_ < 0) co_return 0;
    signalfd_siginfo info{};
    const io_result r = co_await read(fd_, &info, sizeof info, interrupt);
    if (!r || r.bytes != sizeof info) co_return 0;
    co_return static_cast<int>(info.ssi_signo);
}

void signal_watch::release() noexcept {
    if (fd_ < 0) return;
    cpc::close(fd_);
    fd_ = -1;
    ::pthread_sigmask(SIG_UNBLOCK, &mask_, nullptr);
}

}  // namespace cpc
