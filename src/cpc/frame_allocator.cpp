#include "cpc/detail/frame_allocator.hpp"

#include <mutex>
#include <vector>

namespace cpc::detail {

constinit thread_local frame_cache tl_frame_cache{};

namespace {

constexpr std::size_t kChunkBytes = std::size_t{1} << 20;
constexpr std::uint32_t kBatch = kFrameCacheLimit / 2;

struct batch {
    free_block* head;
    std::uint32_t count;
};

// Shared by all kernel threads; touched only once per kBatch frees or per chunk.
struct depot {
    std::mutex mutex;
    std::vector<batch> batches[kFrameClasses];
    std::vector<void*> chunks;  // every chunk ever carved: keeps them reachable, never freed
};

depot& shared_depot() {
    static depot* d = new depot;  // never destroyed: frames may be freed during exit
    return *d;
}

}  // namespace

void* allocate_frame_slow(std::size_t cls) {
    frame_class_cache& c = tl_frame_cache.classes[cls];
    const std::size_t size = (cls + 1) * kFrameGranule;
    if (c.bump && c.bump + size <= c.bump_end) {
        void* p = c.bump;
        c.bump += size;
        return p;
    }
    depot& d = shared_depot();
    std::lock_guard lock(d.mutex);
    if (!d.batches[cls].empty()) {
        batch b = d.batches[cls].back();
        d.batches[cls].pop_back();
        c.head = b.head->next;
        c.count = b.count - 1;
        return b.head;
    }
    char* chunk = static_cast<char*>(::operator new(kChunkBytes));
    d.chunks.push_back(chunk);
    c.bump = chunk + size;
    c.bump_end = chunk + kChunkBytes;
    return chunk;
}

void release_frame_batch(std::size_t cls) noexcept {
    frame_class_cache& c = tl_frame_cache.classes[cls];
    // Keep the most recently freed half (warm in cache); hand the older half to the depot.
    free_block* keep_tail = c.head;
    for (std::uint32_t i = 1; i < c.count - kBatch; ++i)
        keep_tail = keep_tail->next;
    batch b{keep_tail->next, kBatch};
    keep_tail->next = nullptr;
    c.count -= kBatch;
    depot& d = shared_depot();
    std::lock_guard lock(d.mutex);
    try {
        d.batches[cls].push_back(b);
    } catch (...) {
        // Out of memory for the depot's index: the blocks stay reachable from their chunk.
    }
}

}  // namespace cpc::detail
