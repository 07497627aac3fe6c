// libFuzzer target: parse_metainfo on arbitrary bytes. It may only throw metainfo_error
// (anything else escapes and is reported as a crash); a torrent it accepts must satisfy
// every invariant the rest of hekate relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "metainfo.hpp"
#include "sha1.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void check_invariants(const hekate::metainfo& m, std::string_view in) {
    check(m.piece_length > 0);
    check(m.total_length > 0);
    check(!m.files.empty());
    check(m.pieces.size() == (m.total_length - 1) / m.piece_length + 1);
    check(in.find(m.info_bytes) != std::string_view::npos);
    check(m.hash == hekate::sha1_of(m.info_bytes));
    std::uint64_t offset = 0;
    for (const auto& f : m.files) {
        check(f.offset == offset);
        offset += f.length;
        check(!f.path.is_absolute());
        for (const auto& c : f.path)
            check(c != ".." && c != "." && !c.empty());
    }
    check(offset == m.total_length);
    std::uint64_t sum = 0;
    for (std::uint32_t i = 0; i < m.piece_count(); ++i) {
        const std::uint32_t s = m.piece_size(i);
        check(s > 0 && s <= m.piece_length);
        sum += s;
    }
    check(sum == m.total_length);
    for (const auto& tier : m.trackers) {
        check(!tier.empty());
        for (const auto& url : tier)
            check(!url.empty());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    try {
        const hekate::metainfo m = hekate::parse_metainfo(in);
        check_invariants(m, in);
    } catch (const hekate::metainfo_error&) {
    }
    return 0;
}
