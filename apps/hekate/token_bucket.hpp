// token_bucket: the global upload rate limit (--upload-limit, bytes per second).
//
// Writers reserve before sending: reserve(bytes, now) takes the bytes from the bucket at
// once, even if that leaves it in debt, and returns how long to wait before sending them.
// Many writers can reserve concurrently (one loop, no locks): each later reservation lands
// behind the debt of the earlier ones, so the waits queue the writers in reservation order.
//
// Guarantee: if every reserved block is sent no earlier than now + the returned delay, then
// over any interval of length T the bytes sent (counted at their send times) are at most
// burst + rate * T, plus less than one nanosecond's worth of rate (a wait is rounded up to
// the nanosecond, and the tokens of that fraction are kept rather than lost). A block larger
// than the burst is allowed: it waits until the bucket would hold it entirely, so a lone
// writer of big blocks still gets the full rate; the bound is then max(burst, block) +
// rate * T, since the block leaves at once. With writers always waiting, no token is lost:
// the throughput is the rate, not less.
//
// The bucket starts full (the first `burst` bytes go at once) and refills continuously at
// `rate`, up to `burst`. Rate 0 means unlimited: every delay is 0. Arithmetic is exact
// (integers, delays rounded up to the nanosecond), so no rounding drift over long runs.
// Times are int64 ns from a monotonic clock (cpc::loop::now()); a time earlier than one
// already seen counts as the latest one seen. Not thread-safe.
#pragma once

#include <cstdint>

namespace hekate {

class token_bucket {
  public:
    // rate_bytes_per_s == 0: unlimited. burst_bytes may be 0 (strict pacing), but a burst of
    // at least one block (16 KiB) lets a writer send a block without waiting when idle.
    token_bucket(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes) noexcept;

    // Takes `bytes` at now_ns; returns the nanoseconds (>= 0) to wait before sending them.
    std::int64_t reserve(std::uint64_t bytes, std::int64_t now_ns) noexcept;

    bool unlimited() const noexcept { return rate_ == 0; }
    std::uint64_t rate() const noexcept { return rate_; }
    std::uint64_t burst() const noexcept { return burst_; }
    // Bytes the bucket holds at now_ns (after refilling); negative while in debt.
    std::int64_t available(std::int64_t now_ns) noexcept;

  private:
    void refill(std::int64_t now_ns) noexcept;

    std::uint64_t rate_;
    std::uint64_t burst_;
    // The level in byte-nanoseconds per second (bytes * 1e9), so that refilling by
    // rate * elapsed_ns is exact. 128 bits: rate * elapsed overflows 64 bits within seconds.
    __int128 level_;
    std::int64_t last_;
    bool started_ = false;
};

}  // namespace hekate
