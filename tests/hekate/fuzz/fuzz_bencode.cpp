// libFuzzer target: bencode::parse on arbitrary bytes. Besides not crashing, whatever it
// accepts must encode back to exactly the input (the parser accepts only canonical bencode,
// keys in the order found) and every raw span must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bencode.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void encode(const hekate::bencode::value& v, hekate::bencode::writer& w, std::string_view in) {
    check(v.raw.data() >= in.data() && v.raw.data() + v.raw.size() <= in.data() + in.size());
    if (const auto* i = v.as_int()) {
        w.integer(*i);
    } else if (const auto* s = v.as_string()) {
        w.string(*s);
    } else if (const auto* l = v.as_list()) {
        w.begin_list();
        for (const auto& item : *l)
            encode(item, w, in);
        w.end();
    } else {
        w.begin_dict();
        for (const auto& [k, item] : *v.as_dict()) {
            w.string(k);
            encode(item, w, in);
        }
        w.end();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    try {
        const hekate::bencode::value v = hekate::bencode::parse(in);
        check(v.raw == in);
        hekate::bencode::writer w;
        encode(v, w, in);
        check(w.str() == in);
    } catch (const hekate::bencode::error& e) {
        check(e.offset() <= size);
    }
    try {
        std::size_t consumed = 0;
        const hekate::bencode::value v = hekate::bencode::parse_prefix(in, consumed);
        check(consumed <= size && v.raw == in.substr(0, consumed));
    } catch (const hekate::bencode::error&) {
    }
    return 0;
}
