#include "storage.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "log.hpp"

namespace hekate {

namespace {

// What pad files read as. Larger than a block (16 KiB) so that a pad range is usually one
// segment; longer ranges repeat it.
alignas(4096) const unsigned char kZeros[64 * 1024] = {};

bool is_zeros(const iovec& v) noexcept {
    const auto* p = static_cast<const unsigned char*>(v.iov_base);
    return p >= kZeros && p < kZeros + sizeof kZeros;
}

std::uintptr_t page_size() noexcept {
    static const std::uintptr_t size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    return size;
}

// The page-aligned range covering a segment.
std::pair<void*, std::size_t> pages_of(const iovec& v) noexcept {
    const auto start = reinterpret_cast<std::uintptr_t>(v.iov_base);
    const std::uintptr_t first = start & ~(page_size() - 1);
    return {reinterpret_cast<void*>(first), start + v.iov_len - first};
}

[[noreturn]] void fail_errno(const std::string& path, const char* what, int err) {
    throw storage_error(path + ": " + what + ": " + std::strerror(err));
}

}  // namespace

// ---- file_identity ----

file_identity file_identity::of(const struct stat& st) noexcept {
    return {st.st_dev, st.st_ino, static_cast<std::uint64_t>(st.st_size), st.st_mtim, true};
}

bool file_identity::same_file(const file_identity& o) const noexcept {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
}

// ---- file_cache::pin ----

file_cache::pin::pin(pin&& other) noexcept
    : cache_(std::exchange(other.cache_, nullptr)), m_(std::exchange(other.m_, nullptr)) {}

file_cache::pin& file_cache::pin::operator=(pin&& other) noexcept {
    if (this != &other) {
        reset();
        cache_ = std::exchange(other.cache_, nullptr);
        m_ = std::exchange(other.m_, nullptr);
    }
    return *this;
}

file_cache::pin::~pin() {
    reset();
}

void file_cache::pin::reset() noexcept {
    if (m_) cache_->unpin(m_);
    m_ = nullptr;
    cache_ = nullptr;
}

const unsigned char* file_cache::pin::data() const noexcept {
    return m_ ? static_cast<const unsigned char*>(m_->addr) : nullptr;
}

std::size_t file_cache::pin::size() const noexcept {
    return m_ ? m_->size : 0;
}

// ---- file_cache ----

file_cache::~file_cache() {
    for (auto& [path, m] : by_path_)
        ::munmap(m->addr, m->size);
    for (auto& m : retired_)
        ::munmap(m->addr, m->size);
}

file_cache::pin file_cache::acquire(const std::filesystem::path& path, std::uint64_t expected_size,
                                    const file_identity& expected) {
    const std::string& key = path.native();
    if (expected_size == 0) throw storage_error(key + ": an empty file has no mapping");
    if (auto it = by_path_.find(key); it != by_path_.end()) {
        mapping* m = it->second.get();
        if (m->size != expected_size) {
            throw storage_error(key + ": mapped with " + std::to_string(m->size) +
                                " bytes, the torrent says " + std::to_string(expected_size));
        }
        const clock::time_point now = clock::now();
        if (expected.known && !m->file.same_file(expected)) {
            // A mapping of the file before it was replaced and checked again, or of one that
            // replaced the file the caller was built on.
            if (std::string why = changed_on_disk(*m); !why.empty()) {
                app_log::info("{}: {}: mapped again", key, why);
                retire(m);
            } else {
                throw file_changed(key + ": not the file its torrent was checked with");
            }
        } else if (now - m->checked >= limits_.revalidate_after) {
            if (std::string why = changed_on_disk(*m); !why.empty()) {
                stop_serving(m, why);
                throw file_changed(key + ": " + why);
            }
            m->checked = now;
            if (m->pins++ == 0) idle_.erase(m->lru);
            return pin(this, m);
        } else {
            if (m->pins++ == 0) idle_.erase(m->lru);
            return pin(this, m);
        }
    }

    const int fd = ::open(key.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) {
            throw file_changed(key + ": missing (open: " + std::strerror(err) + ")");
        }
        fail_errno(key, "open", err);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        fail_errno(key, "fstat", err);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw storage_error(key + ": not a regular file");
    }
    // Mapping a file shorter than the torrent says would turn reads past its end into SIGBUS.
    if (static_cast<std::uint64_t>(st.st_size) != expected_size) {
        ::close(fd);
        throw file_changed(key + ": " + std::to_string(st.st_size) +
                           " bytes on disk, the torrent says " + std::to_string(expected_size));
    }
    if (expected.known && !file_identity::of(st).same_file(expected)) {
        ::close(fd);
        throw file_changed(key + ": replaced or modified since its torrent was checked");
    }
    const std::size_t size = static_cast<std::size_t>(expected_size);
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping keeps the file; the descriptor is better used by a socket
    if (addr == MAP_FAILED) fail_errno(key, "mmap", err);

    auto owned = std::make_unique<mapping>();
    mapping* m = owned.get();
    m->path = key;
    m->addr = addr;
    m->size = size;
    m->pins = 1;
    m->file = file_identity::of(st);
    m->checked = clock::now();
    try {
        by_path_.emplace(key, std::move(owned));
    } catch (...) {
        ::munmap(addr, size);
        throw;
    }
    bytes_ += size;
    count_files();
    enforce_bounds();
    return pin(this, m);
}

std::string file_cache::changed_on_disk(const mapping& m) {
    struct stat st {};
    if (::stat(m.path.c_str(), &st) != 0) {
        const int err = errno;
        // Other failures (EACCES, ENOMEM...) say nothing of the file: the mapping stays.
        if (err == ENOENT || err == ENOTDIR) return "deleted while mapped";
        return {};
    }
    if (st.st_dev != m.file.dev || st.st_ino != m.file.ino) return "replaced while mapped";
    if (static_cast<std::uint64_t>(st.st_size) != m.size) {
        return "now " + std::to_string(st.st_size) + " bytes, mapped with " +
               std::to_string(m.size);
    }
    if (!file_identity::of(st).same_file(m.file)) return "modified while mapped";
    return {};
}

void file_cache::stop_serving(mapping* m, const std::string& why) {
    app_log::warn("{}: {}: not served until its torrent is checked again", m->path, why);
    retire(m);
}

void file_cache::retire(mapping* m) {
    if (m->pins == 0) {
        unmap(m);
        return;
    }
    auto it = by_path_.find(m->path);
    retired_.push_back(std::move(it->second));
    by_path_.erase(it);
    m->retired = true;
}

void file_cache::lost(const void* addr) {
    const auto* p = static_cast<const unsigned char*>(addr);
    auto holds = [p](const mapping& m) {
        const auto* base = static_cast<const unsigned char*>(m.addr);
        return p >= base && p < base + m.size;
    };
    for (auto& [path, m] : by_path_) {
        if (!holds(*m)) continue;
        const std::string what = "truncated while mapped (offset " +
                                 std::to_string(p - static_cast<const unsigned char*>(m->addr)) +
                                 " cannot be read)";
        const std::string name = m->path;
        stop_serving(m.get(), what);
        throw file_changed(name + ": " + what);
    }
    for (const auto& m : retired_) {
        if (holds(*m)) throw file_changed(m->path + ": truncated while mapped");
    }
    throw storage_error("a mapped page cannot be read, in no mapping of this loop");
}

void file_cache::count_files() noexcept {
    files_.store(by_path_.size() + retired_.size(), std::memory_order_relaxed);
}

void file_cache::unpin(mapping* m) noexcept {
    if (--m->pins != 0) return;
    if (m->retired) {
        ::munmap(m->addr, m->size);
        bytes_ -= m->size;
        std::erase_if(retired_, [m](const std::unique_ptr<mapping>& r) { return r.get() == m; });
        count_files();
        return;
    }
    m->last_used = clock::now();
    idle_.push_back(m);
    m->lru = std::prev(idle_.end());
    enforce_bounds();
}

void file_cache::enforce_bounds() noexcept {
    while ((by_path_.size() > limits_.max_files || bytes_ > limits_.max_bytes) && !idle_.empty()) {
        unmap(idle_.front());
    }
}

std::size_t file_cache::trim(clock::time_point now) {
    std::size_t released = 0;
    // idle_ is in order of release, hence of last_used.
    while (!idle_.empty() && now - idle_.front()->last_used > limits_.max_idle) {
        unmap(idle_.front());
        ++released;
    }
    return released;
}

void file_cache::unmap(mapping* m) noexcept {
    ::munmap(m->addr, m->size);
    bytes_ -= m->size;
    if (m->pins == 0) idle_.erase(m->lru);
    by_path_.erase(by_path_.find(m->path));  // destroys *m
    count_files();
}

// ---- torrent_storage ----

torrent_storage::torrent_storage(const metainfo& meta, std::filesystem::path data_root)
    : meta_(meta), root_(std::move(data_root)) {
    paths_.reserve(meta_.files.size());
    files_.reserve(meta_.files.size());
    for (const file_entry& f : meta_.files) {
        paths_.push_back(root_ / f.path);
        struct stat st {};
        // A file missing now is refused when read (open fails): nothing to note.
        files_.push_back(!f.padding && ::stat(paths_.back().c_str(), &st) == 0
                             ? file_identity::of(st)
                             : file_identity{});
    }
}

void torrent_storage::lost(file_cache& cache, const void* addr) const {
    changed_.store(true, std::memory_order_relaxed);
    cache.lost(addr);
}

block torrent_storage::read_block(file_cache& cache, std::uint32_t piece, std::uint32_t begin,
                                  std::uint32_t length) const {
    if (changed()) {
        throw file_changed(meta_.name + ": data changed on disk, not served until checked again");
    }
    const std::uint32_t piece_size = meta_.piece_size(piece);
    if (piece >= meta_.piece_count()) {
        throw storage_error("piece " + std::to_string(piece) + " out of range (" +
                            std::to_string(meta_.piece_count()) + " pieces)");
    }
    if (length == 0 || std::uint64_t{begin} + length > piece_size) {
        throw storage_error("block [" + std::to_string(begin) + ", +" + std::to_string(length) +
                            ") outside piece " + std::to_string(piece) + " of " +
                            std::to_string(piece_size) + " bytes");
    }

    block b;
    b.size_ = length;
    std::uint64_t pos = std::uint64_t{piece} * meta_.piece_length + begin;
    std::uint64_t remaining = length;
    const auto& files = meta_.files;
    // The last file starting at or before pos; zero-length files are skipped below.
    auto it = std::upper_bound(files.begin(), files.end(), pos,
                               [](std::uint64_t p, const file_entry& f) { return p < f.offset; });
    if (it != files.begin()) --it;
    for (; remaining > 0; ++it) {
        if (it == files.end()) throw storage_error("block beyond the torrent's files");
        const file_entry& f = *it;
        if (pos >= f.offset + f.length) continue;  // zero-length, or before pos
        const std::uint64_t within = pos - f.offset;
        const std::uint64_t n = std::min(remaining, f.length - within);
        if (f.padding) {
            for (std::uint64_t left = n; left > 0;) {
                const std::size_t k =
                    static_cast<std::size_t>(std::min<std::uint64_t>(left, sizeof kZeros));
                b.segments_.push_back({const_cast<unsigned char*>(kZeros), k});
                left -= k;
            }
        } else {
            file_cache::pin p;
            const auto i = static_cast<std::size_t>(it - files.begin());
            try {
                p = cache.acquire(paths_[i], f.length, files_[i]);
            } catch (const file_changed&) {
                changed_.store(true, std::memory_order_relaxed);
                throw;
            }
            b.segments_.push_back(
                {const_cast<unsigned char*>(p.data()) + within, static_cast<std::size_t>(n)});
            b.pins_.push_back(std::move(p));
        }
        pos += n;
        remaining -= n;
    }
    return b;
}

// ---- block helpers ----

namespace {

// Calls f(first, end) for the page-aligned runs under the segments' file bytes, merging a
// segment into the run before it when their pages touch: consecutive blocks of a piece make
// one run, so a batch of them costs one system call, not one per block.
template <class F>
bool for_each_page_run(std::span<const iovec> segments, F f) {
    const std::uintptr_t page = page_size();
    std::uintptr_t run_start = 0;
    std::uintptr_t run_end = 0;
    for (const iovec& v : segments) {
        if (is_zeros(v) || v.iov_len == 0) continue;
        auto [addr, len] = pages_of(v);
        const auto start = reinterpret_cast<std::uintptr_t>(addr);
        const std::uintptr_t end = (start + len + page - 1) & ~(page - 1);
        if (run_end != 0 && start >= run_start && start <= run_end) {
            run_end = std::max(run_end, end);
            continue;
        }
        if (run_end != 0 && !f(run_start, run_end)) return false;
        run_start = start;
        run_end = end;
    }
    return run_end == 0 || f(run_start, run_end);
}

}  // namespace

void prefetch(std::span<const iovec> segments) noexcept {
    for_each_page_run(segments, [](std::uintptr_t first, std::uintptr_t end) {
        // Advice only: failure changes nothing.
        ::madvise(reinterpret_cast<void*>(first), end - first, MADV_WILLNEED);
        return true;
    });
}

bool in_core(std::span<const iovec> segments) {
    // Asked before every batch sent: a stack array, a few pages at a time, no allocation.
    return for_each_page_run(segments, [](std::uintptr_t first, std::uintptr_t end) {
        unsigned char resident[64];
        const std::uintptr_t page = page_size();
        for (std::uintptr_t at = first; at < end;) {
            const std::uintptr_t chunk = std::min<std::uintptr_t>(end - at, sizeof resident * page);
            if (::mincore(reinterpret_cast<void*>(at), chunk, resident) != 0) return false;
            for (std::size_t i = 0; i < chunk / page; ++i) {
                if (!(resident[i] & 1)) return false;
            }
            at += chunk;
        }
        return true;
    });
}

namespace {

// Reads the pages of [first, end) in through the kernel: false if one cannot be read (the
// file is shorter than the mapping), where a load would raise SIGBUS.
bool populate(std::uintptr_t first, std::uintptr_t end) noexcept {
    for (;;) {
        if (::madvise(reinterpret_cast<void*>(first), end - first, MADV_POPULATE_READ) == 0) {
            return true;
        }
        if (errno == EINTR) continue;
        return errno == EINVAL;  // a kernel without it: nothing checked, nothing read
    }
}

}  // namespace

const void* fault_in(std::span<const iovec> segments) noexcept {
    const void* lost = nullptr;
    for_each_page_run(segments, [&lost](std::uintptr_t first, std::uintptr_t end) {
        if (populate(first, end)) return true;
        // Which page: a run may span two mappings whose pages touch. Rare, so page by page.
        for (std::uintptr_t at = first; at < end; at += page_size()) {
            if (!populate(at, at + page_size())) {
                lost = reinterpret_cast<const void*>(at);
                return false;
            }
        }
        return true;  // readable now after all
    });
    return lost;
}

void prefetch(const block& b) noexcept {
    prefetch(b.segments());
}

bool in_core(const block& b) {
    return in_core(b.segments());
}

std::size_t copy_to(const block& b, std::span<unsigned char> dst) {
    if (dst.size() < b.size()) throw storage_error("copy_to: destination too small");
    // One kernel copy of every segment: a page past a truncated end fails it with EFAULT.
    std::size_t at = 0;
    const auto segments = b.segments();
    for (std::size_t done = 0; done < segments.size();) {
        const std::size_t count = std::min<std::size_t>(segments.size() - done, IOV_MAX);
        std::size_t want = 0;
        for (std::size_t i = done; i < done + count; ++i)
            want += segments[i].iov_len;
        const iovec to{dst.data() + at, want};
        const ssize_t got =
            ::process_vm_readv(::getpid(), &to, 1, segments.data() + done, count, 0);
        if (got < 0 || static_cast<std::size_t>(got) != want) {
            throw storage_error(std::string("copy_to: a file of the block cannot be read: ") +
                                std::strerror(got < 0 ? errno : EFAULT));
        }
        at += want;
        done += count;
    }
    return at;
}

}  // namespace hekate
