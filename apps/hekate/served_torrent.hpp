// served_torrent: one torrent hekate serves, with what its peers and its announcer share.
//
// Shared (std::shared_ptr) between the server's table and the peers connected for it, so
// that a torrent dropped by a rescan stays valid until its last peer has left. It does not
// move once made: its storage refers to its metainfo. Peers on any loop read its entry and
// storage (immutable) and add to counters.uploaded; everything else is the control color's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "announcer.hpp"
#include "catalog.hpp"
#include "cpc/condvar.hpp"
#include "storage.hpp"

namespace hekate {

// `uploaded` is counted by the peers on their loops (an atomic); the rest belongs to the
// server's control color.
struct torrent_counters {
    std::atomic<std::uint64_t> uploaded{0};  // payload bytes sent (PIECE data)
    std::uint64_t last_sample = 0;           // `uploaded` at the previous statistics tick
    double rate = 0;                         // bytes per second over the last tick
    std::size_t peers = 0;                   // connections past the handshake
};

class served_torrent {
  public:
    explicit served_torrent(torrent_entry e)
        : entry(std::move(e)), storage(entry.meta, entry.data_root) {}
    served_torrent(const served_torrent&) = delete;
    served_torrent& operator=(const served_torrent&) = delete;

    const metainfo& meta() const noexcept { return entry.meta; }

    torrent_entry entry;
    torrent_storage storage;
    torrent_counters counters;
    std::unique_ptr<announcer> tracker_client;  // null without trackers or with -t
    cpc::condvar stop_announcing;
    std::string reported_tracker_error;  // the last one printed, so each is printed once
    bool removed = false;                // dropped by a rescan or shutdown: peers leave
};

}  // namespace hekate
