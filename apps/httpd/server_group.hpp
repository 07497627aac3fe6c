// httpd on several cores: one server per loop of a cpc::runtime, all on the same port.
//
// Each loop runs a whole server of its own (server.hpp): its listening socket (bound with
// SO_REUSEPORT, so that the kernel spreads new connections over the loops), its connections,
// its page cache and its access log stream. A connection stays on the loop that accepted it,
// so nothing of a server is shared between kernel threads and the request path takes no
// lock; the price is that a hot file is cached once per loop (each cache gets 1/N of
// --cache-size, so the total stays bounded) and that a loop's accept back-off is woken only
// by its own connections closing.
//
// With one loop, the group is exactly the single-loop server of before: cpc::main_loop.
#pragma once

#include <cpc/cpc.hpp>
#include <cpc/runtime.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server.hpp"

namespace httpd {

class server_group {
  public:
    // loops >= 1. The configuration's cache size and descriptor cap are divided among them.
    server_group(server_config cfg, unsigned loops);
    server_group(const server_group&) = delete;
    server_group& operator=(const server_group&) = delete;
    ~server_group();

    // Opens every server's root, log and socket; the first one picks the port when
    // cfg.port is 0, and the others bind it. Returns an error message, empty on success.
    std::string start();
    // After a successful start().
    std::uint16_t port() const noexcept { return servers_.front()->port(); }
    unsigned loops() const noexcept { return loops_; }

    // Runs every server's listener, and `control` (the signal thread) on the first loop,
    // until every server has stopped and its connections are gone.
    cpc::run_result run(cpc::task<void> control);

    // Stops every server, each on its own loop (server::stop). From a thread of one of the
    // group's loops, while run() runs.
    void stop();

    // Connections accepted by each loop's server so far (for the shutdown line and tests).
    std::vector<std::uint64_t> accepted_per_loop() const;

  private:
    server_config cfg_;  // each server's share
    unsigned loops_ = 1;
    std::vector<std::unique_ptr<server>> servers_;
    std::unique_ptr<cpc::runtime> runtime_;  // only with several loops
};

}  // namespace httpd
