// What is running on this kernel thread. Set by loop::run() and by pool workers.
#pragma once

namespace cpc {
class loop;
class scheduler;
}  // namespace cpc

namespace cpc::detail {

// The loop this kernel thread is running, or null (a pool worker, or outside any loop).
extern constinit thread_local loop* tl_loop;
// The scheduler whose thread is running now: tl_loop, a pool, or null outside both.
extern constinit thread_local scheduler* tl_scheduler;

// A thread's root frame ended away from any loop (on a pool): keeps the count of detached
// threads that loops wait for.
void thread_ended_off_loop() noexcept;

}  // namespace cpc::detail
