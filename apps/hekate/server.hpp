// server: hekate itself. Loads the torrents of its directories, listens for peers (IPv4 and
// IPv6), dials leechers (from trackers and --peer), applies the choker's decisions, runs one
// announcer per torrent, rescans on demand, and keeps the statistics.
//
// Everything runs on one cpc loop: the server's tables are shared by its threads without
// locks. Blocking work (tracker HTTP, piece verification, cold-disk writes) goes to the pool.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "choker.hpp"
#include "cpc/condvar.hpp"
#include "cpc/task.hpp"
#include "cpc/task_group.hpp"
#include "endpoint.hpp"
#include "served_torrent.hpp"
#include "storage.hpp"
#include "token_bucket.hpp"
#include "wire.hpp"

namespace hekate {

class peer_connection;

struct server_config {
    std::vector<std::filesystem::path> directories;
    std::uint16_t port = 6881;     // 0: any free port (tests)
    std::optional<endpoint> bind;  // address (port ignored) to listen and dial from
    std::vector<endpoint> peers;   // --peer: leechers to dial for every torrent
    bool ipv4 = true;
    bool ipv6 = true;
    bool trackers = true;  // -t turns announcing off
    bool verify = false;   // hash every piece before serving
    choker_config choking;
    std::uint64_t upload_limit = 0;             // bytes per second, 0 = unlimited
    std::optional<std::uint16_t> tracker_port;  // the built-in tracker
    std::optional<std::uint16_t> status_port;   // JSON statistics over HTTP
    std::chrono::seconds stats_interval{10};    // printed at -d 1
    std::chrono::milliseconds handshake_timeout{5000};
    std::chrono::seconds idle_timeout{180};  // peers send keep-alives every 120 s
    std::chrono::seconds keep_alive_interval{100};
    std::chrono::seconds write_timeout{120};
    std::size_t max_queued_requests = 500;  // per peer; more is a flood
    std::uint32_t advertised_reqq = 250;    // what the extended handshake promises
    std::size_t max_dials_in_flight = 256;
};

struct server_totals {
    std::uint64_t uploaded = 0;
    std::uint64_t last_sample = 0;
    double rate = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_dialled = 0;
    std::uint64_t protocol_errors = 0;
    // Incoming connections closed before the end of the handshake, by cause.
    std::uint64_t refused_full = 0;  // at --max-peers: closed as accepted
    std::uint64_t handshakes_timed_out = 0;
    std::uint64_t handshakes_cut = 0;  // closed or reset by the peer
    std::uint64_t not_handshakes = 0;  // an encrypted opening, or garbage
    std::uint64_t unknown_info_hash = 0;
};

class server {
  public:
    explicit server(server_config config);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds the sockets (throws std::system_error naming the address if it cannot), loads
    // the torrents and serves until stop(). Returns the process exit status.
    cpc::task<int> run();
    // Both are safe to call from any thread of the server's loop.
    void stop() noexcept;
    void request_rescan() noexcept;

    // The port peers connect to (the real one when config.port was 0), once run() bound it.
    std::uint16_t listen_port() const noexcept { return listen_port_; }

    // --- for peer_connection ---
    const server_config& config() const noexcept { return config_; }
    choker& fairness() noexcept { return choker_; }
    token_bucket* upload_limiter() noexcept { return limiter_ ? &*limiter_ : nullptr; }
    // Applies the choker's decisions now (after an event that may free or want a slot).
    void rechoke();
    void count_sent(served_torrent& t, peer_key key, std::uint64_t bytes) noexcept;
    void count_protocol_error() noexcept { ++totals_.protocol_errors; }
    // A read buffer shared by every peer: a reader uses it only between a read and the end
    // of its synchronous processing, so no two readers hold it at once (one loop).
    std::span<char> scratch() noexcept { return scratch_; }

    // --- for the statistics ---
    std::string status_json() const;

  private:
    struct listener {
        int fd = -1;
        endpoint address;
    };
    struct dial_target {
        endpoint address;
        std::shared_ptr<served_torrent> torrent;
    };

    void open_listeners();
    void load_torrents(bool first);
    void add_torrent(torrent_entry entry);
    void remove_torrent(const info_hash& h);
    void start_announcing(const std::shared_ptr<served_torrent>& t);
    std::shared_ptr<served_torrent> find(const info_hash& h) const;

    cpc::task<void> accept_loop(listener l);
    cpc::task<void> serve_incoming(int fd, endpoint remote);
    cpc::task<void> dial(dial_target target, int attempts);
    cpc::task<bool> dial_once(const dial_target& target);
    cpc::task<void> keep_dialling(endpoint address);
    cpc::task<void> session(int fd, endpoint remote, std::shared_ptr<served_torrent> t,
                            wire::handshake theirs);
    cpc::task<void> verify_then_serve(torrent_entry entry);
    cpc::task<void> announce(std::shared_ptr<served_torrent> t);
    cpc::task<void> tick_loop();
    cpc::task<void> status_loop(int listen_fd);
    cpc::task<void> serve_status(int fd);
    void on_tracker_peers(const std::shared_ptr<served_torrent>& t,
                          const std::vector<endpoint>& peers);
    bool connected_to(const served_torrent& t, const endpoint& e) const;
    void print_statistics();

    server_config config_;
    wire::peer_id own_id_{};
    std::uint16_t listen_port_ = 0;
    std::vector<listener> listeners_;
    int tracker_fd_ = -1;
    int status_fd_ = -1;
    file_cache files_;
    choker choker_;
    std::optional<token_bucket> limiter_;
    std::unordered_map<std::string, std::shared_ptr<served_torrent>> torrents_;  // by hash bytes
    std::unordered_map<peer_key, peer_connection*> peers_;
    std::unordered_map<std::string, std::size_t> dialling_;  // "hash|endpoint" in flight
    std::unordered_set<std::string> finished_;  // "hash|endpoint" of peers that completed
    std::size_t dials_in_flight_ = 0;
    std::size_t handshakes_in_flight_ = 0;
    peer_key next_key_ = 1;
    server_totals totals_;
    std::vector<char> scratch_;
    bool stopping_ = false;
    bool rescan_requested_ = false;
    cpc::condvar stop_;       // interrupts every long wait of the server's own threads
    cpc::condvar wake_tick_;  // rescan requests
    std::size_t announcers_running_ = 0;
    cpc::condvar announcers_done_;
    bool tracker_stopping_ = false;  // the built-in tracker stops after the announcers
    cpc::condvar tracker_stop_;
    cpc::task_group threads_;
};

}  // namespace hekate
