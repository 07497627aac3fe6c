// The UDP tracker client (BEP 15), on the loop itself with cpc's I/O: a connect exchange for
// a connection id (kept for a minute, then renewed), then the announce. Every datagram is
// checked against the transaction id it answers; others are ignored. Lost datagrams are
// sent again after a timeout that doubles each time, a bounded number of times.
#pragma once

#include <chrono>
#include <cpc/clock.hpp>
#include <cpc/condvar.hpp>
#include <cpc/task.hpp>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "cpc/net.hpp"
#include "tracker_reply.hpp"

namespace hekate {

struct udp_options {
    std::optional<cpc::endpoint> bind;  // local address (its port is not used)
    bool ipv4 = true;                   // at least one of the two
    bool ipv6 = true;
    // BEP 15 waits 15 s * 2^n for n up to 8 (over an hour); hekate gives up sooner and lets
    // the announcer try the next tracker.
    std::chrono::milliseconds base_timeout{15'000};
    int attempts = 3;  // sends of each request (connect, announce) before giving up
    std::chrono::milliseconds connection_lifetime{60'000};
};

struct udp_address {
    std::string host;
    std::uint16_t port = 0;
};
// "udp://host:port[/anything]", host possibly a bracketed IPv6 address; nullopt otherwise.
std::optional<udp_address> parse_udp_url(std::string_view url);

// One tracker. Keep the object between announces so that its connection id is reused. Its
// methods are called from threads of one loop, one announce at a time.
class udp_tracker {
  public:
    explicit udp_tracker(std::string url, udp_options opts = {});

    // Never throws. Returns early with error "cancelled" when `interrupt` is signalled (or an
    // enclosing with_timeout expires) during a wait. Host names are resolved on the pool.
    cpc::task<announce_result> announce(const announce_request& req,
                                        cpc::condvar* interrupt = nullptr);

    const std::string& url() const noexcept { return url_; }

  private:
    cpc::task<announce_result> announce_on(int fd, const announce_request& req,
                                           cpc::condvar* interrupt);
    cpc::task<std::string> connect_exchange(int fd, cpc::condvar* interrupt);

    std::string url_;
    udp_options opts_;
    std::optional<cpc::endpoint> address_;  // resolved once, forgotten when the tracker fails
    std::optional<std::uint64_t> connection_id_;
    cpc::monotonic_clock::time_point connected_at_;
    std::mt19937 random_;
};

}  // namespace hekate
