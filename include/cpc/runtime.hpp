// cpc::runtime: one loop per core (libasync-mp's model on CPC's threads).
//
//   cpc::runtime rt{{.threads = 4}};      // default: every CPU of sched_getaffinity
//   cpc::color c(rt);
//   rt.spawn(accept_loop(fd));            // uncolored: stays on the loop it is given
//   rt.spawn(work(), c);                  // in color c, wherever c runs
//   rt.run();                             // until nothing can make progress on any loop
//
// run() runs loop 0 on the calling kernel thread and each other loop on a kernel thread of
// its own, each pinned to one CPU chosen from the topology (topology.hpp): distinct cores
// first, loops of a cache group next to each other. It returns when every loop has nothing
// left (no runnable thread, timer, fd wait, thread detached to a pool, or queued work) at
// the same time; a runtime may run again afterwards.
//
// Stealing: a loop with nothing to run asks the other loops, nearest first, for a color;
// a busy loop answers between two rounds, or between two threads of a color's turn, by
// handing over a whole color with its runnable threads: of the colors that have enough
// runnable threads to be worth the move (the thresholds of runtime_options), are not pinned,
// and have run on the loop since their last move, the one with the fewest (a hot color stays
// where its data is warm). Sleeps
// and fd waits stay armed on the loop where they started and wake the thread in its color
// wherever the color runs by then.
//
// Inside a runtime every thread-safe operation of the library may be used across loops
// (schedule, spawn on a scheduler, condvars, color); per-loop state (timers, fd tables,
// run queues) is only touched by its own loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "cpc/color.hpp"
#include "cpc/loop.hpp"
#include "cpc/task.hpp"
#include "cpc/topology.hpp"

namespace cpc {

// How a runtime is made: cpc::runtime rt{{.threads = 4}}.
struct runtime_options {
    // Loops (kernel threads); 0: one per CPU of the process's affinity mask.
    unsigned threads = 0;
    // Pin each loop's kernel thread to its CPU.
    bool pin = true;
    // Loop 0 is default_loop(), so that cpc::spawn outside any loop feeds the runtime.
    bool adopt_default_loop = false;
    // The kernel interface of the loops the runtime creates (loop.hpp); an adopted default
    // loop keeps its own (CPC_BACKEND's, or io_uring when the kernel allows it).
    backend_kind backend = backend_kind::automatic;
    // Stealing thresholds: a color moves to a loop sharing a cache with its owner when it
    // has at least steal_min_ready runnable threads, to a farther one with at least
    // steal_far_min_ready, and only after its new owner ran it steal_hysteresis times since
    // its last move. steal = false disables stealing.
    bool steal = true;
    // Runnable threads a color needs to move to a near loop (see steal).
    unsigned steal_min_ready = 2;
    // Runnable threads a color needs to move to a far loop (see steal).
    unsigned steal_far_min_ready = 4;
    // Runs of a color on its owner between two of its moves (see steal).
    unsigned steal_hysteresis = 2;
};

// A loop per core, each on a kernel thread of its own (the guarantees are at the top of
// runtime.hpp).
class runtime {
  public:
    // Creates the loops (and their kernel interfaces); they start running in run().
    explicit runtime(runtime_options options = {});
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    // Runs every loop until none can make progress. Threads blocked forever on condvars
    // are counted (over all loops) and reported on stderr, as loop::run does. Not
    // reentrant; not from a thread of a loop.
    run_result run();

    // An uncolored thread on loop i % size(), i counting calls: threads spread round robin.
    // Thread-safe.
    void spawn(task<void> t);
    // A thread in color c. Thread-safe.
    void spawn(task<void> t, color& c);
    // An uncolored thread on loop l. Thread-safe.
    void spawn_on(loop& l, task<void> t);

    // The number of loops.
    std::size_t size() const noexcept { return loops_.size(); }
    // Loop i, 0 <= i < size().
    loop& at(std::size_t i) noexcept { return *loops_[i]; }
    // The loops, in placement order: a server may run an accept loop on each.
    const std::vector<loop*>& loops() const noexcept { return loops_; }
    // The next loop of the round robin (color placement, spawn). Thread-safe.
    loop& next_loop() noexcept;
    // The CPU (an index into topology().cpus()) loop i runs on.
    std::size_t cpu_of(std::size_t i) const noexcept;
    // The machine the loops were placed on.
    const cpc::topology& topology() const noexcept;

    // Colors moved by stealing in this runtime's runs so far, and the time the loops that
    // gave them spent handing them over (unlinking, queueing, waking the thief).
    std::size_t steals() const noexcept;
    // The time spent handing colors over, in nanoseconds (see steals).
    std::uint64_t steal_handoff_ns() const noexcept;

  private:
    std::unique_ptr<detail::runtime_state> state_;
    std::vector<std::unique_ptr<loop>> owned_;
    std::vector<loop*> loops_;
};

}  // namespace cpc
