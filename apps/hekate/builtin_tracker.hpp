// The built-in tracker (hekate --tracker PORT): an open HTTP/1.x announce endpoint on the cpc
// runtime, for swarms without a tracker of their own (a LAN, a test bench).
//
//   GET /announce?info_hash=..&peer_id=..&port=..[&event=..][&ip=..][&numwant=..][&left=..]
//
// answers a bencoded compact reply (BEP 23 `peers`, BEP 7 `peers6`) with `interval`,
// `min interval`, `complete` and `incomplete`. Any info-hash is accepted. A peer is known by
// its address and port (the connection's address, or a numeric `ip`), forgotten after
// `stopped` or after two intervals without an announce, and never sent its own address.
// A bad announce gets a `failure reason`; a request that is not HTTP, too long or too slow
// gets a 400 or nothing; either way the connection is closed after one answer, and nothing a
// client sends can make the tracker throw or stop serving others.
#pragma once

#include <array>
#include <chrono>
#include <cpc/condvar.hpp>
#include <cpc/task.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cpc/net.hpp"
#include "metainfo.hpp"

namespace hekate {

struct builtin_tracker_config {
    std::chrono::seconds interval{60};
    std::chrono::milliseconds peer_ttl{0};          // 0: two intervals
    std::chrono::milliseconds read_timeout{5'000};  // for the whole request head
    std::chrono::milliseconds write_timeout{5'000};
    std::size_t max_request = 4096;  // bytes of request head
    int default_numwant = 50;
    int max_numwant = 200;
    std::size_t max_torrents = 10'000;  // beyond, announces for new torrents are refused
    std::size_t max_peers = 10'000;     // per torrent; beyond, new peers are refused
    std::size_t max_connections = 256;  // beyond, new connections are closed at once
};

class builtin_tracker {
  public:
    explicit builtin_tracker(builtin_tracker_config cfg = {});
    builtin_tracker(const builtin_tracker&) = delete;
    builtin_tracker& operator=(const builtin_tracker&) = delete;

    // Accepts on listen_fd (non-blocking, listening; the caller closes it with cpc::close on the
    // loop, after serve() returns) and serves every connection in its own thread, until `stop` is
    // signalled (signal_all); then hangs up the connections and returns when they are gone. Never
    // throws. `stopping`, when given, is a flag set before the signal, so that a signal sent before
    // serve() waits is not missed.
    cpc::task<void> serve(int listen_fd, cpc::condvar& stop, const bool* stopping = nullptr);

    struct answer {
        int status = 200;
        std::string body;  // bencoded
    };
    // The answer to one request target ("/announce?...") from the client at `from`. The
    // HTTP side of serve() calls this; exposed for tests.
    answer handle(std::string_view target, const cpc::endpoint& from);

    // The request target of a request head ("GET <target> HTTP/1.x\r\n..."), as a view into
    // head; nullopt when the head is not such a request (answered 400).
    static std::optional<std::string_view> request_target(std::string_view head) noexcept;

    // Live peers of one torrent (expired ones may still count until the torrent is touched).
    std::size_t peer_count(const info_hash& hash) const;
    std::size_t torrent_count() const noexcept { return swarms_.size(); }

  private:
    struct peer {
        std::array<std::uint8_t, 20> id{};
        cpc::endpoint address;
        bool seed = false;
        std::chrono::steady_clock::time_point seen;
    };
    using swarm = std::map<std::string, peer>;  // by compact address

    cpc::task<void> connection(int fd, cpc::endpoint from);
    cpc::task<bool> read_head(int fd, std::string& head);
    void expire(swarm& s, std::chrono::steady_clock::time_point now) const;
    void sweep(std::chrono::steady_clock::time_point now);

    builtin_tracker_config cfg_;
    std::map<info_hash, swarm> swarms_;
    std::chrono::steady_clock::time_point last_sweep_{};
    std::size_t live_ = 0;
    bool stopping_ = false;
    cpc::condvar hangup_;  // cuts the connections' waits short at stop
};

}  // namespace hekate
