#include "builtin_tracker.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cpc/io.hpp>
#include <cpc/sleep.hpp>
#include <cpc/task_group.hpp>
#include <cpc/with_timeout.hpp>
#include <cstring>
#include <optional>
#include <random>
#include <vector>

#include "bencode.hpp"
#include "compact_address.hpp"

namespace hekate {

namespace {

using clock = std::chrono::steady_clock;

builtin_tracker::answer failure(std::string_view why, int status = 200) {
    bencode::writer w;
    w.begin_dict().string("failure reason").string(why).end();
    return {status, w.take()};
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) return std::nullopt;
        const int hi = hex_digit(s[i + 1]);
        const int lo = hex_digit(s[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

template <class T>
std::optional<T> number(std::string_view s) {
    T v{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

// A client reaching a dual-stack socket over IPv4 appears as ::ffff:a.b.c.d.
cpc::endpoint unmapped(const cpc::endpoint& e) {
    if (e.family() != AF_INET6) return e;
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(e.address());
    if (!IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) return e;
    unsigned char compact[6];
    std::memcpy(compact, v6->sin6_addr.s6_addr + 12, 4);
    std::memcpy(compact + 4, &v6->sin6_port, 2);
    return from_compact4(compact);
}

}  // namespace

std::optional<std::string_view> builtin_tracker::request_target(std::string_view head) noexcept {
    // "GET <target> HTTP/1.x"
    const std::string_view line = head.substr(0, head.find("\r\n"));
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1 || line.substr(0, sp1) != "GET" ||
        line.substr(sp2 + 1, 7) != "HTTP/1.") {
        return std::nullopt;
    }
    return line.substr(sp1 + 1, sp2 - sp1 - 1);
}

builtin_tracker::builtin_tracker(builtin_tracker_config cfg) : cfg_(cfg) {
    if (cfg_.peer_ttl <= std::chrono::milliseconds::zero()) cfg_.peer_ttl = 2 * cfg_.interval;
}

std::size_t builtin_tracker::peer_count(const info_hash& hash) const {
    const auto it = swarms_.find(hash);
    return it == swarms_.end() ? 0 : it->second.size();
}

void builtin_tracker::expire(swarm& s, clock::time_point now) const {
    std::erase_if(s, [&](const auto& kv) { return now - kv.second.seen > cfg_.peer_ttl; });
}

void builtin_tracker::sweep(clock::time_point now) {
    if (now - last_sweep_ < cfg_.peer_ttl) return;
    last_sweep_ = now;
    for (auto it = swarms_.begin(); it != swarms_.end();) {
        expire(it->second, now);
        it = it->second.empty() ? swarms_.erase(it) : std::next(it);
    }
}

builtin_tracker::answer builtin_tracker::handle(std::string_view target,
                                                const cpc::endpoint& from) {
    const std::size_t q = target.find('?');
    if (target.substr(0, q) != "/announce") return failure("not found: use /announce", 404);
    std::string_view query =
        q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

    std::optional<std::string> hash, id, event, ip;
    std::optional<std::uint16_t> port;
    std::optional<int> numwant;
    std::optional<std::uint64_t> left;
    while (!query.empty()) {
        const std::string_view pair = query.substr(0, query.find('&'));
        query.remove_prefix(std::min(query.size(), pair.size() + 1));
        const std::size_t eq = pair.find('=');
        const std::string_view key = pair.substr(0, eq);
        const std::optional<std::string> value =
            percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        if (!value) return failure("malformed percent-encoding");
        if (key == "info_hash") {
            hash = value;
        } else if (key == "peer_id") {
            id = value;
        } else if (key == "port") {
            port = number<std::uint16_t>(*value);
            if (!port || *port == 0) return failure("bad port");
        } else if (key == "event") {
            event = value;
        } else if (key == "ip") {
            ip = value;
        } else if (key == "numwant") {
            numwant = number<int>(*value);
        } else if (key == "left") {
            left = number<std::uint64_t>(*value);
        }
    }
    if (!hash || hash->size() != 20) return failure("info_hash must be 20 bytes");
    if (!id || id->size() != 20) return failure("peer_id must be 20 bytes");
    if (!port) return failure("port missing");
    if (event && !event->empty() && *event != "started" && *event != "stopped" &&
        *event != "completed" && *event != "paused") {
        return failure("unknown event");
    }

    cpc::endpoint address = unmapped(from);
    if (ip && !ip->empty()) {
        const std::optional<cpc::endpoint> given = cpc::endpoint::from_host(*ip, *port);
        if (!given) return failure("ip must be a numeric address");
        address = unmapped(*given);
    }
    if (address.family() != AF_INET && address.family() != AF_INET6) {
        return failure("unsupported address family");
    }
    address.set_port(*port);
    std::string key;
    append_compact(key, address);

    info_hash ih{};
    std::memcpy(ih.data(), hash->data(), 20);
    const clock::time_point now = clock::now();
    sweep(now);
    auto found = swarms_.find(ih);
    if (found == swarms_.end()) {
        if (event && *event == "stopped") return failure("unknown torrent");
        if (swarms_.size() >= cfg_.max_torrents) return failure("tracker full");
        found = swarms_.emplace(ih, swarm{}).first;
    }
    swarm& s = found->second;
    expire(s, now);

    bool stopped = event && *event == "stopped";
    if (stopped) {
        s.erase(key);
    } else {
        auto it = s.find(key);
        if (it == s.end()) {
            if (s.size() >= cfg_.max_peers) return failure("swarm full");
            it = s.emplace(key, peer{}).first;
        }
        peer& p = it->second;
        std::memcpy(p.id.data(), id->data(), 20);
        p.address = address;
        p.seed = left && *left == 0;
        p.seen = now;
    }

    std::int64_t complete = 0;
    std::vector<const peer*> others;
    others.reserve(s.size());
    for (const auto& [k, p] : s) {
        complete += p.seed ? 1 : 0;
        if (k != key && std::memcmp(p.id.data(), id->data(), 20) != 0) others.push_back(&p);
    }
    const std::int64_t incomplete = static_cast<std::int64_t>(s.size()) - complete;
    if (s.empty()) swarms_.erase(found);

    int want = numwant ? std::clamp(*numwant, 0, cfg_.max_numwant) : cfg_.default_numwant;
    if (stopped) want = 0;
    if (others.size() > static_cast<std::size_t>(want)) {
        static thread_local std::mt19937 random(std::random_device{}());
        std::shuffle(others.begin(), others.end(), random);
        others.resize(static_cast<std::size_t>(want));
    }
    std::string peers4, peers6;
    for (const peer* p : others)
        append_compact(p->address.family() == AF_INET ? peers4 : peers6, p->address);

    bencode::writer w;
    w.begin_dict();
    w.string("complete").integer(complete);
    w.string("incomplete").integer(incomplete);
    w.string("interval").integer(cfg_.interval.count());
    w.string("min interval").integer(cfg_.interval.count());
    w.string("peers").string(peers4);
    if (!peers6.empty()) w.string("peers6").string(peers6);
    w.end();
    return {200, w.take()};
}

cpc::task<void> builtin_tracker::serve(int listen_fd, cpc::condvar& stop, const bool* stopping) {
    cpc::task_group group;
    try {
        while (!stopping || !*stopping) {
            sockaddr_storage addr{};
            socklen_t len = sizeof addr;
            const cpc::accept_result a =
                co_await cpc::accept(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, &stop);
            if (!a) {
                if (a.error == std::errc::operation_canceled) break;
                // Out of descriptors (or a transient error): breathe instead of spinning.
                const bool slept = co_await cpc::sleep(std::chrono::milliseconds(100), &stop);
                if (!slept) break;
                continue;
            }
            if (live_ >= cfg_.max_connections) {
                cpc::close(a.fd);
                continue;
            }
            ++live_;
            // Never empty: the tracker listens on IPv4 or IPv6, and accepts only from its family.
            group.spawn(connection(
                a.fd, cpc::endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&addr), len)
                          .value_or(cpc::endpoint{})));
        }
    } catch (...) {
    }
    stopping_ = true;
    hangup_.signal_all();
    try {
        co_await group.join();
    } catch (...) {
    }
}

cpc::task<bool> builtin_tracker::read_head(int fd, std::string& head) {
    char chunk[1024];
    for (;;) {
        if (stopping_) co_return false;
        const cpc::io_result r = co_await cpc::read(fd, chunk, sizeof chunk, &hangup_);
        if (!r || r.bytes == 0) co_return false;
        head.append(chunk, r.bytes);
        if (head.find("\r\n\r\n") != std::string::npos) co_return true;
        if (head.size() > cfg_.max_request) co_return false;
    }
}

cpc::task<void> builtin_tracker::connection(int fd, cpc::endpoint from) {
    const cpc::unique_fd owned(fd);  // closed however the connection ends
    try {
        std::string head;
        const std::optional<bool> complete =
            co_await cpc::with_timeout(cfg_.read_timeout, read_head(fd, head));
        answer a;
        if (!complete || !*complete) {
            // Too long, too slow, or the client left: a 400 for the first two, if possible.
            if (head.empty() || stopping_) {
                --live_;
                co_return;
            }
            a = failure("bad request", 400);
        } else {
            const std::optional<std::string_view> target = request_target(head);
            a = target ? handle(*target, from) : failure("bad request", 400);
        }
        const char* reason = a.status == 200 ? "OK" : a.status == 404 ? "Not Found" : "Bad Request";
        std::string response =
            "HTTP/1.0 " + std::to_string(a.status) + " " + reason +
            "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(a.body.size()) +
            "\r\nConnection: close\r\n\r\n";
        response += a.body;
        co_await cpc::with_timeout(cfg_.write_timeout,
                                   cpc::write(fd, response.data(), response.size(), &hangup_));
    } catch (...) {
    }
    --live_;
}

}  // namespace hekate
