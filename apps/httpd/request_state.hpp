// Internal to the server (server.cpp, connection.cpp, request_state.cpp): the buffer and the
// parser of the request a connection is reading, and their recycling.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include "http_request.hpp"
#include "server.hpp"

namespace httpd {

// How many freed request states a server keeps for its next requests.
inline constexpr std::size_t kSpareStates = 8;

// What a request needs while it is read and answered; allocated when bytes arrive, freed
// when the connection is idle again. One allocation: the buffer starts inside, sized for
// the usual request (and what is pipelined after it), and moves to the heap, growing on
// demand, only for a request that does not fit, up to what the limits allow (the longest
// head and body, and some slack for the blank lines tolerated before a request line). It is
// never zero-filled: bytes are only looked at after a read has put them there.
//
// Freed states are recycled: the server keeps a few for the next requests (kSpareStates,
// with their inline buffer only), so that a request usually allocates nothing. They belong
// to the server, not to the idle connections, which still hold no buffer.
struct server::request_state {
    static constexpr std::size_t kInlineBytes = 4096;

    request_state(server& s, const request_limits& l)
        : owner(s), parser(l), max_capacity(largest(l)), capacity(first_capacity(l)) {}
    static std::size_t largest(const request_limits& l) noexcept {
        return l.max_header_bytes + l.max_body + 1024;
    }
    // What a new (or cleared) state holds before it grows.
    static std::size_t first_capacity(const request_limits& l) noexcept {
        return std::min(kInlineBytes, largest(l));
    }
    request_state(const request_state&) = delete;
    request_state& operator=(const request_state&) = delete;

    std::string_view data() const noexcept { return {buf, len}; }
    // What the bytes received so far make: 0 for a complete request, the status of a
    // refusal, or nothing yet (more must be read).
    std::optional<int> parsed() noexcept {
        switch (parser.parse(data())) {
            case parse_state::done:
                return 0;
            case parse_state::error:
                return parser.error_status();
            default:
                return std::nullopt;
        }
    }
    // As new, for another request.
    void clear() noexcept {
        parser.reset();
        len = 0;
        heap.reset();
        buf = inline_buf;
        capacity = std::min(kInlineBytes, max_capacity);
    }
    // Room for more bytes after len == capacity: false when the limits are reached. The
    // bytes move: the parser keeps offsets, and makes its views from the last data.
    bool grow() {
        if (capacity >= max_capacity) return false;
        const std::size_t to = std::min(capacity * 2, max_capacity);
        std::unique_ptr<char[]> bigger = std::make_unique_for_overwrite<char[]>(to);
        std::memcpy(bigger.get(), buf, len);
        heap = std::move(bigger);
        buf = heap.get();
        capacity = to;
        return true;
    }

    server& owner;
    request_parser parser;
    const std::size_t max_capacity;
    std::size_t capacity;
    std::size_t len = 0;
    char* buf = inline_buf;
    std::unique_ptr<char[]> heap;   // once grown
    char inline_buf[kInlineBytes];  // left uninitialised (a user-provided constructor)
};

}  // namespace httpd
