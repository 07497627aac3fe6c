// A weighted list of URL paths read from a file, and deterministic draws from it: the request
// mix of a benchmark such as SPECweb99's (bench/knot-bandwidth writes such a file). Kept apart
// from the I/O so that it is unit-tested (url_mix_test.cpp).
//
// The file has one URL a line, "WEIGHT PATH [BYTES]": WEIGHT a positive finite number
// (relative: the weights need not sum to 1), PATH starting with '/', BYTES the length the body
// must have (optional). Blank lines and lines starting with '#' are skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace loadgen {

struct weighted_url {
    double weight = 0;
    std::string path;
    std::optional<std::size_t> bytes;  // the body's expected length, when the file gives it
};

// Reads the list. On a malformed line or an empty list, returns nullopt and sets `error` to
// "line N: what is wrong" (or "no URL").
std::optional<std::vector<weighted_url>> read_url_list(std::istream& in, std::string& error);

// Draws indices into the list with probability weight / sum of weights. The sequence of draws
// depends on the seed alone (the same on every platform: the generator is std::mt19937_64 and
// the conversion to [0, 1) is done here, not by a library distribution). Not thread-safe: one
// url_mix per kernel thread.
class url_mix {
  public:
    // `urls` must not be empty, and every weight must be positive (read_url_list ensures it).
    url_mix(std::vector<weighted_url> urls, std::uint64_t seed);

    std::size_t next();

    const weighted_url& operator[](std::size_t i) const { return urls_[i]; }
    std::size_t size() const { return urls_.size(); }

  private:
    std::vector<weighted_url> urls_;
    std::vector<double> cumulative_;  // cumulative_[i]: the sum of the weights of urls_[0..i]
    std::mt19937_64 rng_;
};

}  // namespace loadgen
