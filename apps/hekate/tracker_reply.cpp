#include "tracker_reply.hpp"

#include <exception>

#include "bencode.hpp"
#include "compact_address.hpp"

namespace hekate {

namespace {

constexpr std::size_t kMaxPeers = 10'000;  // more is a hostile tracker, not a swarm

bool add_compact(std::string_view bytes, std::size_t size, std::vector<cpc::endpoint>& out) {
    if (bytes.size() % size != 0) return false;
    for (std::size_t i = 0; i < bytes.size() && out.size() < kMaxPeers; i += size) {
        const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + i);
        cpc::endpoint e = size == 6 ? from_compact4(p) : from_compact6(p);
        if (e.port() != 0) out.push_back(e);
    }
    return true;
}

// BEP 3's original form: a list of dicts with `ip` (numeric here: no name resolution on the
// loop) and `port`. Entries that do not fit are skipped, not fatal: other peers may be good.
void add_dicts(const bencode::list& peers, std::vector<cpc::endpoint>& out) {
    for (const bencode::value& p : peers) {
        if (out.size() >= kMaxPeers) return;
        const bencode::value* ip = p.find("ip");
        const bencode::value* port = p.find("port");
        if (!ip || !port || !ip->as_string() || !port->as_int()) continue;
        const std::int64_t n = *port->as_int();
        if (n <= 0 || n > 65535) continue;
        if (auto e = cpc::endpoint::from_host(*ip->as_string(), static_cast<std::uint16_t>(n))) {
            out.push_back(*e);
        }
    }
}

std::string as_text(const bencode::value* v) {
    if (!v || !v->as_string()) return {};
    return std::string(*v->as_string());
}

}  // namespace

std::string_view event_name(announce_event e) noexcept {
    switch (e) {
        case announce_event::started:
            return "started";
        case announce_event::stopped:
            return "stopped";
        case announce_event::completed:
            return "completed";
        case announce_event::none:
            break;
    }
    return {};
}

announce_result parse_tracker_reply(std::string_view body) {
    bencode::value root;
    try {
        root = bencode::parse(body);
    } catch (const std::exception& e) {
        return announce_result::failure(std::string("malformed tracker reply: ") + e.what());
    }
    if (!root.is_dict())
        return announce_result::failure("malformed tracker reply: not a dictionary");

    if (const bencode::value* failure = root.find("failure reason")) {
        std::string why = as_text(failure);
        if (why.empty()) why = "(no reason given)";
        return announce_result::failure("tracker refused: " + why, true);
    }

    tracker_reply reply;
    reply.warning = as_text(root.find("warning message"));
    reply.tracker_id = as_text(root.find("tracker id"));
    for (auto [key, field] :
         {std::pair{"interval", &reply.interval}, std::pair{"min interval", &reply.min_interval}}) {
        const bencode::value* v = root.find(key);
        if (!v) continue;
        if (!v->as_int() || *v->as_int() < 0) {
            return announce_result::failure(std::string("malformed tracker reply: bad `") + key +
                                            "`");
        }
        *field = *v->as_int();
    }
    for (auto [key, field] :
         {std::pair{"complete", &reply.complete}, std::pair{"incomplete", &reply.incomplete}}) {
        const bencode::value* v = root.find(key);
        if (v && v->as_int() && *v->as_int() >= 0) *field = *v->as_int();
    }

    const bencode::value* peers = root.find("peers");
    const bencode::value* peers6 = root.find("peers6");
    if (!peers && !peers6) return announce_result::failure("malformed tracker reply: no peers");
    if (peers) {
        if (const std::string_view* s = peers->as_string()) {
            if (!add_compact(*s, 6, reply.peers)) {
                return announce_result::failure(
                    "malformed tracker reply: `peers` is not a multiple of 6 bytes");
            }
        } else if (const bencode::list* l = peers->as_list()) {
            add_dicts(*l, reply.peers);
        } else {
            return announce_result::failure("malformed tracker reply: bad `peers`");
        }
    }
    if (peers6) {
        const std::string_view* s = peers6->as_string();
        if (!s || !add_compact(*s, 18, reply.peers)) {
            return announce_result::failure(
                "malformed tracker reply: `peers6` is not a multiple of 18 bytes");
        }
    }
    announce_result r;
    r.reply = std::move(reply);
    return r;
}

}  // namespace hekate
