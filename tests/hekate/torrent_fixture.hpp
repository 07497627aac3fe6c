// Helpers shared by hekate's unit tests: a temporary directory, files written to it, and
// .torrent files built with bencode::writer whose piece hashes match the bytes written.
#pragma once

#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "bencode.hpp"
#include "sha1.hpp"

namespace hekate::test {

// A fresh directory under the system's temp directory (mkdtemp: unique, private to the
// test), removed with everything in it at the end of the scope, even when a test has taken
// away the owner's permissions on a directory inside it. Symlinks are never followed.
struct temp_dir {
    std::filesystem::path path;

    explicit temp_dir(const std::string& prefix = "hekate-test") {
        std::string t = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
        path = t;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        give_back_permissions(path);
        std::filesystem::remove_all(path, ec);
    }

  private:
    // Real directories (not symlinks to them) get the owner's rwx back, so that remove_all
    // can enter them.
    static void give_back_permissions(const std::filesystem::path& dir) {
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
        for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            if (it->is_directory(ec) && !it->is_symlink(ec)) give_back_permissions(it->path());
        }
    }
};

// Writes `bytes` to p exactly (binary, truncating), creating the parent directories.
inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
}

// One file of a multi-file torrent: its path components under the torrent's folder and its
// bytes. A pad file (BEP 47, attr "p") has zeros as bytes and is never written to disk.
struct data_file {
    std::vector<std::string> path;
    std::string bytes;
    bool pad = false;
};

// Appends the 20 raw bytes of a digest, as they follow each other in an info dict's "pieces".
inline void append_digest(std::string& pieces, const sha1_digest& d) {
    pieces.append(reinterpret_cast<const char*>(d.data()), d.size());
}

// The "pieces" string of a byte stream: the SHA-1 of each piece_length slice, the last one
// shorter when the length is not a multiple.
inline std::string pieces_of(std::string_view all, std::uint32_t piece_length) {
    std::string pieces;
    for (std::size_t at = 0; at < all.size(); at += piece_length)
        append_digest(pieces, sha1_of(all.substr(at, piece_length)));
    return pieces;
}

// Writes the files of a multi-file torrent under dir/name (pad files excepted) and returns
// the bencoded .torrent: {info: {files, name, piece length, pieces}}, no announce. The
// file list keeps the given order; the pieces hash the files' bytes, pad files included.
inline std::string write_multi_file_torrent(const std::filesystem::path& dir,
                                            const std::string& name,
                                            const std::vector<data_file>& files,
                                            std::uint32_t piece_length) {
    std::string all;
    bencode::writer list;
    list.begin_list();
    for (const data_file& f : files) {
        all += f.bytes;
        std::filesystem::path p = dir / name;
        list.begin_dict();
        if (f.pad) list.string("attr").string("p");
        list.string("length").integer(static_cast<std::int64_t>(f.bytes.size()));
        list.string("path").begin_list();
        for (const auto& c : f.path) {
            list.string(c);
            p /= c;
        }
        list.end().end();
        if (!f.pad) write_file(p, f.bytes);
    }
    list.end();
    bencode::writer t;
    t.begin_dict().string("info").begin_dict().string("files").raw(list.str());
    t.string("name").string(name).string("piece length").integer(piece_length);
    t.string("pieces").string(pieces_of(all, piece_length)).end().end();
    return t.take();
}

// Writes the file dir/name and returns the bencoded single-file .torrent for it:
// {info: {length, name, piece length, pieces}}, no announce.
inline std::string write_single_file_torrent(const std::filesystem::path& dir,
                                             const std::string& name, const std::string& bytes,
                                             std::uint32_t piece_length) {
    write_file(dir / name, bytes);
    bencode::writer t;
    t.begin_dict().string("info").begin_dict().string("length").integer(
        static_cast<std::int64_t>(bytes.size()));
    t.string("name").string(name).string("piece length").integer(piece_length);
    t.string("pieces").string(pieces_of(bytes, piece_length)).end().end();
    return t.take();
}

}  // namespace hekate::test
