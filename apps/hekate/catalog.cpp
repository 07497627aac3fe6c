#include "catalog.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "bencode.hpp"

namespace hekate {

namespace {

// Larger than any real .torrent (a 1 TiB torrent in 256 KiB pieces has 80 MiB of hashes is
// already absurd); protects the process from reading a huge file by mistake.
constexpr off_t kMaxTorrentFile = off_t{128} << 20;

std::string read_small_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open");
    std::string out;
    try {
        struct stat st {};
        if (::fstat(fd, &st) != 0) throw std::system_error(errno, std::generic_category(), "fstat");
        if (!S_ISREG(st.st_mode)) throw std::runtime_error("not a regular file");
        if (st.st_size > kMaxTorrentFile) throw std::runtime_error("larger than 128 MiB");
        out.resize(static_cast<std::size_t>(st.st_size));
        std::size_t done = 0;
        while (done < out.size()) {
            const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw std::system_error(errno, std::generic_category(), "read");
            if (n == 0) break;
            done += static_cast<std::size_t>(n);
        }
        out.resize(done);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
    return out;
}

bool is_torrent_name(const std::filesystem::path& p) {
    return p.extension() == ".torrent";
}

class scanner {
  public:
    scan_report run(const std::vector<std::filesystem::path>& roots) {
        for (const auto& root : roots) {
            struct stat st {};
            if (::stat(root.c_str(), &st) != 0) {
                report_.errors.push_back(root.string() + ": " + std::strerror(errno));
            } else if (S_ISDIR(st.st_mode)) {
                walk(root, st);
            } else {
                add(root);
            }
        }
        return std::move(report_);
    }

  private:
    void walk(const std::filesystem::path& dir, const struct stat& st) {
        if (!visited_.insert({st.st_dev, st.st_ino}).second) return;  // a loop or seen before
        std::error_code ec;
        std::filesystem::directory_iterator it(dir, ec);
        if (ec) {
            report_.errors.push_back(dir.string() + ": cannot read the directory (" + ec.message() +
                                     "), skipped");
            return;
        }
        std::vector<std::filesystem::path> torrents;
        std::vector<std::pair<std::filesystem::path, struct stat>> subdirs;
        for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
            const std::filesystem::path& p = it->path();
            const bool torrent = is_torrent_name(p);
            // d_type spares a stat for plain files that are not torrents, the common case
            // in a data directory with thousands of files.
            std::error_code type_ec;
            const auto type = it->symlink_status(type_ec).type();
            const bool maybe_dir = type == std::filesystem::file_type::directory ||
                                   type == std::filesystem::file_type::symlink ||
                                   type == std::filesystem::file_type::unknown ||
                                   type == std::filesystem::file_type::none;
            if (!torrent && !maybe_dir) continue;
            struct stat child {};
            if (::stat(p.c_str(), &child) != 0) {
                if (torrent) report_.errors.push_back(p.string() + ": " + std::strerror(errno));
                continue;  // a dangling symlink that is not a torrent is none of our business
            }
            if (S_ISDIR(child.st_mode)) {
                subdirs.emplace_back(p, child);
            } else if (torrent) {
                torrents.push_back(p);
            }
        }
        if (ec) {
            report_.errors.push_back(dir.string() + ": error while listing (" + ec.message() +
                                     "), some entries may be missing");
        }
        std::sort(torrents.begin(), torrents.end());
        std::sort(subdirs.begin(), subdirs.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const auto& t : torrents)
            add(t);
        for (const auto& [p, s] : subdirs)
            walk(p, s);
    }

    void add(const std::filesystem::path& file) {
        try {
            torrent_entry e = load_torrent(file);
            auto [it, fresh] = by_hash_.try_emplace(e.meta.hash, file);
            if (!fresh) {
                report_.errors.push_back(file.string() + ": same info-hash " + to_hex(e.meta.hash) +
                                         " as " + it->second.string() + ", skipped");
                return;
            }
            report_.loaded.push_back(std::move(e));
        } catch (const std::exception& ex) {
            report_.errors.push_back(file.string() + ": " + ex.what());
        }
    }

    scan_report report_;
    std::set<std::pair<dev_t, ino_t>> visited_;
    std::map<info_hash, std::filesystem::path> by_hash_;
};

}  // namespace

torrent_entry load_torrent(const std::filesystem::path& torrent_file) {
    torrent_entry e;
    const std::string bytes = read_small_file(torrent_file);
    e.meta = parse_metainfo(bytes);
    e.torrent_file = torrent_file;
    e.data_root = torrent_file.parent_path();
    if (e.data_root.empty()) e.data_root = ".";
    std::error_code ec;
    e.mtime = std::filesystem::last_write_time(torrent_file, ec);
    return e;
}

scan_report scan_directories(const std::vector<std::filesystem::path>& roots) {
    return scanner().run(roots);
}

std::optional<std::string> check_data(const torrent_entry& entry) {
    for (const file_entry& f : entry.meta.files) {
        if (f.padding) continue;
        const std::filesystem::path full = entry.data_root / f.path;
        struct stat st {};
        if (::stat(full.c_str(), &st) != 0) {
            const int err = errno;
            return full.string() + ": " +
                   (err == ENOENT ? std::string("missing") : std::strerror(err));
        }
        if (!S_ISREG(st.st_mode)) return full.string() + ": not a regular file";
        if (static_cast<std::uint64_t>(st.st_size) != f.length) {
            return full.string() + ": " + std::to_string(st.st_size) + " bytes, the torrent says " +
                   std::to_string(f.length);
        }
    }
    return std::nullopt;
}

}  // namespace hekate
