#include "request_queue.hpp"

namespace hekate {

std::size_t request_queue::hash(const wire::block_request& r) noexcept {
    // Blocks of a piece differ in begin (multiples of 16 KiB); pieces in piece. A
    // multiplicative mix spreads both over the table's low bits.
    std::uint64_t h = (std::uint64_t{r.piece} << 32 | r.begin) * 0x9E3779B97F4A7C15ull;
    h ^= (h >> 29) ^ (std::uint64_t{r.length} * 0xBF58476D1CE4E5B9ull);
    return static_cast<std::size_t>(h ^ (h >> 32));
}

std::size_t request_queue::find(const wire::block_request& r) const noexcept {
    std::size_t b = home(r);
    while (buckets_[b].oldest != none && slots_[buckets_[b].oldest].request != r)
        b = (b + 1) & (buckets_size_ - 1);
    return b;
}

void request_queue::grow() {
    const std::size_t capacity = capacity_ == 0 ? 8 : capacity_ * 2;
    auto slots = std::make_unique<slot[]>(capacity);
    for (std::size_t i = 0; i < capacity_; ++i)
        slots[i] = slots_[i];  // indices stay valid: the order links carry over
    for (std::size_t i = capacity_; i < capacity; ++i)
        slots[i].next = i + 1 < capacity ? static_cast<index>(i + 1) : free_;
    free_ = static_cast<index>(capacity_);
    slots_ = std::move(slots);
    capacity_ = capacity;
    // The index again, oldest first, so that equal requests are chained in arrival order.
    buckets_size_ = capacity * 2;
    buckets_ = std::make_unique<bucket[]>(buckets_size_);
    for (index s = head_; s != none; s = slots_[s].next) {
        bucket& b = buckets_[find(slots_[s].request)];
        slots_[s].younger_equal = none;
        if (b.oldest == none) {
            b.oldest = s;
        } else {
            slots_[b.youngest].younger_equal = s;
        }
        b.youngest = s;
    }
}

bool request_queue::push(const wire::block_request& r) {
    if (size_ >= bound_) return false;
    if (free_ == none) grow();
    const index s = free_;
    free_ = slots_[s].next;
    slots_[s] = slot{r, tail_, none, none};
    if (tail_ != none) {
        slots_[tail_].next = s;
    } else {
        head_ = s;
    }
    tail_ = s;
    bucket& b = buckets_[find(r)];
    if (b.oldest == none) {
        b.oldest = s;
    } else {
        slots_[b.youngest].younger_equal = s;
    }
    b.youngest = s;
    ++size_;
    return true;
}

wire::block_request request_queue::pop() {
    const index s = head_;
    const wire::block_request r = slots_[s].request;
    // The oldest request of all is the oldest of its value: it heads its bucket.
    remove(find(r), s);
    return r;
}

bool request_queue::cancel(const wire::block_request& r) {
    if (size_ == 0) return false;
    const std::size_t b = find(r);
    if (buckets_[b].oldest == none) return false;
    remove(b, buckets_[b].oldest);
    return true;
}

void request_queue::remove(std::size_t b, index s) noexcept {
    slot& x = slots_[s];
    if (x.younger_equal != none) {
        buckets_[b].oldest = x.younger_equal;
    } else {
        erase_bucket(b);
    }
    if (x.prev != none) {
        slots_[x.prev].next = x.next;
    } else {
        head_ = x.next;
    }
    if (x.next != none) {
        slots_[x.next].prev = x.prev;
    } else {
        tail_ = x.prev;
    }
    x.next = free_;
    free_ = s;
    if (--size_ == 0) release();
}

void request_queue::erase_bucket(std::size_t b) noexcept {
    // Linear probing's deletion: move back every later entry of the run that its home allows
    // into the hole, so that lookups never stop early at it.
    const std::size_t mask = buckets_size_ - 1;
    std::size_t hole = b;
    for (std::size_t j = (b + 1) & mask; buckets_[j].oldest != none; j = (j + 1) & mask) {
        const std::size_t h = home(slots_[buckets_[j].oldest].request);
        // j's entry may fill the hole unless its home lies cyclically in (hole, j].
        const bool home_after_hole = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
        if (home_after_hole) continue;
        buckets_[hole] = buckets_[j];
        hole = j;
    }
    buckets_[hole] = bucket{};
}

void request_queue::release() noexcept {
    slots_.reset();
    buckets_.reset();
    capacity_ = 0;
    buckets_size_ = 0;
    head_ = tail_ = free_ = none;
}

}  // namespace hekate
