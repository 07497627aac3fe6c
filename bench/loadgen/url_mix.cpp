#include "url_mix.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace loadgen {

std::optional<std::vector<weighted_url>> read_url_list(std::istream& in, std::string& error) {
    std::vector<weighted_url> urls;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        const std::size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') continue;
        std::istringstream fields(line);
        weighted_url u;
        std::string weight, bytes, extra;
        fields >> weight >> u.path >> bytes >> extra;
        const auto fail = [&](const std::string& what) {
            error = "line " + std::to_string(number) + ": " + what;
            return std::nullopt;
        };
        std::size_t used = 0;
        try {
            u.weight = std::stod(weight, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != weight.size() || !std::isfinite(u.weight) || u.weight <= 0)
            return fail("the weight \"" + weight + "\" is not a positive number");
        if (u.path.empty() || u.path.front() != '/')
            return fail("the path \"" + u.path + "\" does not start with /");
        if (!bytes.empty()) {
            if (bytes.find_first_not_of("0123456789") != std::string::npos || bytes.size() > 18)
                return fail("the length \"" + bytes + "\" is not a number of bytes");
            u.bytes = std::stoull(bytes);
        }
        if (!extra.empty()) return fail("more than WEIGHT PATH [BYTES]");
        urls.push_back(std::move(u));
    }
    if (urls.empty()) {
        error = "no URL";
        return std::nullopt;
    }
    return urls;
}

url_mix::url_mix(std::vector<weighted_url> urls, std::uint64_t seed)
    : urls_(std::move(urls)), rng_(seed) {
    double sum = 0;
    cumulative_.reserve(urls_.size());
    for (const weighted_url& u : urls_) {
        sum += u.weight;
        cumulative_.push_back(sum);
    }
}

std::size_t url_mix::next() {
    // 53 random bits make a double in [0, 1) exactly: the same on every platform.
    const double r = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * cumulative_.back();
    const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), r);
    // r < cumulative_.back() always, but rounding of the product could reach it.
    return std::min(static_cast<std::size_t>(it - cumulative_.begin()), urls_.size() - 1);
}

}  // namespace loadgen
