// What the loops of a running cpc::runtime share: who is idle (to end the run), whom to ask
// for colors, and the stealing thresholds.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "cpc/runtime.hpp"

namespace cpc::detail {

struct runtime_state {
    runtime_state(runtime_options o, cpc::topology t) : options(o), topo(std::move(t)) {}

    runtime_options options;
    cpc::topology topo;
    std::vector<loop*> loops;
    std::vector<std::size_t> cpu;                  // per loop: index into topo.cpus()
    std::vector<std::vector<unsigned>> victims;    // per loop: the others, nearest first
    std::vector<std::vector<unsigned char>> near;  // near[a][b]: loops a and b share a cache

    // The end of a run: every loop idle (nothing of its own and nothing queued) at once,
    // and no thread detached to a pool. Only touched when a loop runs out of work, or when
    // something is queued for an idle loop; never on the paths that run threads. The lock
    // order is this mutex, then a loop's remote_mutex_ (which guards its idle_ flag).
    std::mutex mutex;
    std::size_t idle_loops = 0;
    bool stopping = false;
    // Senders between finding a loop idle and counting it busy again (loop::push_remote):
    // run() waits for them before it returns.
    std::atomic<unsigned> waking_senders{0};

    std::atomic<unsigned> round_robin{0};
    std::atomic<std::size_t> steals{0};
    // Time victims spent handing colors over (two clock reads per steal: steals are rare).
    std::atomic<std::uint64_t> handoff_ns{0};

    // l has nothing to do: count it idle. Returns true when the run is over.
    bool go_idle(loop& l);
};

}  // namespace cpc::detail
