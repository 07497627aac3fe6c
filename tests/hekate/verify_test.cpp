// verify_torrent: good data passes, a flipped byte is found (the lowest bad piece), IO
// errors are named, and the loop keeps running its other threads during a verification.
#include "verify.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "torrent_fixture.hpp"

namespace {

using namespace hekate;
using namespace hekate::test;
namespace fs = std::filesystem;

// Writes the files under dir/name and returns the entry the catalog would make.
torrent_entry make_entry(const fs::path& dir, const std::string& name,
                         const std::vector<data_file>& files, std::uint32_t piece_length) {
    torrent_entry e;
    e.meta = parse_metainfo(write_multi_file_torrent(dir, name, files, piece_length));
    e.data_root = dir;
    e.torrent_file = dir / (name + ".torrent");
    return e;
}

std::string bytes(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>(cpc_test::pattern(i, seed));
    return s;
}

void flip_byte(const fs::path& p, std::size_t at) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(static_cast<char>(c ^ 0x20));
}

// Piece length 1000: a 2500-byte file, an empty one, a pad file of 500, then 7321 bytes
// (11 pieces, the last of 321).
class VerifyLayout : public ::testing::Test {
  protected:
    void SetUp() override {
        entry_ = make_entry(dir_.path, "t",
                            {{{"a"}, bytes(2500, 1)},
                             {{"empty"}, ""},
                             {{".pad", "500"}, std::string(500, '\0'), true},
                             {{"sub", "b"}, bytes(7321, 2)}},
                            1000);
    }

    verify_result run(verify_options options) {
        return cpc_test::run_main_value(verify_torrent(entry_, options));
    }

    temp_dir dir_{"hekate-verify"};
    torrent_entry entry_;
};

// Small batches and several in flight, so that batches do run concurrently.
constexpr verify_options kSmallBatches{.parallelism = 4, .batch_bytes = 2000};

TEST_F(VerifyLayout, GoodDataPasses) {
    ASSERT_EQ(entry_.meta.piece_count(), 11u);
    const verify_result r = run(kSmallBatches);
    EXPECT_TRUE(r.ok()) << r.message;
    EXPECT_TRUE(run(verify_options{}).ok());
    EXPECT_TRUE(run(verify_options{.parallelism = 1, .batch_bytes = 1}).ok());
}

TEST_F(VerifyLayout, AFlippedByteIsFound) {
    flip_byte(dir_.path / "t" / "sub" / "b", 4600);  // stream offset 7600: piece 7
    const verify_result r = run(kSmallBatches);
    EXPECT_EQ(r.outcome, verify_result::status::bad_piece);
    EXPECT_EQ(r.piece, 7u);
    EXPECT_NE(r.message.find("piece 7"), std::string::npos) << r.message;
}

TEST_F(VerifyLayout, TheLowestBadPieceIsReported) {
    flip_byte(dir_.path / "t" / "sub" / "b", 7320);  // the last byte: piece 10
    flip_byte(dir_.path / "t" / "a", 1999);          // piece 1
    for (unsigned parallelism : {1u, 3u, 8u}) {
        const verify_result r = run({.parallelism = parallelism, .batch_bytes = 1000});
        EXPECT_EQ(r.outcome, verify_result::status::bad_piece);
        EXPECT_EQ(r.piece, 1u) << parallelism;
    }
}

TEST_F(VerifyLayout, MissingAndShortFilesAreIoErrors) {
    fs::resize_file(dir_.path / "t" / "sub" / "b", 7000);
    verify_result r = run(kSmallBatches);
    EXPECT_EQ(r.outcome, verify_result::status::io_error);
    EXPECT_EQ(r.piece, 10u);
    EXPECT_NE(r.message.find("sub/b"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("shorter"), std::string::npos) << r.message;

    fs::remove(dir_.path / "t" / "a");
    r = run(kSmallBatches);
    EXPECT_EQ(r.outcome, verify_result::status::io_error);
    EXPECT_EQ(r.piece, 0u);
    EXPECT_NE(r.message.find("t/a"), std::string::npos) << r.message;
}

struct progress {
    bool verifying = true;
    long ticks = 0;
    long ticks_at_start = 0;
    verify_result result;
};

cpc::task<void> counter(progress* p) {
    while (p->verifying) {
        ++p->ticks;
        co_await cpc::yield();
    }
}

cpc::task<void> verify_while_counting(const torrent_entry* e, progress* p) {
    cpc::spawn(counter(p));
    co_await cpc::yield();
    p->ticks_at_start = p->ticks;
    verify_result r = co_await verify_torrent(*e, {.parallelism = 2, .batch_bytes = 1 << 20});
    p->result = std::move(r);
    p->verifying = false;
}

TEST(Verify, TheLoopKeepsRunningMeanwhile) {
    temp_dir dir("hekate-verify");
    // 8 MiB: long enough to hash that a blocked loop would be obvious.
    const torrent_entry e = make_entry(
        dir.path, "big", {{{"x"}, bytes(8 << 20, 3)}, {{"y"}, bytes(12345, 4)}}, 1 << 18);
    progress p;
    cpc_test::run_main(verify_while_counting(&e, &p));
    EXPECT_TRUE(p.result.ok()) << p.result.message;
    // The counter ran while the pieces were hashed on the pool: a verification on the loop
    // thread would have left it at its starting count.
    EXPECT_GT(p.ticks - p.ticks_at_start, 1);
}

}  // namespace
