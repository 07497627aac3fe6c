// The server's life: what it opens before it serves (the document root, the access log, the
// listening socket) and how many connections it may hold (the descriptors it may use), and
// what it closes at the end. Accepting is accept_loop.cpp's, a connection connection.cpp's,
// answering with a file file_serving.cpp's, stopping shutdown.cpp's.
#include "server.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include "request_state.hpp"

namespace httpd {

namespace {

constexpr std::size_t kFdReserve = 16;  // descriptors kept for files, the log...

// Descriptors open now (for the connection cap).
std::size_t open_descriptors() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.') ++n;
        }
        ::closedir(d);
    }
    return n;
}

}  // namespace

server::server(server_config cfg)
    : cfg_(std::move(cfg)), cache_(cfg_.cache_size, cfg_.cache_file_max) {
    spare_states_.reserve(kSpareStates);
}

server::~server() {
    if (listen_fd_ >= 0 && cfg_.shared_listen_fd < 0) cpc::close(listen_fd_);
}

std::string server::start() {
    if (std::string err = root_.open(cfg_.root); !err.empty()) return "document root " + err;
    if (!cfg_.access_log.empty()) {
        if (std::string err = log_.open(cfg_.access_log); !err.empty()) return "access log " + err;
    }
    if (cfg_.shared_listen_fd >= 0) {
        listen_fd_ = cfg_.shared_listen_fd;
        port_ = cfg_.port;
    } else if (std::string err = open_listener(cfg_, &listen_fd_, &port_); !err.empty()) {
        return err;
    }

    max_connections_ = cfg_.max_connections;
    if (max_connections_ == 0) {
        rlimit lim{};
        ::getrlimit(RLIMIT_NOFILE, &lim);
        const std::size_t in_use = open_descriptors();
        const std::size_t limit = lim.rlim_cur == RLIM_INFINITY ? 1'000'000 : lim.rlim_cur;
        max_connections_ = limit > in_use + kFdReserve + 1 ? limit - in_use - kFdReserve : 1;
        max_connections_ = std::max<std::size_t>(max_connections_ / cfg_.descriptor_shares, 1);
    }
    return {};
}

}  // namespace httpd
