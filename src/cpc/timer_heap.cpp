#include "cpc/detail/timer_heap.hpp"

namespace cpc::detail {

namespace {
constexpr std::size_t kArity = 4;
}

void timer_heap::add(timer_node* t, std::int64_t deadline) {
    CPC_CHECK(!t->pending(), "a timer added while it is pending");
    entries_.push_back({});
    sift_up(entries_.size() - 1, entry{deadline, next_seq_++, t});
}

void timer_heap::cancel(timer_node* t) noexcept {
    CPC_CHECK(t->pending() && t->slot < entries_.size() && entries_[t->slot].node == t,
              "a timer cancelled that is not pending in this heap");
    remove_at(t->slot);
    t->slot = timer_node::npos;
}

timer_node* timer_heap::pop_expired(std::int64_t now) noexcept {
    if (entries_.empty() || entries_.front().deadline > now) return nullptr;
    timer_node* t = entries_.front().node;
    remove_at(0);
    t->slot = timer_node::npos;
    return t;
}

void timer_heap::remove_at(std::size_t i) noexcept {
    const entry last = entries_.back();
    entries_.pop_back();
    if (i == entries_.size()) return;
    // The moved entry may belong above or below slot i.
    if (i > 0 && last.before(entries_[(i - 1) / kArity])) {
        sift_up(i, last);
    } else {
        sift_down(i, last);
    }
}

void timer_heap::sift_up(std::size_t i, entry e) noexcept {
    while (i > 0) {
        const std::size_t parent = (i - 1) / kArity;
        if (!e.before(entries_[parent])) break;
        place(i, entries_[parent]);
        i = parent;
    }
    place(i, e);
}

void timer_heap::sift_down(std::size_t i, entry e) noexcept {
    const std::size_t n = entries_.size();
    for (;;) {
        const std::size_t first = i * kArity + 1;
        if (first >= n) break;
        std::size_t best = first;
        const std::size_t end = first + kArity < n ? first + kArity : n;
        for (std::size_t c = first + 1; c < end; ++c) {
            if (entries_[c].before(entries_[best])) best = c;
        }
        if (!entries_[best].before(e)) break;
        place(i, entries_[best]);
        i = best;
    }
    place(i, e);
}

}  // namespace cpc::detail
