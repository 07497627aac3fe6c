#include "fd_owners.hpp"

#include <atomic>
#include <bitset>
#include <memory>
#include <mutex>
#include <vector>

#include "cpc/loop.hpp"

namespace cpc::detail {

namespace {

// Masks for fds below 2^22, in lazily allocated chunks (never freed: a chunk is 32 KiB of
// masks for 4096 fds). A larger fd has no mask: closing it tells every loop.
constexpr unsigned kChunkBits = 12;
constexpr std::size_t kChunks = 1024;
struct chunk {
    std::atomic<std::uint64_t> masks[std::size_t{1} << kChunkBits];
};

struct registry {
    std::mutex mutex;
    std::vector<loop*> loops;         // live loops, with their slots
    std::bitset<kSharedFdSlot> used;  // slots 0..62 taken
    std::atomic<chunk*> chunks[kChunks] = {};
};

registry& the_registry() {
    static registry* r = new registry;  // never destroyed: loops may close fds during exit
    return *r;
}

// The mask of fd, allocated if `create`; null when fd has none.
std::atomic<std::uint64_t>* mask_of(int fd, bool create) {
    if (fd < 0) return nullptr;
    const auto i = static_cast<std::size_t>(fd) >> kChunkBits;
    if (i >= kChunks) return nullptr;
    registry& r = the_registry();
    chunk* c = r.chunks[i].load(std::memory_order_acquire);
    if (!c) {
        if (!create) return nullptr;
        std::lock_guard lock(r.mutex);
        c = r.chunks[i].load(std::memory_order_relaxed);
        if (!c) {
            c = new chunk{};
            r.chunks[i].store(c, std::memory_order_release);
        }
    }
    return &c->masks[static_cast<std::size_t>(fd) & ((std::size_t{1} << kChunkBits) - 1)];
}

}  // namespace

void register_loop(loop& l) {
    registry& r = the_registry();
    std::lock_guard lock(r.mutex);
    l.fd_slot_ = kSharedFdSlot;
    for (unsigned i = 0; i < kSharedFdSlot; ++i) {
        if (!r.used[i]) {
            r.used[i] = true;
            l.fd_slot_ = i;
            break;
        }
    }
    r.loops.push_back(&l);
}

void unregister_loop(loop& l) noexcept {
    registry& r = the_registry();
    std::lock_guard lock(r.mutex);
    if (l.fd_slot_ != kSharedFdSlot) r.used[l.fd_slot_] = false;
    std::erase(r.loops, &l);
}

void note_armed(int fd, unsigned slot) noexcept {
    std::atomic<std::uint64_t>* m = mask_of(fd, true);
    const std::uint64_t bit = std::uint64_t{1} << slot;
    if (m && !(m->load(std::memory_order_relaxed) & bit))
        m->fetch_or(bit, std::memory_order_relaxed);
}

void note_disarmed(int fd, unsigned slot) noexcept {
    // The shared slot stays set: another loop of that slot may still know fd.
    if (slot == kSharedFdSlot) return;
    std::atomic<std::uint64_t>* m = mask_of(fd, false);
    const std::uint64_t bit = std::uint64_t{1} << slot;
    if (m && (m->load(std::memory_order_relaxed) & bit))
        m->fetch_and(~bit, std::memory_order_relaxed);
}

void forget_everywhere(int fd, const loop* here) noexcept {
    if (fd < 0) return;
    std::atomic<std::uint64_t>* m = mask_of(fd, false);
    std::uint64_t others = ~std::uint64_t{0};
    if (m) {
        others = m->exchange(0, std::memory_order_acq_rel);
        if (here && here->fd_slot_ != kSharedFdSlot)
            others &= ~(std::uint64_t{1} << here->fd_slot_);
    } else if (static_cast<std::size_t>(fd) >> kChunkBits < kChunks) {
        return;  // no loop ever armed an fd of this chunk
    }
    if (others == 0) return;
    registry& r = the_registry();
    std::lock_guard lock(r.mutex);
    for (loop* l : r.loops) {
        if (l != here && (others >> l->fd_slot_) & 1) l->post_forget(fd);
    }
}

}  // namespace cpc::detail
