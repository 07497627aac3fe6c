#include "token_bucket.hpp"

#include <limits>

namespace hekate {

namespace {
constexpr __int128 ns_per_s = 1'000'000'000;
}

token_bucket::token_bucket(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes) noexcept
    : rate_(rate_bytes_per_s),
      burst_(burst_bytes),
      level_(static_cast<__int128>(burst_bytes) * ns_per_s),
      last_(0) {}

void token_bucket::refill(std::int64_t now_ns) noexcept {
    if (!started_) {
        started_ = true;
        last_ = now_ns;
        return;
    }
    if (now_ns <= last_) return;
    const __int128 cap = static_cast<__int128>(burst_) * ns_per_s;
    const __int128 elapsed = static_cast<__int128>(now_ns) - last_;
    last_ = now_ns;
    // elapsed < 2^64 and rate < 2^64: the product fits in 128 bits.
    level_ += static_cast<__int128>(rate_) * elapsed;
    if (level_ > cap) level_ = cap;
}

std::int64_t token_bucket::reserve(std::uint64_t bytes, std::int64_t now_ns) noexcept {
    if (rate_ == 0) return 0;
    refill(now_ns);
    level_ -= static_cast<__int128>(bytes) * ns_per_s;
    if (level_ >= 0) return 0;
    // The debt is repaid at rate per second: ceil(-level / rate) nanoseconds from last_,
    // which is now_ns unless the clock went back.
    const __int128 wait = (-level_ + rate_ - 1) / rate_;
    const __int128 until = static_cast<__int128>(last_) + wait - now_ns;
    constexpr __int128 max = std::numeric_limits<std::int64_t>::max();
    return static_cast<std::int64_t>(until > max ? max : until);
}

std::int64_t token_bucket::available(std::int64_t now_ns) noexcept {
    if (rate_ == 0) return std::numeric_limits<std::int64_t>::max();
    refill(now_ns);
    // Floor toward minus infinity so that a partial byte of debt still reads as debt.
    __int128 q = level_ / ns_per_s;
    if (level_ % ns_per_s < 0) --q;
    constexpr std::int64_t hi = std::numeric_limits<std::int64_t>::max();
    constexpr std::int64_t lo = std::numeric_limits<std::int64_t>::min();
    if (q > hi) return hi;
    if (q < lo) return lo;
    return static_cast<std::int64_t>(q);
}

}  // namespace hekate
