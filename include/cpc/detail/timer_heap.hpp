// Pending timers of one loop: a 4-ary min-heap ordered by (deadline, insertion order).
//
// Why a 4-ary heap rather than a timing wheel: deadlines stay exact (a wheel rounds to its
// tick), ties fire in insertion order (sleep(0) behaves like yield), and add/cancel are
// O(log4 n): a million pending timers is ten levels, and the four children of a node share a
// cache line or two of 24-byte entries. Each timer knows its slot, so cancelling (the common
// case for timeouts, which rarely expire) is a removal in place, not a lazy tombstone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpc/detail/check.hpp"

namespace cpc::detail {

struct timer_node {
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    std::size_t slot = npos;  // index in the heap, npos when not pending
    void (*fire)(timer_node*) noexcept = nullptr;

    bool pending() const noexcept { return slot != npos; }
};

class timer_heap {
  public:
    bool empty() const noexcept { return entries_.empty(); }
    std::size_t size() const noexcept { return entries_.size(); }
    // Precondition: !empty().
    std::int64_t next_deadline() const noexcept {
        CPC_CHECK(!empty(), "next_deadline of an empty timer heap");
        return entries_.front().deadline;
    }

    // Precondition: !t->pending(). (Preconditions are checked in debug builds.)
    void add(timer_node* t, std::int64_t deadline);
    // Precondition: t->pending(), in this heap.
    void cancel(timer_node* t) noexcept;
    // Removes and returns the earliest timer if its deadline is <= now, else nullptr.
    timer_node* pop_expired(std::int64_t now) noexcept;

  private:
    struct entry {
        std::int64_t deadline;
        std::uint64_t seq;
        timer_node* node;
        bool before(const entry& o) const noexcept {
            return deadline < o.deadline || (deadline == o.deadline && seq < o.seq);
        }
    };
    void place(std::size_t i, const entry& e) noexcept {
        entries_[i] = e;
        e.node->slot = i;
    }
    void sift_up(std::size_t i, entry e) noexcept;
    void sift_down(std::size_t i, entry e) noexcept;
    void remove_at(std::size_t i) noexcept;

    std::vector<entry> entries_;
    std::uint64_t next_seq_ = 0;
};

}  // namespace cpc::detail
