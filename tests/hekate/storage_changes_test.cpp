// Storage when the data files change while they are served (issue 14): a file truncated under
// its mapping (its pages in memory or not), replaced by a rename, modified, or deleted. Reads
// of the lost bytes come back as errors naming the file, never as a SIGBUS that would kill
// the process with every peer; the mapping is dropped, and the other files stay served.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>

#include "storage.hpp"
#include "storage_fixture.hpp"
#include "torrent_fixture.hpp"

namespace {

using namespace hekate;
using namespace hekate::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::uint32_t kPiece = 64 * 1024;

void truncate_to(const fs::path& p, off_t size) {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << p;
    ASSERT_EQ(::ftruncate(fd, size), 0);
    ::close(fd);
}

bool mapped_in_process(const fs::path& p) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        if (line.find(p.string()) != std::string::npos) return true;
    }
    return false;
}

// Calls f and returns the message of the file_changed it throws ("" if none).
template <class F>
std::string file_changed_message(F f) {
    try {
        f();
    } catch (const file_changed& e) {
        return e.what();
    }
    return "";
}

// Two torrents: "big.bin" (4 pieces of 64 KiB), changed by the tests, and "other.bin",
// which must stay served throughout.
class StorageChanges : public ::testing::Test {
  protected:
    void expect_other_served(file_cache& cache) {
        torrent_storage other(other_meta_, dir_.path / "o");
        EXPECT_EQ(read(other.read_block(cache, 0, 100, 1000)), other_.substr(100, 1000));
    }

    temp_dir dir_{"hekate-changes"};
    fs::path big_path_ = dir_.path / "big.bin";
    std::string big_ = pattern(4 * kPiece, 'x');
    std::string other_ = pattern(kPiece, 'o');
    // Built here, not in SetUp: the fixtures below hold storage over them.
    metainfo big_meta_ =
        parse_metainfo(write_single_file_torrent(dir_.path, "big.bin", big_, kPiece));
    metainfo other_meta_ =
        parse_metainfo(write_single_file_torrent(dir_.path / "o", "other.bin", other_, kPiece));
};

// A file truncated after its mapping was checked: acquire does not see it in time (the
// check is once per revalidate_after), so the block's lost pages reach the readers.
// Parameters: the new size, and whether the block's pages were in memory before.
class TruncatedUnderTheMapping : public StorageChanges,
                                 public ::testing::WithParamInterface<std::tuple<off_t, bool>> {};

TEST_P(TruncatedUnderTheMapping, ReadsFailAndTheMappingIsDropped) {
    const auto [new_size, warm] = GetParam();
    file_cache cache(file_cache_limits{.revalidate_after = 24h});
    torrent_storage big(big_meta_, dir_.path);
    std::string lost_message;
    {
        const block kept = big.read_block(cache, 0, 0, 16384);  // inside the new size, or not
        const block b = big.read_block(cache, 3, 16384, 16384);
        if (warm) {
            ASSERT_EQ(fault_in(b.segments()), nullptr);
            ASSERT_TRUE(in_core(b));
            ASSERT_EQ(read(b), big_.substr(3 * kPiece + 16384, 16384));
        }
        truncate_to(big_path_, new_size);

        // The pool's read: the first lost page, not a SIGBUS.
        const void* lost = fault_in(b.segments());
        ASSERT_NE(lost, nullptr);
        const auto* first = static_cast<const unsigned char*>(b.segments()[0].iov_base);
        EXPECT_LE(static_cast<const unsigned char*>(lost), first);
        EXPECT_GT(static_cast<const unsigned char*>(lost) + 4096, first);
        // A copy and the socket's write fail the same way.
        EXPECT_THROW(read(b), storage_error);
        int sv[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        const ssize_t sent =
            ::writev(sv[0], b.segments().data(), static_cast<int>(b.segments().size()));
        const int err = errno;
        ::close(sv[0]);
        ::close(sv[1]);
        EXPECT_EQ(sent, -1);
        EXPECT_EQ(err, EFAULT);
        // What is still in the file still reads.
        if (new_size >= static_cast<off_t>(kPiece)) {
            EXPECT_EQ(fault_in(kept.segments()), nullptr);
            EXPECT_EQ(read(kept), big_.substr(0, 16384));
        }

        // The loop drops the mapping (unmapped once the blocks in flight are gone), and the
        // torrent serves nothing more.
        lost_message = file_changed_message([&] { big.lost(cache, lost); });
        EXPECT_TRUE(big.changed());
        EXPECT_EQ(cache.mapped_files(), 1u);
    }
    EXPECT_NE(lost_message.find(big_path_.string()), std::string::npos) << lost_message;
    EXPECT_NE(lost_message.find("truncated"), std::string::npos) << lost_message;
    EXPECT_EQ(cache.mapped_files(), 0u);
    EXPECT_EQ(cache.mapped_bytes(), 0u);
    EXPECT_FALSE(mapped_in_process(big_path_));
    EXPECT_THROW(big.read_block(cache, 0, 0, 100), file_changed);
    expect_other_served(cache);

    // Checked again (a new torrent_storage): the file is mapped again, and its size checked.
    torrent_storage rechecked(big_meta_, dir_.path);
    const std::string again = file_changed_message([&] { rechecked.read_block(cache, 0, 0, 100); });
    EXPECT_NE(again.find(std::to_string(new_size) + " bytes on disk"), std::string::npos) << again;
}

INSTANTIATE_TEST_SUITE_P(SizesAndPageCache, TruncatedUnderTheMapping,
                         ::testing::Combine(::testing::Values(off_t{kPiece}, off_t{0}),
                                            ::testing::Bool()));

// With a check on every acquire, each change is seen before any byte of the new file is read:
// the torrent serves nothing more, the blocks already read keep the old file's bytes (which
// match the torrent), and the other torrent is still served.
class Revalidated : public StorageChanges {
  protected:
    void expect_seen(const std::string& why) {
        const std::string message = file_changed_message([&] { big.read_block(cache, 1, 0, 100); });
        EXPECT_NE(message.find(big_path_.string()), std::string::npos) << message;
        EXPECT_NE(message.find(why), std::string::npos) << message;
        EXPECT_TRUE(big.changed());
        EXPECT_EQ(read(held), big_.substr(held_piece * kPiece, 16384));
        EXPECT_EQ(cache.mapped_files(), 1u);  // the old mapping, until `held` goes
        expect_other_served(cache);
        EXPECT_EQ(cache.mapped_files(), 2u);
    }

    file_cache cache{file_cache_limits{.revalidate_after = 0s}};
    torrent_storage big{big_meta_, dir_.path};
    std::uint32_t held_piece = 2;
    block held;  // read before the change
};

TEST_F(Revalidated, TruncatedFileIsSeenBeforeItIsRead) {
    held_piece = 0;  // still in the file
    held = big.read_block(cache, held_piece, 0, 16384);
    truncate_to(big_path_, kPiece);
    expect_seen("now 65536 bytes, mapped with 262144");
    EXPECT_THROW(big.read_block(cache, 0, 0, 100), file_changed);
}

TEST_F(Revalidated, FileRenamedOverIsSeen) {
    held = big.read_block(cache, 2, 0, 16384);
    write_file(dir_.path / "new.bin", pattern(4 * kPiece, 'y'));
    fs::rename(dir_.path / "new.bin", big_path_);
    expect_seen("replaced while mapped");
}

TEST_F(Revalidated, DeletedFileIsSeen) {
    held = big.read_block(cache, 2, 0, 16384);
    fs::remove(big_path_);
    expect_seen("deleted while mapped");
    EXPECT_THROW(big.read_block(cache, 0, 0, 100), file_changed);  // no file to map
}

TEST_F(Revalidated, FileModifiedInPlaceIsSeen) {
    held = big.read_block(cache, 2, 0, 16384);
    const timespec times[2] = {{0, UTIME_OMIT}, {12345, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, big_path_.c_str(), times, 0), 0);
    expect_seen("modified while mapped");
}

// A loop's mapping of the file replaced before the torrent was checked again (a rename over it
// with the same size: nothing to see in the size) is not used by the torrent_storage built
// after that check; the old storage, inside its revalidation period, still reads the old file.
TEST_F(StorageChanges, StorageBuiltAfterARecheckDoesNotUseAnOlderMapping) {
    file_cache cache(file_cache_limits{.revalidate_after = 24h});
    torrent_storage old_storage(big_meta_, dir_.path);
    EXPECT_EQ(read(old_storage.read_block(cache, 1, 0, 100)), big_.substr(kPiece, 100));
    const std::string replacement = pattern(4 * kPiece, 'y');
    write_file(dir_.path / "new.bin", replacement);
    fs::rename(dir_.path / "new.bin", big_path_);
    EXPECT_EQ(read(old_storage.read_block(cache, 1, 0, 100)), big_.substr(kPiece, 100));

    torrent_storage rechecked(big_meta_, dir_.path);
    EXPECT_EQ(read(rechecked.read_block(cache, 1, 0, 100)), replacement.substr(kPiece, 100));
    EXPECT_FALSE(rechecked.changed());
    EXPECT_EQ(cache.mapped_files(), 1u);
}

// The same rename seen by a loop that had not mapped the file (nothing to compare with): the
// new file is not the one the torrent was checked with, so its bytes are not served either.
TEST_F(StorageChanges, ALoopWithoutAMappingDoesNotServeAReplacedFile) {
    file_cache loop_a(file_cache_limits{.revalidate_after = 24h});
    file_cache loop_b(file_cache_limits{.revalidate_after = 24h});
    torrent_storage storage(big_meta_, dir_.path);
    EXPECT_EQ(read(storage.read_block(loop_a, 1, 0, 100)), big_.substr(kPiece, 100));
    write_file(dir_.path / "new.bin", pattern(4 * kPiece, 'y'));
    fs::rename(dir_.path / "new.bin", big_path_);
    const std::string message =
        file_changed_message([&] { storage.read_block(loop_b, 1, 0, 100); });
    EXPECT_NE(message.find(big_path_.string()), std::string::npos) << message;
    EXPECT_TRUE(storage.changed());
    EXPECT_THROW(storage.read_block(loop_a, 1, 0, 100), file_changed);
    expect_other_served(loop_b);
}

TEST_F(Revalidated, AnUnchangedFileStaysMapped) {
    held = big.read_block(cache, 2, 0, 16384);
    const block again = big.read_block(cache, 1, 0, 100);
    EXPECT_EQ(read(again), big_.substr(kPiece, 100));
    EXPECT_EQ(again.segments()[0].iov_base,
              static_cast<const unsigned char*>(held.segments()[0].iov_base) - kPiece);
}

}  // namespace
