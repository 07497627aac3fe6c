// libFuzzer target: the request parser, then what httpd derives from the headers it keeps
// (Range, If-None-Match, If-Modified-Since, If-Range). Bytes arrive as a client sends them:
// possibly several pipelined requests, split into reads at arbitrary points. Invariants:
// - the result does not depend on how the bytes were split into reads;
// - a parsed request's views lie within its own bytes, and obey the grammar that was checked;
// - a satisfiable range lies within the file; a date that parses formats back to itself.
// The custom mutator keeps a valid request line and edits the header block (see
// http_request_mutator.hpp).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http_request.hpp"
#include "http_request_mutator.hpp"
#include "http_response.hpp"

#include "fuzz_check.hpp"

namespace {

using fuzz::check;

bool within(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

struct outcome {
    httpd::parse_state state;
    int status;
    std::size_t consumed;
};

// Feeds growing prefixes of data, cut at points derived from the data itself.
outcome parse_in_reads(std::string_view data, httpd::request_parser& p) {
    std::size_t have = 0;
    std::uint32_t h = 2166136261u;
    for (unsigned char c : data)
        h = (h ^ c) * 16777619u;
    while (have < data.size()) {
        h = h * 1103515245u + 12345u;
        have = std::min(data.size(), have + 1 + (h >> 16) % 64);
        if (p.parse(data.substr(0, have)) != httpd::parse_state::incomplete) break;
    }
    return {p.parse(data.substr(0, have)), p.error_status(), p.consumed()};
}

void check_request(const httpd::request& r, std::string_view bytes,
                   const httpd::request_limits& limits) {
    for (std::string_view v :
         {r.method, r.target, r.host, r.if_modified_since, r.if_none_match, r.if_range, r.range}) {
        check(within(v, bytes));
    }
    check(!r.method.empty() && !r.target.empty() && r.target.size() <= limits.max_uri);
    for (char c : r.target)
        check(static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f);
    check((r.kind == httpd::method_kind::get) == (r.method == "GET"));
    check((r.kind == httpd::method_kind::head) == (r.method == "HEAD"));
    check(r.version_minor >= 0 && r.version_minor <= 9);
    check(r.version_minor == 0 || r.has_host);
    check(r.content_length <= limits.max_body);
}

void check_conditionals(const httpd::request& r) {
    for (std::uint64_t size : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{4096},
                               std::uint64_t{1} << 40, UINT64_MAX}) {
        const httpd::range_result rr = httpd::parse_range(r.range, size);
        if (rr.kind == httpd::range_kind::single) check(rr.first <= rr.last && rr.last < size);
        if (rr.kind != httpd::range_kind::none) check(!r.range.empty());
    }
    for (std::string_view date : {r.if_modified_since, r.if_range}) {
        if (const auto t = httpd::parse_http_date(date)) {
            check(httpd::parse_http_date(httpd::format_http_date(*t)) == t);
        }
    }
    const std::string etag = httpd::make_etag(4096, 1'700'000'000'000'000'000, 42);
    if (httpd::if_none_match_hits(r.if_none_match, etag)) check(!r.if_none_match.empty());
    (void)httpd::not_modified(r, etag, 1'700'000'000);
    (void)httpd::if_range_holds(r.if_range, etag, 1'700'000'000);
    if (r.if_range.empty()) check(httpd::if_range_holds(r.if_range, etag, 1'700'000'000));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    // Small limits as well as the default ones, so that every limit is reached.
    const httpd::request_limits small{64, 256, 4, 16};
    const httpd::request_limits limits =
        size > 0 && data[0] % 4 == 0 ? small : httpd::request_limits{};
    for (int pipelined = 0; pipelined < 8 && !in.empty(); ++pipelined) {
        httpd::request_parser whole(limits);
        const httpd::parse_state st = whole.parse(in);
        httpd::request_parser split(limits);
        const outcome o = parse_in_reads(in, split);
        check(o.state == st);
        if (st == httpd::parse_state::error) {
            check(o.status == whole.error_status());
            const int s = whole.error_status();
            check(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505);
            break;
        }
        if (st != httpd::parse_state::done) break;
        check(o.consumed == whole.consumed());
        check(whole.consumed() > 0 && whole.consumed() <= in.size());
        const std::string_view bytes = in.substr(0, whole.consumed());
        check_request(whole.get(), bytes, limits);
        check(split.get().target == whole.get().target && split.get().range == whole.get().range);
        check_conditionals(whole.get());
        in.remove_prefix(whole.consumed());
    }
    return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size,
                                               std::size_t max_size, unsigned int seed) {
    return httpd_fuzz::mutate_request(data, size, max_size, seed);
}
