// httpd on several cores: one server per loop of a cpc::runtime, all on the same port.
//
// Each loop runs a whole server of its own (server.hpp): its connections, its page cache and
// its access log stream. A connection stays on the loop that accepted it, so nothing of a
// server is shared between kernel threads and the request path takes no lock; the price is
// that a hot file is cached once per loop (each cache gets 1/N of --cache-size, so the total
// stays bounded). How connections reach the loops is the listener design:
//
//   reuseport: each server has its own listening socket, bound with SO_REUSEPORT; the kernel
//     hashes each new connection to one socket, so to one loop, whether that loop is busy,
//     backing off after EMFILE, or at its connection cap: connections in its backlog wait
//     for it even when another loop could take them.
//   shared: one listening socket (libtorque's design); every loop waits on it through its
//     own epoll instance with EPOLLEXCLUSIVE, so that a connection wakes one sleeping loop,
//     and whichever loop accepts first takes it. A loop that cannot accept leaves its
//     connections to the others. The group closes the socket when the last server stops.
//
// With one loop, the group is exactly the single-loop server of before: cpc::main_loop.
#pragma once

#include <atomic>
#include <cpc/cpc.hpp>
#include <cpc/runtime.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server.hpp"

namespace httpd {

enum class listener_design { reuseport, shared };

class server_group {
  public:
    // loops >= 1. The configuration's cache size and descriptor cap are divided among them.
    server_group(server_config cfg, unsigned loops,
                 listener_design design = listener_design::reuseport);
    server_group(const server_group&) = delete;
    server_group& operator=(const server_group&) = delete;
    ~server_group();

    // Opens every server's root, log and socket; the first one picks the port when
    // cfg.port is 0, and the others bind it. Returns an error message, empty on success.
    std::string start();
    // After a successful start().
    std::uint16_t port() const noexcept { return servers_.front()->port(); }
    unsigned loops() const noexcept { return loops_; }
    // The group's first loop (its kernel interface is every loop's).
    cpc::loop& first_loop() noexcept { return runtime_ ? runtime_->at(0) : cpc::default_loop(); }

    // Runs every server's listener, and `control` (the signal thread) on the first loop,
    // until every server has stopped and its connections are gone.
    cpc::run_result run(cpc::task<void> control);

    // Stops every server, each on its own loop (server::stop). From a thread of one of the
    // group's loops, while run() runs.
    void stop();

    // Connections accepted by each loop's server so far (for the shutdown line and tests).
    std::vector<std::uint64_t> accepted_per_loop() const;

  private:
    // A server's listener, then the shared socket's close once every listener has ended.
    cpc::task<void> listen(std::size_t i);

    server_config cfg_;  // each server's share
    unsigned loops_ = 1;
    listener_design design_;
    int shared_fd_ = -1;
    std::atomic<std::size_t> listening_{0};
    std::vector<std::unique_ptr<server>> servers_;
    std::unique_ptr<cpc::runtime> runtime_;  // only with several loops
};

}  // namespace httpd
