// The announce exchange, whichever protocol carries it: what a tracker is asked, what it
// answers, and the parser of an HTTP tracker's bencoded reply (BEP 3, BEP 23 compact peers,
// BEP 7 peers6).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cpc/net.hpp"
#include "metainfo.hpp"

namespace hekate {

enum class announce_event { none, completed, started, stopped };  // BEP 15's numbering

// "started", "stopped", "completed"; empty for none.
std::string_view event_name(announce_event e) noexcept;

// What one announce tells the tracker about us.
struct announce_request {
    info_hash hash{};
    std::array<std::uint8_t, 20> peer_id{};
    std::uint16_t port = 0;
    std::uint64_t uploaded = 0;
    std::uint64_t downloaded = 0;
    std::uint64_t left = 0;
    announce_event event = announce_event::none;
    int numwant = 50;        // negative: the tracker's default
    std::uint32_t key = 0;   // lets the tracker recognise us if our address changes
    std::string tracker_id;  // echoed from the tracker's last reply, if it gave one
};

// A successful announce. Peers with port 0 or an address that is not numeric are dropped.
struct tracker_reply {
    std::vector<cpc::endpoint> peers;        // IPv4 and IPv6 together, in the tracker's order
    std::int64_t interval = 0;               // seconds; 0 when the tracker gave none
    std::int64_t min_interval = 0;           // seconds; 0 when the tracker gave none
    std::optional<std::int64_t> complete;    // seeders, when told
    std::optional<std::int64_t> incomplete;  // leechers, when told
    std::string warning;                     // `warning message`, empty if none
    std::string tracker_id;                  // to send back in later announces (BEP 3)
};

// The outcome of one announce: a reply, or why there is none (the tracker's `failure reason`,
// a malformed reply, a network error, a timeout). Never both.
struct announce_result {
    std::optional<tracker_reply> reply;
    std::string error;
    bool refused = false;  // the tracker answered with a `failure reason`

    explicit operator bool() const noexcept { return reply.has_value(); }
    static announce_result failure(std::string message, bool refused = false) {
        announce_result r;
        r.error = std::move(message);
        r.refused = refused;
        return r;
    }
};

// Parses an HTTP tracker's body. Every malformation (not bencode, not a dict, a compact peer
// string whose length is not a multiple of 6 or 18, negative intervals...) gives an error
// naming it; nothing throws.
announce_result parse_tracker_reply(std::string_view body);

}  // namespace hekate
