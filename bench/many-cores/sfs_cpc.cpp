// sfs_cpc: the SFS-like server of bench/many-cores on cpc (README.md has the protocol).
//
//   sfs_cpc --port P [--bind 127.0.0.1] [--loops N] [--steal-min-ready R] [--reuseport]
//           [--race]
//
// A cpc::runtime of N loops (default 1). One thread accepts, on loop 0, and spawns each
// connection's thread on the loops round robin; a connection's thread stays on its loop and
// does the connection's reads and writes there. Each file has a cpc::color, placed by the
// runtime: a request's unit of work (rounds of SHA-256 over the block, then the file's
// counter) runs in its file's color, wherever that color runs by then (stealing moves idle
// colors), and the thread goes back to its loop to write the answer. Two requests of a file
// never overlap; requests of different files run on every loop.
//
// Stealing: a color moves to an idle loop once it has --steal-min-ready runnable threads (1),
// near or far. The runtime's defaults (2 near, 4 far: without cache information, as in this
// VM, every other CPU is far) are for short threads; here each runnable thread is a unit of
// milliseconds, and with 4 only the hot file's color could qualify in the skewed run (16
// connections: a cold file rarely has 4 requests waiting), so the cold colors stayed where
// they were placed and only the hot one could move.
//
// N-copy is two of these processes with one loop each, each on its own core, sharing the
// port with --reuseport. --race runs the unit without its color, for the smoke test that
// checks the client catches the lost updates of two requests of a file overlapping.
#include <CLI/CLI.hpp>
#include <cpc/color.hpp>
#include <cpc/cpc.hpp>
#include <cpc/runtime.hpp>
#include <cpc/version.hpp>
#include <cstdint>
#include <deque>

#include "listen.hpp"
#include "read_full.hpp"
#include "sfs.hpp"

namespace {

// A file's color and what it owns: `served`, touched only from inside the color, no lock.
struct file_state {
    explicit file_state(cpc::runtime& rt) : color(rt) {}
    cpc::color color;
    std::uint64_t served = 0;
};

struct service {
    service(cpc::runtime& rt, bool race) : race(race) {
        for (std::uint32_t f = 0; f < sfs::kFiles; ++f)
            state.emplace_back(rt);
    }
    sfs::files files;
    std::deque<file_state> state;  // colors do not move: a deque, not a vector
    bool race;
};

// The unit of work of one request, in the file's color. The counter is read before the
// digest and written after it, so two units of a file that overlapped (a broken color, or
// --race) would both write the same count: the client sees it as a lost update.
cpc::task<sfs::response> serve_request(service& s, sfs::request r) {
    file_state& f = s.state[r.file];
    cpc::scheduler* home = s.race ? nullptr : &co_await cpc::recolor(f.color);
    const std::uint64_t served = f.served + 1;
    sfs::response out{r.file, r.block, served, sfs::compute(s.files, r)};
    f.served = served;
    if (home) co_await cpc::attach(*home);
    co_return out;
}

cpc::task<void> connection(service& s, int fd) {
    sfs::no_delay(fd);
    unsigned char in[sfs::kRequestSize];
    unsigned char out[sfs::kResponseSize];
    while (co_await sfs::read_full(fd, in, sizeof in)) {
        const std::optional<sfs::request> r = sfs::decode_request(in);
        if (!r) break;  // a client that does not speak the protocol is dropped
        const sfs::response answer = co_await serve_request(s, *r);
        sfs::encode(answer, out);
        if (!co_await cpc::write(fd, out, sizeof out)) break;
    }
    cpc::close(fd);
}

// Accepting on one loop and spreading round robin: with 16 persistent connections the
// accepts cost nothing, and the loops get 8 each, where SO_REUSEPORT's hash of the
// connections' ports may give one loop 10 and the other 6.
cpc::task<void> listening(cpc::runtime& rt, service& s, int listen_fd) {
    for (;;) {
        const cpc::accept_result a = co_await cpc::accept(listen_fd);
        if (a) {
            rt.spawn(connection(s, a.fd));
        } else if (a.error == std::errc::too_many_files_open ||
                   a.error == std::errc::too_many_files_open_in_system) {
            const bool slept = co_await cpc::sleep(std::chrono::milliseconds(10));
            (void)slept;  // out of fds: back off
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"SFS-like compute-heavy block server on cpc (bench/many-cores)"};
    app.set_version_flag("--version", "sfs_cpc (cpc) " CPC_VERSION_STRING);
    std::uint16_t port = 0;
    std::string address = "127.0.0.1";
    unsigned loops = 1;
    unsigned steal_min_ready = 1;
    bool reuseport = false;
    bool race = false;
    app.add_option("-p,--port", port, "TCP port")->required();
    app.add_option("--bind", address, "IPv4 address")->capture_default_str();
    app.add_option("--loops", loops, "loops of the cpc::runtime, one per core")
        ->check(CLI::Range(1u, 1024u))
        ->capture_default_str();
    app.add_option("--steal-min-ready", steal_min_ready,
                   "runnable threads a color needs to be stolen, near or far (0: the runtime's "
                   "defaults)")
        ->capture_default_str();
    app.add_flag("--reuseport", reuseport, "SO_REUSEPORT, for N-copy");
    app.add_flag("--race", race, "run a request's work outside its file's color (a test)");
    CLI11_PARSE(app, argc, argv);

    cpc::runtime_options options{.threads = loops};
    if (steal_min_ready != 0) {
        options.steal_min_ready = options.steal_far_min_ready = steal_min_ready;
    }
    cpc::runtime rt{options};
    service s(rt, race);  // the files are made before the port opens: no request waits
    const int listen_fd = sfs::listen_on(address, port, reuseport);
    rt.spawn_on(rt.at(0), listening(rt, s, listen_fd));
    // The process ends by SIGTERM (the harness stops it by PID).
    rt.run();
    return 0;
}
