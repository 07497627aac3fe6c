// `threads`: runs every threads-<lib> peer found next to it, pinned to one core, and reports
// medians as CSV rows `library,metric,value`, ratios of cpc against State Threads and the
// baseline, and PASS/MISS lines for cpc's targets.  See usage() for the options.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#ifndef CPC_BENCH_RESULTS_DIR
#define CPC_BENCH_RESULTS_DIR "bench/results"
#endif
#ifndef CPC_BENCH_PLOT_SCRIPT
#define CPC_BENCH_PLOT_SCRIPT "bench/threads/plot_seda.sh"
#endif

namespace {

// Order of columns and of plot lines.
const std::vector<std::string> kLibraries = {"cpc", "baseline", "boost", "st", "pth", "nptl"};

constexpr uint64_t kIdleN = 1000000;
constexpr uint64_t kQuickIdleN = 10000;
// spawn_burst creates this many threads before any runs: the same N for every library.
constexpr uint64_t kBurstN = 100000;
constexpr uint64_t kQuickBurstN = 10000;
// Repeats of a run stop once they have taken this long (Pth needs over a minute for one burst of
// 10^5: its queues insert in O(n)).
constexpr double kBurstBudgetS = 20;

struct Options {
    bool csv = false;
    bool quick = false;
    bool huge = false;
    std::set<std::string> only;
    std::string out;
    double timeout_s = 120;
    uint64_t ops = 0;
};

void usage(FILE* f) {
    std::fprintf(
        f,
        "usage: threads [--csv] [--quick] [--huge] [--only LIB[,LIB...]] [--out FILE]\n"
        "               [--timeout SECONDS] [--ops N]\n"
        "\n"
        "Runs the threads-<lib> peers next to this program (cpc, baseline, boost, st,\n"
        "pth, nptl), all pinned to one CPU, and prints `library,metric,value` rows:\n"
        "  spawn_ns       ns per thread created and run to completion, in batches of\n"
        "                 1000 that run before the next batch is created\n"
        "  spawn_burst_ns the same for a burst: %llu threads (%llu with --quick) all\n"
        "                 created before any runs, so no finished thread's stack is reused\n"
        "  switch_rt_ns   ns per yield round trip between two threads\n"
        "  condvar_rt_ns  ns per condition-variable ping-pong round trip\n"
        "  idle_bytes     resident bytes per thread blocked on a condvar (at idle_threads)\n"
        "  seda_rps_N     8 KiB cached preads per second with N threads reading and\n"
        "                 yielding (Capriccio's SEDA scaling experiment)\n"
        "then cpc/st and cpc/baseline ratio rows; cpc's targets as PASS/MISS on stderr.\n"
        "A library that cannot reach N threads (thread limit, memory, timeout) gets a\n"
        "`fail` row and max_threads, the largest SEDA N that worked; a run that would\n"
        "need over 3/4 of the free memory at its idle_bytes is not started.  A full run\n"
        "takes ~12 minutes, most of it Pth timing out at 10^6 threads and its burst.\n"
        "\n"
        "  --csv          print only CSV on stdout (otherwise a table follows it)\n"
        "  --quick        small N everywhere, one run each: a smoke test under a minute;\n"
        "                 writes threads-quick.csv unless --out is given\n"
        "  --huge         also measure cpc idle at 10^8 threads (needs ~10 GB of RAM)\n"
        "  --only LIBS    run only these libraries (ratios need cpc and st)\n"
        "  --out FILE     CSV path (default %s/threads.csv);\n"
        "                 the SEDA plot goes next to it as <name>-seda.png (gnuplot)\n"
        "  --timeout S    kill a peer run after S seconds and record it failed (120)\n"
        "  --ops N        operations for spawn/switch/condvar instead of calibrating\n"
        "                 (spawn_burst keeps its N)\n",
        (unsigned long long)kBurstN, (unsigned long long)kQuickBurstN, CPC_BENCH_RESULTS_DIR);
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "threads: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--csv") {
            o.csv = true;
        } else if (a == "--quick") {
            o.quick = true;
        } else if (a == "--huge") {
            o.huge = true;
        } else if (a == "--only") {
            std::string list = value();
            size_t start = 0;
            while (start <= list.size()) {
                size_t comma = list.find(',', start);
                if (comma == std::string::npos) comma = list.size();
                if (comma > start) o.only.insert(list.substr(start, comma - start));
                start = comma + 1;
            }
        } else if (a == "--out") {
            o.out = value();
        } else if (a == "--timeout") {
            o.timeout_s = std::atof(value().c_str());
            if (o.timeout_s <= 0) o.timeout_s = 120;
        } else if (a == "--ops") {
            o.ops = std::strtoull(value().c_str(), nullptr, 10);
        } else if (a == "-h" || a == "--help") {
            usage(stdout);
            std::exit(0);
        } else {
            std::fprintf(stderr, "threads: unknown option %s\n", a.c_str());
            usage(stderr);
            std::exit(2);
        }
    }
    return o;
}

double now_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// ---- child processes --------------------------------------------------------------------------

volatile sig_atomic_t g_child = 0;
std::string g_seda_path;

void on_signal(int sig) {
    if (g_child > 0) kill(g_child, SIGKILL);
    if (!g_seda_path.empty()) unlink(g_seda_path.c_str());
    signal(sig, SIG_DFL);
    raise(sig);
}

struct Outcome {
    bool ok = false;
    std::string metric;
    double value = 0;
    std::string error;  // why it failed, one line
    bool timed_out = false;
};

std::string last_line(const std::string& s) {
    size_t end = s.find_last_not_of(" \t\r\n");
    if (end == std::string::npos) return "";
    size_t begin = s.rfind('\n', end);
    begin = begin == std::string::npos ? 0 : begin + 1;
    return s.substr(begin, end + 1 - begin);
}

// Runs one peer with a time bound and parses its single `lib,metric,value` line.
Outcome run_peer(const std::string& exe, const std::string& lib, const char* metric, uint64_t n,
                 double timeout_s) {
    Outcome r;
    int outp[2], errp[2];
    if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        r.error = std::string("pipe: ") + std::strerror(errno);
        return r;
    }
    std::string nstr = std::to_string(n);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(outp[1], 1);
        dup2(errp[1], 2);
        // If a peer does exhaust memory, the OOM killer should take it and not whatever else
        // shares the machine.
        int fd = open("/proc/self/oom_score_adj", O_WRONLY);
        if (fd >= 0) {
            (void)!write(fd, "1000", 4);
            close(fd);
        }
        execl(exe.c_str(), exe.c_str(), metric, nstr.c_str(), static_cast<char*>(nullptr));
        std::fprintf(stderr, "exec %s: %s\n", exe.c_str(), std::strerror(errno));
        _exit(127);
    }
    close(outp[1]);
    close(errp[1]);
    if (pid < 0) {
        close(outp[0]);
        close(errp[0]);
        r.error = std::string("fork: ") + std::strerror(errno);
        return r;
    }
    g_child = pid;
    double deadline = now_s() + timeout_s;
    std::string out, err;
    pollfd fds[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
    int open_fds = 2;
    bool timed_out = false;
    while (open_fds > 0) {
        double left = deadline - now_s();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int rc = poll(fds, 2, int(std::min(left, 1.0) * 1000) + 1);
        if (rc < 0 && errno != EINTR) break;
        for (auto& p : fds) {
            if (p.fd < 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            ssize_t got = read(p.fd, buf, sizeof buf);
            if (got <= 0) {
                close(p.fd);
                p.fd = -1;
                --open_fds;
            } else {
                std::string& dst = p.fd == outp[0] ? out : err;
                if (dst.size() < (1u << 16)) dst.append(buf, size_t(got));
            }
        }
    }
    int status = 0;
    while (!timed_out) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (now_s() >= deadline) {
            timed_out = true;
            break;
        }
        usleep(10000);
    }
    if (timed_out) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    g_child = 0;
    for (auto& p : fds) {
        if (p.fd >= 0) close(p.fd);
    }

    std::string why = last_line(err);
    if (timed_out) {
        char msg[64];
        std::snprintf(msg, sizeof msg, "timeout after %.0f s", timeout_s);
        r.error = msg;
        r.timed_out = true;
        return r;
    }
    if (WIFSIGNALED(status)) {
        r.error = std::string("killed by signal ") + sigabbrev_np(WTERMSIG(status)) +
                  (why.empty() ? "" : ": " + why);
        return r;
    }
    if (WEXITSTATUS(status) != 0) {
        r.error =
            WEXITSTATUS(status) == 3 && !why.empty()
                ? why
                : "exit " + std::to_string(WEXITSTATUS(status)) + (why.empty() ? "" : ": " + why);
        return r;
    }
    // Exactly one line `lib,metric,value`.
    std::string line = last_line(out);
    size_t c1 = line.find(','), c2 = line.rfind(',');
    if (c1 == std::string::npos || c2 == c1 || line.substr(0, c1) != lib) {
        r.error = "unexpected output: " + line;
        return r;
    }
    char* end = nullptr;
    r.value = std::strtod(line.c_str() + c2 + 1, &end);
    if (end == line.c_str() + c2 + 1 || !std::isfinite(r.value)) {
        r.error = "unexpected output: " + line;
        return r;
    }
    r.metric = line.substr(c1 + 1, c2 - c1 - 1);
    r.ok = true;
    return r;
}

// ---- results ----------------------------------------------------------------------------------

struct Row {
    std::string lib, metric, value;
};

std::string fmt(double v) {
    char buf[64];
    if (std::fabs(v) >= 1000) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        std::snprintf(buf, sizeof buf, "%.4g", v);
    }
    return buf;
}

class Results {
  public:
    void add(const std::string& lib, const std::string& metric, double v) {
        rows_.push_back({lib, metric, fmt(v)});
        values_[{lib, metric}] = v;
    }
    void fail(const std::string& lib, const std::string& metric, const std::string& why) {
        rows_.push_back({lib, metric, "fail"});
        note(lib + " " + metric + ": " + why);
    }
    void note(const std::string& what) { failures_.push_back(what); }
    std::optional<double> get(const std::string& lib, const std::string& metric) const {
        auto it = values_.find({lib, metric});
        if (it == values_.end()) return std::nullopt;
        return it->second;
    }
    bool has(const std::string& lib, const std::string& metric) const {
        for (const Row& r : rows_) {
            if (r.lib == lib && r.metric == metric) return true;
        }
        return false;
    }
    const std::vector<Row>& rows() const { return rows_; }
    const std::vector<std::string>& failures() const { return failures_; }

  private:
    std::vector<Row> rows_;
    std::map<std::pair<std::string, std::string>, double> values_;
    std::vector<std::string> failures_;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// Runs a peer `reps` times, fewer if the runs so far took over budget_s (when not 0); the median,
// or the first failure.
Outcome measure(const std::string& exe, const std::string& lib, const char* metric, uint64_t n,
                int reps, double timeout_s, double budget_s = 0) {
    std::vector<double> values;
    Outcome last;
    std::fprintf(stderr, "  %-8s %-11s N=%-10llu", lib.c_str(), metric, (unsigned long long)n);
    double t0 = now_s();
    for (int i = 0; i < reps; ++i) {
        if (i > 0 && budget_s > 0 && now_s() - t0 > budget_s) break;
        last = run_peer(exe, lib, metric, n, timeout_s);
        if (!last.ok) {
            std::fprintf(stderr, " FAILED (%s)\n", last.error.c_str());
            return last;
        }
        values.push_back(last.value);
    }
    last.value = median(values);
    std::fprintf(stderr, " %12s  (%zu run%s, %.1f s)\n", fmt(last.value).c_str(), values.size(),
                 values.size() == 1 ? "" : "s", now_s() - t0);
    return last;
}

// Largest of 1, 2, 5 x 10^k not above v.
uint64_t round_125(double v) {
    double p = std::pow(10.0, std::floor(std::log10(v)));
    double m = v / p;
    return uint64_t((m >= 5 ? 5 : m >= 2 ? 2 : 1) * p);
}

uint64_t pow10_below(uint64_t v) {
    uint64_t p = 1;
    while (p * 10 <= v)
        p *= 10;
    return p;
}

std::optional<uint64_t> threads_in(const std::string& why) {
    static const std::regex re("at ([0-9]+) threads");
    std::smatch m;
    if (std::regex_search(why, m, re)) return std::stoull(m[1].str());
    return std::nullopt;
}

long long mem_available_bytes() {
    FILE* f = std::fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (std::fgets(line, sizeof line, f)) {
        if (std::sscanf(line, "MemAvailable: %lld kB", &kb) == 1) break;
    }
    std::fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

// A run that would need most of the machine's free memory at the library's measured bytes per
// idle thread is recorded as failed without being started: the peer's own guard would stop it
// too, but only after filling RAM for a while on a machine that may be shared.
std::optional<std::string> too_big(const Results& res, const std::string& lib, uint64_t n) {
    auto per_thread = res.get(lib, "idle_bytes");
    long long avail = mem_available_bytes();
    if (!per_thread || avail <= 0) return std::nullopt;
    double need = *per_thread * double(n);
    if (need < 0.75 * double(avail)) return std::nullopt;
    char msg[160];
    std::snprintf(msg, sizeof msg,
                  "not run: %llu threads at %.0f bytes each need %.1f GiB, %.1f GiB available",
                  (unsigned long long)n, *per_thread, need / (1 << 30), double(avail) / (1 << 30));
    std::fprintf(stderr, "  %-8s N=%-10llu %s\n", lib.c_str(), (unsigned long long)n, msg);
    return msg;
}

struct Plan {
    bool quick;
    double timeout_s;
    uint64_t ops;
};

void bench_library(const Plan& p, const std::string& dir, const std::string& lib, Results& res) {
    std::string exe = dir + "/threads-" + lib;
    std::fprintf(stderr, "%s:\n", lib.c_str());

    // Per-operation metrics: enough operations for ~0.2 s per run, found with short runs.  A
    // fast library is calibrated a second time at 10^5: at 10^4 its one-off costs (first stacks
    // mapped and faulted in, pools grown) still dominate, ST's spawn looks ten times slower.
    // spawn_burst is not calibrated: its N is the size of the burst, the same for everyone.
    struct PerOp {
        const char* metric;
        const char* name;
        bool burst;
    };
    for (const PerOp& op :
         {PerOp{"spawn", "spawn_ns", false}, PerOp{"spawn_burst", "spawn_burst_ns", true},
          PerOp{"switch", "switch_rt_ns", false}, PerOp{"condvar", "condvar_rt_ns", false}}) {
        const char* metric = op.metric;
        const char* name = op.name;
        if (op.burst) {
            Outcome o = measure(exe, lib, metric, p.quick ? kQuickBurstN : kBurstN, p.quick ? 1 : 5,
                                p.timeout_s, kBurstBudgetS);
            if (o.ok) {
                res.add(lib, o.metric, o.value);
            } else {
                res.fail(lib, name, o.error);
            }
            continue;
        }
        uint64_t n = p.ops ? p.ops : p.quick ? 10000 : 0;
        // Operations for ~0.2 s at the speed a probe run of `probe` operations shows; 0 if the
        // probe failed.
        auto calibrate = [&](uint64_t probe) -> uint64_t {
            Outcome c = run_peer(exe, lib, metric, probe, p.timeout_s);
            if (!c.ok) {
                std::fprintf(stderr, "  %-8s %-11s calibration FAILED (%s)\n", lib.c_str(), metric,
                             c.error.c_str());
                res.fail(lib, name, c.error);
                return 0;
            }
            return std::clamp<uint64_t>(round_125(0.2e9 / std::max(c.value, 0.1)), 10000, 10000000);
        };
        if (n == 0) {
            n = calibrate(10000);
            if (n > 100000) n = calibrate(100000);
            if (n == 0) continue;
        }
        Outcome o = measure(exe, lib, metric, n, p.quick ? 1 : 5, p.timeout_s);
        if (o.ok) {
            res.add(lib, o.metric, o.value);
        } else {
            res.fail(lib, name, o.error);
        }
    }

    // Idle memory at 10^6 threads, or at a smaller power of ten when the library cannot go
    // that far: just under its thread limit when it says where that is, a hundred times fewer
    // after a timeout (Pth's scheduler is quadratic in the number of waiting threads).
    uint64_t idle_n = p.quick ? kQuickIdleN : kIdleN;
    for (uint64_t n = idle_n;;) {
        Outcome o = measure(exe, lib, "idle", n, p.quick ? 1 : 3, p.timeout_s);
        if (o.ok) {
            res.add(lib, "idle_bytes", o.value);
            res.add(lib, "idle_threads", double(n));
            break;
        }
        uint64_t next = o.timed_out ? n / 100 : n / 10;
        if (auto k = threads_in(o.error); k && *k < next) next = pow10_below(*k);
        if (next < idle_n / 100) {
            res.fail(lib, "idle_bytes", o.error);
            break;
        }
        res.note(lib + " idle at " + std::to_string(n) + " threads: " + o.error + " (retried at " +
                 std::to_string(next) + ")");
        n = next;
    }

    // cpc's claim is that idle threads stay small at ten times that too.
    if (lib == "cpc") {
        uint64_t n = idle_n * 10;
        std::string name = "idle_bytes_" + std::to_string(n);
        Outcome o;
        if (auto why = too_big(res, lib, n)) {
            o.error = *why;
        } else {
            o = measure(exe, lib, "idle", n, 1, p.timeout_s);
        }
        if (o.ok) {
            res.add(lib, name, o.value);
        } else {
            res.fail(lib, name, o.error);
        }
    }

    // SEDA: growing N until the library fails, then record how far it went.
    std::vector<uint64_t> ns = p.quick ? std::vector<uint64_t>{100, 10000}
                                       : std::vector<uint64_t>{100, 10000, 1000000, 10000000};
    // Three runs at every N: single runs at large N made the curve's spread mostly noise.
    uint64_t largest_ok = 0;
    for (uint64_t n : ns) {
        std::string name = "seda_rps_" + std::to_string(n);
        if (auto why = too_big(res, lib, n)) {
            res.fail(lib, name, *why);
            break;
        }
        Outcome o = measure(exe, lib, "seda", n, p.quick ? 1 : 3, p.timeout_s);
        if (o.ok) {
            res.add(lib, o.metric, o.value);
            largest_ok = n;
            continue;
        }
        res.fail(lib, name, o.error);
        if (auto k = threads_in(o.error)) res.add(lib, "threads_at_failure", double(*k));
        break;
    }
    // The most threads the library ran the SEDA work with (every library gets the row; for
    // one that never failed it is a lower bound, and --huge shows cpc holding 10^8 idle).
    res.add(lib, "max_threads", double(largest_ok));
}

void bench_cpc_huge(const Plan& p, const std::string& dir, Results& res) {
    uint64_t n = 100000000;
    std::string name = "idle_bytes_" + std::to_string(n);
    Outcome o;
    if (auto why = too_big(res, "cpc", n)) {
        o.error = *why;
    } else {
        o = measure(dir + "/threads-cpc", "cpc", "idle", n, 1, p.timeout_s * 4);
    }
    if (o.ok) {
        res.add("cpc", name, o.value);
    } else {
        res.fail("cpc", name, o.error);
    }
}

// ---- ratios and targets -----------------------------------------------------------------------

void add_ratios(Results& res) {
    auto ratio = [&](const std::string& row_lib, const std::string& row_metric,
                     const std::string& num_lib, const std::string& den_lib,
                     const std::string& metric) {
        auto a = res.get(num_lib, metric), b = res.get(den_lib, metric);
        if (a && b && *b > 0) res.add(row_lib, row_metric, *a / *b);
    };
    // Speedups: how many times cheaper cpc is than ST.
    ratio("cpc/st", "spawn_speedup", "st", "cpc", "spawn_ns");
    ratio("cpc/st", "spawn_burst_speedup", "st", "cpc", "spawn_burst_ns");
    ratio("cpc/st", "switch_speedup", "st", "cpc", "switch_rt_ns");
    ratio("cpc/st", "condvar_speedup", "st", "cpc", "condvar_rt_ns");
    ratio("cpc/st", "idle_memory_ratio", "st", "cpc", "idle_bytes");
    for (uint64_t n : {100ull, 10000ull, 1000000ull, 10000000ull}) {
        std::string m = "seda_rps_" + std::to_string(n);
        ratio("cpc/st", "seda_ratio_" + std::to_string(n), "cpc", "st", m);
    }
    // Overheads: how many times the bare coroutine floor cpc costs.
    ratio("cpc/baseline", "spawn_ratio", "cpc", "baseline", "spawn_ns");
    ratio("cpc/baseline", "spawn_burst_ratio", "cpc", "baseline", "spawn_burst_ns");
    ratio("cpc/baseline", "switch_ratio", "cpc", "baseline", "switch_rt_ns");
    ratio("cpc/baseline", "condvar_ratio", "cpc", "baseline", "condvar_rt_ns");
    ratio("cpc/baseline", "idle_ratio", "cpc", "baseline", "idle_bytes");

    std::vector<double> seda;
    for (const Row& r : res.rows()) {
        if (r.lib == "cpc" && r.metric.rfind("seda_rps_", 0) == 0) {
            if (auto v = res.get("cpc", r.metric)) seda.push_back(*v);
        }
    }
    if (seda.size() >= 2) {
        auto [lo, hi] = std::minmax_element(seda.begin(), seda.end());
        res.add("cpc", "seda_spread_pct", (*hi - *lo) / *hi * 100);
    }
}

void check_targets(const Results& res, bool quick) {
    std::fprintf(stderr, "\ncpc targets%s:\n", quick ? " (quick run: indicative only)" : "");
    auto check = [&](const std::string& lib, const std::string& metric, const char* op,
                     double bound, const char* what) {
        auto v = res.get(lib, metric);
        if (!v) {
            std::fprintf(stderr, "MISS %-28s no data (target %s %g) %s\n",
                         (lib + " " + metric).c_str(), op, bound, what);
            return;
        }
        bool ok = op[0] == '<' ? *v <= bound : *v >= bound;
        std::fprintf(stderr, "%s %-28s %10s  (target %s %g) %s\n", ok ? "PASS" : "MISS",
                     (lib + " " + metric).c_str(), fmt(*v).c_str(), op, bound, what);
    };
    check("cpc", "spawn_ns", "<=", 20, "ns per spawn");
    check("cpc", "switch_rt_ns", "<=", 15, "ns per switch round trip");
    check("cpc", "condvar_rt_ns", "<=", 25, "ns per condvar round trip");
    check("cpc", "idle_bytes", "<=", 128, "bytes per idle thread");
    for (const Row& r : res.rows()) {
        if (r.lib == "cpc" && r.metric.rfind("idle_bytes_", 0) == 0) {
            check("cpc", r.metric, "<=", 128, "bytes per idle thread");
        }
    }
    check("cpc/st", "spawn_speedup", ">=", 20, "x faster spawn than st");
    // No target for the burst: reported next to the one for spawn.
    auto info = [&](const std::string& lib, const std::string& metric, const char* what) {
        auto v = res.get(lib, metric);
        std::fprintf(stderr, "INFO %-28s %10s  (no target) %s\n", (lib + " " + metric).c_str(),
                     v ? fmt(*v).c_str() : "no data", what);
    };
    info("cpc/st", "spawn_burst_speedup", "x faster burst spawn than st");
    check("cpc/st", "switch_speedup", ">=", 20, "x faster switch than st");
    check("cpc/st", "condvar_speedup", ">=", 2, "x faster condvar than st");
    check("cpc/st", "idle_memory_ratio", ">=", 30, "x less memory per thread than st");
    auto spread = res.get("cpc", "seda_spread_pct");
    bool all_n =
        res.get("cpc", "seda_rps_100") && res.get("cpc", "seda_rps_10000") &&
        (quick || (res.get("cpc", "seda_rps_1000000") && res.get("cpc", "seda_rps_10000000")));
    if (!spread || !all_n) {
        std::fprintf(stderr, "MISS %-28s not every N ran (target: flat within 10%% across N)\n",
                     "cpc seda_spread_pct");
    } else {
        check("cpc", "seda_spread_pct", "<=", 10, "% between best and worst N");
    }
}

// ---- output -----------------------------------------------------------------------------------

void print_csv(FILE* f, const Results& res) {
    std::fprintf(f, "library,metric,value\n");
    for (const Row& r : res.rows()) {
        std::fprintf(f, "%s,%s,%s\n", r.lib.c_str(), r.metric.c_str(), r.value.c_str());
    }
}

void print_table(const Results& res, const std::vector<std::string>& libs) {
    std::vector<std::string> metrics;
    std::vector<std::string> other;  // ratio and derived rows
    for (const Row& r : res.rows()) {
        bool is_lib = std::find(libs.begin(), libs.end(), r.lib) != libs.end();
        if (is_lib && r.metric != "seda_spread_pct") {
            if (std::find(metrics.begin(), metrics.end(), r.metric) == metrics.end()) {
                metrics.push_back(r.metric);
            }
        } else {
            other.push_back(r.lib + " " + r.metric + " = " + r.value);
        }
    }
    std::printf("\n%-22s", "metric");
    for (const auto& l : libs)
        std::printf(" %12s", l.c_str());
    std::printf("\n");
    for (const auto& m : metrics) {
        std::printf("%-22s", m.c_str());
        for (const auto& l : libs) {
            std::string cell = "-";
            for (const Row& r : res.rows()) {
                if (r.lib == l && r.metric == m) cell = r.value;
            }
            std::printf(" %12s", cell.c_str());
        }
        std::printf("\n");
    }
    if (!other.empty()) std::printf("\n");
    for (const auto& o : other)
        std::printf("%s\n", o.c_str());
    if (!res.failures().empty()) std::printf("\nfailures:\n");
    for (const auto& f : res.failures())
        std::printf("  %s\n", f.c_str());
}

// ---- setup ------------------------------------------------------------------------------------

std::string self_dir() {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    std::string p(buf, size_t(n));
    size_t slash = p.rfind('/');
    return slash == std::string::npos ? "." : p.substr(0, slash);
}

// CPU 0 when allowed, else the first CPU we may use; children inherit the mask.
int pin() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    int cpu = 0;
    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set))
        ++cpu;
    if (cpu == CPU_SETSIZE) return -1;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? cpu : -1;
}

// One data file for every SEDA run, written once so that it sits in the page cache.
bool make_seda_file() {
    const char* tmp = std::getenv("TMPDIR");
    g_seda_path = std::string(tmp && *tmp ? tmp : "/tmp") + "/cpc-bench-seda-" +
                  std::to_string(getpid()) + ".dat";
    int fd = open(g_seda_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    static char buf[1 << 16];
    for (size_t i = 0; i < sizeof buf; ++i)
        buf[i] = char(i * 131 + 7);
    bool ok = true;
    for (off_t off = 0; ok && off < (64 << 20); off += off_t(sizeof buf)) {
        ok = pwrite(fd, buf, sizeof buf, off) == ssize_t(sizeof buf);
    }
    close(fd);
    if (!ok) unlink(g_seda_path.c_str());
    if (ok) setenv("CPC_BENCH_SEDA_FILE", g_seda_path.c_str(), 1);
    return ok;
}

std::string png_for(const std::string& csv) {
    std::string base = csv;
    if (base.size() > 4 && base.compare(base.size() - 4, 4, ".csv") == 0) {
        base.resize(base.size() - 4);
    }
    return base + "-seda.png";
}

void mkdirs_for(const std::string& file) {
    for (size_t i = 1; i < file.size(); ++i) {
        if (file[i] == '/') mkdir(file.substr(0, i).c_str(), 0755);
    }
}

void plot(const std::string& csv, const std::string& png) {
    if (access(CPC_BENCH_PLOT_SCRIPT, R_OK) != 0) {
        std::fprintf(stderr, "no plot: %s not found\n", CPC_BENCH_PLOT_SCRIPT);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", CPC_BENCH_PLOT_SCRIPT, csv.c_str(), png.c_str(),
              static_cast<char*>(nullptr));
        _exit(127);
    }
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
}

}  // namespace

int main(int argc, char** argv) {
    Options opt = parse_options(argc, argv);
    std::string dir = self_dir();

    std::vector<std::string> libs;
    for (const auto& l : kLibraries) {
        if (!opt.only.empty() && !opt.only.count(l)) continue;
        if (access((dir + "/threads-" + l).c_str(), X_OK) != 0) {
            std::fprintf(stderr, "threads: no %s/threads-%s, skipping %s\n", dir.c_str(), l.c_str(),
                         l.c_str());
            continue;
        }
        libs.push_back(l);
    }
    for (const auto& l : opt.only) {
        if (std::find(kLibraries.begin(), kLibraries.end(), l) == kLibraries.end()) {
            std::fprintf(stderr, "threads: unknown library %s\n", l.c_str());
            return 2;
        }
    }
    if (libs.empty()) {
        std::fprintf(stderr, "threads: no peer to run\n");
        return 1;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    int cpu = pin();
    if (cpu < 0) std::fprintf(stderr, "threads: could not pin to one CPU, numbers will be noisy\n");
    if (!make_seda_file())
        std::fprintf(stderr, "threads: no SEDA data file, peers make their own\n");
    setenv("CPC_BENCH_SEDA_SECONDS", opt.quick ? "0.3" : "1.5", 1);
    std::fprintf(stderr, "threads: pinned to CPU %d, %s run of %zu libraries\n", cpu,
                 opt.quick ? "quick" : "full", libs.size());

    Plan plan{opt.quick, opt.timeout_s, opt.ops};
    Results res;
    for (const auto& l : libs) {
        bench_library(plan, dir, l, res);
        if (l == "cpc" && opt.huge) bench_cpc_huge(plan, dir, res);
    }
    if (!g_seda_path.empty()) unlink(g_seda_path.c_str());
    add_ratios(res);

    print_csv(stdout, res);
    if (!opt.csv) print_table(res, libs);
    std::fflush(stdout);
    if (std::find(libs.begin(), libs.end(), "cpc") != libs.end()) {
        check_targets(res, opt.quick);
    } else {
        std::fprintf(stderr, "\ncpc not run: no target check\n");
    }

    std::string out = !opt.out.empty() ? opt.out
                                       : std::string(CPC_BENCH_RESULTS_DIR) +
                                             (opt.quick ? "/threads-quick.csv" : "/threads.csv");
    mkdirs_for(out);
    if (FILE* f = std::fopen(out.c_str(), "w")) {
        print_csv(f, res);
        std::fclose(f);
        std::fprintf(stderr, "\nwrote %s\n", out.c_str());
        plot(out, png_for(out));
    } else {
        std::fprintf(stderr, "threads: cannot write %s: %s\n", out.c_str(), std::strerror(errno));
    }
    return 0;
}
