// The announcer: keeps one torrent known to its trackers (BEP 3, BEP 12 tiers, BEP 15 UDP).
//
// Each announce walks the tiers in order and the trackers of a tier in order; the first that
// answers is moved to the front of its tier and ends the walk. A tracker hears `started` the
// first time it answers us, nothing afterwards, and `stopped` at shutdown. The next announce
// comes after the tracker's `interval` (never sooner than its `min interval`); after a walk
// where every tracker failed, after a back-off that doubles from timing.retry_min up to
// timing.retry_max. udp:// goes to udp_tracker, http(s):// to the libcurl client; other
// schemes are skipped (status().notes says so). A private torrent (BEP 27) is announced to
// its own trackers only, which is all this does.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cpc/condvar.hpp>
#include <cpc/task.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cpc/net.hpp"
#include "metainfo.hpp"
#include "tracker_reply.hpp"
#include "tracker_udp.hpp"

namespace hekate {

// Who we say we are to trackers.
struct announce_identity {
    std::array<std::uint8_t, 20> peer_id{};
    std::uint16_t port = 0;
    std::optional<cpc::endpoint> bind;  // local address for tracker connections
    bool ipv4 = true;
    bool ipv6 = true;
    int numwant = 50;
};

struct transfer_totals {
    std::uint64_t uploaded = 0;
    std::uint64_t downloaded = 0;
    std::uint64_t left = 0;
};

// Every delay of the announcer; tests shrink them.
struct announcer_timing {
    std::chrono::milliseconds retry_min{30'000};
    std::chrono::milliseconds retry_max{30 * 60'000};
    std::chrono::milliseconds default_interval{30 * 60'000};  // when a tracker gives none
    std::chrono::milliseconds shortest_interval{60'000};      // against trackers asking for floods
    std::chrono::milliseconds tracker_second{1'000};  // the unit of `interval`, `min interval`
    std::chrono::milliseconds stop_timeout{3'000};    // for all the `stopped` announces together
    std::chrono::milliseconds http_timeout{15'000};
    std::chrono::milliseconds udp_timeout{5'000};  // first wait; doubles with each retry
    int udp_attempts = 3;
    bool shuffle_tiers = true;  // BEP 12 shuffles each tier once, at the start
};

struct announcer_status {
    std::string tracker;             // URL of the tracker that answered last
    std::string last_error;          // "url: why" of the last failure; kept after later successes
    std::string warning;             // the last `warning message`
    std::vector<std::string> notes;  // trackers skipped at construction, and why
    std::chrono::steady_clock::time_point next_announce{};
    std::uint64_t peers_received = 0;  // in all replies together
    std::optional<std::int64_t> seeders;
    std::optional<std::int64_t> leechers;
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;  // failed tracker attempts

    // Rounded up; 0 when the announce is due or running.
    std::int64_t seconds_to_next_announce() const;
};

class announcer {
  public:
    // `totals` is asked before every announce; `on_peers` gets each reply's peers (possibly
    // our own address among them: the caller filters). Both are called on the loop.
    announcer(const metainfo& torrent, announce_identity identity,
              std::function<transfer_totals()> totals,
              std::function<void(const std::vector<cpc::endpoint>&)> on_peers,
              announcer_timing timing = {});
    announcer(const announcer&) = delete;
    announcer& operator=(const announcer&) = delete;
    ~announcer();

    // Announces `started`, then periodically, until `stop` is signalled (signal_all), then
    // `stopped` to the trackers that answered, within timing.stop_timeout, and returns.
    // Never throws. `stop` must be signalled after run() has begun waiting, or pass
    // `stopping`, a flag set before the signal, which closes that race. With no usable
    // tracker it just waits for stop.
    cpc::task<void> run(cpc::condvar& stop, const bool* stopping = nullptr);

    const announcer_status& status() const noexcept { return status_; }

  private:
    struct tracker;
    cpc::task<void> announce_loop();
    cpc::task<bool> announce_round();
    cpc::task<void> announce_stopped();
    cpc::task<announce_result> announce_to(tracker& t, announce_event event,
                                           cpc::condvar* interrupt,
                                           std::chrono::milliseconds http_timeout);
    static cpc::task<void> relay(announcer* self, cpc::condvar* stop, const bool* stopping);

    info_hash hash_;
    announce_identity identity_;
    std::function<transfer_totals()> totals_;
    std::function<void(const std::vector<cpc::endpoint>&)> on_peers_;
    announcer_timing timing_;
    std::uint32_t key_;
    std::vector<std::vector<std::unique_ptr<tracker>>> tiers_;
    announcer_status status_;
    std::chrono::steady_clock::time_point earliest_{};  // min interval of the last reply
    int failed_rounds_ = 0;
    bool stopping_ = false;
    cpc::condvar wake_;                // cuts every wait of the announcer short at stop
    std::atomic<bool> cancel_{false};  // the same for an HTTP request on the pool
};

}  // namespace hekate
