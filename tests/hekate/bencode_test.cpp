// bencode: the parser's strictness (integers, strings, truncation, nesting), the raw spans
// the info-hash depends on, and the writer.
#include "bencode.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace {

using namespace hekate;

std::int64_t int_of(std::string_view in) {
    bencode::value v = bencode::parse(in);
    EXPECT_TRUE(v.is_int()) << in;
    return v.is_int() ? *v.as_int() : 0;
}

// The byte offset a parse failure reports.
std::size_t error_offset(std::string_view in, bencode::limits lim = {}) {
    try {
        bencode::parse(in, lim);
    } catch (const bencode::error& e) {
        return e.offset();
    }
    ADD_FAILURE() << "no error for " << in;
    return static_cast<std::size_t>(-1);
}

// Encodes a parsed tree again; for canonical input this gives back the input.
void encode(const bencode::value& v, bencode::writer& w) {
    if (const auto* i = v.as_int()) {
        w.integer(*i);
    } else if (const auto* s = v.as_string()) {
        w.string(*s);
    } else if (const auto* l = v.as_list()) {
        w.begin_list();
        for (const auto& item : *l)
            encode(item, w);
        w.end();
    } else {
        w.begin_dict();
        for (const auto& [k, item] : *v.as_dict()) {
            w.string(k);
            encode(item, w);
        }
        w.end();
    }
}

TEST(Bencode, Integers) {
    EXPECT_EQ(int_of("i0e"), 0);
    EXPECT_EQ(int_of("i42e"), 42);
    EXPECT_EQ(int_of("i-7e"), -7);
    EXPECT_EQ(int_of("i9223372036854775807e"), std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ(int_of("i-9223372036854775808e"), std::numeric_limits<std::int64_t>::min());
}

TEST(Bencode, RejectsLeadingZerosAndNegativeZero) {
    EXPECT_THROW(bencode::parse("i03e"), bencode::error);
    EXPECT_THROW(bencode::parse("i-03e"), bencode::error);
    EXPECT_THROW(bencode::parse("i00e"), bencode::error);
    EXPECT_THROW(bencode::parse("i-0e"), bencode::error);
    EXPECT_THROW(bencode::parse("03:abc"), bencode::error);
    EXPECT_THROW(bencode::parse("-0:"), bencode::error);
}

TEST(Bencode, RejectsMalformedIntegers) {
    for (const char* bad : {"ie", "i-e", "i+1e", "i1.5e", "i 1e", "i--1e", "i1-e", "i0x10e"}) {
        EXPECT_THROW(bencode::parse(bad), bencode::error) << bad;
    }
}

TEST(Bencode, RejectsIntegerOverflow) {
    EXPECT_THROW(bencode::parse("i9223372036854775808e"), bencode::error);
    EXPECT_THROW(bencode::parse("i-9223372036854775809e"), bencode::error);
    EXPECT_THROW(bencode::parse("i99999999999999999999999999e"), bencode::error);
    EXPECT_THROW(bencode::parse("99999999999999999999999:x"), bencode::error);
}

TEST(Bencode, Strings) {
    bencode::value v = bencode::parse("4:spam");
    ASSERT_TRUE(v.is_string());
    EXPECT_EQ(*v.as_string(), "spam");
    EXPECT_EQ(*bencode::parse("0:").as_string(), "");
    const std::string binary("3:a\0b", 5);
    EXPECT_EQ(*bencode::parse(binary).as_string(), std::string_view("a\0b", 3));
    EXPECT_THROW(bencode::parse("-1:a"), bencode::error);
}

TEST(Bencode, TruncationReportsWhere) {
    for (const char* bad : {"", "i42", "4:spa", "l", "li1e", "d", "d3:foo", "d3:fooi1e", "5"}) {
        EXPECT_THROW(bencode::parse(bad), bencode::error) << '"' << bad << '"';
    }
    EXPECT_EQ(error_offset("l4:spam"), 7u);
    EXPECT_EQ(error_offset("li1e9:ab"), 4u);
}

TEST(Bencode, RejectsTrailingDataAndStrayBytes) {
    EXPECT_THROW(bencode::parse("i1ei2e"), bencode::error);
    EXPECT_EQ(error_offset("i1ex"), 3u);
    EXPECT_THROW(bencode::parse("x"), bencode::error);
    EXPECT_THROW(bencode::parse("di1ei2ee"), bencode::error);  // key is not a string
    std::size_t consumed = 0;
    bencode::value v = bencode::parse_prefix("d1:ai1ee<raw piece data>", consumed);
    EXPECT_EQ(consumed, 8u);
    EXPECT_EQ(*v.find("a")->as_int(), 1);
}

TEST(Bencode, NestingLimit) {
    const bencode::limits lim{3};
    EXPECT_NO_THROW(bencode::parse("lllleeee", lim));  // depths 0..3
    EXPECT_THROW(bencode::parse("llllleeeee", lim), bencode::error);
    EXPECT_THROW(bencode::parse("d1:ad1:ad1:ad1:ad1:ai1eeeeee", lim), bencode::error);
    // The default limit stops a deep input long before the stack would.
    const std::string deep = std::string(100000, 'l') + std::string(100000, 'e');
    EXPECT_THROW(bencode::parse(deep), bencode::error);
    const std::string ok = std::string(60, 'l') + std::string(60, 'e');
    EXPECT_NO_THROW(bencode::parse(ok));
}

TEST(Bencode, RawSpansPointIntoTheInput) {
    // Unsorted keys, as found: raw must be exactly the bytes of the input.
    const std::string in = "d4:infod6:lengthi5e4:name1:xe1:ai1ee";
    bencode::value v = bencode::parse(in);
    EXPECT_EQ(v.raw, in);
    const bencode::value* info = v.find("info");
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->raw, "d6:lengthi5e4:name1:xe");
    EXPECT_EQ(info->raw.data(), in.data() + 7);
    EXPECT_EQ(info->find("length")->raw, "i5e");
    EXPECT_EQ(v.as_dict()->at(1).first, "a");
    EXPECT_EQ(v.find("missing"), nullptr);
    EXPECT_EQ(info->find("length")->find("x"), nullptr);  // not a dict
}

TEST(Bencode, FindReturnsTheFirstOfRepeatedKeys) {
    bencode::value v = bencode::parse("d1:ai1e1:ai2ee");
    EXPECT_EQ(*v.find("a")->as_int(), 1);
}

TEST(Bencode, WriterRoundTrip) {
    bencode::writer w;
    w.begin_dict()
        .string("announce")
        .string("http://t/a")
        .string("info")
        .begin_dict()
        .string("files")
        .begin_list()
        .begin_dict()
        .string("length")
        .integer(-12)
        .string("path")
        .begin_list()
        .string(std::string_view("a\0b", 3))
        .end()
        .end()
        .end()
        .string("n")
        .integer(std::numeric_limits<std::int64_t>::min())
        .end()
        .string("z")
        .string("")
        .end();
    const std::string encoded = w.str();
    bencode::value v = bencode::parse(encoded);
    EXPECT_EQ(*v.find("info")->find("n")->as_int(), std::numeric_limits<std::int64_t>::min());
    bencode::writer again;
    encode(v, again);
    EXPECT_EQ(again.str(), encoded);
    bencode::writer raw;
    raw.begin_list().raw(v.find("info")->raw).end();
    EXPECT_EQ(raw.take(), "l" + std::string(v.find("info")->raw) + "e");
}

}  // namespace
