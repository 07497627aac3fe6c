// Growable FIFO ring for the run queues and wait lists of the hand-written schedulers (baseline
// and boost peers).  std::deque would do, but its block bookkeeping costs more per push/pop than
// the operation being measured, and its per-element memory is less predictable for idle_bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace bench {

template <class T>
class Ring {
  public:
    bool empty() const { return head_ == tail_; }
    size_t size() const { return size_t(tail_ - head_); }

    void push(T v) {
        if (size() == cap_) grow();
        buf_[tail_++ & (cap_ - 1)] = std::move(v);
    }

    T pop() { return std::move(buf_[head_++ & (cap_ - 1)]); }

  private:
    void grow() {
        size_t cap = cap_ ? cap_ * 2 : 64;
        auto buf = std::make_unique<T[]>(cap);
        size_t n = size();
        for (size_t i = 0; i < n; ++i)
            buf[i] = std::move(buf_[(head_ + i) & (cap_ - 1)]);
        buf_ = std::move(buf);
        cap_ = cap;
        head_ = 0;
        tail_ = n;
    }

    std::unique_ptr<T[]> buf_;
    size_t cap_ = 0;
    uint64_t head_ = 0;
    uint64_t tail_ = 0;
};

}  // namespace bench
