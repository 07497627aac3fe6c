// Which kernel interface a loop uses: what its options ask, else CPC_BACKEND, else io_uring
// when the kernel allows it, epoll otherwise.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "io_backend.hpp"

namespace cpc::detail {

namespace {

// CPC_BACKEND, read at each loop's creation (cheap, and a test may set it between loops).
backend_kind from_environment() {
    const char* v = std::getenv("CPC_BACKEND");
    if (!v || !*v) return backend_kind::automatic;
    if (std::strcmp(v, "io_uring") == 0) return backend_kind::io_uring;
    if (std::strcmp(v, "epoll") == 0) return backend_kind::epoll;
    throw std::invalid_argument(std::string("CPC_BACKEND=") + v +
                                ": unknown backend (expected io_uring or epoll)");
}

// /proc/sys/kernel/io_uring_disabled (Linux 6.6): 2 forbids io_uring to every process, 1 to
// those outside kernel.io_uring_group (io_uring_setup then fails with EPERM, said as such).
bool disabled_by_sysctl(std::string* why) {
    std::FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "re");
    if (!f) return false;  // an older kernel: no such switch
    int value = 0;
    const bool read = std::fscanf(f, "%d", &value) == 1;
    std::fclose(f);
    if (!read || value != 2) return false;
    *why = "io_uring disabled by /proc/sys/kernel/io_uring_disabled=2";
    return true;
}

}  // namespace

std::unique_ptr<io_backend> make_backend(backend_kind wanted, const unsigned& slot,
                                         std::string* why) {
    if (wanted == backend_kind::automatic) wanted = from_environment();
    if (wanted == backend_kind::epoll) return make_epoll_backend();
    if (!disabled_by_sysctl(why)) {
        if (auto b = make_io_uring_backend(slot, why)) return b;
    }
    return make_epoll_backend();
}

}  // namespace cpc::detail
