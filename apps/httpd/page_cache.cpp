#include "page_cache.hpp"

#include <unistd.h>

#include <cerrno>

#include "http_response.hpp"

namespace httpd {

file_identity file_identity::of(const struct stat& st) noexcept {
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
            static_cast<std::uint64_t>(st.st_size),
            static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::shared_ptr<cached_file> make_cached_file(std::string key, const struct stat& st,
                                              std::string_view mime, std::string body) {
    auto f = std::make_shared<cached_file>();
    f->key = std::move(key);
    f->id = file_identity::of(st);
    f->mtime = st.st_mtim.tv_sec;
    f->etag = make_etag(f->id.size, f->id.mtime_ns, f->id.ino);
    f->last_modified = format_http_date(f->mtime);
    f->mime = mime;
    f->body = std::move(body);
    std::string& h = f->head_200;
    append_status_line(h, 200);
    append_header(h, "Server", kServerName);
    append_header(h, "Content-Type", mime);
    append_header(h, "Content-Length", static_cast<std::uint64_t>(f->body.size()));
    append_header(h, "Last-Modified", f->last_modified);
    append_header(h, "ETag", f->etag);
    append_header(h, "Accept-Ranges", "bytes");
    h.shrink_to_fit();
    return f;
}

std::optional<std::string> read_whole_file(int fd, std::size_t size) {
    std::string out(size, '\0');
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;  // an error, or the file shrank meanwhile
        done += static_cast<std::size_t>(n);
    }
    return out;
}

std::shared_ptr<const cached_file> page_cache::fresh(std::string_view key, std::int64_t now_ns) {
    const auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    if (now_ns - it->second->checked_ns >= kRevalidateNs) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->file;
}

std::shared_ptr<const cached_file> page_cache::validate(std::string_view key,
                                                        const file_identity& id,
                                                        std::int64_t now_ns) {
    const auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    if (it->second->file->id != id) {
        erase(it);
        return nullptr;
    }
    it->second->checked_ns = now_ns;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->file;
}

void page_cache::insert(std::shared_ptr<const cached_file> f, std::int64_t now_ns) {
    if (const auto it = index_.find(f->key); it != index_.end()) erase(it);
    const std::size_t cost = f->cost();
    if (cost > capacity_) return;
    while (bytes_ + cost > capacity_ && !lru_.empty()) {
        erase(index_.find(lru_.back().file->key));
    }
    lru_.push_front(node{f, now_ns});
    index_.emplace(f->key, lru_.begin());
    bytes_ += cost;
}

void page_cache::forget(std::string_view key) {
    if (const auto it = index_.find(key); it != index_.end()) erase(it);
}

void page_cache::erase(std::map<std::string, lru_list::iterator, std::less<>>::iterator it) {
    bytes_ -= it->second->file->cost();
    lru_.erase(it->second);
    index_.erase(it);
}

}  // namespace httpd
