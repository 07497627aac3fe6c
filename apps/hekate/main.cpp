// hekate [options] DIR...: seeds every torrent found in the directories.
//
// --threads N runs N event loops (a cpc::runtime; default: every CPU the process may run
// on): the peers are spread over them and the server's tables live in one color on the first
// loop (server.hpp). --threads 1 is the single loop of before: cpc::main_loop.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdint>
#include <exception>
#include <iterator>
#include <string>
#include <vector>

#include "client_version.hpp"
#include "cpc/color.hpp"
#include "cpc/condvar.hpp"
#include "cpc/dump_threads.hpp"
#include "cpc/loop.hpp"
#include "cpc/runtime.hpp"
#include "cpc/signal_watch.hpp"
#include "cpc/spawn.hpp"
#include "cpc/topology.hpp"
#include "log.hpp"
#include "server.hpp"

namespace {

// "1048576", "1024K", "1M", "10MiB", "2G": bytes.
std::uint64_t parse_size(const std::string& text) {
    std::size_t used = 0;
    unsigned long long n = std::stoull(text, &used);
    std::string unit = text.substr(used);
    if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
    if (unit.size() == 2 && unit[1] == 'i') unit.pop_back();
    std::uint64_t scale = 1;
    if (unit == "K" || unit == "k") {
        scale = 1024;
    } else if (unit == "M" || unit == "m") {
        scale = 1024 * 1024;
    } else if (unit == "G" || unit == "g") {
        scale = 1024ull * 1024 * 1024;
    } else if (!unit.empty()) {
        throw std::invalid_argument("unknown unit in " + text);
    }
    return n * scale;
}

// One process may hold as many sockets as the hard limit allows.
void raise_file_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

cpc::task<void> run_server(hekate::server& srv, int& status, cpc::condvar& done, bool& ended) {
    try {
        status = co_await srv.run();
    } catch (const std::exception& e) {
        app_log::error("{}", e.what());
        status = 1;
    }
    ended = true;
    done.signal_all();
}

cpc::task<void> watch_signals(cpc::signal_watch& signals, hekate::server& srv, cpc::condvar& done,
                              const bool& ended) {
    while (!ended) {
        int sig = co_await signals.next(&done);
        if (sig == SIGHUP) {
            hekate::log(hekate::log_level::info, "SIGHUP: rescanning");
            srv.request_rescan();
        } else if (sig == SIGUSR1) {
            cpc::dump_all_threads(2);  // every loop's suspended threads, on stderr
        } else if (sig == SIGINT || sig == SIGTERM) {
            // A second Ctrl-C while `stopped` is being announced kills at once.
            signals.release();
            srv.stop();
            break;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    app_log::init("hekate", app_log::level::info);
    CLI::App app{"hekate: a BitTorrent seeder for many torrents and many peers"};
    app.set_version_flag("--version", std::string(hekate::version_line));
    hekate::server_config config;
    std::vector<std::string> dirs, peers;
    std::string bind, credit = "1M", upload_limit = "0";
    int level = 1;
    std::size_t max_peers = 0;
    bool no_trackers = false, only4 = false, only6 = false;
    unsigned threads = 0;
    std::uint16_t tracker_port = 0, status_port = 0;
    app.add_option("DIR", dirs, "directories to scan for .torrent files (data next to them)")
        ->required();
    app.add_option("-p,--port", config.port, "port to listen on for peers")->capture_default_str();
    app.add_option("--bind", bind, "address to listen on and to dial from");
    app.add_option("--peer", peers, "HOST:PORT of a leecher to dial (repeatable)");
    app.add_option("-N,--max-unchoked", config.choking.max_unchoked, "peers served at once")
        ->capture_default_str();
    app.add_option("--max-peers", max_peers, "peers connected at most (default 10 x N)");
    app.add_option("-C,--credit", credit, "bytes a peer may download per unchoke (K, M, G)")
        ->capture_default_str();
    app.add_option("--upload-limit", upload_limit,
                   "bytes per second in all, 0 = no limit (K, M, G)")
        ->capture_default_str();
    app.add_flag("-t,--no-trackers", no_trackers, "announce to no tracker");
    app.add_flag("-4,--ipv4-only", only4, "IPv4 only");
    app.add_flag("-6,--ipv6-only", only6, "IPv6 only");
    CLI::Option* debug =
        app.add_option("-d,--debug", level,
                       "0 quiet, 1 statistics, 2 connections, 3 protocol, 4 messages")
            ->check(CLI::Range(0, 4))
            ->capture_default_str();
    std::string log_level;
    app.add_option("--log-level", log_level,
                   "error, warn, info or debug (warn, info and debug are -d 0, 1 and 2)")
        ->check(CLI::IsMember(std::vector<std::string>(std::begin(app_log::kLevelNames),
                                                       std::end(app_log::kLevelNames))))
        ->excludes(debug);
    app.add_flag("--verify", config.verify, "check every piece against its hash before serving");
    app.add_option("--tracker", tracker_port, "run the built-in tracker on this port");
    app.add_option("--status", status_port, "serve statistics as JSON over HTTP on this port");
    app.add_option("--stats-interval", config.stats_interval, "seconds between statistics at -d 1")
        ->capture_default_str();
    app.add_option("--threads", threads, "event loops, one per core (default: every CPU)");
    CLI11_PARSE(app, argc, argv);
    try {
        (void)cpc::default_loop();  // a bad CPC_BACKEND is reported here, not by a crash
    } catch (const std::exception& e) {
        app_log::error("{}", e.what());
        return 2;
    }

    try {
        config.choking.credit = parse_size(credit);
        config.upload_limit = parse_size(upload_limit);
    } catch (const std::exception& e) {
        app_log::error("bad size: {}", e.what());
        return 2;
    }
    if (only4 && only6) {
        app_log::error("-4 and -6 exclude each other");
        return 2;
    }
    config.ipv4 = !only6;
    config.ipv6 = !only4;
    config.trackers = !no_trackers;
    config.choking.max_peers = max_peers != 0 ? max_peers : 10 * config.choking.max_unchoked;
    for (const std::string& d : dirs)
        config.directories.emplace_back(d);
    if (!bind.empty()) {
        config.bind = cpc::endpoint::from_host(bind, 0);
        if (!config.bind) {
            app_log::error("--bind wants a numeric address, not '{}'", bind);
            return 2;
        }
    }
    for (const std::string& p : peers) {
        // Port 0 is "any port" to cpc::endpoint, but no peer listens there.
        auto e = cpc::endpoint::parse(p);
        if (!e || e->port() == 0) {
            app_log::error("--peer wants HOST:PORT (numeric, [v6]:port), not '{}'", p);
            return 2;
        }
        config.peers.push_back(*e);
    }
    if (tracker_port) config.tracker_port = tracker_port;
    if (status_port) config.status_port = status_port;
    app_log::set_threshold(log_level.empty()
                               ? hekate::shared_level(static_cast<hekate::log_level>(level))
                               : *app_log::parse_level(log_level));
    raise_file_limit();

    // Before any other kernel thread exists, so that every thread inherits the mask.
    cpc::signal_watch signals({SIGINT, SIGTERM, SIGHUP, SIGUSR1});
    if (threads == 0) threads = static_cast<unsigned>(cpc::topology::detect().size());
    int status = 1;
    bool ended = false;
    cpc::condvar done;
    if (threads <= 1) {
        hekate::log(hekate::log_level::info, "event loop on {}",
                    cpc::default_loop().backend_description());
        hekate::server srv(std::move(config));
        cpc::spawn(run_server(srv, status, done, ended));
        cpc::spawn(watch_signals(signals, srv, done, ended));
        cpc::main_loop();
        return status;
    }
    // No stealing: the control color stays on loop 0 (server.hpp relies on it), and peers
    // are uncolored, so nothing else could move anyway.
    cpc::runtime rt{{.threads = threads, .steal = false}};
    cpc::color control(rt.at(0));
    hekate::log(hekate::log_level::info, "event loops on {}", rt.at(0).backend_description());
    hekate::server srv(std::move(config), rt, control);
    rt.spawn(run_server(srv, status, done, ended), control);
    rt.spawn(watch_signals(signals, srv, done, ended), control);
    rt.run();
    return status;
}
