// server: hekate itself. Loads the torrents of its directories, listens for peers (IPv4 and
// IPv6), dials leechers (from trackers and --peer), applies the choker's decisions, runs one
// announcer per torrent, rescans on demand, and keeps the statistics.
//
// What runs where (--threads N: a cpc::runtime of N loops; --threads 1: one loop, and every
// hop below is a no-op):
//   - The control color (on loop 0, which it never leaves: the runtime does not steal) owns
//     the tables: torrents_, peers_, dialling_, finished_, the choker, the announcers, the
//     built-in tracker, the status page, the accept loops and the dial bookkeeping. Every
//     thread spawned by run() is in it, so they share these without locks, as on one loop.
//   - A peer is placed on a loop (round robin) before its handshake; its socket is waited on
//     and closed there only (each loop has its own table of fds). Its reader and writer run
//     uncolored on that loop (peer_connection.hpp) with the loop's read buffer (peer_loop).
//   - A peer hops into the control color for the choker's events: the handshake's lookup,
//     registration and removal, INTERESTED and NOT_INTERESTED, its requests at most once a
//     second (the request-idle rule), and its sent bytes when they reach its turn's credit
//     (choker::credit_left), so that the turn ends exactly where it would on one loop; then
//     nothing until a CHOKE or a renewal of its turn (peer_connection.hpp).
//     Threads running on loop 0 are never concurrent with the control color: a peer placed
//     there calls the server at once, as on one loop (in_control()).
//   - The choker's decisions (and the renewals of turns, for the peers of other loops) go
//     back to each peer on its own loop: a small thread spawned there looks the peer up in
//     the loop's table and applies it. Unchokes wait until every
//     CHOKE (or drop) decided before them has been applied, so that at no moment more than
//     max_unchoked peers have been told UNCHOKE and not CHOKE since (told_unchoked()).
//   - Each loop has its own file cache (peer_loop), trimmed there by tick_loop. Shared by
//     every loop: the upload limiter (a mutex), the byte and error counters (atomics).
// Blocking work (tracker HTTP, piece verification, cold-disk reads) goes to the pool.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "choker.hpp"
#include "cpc/color.hpp"
#include "cpc/condvar.hpp"
#include "cpc/loop.hpp"
#include "cpc/net.hpp"
#include "cpc/runtime.hpp"
#include "cpc/task.hpp"
#include "cpc/task_group.hpp"
#include "peer_host.hpp"
#include "peer_loop.hpp"
#include "served_torrent.hpp"
#include "storage.hpp"
#include "token_bucket.hpp"
#include "wire.hpp"

namespace hekate {

class peer_connection;

struct server_config {
    std::vector<std::filesystem::path> directories;
    std::uint16_t port = 6881;          // 0: any free port (tests)
    std::optional<cpc::endpoint> bind;  // address (port ignored) to listen and dial from
    std::vector<cpc::endpoint> peers;   // --peer: leechers to dial for every torrent
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

// uploaded and protocol_errors are counted by the peers on their loops (atomics); the rest
// by the control color.
struct server_totals {
    std::atomic<std::uint64_t> uploaded{0};
    std::uint64_t last_sample = 0;
    double rate = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_dialled = 0;
    std::atomic<std::uint64_t> protocol_errors{0};
    // Incoming connections closed before the end of the handshake, by cause.
    std::uint64_t refused_full = 0;  // at --max-peers: closed as accepted
    std::uint64_t handshakes_timed_out = 0;
    std::uint64_t handshakes_cut = 0;  // closed or reset by the peer
    std::uint64_t not_handshakes = 0;  // an encrypted opening, or garbage
    std::uint64_t unknown_info_hash = 0;
};

class server : private peer_host {
  public:
    // On the default loop alone (one loop), or on the loops of `rt` with the tables in
    // `control`, a color whose home is rt.at(0) in a runtime that does not steal (rt and
    // control must outlive the server).
    explicit server(server_config config);
    server(server_config config, cpc::runtime& rt, cpc::color& control);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds the sockets (throws std::system_error naming the address if it cannot), loads
    // the torrents and serves until stop(). Returns the process exit status.
    cpc::task<int> run();
    // Both are safe to call from any thread of the control color (or of the one loop).
    void stop() noexcept;
    void request_rescan() noexcept;

    // The port peers connect to (the real one when config.port was 0), once run() bound it.
    std::uint16_t listen_port() const noexcept { return peer_settings_.listen_port; }

    // --- for the statistics ---
    std::string status_json() const;
    // Peers told UNCHOKE and not CHOKE since (their own view), now and at most so far.
    std::size_t told_unchoked() const noexcept { return told_unchoked_; }
    std::size_t told_unchoked_peak() const noexcept { return told_unchoked_peak_; }

  private:
    struct listener {
        int fd = -1;
        cpc::endpoint address;
    };
    struct dial_target {
        cpc::endpoint address;
        std::shared_ptr<served_torrent> torrent;
    };

    server(server_config config, cpc::scheduler& control, const std::vector<cpc::loop*>& loops);

    // peer_host: what the peers (peer_connection) call.
    const peer_settings& settings() const noexcept override { return peer_settings_; }
    cpc::scheduler& control() noexcept override { return control_; }
    bool in_control() const noexcept override { return cpc::loop::current() == control_loop_; }
    void interested(peer_key key, std::int64_t at) override { choker_.interested(key, at); }
    void not_interested(peer_key key, std::int64_t at) override { choker_.not_interested(key, at); }
    // Applies the choker's decisions now (after an event that may free or want a slot).
    void rechoke() override;
    void requested(peer_key key, std::int64_t at) override { choker_.requested(key, at); }
    std::uint64_t sent(peer_key key, std::uint64_t bytes) override;
    std::int64_t reserve_upload(std::uint64_t bytes, std::int64_t now) override;
    void count_sent(served_torrent& t, std::uint64_t bytes) noexcept override;
    void count_protocol_error() noexcept override { ++totals_.protocol_errors; }
    void count_told_unchoked(int change) noexcept override;

    void open_listeners();
    void load_torrents(bool first);
    void add_torrent(torrent_entry entry);
    void remove_torrent(const info_hash& h);
    void start_announcing(const std::shared_ptr<served_torrent>& t);
    std::shared_ptr<served_torrent> find(const info_hash& h) const;

    cpc::task<void> accept_loop(listener l);
    cpc::task<void> serve_incoming(int fd, cpc::endpoint remote);
    cpc::task<void> dial(dial_target target, int attempts);
    cpc::task<bool> dial_once(const dial_target& target);
    cpc::task<void> keep_dialling(cpc::endpoint address);
    cpc::task<void> session(int fd, cpc::endpoint remote, std::shared_ptr<served_torrent> t,
                            wire::handshake theirs, peer_loop& home);
    peer_loop& place_peer();
    cpc::task<void> close_on(peer_loop& home, int fd);
    // The choker's decisions and kills, applied on the peer's loop.
    enum class decision { unchoke, choke, renew, drop, kill };
    void deliver(peer_key key, decision d);
    static void apply(peer_connection& p, decision d);
    // `choke` numbers a CHOKE or drop, acknowledged by choke_applied once done.
    static cpc::task<void> apply_on_loop(server* self, peer_loop* home, peer_key key, decision d,
                                         std::uint64_t choke);
    void choke_applied(std::uint64_t choke);
    cpc::task<void> verify_then_serve(torrent_entry entry);
    // Torrents whose data changed under them (torrent_storage::changed): dropped, and checked
    // again whole before they are served again (recheck_).
    void recheck_changed_torrents();
    cpc::task<void> announce(std::shared_ptr<served_torrent> t);
    cpc::task<void> tick_loop();
    cpc::task<void> status_loop(int listen_fd);
    cpc::task<void> serve_status(int fd);
    void on_tracker_peers(const std::shared_ptr<served_torrent>& t,
                          const std::vector<cpc::endpoint>& peers);
    bool connected_to(const served_torrent& t, const cpc::endpoint& e) const;
    void print_statistics();

    server_config config_;
    peer_settings peer_settings_;  // from config_; listen_port once bound
    cpc::scheduler& control_;
    cpc::loop* control_loop_;
    std::vector<std::unique_ptr<peer_loop>> loops_;
    std::size_t next_loop_ = 0;
    wire::peer_id own_id_{};
    std::vector<listener> listeners_;
    int tracker_fd_ = -1;
    int status_fd_ = -1;
    choker choker_;
    std::optional<token_bucket> limiter_;
    std::mutex limiter_mutex_;
    std::unordered_map<std::string, std::shared_ptr<served_torrent>> torrents_;  // by hash bytes
    // Torrents (by hash bytes) served again only after a whole check of their data: their
    // files changed while served. true while the check runs; false after it failed, until a
    // rescan checks them again. A rescan that finds them does not serve them unchecked.
    std::unordered_map<std::string, bool> recheck_;
    std::unordered_map<peer_key, peer_connection*> peers_;
    std::unordered_map<std::string, std::size_t> dialling_;  // "hash|endpoint" in flight
    std::unordered_set<std::string> finished_;  // "hash|endpoint" of peers that completed
    std::size_t dials_in_flight_ = 0;
    std::size_t handshakes_in_flight_ = 0;
    peer_key next_key_ = 1;
    server_totals totals_;
    std::atomic<std::size_t> told_unchoked_{0};
    std::atomic<std::size_t> told_unchoked_peak_{0};
    // CHOKEs and drops sent to other loops and not applied yet, by number; an UNCHOKE decided
    // meanwhile waits until those numbered below its own mark are applied.
    std::uint64_t next_choke_ = 0;
    std::set<std::uint64_t> chokes_in_flight_;
    // Peer -> its mark: next_choke_ when its latest UNCHOKE was decided.
    std::unordered_map<peer_key, std::uint64_t> deferred_unchokes_;
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
