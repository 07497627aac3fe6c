// peer_host: all a peer_connection knows of the server that runs it.
//
// The server implements it; the unit tests implement it with a fake (peer_connection_test).
// One virtual call per message or per batch of blocks at most, never per byte.
//
// Threads: the choker's events (interested ... rechoke) belong to control(): a peer calls
// them at once when in_control() is true (it runs on the control scheduler's loop, so no
// thread of that scheduler runs meanwhile), else it hops there first (cpc::attach). The
// counters and the upload limiter may be called from any loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "choker.hpp"
#include "cpc/scheduler.hpp"
#include "served_torrent.hpp"

namespace hekate {

// What a peer_connection reads of the configuration. Fixed before the first peer connects.
struct peer_settings {
    // Milliseconds (the command line has seconds), so that unit tests can make them short.
    std::chrono::milliseconds idle_timeout{180'000};  // silence that closes the connection
    std::chrono::milliseconds keep_alive_interval{100'000};
    std::chrono::milliseconds write_timeout{120'000};
    std::size_t max_queued_requests = 500;  // more is a flood
    std::uint32_t advertised_reqq = 250;    // what the extended handshake promises
    std::uint16_t listen_port = 0;          // told in the extended handshake; 0: not told
    // What is left of a turn's credit when it starts (choker::full_credit).
    std::uint64_t turn_credit = choker::full_credit({});
    // The most one batch of blocks may hold under the upload limit; 0: no limit.
    std::uint64_t upload_burst = 0;
};

class peer_host {
  public:
    // The same object, unchanged, as long as peers run (a peer keeps the reference).
    virtual const peer_settings& settings() const noexcept = 0;

    // --- the choker ---
    // Where the choker's events are told.
    virtual cpc::scheduler& control() noexcept = 0;
    // True when the caller may tell the choker at once (see above).
    virtual bool in_control() const noexcept = 0;
    // From control() only: INTERESTED and NOT_INTERESTED (as at `at`, loop::now() time);
    // then rechoke() once for a batch of them, which applies the choker's decisions.
    virtual void interested(peer_key key, std::int64_t at) = 0;
    virtual void not_interested(peer_key key, std::int64_t at) = 0;
    virtual void rechoke() = 0;
    // From control() only: a REQUEST at `at` (the request-idle rule).
    virtual void requested(peer_key key, std::int64_t at) = 0;
    // From control() only: `bytes` of piece data were sent in the peer's turn; returns what
    // is left of the turn's credit (choker::credit_left: 0 once the turn is over).
    virtual std::uint64_t sent(peer_key key, std::uint64_t bytes) = 0;

    // --- from any loop ---
    // The upload limiter's wait in nanoseconds before sending `bytes` (0: at once).
    virtual std::int64_t reserve_upload(std::uint64_t bytes, std::int64_t now) = 0;
    // `bytes` of piece data of `t` went out.
    virtual void count_sent(served_torrent& t, std::uint64_t bytes) noexcept = 0;
    // A connection closed for a protocol violation.
    virtual void count_protocol_error() noexcept = 0;
    // A peer was told UNCHOKE (+1), or CHOKE or left while unchoked (-1).
    virtual void count_told_unchoked(int change) noexcept = 0;

  protected:
    peer_host() = default;
    peer_host(const peer_host&) = default;
    peer_host& operator=(const peer_host&) = default;
    ~peer_host() = default;
};

}  // namespace hekate
