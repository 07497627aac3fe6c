// The run queue: a growable power-of-two ring of coroutine handles. FIFO, single kernel
// thread, O(1) push and pop; it never shrinks, so steady state allocates nothing.
#pragma once

#include <coroutine>
#include <cstddef>
#include <memory>

#include "cpc/detail/check.hpp"

namespace cpc::detail {

class ring_queue {
  public:
    // initial: a power of two.
    explicit ring_queue(std::size_t initial = kInitial)
        : buf_(std::make_unique<std::coroutine_handle<>[]>(initial)), mask_(initial - 1) {}

    bool empty() const noexcept { return head_ == tail_; }
    std::size_t size() const noexcept { return tail_ - head_; }

    void push_back(std::coroutine_handle<> h) {
        if (tail_ - head_ > mask_) [[unlikely]]
            grow();
        buf_[tail_++ & mask_] = h;
    }

    // Precondition: !empty().
    std::coroutine_handle<> pop_front() noexcept {
        CPC_CHECK(!empty(), "pop_front on an empty run queue");
        return buf_[head_++ & mask_];
    }

  private:
    static constexpr std::size_t kInitial = 256;

    // Out of line, so that a push inlined into a wake-up function does not make it save
    // every callee-saved register on each call.
    [[gnu::noinline]] void grow() {
        const std::size_t cap = mask_ + 1;
        auto bigger = std::make_unique<std::coroutine_handle<>[]>(cap * 2);
        for (std::size_t i = 0; i < cap; ++i)
            bigger[i] = buf_[(head_ + i) & mask_];
        buf_ = std::move(bigger);
        head_ = 0;
        tail_ = cap;
        mask_ = cap * 2 - 1;
    }

    std::unique_ptr<std::coroutine_handle<>[]> buf_;
    std::size_t mask_;
    std::size_t head_ = 0;  // both count up forever; masked on access
    std::size_t tail_ = 0;
};

}  // namespace cpc::detail
