// Verification of a torrent's data against its piece hashes, off the loop.
//
// Pieces are hashed in batches on cpc's default pool (cpc::detached), at most `parallelism`
// batches at a time, each reading the files with its own descriptors (pread): the loop's
// file_cache is not touched, and the loop keeps running its other threads meanwhile.
#pragma once

#include <cstdint>
#include <string>

#include "catalog.hpp"
#include "cpc/task.hpp"

namespace hekate {

struct verify_result {
    enum class status { ok, bad_piece, io_error };
    status outcome = status::ok;
    // bad_piece: the lowest piece whose SHA-1 differs. io_error: the piece being read.
    std::uint32_t piece = 0;
    std::string message;  // empty when ok; names the piece or the file otherwise

    bool ok() const noexcept { return outcome == status::ok; }
};

struct verify_options {
    // Batches in flight; 0: the number of hardware threads, at most the pool's size.
    unsigned parallelism = 0;
    // Bytes per batch (rounded to whole pieces, at least one).
    std::uint64_t batch_bytes = std::uint64_t{4} << 20;
};

// Checks every piece of entry's data. entry must stay alive and unchanged until the task
// ends. Stops handing out batches after the first failure; the result names the lowest
// failing piece.
cpc::task<verify_result> verify_torrent(const torrent_entry& entry, verify_options options = {});

// The same check for one range of pieces, synchronously on the calling thread (what a pool
// thread runs for one batch).
verify_result verify_pieces(const torrent_entry& entry, std::uint32_t first, std::uint32_t end);

}  // namespace hekate
