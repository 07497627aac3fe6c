// The catalog: torrents found in nested directories, bad and duplicate torrents reported
// by name while the others load, and the data check.
#include "catalog.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "torrent_fixture.hpp"

namespace {

using namespace hekate;
using namespace hekate::test;
namespace fs = std::filesystem;

// Writes dir/<name>.torrent for a multi-file torrent and its files under dir/name.
void add_multi(const fs::path& dir, const std::string& name, const std::vector<data_file>& files,
               const std::string& torrent_name = "") {
    write_file(dir / ((torrent_name.empty() ? name : torrent_name) + ".torrent"),
               write_multi_file_torrent(dir, name, files, 16));
}

// Writes dir/<name>.torrent for a single-file torrent and the file dir/name.
void add_single(const fs::path& dir, const std::string& name, const std::string& bytes) {
    write_file(dir / (name + ".torrent"), write_single_file_torrent(dir, name, bytes, 16));
}

bool mentions(const std::vector<std::string>& errors, const std::string& part) {
    return std::any_of(errors.begin(), errors.end(),
                       [&](const std::string& e) { return e.find(part) != std::string::npos; });
}

TEST(Catalog, FindsTorrentsInNestedDirectories) {
    temp_dir d("hekate-catalog");
    add_single(d.path / "a", "one.iso", std::string(40, 'x'));
    add_multi(d.path / "b" / "c", "two",
              {{{"x"}, "hello"}, {{"empty"}, ""}, {{"deep", "y"}, std::string(30, 'y')}});
    write_file(d.path / "b" / "notes.txt", "not a torrent");
    const scan_report r = scan_directories({d.path});
    EXPECT_TRUE(r.errors.empty()) << r.errors.front();
    ASSERT_EQ(r.loaded.size(), 2u);
    const torrent_entry& one = r.loaded[0];
    EXPECT_EQ(one.meta.name, "one.iso");
    EXPECT_EQ(one.torrent_file, d.path / "a" / "one.iso.torrent");
    EXPECT_EQ(one.data_root, d.path / "a");
    const torrent_entry& two = r.loaded[1];
    EXPECT_EQ(two.meta.name, "two");
    EXPECT_EQ(two.data_root, d.path / "b" / "c");
    EXPECT_EQ(two.meta.files.size(), 3u);
    EXPECT_EQ(check_data(one), std::nullopt);
    EXPECT_EQ(check_data(two), std::nullopt);
}

TEST(Catalog, BadTorrentIsReportedByNameWhileOthersLoad) {
    temp_dir d("hekate-catalog");
    add_single(d.path, "good1", "0123456789");
    write_file(d.path / "broken.torrent", "d4:infod4:name");
    write_file(d.path / "sub" / "evil.torrent",
               "d4:infod5:filesld6:lengthi1e4:pathl2:..6:passwdeee4:name1:x12:piece "
               "lengthi16e6:pieces20:aaaaaaaaaaaaaaaaaaaaee");
    add_single(d.path / "sub", "good2", "abcdef");
    const scan_report r = scan_directories({d.path});
    EXPECT_EQ(r.loaded.size(), 2u);
    ASSERT_EQ(r.errors.size(), 2u);
    EXPECT_TRUE(mentions(r.errors, (d.path / "broken.torrent").string() + ": malformed bencode"))
        << r.errors[0];
    EXPECT_TRUE(mentions(r.errors, (d.path / "sub" / "evil.torrent").string() + ": "));
    EXPECT_TRUE(mentions(r.errors, "'..'"));
}

TEST(Catalog, DuplicateInfoHashIsSkipped) {
    temp_dir d("hekate-catalog");
    add_single(d.path, "same", "0123456789");
    fs::create_directories(d.path / "z");
    fs::copy_file(d.path / "same.torrent", d.path / "z" / "again.torrent");
    const scan_report r = scan_directories({d.path});
    ASSERT_EQ(r.loaded.size(), 1u);
    EXPECT_EQ(r.loaded[0].torrent_file, d.path / "same.torrent");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_NE(r.errors[0].find("again.torrent"), std::string::npos) << r.errors[0];
    EXPECT_NE(r.errors[0].find("same info-hash"), std::string::npos) << r.errors[0];
    EXPECT_NE(r.errors[0].find(to_hex(r.loaded[0].meta.hash)), std::string::npos);
}

TEST(Catalog, SymlinkLoopsAreWalkedOnce) {
    temp_dir d("hekate-catalog");
    add_single(d.path / "a", "f", "0123");
    fs::create_directory_symlink(d.path, d.path / "a" / "loop");
    fs::create_directory_symlink(d.path / "a", d.path / "alias");
    const scan_report r = scan_directories({d.path});
    EXPECT_EQ(r.loaded.size(), 1u);
    EXPECT_TRUE(r.errors.empty());
}

TEST(Catalog, MissingRootIsReported) {
    temp_dir d("hekate-catalog");
    add_single(d.path, "f", "0123");
    const scan_report r = scan_directories({d.path / "nowhere", d.path});
    EXPECT_EQ(r.loaded.size(), 1u);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_NE(r.errors[0].find("nowhere"), std::string::npos);
}

TEST(Catalog, UnreadableDirectoryIsSkippedWithAMessage) {
    if (::geteuid() == 0) GTEST_SKIP() << "root reads any directory";
    temp_dir d("hekate-catalog");
    add_single(d.path, "f", "0123");
    add_single(d.path / "locked", "g", "4567");
    fs::permissions(d.path / "locked", fs::perms::none);
    const scan_report locked = scan_directories({d.path});
    EXPECT_EQ(locked.loaded.size(), 1u);
    EXPECT_TRUE(mentions(locked.errors, (d.path / "locked").string()));
}

TEST(Catalog, ATorrentFileCanBeGivenDirectly) {
    temp_dir d("hekate-catalog");
    add_single(d.path, "f", "0123");
    const scan_report r = scan_directories({d.path / "f.torrent"});
    ASSERT_EQ(r.loaded.size(), 1u);
    EXPECT_EQ(r.loaded[0].data_root, d.path);
}

TEST(CheckData, ReportsMissingWrongSizeAndNotAFile) {
    temp_dir d("hekate-catalog");
    add_multi(d.path, "m",
              {{{"a"}, "aaaa"},
               {{".pad", "12"}, std::string(12, '\0'), true},
               {{"b"}, "bbbbbbbb"},
               {{"c"}, ""}});
    scan_report r = scan_directories({d.path});
    ASSERT_EQ(r.loaded.size(), 1u);
    const torrent_entry& e = r.loaded[0];
    EXPECT_EQ(check_data(e), std::nullopt);  // the pad file is not on disk, and need not be

    fs::resize_file(d.path / "m" / "b", 7);
    auto msg = check_data(e);
    ASSERT_TRUE(msg);
    EXPECT_NE(msg->find((d.path / "m" / "b").string()), std::string::npos) << *msg;
    EXPECT_NE(msg->find("7 bytes"), std::string::npos) << *msg;
    EXPECT_NE(msg->find("8"), std::string::npos) << *msg;
    fs::resize_file(d.path / "m" / "b", 8);

    fs::remove(d.path / "m" / "c");
    msg = check_data(e);
    ASSERT_TRUE(msg);
    EXPECT_NE(msg->find((d.path / "m" / "c").string() + ": missing"), std::string::npos) << *msg;

    fs::create_directory(d.path / "m" / "c");
    msg = check_data(e);
    ASSERT_TRUE(msg);
    EXPECT_NE(msg->find("not a regular file"), std::string::npos) << *msg;
}

TEST(CheckData, FollowsSymlinks) {
    temp_dir d("hekate-catalog");
    add_single(d.path, "f", "0123");
    write_file(d.path / "elsewhere" / "real", "0123");
    fs::remove(d.path / "f");
    fs::create_symlink(d.path / "elsewhere" / "real", d.path / "f");
    const scan_report r = scan_directories({d.path});
    ASSERT_EQ(r.loaded.size(), 1u);
    EXPECT_EQ(check_data(r.loaded[0]), std::nullopt);
}

}  // namespace
