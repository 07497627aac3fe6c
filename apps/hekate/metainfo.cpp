#include "metainfo.hpp"

#include <limits>
#include <unordered_set>

#include "bencode.hpp"
#include "sha1.hpp"

namespace hekate {

std::string to_hex(const sha1_digest& d) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(d.size() * 2);
    for (std::uint8_t b : d) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

std::uint32_t metainfo::piece_size(std::uint32_t index) const noexcept {
    const std::uint32_t count = piece_count();
    if (index >= count) return 0;
    if (index + 1 < count) return piece_length;
    return static_cast<std::uint32_t>(total_length -
                                      static_cast<std::uint64_t>(count - 1) * piece_length);
}

namespace {

// Larger pieces than any client makes; the bound keeps a piece's buffer reasonable.
constexpr std::int64_t kMaxPieceLength = std::int64_t{1} << 30;
// Lengths are file offsets (off_t) downstream.
constexpr std::uint64_t kMaxTotalLength = static_cast<std::uint64_t>(INT64_MAX);

[[noreturn]] void fail(const std::string& what) {
    throw metainfo_error(what);
}

const bencode::value& require(const bencode::value& dict, std::string_view key,
                              std::string_view where) {
    const bencode::value* v = dict.find(key);
    if (!v) fail(std::string(where) + " has no '" + std::string(key) + "' key");
    return *v;
}

std::int64_t require_int(const bencode::value& dict, std::string_view key, std::string_view where) {
    const std::int64_t* i = require(dict, key, where).as_int();
    if (!i) fail(std::string(where) + ": '" + std::string(key) + "' is not an integer");
    return *i;
}

std::string_view require_string(const bencode::value& dict, std::string_view key,
                                std::string_view where) {
    const std::string_view* s = require(dict, key, where).as_string();
    if (!s) fail(std::string(where) + ": '" + std::string(key) + "' is not a string");
    return *s;
}

// One file or directory name: it must stay inside the data directory whatever it is joined
// to, so no separators, no "." or "..", no NUL (the C library would cut the name there).
void check_component(std::string_view c, std::string_view what) {
    if (c.empty()) fail(std::string(what) + " has an empty component");
    if (c == "." || c == "..") {
        fail(std::string(what) + " has a '" + std::string(c) + "' component");
    }
    if (c.find('/') != std::string_view::npos) {
        fail(std::string(what) + " has a component containing '/': \"" + std::string(c) + "\"");
    }
    if (c.find('\0') != std::string_view::npos) {
        fail(std::string(what) + " has a component containing a NUL byte");
    }
}

std::uint64_t add_length(std::uint64_t total, std::int64_t length, std::string_view what) {
    if (length < 0) fail(std::string(what) + " has a negative length");
    const std::uint64_t sum = total + static_cast<std::uint64_t>(length);
    if (sum < total || sum > kMaxTotalLength) fail("total length overflows 63 bits");
    return sum;
}

void read_files(const bencode::value& info, metainfo& m) {
    const bencode::list* files = require(info, "files", "info").as_list();
    if (!files) fail("info: 'files' is not a list");
    if (files->empty()) fail("info: 'files' is empty");
    m.files.reserve(files->size());
    const std::filesystem::path root(m.name);
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < files->size(); ++i) {
        const bencode::value& f = (*files)[i];
        const std::string where = "file " + std::to_string(i);
        if (!f.is_dict()) fail(where + " is not a dictionary");
        const std::int64_t length = require_int(f, "length", where);
        const bencode::list* parts = require(f, "path", where).as_list();
        if (!parts) fail(where + ": 'path' is not a list");
        if (parts->empty()) fail(where + ": 'path' is empty");
        file_entry e;
        e.path = root;
        for (const bencode::value& part : *parts) {
            const std::string_view* c = part.as_string();
            if (!c) fail(where + ": 'path' holds a non-string");
            check_component(*c, where + "'s path");
            e.path /= *c;
        }
        if (const bencode::value* attr = f.find("attr")) {
            const std::string_view* a = attr->as_string();
            if (!a) fail(where + ": 'attr' is not a string");
            e.padding = a->find('p') != std::string_view::npos;
        }
        e.offset = offset;
        offset = add_length(offset, length, where);
        e.length = static_cast<std::uint64_t>(length);
        m.files.push_back(std::move(e));
    }
    m.total_length = offset;
}

// BEP 12: tiers in order, each URL once (the first time it appears), empty tiers dropped.
// A present but empty announce-list falls back to `announce`, as libtorrent does.
void read_trackers(const bencode::value& root, metainfo& m) {
    std::unordered_set<std::string_view> seen;
    if (const bencode::value* al = root.find("announce-list")) {
        const bencode::list* tiers = al->as_list();
        if (!tiers) fail("'announce-list' is not a list");
        for (const bencode::value& tier : *tiers) {
            const bencode::list* urls = tier.as_list();
            if (!urls) fail("'announce-list' holds a tier that is not a list");
            std::vector<std::string> out;
            for (const bencode::value& url : *urls) {
                const std::string_view* u = url.as_string();
                if (!u) fail("'announce-list' holds a URL that is not a string");
                if (!u->empty() && seen.insert(*u).second) out.emplace_back(*u);
            }
            if (!out.empty()) m.trackers.push_back(std::move(out));
        }
    }
    if (!m.trackers.empty()) return;
    if (const bencode::value* a = root.find("announce")) {
        const std::string_view* u = a->as_string();
        if (!u) fail("'announce' is not a string");
        if (!u->empty()) m.trackers.push_back({std::string(*u)});
    }
}

}  // namespace

metainfo parse_metainfo(std::string_view torrent_file) {
    bencode::value root;
    try {
        root = bencode::parse(torrent_file);
    } catch (const bencode::error& e) {
        fail(std::string("malformed bencode: ") + e.what());
    }
    if (!root.is_dict()) fail("the file is not a bencoded dictionary");
    const bencode::value& info = require(root, "info", "the torrent");
    if (!info.is_dict()) fail("'info' is not a dictionary");

    const bencode::value* version = info.find("meta version");
    if (version) {
        const std::int64_t* v = version->as_int();
        if (!v) fail("info: 'meta version' is not an integer");
        if (*v != 1 && *v != 2) fail("info: unknown 'meta version' " + std::to_string(*v));
    }
    if (!info.find("pieces")) {
        if ((version && *version->as_int() == 2) || info.find("file tree")) {
            fail("v2-only torrent (BEP 52) is not supported: it has no v1 'pieces'");
        }
    }

    metainfo m;
    m.info_bytes = std::string(info.raw);
    m.hash = sha1_of(info.raw);

    const std::string_view name = require_string(info, "name", "info");
    check_component(name, "the torrent name");
    m.name = std::string(name);

    const std::int64_t piece_length = require_int(info, "piece length", "info");
    if (piece_length <= 0 || piece_length > kMaxPieceLength) {
        fail("info: 'piece length' " + std::to_string(piece_length) + " is not between 1 and 2^30");
    }
    m.piece_length = static_cast<std::uint32_t>(piece_length);

    const bool has_length = info.find("length") != nullptr;
    const bool has_files = info.find("files") != nullptr;
    if (has_length && has_files) fail("info has both 'length' and 'files'");
    if (has_length) {
        const std::int64_t length = require_int(info, "length", "info");
        file_entry e;
        e.path = std::filesystem::path(m.name);
        e.length = add_length(0, length, "the file");
        m.total_length = e.length;
        m.files.push_back(std::move(e));
    } else if (has_files) {
        m.multi_file = true;
        read_files(info, m);
    } else {
        fail("info has neither 'length' nor 'files'");
    }
    if (m.total_length == 0) fail("the torrent holds no data (total length 0)");

    const std::string_view pieces = require_string(info, "pieces", "info");
    if (pieces.size() % 20 != 0) {
        fail("info: 'pieces' is " + std::to_string(pieces.size()) + " bytes, not a multiple of 20");
    }
    const std::uint64_t expected =
        (m.total_length - 1) / static_cast<std::uint64_t>(piece_length) + 1;
    if (pieces.size() / 20 != expected) {
        fail("info: 'pieces' holds " + std::to_string(pieces.size() / 20) + " hashes but " +
             std::to_string(m.total_length) + " bytes in pieces of " +
             std::to_string(piece_length) + " need " + std::to_string(expected));
    }
    if (expected > std::numeric_limits<std::uint32_t>::max()) fail("too many pieces");
    m.pieces.resize(pieces.size() / 20);
    for (std::size_t i = 0; i < m.pieces.size(); ++i) {
        for (std::size_t j = 0; j < 20; ++j) {
            m.pieces[i][j] = static_cast<std::uint8_t>(pieces[i * 20 + j]);
        }
    }

    if (const bencode::value* p = info.find("private")) {
        const std::int64_t* v = p->as_int();
        if (!v) fail("info: 'private' is not an integer");
        m.is_private = *v == 1;
    }
    read_trackers(root, m);
    return m;
}

}  // namespace hekate
