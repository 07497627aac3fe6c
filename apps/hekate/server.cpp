#include "server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <random>
#include <stdexcept>
#include <system_error>

#include "builtin_tracker.hpp"
#include "client_version.hpp"
#include "cpc/attach.hpp"
#include "cpc/io.hpp"
#include "cpc/loop.hpp"
#include "cpc/sleep.hpp"
#include "cpc/spawn.hpp"
#include "cpc/with_timeout.hpp"
#include "log.hpp"
#include "peer_connection.hpp"
#include "verify.hpp"

namespace hekate {

namespace {

std::string hash_key(const info_hash& h) {
    return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

std::string dial_key(const info_hash& h, const cpc::endpoint& e) {
    return hash_key(h) + "|" + e.to_string();
}

// The upload limiter's burst: a tenth of a second's worth, at least one block, lets an idle
// link start at once without exceeding the rate over any second.
std::uint64_t upload_burst(const server_config& c) {
    return c.upload_limit == 0 ? 0 : std::max<std::uint64_t>(c.upload_limit / 10, 16 * 1024);
}

peer_settings settings_of(const server_config& c) {
    peer_settings s;
    s.idle_timeout = c.idle_timeout;
    s.keep_alive_interval = c.keep_alive_interval;
    s.write_timeout = c.write_timeout;
    s.max_queued_requests = c.max_queued_requests;
    s.advertised_reqq = c.advertised_reqq;
    s.turn_credit = choker::full_credit(c.choking);
    s.upload_burst = upload_burst(c);
    return s;
}

wire::peer_id make_peer_id() {
    // Azureus style: client "HK" and its version (client_version.hpp), then random characters.
    static constexpr std::string_view prefix(peer_id_prefix.data(), peer_id_prefix.size());
    static constexpr std::string_view alphabet =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    wire::peer_id id{};
    std::random_device rd;
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::memcpy(id.data(), prefix.data(), prefix.size());
    for (std::size_t i = prefix.size(); i < id.size(); ++i) {
        id[i] = static_cast<std::uint8_t>(alphabet[pick(rd)]);
    }
    return id;
}

// A non-blocking listening socket on `at`, or an exception that names it. IPv6 sockets are
// IPv6-only: IPv4 has its own, on the same port.
int listen_or_throw(const cpc::endpoint& at, int backlog) {
    cpc::listen_result r = cpc::listen_on(at, backlog, {.ipv6_only = true});
    if (!r) {
        const bool no_socket = std::string_view(r.failed_call) == "socket";
        throw std::system_error(r.error,
                                (no_socket ? "socket for " : "cannot listen on ") + at.to_string());
    }
    return r.fd.release();
}

cpc::endpoint bound_address(int fd) {
    return cpc::local_endpoint(fd).value_or(cpc::endpoint{});
}

cpc::endpoint any_address(int family, std::uint16_t port) {
    return *cpc::endpoint::from_host(family == AF_INET6 ? "::" : "0.0.0.0", port);
}

// How a handshake read ended; the failures are counted apart (statistics) so that a burst
// of closed handshakes says whose side gave up.
enum class handshake_read { ok, cut, not_handshake, unknown_info_hash };

const char* describe(handshake_read r) noexcept {
    switch (r) {
        case handshake_read::ok:
            return "ok";
        case handshake_read::cut:
            return "closed or reset by the peer";
        case handshake_read::not_handshake:
            return "not a plaintext handshake";
        case handshake_read::unknown_info_hash:
            return "unknown info-hash";
    }
    return "?";
}

// Reads exactly [from, to) of buf; after the first bytes, gives up as soon as they cannot be
// a plaintext handshake (an encrypted opening), so that the client retries in plaintext at
// once instead of waiting for a timeout.
cpc::task<handshake_read> read_handshake_bytes(int fd, char* buf, std::size_t from,
                                               std::size_t to) {
    std::size_t have = from;
    while (have < to) {
        auto r = co_await cpc::read(fd, buf + have, to - have);
        if (!r || r.bytes == 0) co_return handshake_read::cut;
        have += r.bytes;
        if (!wire::could_be_handshake(std::string_view(buf, std::min<std::size_t>(have, 20)))) {
            co_return handshake_read::not_handshake;
        }
    }
    co_return handshake_read::ok;
}

}  // namespace

server::server(server_config config)
    : server(std::move(config), cpc::default_loop(), {&cpc::default_loop()}) {}

server::server(server_config config, cpc::runtime& rt, cpc::color& control)
    : server(std::move(config), control, rt.loops()) {
    if (&control.owner() != &rt.at(0)) {
        throw std::invalid_argument("hekate: the control color must live on the first loop");
    }
}

server::server(server_config config, cpc::scheduler& control, const std::vector<cpc::loop*>& loops)
    : config_(std::move(config)),
      peer_settings_(settings_of(config_)),
      control_(control),
      control_loop_(loops.front()),
      own_id_(make_peer_id()),
      choker_(config_.choking) {
    for (cpc::loop* l : loops)
        loops_.push_back(std::make_unique<peer_loop>(*l));
    if (config_.upload_limit != 0) limiter_.emplace(config_.upload_limit, upload_burst(config_));
}

server::~server() {
    for (listener& l : listeners_) {
        if (l.fd >= 0) ::close(l.fd);
    }
    if (tracker_fd_ >= 0) ::close(tracker_fd_);
    if (status_fd_ >= 0) ::close(status_fd_);
}

void server::open_listeners() {
    const int backlog = 4096;
    if (config_.bind) {
        cpc::endpoint at = *config_.bind;
        at = *cpc::endpoint::from_host(at.host(), config_.port);
        int fd = listen_or_throw(at, backlog);
        listeners_.push_back({fd, bound_address(fd)});
    } else {
        std::uint16_t port = config_.port;
        for (int family : {AF_INET, AF_INET6}) {
            if ((family == AF_INET && !config_.ipv4) || (family == AF_INET6 && !config_.ipv6)) {
                continue;
            }
            try {
                int fd = listen_or_throw(any_address(family, port), backlog);
                listeners_.push_back({fd, bound_address(fd)});
                port = listeners_.back().address.port();  // IPv6 takes the port IPv4 got
            } catch (const std::system_error& e) {
                // A host without IPv6 still serves IPv4 (and the reverse).
                if (family == AF_INET6 && !listeners_.empty()) {
                    app_log::warn("no IPv6 listener, serving IPv4 only: {}", e.what());
                    continue;
                }
                throw;
            }
        }
    }
    peer_settings_.listen_port = listeners_.front().address.port();
    for (const listener& l : listeners_) {
        log(log_level::info, "listening for peers on {}", l.address.to_string());
    }
    std::string local = config_.bind ? config_.bind->host() : "0.0.0.0";
    if (config_.tracker_port) {
        tracker_fd_ =
            listen_or_throw(*cpc::endpoint::from_host(local, *config_.tracker_port), backlog);
        log(log_level::info, "tracker at http://{}/announce",
            bound_address(tracker_fd_).to_string());
    }
    if (config_.status_port) {
        status_fd_ = listen_or_throw(*cpc::endpoint::from_host(local, *config_.status_port), 64);
        log(log_level::info, "statistics at http://{}/", bound_address(status_fd_).to_string());
    }
}

std::shared_ptr<served_torrent> server::find(const info_hash& h) const {
    auto it = torrents_.find(hash_key(h));
    return it == torrents_.end() ? nullptr : it->second;
}

void server::load_torrents(bool first) {
    scan_report report = scan_directories(config_.directories);
    for (const std::string& e : report.errors)
        app_log::warn("skipped {}", e);
    std::unordered_map<std::string, bool> seen;
    std::size_t added = 0;
    for (torrent_entry& entry : report.loaded) {
        std::string key = hash_key(entry.meta.hash);
        seen[key] = true;
        if (torrents_.count(key)) continue;  // unchanged: keeps its peers
        if (auto it = recheck_.find(key); it != recheck_.end()) {
            if (it->second) continue;  // being checked
            it->second = true;
            ++added;
            threads_.spawn(verify_then_serve(std::move(entry)));
            continue;
        }
        if (auto problem = check_data(entry)) {
            app_log::warn("not serving {}: {}", entry.torrent_file.string(), *problem);
            continue;
        }
        ++added;
        if (config_.verify) {
            threads_.spawn(verify_then_serve(std::move(entry)));
        } else {
            add_torrent(std::move(entry));
        }
    }
    std::vector<info_hash> gone;
    for (const auto& [key, t] : torrents_) {
        if (!seen.count(key)) gone.push_back(t->meta().hash);
    }
    for (const info_hash& h : gone)
        remove_torrent(h);
    log(log_level::info, "{}: {} torrents found, {} new, {} dropped", first ? "startup" : "rescan",
        report.loaded.size(), added, gone.size());
}

cpc::task<void> server::verify_then_serve(torrent_entry entry) {
    log(log_level::info, "verifying {}", entry.torrent_file.string());
    verify_result r = co_await verify_torrent(entry);
    if (stopping_) co_return;
    const std::string key = hash_key(entry.meta.hash);
    if (!r.ok()) {
        app_log::warn("not serving {}: {}", entry.torrent_file.string(), r.message);
        if (auto it = recheck_.find(key); it != recheck_.end()) it->second = false;
        co_return;
    }
    log(log_level::info, "verified {}", entry.torrent_file.string());
    recheck_.erase(key);
    if (!find(entry.meta.hash)) add_torrent(std::move(entry));
}

void server::recheck_changed_torrents() {
    std::vector<std::shared_ptr<served_torrent>> changed;
    for (const auto& [key, t] : torrents_) {
        if (t->storage.changed()) changed.push_back(t);
    }
    for (const std::shared_ptr<served_torrent>& t : changed) {
        // A size check would pass a same-size replacement: the pieces are hashed again.
        app_log::warn("{}: its data changed while served; checking it again",
                      t->entry.torrent_file.string());
        remove_torrent(t->meta().hash);
        recheck_[hash_key(t->meta().hash)] = true;
        threads_.spawn(verify_then_serve(t->entry));
    }
}

void server::add_torrent(torrent_entry entry) {
    auto t = std::make_shared<served_torrent>(std::move(entry));
    torrents_[hash_key(t->meta().hash)] = t;
    // One line per torrent at -d 2: a seedbox's thousands would drown the summary at -d 1.
    log(log_level::connections, "serving {} ({}, {} bytes, {} pieces)", t->meta().name,
        to_hex(t->meta().hash), t->meta().total_length, t->meta().piece_count());
    start_announcing(t);
    for (const cpc::endpoint& e : config_.peers) {
        threads_.spawn(dial({e, t}, 1));
    }
}

void server::remove_torrent(const info_hash& h) {
    auto it = torrents_.find(hash_key(h));
    if (it == torrents_.end()) return;
    std::shared_ptr<served_torrent> t = it->second;
    torrents_.erase(it);
    t->removed = true;
    t->stop_announcing.signal_all();
    for (auto& [key, p] : peers_) {
        if (&p->torrent() == t.get()) deliver(key, decision::kill);
    }
    log(log_level::info, "dropped {}", t->meta().name);
}

void server::start_announcing(const std::shared_ptr<served_torrent>& t) {
    if (!config_.trackers || t->meta().trackers.empty()) return;
    announce_identity id;
    id.peer_id = own_id_;
    id.port = peer_settings_.listen_port;
    id.bind = config_.bind;
    id.ipv4 = config_.ipv4;
    id.ipv6 = config_.ipv6;
    served_torrent* raw = t.get();
    std::weak_ptr<served_torrent> weak = t;
    t->tracker_client = std::make_unique<announcer>(
        t->meta(), id,
        [raw] {
            return transfer_totals{raw->counters.uploaded.load(), 0, 0};
        },
        [this, weak](const std::vector<cpc::endpoint>& peers) {
            if (auto strong = weak.lock()) on_tracker_peers(strong, peers);
        });
    for (const std::string& note : t->tracker_client->status().notes) {
        app_log::warn("{}: {}", t->entry.torrent_file.string(), note);
    }
    threads_.spawn(announce(t));
}

cpc::task<void> server::announce(std::shared_ptr<served_torrent> t) {
    ++announcers_running_;
    co_await t->tracker_client->run(t->stop_announcing, &t->removed);
    if (--announcers_running_ == 0) announcers_done_.signal_all();
}

bool server::connected_to(const served_torrent& t, const cpc::endpoint& e) const {
    return dialling_.count(dial_key(t.meta().hash, e)) != 0;
}

void server::on_tracker_peers(const std::shared_ptr<served_torrent>& t,
                              const std::vector<cpc::endpoint>& peers) {
    for (const cpc::endpoint& e : peers) {
        bool ours = false;
        for (const listener& l : listeners_) {
            if (e.port() == peer_settings_.listen_port &&
                (e.host() == l.address.host() || l.address.host() == "0.0.0.0" ||
                 l.address.host() == "::")) {
                ours = true;
            }
        }
        if (ours || t->removed || connected_to(*t, e)) continue;
        if (dials_in_flight_ >= config_.max_dials_in_flight || !choker_.admit()) break;
        threads_.spawn(dial({e, t}, 2));
    }
}

cpc::task<void> server::dial(dial_target target, int attempts) {
    std::string key = dial_key(target.torrent->meta().hash, target.address);
    if (dialling_.count(key)) co_return;
    dialling_[key] = 1;
    ++dials_in_flight_;
    auto delay = std::chrono::milliseconds(500);
    for (int i = 0; i < attempts && !stopping_ && !target.torrent->removed; ++i) {
        if (i > 0) {
            bool slept = co_await cpc::sleep(delay, &stop_);
            if (!slept) break;
            delay *= 2;
        }
        if (!choker_.admit()) break;
        bool served = co_await dial_once(target);
        if (served) break;
    }
    --dials_in_flight_;
    dialling_.erase(key);
}

cpc::task<bool> server::dial_once(const dial_target& target) {
    const cpc::endpoint& to = target.address;
    // The connection and the handshake happen on the peer's loop, where its socket lives.
    peer_loop& home = place_peer();
    cpc::scheduler& control = co_await cpc::attach(*home.loop);
    // Outgoing connections leave from --bind's address, so that a client that keeps one
    // peer per address (rtorrent) sees hekate where it listens. A failed bind fails the dial
    // (the listeners are bound there, so only an address removed since then fails it):
    // leaving from another address would show the peer a hekate it does not know.
    cpc::connect_options how;
    if (config_.bind && config_.bind->family() == to.family()) {
        how.source = config_.bind;
        how.source->set_port(0);
    }
    std::optional<cpc::connect_result> connected = co_await cpc::with_timeout(
        std::chrono::seconds(10), cpc::connect_to(to, &stop_, std::move(how)));
    const int fd = connected ? connected->fd.get() : -1;
    std::optional<wire::handshake> theirs;
    if (connected && *connected) {
        // The initiator sends its handshake first, then reads the peer's.
        std::string ours = wire::encode_handshake(target.torrent->meta().hash, own_id_);
        char buf[wire::handshake_size];
        auto exchanged = co_await cpc::with_timeout(
            config_.handshake_timeout, [](int fd, std::string ours, char* buf) -> cpc::task<bool> {
                auto w = co_await cpc::write(fd, ours.data(), ours.size());
                if (!w) co_return false;
                co_return co_await read_handshake_bytes(fd, buf, 0, wire::handshake_size) ==
                    handshake_read::ok;
            }(fd, std::move(ours), buf));
        if (exchanged && *exchanged) {
            theirs = wire::parse_handshake(std::string_view(buf, sizeof buf));
        }
    }
    bool valid = theirs && theirs->hash == target.torrent->meta().hash;
    if (valid) {
        (void)connected->fd.release();  // the session owns it now
    } else if (connected) {
        connected->fd.reset();  // closed here, on its own loop
    }
    co_await cpc::attach(control);
    if (!connected || !*connected) {
        std::string why = "timed out";
        if (connected) {
            why = connected->error.message();
            if (std::string_view(connected->failed_call) != "connect") {
                why = std::string(connected->failed_call) + ": " + why;
            }
        }
        log(log_level::connections, "dial {}: {}", to.to_string(), why);
        co_return false;
    }
    ++totals_.connections_dialled;
    if (!valid) {
        log(log_level::connections, "dial {}: no valid handshake", to.to_string());
        co_return false;
    }
    co_await session(fd, to, target.torrent, *theirs, home);
    co_return true;
}

cpc::task<void> server::keep_dialling(cpc::endpoint address) {
    // A leecher given with --peer may not be listening yet, or may close the first attempts
    // while it starts: dial every torrent it does not have yet, again and again.
    auto delay = std::chrono::milliseconds(1000);
    while (!stopping_) {
        for (const auto& [key, t] : torrents_) {
            std::string k = dial_key(t->meta().hash, address);
            if (!dialling_.count(k) && !finished_.count(k)) threads_.spawn(dial({address, t}, 1));
        }
        bool slept = co_await cpc::sleep(delay, &stop_);
        if (!slept) break;
        delay = std::min(delay * 2, std::chrono::milliseconds(5000));
    }
}

cpc::task<void> server::accept_loop(listener l) {
    while (!stopping_) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        auto a = co_await cpc::accept(l.fd, reinterpret_cast<sockaddr*>(&ss), &len, &stop_);
        if (stopping_) {
            if (a) cpc::close(a.fd);
            break;
        }
        if (!a) {
            // Out of descriptors (or any other failure): let connections end before accepting
            // more, rather than retrying in a loop that never lets them.
            app_log::warn("accept on {}: {}", l.address.to_string(), a.error.message());
            co_await cpc::sleep(std::chrono::milliseconds(100), &stop_);
            continue;
        }
        ++totals_.connections_accepted;
        // Never empty: a TCP listener on IPv4 or IPv6 accepts only from its own family.
        const cpc::endpoint remote =
            cpc::endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len)
                .value_or(cpc::endpoint{});
        if (!choker_.admit() || handshakes_in_flight_ >= choker_.config().max_peers) {
            ++totals_.refused_full;
            log(log_level::connections, "{}: server full, closing", remote.to_string());
            cpc::close(a.fd);
            continue;
        }
        threads_.spawn(serve_incoming(a.fd, remote));
    }
}

cpc::task<void> server::serve_incoming(int fd, cpc::endpoint remote) {
    ++handshakes_in_flight_;
    // The handshake happens on the peer's loop, where its socket lives; only the lookup of
    // the info-hash comes back here. Read up to the info-hash, answer with ours if it is
    // served, then read the peer id: what BEP 3 allows a server of many torrents to do.
    peer_loop& home = place_peer();
    cpc::scheduler& control = co_await cpc::attach(*home.loop);
    const std::int64_t deadline =
        home.loop->now() +
        std::chrono::duration_cast<std::chrono::nanoseconds>(config_.handshake_timeout).count();
    char buf[wire::handshake_size];
    std::shared_ptr<served_torrent> t;
    std::optional<handshake_read> got =
        co_await cpc::with_timeout(config_.handshake_timeout, read_handshake_bytes(fd, buf, 0, 48));
    if (got && *got == handshake_read::ok) {
        info_hash h;
        std::memcpy(h.data(), buf + 28, h.size());
        co_await cpc::attach(control);
        t = find(h);
        co_await cpc::attach(*home.loop);
        if (!t) {
            log(log_level::connections, "unknown info-hash {}", to_hex(h));
            got = handshake_read::unknown_info_hash;
        } else {
            got = co_await cpc::with_timeout(
                std::chrono::nanoseconds(std::max<std::int64_t>(deadline - home.loop->now(), 0)),
                [](int fd, char* buf, std::string ours) -> cpc::task<handshake_read> {
                    auto w = co_await cpc::write(fd, ours.data(), ours.size());
                    if (!w) co_return handshake_read::cut;
                    co_return co_await read_handshake_bytes(fd, buf, 48, wire::handshake_size);
                }(fd, buf, wire::encode_handshake(h, own_id_)));
        }
    }
    std::optional<wire::handshake> theirs;
    if (got && *got == handshake_read::ok) {
        theirs = wire::parse_handshake(std::string_view(buf, sizeof buf));
    }
    if (!theirs || !t) cpc::close(fd);
    co_await cpc::attach(control);
    --handshakes_in_flight_;
    if (!theirs || !t) {
        if (!got) {
            ++totals_.handshakes_timed_out;
        } else if (*got == handshake_read::unknown_info_hash) {
            ++totals_.unknown_info_hash;
        } else if (*got == handshake_read::cut) {
            ++totals_.handshakes_cut;
        } else {
            ++totals_.not_handshakes;  // includes a full handshake that does not parse
        }
        log(log_level::connections, "{}: handshake failed ({}), closing", remote.to_string(),
            !got                         ? "timed out"
            : *got == handshake_read::ok ? "unparsable"
                                         : describe(*got));
        co_return;
    }
    // The session is a thread of its own, so that this frame (and its handshake buffer) is
    // freed now rather than held as long as the peer stays.
    threads_.spawn(session(fd, remote, std::move(t), *theirs, home));
}

peer_loop& server::place_peer() {
    peer_loop& l = *loops_[next_loop_];
    next_loop_ = (next_loop_ + 1) % loops_.size();
    return l;
}

cpc::task<void> server::close_on(peer_loop& home, int fd) {
    cpc::scheduler& control = co_await cpc::attach(*home.loop);
    cpc::close(fd);
    co_await cpc::attach(control);
}

cpc::task<void> server::session(int fd, cpc::endpoint remote, std::shared_ptr<served_torrent> t,
                                wire::handshake theirs, peer_loop& home) {
    peer_key key = next_key_++;
    if (t->removed || stopping_ || theirs.id == own_id_ || !choker_.add(key)) {
        log(log_level::connections, "{}: not admitted, closing", remote.to_string());
        co_await close_on(home, fd);
        co_return;
    }
    log(log_level::connections, "{}: connected for {}", remote.to_string(), t->meta().name);
    peer_connection conn(*this, fd, remote, t, theirs, key, home);
    peers_[key] = &conn;
    ++t->counters.peers;
    {
        // The connection runs on its loop. Decisions sent there from now on find it in the
        // loop's table: this thread gets there before them (a loop's queue is FIFO).
        cpc::scheduler& control = co_await cpc::attach(*home.loop);
        home.peers[key] = &conn;
        ++home.connected;
        ++home.sessions;
        try {
            co_await conn.run();
        } catch (const std::exception& e) {
            app_log::error("{}: {}", remote.to_string(), e.what());
        }
        home.peers.erase(key);
        --home.connected;
        cpc::close(fd);
        co_await cpc::attach(control);
    }
    peers_.erase(key);
    --t->counters.peers;
    choker_.remove(key);
    if (conn.complete()) finished_.insert(dial_key(t->meta().hash, remote));
    log(log_level::connections, "{}: disconnected ({} bytes sent)", remote.to_string(),
        conn.uploaded());
    if (!stopping_) rechoke();
}

void server::rechoke() {
    choker::decisions d = choker_.update(cpc::loop::current()->now());
    // CHOKEs (and drops) first: an UNCHOKE waits until the slots it takes are free on every
    // loop (choke_applied).
    for (peer_key k : d.choke)
        deliver(k, decision::choke);
    for (peer_key k : d.drop) {
        if (auto it = peers_.find(k); it != peers_.end()) {
            log(log_level::connections, "{}: dropped to make room",
                it->second->remote().to_string());
        }
        deliver(k, decision::drop);
    }
    for (peer_key k : d.unchoke) {
        if (chokes_in_flight_.empty()) {
            deliver(k, decision::unchoke);
        } else {
            deferred_unchokes_[k] = next_choke_;
        }
    }
    // Only a peer on another loop counts its bytes apart (peer_connection::renew).
    for (peer_key k : d.renew) {
        if (auto it = peers_.find(k);
            it != peers_.end() && it->second->home().loop != control_loop_) {
            deliver(k, decision::renew);
        }
    }
}

void server::deliver(peer_key key, decision d) {
    auto it = peers_.find(key);
    if (it == peers_.end()) return;
    peer_connection& p = *it->second;
    if (p.home().loop == cpc::loop::current()) {
        apply(p, d);
        return;
    }
    std::uint64_t choke = 0;
    if (d == decision::choke || d == decision::drop) {
        choke = next_choke_++;
        chokes_in_flight_.insert(choke);
    }
    cpc::spawn(*p.home().loop, apply_on_loop(this, &p.home(), key, d, choke));
}

void server::apply(peer_connection& p, decision d) {
    switch (d) {
        case decision::unchoke:
            p.unchoke();
            break;
        case decision::choke:
            p.choke();
            break;
        case decision::renew:
            p.renew();
            break;
        case decision::drop:
        case decision::kill:
            p.kill();
            break;
    }
}

cpc::task<void> server::apply_on_loop(server* self, peer_loop* home, peer_key key, decision d,
                                      std::uint64_t choke) {
    // Gone already (its session is on its way back to the control color): nothing to do,
    // and nothing it was told is still in force.
    if (auto it = home->peers.find(key); it != home->peers.end()) apply(*it->second, d);
    if (d == decision::choke || d == decision::drop) {
        co_await cpc::attach(self->control_);
        self->choke_applied(choke);
    }
}

void server::choke_applied(std::uint64_t choke) {
    chokes_in_flight_.erase(choke);
    const std::uint64_t oldest =
        chokes_in_flight_.empty() ? next_choke_ : *chokes_in_flight_.begin();
    std::vector<peer_key> ready;
    for (auto it = deferred_unchokes_.begin(); it != deferred_unchokes_.end();) {
        if (it->second <= oldest) {
            ready.push_back(it->first);
            it = deferred_unchokes_.erase(it);
        } else {
            ++it;
        }
    }
    for (peer_key k : ready) {
        // Still unchoked in the choker's view (told already or not: unchoke() is a no-op).
        if (choker_.is_unchoked(k)) deliver(k, decision::unchoke);
    }
}

std::uint64_t server::sent(peer_key key, std::uint64_t bytes) {
    choker_.sent(key, bytes);
    return choker_.credit_left(key);
}

std::int64_t server::reserve_upload(std::uint64_t bytes, std::int64_t now) {
    if (!limiter_) return 0;
    std::lock_guard lock(limiter_mutex_);
    return limiter_->reserve(bytes, now);
}

void server::count_sent(served_torrent& t, std::uint64_t bytes) noexcept {
    t.counters.uploaded += bytes;
    totals_.uploaded += bytes;
}

void server::count_told_unchoked(int change) noexcept {
    if (change < 0) {
        --told_unchoked_;
        return;
    }
    std::size_t now = ++told_unchoked_;
    std::size_t peak = told_unchoked_peak_.load();
    while (now > peak && !told_unchoked_peak_.compare_exchange_weak(peak, now)) {
    }
}

cpc::task<void> server::tick_loop() {
    const auto second = std::chrono::seconds(1);
    std::int64_t last_print = cpc::loop::current()->now();
    while (!stopping_) {
        co_await cpc::sleep(second, &wake_tick_);
        if (stopping_) break;
        if (rescan_requested_) {
            rescan_requested_ = false;
            load_torrents(false);
        }
        recheck_changed_torrents();
        rechoke();
        for (auto& [key, t] : torrents_) {
            std::uint64_t uploaded = t->counters.uploaded;
            t->counters.rate = static_cast<double>(uploaded - t->counters.last_sample);
            t->counters.last_sample = uploaded;
        }
        std::uint64_t uploaded = totals_.uploaded;
        totals_.rate = static_cast<double>(uploaded - totals_.last_sample);
        totals_.last_sample = uploaded;
        std::int64_t now = cpc::loop::current()->now();
        if (now - last_print >= std::chrono::nanoseconds(config_.stats_interval).count()) {
            last_print = now;
            if (log_enabled(log_level::info)) print_statistics();
        }
        // Each loop's file cache, on its loop.
        const auto steady_now = std::chrono::steady_clock::now();
        for (const auto& l : loops_) {
            if (l->loop == control_loop_) {
                l->files.trim(steady_now);
                continue;
            }
            cpc::scheduler& control = co_await cpc::attach(*l->loop);
            l->files.trim(steady_now);
            co_await cpc::attach(control);
        }
    }
}

void server::stop() noexcept {
    if (stopping_) return;
    stopping_ = true;
    stop_.signal_all();
    wake_tick_.signal_all();
}

void server::request_rescan() noexcept {
    rescan_requested_ = true;
    wake_tick_.signal_all();
}

cpc::task<int> server::run() {
    open_listeners();
    load_torrents(true);
    for (const listener& l : listeners_)
        threads_.spawn(accept_loop(l));
    threads_.spawn(tick_loop());
    std::unique_ptr<builtin_tracker> tracker;
    if (tracker_fd_ >= 0) {
        tracker = std::make_unique<builtin_tracker>();
        threads_.spawn(tracker->serve(tracker_fd_, tracker_stop_, &tracker_stopping_));
    }
    if (status_fd_ >= 0) threads_.spawn(status_loop(status_fd_));
    for (const cpc::endpoint& e : config_.peers)
        threads_.spawn(keep_dialling(e));

    while (!stopping_)
        co_await stop_.wait();

    log(log_level::info, "shutting down");
    for (auto& [key, t] : torrents_) {
        t->removed = true;
        t->stop_announcing.signal_all();
    }
    for (const auto& entry : peers_)
        deliver(entry.first, decision::kill);
    // The built-in tracker serves until the torrents' own `stopped` announces have reached it.
    while (announcers_running_ > 0)
        co_await announcers_done_.wait();
    tracker_stopping_ = true;
    tracker_stop_.signal_all();
    co_await threads_.join();
    torrents_.clear();
    for (listener& l : listeners_)
        cpc::close(std::exchange(l.fd, -1));
    if (tracker_fd_ >= 0) cpc::close(std::exchange(tracker_fd_, -1));
    if (status_fd_ >= 0) cpc::close(std::exchange(status_fd_, -1));
    co_return 0;
}

}  // namespace hekate
