// cpc::task_group: threads that somebody waits for.
//
//   cpc::task_group group;
//   for (int fd : clients) group.spawn(serve(fd));
//   co_await group.join();   // every thread spawned in the group has ended
//
// Threads of a group run on the loop of the thread that spawns them, in its color if it has
// one (so that they never run at the same time as the spawner). join() waits until the
// group is empty, then rethrows the first exception any of its threads let escape (the
// others are dropped). The group must outlive its threads: join it before it is destroyed.
#pragma once

#include <cstddef>
#include <exception>

#include "cpc/condvar.hpp"
#include "cpc/spawn.hpp"
#include "cpc/task.hpp"

namespace cpc {

// Threads that somebody waits for (see the top of task_group.hpp).
class task_group {
  public:
    task_group() = default;
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;
    // Destroying a group with live threads would leave them pointing at it.
    ~task_group() {
        if (live_ != 0) std::terminate();
    }

    // Starts t as a thread of the group, on the caller's loop, in its color if it has one.
    void spawn(task<void> t) {
        ++live_;
        scheduler* here = detail::tl_scheduler;
        if (here && here->type() == scheduler::kind::color) {
            cpc::spawn(*here, run(this, std::move(t)));
        } else {
            cpc::spawn(run(this, std::move(t)));
        }
    }

    // Waits until every thread of the group has ended, then rethrows the first exception
    // one of them let escape.
    task<void> join() {
        while (live_ != 0)
            co_await ended_.wait();
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    }

    // Threads of the group that have not ended.
    std::size_t size() const noexcept { return live_; }

  private:
    static task<void> run(task_group* group, task<void> t) {
        try {
            co_await std::move(t);
        } catch (...) {
            if (!group->error_) group->error_ = std::current_exception();
        }
        if (--group->live_ == 0) group->ended_.signal_all();
    }

    condvar ended_;
    std::size_t live_ = 0;
    std::exception_ptr error_;
};

}  // namespace cpc
