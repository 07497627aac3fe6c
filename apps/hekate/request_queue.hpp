// request_queue: the blocks a peer asked for and has not received yet, in arrival order.
//
// Bounded (push fails when full, and the peer is then flooding: the reader closes it), with
// O(1) push and pop on a ring that grows by doubling up to the bound and is freed when the
// queue empties, so an idle peer holds no queue memory. cancel() is a scan, bounded by the
// capacity, and rare (clients cancel in endgame only). Not thread-safe: the reader and writer
// threads of one peer share it on one loop, which needs no lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "wire.hpp"

namespace hekate {

class request_queue {
  public:
    explicit request_queue(std::size_t bound) : bound_(bound) {}

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::size_t bound() const noexcept { return bound_; }

    // False when the queue already holds `bound` requests.
    bool push(const wire::block_request& r);
    // The oldest request. Precondition: !empty().
    wire::block_request pop();
    // Removes the first queued request equal to r; false if none was queued.
    bool cancel(const wire::block_request& r);
    // Empties the queue, calling f on each request in order (e.g. to reject it).
    template <class F>
    void drain(F&& f) {
        while (!empty())
            f(pop());
    }

  private:
    void grow();

    std::unique_ptr<wire::block_request[]> ring_;
    std::size_t capacity_ = 0;  // a power of two, or 0
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    std::size_t bound_;
};

}  // namespace hekate
