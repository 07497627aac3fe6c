// peer_loop: one loop's share of the peers, and what its peers share there.
//
// `peers`, `scratch` and `files` are touched on that loop only, so without locks; the counts
// (and files.mapped_files()) are read by the status page from the control color.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "choker.hpp"
#include "cpc/loop.hpp"
#include "storage.hpp"

namespace hekate {

class peer_connection;

struct peer_loop {
    explicit peer_loop(cpc::loop& l) : loop(&l), scratch(256 * 1024) {}
    cpc::loop* loop;
    std::unordered_map<peer_key, peer_connection*> peers;  // where decisions find them
    // A read buffer shared by the loop's readers: a reader uses it only between a read and
    // the end of its synchronous processing, so no two readers hold it at once.
    std::vector<char> scratch;
    file_cache files;  // the mappings of the blocks sent from this loop
    std::atomic<std::size_t> connected{0};
    std::atomic<std::uint64_t> sessions{0};  // peers served here so far
};

}  // namespace hekate
