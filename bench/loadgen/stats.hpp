// loadgen's statistics, kept apart from the I/O so that they are unit-tested on synthetic
// samples (stats_test.cpp).
//
// The method of "Are events fast?" (Kerneis and Chroboczek, 2009):
// - ApacheBench "needs a period of time to ramp up", so the first and last 1,000 samples (in
//   order of start time) are discarded before the mean and median service times are taken.
//   A run of fewer than 10,000 requests discards 10% at each end instead (rounded down), so
//   that short runs keep 80% of their samples; the report says which rule was used.
// - The measured load is l_m = n * t_r / t, with n the requests serviced, t_r their average
//   service time and t the total run time: the average number of requests in flight. It is
//   the offered load l (the concurrency) only if the client never left a slot idle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace loadgen {

// One request: when it started (from the start of the run) and how long it took, from the
// start of connect (or of the request on a kept-alive connection) to the last byte.
struct sample {
    std::int64_t start_us = 0;
    std::int64_t service_us = 0;
    int status = 0;   // HTTP status, 0 when none was received
    bool ok = false;  // a 2xx answer, complete, with the expected body if one was given
};

// The paper discards this many samples at each end.
inline constexpr std::size_t kPaperTrim = 1000;
// Below this many samples, trim_each_end discards kShortRunTrimPercent% at each end.
inline constexpr std::size_t kPaperMinSamples = 10 * kPaperTrim;
inline constexpr std::size_t kShortRunTrimPercent = 10;

// How many samples to discard at each end of a run of n samples.
std::size_t trim_each_end(std::size_t n);
// True when trim_each_end(n) follows the paper (1,000), false when it is proportional.
inline bool trim_is_paper(std::size_t n) {
    return n >= kPaperMinSamples;
}

struct summary {
    std::size_t requests = 0;  // every request that ended, successful or not
    std::size_t ok = 0;
    std::size_t failed = 0;
    double elapsed_s = 0;
    double requests_per_s = 0;  // successful requests per second of the run
    std::size_t trimmed_each_end = 0;
    bool trim_paper = true;    // false: proportional trimming (a short run)
    std::size_t kept = 0;      // successful requests left once trimmed: mean and median
    double mean_ms = 0;        // service time of the kept requests
    double median_ms = 0;      // the mean of the two middle ones for an even count
    double measured_load = 0;  // l_m = n * t_r / t over every successful request
};

// Sorts `samples` by start time (in place) and summarizes a run of `elapsed_s` seconds.
summary summarize(std::vector<sample>& samples, double elapsed_s);

// l_m = n * t_r / t.
double measured_load(std::size_t n, double mean_service_s, double elapsed_s);

}  // namespace loadgen
