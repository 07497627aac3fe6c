// cpc::color: libasync-mp's colors for cooperative threads.
//
// A thread runs either uncolored, on the loop where it was spawned (or attached), or in a
// color. Two threads of one color never run at the same time, whichever loops they are on:
// all the runnable threads of a color are run by the one loop that owns the color now, so
// state that only threads of one color touch needs no lock. Threads of different colors (and
// uncolored threads of different loops) do run in parallel in a cpc::runtime.
//
//   cpc::color client(rt);                      // placed on one of the runtime's loops
//   rt.spawn(serve(fd), client);                // or cpc::spawn(client, task) from anywhere
//   co_await cpc::recolor(client);              // the rest of this thread runs in `client`
//   co_await cpc::attach(*cpc::loop::current()); // uncolored again, on the current loop
//
// A runtime moves whole colors, with their runnable threads, from busy loops to idle ones
// (stealing, runtime.hpp); an uncolored thread never moves by itself. Within a color, threads
// run in FIFO order, like a loop's. A color must outlive every thread that runs or waits in
// it. Creating and destroying a color is not thread-safe with respect to its own threads;
// schedule (and spawn in it, recolor to it) is thread-safe.
#pragma once

#include <atomic>
#include <coroutine>

#include "cpc/attach.hpp"
#include "cpc/detail/ring_queue.hpp"
#include "cpc/loop.hpp"
#include "cpc/scheduler.hpp"

namespace cpc {

class runtime;

// A color: a scheduler whose threads never run two at a time, on whichever loops of a
// runtime they are (the guarantees are at the top of color.hpp).
class color final : public scheduler {
  public:
    // A color first owned by `home` (it may move if home runs inside a runtime).
    explicit color(loop& home);
    // A color placed by the runtime: round robin over its loops.
    explicit color(runtime& rt);
    ~color() override = default;

    // Makes h runnable in this color, on the loop that owns it. Thread-safe.
    void schedule(std::coroutine_handle<> h) override;

    // The loop that owns the color now. Exact from that loop's own kernel thread; from
    // elsewhere a hint that may already be stale.
    loop& owner() const noexcept { return *owner_.load(std::memory_order_acquire); }

    // While pinned (a count), the color is never stolen: a thread that arms something it
    // must cancel on the same loop later (with_timeout's deadline) pins its color. Only from
    // a thread running in the color.
    void pin() noexcept { ++pins_; }
    // Ends one pin(): the color may be stolen again once every pin has ended.
    void unpin() noexcept { --pins_; }

    // Times the color changed loops (stealing); for tests and statistics. Only from a
    // thread running in the color.
    unsigned moves() const noexcept { return moves_; }

  private:
    friend class loop;

    std::atomic<loop*> owner_;
    detail::ring_queue ready_{8};  // runnable threads, touched only by the owner
    color* next_ = nullptr;        // in the owner's queue of colors with runnable threads
    bool queued_ = false;
    unsigned pins_ = 0;
    unsigned runs_since_move_ = 0;  // hysteresis of stealing
    unsigned moves_ = 0;
};

// co_await cpc::recolor(c): the calling thread continues in color c (on the loop that owns
// c) and gets back the scheduler it left: its previous color, or its loop if it was
// uncolored. The same as attach(c).
inline attach_awaiter recolor(color& c) noexcept {
    return attach(c);
}

// The color of the running thread, or null (uncolored, or not in a thread of a loop).
color* current_color() noexcept;

}  // namespace cpc
