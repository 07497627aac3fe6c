// sfs_cpc: the SFS-like server of bench/many-cores on cpc (README.md has the protocol).
//
//   sfs_cpc --port P [--bind 127.0.0.1] [--reuseport]
//
// A cpc thread per connection reads a request, runs its work (rounds of SHA-256 over the
// block, then the file's counter) as the unit that belongs to the file's color, and writes
// the answer. Today it runs on the one loop of cpc::main_loop; N-copy is two of these
// processes, each on its own core, sharing the port with --reuseport.
//
// TODO(cpc::runtime): the lead adds `--loops N` when cpc::runtime lands: main() builds the
// runtime with N loops instead of calling cpc::main_loop, the listening thread spawns each
// connection on the runtime, and in_color() below becomes the runtime's spawn(task, color)
// with color = the file, joined. Nothing else changes: the file's state is already touched
// only from inside that unit.
#include <CLI/CLI.hpp>
#include <array>
#include <cpc/cpc.hpp>
#include <cstdint>

#include "listen.hpp"
#include "read_full.hpp"
#include "sfs.hpp"

namespace {

// What a file's color owns: mutated by the requests of that file only, with no lock.
struct file_state {
    std::uint64_t served = 0;
};

struct service {
    sfs::files files;
    std::array<file_state, sfs::kFiles> state{};
};

// The unit of work of one request, which must not overlap with another of the same file.
cpc::task<sfs::response> serve_request(service& s, sfs::request r) {
    sfs::response out{r.file, r.block, 0, sfs::compute(s.files, r)};
    out.served = ++s.state[r.file].served;
    co_return out;
}

// Runs `work` under `color`. One loop runs one cpc thread at a time, so inline is exclusive.
cpc::task<sfs::response> in_color(std::uint32_t color, cpc::task<sfs::response> work) {
    (void)color;
    co_return co_await std::move(work);
}

cpc::task<void> connection(service& s, int fd) {
    sfs::no_delay(fd);
    unsigned char in[sfs::kRequestSize];
    unsigned char out[sfs::kResponseSize];
    while (co_await sfs::read_full(fd, in, sizeof in)) {
        const std::optional<sfs::request> r = sfs::decode_request(in);
        if (!r) break;  // a client that does not speak the protocol is dropped
        const sfs::response answer = co_await in_color(r->file, serve_request(s, *r));
        sfs::encode(answer, out);
        if (!co_await cpc::write(fd, out, sizeof out)) break;
    }
    cpc::close(fd);
}

cpc::task<void> listening(service& s, int listen_fd) {
    for (;;) {
        const cpc::accept_result a = co_await cpc::accept(listen_fd);
        if (a) {
            cpc::spawn(connection(s, a.fd));
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
    std::uint16_t port = 0;
    std::string address = "127.0.0.1";
    bool reuseport = false;
    app.add_option("-p,--port", port, "TCP port")->required();
    app.add_option("--bind", address, "IPv4 address")->capture_default_str();
    app.add_flag("--reuseport", reuseport, "SO_REUSEPORT, for N-copy");
    CLI11_PARSE(app, argc, argv);

    service s;  // the files are made before the port opens: no request waits for them
    const int listen_fd = sfs::listen_on(address, port, reuseport);
    cpc::spawn(listening(s, listen_fd));
    // The process ends by SIGTERM (the harness stops it by PID).
    cpc::main_loop();
    return 0;
}
