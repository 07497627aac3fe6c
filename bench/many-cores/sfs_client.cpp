// sfs_client: the load of bench/many-cores, on one cpc loop (README.md has the protocol).
//
//   sfs_client --port P [--address A] [-c C] [--warmup W] [-t T] [--length L] [--rounds R]
//              [--blocks B] [--hot FRACTION]
//
// C connections, each a cpc thread with one request outstanding, ask for blocks of the 16
// files for W + T seconds. Every answer is checked against a digest computed before the run
// (a table of 16 x B requests, cycled through), so the client itself hashes nothing while it
// runs and stays cheap. --hot F sends a fraction F of the requests to file 0 (the skewed run:
// one hot color); the rest are spread evenly over the other files (all 16 when F is 0).
//
// On stdout: "measuring" after W seconds and "measured" after W + T (the harness reads the
// server's CPU time at both), then, once every connection has had its last answer, one JSON
// line: the answers and bytes of the measured T seconds, the errors of the whole run, the
// client's own CPU time over the T seconds, and the check of the servers' per-file counters
// (README.md). Exit status 0 if there was no error.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <array>
#include <cpc/cpc.hpp>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "listen.hpp"
#include "read_full.hpp"
#include "sfs.hpp"

namespace {

struct config {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;
    std::size_t connections = 16;
    double warmup_s = 1;
    double seconds = 5;
    std::uint32_t length = 65536;
    std::uint32_t rounds = 24;
    std::uint32_t blocks = 4;
    double hot = 0;
};

struct expected {
    sfs::request req;
    sfs::digest hash;
};

struct counters {
    std::uint64_t answers = 0;
    std::uint64_t bytes = 0;
};

enum error_kind { connect_failed, io_failed, bad_answer, error_kinds };

struct run_state {
    config cfg;
    cpc::endpoint server;
    std::vector<expected> table;  // file f's requests are table[f * blocks ... + blocks - 1]
    bool stopping = false;
    counters total;
    std::array<std::uint64_t, error_kinds> errors{};
    std::array<std::uint64_t, sfs::kFiles> answers_per_file{};
    std::array<std::uint64_t, sfs::kFiles> max_served{};
};

// splitmix64 again: each connection draws its own reproducible sequence of requests.
std::uint64_t next_random(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

const expected& pick(const run_state& st, std::uint64_t& rng) {
    const std::uint64_t r = next_random(rng);
    const double u = static_cast<double>(r >> 11) * 0x1p-53;
    std::uint32_t file;
    if (st.cfg.hot > 0) {
        file = u < st.cfg.hot ? 0 : 1 + static_cast<std::uint32_t>(r % (sfs::kFiles - 1));
    } else {
        file = static_cast<std::uint32_t>(r % sfs::kFiles);
    }
    const std::uint32_t block = static_cast<std::uint32_t>((r >> 32) % st.cfg.blocks);
    return st.table[file * st.cfg.blocks + block];
}

cpc::task<void> connection(run_state& st, std::size_t index) {
    const cpc::connect_result c = co_await cpc::connect_to(st.server);
    if (!c) {
        ++st.errors[connect_failed];
        co_return;
    }
    const int fd = c.fd.get();
    sfs::no_delay(fd);
    std::uint64_t rng = index + 1;
    unsigned char out[sfs::kRequestSize];
    unsigned char in[sfs::kResponseSize];
    while (!st.stopping) {
        const expected& e = pick(st, rng);
        sfs::encode(e.req, out);
        if (!co_await cpc::write(fd, out, sizeof out) ||
            !co_await sfs::read_full(fd, in, sizeof in)) {
            ++st.errors[io_failed];
            break;
        }
        const sfs::response a = sfs::decode_response(in);
        if (a.file != e.req.file || a.block != e.req.block || a.hash != e.hash || a.served == 0) {
            ++st.errors[bad_answer];
            break;
        }
        ++st.total.answers;
        st.total.bytes += e.req.length;
        ++st.answers_per_file[a.file];
        if (a.served > st.max_served[a.file]) st.max_served[a.file] = a.served;
    }
}

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct window {
    counters at_start, at_end;
    double cpu_start = 0, cpu_end = 0;
};

cpc::task<void> timer(run_state& st, window& w) {
    using seconds = std::chrono::duration<double>;
    bool slept = co_await cpc::sleep(seconds(st.cfg.warmup_s));
    w.at_start = st.total;
    w.cpu_start = cpu_seconds();
    std::printf("measuring\n");
    std::fflush(stdout);
    slept = co_await cpc::sleep(seconds(st.cfg.seconds));
    (void)slept;
    w.at_end = st.total;
    w.cpu_end = cpu_seconds();
    std::printf("measured\n");
    std::fflush(stdout);
    st.stopping = true;
}

}  // namespace

int main(int argc, char** argv) {
    run_state st;
    config& cfg = st.cfg;
    CLI::App app{"Load generator of bench/many-cores' SFS-like servers, on cpc"};
    app.add_option("-p,--port", cfg.port, "server port")->required();
    app.add_option("--address", cfg.address, "server IPv4 address")->capture_default_str();
    app.add_option("-c,--connections", cfg.connections, "connections, one request each")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("--warmup", cfg.warmup_s, "seconds before the measurement")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("-t,--time", cfg.seconds, "seconds measured")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--length", cfg.length, "block size in bytes")
        ->check(CLI::Range(sfs::kMinLength, sfs::kMaxLength))
        ->capture_default_str();
    app.add_option("--rounds", cfg.rounds, "SHA-256 passes over the block")
        ->check(CLI::Range(std::uint32_t{1}, sfs::kMaxRounds))
        ->capture_default_str();
    app.add_option("--blocks", cfg.blocks, "distinct blocks asked for per file")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option("--hot", cfg.hot, "fraction of the requests for file 0")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    const std::optional<cpc::endpoint> server = cpc::endpoint::from_host(cfg.address, cfg.port);
    if (!server || server->family() != AF_INET) {
        std::fprintf(stderr, "sfs_client: not an IPv4 address: %s\n", cfg.address.c_str());
        return 2;
    }
    st.server = *server;
    {
        const sfs::files files;
        for (std::uint32_t f = 0; f < sfs::kFiles; ++f)
            for (std::uint32_t b = 0; b < cfg.blocks; ++b) {
                // Blocks spread over the file, not its first few pages.
                const sfs::request r{f, b * 29 + f, cfg.length, cfg.rounds};
                st.table.push_back({r, sfs::compute(files, r)});
            }
    }

    window w;
    for (std::size_t i = 0; i < cfg.connections; ++i)
        cpc::spawn(connection(st, i));
    cpc::spawn(timer(st, w));
    cpc::main_loop();

    // With one server process, a file's counter counts exactly the answers this client got
    // for it, so its highest value equals them; fewer means updates lost to a race.
    std::uint64_t lost = 0;
    for (std::uint32_t f = 0; f < sfs::kFiles; ++f)
        if (st.answers_per_file[f] > st.max_served[f])
            lost += st.answers_per_file[f] - st.max_served[f];
    std::uint64_t errors = 0;
    for (const std::uint64_t e : st.errors)
        errors += e;
    const std::uint64_t answers = w.at_end.answers - w.at_start.answers;
    const double cpu = w.cpu_end - w.cpu_start;
    std::printf(
        "{\"requests\": %llu, \"bytes\": %llu, \"seconds\": %.3f, \"requests_per_s\": %.1f, "
        "\"errors\": %llu, \"errors_connect\": %llu, \"errors_io\": %llu, "
        "\"errors_bad_answer\": %llu, \"answers_total\": %llu, \"hot_answers\": %llu, "
        "\"lost_updates\": %llu, \"client_cpu_s\": %.3f, \"client_cpu_fraction\": %.4f}\n",
        static_cast<unsigned long long>(answers),
        static_cast<unsigned long long>(w.at_end.bytes - w.at_start.bytes), cfg.seconds,
        static_cast<double>(answers) / cfg.seconds, static_cast<unsigned long long>(errors),
        static_cast<unsigned long long>(st.errors[connect_failed]),
        static_cast<unsigned long long>(st.errors[io_failed]),
        static_cast<unsigned long long>(st.errors[bad_answer]),
        static_cast<unsigned long long>(st.total.answers),
        static_cast<unsigned long long>(st.answers_per_file[0]),
        static_cast<unsigned long long>(lost), cpu, cpu / cfg.seconds);
    return errors == 0 && answers > 0 ? 0 : 1;
}
