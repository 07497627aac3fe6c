// The machine as the runtime sees it: which CPUs the process may run on, and which of them
// share caches. Read once, from hwloc when it is available and else from sysfs
// (/sys/devices/system/cpu/cpuN/{topology,cache}); with neither, every CPU is its own core
// with no shared cache.
#pragma once

#include <cstddef>
#include <vector>

namespace cpc {

// One CPU of the machine, as the runtime places loops on it.
struct cpu_info {
    int os_index = 0;     // the number sched_setaffinity takes
    int core = 0;         // CPUs of one core (SMT siblings) share this id
    int cache_group = 0;  // CPUs sharing the last-level cache share this id
    int package = 0;      // CPUs of one socket share this id
};

// The CPUs the process may run on, and which of them share caches.
class topology {
  public:
    // The CPUs in the calling kernel thread's affinity mask, ordered so that one CPU of
    // every core comes before any SMT sibling, and CPUs of one cache group are adjacent: the
    // first n of them are where n loops should run.
    static topology detect();
    // A machine described by hand (tests).
    explicit topology(std::vector<cpu_info> cpus, const char* source = "given");

    // The CPUs, in placement order (see detect).
    const std::vector<cpu_info>& cpus() const noexcept { return cpus_; }
    // The number of CPUs.
    std::size_t size() const noexcept { return cpus_.size(); }
    // "hwloc", "sysfs" or "none": where the cache sharing came from.
    const char* source() const noexcept { return source_; }

    // How far apart two CPUs (indexes into cpus()) are: 0 same CPU, 1 same core, 2 same
    // last-level cache, 3 same package, 4 farther.
    int distance(std::size_t a, std::size_t b) const noexcept;
    // Loops on CPUs sharing a cache are "near": stealing between them moves little data.
    bool near(std::size_t a, std::size_t b) const noexcept { return distance(a, b) <= 2; }

  private:
    std::vector<cpu_info> cpus_;
    const char* source_;
};

}  // namespace cpc
