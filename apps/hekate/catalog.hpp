// The catalog: the torrents found in the directories hekate serves, and a check of their data.
//
// The data of X/foo.torrent is X/NAME, NAME being the torrent's name: the file itself
// (single-file torrent) or the folder holding its files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "metainfo.hpp"

namespace hekate {

struct torrent_entry {
    std::filesystem::path torrent_file;
    std::filesystem::path data_root;  // X: the directory holding the .torrent
    metainfo meta;
    std::filesystem::file_time_type mtime;  // of the .torrent file when it was read
};

struct scan_report {
    std::vector<torrent_entry> loaded;
    std::vector<std::string> errors;  // each starts with the path it is about
};

// Walks each path recursively (a path naming a file is read as a .torrent) and parses every
// *.torrent found, in sorted order of names so that results are reproducible. Never throws
// for a bad input: an unreadable directory, a bad .torrent, or a torrent whose info-hash was
// already loaded (the later one is skipped) becomes a line in `errors` while the rest loads.
// Symlinks are followed, each directory is entered once (no loops).
scan_report scan_directories(const std::vector<std::filesystem::path>& roots);

// Reads and parses one .torrent; throws metainfo_error, or std::system_error if unreadable.
torrent_entry load_torrent(const std::filesystem::path& torrent_file);

// nullopt when every non-pad file of the torrent is a regular file (symlinks followed) of
// exactly its length under data_root; otherwise a message naming the first file that is
// missing, not a regular file, or of the wrong size.
std::optional<std::string> check_data(const torrent_entry& entry);

}  // namespace hekate
