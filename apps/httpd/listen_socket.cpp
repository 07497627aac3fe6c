// The listening socket: its address (IPv4 or IPv6), its options and its backlog.
#include <optional>
#include <string>

#include "cpc/net.hpp"
#include "server.hpp"

namespace httpd {

std::string open_listener(const server_config& cfg, int* fd_out, std::uint16_t* port) {
    std::string why;
    const std::optional<cpc::endpoint> at =
        cpc::endpoint::from_host(cfg.bind_address, cfg.port, &why);
    if (!at) return "bad bind address: " + why;
    // Non-blocking (listen_on's default), so that cpc::accept waits for readiness instead of
    // blocking the loop.
    cpc::listen_result listening = cpc::listen_on(*at, cfg.backlog, {.reuse_port = cfg.reuse_port});
    if (!listening) {
        return at->to_string() + ": " + listening.failed_call + ": " + listening.error.message();
    }
    const std::optional<cpc::endpoint> bound = cpc::local_endpoint(listening.fd.get());
    *port = bound ? bound->port() : cfg.port;
    *fd_out = listening.fd.release();
    return {};
}

}  // namespace httpd
