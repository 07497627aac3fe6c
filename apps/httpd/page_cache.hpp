// The page cache of the Knot server: small files kept in memory with their response.
//
// A file up to max_file_size bytes is read once and kept with the head of its 200 response
// already built (status line, Server, Content-Type, Content-Length, Last-Modified, ETag,
// Accept-Ranges; only Date and Connection are added per response), so a hit is one
// writev of three pieces and no system call on the file.
//
// Freshness: an entry is revalidated at most once a second. Within a second of its last
// check it is served as is; after that the server opens the file again (beneath the root,
// so that a symlink swapped since is judged again) and compares its identity (device,
// inode, size, mtime to the nanosecond) with the entry's: the same file is marked checked,
// a changed one is read again. A file rewritten is therefore served new at most a second
// later, at the cost of one open+fstat per file per second instead of one per request.
//
// Bounded: the bodies and heads of all entries stay under `capacity` bytes; the least
// recently used entries are evicted first. Entries are shared pointers, so a response
// still being sent from an entry keeps it alive after eviction or replacement.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace httpd {

struct file_identity {
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const file_identity&) const = default;

    static file_identity of(const struct stat& st) noexcept;
};

struct cached_file {
    std::string key;
    file_identity id;
    std::time_t mtime = 0;      // seconds, as Last-Modified says
    std::string etag;           // with its quotes
    std::string last_modified;  // IMF-fixdate
    std::string_view mime;      // static storage (mime_types)
    std::string head_200;       // the 200 head without Date, Connection and the blank line
    std::string body;

    std::size_t cost() const noexcept { return key.size() + head_200.size() + body.size(); }
};

// Builds an entry for the file whose stat is st and whose bytes are body.
std::shared_ptr<cached_file> make_cached_file(std::string key, const struct stat& st,
                                              std::string_view mime, std::string body);

// Reads exactly size bytes of fd from offset 0; nullopt on error or if the file changed size.
std::optional<std::string> read_whole_file(int fd, std::size_t size);

class page_cache {
  public:
    static constexpr std::int64_t kRevalidateNs = 1'000'000'000;

    page_cache(std::size_t capacity, std::size_t max_file_size) noexcept
        : capacity_(capacity), max_file_(max_file_size) {}

    // The entry for key if it was checked less than a second before now_ns (it becomes the
    // most recently used); null if absent or due for a check.
    std::shared_ptr<const cached_file> fresh(std::string_view key, std::int64_t now_ns);
    // The entry for key if it is still the file identified by id (it is marked checked at
    // now_ns); a stale entry is dropped and null returned.
    std::shared_ptr<const cached_file> validate(std::string_view key, const file_identity& id,
                                                std::int64_t now_ns);
    // Adds (or replaces) an entry, evicting the least recently used ones to stay within the
    // capacity. An entry larger than the capacity is not kept.
    void insert(std::shared_ptr<const cached_file> f, std::int64_t now_ns);
    // Drops the entry for key, if any (its file is gone, or no longer small enough).
    void forget(std::string_view key);

    // Small enough to be kept: otherwise the file goes out with sendfile (never read whole
    // into memory for nothing when the limit is set above the capacity).
    bool cacheable(std::uint64_t size) const noexcept {
        return size <= max_file_ && size < capacity_;
    }
    std::size_t max_file_size() const noexcept { return max_file_; }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t bytes() const noexcept { return bytes_; }
    std::size_t entries() const noexcept { return index_.size(); }
    bool contains(std::string_view key) const { return index_.find(key) != index_.end(); }

  private:
    struct node {
        std::shared_ptr<const cached_file> file;
        std::int64_t checked_ns;
    };
    using lru_list = std::list<node>;  // front: most recently used

    void erase(std::map<std::string, lru_list::iterator, std::less<>>::iterator it);

    std::size_t capacity_;
    std::size_t max_file_;
    std::size_t bytes_ = 0;
    lru_list lru_;
    std::map<std::string, lru_list::iterator, std::less<>> index_;
};

}  // namespace httpd
