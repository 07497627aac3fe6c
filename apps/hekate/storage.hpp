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
// torrent_storage is immutable after construction (but for its changed() flag, an atomic):
// any loop reads blocks through it, with that loop's cache. Other threads (verify) read data
// with their own descriptors.
//
// The files change while they are served (issue 14): an operator truncates, replaces or
// deletes a data file. A user-space read of a mapped page past a truncated end raises
// SIGBUS, which would kill the process with every peer. The choice here: no user-space code
// reads the mapped bytes at all; the kernel does, and a kernel copy from a lost page fails
// with EFAULT instead of a signal. The socket writev of a block, fault_in
// (madvise MADV_POPULATE_READ, which returns EFAULT where a touch would fault) and copy_to
// (process_vm_readv on ourselves) all go through the kernel. Rejected: a SIGBUS handler
// mapping zero pages over the lost range (process-wide state shared with every library and
// with the sanitizers' own handlers, a registry of mappings read from a signal handler on
// any thread, and a window where zeros stand in for the file); pread instead of the mapping
// (a descriptor per mapped file, which is what the mappings exist to spare).
// A lost page is then reported to the loop, which drops the mapping (file_cache::lost) so
// that the next use maps the file again and checks its size against the torrent; and each
// mapping is checked against the path it came from (stat, at most once per
// revalidate_after) so that a truncation, a rename over the file or its deletion is seen
// before any byte of it is read: the cache drops the mapping, logs a line naming the file,
// and the read throws file_changed. The torrent_storage then refuses every block
// (changed()) until the server checks its data again and builds a new one. A torrent_storage
// also notes which file it was built on (device, inode, size, mtime: the file its torrent was
// checked with) and a mapping of another file is never used for it: a loop that had not
// mapped the file before a same-size rename over it, and so has nothing to compare, does not
// serve the new bytes; a loop's mapping of the old file is not used by the storage built
// after the re-check.
#pragma once

#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

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

// The file on disk is no longer the one the torrent describes: missing, of another size,
// replaced, modified, or truncated under its mapping. Nothing of it is served until the
// torrent's data is verified again.
class file_changed : public storage_error {
  public:
    using storage_error::storage_error;
};

// Which file a path named when it was looked at: a file replaced, or written to, differs.
struct file_identity {
    dev_t dev = 0;
    ino_t ino = 0;
    std::uint64_t size = 0;
    timespec mtime{};
    bool known = false;  // false: the file could not be looked at; any file of the right size

    static file_identity of(const struct stat& st) noexcept;
    bool same_file(const file_identity& other) const noexcept;
};

struct file_cache_limits {
    // Mapped files (pinned ones included) above which unpinned mappings are released, least
    // recently used first.
    std::size_t max_files = 256;
    // Same for the total bytes mapped (address space, not memory: pages are the kernel's).
    std::uint64_t max_bytes = std::uint64_t{64} << 30;
    // trim() releases unpinned mappings unused for longer than this.
    std::chrono::steady_clock::duration max_idle = std::chrono::seconds(60);
    // acquire() compares a mapping with the file at its path (one stat) when it was last
    // compared longer ago than this: a file changed on disk stops being served within it.
    std::chrono::steady_clock::duration revalidate_after = std::chrono::seconds(1);
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
    // storage_error (naming the file) if it cannot be opened or mapped or is not a regular
    // file; file_changed if it is missing or its size differs from expected_size (> 0: empty
    // files need no mapping), or if the file at `path` is no longer the one mapped (checked
    // every revalidate_after): that mapping is then dropped, and a warning logged.
    // With `expected` known, only a mapping of that very file is returned: a mapping of
    // another one is replaced if the file at `path` is the expected one, and file_changed is
    // thrown if it is not.
    pin acquire(const std::filesystem::path& path, std::uint64_t expected_size,
                const file_identity& expected = {});

    // For an address fault_in() could not read: drops the mapping holding it (unmapped when
    // its last pin goes; the next acquire maps the file again and checks its size), logs a
    // warning naming the file, and throws file_changed naming it (storage_error if the
    // address is in none of this cache's mappings).
    [[noreturn]] void lost(const void* addr);

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
        file_identity file;         // the file mapped, to tell it from what is at `path` later
        clock::time_point checked;  // last compared with the file at `path`
        bool retired = false;       // in retired_, not by_path_
    };

    // Why the file at m.path is no longer the one mapped; empty if it still is.
    static std::string changed_on_disk(const mapping& m);
    // Out of by_path_ (the next acquire maps the file again), unmapped once unpinned.
    void retire(mapping* m);
    // retire, with a warning naming the file and why.
    void stop_serving(mapping* m, const std::string& why);
    void unpin(mapping* m) noexcept;
    void enforce_bounds() noexcept;
    void unmap(mapping* m) noexcept;
    void count_files() noexcept;

    file_cache_limits limits_;
    std::unordered_map<std::string, std::unique_ptr<mapping>> by_path_;
    std::list<mapping*> idle_;  // unpinned, least recently used first
    // Dropped while pinned: blocks in flight still point into them.
    std::vector<std::unique_ptr<mapping>> retired_;
    std::uint64_t bytes_ = 0;
    std::atomic<std::size_t> files_{0};  // mappings held (retired_ too), for other threads
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
    // if that range is not inside the piece (or is empty), or if a file cannot be mapped;
    // file_changed if a file is not the one the torrent describes any more, and from then on
    // for every block (changed()).
    block read_block(file_cache& cache, std::uint32_t piece, std::uint32_t begin,
                     std::uint32_t length) const;

    // For an address of a block of this torrent that fault_in could not read: sets
    // changed() and calls cache.lost(addr) (which throws).
    [[noreturn]] void lost(file_cache& cache, const void* addr) const;

    // True once a read found a file changed on disk: no block is served any more; the
    // server checks the data again and serves it with a new torrent_storage. Any thread.
    bool changed() const noexcept { return changed_.load(std::memory_order_relaxed); }

    const metainfo& meta() const noexcept { return meta_; }
    const std::filesystem::path& data_root() const noexcept { return root_; }

  private:
    const metainfo& meta_;
    std::filesystem::path root_;
    // data_root / file path, joined once: read_block runs for every block sent.
    std::vector<std::filesystem::path> paths_;
    // The files as they were when this was built (after the torrent's data was checked).
    std::vector<file_identity> files_;
    mutable std::atomic<bool> changed_{false};
};

// Asks the kernel to read the block's file pages in ahead (madvise MADV_WILLNEED), so that a
// later send does not block the loop on the disk.
void prefetch(const block& b) noexcept;
// The same for the data segments of several blocks (sent in one batch): consecutive blocks
// of a piece are checked with one system call.
void prefetch(std::span<const iovec> segments) noexcept;
bool in_core(std::span<const iovec> segments);
// Brings every file page under the segments into memory (blocks on a cold disk, so it is
// called from a pool thread). Returns nullptr, or the first address that cannot be read: its
// file was truncated under the mapping; the loop then hands it to file_cache::lost. Never
// raises SIGBUS. Without MADV_POPULATE_READ (Linux < 5.14) it does nothing: the send then
// reads the pages in on the loop, where a lost page fails the write with EFAULT.
const void* fault_in(std::span<const iovec> segments) noexcept;
// True when every file page of the block is in memory (mincore): sending it will not block.
bool in_core(const block& b);
// Copies the block's bytes to dst (at least b.size() bytes long); returns b.size(). Throws
// storage_error if a file of the block was truncated under its mapping (no SIGBUS).
std::size_t copy_to(const block& b, std::span<unsigned char> dst);

}  // namespace hekate
