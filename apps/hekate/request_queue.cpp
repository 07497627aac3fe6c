#include "request_queue.hpp"

#include <algorithm>

namespace hekate {

void request_queue::grow() {
    std::size_t capacity = capacity_ == 0 ? 8 : capacity_ * 2;
    auto ring = std::make_unique<wire::block_request[]>(capacity);
    for (std::size_t i = 0; i < size_; ++i)
        ring[i] = ring_[(head_ + i) & (capacity_ - 1)];
    ring_ = std::move(ring);
    capacity_ = capacity;
    head_ = 0;
}

bool request_queue::push(const wire::block_request& r) {
    if (size_ >= bound_) return false;
    if (size_ == capacity_) grow();
    ring_[(head_ + size_) & (capacity_ - 1)] = r;
    ++size_;
    return true;
}

wire::block_request request_queue::pop() {
    wire::block_request r = ring_[head_];
    head_ = (head_ + 1) & (capacity_ - 1);
    if (--size_ == 0) {
        ring_.reset();
        capacity_ = 0;
        head_ = 0;
    }
    return r;
}

bool request_queue::cancel(const wire::block_request& r) {
    for (std::size_t i = 0; i < size_; ++i) {
        if (ring_[(head_ + i) & (capacity_ - 1)] != r) continue;
        // Close the gap by shifting the younger requests one place towards the head.
        for (std::size_t j = i; j + 1 < size_; ++j) {
            ring_[(head_ + j) & (capacity_ - 1)] = ring_[(head_ + j + 1) & (capacity_ - 1)];
        }
        if (--size_ == 0) {
            ring_.reset();
            capacity_ = 0;
            head_ = 0;
        }
        return true;
    }
    return false;
}

}  // namespace hekate
