// request_queue: the blocks a peer asked for and has not received yet, in arrival order.
//
// Bounded (push fails when full, and the peer is then flooding: the reader closes it).
// push, pop and cancel are O(1) (cancel: expected, through a hash index): a CANCEL costs the
// same whatever the queue holds, so a peer cannot make the loop scan its queue message after
// message. The requests live in a pool of slots linked in arrival order, indexed by a hash
// table from request to its oldest queued slot (equal requests are chained oldest first).
// Both grow by doubling up to the bound and are freed when the queue empties, so an idle peer
// holds no queue memory. Not thread-safe: the reader and writer threads of one peer share it
// on one loop, which needs no lock.
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
    // Removes the oldest queued request equal to r; false if none was queued. The others keep
    // their order.
    bool cancel(const wire::block_request& r);
    // Empties the queue, calling f on each request in order (e.g. to reject it).
    template <class F>
    void drain(F&& f) {
        while (!empty())
            f(pop());
    }

  private:
    using index = std::uint32_t;
    static constexpr index none = ~index{0};

    struct slot {
        wire::block_request request;
        index prev = none;  // arrival order (the free list uses next only)
        index next = none;
        index younger_equal = none;  // the next queued request equal to this one
    };
    // A hash bucket: the oldest and youngest queued slot of one request value.
    struct bucket {
        index oldest = none;
        index youngest = none;
    };

    static std::size_t hash(const wire::block_request& r) noexcept;
    std::size_t home(const wire::block_request& r) const noexcept {
        return hash(r) & (buckets_size_ - 1);
    }
    // The bucket of r, or of where r would go (its `oldest` then none).
    std::size_t find(const wire::block_request& r) const noexcept;
    // Removes slot s, the oldest of its bucket b, from the index, the order and the pool.
    void remove(std::size_t b, index s) noexcept;
    void erase_bucket(std::size_t b) noexcept;
    void grow();
    void release() noexcept;

    std::unique_ptr<slot[]> slots_;
    std::unique_ptr<bucket[]> buckets_;
    std::size_t capacity_ = 0;      // slots: a power of two, or 0
    std::size_t buckets_size_ = 0;  // twice capacity_: linear probing stays short
    index head_ = none;             // oldest
    index tail_ = none;             // youngest
    index free_ = none;             // unused slots, through next
    std::size_t size_ = 0;
    std::size_t bound_;
};

}  // namespace hekate
