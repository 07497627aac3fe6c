// parse_metainfo: the torrents a seeder meets (single, multi-file, hybrid v1+v2 with pad
// files, private, announce-list, trackerless) and every way a .torrent is refused.
#include "metainfo.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "bencode.hpp"
#include "sha1.hpp"
#include "torrent_fixture.hpp"

namespace {

using namespace hekate;
using hekate::test::append_digest;

// Bencoded values, built with the writer; dicts from std::map come out with sorted keys.
std::string enc(std::int64_t i) {
    return bencode::writer().integer(i).take();
}
std::string enc(std::string_view s) {
    return bencode::writer().string(s).take();
}
std::string enc(const char* s) {
    return enc(std::string_view(s));
}
// enc(0) would otherwise be ambiguous (0 is also a null pointer).
std::string enc(int i) {
    return enc(std::int64_t{i});
}
std::string enc_list(const std::vector<std::string>& encoded_items) {
    bencode::writer w;
    w.begin_list();
    for (const auto& item : encoded_items)
        w.raw(item);
    return w.end().take();
}
using fields = std::map<std::string, std::string>;  // key -> encoded value
std::string enc_dict(const fields& f) {
    bencode::writer w;
    w.begin_dict();
    for (const auto& [k, v] : f)
        w.string(k).raw(v);
    return w.end().take();
}

// `count` distinct fake piece hashes.
std::string fake_pieces(std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i)
        append_digest(out, sha1_of(std::to_string(i)));
    return out;
}

std::string file_dict(std::int64_t length, const std::vector<std::string>& path,
                      const char* attr = nullptr) {
    std::vector<std::string> parts;
    for (const auto& p : path)
        parts.push_back(enc(p));
    fields f{{"length", enc(length)}, {"path", enc_list(parts)}};
    if (attr) f["attr"] = enc(attr);
    return enc_dict(f);
}

// A good single-file torrent: 40 bytes in pieces of 16 (3 pieces, the last of 8).
struct torrent_spec {
    fields info{{"name", enc("file.bin")},
                {"piece length", enc(16)},
                {"length", enc(40)},
                {"pieces", enc(fake_pieces(3))}};
    fields top{{"announce", enc("http://tracker.example/announce")}};

    std::string encode() const {
        fields t = top;
        t["info"] = enc_dict(info);
        return enc_dict(t);
    }
};

// A good multi-file torrent: a 10-byte file, an empty one, a 30-byte one: 40 bytes.
torrent_spec multi_spec() {
    torrent_spec s;
    s.info.erase("length");
    s.info["name"] = enc("folder");
    s.info["files"] = enc_list(
        {file_dict(10, {"a.txt"}), file_dict(0, {"empty"}), file_dict(30, {"sub", "b.bin"})});
    return s;
}

std::string error_of(const std::string& torrent) {
    try {
        parse_metainfo(torrent);
    } catch (const metainfo_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("wrong exception type: ") + e.what();
    }
    return "no error";
}

TEST(Metainfo, ToHex) {
    EXPECT_EQ(to_hex(sha1_of("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(to_hex(sha1_digest{}), std::string(40, '0'));
}

TEST(Metainfo, Sha1Incremental) {
    sha1 h;
    h.update("a").update("bc");
    EXPECT_EQ(h.finish(), sha1_of("abc"));
    h.update("abc");  // finish() started a new message
    EXPECT_EQ(h.finish(), sha1_of("abc"));
    sha1 moved = std::move(h);
    EXPECT_EQ(moved.update("").finish(), sha1_of(""));
}

TEST(Metainfo, SingleFile) {
    torrent_spec s;
    const std::string bytes = s.encode();
    const metainfo m = parse_metainfo(bytes);
    EXPECT_EQ(m.name, "file.bin");
    EXPECT_FALSE(m.multi_file);
    EXPECT_FALSE(m.is_private);
    EXPECT_EQ(m.piece_length, 16u);
    EXPECT_EQ(m.total_length, 40u);
    ASSERT_EQ(m.piece_count(), 3u);
    EXPECT_EQ(m.piece_size(0), 16u);
    EXPECT_EQ(m.piece_size(1), 16u);
    EXPECT_EQ(m.piece_size(2), 8u);
    EXPECT_EQ(m.piece_size(3), 0u);
    ASSERT_EQ(m.files.size(), 1u);
    EXPECT_EQ(m.files[0].path, std::filesystem::path("file.bin"));
    EXPECT_EQ(m.files[0].length, 40u);
    EXPECT_EQ(m.files[0].offset, 0u);
    EXPECT_FALSE(m.files[0].padding);
    const std::string info = enc_dict(s.info);
    EXPECT_EQ(m.info_bytes, info);
    EXPECT_EQ(m.hash, sha1_of(info));
    EXPECT_EQ(m.pieces[1], sha1_of("1"));
    EXPECT_EQ(m.trackers,
              (std::vector<std::vector<std::string>>{{"http://tracker.example/announce"}}));
}

TEST(Metainfo, PieceSizeWhenTheTotalIsAMultiple) {
    torrent_spec s;
    s.info["length"] = enc(32);
    s.info["pieces"] = enc(fake_pieces(2));
    const metainfo m = parse_metainfo(s.encode());
    EXPECT_EQ(m.piece_size(1), 16u);
}

TEST(Metainfo, MultiFileOffsetsAreCumulativeAndEmptyFilesKept) {
    const metainfo m = parse_metainfo(multi_spec().encode());
    EXPECT_TRUE(m.multi_file);
    EXPECT_EQ(m.total_length, 40u);
    ASSERT_EQ(m.files.size(), 3u);
    EXPECT_EQ(m.files[0].path, std::filesystem::path("folder/a.txt"));
    EXPECT_EQ(m.files[1].path, std::filesystem::path("folder/empty"));
    EXPECT_EQ(m.files[2].path, std::filesystem::path("folder/sub/b.bin"));
    EXPECT_EQ(m.files[0].offset, 0u);
    EXPECT_EQ(m.files[1].offset, 10u);
    EXPECT_EQ(m.files[1].length, 0u);
    EXPECT_EQ(m.files[2].offset, 10u);
    EXPECT_EQ(m.files[2].length, 30u);
}

TEST(Metainfo, HybridWithPadFilesIsReadByItsV1Half) {
    torrent_spec s = multi_spec();
    // BEP 47 pad files align b.bin on a piece; BEP 52 keys are present alongside.
    s.info["files"] = enc_list({file_dict(10, {"a.txt"}), file_dict(6, {".pad", "6"}, "p"),
                                file_dict(24, {"sub", "b.bin"}, "x")});
    s.info["meta version"] = enc(2);
    s.info["file tree"] = enc_dict(
        {{"a.txt", enc_dict({{"", enc_dict({{"length", enc(10)},
                                            {"pieces root", enc(std::string(32, 'r'))}})}})}});
    s.top["piece layers"] = enc_dict({});
    const std::string info = enc_dict(s.info);
    const metainfo m = parse_metainfo(s.encode());
    EXPECT_EQ(m.hash, sha1_of(info));  // SHA-1 of the whole info dict, v2 keys included
    ASSERT_EQ(m.files.size(), 3u);
    EXPECT_FALSE(m.files[0].padding);
    EXPECT_TRUE(m.files[1].padding);
    EXPECT_EQ(m.files[1].offset, 10u);
    EXPECT_FALSE(m.files[2].padding);  // attr without 'p'
    EXPECT_EQ(m.files[2].offset, 16u);
}

TEST(Metainfo, Private) {
    torrent_spec s;
    s.info["private"] = enc(1);
    EXPECT_TRUE(parse_metainfo(s.encode()).is_private);
    s.info["private"] = enc(0);
    EXPECT_FALSE(parse_metainfo(s.encode()).is_private);
}

TEST(Metainfo, AnnounceListTakesPrecedenceAndIsDeduplicated) {
    torrent_spec s;
    s.top["announce"] = enc("http://a/announce");
    s.top["announce-list"] =
        enc_list({enc_list({enc("http://a/announce"), enc("udp://b:80")}),
                  enc_list({enc("udp://b:80"), enc("http://c/announce"), enc("")}), enc_list({}),
                  enc_list({enc("http://a/announce")})});
    const metainfo m = parse_metainfo(s.encode());
    EXPECT_EQ(m.trackers, (std::vector<std::vector<std::string>>{
                              {"http://a/announce", "udp://b:80"}, {"http://c/announce"}}));
}

TEST(Metainfo, EmptyAnnounceListFallsBackToAnnounce) {
    torrent_spec s;
    s.top["announce-list"] = enc_list({enc_list({})});
    EXPECT_EQ(parse_metainfo(s.encode()).trackers.size(), 1u);
}

TEST(Metainfo, Trackerless) {
    torrent_spec s;
    s.top.clear();
    s.top["nodes"] = enc_list({enc_list({enc("127.0.0.1"), enc(6881)})});
    EXPECT_TRUE(parse_metainfo(s.encode()).trackers.empty());
}

constexpr std::int64_t kMaxInt = std::numeric_limits<std::int64_t>::max();

struct bad_case {
    const char* name;
    std::function<void(torrent_spec&)> change;
    const char* message;  // a part of the error's text
};

TEST(Metainfo, BadTorrentsAreRefusedWithAMessage) {
    const std::vector<bad_case> cases = {
        {"info missing", [](torrent_spec& s) { s.info.clear(); }, ""},
        {"name missing", [](torrent_spec& s) { s.info.erase("name"); }, "'name'"},
        {"name not a string", [](torrent_spec& s) { s.info["name"] = enc(3); }, "'name'"},
        {"name empty", [](torrent_spec& s) { s.info["name"] = enc(""); }, "empty"},
        {"name ..", [](torrent_spec& s) { s.info["name"] = enc(".."); }, "'..'"},
        {"name .", [](torrent_spec& s) { s.info["name"] = enc("."); }, "'.'"},
        {"name with /", [](torrent_spec& s) { s.info["name"] = enc("a/b"); }, "'/'"},
        {"name absolute", [](torrent_spec& s) { s.info["name"] = enc("/etc"); }, "'/'"},
        {"name with NUL",
         [](torrent_spec& s) { s.info["name"] = enc(std::string_view("a\0b", 3)); }, "NUL"},
        {"piece length missing", [](torrent_spec& s) { s.info.erase("piece length"); },
         "'piece length'"},
        {"piece length string", [](torrent_spec& s) { s.info["piece length"] = enc("16"); },
         "'piece length'"},
        {"piece length 0", [](torrent_spec& s) { s.info["piece length"] = enc(0); },
         "'piece length'"},
        {"piece length negative", [](torrent_spec& s) { s.info["piece length"] = enc(-16); },
         "'piece length'"},
        {"pieces missing", [](torrent_spec& s) { s.info.erase("pieces"); }, "'pieces'"},
        {"pieces not a string", [](torrent_spec& s) { s.info["pieces"] = enc(1); }, "'pieces'"},
        {"pieces not a multiple of 20",
         [](torrent_spec& s) { s.info["pieces"] = enc(fake_pieces(3) + "x"); }, "multiple of 20"},
        {"too few pieces", [](torrent_spec& s) { s.info["pieces"] = enc(fake_pieces(2)); },
         "need 3"},
        {"too many pieces", [](torrent_spec& s) { s.info["pieces"] = enc(fake_pieces(4)); },
         "need 3"},
        {"length negative", [](torrent_spec& s) { s.info["length"] = enc(-40); }, "negative"},
        {"length string", [](torrent_spec& s) { s.info["length"] = enc("40"); }, "'length'"},
        {"no data",
         [](torrent_spec& s) {
             s.info["length"] = enc(0);
             s.info["pieces"] = enc("");
         },
         "no data"},
        {"neither length nor files", [](torrent_spec& s) { s.info.erase("length"); }, "neither"},
        {"both length and files",
         [](torrent_spec& s) { s.info["files"] = enc_list({file_dict(40, {"a"})}); }, "both"},
        {"files not a list",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc(3);
         },
         "'files'"},
        {"files empty",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({});
         },
         "empty"},
        {"file not a dict",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({enc(40)});
         },
         "file 0"},
        {"file length negative",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({file_dict(50, {"a"}), file_dict(-10, {"b"})});
         },
         "file 1 has a negative length"},
        {"file length missing",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({enc_dict({{"path", enc_list({enc("a")})}})});
         },
         "'length'"},
        {"file lengths overflow",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({file_dict(kMaxInt, {"a"}), file_dict(kMaxInt, {"b"})});
         },
         "overflow"},
        {"path missing",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({enc_dict({{"length", enc(40)}})});
         },
         "'path'"},
        {"path empty list",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({file_dict(40, {})});
         },
         "'path' is empty"},
        {"path not strings",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] =
                 enc_list({enc_dict({{"length", enc(40)}, {"path", enc_list({enc(1)})}})});
         },
         "non-string"},
        {"path with ..",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({file_dict(40, {"..", "etc", "passwd"})});
         },
         "'..'"},
        {"path with .",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({file_dict(40, {"a", ".", "b"})});
         },
         "'.'"},
        {"path with empty component",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({file_dict(40, {"a", ""})});
         },
         "empty component"},
        {"path absolute",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({file_dict(40, {"/etc/passwd"})});
         },
         "'/'"},
        {"path with slash",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({file_dict(40, {"a/../../b"})});
         },
         "'/'"},
        {"path with NUL",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({file_dict(40, {std::string("a\0b", 3)})});
         },
         "NUL"},
        {"attr not a string",
         [](torrent_spec& s) {
             s = multi_spec();
             s.info["files"] = enc_list({enc_dict(
                 {{"attr", enc(1)}, {"length", enc(40)}, {"path", enc_list({enc("a")})}})});
         },
         "'attr'"},
        {"v2 only",
         [](torrent_spec& s) {
             s.info.erase("pieces");
             s.info.erase("length");
             s.info["meta version"] = enc(2);
             s.info["file tree"] = enc_dict({{"file.bin", enc_dict({{"", enc_dict({})}})}});
         },
         "v2-only"},
        {"unknown meta version", [](torrent_spec& s) { s.info["meta version"] = enc(3); },
         "'meta version'"},
        {"private not an int", [](torrent_spec& s) { s.info["private"] = enc("1"); }, "'private'"},
        {"announce not a string", [](torrent_spec& s) { s.top["announce"] = enc(1); },
         "'announce'"},
        {"announce-list not a list", [](torrent_spec& s) { s.top["announce-list"] = enc("x"); },
         "'announce-list'"},
        {"announce-list tier not a list",
         [](torrent_spec& s) { s.top["announce-list"] = enc_list({enc("x")}); }, "'announce-list'"},
    };
    for (const bad_case& c : cases) {
        torrent_spec s;
        c.change(s);
        const std::string message = error_of(s.encode());
        EXPECT_NE(message, "no error") << c.name;
        EXPECT_EQ(message.find("wrong exception"), std::string::npos) << c.name << ": " << message;
        EXPECT_NE(message.find(c.message), std::string::npos)
            << c.name << ": \"" << message << "\" lacks \"" << c.message << '"';
    }
}

TEST(Metainfo, MalformedFilesAreMetainfoErrors) {
    const std::string good = torrent_spec().encode();
    EXPECT_NE(error_of(good.substr(0, good.size() - 1)).find("malformed bencode"),
              std::string::npos);
    EXPECT_NE(error_of(good + "x").find("malformed bencode"), std::string::npos);
    EXPECT_NE(error_of("").find("malformed bencode"), std::string::npos);
    EXPECT_NE(error_of("i3e").find("not a bencoded dictionary"), std::string::npos);
    EXPECT_NE(error_of("d4:infoi3ee").find("'info' is not a dictionary"), std::string::npos);
    EXPECT_NE(error_of("de").find("'info'"), std::string::npos);
}

}  // namespace
