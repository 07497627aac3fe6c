// Pooled allocation of coroutine frames.
//
// Every cpc::task frame comes from here. Frames are small and short-lived (a thread that
// spawns, adds two numbers and ends is one frame), so malloc's general bookkeeping would
// dominate the cost of a thread. Frames are grouped in size classes of 16 bytes; each kernel
// thread keeps a free list per class with no lock and no atomic. A loop runs on one kernel
// thread, so this is the loop's pool. A frame freed on another kernel thread (a detached
// thread finishing on the pool) goes to that thread's lists; lists that grow past a bound
// hand batches to a shared depot, so memory moving one way between threads is reused.
//
// Blocks are carved from 1 MiB chunks that are never returned to the system: the runtime
// keeps the high-water mark of its frames, as every pool allocator does.
//
// Under AddressSanitizer frames use plain operator new, so that use-after-free of a frame is
// caught rather than hidden by the pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define CPC_PLAIN_FRAMES 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CPC_PLAIN_FRAMES 1
#endif
#endif

namespace cpc::detail {

inline constexpr std::size_t kFrameGranule = 16;
inline constexpr std::size_t kFrameClasses = 32;  // pooled frames: up to 512 bytes
inline constexpr std::size_t kMaxPooledFrame = kFrameGranule * kFrameClasses;

struct free_block {
    free_block* next;
};

struct frame_class_cache {
    free_block* head;
    std::uint32_t count;
    char* bump;  // untouched memory of the current chunk for this class
    char* bump_end;
};

struct frame_cache {
    frame_class_cache classes[kFrameClasses];
};

// constinit: zero-initialised, so access needs no guard on the hot path.
extern constinit thread_local frame_cache tl_frame_cache;

void* allocate_frame_slow(std::size_t size_class);
void release_frame_batch(std::size_t size_class) noexcept;

inline constexpr std::uint32_t kFrameCacheLimit = 1u << 16;

inline void* allocate_frame(std::size_t size) {
#ifdef CPC_PLAIN_FRAMES
    return ::operator new(size);
#else
    if (size > kMaxPooledFrame) return ::operator new(size);
    const std::size_t cls = (size - 1) / kFrameGranule;
    frame_class_cache& c = tl_frame_cache.classes[cls];
    if (free_block* b = c.head) {
        c.head = b->next;
        --c.count;
        return b;
    }
    return allocate_frame_slow(cls);
#endif
}

inline void deallocate_frame(void* p, std::size_t size) noexcept {
#ifdef CPC_PLAIN_FRAMES
    static_cast<void>(size);
    ::operator delete(p);
#else
    if (size > kMaxPooledFrame) {
        ::operator delete(p);
        return;
    }
    const std::size_t cls = (size - 1) / kFrameGranule;
    frame_class_cache& c = tl_frame_cache.classes[cls];
    auto* b = static_cast<free_block*>(p);
    b->next = c.head;
    c.head = b;
    if (++c.count > kFrameCacheLimit) release_frame_batch(cls);
#endif
}

}  // namespace cpc::detail
