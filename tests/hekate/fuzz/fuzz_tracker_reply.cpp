// libFuzzer target: an HTTP tracker's reply body, as parse_tracker_reply() reads it for the
// announcer. Invariants:
// - there is a reply or an error, never both, and a refusal is an error;
// - a reply's intervals are not negative, its counts are not negative when given, it holds
//   at most 10,000 peers, each with an IPv4 or IPv6 address and a port other than 0;
// - the reply written back as a compact tracker reply parses to the same values, its peers
//   in the same order within each family.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "bencode.hpp"
#include "compact_address.hpp"
#include "tracker_reply.hpp"

#include "fuzz_check.hpp"

namespace {

using namespace hekate;

using fuzz::check;

std::string encode_compact(const tracker_reply& r) {
    std::string peers4, peers6;
    for (const cpc::endpoint& e : r.peers)
        append_compact(e.family() == AF_INET ? peers4 : peers6, e);
    bencode::writer w;
    w.begin_dict();  // keys in sorted order, as bencode requires
    if (r.complete) w.string("complete").integer(*r.complete);
    if (r.incomplete) w.string("incomplete").integer(*r.incomplete);
    w.string("interval").integer(r.interval);
    w.string("min interval").integer(r.min_interval);
    w.string("peers").string(peers4);
    if (!peers6.empty()) w.string("peers6").string(peers6);
    if (!r.tracker_id.empty()) w.string("tracker id").string(r.tracker_id);
    if (!r.warning.empty()) w.string("warning message").string(r.warning);
    w.end();
    return w.take();
}

std::vector<cpc::endpoint> by_family(const std::vector<cpc::endpoint>& peers) {
    std::vector<cpc::endpoint> out;
    for (int family : {AF_INET, AF_INET6}) {
        for (const cpc::endpoint& e : peers)
            if (e.family() == family) out.push_back(e);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const announce_result r = parse_tracker_reply(body);
    check(r.reply.has_value() == r.error.empty());
    if (r.refused) check(!r.reply);
    if (!r.reply) return 0;
    const tracker_reply& t = *r.reply;
    check(t.interval >= 0 && t.min_interval >= 0);
    check(!t.complete || *t.complete >= 0);
    check(!t.incomplete || *t.incomplete >= 0);
    check(t.peers.size() <= 10'000);
    for (const cpc::endpoint& e : t.peers)
        check((e.family() == AF_INET || e.family() == AF_INET6) && e.port() != 0);

    const announce_result again = parse_tracker_reply(encode_compact(t));
    check(again.reply.has_value());
    const tracker_reply& u = *again.reply;
    check(u.interval == t.interval && u.min_interval == t.min_interval);
    check(u.complete == t.complete && u.incomplete == t.incomplete);
    check(u.warning == t.warning && u.tracker_id == t.tracker_id);
    check(u.peers == by_family(t.peers));
    return 0;
}
