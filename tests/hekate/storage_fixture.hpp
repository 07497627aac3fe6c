// What the storage tests share: data files of a recognisable pattern, and a block's bytes read
// back (through copy_to, so a lost page is an error rather than a signal).
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "storage.hpp"

namespace hekate::test {

// n bytes of a pattern that differs with seed and does not repeat at the piece sizes used.
inline std::string pattern(std::size_t n, char seed) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>(seed + i * 7 % 61);
    return s;
}

// The bytes of b.
inline std::string read(const block& b) {
    std::string out(b.size(), '\xff');
    copy_to(b, std::span(reinterpret_cast<unsigned char*>(out.data()), out.size()));
    return out;
}

}  // namespace hekate::test
