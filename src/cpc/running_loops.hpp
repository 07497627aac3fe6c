// Bookkeeping shared by all loops: which loops are running, and how many threads are
// detached (on a pool) and may come back to one. A loop with nothing to do keeps waiting
// while that count is not zero; the last detached thread to end or return wakes them.
#pragma once

#include <cstddef>

namespace cpc {
class loop;
}

namespace cpc::detail {

std::size_t detached_threads() noexcept;
// loop::call_soon(fn, obj) on every loop running now.
void call_on_running_loops(void (*fn)(loop&, void*) noexcept, void* obj);
void add_detached_thread() noexcept;
// Called after the thread was handed to its next scheduler (or ended), never before, so
// that a loop seeing the count reach zero also sees the thread in its queue.
void remove_detached_thread() noexcept;

class running_loop_registration {
  public:
    explicit running_loop_registration(loop& l);
    ~running_loop_registration();
    running_loop_registration(const running_loop_registration&) = delete;
    running_loop_registration& operator=(const running_loop_registration&) = delete;

  private:
    loop& loop_;
};

}  // namespace cpc::detail
