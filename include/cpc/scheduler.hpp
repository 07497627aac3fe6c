// A scheduler runs cooperative threads: an event loop (cpc::loop), a color (cpc::color, run
// by whichever loop owns it now) or a pool of kernel threads (cpc::thread_pool). A thread
// moves between them with cpc::attach.
#pragma once

#include <coroutine>

namespace cpc {

class scheduler {
  public:
    enum class kind { loop, pool, color };

    explicit scheduler(kind k) noexcept : kind_(k) {}
    virtual ~scheduler() = default;
    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;

    // Makes the suspended frame h runnable here. Thread-safe: any kernel thread may call it.
    virtual void schedule(std::coroutine_handle<> h) = 0;

    kind type() const noexcept { return kind_; }

  private:
    kind kind_;
};

}  // namespace cpc
