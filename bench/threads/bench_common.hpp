// Helpers shared by the threads-<lib> peer programs: command line, clock, RSS, memory guard,
// CSV output and the SEDA read loop's file.  Header-only so every peer stays one source file.
//
// Peer contract: `threads-<lib> <metric> <N>` with metric one of spawn, spawn_burst, switch,
// condvar, idle, seda; prints exactly one line `<lib>,<metric_name>,<value>` on stdout and exits 0.
// A library that cannot create N threads exits with kExitCannot and one line on stderr saying why.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>

namespace bench {

inline constexpr int kExitCannot = 3;
inline constexpr int kExitUsage = 2;

// The SEDA experiment reads 8 KiB blocks at random aligned offsets of a 64 MiB cached file.
inline constexpr size_t kSedaBlock = 8192;
inline constexpr uint64_t kSedaFileBytes = 64ull << 20;
inline constexpr uint64_t kSedaBlocks = kSedaFileBytes / kSedaBlock;

// Threads are spawned in batches of this many, then left to run to completion, so that no
// library pays for a run queue or thread table holding millions of entries.
inline constexpr uint64_t kSpawnBatch = 1000;

// spawn_burst is the other case: all N threads are created before any of them runs (a burst of
// connections, each given a thread), so no stack or frame of a finished thread can be reused for
// the next.  The memory guard looks at /proc/meminfo only every this many creations there: at
// every 4096 its reads would add a few ns to each thread being timed.
inline constexpr uint64_t kBurstMemoryCheck = 65536;

enum class Metric { spawn, spawn_burst, switch_rt, condvar_rt, idle, seda };

struct Args {
    Metric metric;
    uint64_t n;
};

[[noreturn]] inline void usage(const char* lib) {
    std::fprintf(stderr, "usage: threads-%s spawn|spawn_burst|switch|condvar|idle|seda N\n", lib);
    std::exit(kExitUsage);
}

inline Args parse_args(int argc, char** argv, const char* lib) {
    if (argc != 3) usage(lib);
    std::string_view m = argv[1];
    Args a{};
    if (m == "spawn") {
        a.metric = Metric::spawn;
    } else if (m == "spawn_burst") {
        a.metric = Metric::spawn_burst;
    } else if (m == "switch") {
        a.metric = Metric::switch_rt;
    } else if (m == "condvar") {
        a.metric = Metric::condvar_rt;
    } else if (m == "idle") {
        a.metric = Metric::idle;
    } else if (m == "seda") {
        a.metric = Metric::seda;
    } else {
        usage(lib);
    }
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(argv[2], &end, 10);
    if (errno != 0 || end == argv[2] || *end != '\0' || n == 0) usage(lib);
    a.n = n;
    return a;
}

inline uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// The numbers only mean something on one core: a yield between two kernel threads on two cores
// is a no-op.  The driver pins to CPU 0 already; this covers a peer run by hand.
inline void pin_single_cpu() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) <= 1) return;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &set)) {
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            sched_setaffinity(0, sizeof set, &set);
            return;
        }
    }
}

// smaps_rollup walks the page tables, so it is exact; statm's counters are batched per thread
// and can lag by many pages in a process with thousands of kernel threads.
inline long long rss_bytes() {
    if (FILE* f = std::fopen("/proc/self/smaps_rollup", "r")) {
        char line[256];
        long long kb = -1;
        while (std::fgets(line, sizeof line, f)) {
            if (std::sscanf(line, "Rss: %lld kB", &kb) == 1) break;
        }
        std::fclose(f);
        if (kb >= 0) return kb * 1024;
    }
    long long size = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%lld %lld", &size, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

// True when creating more threads would push the machine towards the OOM killer, or crowd out
// whatever else runs on it (the driver's host may be compiling).  Keeps 20% of RAM, at least
// 2 GiB, available: that still leaves ~10 GB for cpc's 10^8 idle threads on a 16 GB machine.
inline bool memory_low() {
    FILE* f = std::fopen("/proc/meminfo", "r");
    if (!f) return false;
    char line[256];
    long long total = -1, avail = -1, v;
    while (std::fgets(line, sizeof line, f)) {
        if (std::sscanf(line, "MemTotal: %lld kB", &v) == 1) total = v;
        if (std::sscanf(line, "MemAvailable: %lld kB", &v) == 1) avail = v;
    }
    std::fclose(f);
    if (total < 0 || avail < 0) return false;
    long long floor_kb = std::max(total / 5, 2ll << 20);
    return avail < floor_kb;
}

// Cheap enough to call once per created thread: reads /proc/meminfo every `every` calls (a
// power of two).
inline void check_memory(uint64_t created, uint64_t every = 4096) {
    if ((created & (every - 1)) != 0 || !memory_low()) return;
    std::fprintf(stderr, "out of memory headroom at %llu threads (MemAvailable low)\n",
                 static_cast<unsigned long long>(created));
    std::fflush(stderr);
    _exit(kExitCannot);
}

[[noreturn]] inline void cannot(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
    std::fflush(stderr);
    _exit(kExitCannot);
}

[[noreturn]] inline void die(const char* what) {
    std::fprintf(stderr, "%s: %s\n", what, std::strerror(errno));
    std::fflush(stderr);
    _exit(1);
}

inline std::string metric_name(Metric m, uint64_t n) {
    switch (m) {
        case Metric::spawn:
            return "spawn_ns";
        case Metric::spawn_burst:
            return "spawn_burst_ns";
        case Metric::switch_rt:
            return "switch_rt_ns";
        case Metric::condvar_rt:
            return "condvar_rt_ns";
        case Metric::idle:
            return "idle_bytes";
        case Metric::seda:
            return "seda_rps_" + std::to_string(n);
    }
    return "unknown";
}

// Prints the result row and leaves without running destructors or joining threads: with
// millions of threads still blocked, an orderly teardown would only add time to the run.
[[noreturn]] inline void report(const char* lib, const Args& a, double value) {
    std::printf("%s,%s,%.6g\n", lib, metric_name(a.metric, a.n).c_str(), value);
    std::fflush(stdout);
    _exit(0);
}

// The work a peer implements: one function per metric, taking N and returning the value.
struct Peer {
    double (*spawn)(uint64_t);
    double (*spawn_burst)(uint64_t);
    double (*switch_rt)(uint64_t);
    double (*condvar_rt)(uint64_t);
    double (*idle)(uint64_t);
    double (*seda)(uint64_t);
};

// Runs the metric asked for on the command line and reports its value.
[[noreturn]] inline void run(const char* lib, const Args& a, const Peer& p) {
    double (*measure)(uint64_t) = nullptr;
    switch (a.metric) {
        case Metric::spawn:
            measure = p.spawn;
            break;
        case Metric::spawn_burst:
            measure = p.spawn_burst;
            break;
        case Metric::switch_rt:
            measure = p.switch_rt;
            break;
        case Metric::condvar_rt:
            measure = p.condvar_rt;
            break;
        case Metric::idle:
            measure = p.idle;
            break;
        case Metric::seda:
            measure = p.seda;
            break;
    }
    report(lib, a, measure(a.n));
}

// Per-operation time for the spawn/spawn_burst/switch/condvar metrics.
inline double per_op_ns(uint64_t t0, uint64_t t1, uint64_t n) {
    return double(t1 - t0) / double(n);
}

// Per-thread resident bytes for the idle metric.
inline double per_thread_bytes(long long before, long long after, uint64_t n) {
    return double(after - before) / double(n);
}

// ---- SEDA -------------------------------------------------------------------------------------

inline double seda_seconds() {
    if (const char* s = std::getenv("CPC_BENCH_SEDA_SECONDS")) {
        double v = std::atof(s);
        if (v > 0) return v;
    }
    return 1.5;
}

// Opens the data file the driver prepared (CPC_BENCH_SEDA_FILE), or makes an unlinked one when
// the peer runs on its own; either way reads it once so that every pread hits the page cache.
inline int seda_open() {
    int fd = -1;
    if (const char* path = std::getenv("CPC_BENCH_SEDA_FILE")) {
        fd = ::open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && (fstat(fd, &st) != 0 || uint64_t(st.st_size) < kSedaFileBytes)) {
            ::close(fd);
            fd = -1;
        }
    }
    static char buf[1 << 16];
    if (fd < 0) {
        char tmpl[] = "/tmp/cpc-bench-seda-XXXXXX";
        fd = mkstemp(tmpl);
        if (fd < 0) die("mkstemp");
        unlink(tmpl);
        for (size_t i = 0; i < sizeof buf; ++i)
            buf[i] = char(i * 131 + 7);
        for (uint64_t off = 0; off < kSedaFileBytes; off += sizeof buf) {
            if (pwrite(fd, buf, sizeof buf, off_t(off)) != ssize_t(sizeof buf)) die("pwrite");
        }
    }
    for (uint64_t off = 0; off < kSedaFileBytes; off += sizeof buf) {
        if (pread(fd, buf, sizeof buf, off_t(off)) <= 0) die("pread");
    }
    return fd;
}

// One buffer for every thread: the data is thrown away, and a per-thread 8 KiB buffer would
// turn the experiment into a memory benchmark for stackful libraries.
inline char seda_buffer[kSedaBlock];

// xorshift64*: a few bytes of state per thread and no locking.
inline uint64_t next_random(uint64_t& s) {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
}

inline uint64_t seed_for(uint64_t thread_index) {
    return (thread_index + 1) * 0x9E3779B97F4A7C15ull;
}

inline void seda_read(int fd, uint64_t& rng) {
    off_t off = off_t((next_random(rng) % kSedaBlocks) * kSedaBlock);
    if (pread(fd, seda_buffer, kSedaBlock, off) != ssize_t(kSedaBlock)) die("pread");
}

// Called by a SEDA worker with the process-wide read count after its read.  Looks at the clock
// every 1024 reads: rarely enough to cost nothing, often enough that the window is kept even when
// one pass over all threads takes seconds.  Touched stack pages grow while the threads run, so the
// memory guard is consulted here too (every 64 clock looks).
inline bool seda_window_over(uint64_t reads, uint64_t deadline_ns) {
    if (reads % 1024 != 0) return false;
    if ((reads / 1024) % 64 == 0 && memory_low()) {
        cannot("out of memory headroom while running (%llu reads done)",
               static_cast<unsigned long long>(reads));
    }
    return now_ns() >= deadline_ns;
}

inline double per_second(uint64_t count, uint64_t t0, uint64_t t1) {
    return double(count) * 1e9 / double(t1 - t0);
}

}  // namespace bench
