#include "stats.hpp"

#include <algorithm>

namespace loadgen {

std::size_t trim_each_end(std::size_t n) {
    if (trim_is_paper(n)) return kPaperTrim;
    return n * kShortRunTrimPercent / 100;
}

double measured_load(std::size_t n, double mean_service_s, double elapsed_s) {
    if (elapsed_s <= 0) return 0;
    return static_cast<double>(n) * mean_service_s / elapsed_s;
}

summary summarize(std::vector<sample>& samples, double elapsed_s) {
    summary s;
    std::stable_sort(samples.begin(), samples.end(),
                     [](const sample& a, const sample& b) { return a.start_us < b.start_us; });
    s.requests = samples.size();
    s.elapsed_s = elapsed_s;

    double all_service_us = 0;
    for (const sample& x : samples) {
        if (!x.ok) continue;
        ++s.ok;
        all_service_us += static_cast<double>(x.service_us);
    }
    s.failed = s.requests - s.ok;
    if (elapsed_s > 0) s.requests_per_s = static_cast<double>(s.ok) / elapsed_s;
    if (s.ok > 0)
        s.measured_load =
            measured_load(s.ok, all_service_us / static_cast<double>(s.ok) / 1e6, elapsed_s);

    // The window: every request but the first and last `trimmed_each_end` to start; failed
    // requests take their place in the order but not in the service times.
    s.trimmed_each_end = trim_each_end(samples.size());
    s.trim_paper = trim_is_paper(samples.size());
    std::vector<std::int64_t> kept;
    kept.reserve(samples.size());
    for (std::size_t i = s.trimmed_each_end; i + s.trimmed_each_end < samples.size(); ++i)
        if (samples[i].ok) kept.push_back(samples[i].service_us);
    s.kept = kept.size();
    if (kept.empty()) return s;

    double sum = 0;
    for (std::int64_t v : kept)
        sum += static_cast<double>(v);
    s.mean_ms = sum / static_cast<double>(kept.size()) / 1e3;
    const std::size_t mid = kept.size() / 2;
    std::nth_element(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(mid), kept.end());
    double median_us = static_cast<double>(kept[mid]);
    if (kept.size() % 2 == 0) {
        const std::int64_t below =
            *std::max_element(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(mid));
        median_us = (median_us + static_cast<double>(below)) / 2;
    }
    s.median_ms = median_us / 1e3;
    return s;
}

}  // namespace loadgen
