#include "verify.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <thread>
#include <vector>

#include "cpc/attach.hpp"
#include "cpc/task_group.hpp"
#include "cpc/thread_pool.hpp"
#include "sha1.hpp"

namespace hekate {

namespace {

// Reads the torrent's byte stream sequentially, keeping the current file open.
class stream_reader {
  public:
    explicit stream_reader(const torrent_entry& e) : e_(e) {}
    ~stream_reader() { close_current(); }
    stream_reader(const stream_reader&) = delete;
    stream_reader& operator=(const stream_reader&) = delete;

    // Fills out with the bytes at pos; returns an error message or an empty string.
    std::string read(std::uint64_t pos, std::span<unsigned char> out) {
        const auto& files = e_.meta.files;
        auto it =
            std::upper_bound(files.begin(), files.end(), pos,
                             [](std::uint64_t p, const file_entry& f) { return p < f.offset; });
        if (it != files.begin()) --it;
        std::size_t done = 0;
        for (; done < out.size(); ++it) {
            if (it == files.end()) return "read beyond the torrent's files";
            const file_entry& f = *it;
            if (pos >= f.offset + f.length) continue;
            const std::uint64_t within = pos - f.offset;
            const std::size_t n = static_cast<std::size_t>(
                std::min<std::uint64_t>(out.size() - done, f.length - within));
            if (f.padding) {
                std::memset(out.data() + done, 0, n);
            } else {
                std::string err = read_file(static_cast<std::size_t>(it - files.begin()), within,
                                            out.data() + done, n);
                if (!err.empty()) return err;
            }
            done += n;
            pos += n;
        }
        return {};
    }

  private:
    std::string read_file(std::size_t index, std::uint64_t at, unsigned char* dst, std::size_t n) {
        const std::filesystem::path path = e_.data_root / e_.meta.files[index].path;
        if (index != open_index_) {
            close_current();
            fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd_ < 0) return path.string() + ": open: " + std::strerror(errno);
            open_index_ = index;
        }
        while (n > 0) {
            const ssize_t got = ::pread(fd_, dst, n, static_cast<off_t>(at));
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return path.string() + ": read: " + std::strerror(errno);
            if (got == 0) return path.string() + ": shorter than the torrent says";
            dst += got;
            at += static_cast<std::uint64_t>(got);
            n -= static_cast<std::size_t>(got);
        }
        return {};
    }

    void close_current() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        open_index_ = static_cast<std::size_t>(-1);
    }

    const torrent_entry& e_;
    int fd_ = -1;
    std::size_t open_index_ = static_cast<std::size_t>(-1);
};

// Shared by the workers of one verify_torrent; only touched on the loop thread.
struct verify_state {
    const torrent_entry* entry;
    std::uint32_t batch_pieces;
    std::uint32_t next = 0;  // first piece not handed out yet
    bool failed = false;
    verify_result first_failure;
};

cpc::task<void> worker(verify_state* s) {
    const std::uint32_t count = s->entry->meta.piece_count();
    while (!s->failed && s->next < count) {
        const std::uint32_t first = s->next;
        const std::uint32_t end = first + std::min(s->batch_pieces, count - first);
        s->next = end;
        const torrent_entry* entry = s->entry;
        verify_result r = co_await cpc::detached(
            [entry, first, end] { return verify_pieces(*entry, first, end); });
        if (!r.ok() && (!s->failed || r.piece < s->first_failure.piece)) {
            s->failed = true;
            s->first_failure = std::move(r);
        }
    }
}

}  // namespace

verify_result verify_pieces(const torrent_entry& entry, std::uint32_t first, std::uint32_t end) {
    const metainfo& m = entry.meta;
    stream_reader reader(entry);
    std::vector<unsigned char> buf(m.piece_length);
    for (std::uint32_t p = first; p < end && p < m.piece_count(); ++p) {
        const std::span<unsigned char> piece(buf.data(), m.piece_size(p));
        std::string err = reader.read(std::uint64_t{p} * m.piece_length, piece);
        if (!err.empty()) {
            return {verify_result::status::io_error, p,
                    "piece " + std::to_string(p) + ": " + std::move(err)};
        }
        if (sha1_of(piece.data(), piece.size()) != m.pieces[p]) {
            return {verify_result::status::bad_piece, p,
                    "piece " + std::to_string(p) + " does not match its SHA-1"};
        }
    }
    return {};
}

cpc::task<verify_result> verify_torrent(const torrent_entry& entry, verify_options options) {
    unsigned parallelism = options.parallelism;
    if (parallelism == 0) {
        parallelism =
            std::clamp(std::thread::hardware_concurrency(), 1u, cpc::default_pool().max_threads());
    }
    verify_state state;
    state.entry = &entry;
    const std::uint64_t per_batch =
        std::max<std::uint64_t>(1, options.batch_bytes / std::max(1u, entry.meta.piece_length));
    state.batch_pieces = static_cast<std::uint32_t>(std::min<std::uint64_t>(per_batch, UINT32_MAX));
    {
        cpc::task_group group;
        for (unsigned i = 0; i < parallelism; ++i)
            group.spawn(worker(&state));
        co_await group.join();
    }
    if (state.failed) co_return std::move(state.first_failure);
    co_return verify_result{};
}

}  // namespace hekate
