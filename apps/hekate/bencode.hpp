// Bencode (BEP 3): the parser and the writer behind .torrent files, tracker replies and the
// extension protocol.
//
// parse() builds a tree of values that keep a view of the bytes each was parsed from, so
// that the info-hash is the SHA-1 of exactly the bytes of the info dictionary as they were
// in the file (re-encoding would change it if the file is not canonical). Views point into
// the input, which must outlive the tree. Every malformation (truncation, leading zeros,
// "-0", integers beyond 64 bits, unsorted or duplicate keys are accepted as found, nesting
// deeper than the limit) throws bencode::error with the offset where it was found.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace hekate::bencode {

class error : public std::runtime_error {
  public:
    error(const std::string& what, std::size_t offset)
        : std::runtime_error(what + " at byte " + std::to_string(offset)), offset_(offset) {}
    std::size_t offset() const noexcept { return offset_; }

  private:
    std::size_t offset_;
};

struct value;
using list = std::vector<value>;
// Keys in the order of the input (bencode requires sorted keys; readers accept any order).
using dict = std::vector<std::pair<std::string_view, value>>;

struct value {
    std::variant<std::int64_t, std::string_view, list, dict> data;
    std::string_view raw;  // the encoded bytes of this value, inside the parsed input

    // Defined in bencode.cpp: defined in the class, they make clang 14 instantiate
    // ~vector<pair<string_view, value>> while that pair is still incomplete (a hard error).
    value() noexcept;
    value(const value&);
    value(value&&) noexcept;
    value& operator=(const value&);
    value& operator=(value&&) noexcept;
    ~value();

    bool is_int() const noexcept { return std::holds_alternative<std::int64_t>(data); }
    bool is_string() const noexcept { return std::holds_alternative<std::string_view>(data); }
    bool is_list() const noexcept { return std::holds_alternative<list>(data); }
    bool is_dict() const noexcept { return std::holds_alternative<dict>(data); }

    // Null when this is not of that type.
    const std::int64_t* as_int() const noexcept { return std::get_if<std::int64_t>(&data); }
    const std::string_view* as_string() const noexcept {
        return std::get_if<std::string_view>(&data);
    }
    const list* as_list() const noexcept { return std::get_if<list>(&data); }
    const dict* as_dict() const noexcept { return std::get_if<dict>(&data); }

    // The value of key in a dict (the first if repeated); null when absent or not a dict.
    const value* find(std::string_view key) const noexcept;
};

struct limits {
    std::size_t max_depth = 64;
};

// Parses exactly one value spanning all of `input`; trailing bytes are an error.
value parse(std::string_view input, limits lim = {});
// Parses one value at the start of `input` and sets `consumed` to its length (extension
// messages carry a bencoded dict followed by raw data).
value parse_prefix(std::string_view input, std::size_t& consumed, limits lim = {});

// Appends bencode to a string. The caller writes dict keys in sorted order.
class writer {
  public:
    writer& integer(std::int64_t v);
    writer& string(std::string_view s);
    writer& begin_list() {
        out_ += 'l';
        return *this;
    }
    writer& begin_dict() {
        out_ += 'd';
        return *this;
    }
    writer& end() {
        out_ += 'e';
        return *this;
    }
    // Appends already-encoded bencode (e.g. the raw info dictionary).
    writer& raw(std::string_view encoded) {
        out_ += encoded;
        return *this;
    }
    const std::string& str() const noexcept { return out_; }
    std::string take() noexcept { return std::move(out_); }

  private:
    std::string out_;
};

}  // namespace hekate::bencode
