// The HTTP(S) tracker client (BEP 3): the announce URL, and the request made with libcurl's
// blocking interface on a pool thread (cpc::detached), as CPC's paper did with blocking
// libraries.
#pragma once

#include <atomic>
#include <chrono>
#include <cpc/task.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "cpc/net.hpp"
#include "tracker_reply.hpp"

namespace hekate {

// Percent-encodes every byte but RFC 3986's unreserved ones (A-Z a-z 0-9 - . _ ~).
std::string percent_encode(std::string_view bytes);

// `base` with the announce's query appended (after '&' if base already has a '?'):
// info_hash, peer_id, port, uploaded, downloaded, left, compact=1, numwant, key, and event
// and trackerid when set.
std::string announce_url(std::string_view base, const announce_request& req);

struct http_options {
    std::optional<cpc::endpoint> bind;  // local address of the connection (its port is not used)
    bool ipv4 = true;                   // at least one of the two
    bool ipv6 = true;
    std::chrono::milliseconds timeout{15'000};  // the whole request
    std::chrono::milliseconds connect_timeout{10'000};
    std::size_t max_body = 1 << 20;  // a longer reply is an error
};

// GETs `url` (http:// or https://, up to 3 redirects within those) and parses the reply.
// Blocks the calling kernel thread for at most opts.timeout; when `cancel` becomes true the
// transfer is abandoned within about a second. Never throws.
announce_result http_announce_blocking(const std::string& url, const http_options& opts,
                                       const std::atomic<bool>* cancel = nullptr);

// The same on the default pool, leaving the loop free meanwhile. `cancel` must outlive the
// task; it is read from the pool thread.
cpc::task<announce_result> http_announce(std::string url, http_options opts,
                                         const std::atomic<bool>* cancel = nullptr);

}  // namespace hekate
