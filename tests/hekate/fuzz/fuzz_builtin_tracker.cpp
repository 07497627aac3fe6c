// libFuzzer target: what a client sends to hekate's built-in tracker: a request head, whose
// request line request_target() checks and whose query string handle() reads. One tracker
// lives through the whole run (small limits keep its memory bounded), so that announces meet
// the swarms earlier inputs made. The first input byte picks the client's address (IPv4,
// IPv6, IPv4-mapped IPv6). Invariants:
// - a target is a view into the head's first line;
// - every answer is 200, 400 or 404 with a bencoded dictionary: a `failure reason`, or a
//   reply that the announcer's own parser accepts, with no more peers than the counts allow
//   and the numwant limit, and no peer twice.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "bencode.hpp"
#include "builtin_tracker.hpp"
#include "compact_address.hpp"
#include "tracker_reply.hpp"

#include "fuzz_check.hpp"

namespace {

using namespace hekate;

using fuzz::check;

builtin_tracker& the_tracker() {
    static builtin_tracker t([] {
        builtin_tracker_config c;
        c.max_torrents = 64;
        c.max_peers = 64;
        c.max_numwant = 50;
        return c;
    }());
    return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static const cpc::endpoint clients[] = {*cpc::endpoint::parse("192.0.2.7:51413"),
                                            *cpc::endpoint::parse("[2001:db8::7]:51413"),
                                            *cpc::endpoint::parse("[::ffff:192.0.2.8]:6881")};
    const cpc::endpoint& from = clients[data[0] % 3];
    const std::string_view head(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::optional<std::string_view> target = builtin_tracker::request_target(head);
    if (!target) return 0;
    const std::string_view line = head.substr(0, head.find("\r\n"));
    check(target->data() >= line.data() &&
          target->data() + target->size() <= line.data() + line.size());

    const builtin_tracker::answer a = the_tracker().handle(*target, from);
    check(a.status == 200 || a.status == 400 || a.status == 404);
    const bencode::value v = bencode::parse(a.body);
    check(v.is_dict());
    if (v.find("failure reason")) return 0;
    check(a.status == 200);
    const announce_result r = parse_tracker_reply(a.body);
    check(r.reply && r.reply->complete && r.reply->incomplete);
    const std::int64_t others = *r.reply->complete + *r.reply->incomplete;
    check(static_cast<std::int64_t>(r.reply->peers.size()) <= others);
    check(r.reply->peers.size() <= 50);
    std::set<std::string> distinct;
    for (const cpc::endpoint& e : r.reply->peers) {
        std::string compact;
        append_compact(compact, e);
        check(distinct.insert(compact).second);
    }
    return 0;
}
