// Metainfo: what a .torrent file says (BEP 3), with the parts of BEP 12 (announce-list),
// BEP 27 (private) and BEP 47 (pad files) a seeder needs.
//
// parse_metainfo validates everything the seeder later relies on, so the rest of hekate
// never checks again: piece length > 0, `pieces` a multiple of 20 matching the total length,
// file lengths >= 0 whose sum fits in 64 bits, path components non-empty and free of "..",
// ".", "/" and NUL. Hybrid v1+v2 torrents are read by their v1 half (the info-hash is the
// SHA-1 of the whole info dictionary); v2-only torrents are refused.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hekate {

using sha1_digest = std::array<std::uint8_t, 20>;
using info_hash = sha1_digest;

// Lower-case hex of a digest (40 characters).
std::string to_hex(const sha1_digest& d);

class metainfo_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct file_entry {
    // Relative to the directory holding the .torrent: the torrent's name, then (multi-file)
    // the components of its path in the info dictionary.
    std::filesystem::path path;
    std::uint64_t length = 0;
    std::uint64_t offset = 0;  // of its first byte in the torrent's byte stream
    bool padding = false;      // BEP 47 pad file: not on disk, reads as zeros
};

struct metainfo {
    info_hash hash{};
    std::string name;
    std::uint32_t piece_length = 0;
    std::vector<sha1_digest> pieces;
    std::uint64_t total_length = 0;
    std::vector<file_entry> files;  // in the torrent's order; a single-file torrent has one
    bool multi_file = false;
    bool is_private = false;
    // Announce URLs grouped in tiers (BEP 12); `announce` alone makes one tier. Empty for a
    // trackerless torrent.
    std::vector<std::vector<std::string>> trackers;
    std::string info_bytes;  // the bencoded info dictionary, served by ut_metadata (BEP 9)

    std::uint32_t piece_count() const noexcept { return static_cast<std::uint32_t>(pieces.size()); }
    // Length of piece `index` (the last one may be shorter).
    std::uint32_t piece_size(std::uint32_t index) const noexcept;
};

// Throws metainfo_error (or bencode::error) saying what is wrong.
metainfo parse_metainfo(std::string_view torrent_file);

}  // namespace hekate
