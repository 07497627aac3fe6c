#include "sigpipe.hpp"

#include <signal.h>

namespace cpc::detail {

void ignore_sigpipe_by_default() noexcept {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
        ::signal(SIGPIPE, SIG_IGN);
    }
}

}  // namespace cpc::detail
