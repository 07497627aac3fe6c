// swarm_sim: a swarm of BitTorrent leechers against one seeder, on the cpc runtime (the
// client of bench/swarm, the Hekate paper's stress test scaled up).
//
//   swarm_sim --torrent FILE --seeder HOST:PORT -n PEERS -t SECONDS [--warmup S] [--ramp S]
//             [--pipeline B] [--sources FIRST-LAST] [--no-extensions] [-v]
//
// Every peer is a cpc thread on one loop (one kernel thread). Peer i starts at i * ramp / n
// seconds, binds a source address of the --sources range (peer i takes address i modulo the
// range's size, so that seeders that limit connections per address see many addresses),
// connects, handshakes in plaintext (with the fast and extension bits unless
// --no-extensions), sends HAVE_NONE (fast) and INTERESTED, and while unchoked keeps
// --pipeline requests of 16 KiB blocks outstanding. It asks for whole pieces chosen at
// random, hashes every piece as its blocks arrive (in order; early blocks wait) and checks it
// against the .torrent. A lost connection (refused, reset, closed, protocol error) is counted
// and the peer connects again after a second or two. Bytes and pieces are measured over the
// -t seconds that follow --warmup seconds of the same load (a seeder that unchokes only on a
// timer, Transmission every 10 s, serves nothing at first); errors are counted from the
// start. At the end of the measurement every peer hangs up.
//
// Output: a line "measuring" on stdout when the measurement starts (the harness reads the
// seeder's CPU time then), and one JSON line at the end (see main()); with -v, a progress
// line a second on stderr. Exit status 0 unless the command line or the torrent is unusable.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <cpc/cpc.hpp>
#include <cpc/version.hpp>

#include "metainfo.hpp"
#include "sha1.hpp"
#include "wire.hpp"

namespace {

using namespace std::chrono_literals;
namespace wire = hekate::wire;

constexpr std::uint32_t block_size = 16 * 1024;
constexpr std::size_t max_active_pieces = 4;  // pieces a peer has requested blocks of
// Unchoked with requests outstanding and no block for this long: the requests are lost.
constexpr std::int64_t stall_ns = 10'000'000'000;

struct config {
    std::string torrent;
    std::string seeder = "127.0.0.1:6881";
    std::size_t peers = 100;
    double seconds = 30;
    double warmup = 0;
    double ramp = 5;
    unsigned pipeline = 16;
    std::string sources = "127.0.0.10-127.0.0.250";
    bool extensions = true;
    double connect_timeout = 10;
    double handshake_timeout = 20;
    double keep_alive = 30;  // seconds without sending anything before a keep-alive
    bool verbose = false;
    std::uint64_t seed = 1;
};

struct swarm {
    config cfg;
    hekate::metainfo meta;
    cpc::endpoint seeder;
    std::uint32_t first_source = 0;  // host order
    std::uint32_t source_count = 1;
    std::mt19937_64 rng;
    std::vector<char> scratch = std::vector<char>(256 * 1024);  // shared: consume never suspends

    // Counted until `measuring` goes false at the end, bytes and pieces from the start of
    // the load: the measurement is what they grew by after the warm-up.
    bool measuring = true;
    std::int64_t t0 = 0;
    std::int64_t end_ns = 0;  // t0 + --warmup + -t seconds
    std::uint64_t bytes = 0;
    std::uint64_t bytes_at_start = 0;  // at the end of the warm-up
    std::uint64_t bytes_at_ramp = 0;   // when the measurement and the ramp are both over
    std::uint64_t pieces_verified = 0;
    std::uint64_t pieces_at_start = 0;
    std::uint64_t bad_pieces = 0;
    std::uint64_t connect_attempts = 0;
    std::uint64_t handshakes = 0;
    std::size_t connected = 0;       // handshaken connections open now
    std::size_t unchoked = 0;        // of which unchoked
    std::size_t ever_connected = 0;  // peers (slots) that handshook at least once
    std::size_t ever_unchoked = 0;   // peers (slots) unchoked at least once
    std::map<std::string, std::uint64_t> errors;
    // Snapshots at the end of the measurement.
    std::size_t connected_at_end = 0;
    std::size_t connecting = 0;   // in connect() now
    std::size_t handshaking = 0;  // connected, waiting for the seeder's handshake
    std::size_t connecting_at_end = 0;
    std::size_t handshaking_at_end = 0;
    std::size_t unchoked_at_end = 0;
    // The longest the clock thread woke late: how long the loop went without polling (a
    // peer that never waits holds the loop, and the connects and handshakes wait with it).
    std::int64_t max_lag_ns = 0;

    void error(const std::string& kind) {
        if (measuring) ++errors[kind];
    }
};

std::string errno_name(int e) {
    const char* n = ::strerrorname_np(e);
    return n ? n : "E" + std::to_string(e);
}

struct piece_progress {
    std::uint32_t index = 0;
    std::uint32_t size = 0;
    std::uint32_t next_request = 0;  // offset of the next block to request
    std::uint32_t hashed = 0;        // bytes hashed so far (a prefix of the piece)
    hekate::sha1 hasher;
    std::map<std::uint32_t, std::string> early;  // blocks past `hashed`, by offset
};

// Why a connection ended, as counted in `errors`.
class connection {
  public:
    connection(swarm& s, int fd, bool& ever_unchoked)
        : s_(s), fd_(fd), ever_unchoked_(ever_unchoked) {}
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() {
        if (!choked_) --s_.unchoked;
    }

    // Serves the connection after the handshake; returns the error kind that ended it.
    cpc::task<std::string> run(bool fast) {
        fast_ = fast;
        if (fast_) wire::append_simple(out_, wire::message_id::have_none);
        wire::append_simple(out_, wire::message_id::interested);
        const auto keep_alive_ns = static_cast<std::int64_t>(s_.cfg.keep_alive * 1e9);
        last_sent_ = cpc::monotonic_ns();
        for (;;) {
            if (!s_.measuring) co_return "";  // the run is over: hang up
            // Past the end, this peer's deadline (peer_until) may have fired: every wait then
            // returns at once, and looping on them would never let the clock thread run and
            // end the measurement. Yield (not interruptible) so that it does.
            if (cpc::monotonic_ns() >= s_.end_ns) {
                co_await cpc::yield();
                continue;
            }
            fill_requests();
            if (!out_.empty()) {
                const cpc::io_result w = co_await cpc::write(fd_, out_.data(), out_.size());
                if (!w) co_return io_error(w.error);
                out_.clear();
                last_sent_ = cpc::monotonic_ns();
            }
            auto r = co_await cpc::with_timeout(
                5s, cpc::recv(fd_, s_.scratch.data(), s_.scratch.size(), 0));
            if (!r) {  // nothing received for 5 s
                const std::int64_t now = cpc::monotonic_ns();
                if (!choked_ && !outstanding_.empty() && now - last_progress_ > stall_ns) {
                    // Unchoked, requests pending, no block: a stall. Ask again.
                    s_.error("stall");
                    again_.insert(again_.end(), outstanding_.begin(), outstanding_.end());
                    outstanding_.clear();
                    last_progress_ = now;
                }
                if (now - last_sent_ > keep_alive_ns) wire::append_keep_alive(out_);
                continue;
            }
            if (!*r) co_return io_error(r->error);
            if (r->bytes == 0) co_return "closed";
            std::string why = consume(s_.scratch.data(), r->bytes);
            if (!why.empty()) co_return why;
        }
    }

  private:
    static std::string io_error(std::error_code e) {
        if (e == std::errc::operation_canceled) return "";  // the end of the run
        if (e == std::errc::connection_reset || e == std::errc::broken_pipe) return "reset";
        return "io:" + errno_name(e.value());
    }

    // Requests up to the pipeline depth: blocks to ask again first, then the rest of the
    // newest piece, then a new piece chosen at random.
    void fill_requests() {
        if (choked_) return;
        while (outstanding_.size() < s_.cfg.pipeline) {
            wire::block_request r;
            if (!again_.empty()) {
                r = again_.front();
                again_.pop_front();
            } else {
                if (pieces_.empty() || pieces_.back().next_request >= pieces_.back().size) {
                    if (pieces_.size() >= max_active_pieces) break;
                    start_piece();
                }
                piece_progress& p = pieces_.back();
                r.piece = p.index;
                r.begin = p.next_request;
                r.length = std::min(block_size, p.size - p.next_request);
                p.next_request += r.length;
            }
            wire::append_block_message(out_, wire::message_id::request, r);
            outstanding_.push_back(r);
        }
    }

    void start_piece() {
        const std::uint32_t count = s_.meta.piece_count();
        std::uint32_t index = 0;
        for (;;) {
            index = static_cast<std::uint32_t>(s_.rng() % count);
            bool active = false;
            for (const piece_progress& p : pieces_)
                active = active || p.index == index;
            if (!active || count <= max_active_pieces) break;
        }
        piece_progress& p = pieces_.emplace_back();
        p.index = index;
        p.size = s_.meta.piece_size(index);
    }

    // Frames what was read; returns why the connection must end, or "".
    std::string consume(const char* data, std::size_t n) {
        std::string why;
        const auto status = reader_.feed(data, n, wire::max_payload(s_.meta.piece_count()),
                                         [&](const wire::message& m) {
                                             if (m.keep_alive) return true;
                                             why = handle(m.id, m.payload);
                                             return why.empty();
                                         });
        if (status == wire::message_reader::status::oversized) return "protocol:oversized_message";
        return why;
    }

    std::string handle(std::uint8_t id, std::string_view payload) {
        using wire::message_id;
        const std::uint32_t pieces = s_.meta.piece_count();
        switch (static_cast<message_id>(id)) {
            case message_id::choke:
                if (!choked_) {
                    choked_ = true;
                    --s_.unchoked;
                    // BEP 3: a choke drops every pending request; BEP 6 (fast): each one is
                    // rejected explicitly (then asked again), or still served. A seeder
                    // that does neither shows as a stall.
                    if (!fast_) {
                        again_.insert(again_.end(), outstanding_.begin(), outstanding_.end());
                        outstanding_.clear();
                    }
                }
                return "";
            case message_id::unchoke:
                if (choked_) {
                    choked_ = false;
                    ++s_.unchoked;
                    if (!ever_unchoked_) {
                        ever_unchoked_ = true;
                        ++s_.ever_unchoked;
                    }
                    last_progress_ = cpc::monotonic_ns();
                }
                return "";
            case message_id::have: {
                const auto index = wire::parse_have(payload);
                if (!index || *index >= pieces) return "protocol:bad_have";
                return "";
            }
            case message_id::bitfield:
                if (!wire::valid_bitfield(payload, pieces)) return "protocol:bad_bitfield";
                return "";
            case message_id::piece:
                return handle_piece(payload);
            case message_id::reject_request: {
                const auto r = wire::parse_block_request(payload);
                if (!r) return "protocol:bad_reject";
                auto it = std::find(outstanding_.begin(), outstanding_.end(), *r);
                if (it != outstanding_.end()) {
                    again_.push_back(*it);
                    outstanding_.erase(it);
                }
                return "";
            }
            default:
                // keep-alive is handled by the framing; interested, not interested, request,
                // cancel, port, suggest, have_all, have_none, allowed_fast, extended and
                // unknown ids need nothing from a leecher that only downloads.
                return "";
        }
    }

    std::string handle_piece(std::string_view payload) {
        if (payload.size() < 8) return "protocol:short_piece";
        wire::block_request r;
        r.piece = wire::load_be32(payload.data());
        r.begin = wire::load_be32(payload.data() + 4);
        r.length = static_cast<std::uint32_t>(payload.size() - 8);
        const std::string_view data = payload.substr(8);
        auto it = std::find(outstanding_.begin(), outstanding_.end(), r);
        last_progress_ = cpc::monotonic_ns();
        if (it != outstanding_.end()) {
            outstanding_.erase(it);
        } else {
            auto again = std::find(again_.begin(), again_.end(), r);
            if (again == again_.end()) {
                s_.error("unrequested_block");
                return "";
            }
            again_.erase(again);
        }
        if (s_.measuring) s_.bytes += r.length;
        auto p = std::find_if(pieces_.begin(), pieces_.end(),
                              [&](const piece_progress& q) { return q.index == r.piece; });
        if (p == pieces_.end()) return "";  // cannot happen: every request is of an active piece
        if (r.begin == p->hashed) {
            p->hasher.update(data.data(), data.size());
            p->hashed += r.length;
            for (auto e = p->early.begin(); e != p->early.end() && e->first == p->hashed;
                 e = p->early.erase(e)) {
                p->hasher.update(e->second);
                p->hashed += static_cast<std::uint32_t>(e->second.size());
            }
        } else if (r.begin > p->hashed) {
            p->early.emplace(r.begin, std::string(data));
        }
        if (p->hashed >= p->size) {
            const hekate::sha1_digest d = p->hasher.finish();
            if (d == s_.meta.pieces[p->index]) {
                if (s_.measuring) ++s_.pieces_verified;
            } else {
                if (s_.measuring) ++s_.bad_pieces;
                s_.error("hash_mismatch");
            }
            pieces_.erase(p);
        }
        return "";
    }

    swarm& s_;
    int fd_;
    bool& ever_unchoked_;
    bool fast_ = false;
    bool choked_ = true;
    std::int64_t last_progress_ = 0;  // the last block received, or the last unchoke
    std::int64_t last_sent_ = 0;
    std::string out_;
    wire::message_reader reader_;
    std::deque<piece_progress> pieces_;
    std::vector<wire::block_request> outstanding_;
    std::deque<wire::block_request> again_;
};

std::string our_handshake(const swarm& s, std::mt19937_64& rng) {
    wire::peer_id id{};
    const char prefix[] = "-SW0001-";
    std::memcpy(id.data(), prefix, 8);
    for (std::size_t i = 8; i < id.size(); ++i)
        id[i] = static_cast<std::uint8_t>('a' + rng() % 26);
    std::string h = wire::encode_handshake(s.meta.hash, id);
    if (!s.cfg.extensions) std::fill(h.begin() + 20, h.begin() + 28, '\0');
    return h;
}

// One connection: connect, handshake, download until it fails or the run ends. Returns the
// error kind ("" at the end of the run).
cpc::task<std::string> session(swarm& s, std::size_t i, bool& ever_connected, bool& ever_unchoked) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(s.first_source + static_cast<std::uint32_t>(i % s.source_count));
    ++s.connect_attempts;
    ++s.connecting;
    // Port 0: chosen at connect time (IP_BIND_ADDRESS_NO_PORT), so that the sources' ports
    // are not used up by binds.
    auto c = co_await cpc::with_timeout(
        std::chrono::duration<double>(s.cfg.connect_timeout),
        cpc::connect_to(s.seeder, nullptr,
                        {.source = cpc::endpoint::from_sockaddr(
                             reinterpret_cast<const sockaddr*>(&src), sizeof src)}));
    --s.connecting;
    if (!c) co_return "connect_timeout";
    if (!*c) {
        const std::string call = c->failed_call;
        if (call != "connect") co_return call + ":" + errno_name(c->error.value());
        if (c->error == std::errc::operation_canceled) co_return "";
        if (c->error == std::errc::connection_refused) co_return "connect_refused";
        co_return "connect:" + errno_name(c->error.value());
    }
    // Closed (through the loop) when the connection's thread unwinds.
    const cpc::unique_fd sock = std::move(c->fd);

    // The handshake: ours, then exactly 68 bytes of theirs (what follows is messages).
    const std::string ours = our_handshake(s, s.rng);
    const cpc::io_result w = co_await cpc::write(sock.get(), ours.data(), ours.size());
    if (!w) {
        if (w.error == std::errc::operation_canceled) co_return "";
        co_return "handshake_reset";
    }
    char theirs[wire::handshake_size];
    std::size_t got = 0;
    std::string failure;
    auto read_handshake = [&]() -> cpc::task<void> {
        while (got < sizeof theirs) {
            const cpc::io_result r =
                co_await cpc::recv(sock.get(), theirs + got, sizeof theirs - got, 0);
            if (!r) {
                failure = r.error == std::errc::operation_canceled ? "" : "handshake_reset";
                co_return;
            }
            if (r.bytes == 0) {
                failure = "handshake_closed";
                co_return;
            }
            got += r.bytes;
        }
    };
    ++s.handshaking;
    const bool in_time = co_await cpc::with_timeout(
        std::chrono::duration<double>(s.cfg.handshake_timeout), read_handshake());
    --s.handshaking;
    if (!in_time) co_return "handshake_timeout";
    if (got < sizeof theirs) co_return failure;
    const auto h = wire::parse_handshake(std::string_view(theirs, sizeof theirs));
    if (!h) co_return "handshake_bad";
    if (h->hash != s.meta.hash) co_return "handshake_wrong_hash";

    ++s.handshakes;
    ++s.connected;
    if (!ever_connected) {
        ever_connected = true;
        ++s.ever_connected;
    }
    std::string why;
    {
        connection conn(s, sock.get(), ever_unchoked);
        const bool fast = s.cfg.extensions && h->supports_fast();
        why = co_await conn.run(fast);
    }
    --s.connected;
    co_return why;
}

// A peer: starts at its point of the ramp, connects again after every failure.
cpc::task<void> peer(swarm& s, std::size_t i) {
    const double start = s.cfg.ramp * static_cast<double>(i) / static_cast<double>(s.cfg.peers);
    const bool waited = co_await cpc::sleep(std::chrono::duration<double>(start));
    if (!waited) co_return;
    bool ever_connected = false, ever_unchoked = false;
    std::uniform_int_distribution<int> jitter_ms(0, 1000);
    while (s.measuring) {
        const std::string why = co_await session(s, i, ever_connected, ever_unchoked);
        if (why.empty()) co_return;  // the run is over
        s.error(why);
        const bool slept = co_await cpc::sleep(1s + std::chrono::milliseconds(jitter_ms(s.rng)));
        if (!slept) co_return;
    }
}

cpc::task<void> peer_until(swarm& s, std::size_t i, std::chrono::nanoseconds left) {
    co_await cpc::with_timeout(left, peer(s, i));
}

// Starts the measurement after the warm-up, ends it -t seconds later (the peers hang up 50 ms
// after), notes the bytes at the end of the ramp, and prints progress with -v.
cpc::task<void> clock_thread(swarm& s) {
    const std::int64_t end = s.end_ns;
    const std::int64_t start = s.t0 + static_cast<std::int64_t>(s.cfg.warmup * 1e9);
    const std::int64_t ramp_end =
        s.t0 + static_cast<std::int64_t>(std::max(s.cfg.ramp, s.cfg.warmup) * 1e9);
    bool started = false, ramp_noted = false;
    std::uint64_t last_bytes = 0;
    for (;;) {
        const std::int64_t now = cpc::monotonic_ns();
        if (now >= end) break;
        if (!started && now >= start) {
            s.bytes_at_start = s.bytes;
            s.pieces_at_start = s.pieces_verified;
            started = true;
            std::printf("measuring\n");
            std::fflush(stdout);
        }
        if (!ramp_noted && now >= ramp_end) {
            s.bytes_at_ramp = s.bytes;
            ramp_noted = true;
        }
        std::int64_t next = std::min(end, now + 1'000'000'000);
        if (!started) next = std::min(next, start);
        if (!ramp_noted) next = std::min(next, ramp_end);
        co_await cpc::sleep(std::chrono::nanoseconds(next - now));
        s.max_lag_ns = std::max(s.max_lag_ns, cpc::monotonic_ns() - next);
        if (s.cfg.verbose) {
            std::fprintf(stderr,
                         "t=%5.1f connecting %zu handshaking %zu connected %zu unchoked %zu "
                         "ever %zu %.1f MB/s pieces %llu errors %zu kinds\n",
                         static_cast<double>(cpc::monotonic_ns() - s.t0) / 1e9, s.connecting,
                         s.handshaking, s.connected, s.unchoked, s.ever_connected,
                         static_cast<double>(s.bytes - last_bytes) / 1e6,
                         static_cast<unsigned long long>(s.pieces_verified), s.errors.size());
            last_bytes = s.bytes;
        }
    }
    if (!ramp_noted) s.bytes_at_ramp = s.bytes;
    s.connected_at_end = s.connected;
    s.connecting_at_end = s.connecting;
    s.handshaking_at_end = s.handshaking;
    s.unchoked_at_end = s.unchoked;
    s.measuring = false;
}

void raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

double seconds_of(const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

std::optional<std::uint32_t> parse_ipv4(const std::string& text) {
    in_addr a{};
    if (::inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
    return ntohl(a.s_addr);
}

std::string json_key(const std::string& k) {
    std::string out = "\"";
    for (char c : k) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
    config cfg;
    CLI::App app{"a swarm of BitTorrent leechers against one seeder, on the cpc runtime"};
    app.set_version_flag("--version", "swarm_sim (cpc) " CPC_VERSION_STRING);
    app.add_option("--torrent", cfg.torrent, ".torrent of what the seeder serves")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("--seeder", cfg.seeder, "IPv4:PORT of the seeder")->capture_default_str();
    app.add_option("-n,--peers", cfg.peers, "simultaneous peers")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    app.add_option("-t,--time", cfg.seconds, "seconds measured (after the warm-up)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--warmup", cfg.warmup, "seconds of load before the measurement")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--ramp", cfg.ramp, "seconds over which the peers first connect")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--pipeline", cfg.pipeline, "16 KiB requests outstanding per peer")
        ->check(CLI::Range(1, 250))
        ->capture_default_str();
    app.add_option("--sources", cfg.sources, "FIRST-LAST: IPv4 source addresses to bind")
        ->capture_default_str();
    app.add_flag("!--no-extensions", cfg.extensions,
                 "handshake with no reserved bit (default: fast + extension protocol)");
    app.add_option("--connect-timeout", cfg.connect_timeout, "seconds")->capture_default_str();
    app.add_option("--handshake-timeout", cfg.handshake_timeout, "seconds")->capture_default_str();
    app.add_option("--seed", cfg.seed, "random seed (pieces, peer ids)")->capture_default_str();
    app.add_flag("-v,--verbose", cfg.verbose, "a progress line a second on stderr");
    CLI11_PARSE(app, argc, argv);

    swarm s;
    s.cfg = cfg;
    s.rng.seed(cfg.seed);
    try {
        std::ifstream in(cfg.torrent, std::ios::binary);
        const std::string text{std::istreambuf_iterator<char>(in),
                               std::istreambuf_iterator<char>()};
        s.meta = hekate::parse_metainfo(text);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "swarm_sim: %s: %s\n", cfg.torrent.c_str(), e.what());
        return 2;
    }
    std::string why;
    const std::optional<cpc::endpoint> seeder = cpc::endpoint::parse(cfg.seeder, &why);
    if (!seeder || seeder->family() != AF_INET) {
        std::fprintf(stderr, "swarm_sim: --seeder wants IPv4:PORT, not %s%s%s\n",
                     cfg.seeder.c_str(), why.empty() ? "" : ": ", why.c_str());
        return 2;
    }
    s.seeder = *seeder;
    const std::size_t dash = cfg.sources.find('-');
    const auto first = parse_ipv4(cfg.sources.substr(0, dash));
    const auto last = dash == std::string::npos ? first : parse_ipv4(cfg.sources.substr(dash + 1));
    if (!first || !last || *last < *first) {
        std::fprintf(stderr, "swarm_sim: --sources wants FIRST-LAST, not %s\n",
                     cfg.sources.c_str());
        return 2;
    }
    s.first_source = *first;
    s.source_count = *last - *first + 1;
    raise_fd_limit();

    rusage ru0{}, ru1{};
    ::getrusage(RUSAGE_SELF, &ru0);
    s.t0 = cpc::monotonic_ns();
    s.end_ns = s.t0 + static_cast<std::int64_t>((cfg.warmup + cfg.seconds) * 1e9);
    const auto run_for = std::chrono::nanoseconds(s.end_ns - s.t0);
    cpc::spawn(clock_thread(s));
    for (std::size_t i = 0; i < cfg.peers; ++i)
        cpc::spawn(peer_until(s, i, run_for + 50ms));
    cpc::main_loop();
    ::getrusage(RUSAGE_SELF, &ru1);
    const double cpu = seconds_of(ru1.ru_utime) - seconds_of(ru0.ru_utime) +
                       seconds_of(ru1.ru_stime) - seconds_of(ru0.ru_stime);
    const double wall = static_cast<double>(cpc::monotonic_ns() - s.t0) / 1e9;

    std::uint64_t error_total = 0;
    std::string errors = "{";
    for (const auto& [kind, count] : s.errors) {
        if (errors.size() > 1) errors += ',';
        errors += json_key(kind) + ":" + std::to_string(count);
        error_total += count;
    }
    errors += "}";
    // The part of the measurement after the ramp.
    const double ramp_in = std::clamp(cfg.ramp - cfg.warmup, 0.0, cfg.seconds);
    const double steady_s = cfg.seconds - ramp_in;
    const std::uint64_t bytes = s.bytes - s.bytes_at_start;
    std::printf(
        "{\"peers_requested\":%zu,\"connected_at_end\":%zu,\"unchoked_at_end\":%zu,"
        "\"connecting_at_end\":%zu,\"handshaking_at_end\":%zu,"
        "\"ever_connected\":%zu,\"ever_unchoked\":%zu,\"connect_attempts\":%llu,"
        "\"handshakes\":%llu,\"seconds\":%.3f,\"warmup_seconds\":%.3f,\"ramp_seconds\":%.3f,"
        "\"bytes\":%llu,"
        "\"bytes_after_ramp\":%llu,\"bytes_per_s\":%.0f,\"bytes_per_s_after_ramp\":%.0f,"
        "\"pieces_verified\":%llu,\"bad_pieces\":%llu,\"errors_total\":%llu,\"errors\":%s,"
        "\"client_cpu_s\":%.3f,\"client_cpu_fraction\":%.3f,\"max_loop_lag_ms\":%.1f}\n",
        cfg.peers, s.connected_at_end, s.unchoked_at_end, s.connecting_at_end, s.handshaking_at_end,
        s.ever_connected, s.ever_unchoked, static_cast<unsigned long long>(s.connect_attempts),
        static_cast<unsigned long long>(s.handshakes), cfg.seconds, cfg.warmup, ramp_in,
        static_cast<unsigned long long>(bytes),
        static_cast<unsigned long long>(s.bytes - s.bytes_at_ramp),
        static_cast<double>(bytes) / cfg.seconds,
        steady_s > 0 ? static_cast<double>(s.bytes - s.bytes_at_ramp) / steady_s : 0.0,
        static_cast<unsigned long long>(s.pieces_verified - s.pieces_at_start),
        static_cast<unsigned long long>(s.bad_pieces), static_cast<unsigned long long>(error_total),
        errors.c_str(), cpu, wall > 0 ? cpu / wall : 0.0, static_cast<double>(s.max_lag_ns) / 1e6);
    return 0;
}
