// httpd: a static file server on the cpc runtime.
//
//   httpd --root DIR [--port N] [--bind ADDR] [--policy active|accept] [--threads N] ...
//
// --threads N runs N event loops, one per core, each a whole server on the same port
// (server_group.hpp); the default is every CPU the process may run on. --listener tells how
// connections reach the loops: one SO_REUSEPORT socket per loop (reuseport, the default),
// or one listening socket that every loop waits on with EPOLLEXCLUSIVE (shared); see
// docs/design.md, "Many loops", for how they compare.
// --port 0 lets the kernel choose; the first line printed on stdout tells the port
// ("httpd listening on ADDR:PORT"), so that tests can find it, and the last one how many
// connections each loop accepted. Diagnostics go to stderr (common/log.hpp), as many as
// --log-level says. SIGINT and SIGTERM stop the server cleanly: no new connections, idle
// ones closed, requests in progress finished (at most the shutdown grace), then exit
// status 0. SIGUSR1 prints every suspended thread on stderr (cpc::dump_threads).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cpc/cpc.hpp>
#include <cpc/topology.hpp>
#include <cpc/version.hpp>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "server_group.hpp"

namespace {

constexpr const char* kVersion = "httpd (cpc) " CPC_VERSION_STRING;

// The signal handler is a cpc thread: SIGINT and SIGTERM arrive through a signal_watch, so
// stopping the server is ordinary code of the loop. SIGUSR1 prints every loop's suspended
// threads on stderr (cpc::dump_all_threads) and the server goes on.
cpc::task<void> signal_thread(httpd::server_group& s, cpc::signal_watch& signals) {
    int sig = co_await signals.next();
    for (; sig == SIGUSR1; sig = co_await signals.next())
        cpc::dump_all_threads(2);
    if (sig != 0) {
        app_log::info("{}, shutting down", ::strsignal(sig));
        s.stop();
    }
    // A second Ctrl-C does not wait for the graceful stop.
    signals.release();
}

}  // namespace

int main(int argc, char** argv) {
    app_log::init("httpd", app_log::level::info);
    httpd::server_config cfg;
    double header_timeout = 10;
    double keepalive_timeout = 15;
    double shutdown_grace = 2;
    double send_timeout = 30;
    std::string policy = "active";
    unsigned threads = 0;
    std::string listener = "reuseport";
    bool quiet = false;
    std::string log_level = "info";

    CLI::App app{"httpd: a static file server on the cpc runtime (cooperative threads)"};
    app.set_version_flag("--version", kVersion);
    app.add_option("--root", cfg.root, "document root")->required()->check(CLI::ExistingDirectory);
    app.add_option("--port", cfg.port, "TCP port (0: any free port, printed first)")
        ->capture_default_str();
    app.add_option("--bind", cfg.bind_address, "address to listen on (IPv4 or IPv6)")
        ->capture_default_str();
    app.add_option("--listen-backlog", cfg.backlog, "listen(2) backlog")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 20));
    app.add_option("--policy", policy,
                   "accept policy: active (Knot-C, favour active connections) or accept "
                   "(Knot-A, favour accepting)")
        ->capture_default_str()
        ->check(CLI::IsMember({"active", "accept"}));
    app.add_option("--cache-size", cfg.cache_size, "page cache capacity in bytes (0: no cache)")
        ->capture_default_str();
    app.add_option("--cache-file-max", cfg.cache_file_max,
                   "largest file kept in the page cache, in bytes")
        ->capture_default_str();
    app.add_flag("--sendfile", cfg.sendfile,
                 "send files over --cache-file-max with sendfile(2), without a copy; a file "
                 "truncated in place while sent may then reach clients with zeros");
    app.add_option("--header-timeout", header_timeout,
                   "seconds allowed for the whole head of a request")
        ->capture_default_str()
        ->check(CLI::Range(0.001, 86400.0));
    app.add_option("--keepalive-timeout", keepalive_timeout,
                   "seconds an idle keep-alive connection is kept")
        ->capture_default_str()
        ->check(CLI::Range(0.001, 86400.0));
    app.add_option("--send-timeout", send_timeout,
                   "seconds allowed for each write of a response (a head, a cached file, or "
                   "1 MiB of a big one); a client that takes longer is dropped")
        ->capture_default_str()
        ->check(CLI::Range(0.001, 86400.0));
    app.add_option("--shutdown-grace", shutdown_grace,
                   "seconds requests in progress get to finish at shutdown")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 3600.0));
    app.add_option("--max-connections", cfg.max_connections,
                   "connections served at once (0: from the descriptor limit)")
        ->capture_default_str();
    app.add_option("--access-log", cfg.access_log,
                   "access log file, or - for stdout (default: off)");
    app.add_option("--threads", threads,
                   "event loops, each on its own core (0: one per CPU the process may run on)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1024));
    app.add_option("--listener", listener,
                   "with several loops: one SO_REUSEPORT socket per loop (reuseport) or one "
                   "socket all loops wait on (shared)")
        ->capture_default_str()
        ->check(CLI::IsMember({"shared", "reuseport"}));
    CLI::Option* level =
        app.add_option("--log-level", log_level,
                       "diagnostics on stderr: error, warn, info or debug")
            ->capture_default_str()
            ->check(CLI::IsMember(std::vector<std::string>(std::begin(app_log::kLevelNames),
                                                           std::end(app_log::kLevelNames))));
    app.add_flag("--quiet", quiet, "print nothing but the first line (and errors)")
        ->excludes(level);
    CLI11_PARSE(app, argc, argv);
    app_log::set_threshold(quiet ? app_log::level::error : *app_log::parse_level(log_level));
    try {
        (void)cpc::default_loop();  // a bad CPC_BACKEND is reported here, not by a crash
    } catch (const std::exception& e) {
        app_log::error("{}", e.what());
        return 2;
    }

    cfg.policy = policy == "accept" ? httpd::accept_policy::accept : httpd::accept_policy::active;
    const auto ms = [](double s) {
        return std::chrono::milliseconds(static_cast<long long>(s * 1000));
    };
    cfg.header_timeout = ms(header_timeout);
    cfg.keepalive_timeout = ms(keepalive_timeout);
    cfg.shutdown_grace = ms(shutdown_grace);
    cfg.send_timeout = ms(send_timeout);

    // Before any other kernel thread exists (threads inherit the signal mask): from now on
    // SIGINT, SIGTERM and SIGUSR1 are only received by the signal thread.
    cpc::signal_watch signals({SIGINT, SIGTERM, SIGUSR1});

    if (threads == 0) threads = static_cast<unsigned>(cpc::topology::detect().size());
    httpd::server_group s(
        cfg, threads,
        listener == "shared" ? httpd::listener_design::shared : httpd::listener_design::reuseport);
    if (const std::string err = s.start(); !err.empty()) {
        app_log::error("{}", err);
        return 1;
    }
    std::printf("httpd listening on %s:%u\n", cfg.bind_address.c_str(), s.port());
    std::fflush(stdout);
    app_log::info("root {}, policy {}, {} loop(s), page cache {} bytes (files up to {})", cfg.root,
                  policy, s.loops(), cfg.cache_size, cfg.cache_file_max);
    app_log::info("event loops on {}", s.first_loop().backend_description());

    const cpc::run_result r = s.run(signal_thread(s, signals));
    if (!quiet) {
        std::string per_loop;
        for (std::uint64_t n : s.accepted_per_loop())
            per_loop += " " + std::to_string(n);
        std::printf("httpd: stopped; connections accepted per loop:%s\n", per_loop.c_str());
        std::fflush(stdout);
    }
    return r.blocked_threads == 0 ? 0 : 1;
}
