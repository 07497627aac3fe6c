#include "bencode.hpp"

#include <charconv>
#include <limits>

namespace hekate::bencode {

value::value() noexcept = default;
value::value(const value&) = default;
value::value(value&&) noexcept = default;
value& value::operator=(const value&) = default;
value& value::operator=(value&&) noexcept = default;
value::~value() = default;

const value* value::find(std::string_view key) const noexcept {
    const dict* d = as_dict();
    if (!d) return nullptr;
    for (const auto& [k, v] : *d) {
        if (k == key) return &v;
    }
    return nullptr;
}

namespace {

class parser {
  public:
    parser(std::string_view in, limits lim) : in_(in), lim_(lim) {}

    value parse_value(std::size_t depth) {
        if (depth > lim_.max_depth) throw error("nesting too deep", pos_);
        if (pos_ >= in_.size()) throw error("truncated input", pos_);
        std::size_t start = pos_;
        value v;
        char c = in_[pos_];
        if (c == 'i') {
            ++pos_;
            v.data = parse_integer('e');
        } else if (c >= '0' && c <= '9') {
            v.data = parse_string();
        } else if (c == 'l') {
            ++pos_;
            list items;
            while (peek() != 'e')
                items.push_back(parse_value(depth + 1));
            ++pos_;
            v.data = std::move(items);
        } else if (c == 'd') {
            ++pos_;
            dict items;
            while (peek() != 'e') {
                if (in_[pos_] < '0' || in_[pos_] > '9')
                    throw error("dictionary key is not a string", pos_);
                std::string_view key = parse_string();
                items.emplace_back(key, parse_value(depth + 1));
            }
            ++pos_;
            v.data = std::move(items);
        } else {
            throw error(std::string("unexpected character '") + printable(c) + "'", pos_);
        }
        v.raw = in_.substr(start, pos_ - start);
        return v;
    }

    std::size_t position() const noexcept { return pos_; }

  private:
    static std::string printable(char c) {
        if (c >= 0x20 && c < 0x7f) return std::string(1, c);
        static const char hex[] = "0123456789abcdef";
        unsigned char u = static_cast<unsigned char>(c);
        return std::string("\\x") + hex[u >> 4] + hex[u & 15];
    }

    char peek() const {
        if (pos_ >= in_.size()) throw error("truncated input", pos_);
        return in_[pos_];
    }

    // Digits up to `terminator`, with bencode's rules: no leading zeros, no "-0", no "+".
    std::int64_t parse_integer(char terminator) {
        std::size_t start = pos_;
        std::size_t end = in_.find(terminator, pos_);
        if (end == std::string_view::npos) throw error("truncated integer", start);
        std::string_view digits = in_.substr(start, end - start);
        bool negative = !digits.empty() && digits[0] == '-';
        std::string_view magnitude = negative ? digits.substr(1) : digits;
        if (magnitude.empty()) throw error("empty integer", start);
        for (char d : magnitude) {
            if (d < '0' || d > '9') throw error("invalid integer", start);
        }
        if (magnitude.size() > 1 && magnitude[0] == '0')
            throw error("integer with leading zero", start);
        if (negative && magnitude == "0") throw error("negative zero", start);
        std::int64_t v = 0;
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
        if (ec != std::errc{} || ptr != digits.data() + digits.size()) {
            throw error("integer out of range", start);
        }
        pos_ = end + 1;
        return v;
    }

    std::string_view parse_string() {
        std::size_t start = pos_;
        std::int64_t len = parse_integer(':');
        if (len < 0) throw error("negative string length", start);
        if (static_cast<std::uint64_t>(len) > in_.size() - pos_)
            throw error("truncated string", start);
        std::string_view s = in_.substr(pos_, static_cast<std::size_t>(len));
        pos_ += static_cast<std::size_t>(len);
        return s;
    }

    std::string_view in_;
    limits lim_;
    std::size_t pos_ = 0;
};

}  // namespace

value parse_prefix(std::string_view input, std::size_t& consumed, limits lim) {
    parser p(input, lim);
    value v = p.parse_value(0);
    consumed = p.position();
    return v;
}

value parse(std::string_view input, limits lim) {
    std::size_t consumed = 0;
    value v = parse_prefix(input, consumed, lim);
    if (consumed != input.size()) throw error("trailing data after the value", consumed);
    return v;
}

writer& writer::integer(std::int64_t v) {
    out_ += 'i';
    out_ += std::to_string(v);
    out_ += 'e';
    return *this;
}

writer& writer::string(std::string_view s) {
    out_ += std::to_string(s.size());
    out_ += ':';
    out_ += s;
    return *this;
}

}  // namespace hekate::bencode
