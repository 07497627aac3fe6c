#include "cpc/thread_pool.hpp"

#include <algorithm>

#include "cpc/detail/check.hpp"
#include "cpc/detail/current.hpp"
#include "sigpipe.hpp"

namespace cpc {

thread_pool::thread_pool(unsigned max_threads)
    : scheduler(kind::pool), max_threads_(std::max(max_threads, 1u)) {
    detail::ignore_sigpipe_by_default();
}

thread_pool::~thread_pool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    work_ready_.notify_all();
    for (std::thread& t : workers_)
        t.join();
}

void thread_pool::schedule(std::coroutine_handle<> h) {
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(h);
        // A new kernel thread only when the idle ones cannot take all the queued work (an idle
        // thread already notified still counts in idle_ until it wakes, and the work it will
        // take is still queued): blocked calls must not hold up others.
        if (queue_.size() > idle_ && workers_.size() < max_threads_) {
            workers_.emplace_back([this] { work(); });
            return;
        }
    }
    work_ready_.notify_one();
}

void thread_pool::work() {
    detail::tl_loop = nullptr;
    detail::tl_scheduler = this;
    std::unique_lock lock(mutex_);
    for (;;) {
        while (queue_.empty()) {
            if (stopping_) return;
            ++idle_;
            work_ready_.wait(lock);
            --idle_;
        }
        std::coroutine_handle<> h = queue_.front();
        queue_.pop_front();
        lock.unlock();
        detail::note_thread_resumed();
        h.resume();
        lock.lock();
    }
}

thread_pool& default_pool() {
    // Never destroyed: joining at exit would hang on a detached thread blocked in a call.
    static thread_pool* pool = new thread_pool(32);
    return *pool;
}

}  // namespace cpc
