// Storage: the bytes of the torrents, read from memory-mapped data files.
//
// file_cache maps whole data files read-only and shares a mapping between all the blocks
// that use it. The descriptor is closed right after mmap (the mapping keeps the file), so
// mapped files cost no descriptor: descriptors stay free for sockets. Unpinned mappings are
// kept in an LRU and unmapped beyond the cache's bounds or when idle for too long, so the
// address space and page tables held stay bounded.
//
// file_cache is not thread-safe (but mapped_files()): with --threads N each loop has its own,
// so that a block costs no lock and no cache line shared between cores; a file served by
// several loops is mapped once by each (address space, not memory: the pages are shared).
// torrent_storage is immutable after construction: any loop reads blocks through it, with
// that loop's cache. Other threads (verify) read data with their own descriptors.
//
// A data file truncated behind our back after it was mapped would make a read of the lost
// pages raise SIGBUS; the size is checked against the torrent at mapping time, and idle
// mappings are dropped, which keeps that window short in normal use.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "metainfo.hpp"

namespace hekate {

class storage_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct file_cache_limits {
    // Mapped files (pinned ones included) above which unpinned mappings are released, least
    // recently used first.
    std::size_t max_files = 256;
    // Same for the total bytes mapped (address space, not memory: pages are the kernel's).
    std::uint64_t max_bytes = std::uint64_t{64} << 30;
    // trim() releases unpinned mappings unused for longer than this.
    std::chrono::steady_clock::duration max_idle = std::chrono::seconds(60);
};

class file_cache {
    struct mapping;

  public:
    using clock = std::chrono::steady_clock;

    // A pin on one mapping: the bytes stay mapped while it lives. Move-only.
    class pin {
      public:
        pin() noexcept = default;
        pin(pin&& other) noexcept;
        pin& operator=(pin&& other) noexcept;
        pin(const pin&) = delete;
        pin& operator=(const pin&) = delete;
        ~pin();

        const unsigned char* data() const noexcept;
        std::size_t size() const noexcept;
        explicit operator bool() const noexcept { return m_ != nullptr; }

      private:
        friend class file_cache;
        pin(file_cache* cache, mapping* m) noexcept : cache_(cache), m_(m) {}
        void reset() noexcept;

        file_cache* cache_ = nullptr;
        mapping* m_ = nullptr;
    };

    explicit file_cache(file_cache_limits limits = {}) : limits_(limits) {}
    // Unmaps everything. Every pin must be gone by then.
    ~file_cache();
    file_cache(const file_cache&) = delete;
    file_cache& operator=(const file_cache&) = delete;

    // Pins the mapping of the regular file at `path`, mapping it if needed. Throws
    // storage_error (naming the file) if it cannot be opened or mapped, is not a regular file,
    // or its size differs from expected_size (> 0: empty files need no mapping).
    pin acquire(const std::filesystem::path& path, std::uint64_t expected_size);

    // Releases unpinned mappings unused since before now - max_idle; returns how many.
    std::size_t trim(clock::time_point now);

    // From any thread (the status page sums the loops' caches).
    std::size_t mapped_files() const noexcept { return files_.load(std::memory_order_relaxed); }
    std::uint64_t mapped_bytes() const noexcept { return bytes_; }
    std::size_t unpinned_files() const noexcept { return idle_.size(); }

  private:
    struct mapping {
        std::string path;
        void* addr = nullptr;
        std::size_t size = 0;
        std::size_t pins = 0;
        clock::time_point last_used;
        std::list<mapping*>::iterator lru;  // in idle_ when pins == 0
    };

    void unpin(mapping* m) noexcept;
    void enforce_bounds() noexcept;
    void unmap(mapping* m) noexcept;

    file_cache_limits limits_;
    std::unordered_map<std::string, std::unique_ptr<mapping>> by_path_;
    std::list<mapping*> idle_;  // unpinned, least recently used first
    std::uint64_t bytes_ = 0;
    std::atomic<std::size_t> files_{0};  // by_path_.size(), for other threads
};

// A block of a torrent's data: the iovec segments covering its bytes in order, valid while
// the block lives (it pins the mappings it points into). Pad files read as zeros from a
// static zero buffer. A block spanning many small files may have more segments than
// IOV_MAX: writers send them in chunks.
class block {
  public:
    std::span<const iovec> segments() const noexcept { return segments_; }
    std::uint32_t size() const noexcept { return size_; }

  private:
    friend class torrent_storage;
    std::vector<iovec> segments_;
    std::vector<file_cache::pin> pins_;
    std::uint32_t size_ = 0;
};

// The data of one torrent: its files under data_root (the directory holding the .torrent),
// read through the caller's file_cache. meta must outlive it; a cache must outlive the blocks
// read through it.
class torrent_storage {
  public:
    torrent_storage(const metainfo& meta, std::filesystem::path data_root);

    // Bytes [begin, begin + length) of piece `piece`, mapped by `cache`. Throws storage_error
    // if that range is not inside the piece (or is empty), or if a file cannot be mapped.
    block read_block(file_cache& cache, std::uint32_t piece, std::uint32_t begin,
                     std::uint32_t length) const;

    const metainfo& meta() const noexcept { return meta_; }
    const std::filesystem::path& data_root() const noexcept { return root_; }

  private:
    const metainfo& meta_;
    std::filesystem::path root_;
    // data_root / file path, joined once: read_block runs for every block sent.
    std::vector<std::filesystem::path> paths_;
};

// Asks the kernel to read the block's file pages in ahead (madvise MADV_WILLNEED), so that a
// later send does not block the loop on the disk.
void prefetch(const block& b) noexcept;
// The same for the data segments of several blocks (sent in one batch): consecutive blocks
// of a piece are checked with one system call.
void prefetch(std::span<const iovec> segments) noexcept;
bool in_core(std::span<const iovec> segments);
// Reads one byte of every file page under the segments, so that they are in memory when
// this returns: blocks on a cold disk, so it is called from a pool thread.
void fault_in(std::span<const iovec> segments) noexcept;
// True when every file page of the block is in memory (mincore): sending it will not block.
bool in_core(const block& b);
// Copies the block's bytes to dst (at least b.size() bytes long); returns b.size().
std::size_t copy_to(const block& b, std::span<unsigned char> dst);

}  // namespace hekate
