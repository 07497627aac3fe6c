// The little HTTP that loadgen speaks: a target URL of the form http://HOST:PORT/path (HOST a
// dotted IPv4 address or "localhost"), the request it sends, and the head of the response
// (status, Content-Length, whether the connection stays open). Unit-tested in stats_test.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <cpc/net.hpp>

namespace loadgen {

struct url {
    std::string host;  // as written
    std::uint16_t port = 80;
    cpc::endpoint address;  // host's IPv4 address ("localhost": 127.0.0.1) and port
    std::string path = "/";
};

// http://HOST[:PORT][/path]; nullopt for anything else (https, names other than localhost,
// IPv6, user info).
std::optional<url> parse_url(std::string_view s);

// The request for one URL: HTTP/1.0 with a new connection per request; HTTP/1.1 (persistent
// by default) with `keep_alive`.
std::string make_request(const url& u, bool keep_alive);

struct response_head {
    int status = 0;
    int minor_version = 0;  // HTTP/1.x
    std::optional<std::size_t> content_length;
    bool keep_alive = false;       // the server leaves the connection open after the body
    std::size_t header_bytes = 0;  // status line and headers, with the empty line
};

enum class head_state { incomplete, bad, done };

// Parses the head of a response from the bytes received so far.
head_state parse_head(std::string_view received, response_head& out);

}  // namespace loadgen
