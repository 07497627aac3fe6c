// A structure-aware mutator for HTTP requests: plain byte mutations rarely keep a request
// line valid, so most inputs would stop at the parser's first check. This one splits the
// input into a request line, header lines and the rest, and edits one of them: it rebuilds
// the request line from valid parts, mutates one header's value (bytes, by libFuzzer),
// inserts a header that httpd reads (Range, the conditionals, Host, Content-Length...),
// removes or duplicates a header line. One time in eight it mutates the raw bytes, so that
// malformed framing stays explored.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace httpd_fuzz {

inline std::string mutate_bytes(std::string s, std::size_t extra) {
    const std::size_t max = s.size() + extra;
    s.resize(max);
    const std::size_t n =
        LLVMFuzzerMutate(reinterpret_cast<std::uint8_t*>(s.data()), max - extra, max);
    s.resize(n);
    return s;
}

template <std::size_t N>
std::string_view pick(std::mt19937& rng, const std::string_view (&choices)[N]) {
    return choices[rng() % N];
}

inline std::string request_line(std::mt19937& rng) {
    static constexpr std::string_view methods[] = {"GET", "HEAD", "POST", "OPTIONS", "G-T"};
    static constexpr std::string_view targets[] = {"/",
                                                   "/index.html",
                                                   "/a/b/../c",
                                                   "/%2e%2e/x",
                                                   "/dir/",
                                                   "/x?y=1#f",
                                                   "http://h/p",
                                                   "/%00",
                                                   "/%41%42",
                                                   "*",
                                                   "/very/deep/path/file.txt"};
    static constexpr std::string_view versions[] = {"HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.12",
                                                    "HTTP/9"};
    std::string target(pick(rng, targets));
    if (rng() % 2) target = mutate_bytes(target, 16);
    if (target.empty()) target = "/";
    return std::string(pick(rng, methods)) + " " + target + " " + std::string(pick(rng, versions));
}

inline std::string header_line(std::mt19937& rng) {
    static constexpr std::string_view headers[] = {
        "Host: example.com",
        "Range: bytes=0-99",
        "Range: bytes=-500",
        "Range: bytes=100-",
        "Range: bytes=5-1",
        "Range: bytes=0-1,4-5",
        "If-None-Match: \"1-2-3\", W/\"x\"",
        "If-None-Match: *",
        "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT",
        "If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT",
        "If-Modified-Since: Sun Nov  6 08:49:37 1994",
        "If-Range: \"2a-1000-179d\"",
        "If-Range: Tue, 14 Nov 2023 22:13:20 GMT",
        "Content-Length: 5",
        "Content-Length: 18446744073709551616",
        "Transfer-Encoding: chunked",
        "Connection: close",
        "Connection: keep-alive, Upgrade",
    };
    std::string line(pick(rng, headers));
    if (rng() % 2) {  // keep the name and the colon, mutate the value
        const std::size_t colon = line.find(':') + 1;
        line = line.substr(0, colon) + mutate_bytes(line.substr(colon), 16);
    }
    return line;
}

// The request line, the header lines (without their "\r\n") and whatever follows the blank
// line that ends the head (a body, pipelined requests).
struct request_parts {
    std::string line;
    std::vector<std::string> headers;
    std::string rest;
};

inline request_parts split(std::string_view in) {
    request_parts p;
    const std::size_t end = in.find("\r\n\r\n");
    std::string_view head = in.substr(0, end);
    if (end != std::string_view::npos) p.rest = std::string(in.substr(end + 4));
    std::size_t nl = head.find("\r\n");
    p.line = std::string(head.substr(0, nl));
    while (nl != std::string_view::npos) {
        head.remove_prefix(nl + 2);
        nl = head.find("\r\n");
        p.headers.emplace_back(head.substr(0, nl));
    }
    return p;
}

inline std::string join(const request_parts& p) {
    std::string out = p.line + "\r\n";
    for (const std::string& h : p.headers)
        out += h + "\r\n";
    return out + "\r\n" + p.rest;
}

inline std::size_t mutate_request(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                  unsigned int seed) {
    std::mt19937 rng(seed);
    if (rng() % 8 == 0) return LLVMFuzzerMutate(data, size, max_size);
    request_parts p = split(std::string_view(reinterpret_cast<const char*>(data), size));
    switch (rng() % 6) {
        case 0:
            p.line = request_line(rng);
            break;
        case 1:
        case 2:
            p.headers.insert(p.headers.begin() + rng() % (p.headers.size() + 1), header_line(rng));
            break;
        case 3:
            if (!p.headers.empty()) p.headers.erase(p.headers.begin() + rng() % p.headers.size());
            break;
        case 4:
            if (!p.headers.empty()) {
                std::string& h = p.headers[rng() % p.headers.size()];
                const std::size_t colon = std::min(h.size(), h.find(':') + 1);
                h = h.substr(0, colon) + mutate_bytes(h.substr(colon), 16);
            }
            break;
        default:
            if (!p.headers.empty()) p.headers.push_back(p.headers[rng() % p.headers.size()]);
            break;
    }
    if (p.line.find(' ') == std::string::npos) p.line = request_line(rng);
    const std::string out = join(p);
    if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
    std::memcpy(data, out.data(), out.size());
    return out.size();
}

}  // namespace httpd_fuzz
