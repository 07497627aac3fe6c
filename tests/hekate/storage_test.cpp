// Storage: blocks over memory-mapped files (spanning files, zero-length files, pad files,
// the last odd piece), the bounds of the mapping cache, and refusals instead of bad reads.
#include "storage.hpp"

#include <dirent.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage_fixture.hpp"
#include "torrent_fixture.hpp"

namespace {

using namespace hekate;
using namespace hekate::test;
namespace fs = std::filesystem;

// Writes a multi-file torrent's files under dir/name and returns its metainfo.
metainfo make_torrent(const fs::path& dir, const std::string& name,
                      const std::vector<data_file>& files, std::uint32_t piece_length) {
    return parse_metainfo(write_multi_file_torrent(dir, name, files, piece_length));
}

std::size_t open_fds() {
    std::size_t n = 0;
    for (auto it = fs::directory_iterator("/proc/self/fd"); it != fs::directory_iterator(); ++it) {
        ++n;
    }
    return n;
}

bool mapped_in_process(const fs::path& p) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        if (line.find(p.string()) != std::string::npos) return true;
    }
    return false;
}

// Zero-length files at the top, between two files and at the end, a pad file, and a last
// piece of 3 bytes: 16 + 16 + 3.
class StorageLayout : public ::testing::Test {
  protected:
    void SetUp() override {
        files_ = {{{"empty0"}, ""},
                  {{"a"}, pattern(10, 'a')},
                  {{"empty1"}, ""},
                  {{"sub", "b"}, pattern(7, 'b')},
                  {{".pad", "5"}, std::string(5, '\0'), true},
                  {{"c"}, pattern(13, 'c')},
                  {{"empty2"}, ""}};
        meta_ = make_torrent(dir_.path, "t", files_, 16);
        for (const auto& f : files_)
            all_ += f.bytes;
    }

    temp_dir dir_{"hekate-storage"};
    std::vector<data_file> files_;
    metainfo meta_;
    std::string all_;
};

TEST_F(StorageLayout, EveryBlockReadsTheRightBytes) {
    ASSERT_EQ(meta_.total_length, 35u);
    ASSERT_EQ(meta_.piece_count(), 3u);
    ASSERT_EQ(meta_.piece_size(2), 3u);
    file_cache cache;
    torrent_storage storage(meta_, dir_.path);
    for (std::uint32_t piece = 0; piece < meta_.piece_count(); ++piece) {
        const std::uint32_t size = meta_.piece_size(piece);
        for (std::uint32_t begin = 0; begin < size; ++begin) {
            for (std::uint32_t length = 1; begin + length <= size; ++length) {
                const block b = storage.read_block(cache, piece, begin, length);
                ASSERT_EQ(read(b), all_.substr(piece * 16 + begin, length))
                    << piece << " " << begin << " " << length;
            }
        }
    }
}

TEST_F(StorageLayout, BlockAcrossAZeroLengthFileHasOneSegmentPerFile) {
    file_cache cache;
    torrent_storage storage(meta_, dir_.path);
    const block b = storage.read_block(cache, 0, 8, 8);  // a[8..10), empty1, b[0..6)
    ASSERT_EQ(b.segments().size(), 2u);
    EXPECT_EQ(b.segments()[0].iov_len, 2u);
    EXPECT_EQ(b.segments()[1].iov_len, 6u);
    EXPECT_EQ(b.size(), 8u);
}

TEST_F(StorageLayout, PadFilesReadAsZerosWithoutAFile) {
    file_cache cache;
    torrent_storage storage(meta_, dir_.path);
    EXPECT_FALSE(fs::exists(dir_.path / "t" / ".pad"));
    const block b = storage.read_block(cache, 1, 1, 5);  // the pad file: bytes 17..22
    EXPECT_EQ(read(b), std::string(5, '\0'));
    EXPECT_EQ(cache.mapped_files(), 0u);
    EXPECT_TRUE(in_core(b));
}

TEST_F(StorageLayout, OutOfRangeThrows) {
    file_cache cache;
    torrent_storage storage(meta_, dir_.path);
    EXPECT_THROW(storage.read_block(cache, 3, 0, 1), storage_error);
    EXPECT_THROW(storage.read_block(cache, 0, 0, 0), storage_error);
    EXPECT_THROW(storage.read_block(cache, 0, 0, 17), storage_error);
    EXPECT_THROW(storage.read_block(cache, 0, 16, 1), storage_error);
    EXPECT_THROW(storage.read_block(cache, 2, 0, 4), storage_error);
    EXPECT_THROW(storage.read_block(cache, 2, 2, 0xffffffffu),
                 storage_error);  // begin + length wraps
    EXPECT_THROW(storage.read_block(cache, 0xffffffffu, 0, 1), storage_error);
    EXPECT_NO_THROW(storage.read_block(cache, 2, 0, 3));
}

TEST_F(StorageLayout, WrongSizeOnDiskIsRefusedNotMapped) {
    file_cache cache;
    torrent_storage storage(meta_, dir_.path);
    fs::resize_file(dir_.path / "t" / "c", 5);
    try {
        storage.read_block(cache, 2, 0, 3);
        ADD_FAILURE() << "no error";
    } catch (const storage_error& e) {
        EXPECT_NE(std::string(e.what()).find("t/c"), std::string::npos) << e.what();
    }
    fs::remove(dir_.path / "t" / "a");
    EXPECT_THROW(storage.read_block(cache, 0, 0, 1), storage_error);
    EXPECT_EQ(cache.mapped_files(), 0u);
}

TEST_F(StorageLayout, DescriptorsAreClosedAfterMapping) {
    file_cache cache;
    torrent_storage storage(meta_, dir_.path);
    const std::size_t before = open_fds();
    const block b = storage.read_block(cache, 0, 0, 16);
    EXPECT_EQ(cache.mapped_files(), 2u);
    EXPECT_EQ(open_fds(), before);
    prefetch(b);
    EXPECT_EQ(read(b), all_.substr(0, 16));
    EXPECT_TRUE(in_core(b));  // just read: its pages are in memory
}

TEST(FileCache, BoundOnFilesIsRespectedAndMappingsReleased) {
    temp_dir dir("hekate-storage");
    std::vector<data_file> files;
    for (int i = 0; i < 6; ++i)
        files.push_back({{"f" + std::to_string(i)}, pattern(100, 'f')});
    const metainfo meta = make_torrent(dir.path, "t", files, 100);
    file_cache cache(file_cache_limits{.max_files = 2});
    torrent_storage storage(meta, dir.path);
    {
        std::vector<block> held;
        for (std::uint32_t p = 0; p < 4; ++p)
            held.push_back(storage.read_block(cache, p, 0, 100));
        EXPECT_EQ(cache.mapped_files(), 4u);  // pinned mappings are never released
        EXPECT_EQ(cache.unpinned_files(), 0u);
    }
    EXPECT_EQ(cache.mapped_files(), 2u);
    EXPECT_EQ(cache.mapped_bytes(), 200u);
    // The two most recently released stay: blocks 2 and 3 were destroyed last.
    EXPECT_FALSE(mapped_in_process(dir.path / "t" / "f0"));
    EXPECT_FALSE(mapped_in_process(dir.path / "t" / "f1"));
    EXPECT_TRUE(mapped_in_process(dir.path / "t" / "f2") ||
                mapped_in_process(dir.path / "t" / "f3"));
    for (std::uint32_t p = 0; p < 6; ++p) {
        EXPECT_EQ(read(storage.read_block(cache, p, 0, 100)), files[p].bytes);
        EXPECT_LE(cache.mapped_files(), 2u);
    }
}

TEST(FileCache, BoundOnBytes) {
    temp_dir dir("hekate-storage");
    std::vector<data_file> files;
    for (int i = 0; i < 4; ++i)
        files.push_back({{"f" + std::to_string(i)}, pattern(1000, 'g')});
    const metainfo meta = make_torrent(dir.path, "t", files, 1000);
    file_cache cache(file_cache_limits{.max_bytes = 2500});
    torrent_storage storage(meta, dir.path);
    for (std::uint32_t p = 0; p < 4; ++p)
        storage.read_block(cache, p, 0, 10);
    EXPECT_EQ(cache.mapped_files(), 2u);
    EXPECT_LE(cache.mapped_bytes(), 2500u);
}

TEST(FileCache, TrimReleasesIdleMappings) {
    temp_dir dir("hekate-storage");
    const metainfo meta = make_torrent(dir.path, "t", {{{"a"}, "aaaa"}, {{"b"}, "bbbb"}}, 4);
    file_cache cache(file_cache_limits{.max_idle = std::chrono::seconds(30)});
    torrent_storage storage(meta, dir.path);
    const block pinned = storage.read_block(cache, 0, 0, 4);
    storage.read_block(cache, 1, 0, 4);
    EXPECT_EQ(cache.mapped_files(), 2u);
    const auto now = file_cache::clock::now();
    EXPECT_EQ(cache.trim(now), 0u);
    EXPECT_EQ(cache.trim(now + std::chrono::seconds(31)), 1u);  // b; a is still pinned
    EXPECT_EQ(cache.mapped_files(), 1u);
    EXPECT_FALSE(mapped_in_process(dir.path / "t" / "b"));
    EXPECT_EQ(read(pinned), "aaaa");
}

TEST(FileCache, SharesOneMappingAndChecksItsSize) {
    temp_dir dir("hekate-storage");
    write_file(dir.path / "x", "0123456789");
    file_cache cache;
    file_cache::pin p1 = cache.acquire(dir.path / "x", 10);
    file_cache::pin p2 = cache.acquire(dir.path / "x", 10);
    EXPECT_EQ(p1.data(), p2.data());
    EXPECT_EQ(cache.mapped_files(), 1u);
    EXPECT_THROW(cache.acquire(dir.path / "x", 11), storage_error);
    EXPECT_THROW(cache.acquire(dir.path / "missing", 1), storage_error);
    EXPECT_THROW(cache.acquire(dir.path, 1), storage_error);  // a directory
    file_cache::pin moved = std::move(p1);
    EXPECT_FALSE(p1);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(moved.data()), moved.size()), "0123456789");
}

TEST(Storage, LargePadRepeatsTheZeroBuffer) {
    temp_dir dir("hekate-storage");
    const metainfo meta = make_torrent(
        dir.path, "t",
        {{{"a"}, "x"}, {{".pad", "p"}, std::string(200000, '\0'), true}, {{"b"}, "y"}}, 1 << 18);
    file_cache cache;
    torrent_storage storage(meta, dir.path);
    const block b = storage.read_block(cache, 0, 0, 200002);
    EXPECT_GE(b.segments().size(), 5u);  // 1 + ceil(200000 / 64 KiB) + 1
    std::string expected = "x" + std::string(200000, '\0') + "y";
    EXPECT_EQ(read(b), expected);
}

TEST(Storage, SingleFileTorrentWithALastOddPiece) {
    temp_dir dir("hekate-storage");
    const std::string data = pattern(100000, 's');
    const metainfo meta =
        parse_metainfo(write_single_file_torrent(dir.path, "single.bin", data, 32768));
    file_cache cache;
    torrent_storage storage(meta, dir.path);
    ASSERT_EQ(meta.piece_size(3), 100000u - 3 * 32768);
    EXPECT_EQ(read(storage.read_block(cache, 3, 1000, 696)), data.substr(3 * 32768 + 1000));
    EXPECT_EQ(read(storage.read_block(cache, 2, 32000, 768)), data.substr(2 * 32768 + 32000, 768));
    EXPECT_THROW(storage.read_block(cache, 3, 1000, 697), storage_error);
}

}  // namespace
