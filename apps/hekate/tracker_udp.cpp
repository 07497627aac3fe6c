#include "tracker_udp.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cpc/attach.hpp>
#include <cpc/io.hpp>
#include <cpc/with_timeout.hpp>
#include <cstring>
#include <system_error>
#include <vector>

#include "udp_tracker_packet.hpp"

namespace hekate {

namespace {

constexpr std::uint64_t kProtocolId = 0x41727101980;

void put(std::string& out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i)
        out += static_cast<char>((v >> (8 * i)) & 0xff);
}

struct wait_outcome {
    std::string datagram;  // the answer, when found
    std::string error;     // fatal: no retry helps
    bool refused = false;
    bool timed_out = false;
};

// Sends `packet` once and waits up to `timeout` for the datagram answering `tid` with
// `action` (or an error datagram); datagrams for other transactions are ignored.
cpc::task<wait_outcome> send_and_wait(int fd, const std::string& packet, std::uint32_t tid,
                                      std::uint32_t action, std::size_t min_size,
                                      std::chrono::milliseconds timeout, cpc::condvar* interrupt) {
    wait_outcome out;
    const cpc::io_result sent = co_await cpc::send(fd, packet.data(), packet.size(), 0, interrupt);
    if (!sent) {
        out.error = sent.error == std::errc::operation_canceled
                        ? "cancelled"
                        : "udp send: " + sent.error.message();
        co_return out;
    }
    // The loops' clock, in nanoseconds: what is left goes to with_timeout as it is.
    const cpc::monotonic_clock::time_point deadline = cpc::monotonic_clock::now() + timeout;
    std::vector<char> buf(65536);
    for (;;) {
        const std::chrono::nanoseconds left = deadline - cpc::monotonic_clock::now();
        if (left.count() <= 0) break;
        const std::optional<cpc::io_result> got =
            co_await cpc::with_timeout(left, cpc::recv(fd, buf.data(), buf.size(), 0, interrupt));
        if (!got) break;
        if (!*got) {
            out.error = got->error == std::errc::operation_canceled
                            ? "cancelled"
                            : "udp receive: " + got->error.message();
            co_return out;
        }
        const std::string_view d(buf.data(), got->bytes);
        const udp_packet::verdict v = udp_packet::classify(d, tid, action, min_size);
        if (v == udp_packet::verdict::ignore) continue;
        if (v == udp_packet::verdict::refused) {
            out.error = "tracker refused: " + std::string(d.substr(8));
            out.refused = true;
            co_return out;
        }
        out.datagram = std::string(d);
        co_return out;
    }
    out.timed_out = true;
    co_return out;
}

bool family_allowed(int family, const udp_options& o) {
    if (o.bind && o.bind->family() != family) return false;
    return family == AF_INET ? o.ipv4 : family == AF_INET6 && o.ipv6;
}

std::optional<cpc::endpoint> resolve_blocking(const std::string& host, std::uint16_t port,
                                              udp_options o) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_family = AF_UNSPEC;
    addrinfo* list = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list) != 0) {
        return std::nullopt;
    }
    std::optional<cpc::endpoint> found;
    for (addrinfo* a = list; a && !found; a = a->ai_next) {
        if (family_allowed(a->ai_family, o))
            found = cpc::endpoint::from_sockaddr(a->ai_addr, a->ai_addrlen);
    }
    ::freeaddrinfo(list);
    return found;
}

}  // namespace

std::optional<udp_address> parse_udp_url(std::string_view url) {
    constexpr std::string_view scheme = "udp://";
    if (url.substr(0, scheme.size()) != scheme) return std::nullopt;
    std::string_view rest = url.substr(scheme.size());
    rest = rest.substr(0, rest.find_first_of("/?#"));
    std::string_view host;
    std::string_view port;
    if (!rest.empty() && rest.front() == '[') {
        const std::size_t close = rest.find(']');
        if (close == std::string_view::npos || rest.substr(close + 1, 1) != ":")
            return std::nullopt;
        host = rest.substr(1, close - 1);
        port = rest.substr(close + 2);
    } else {
        const std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
    }
    unsigned n = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (host.empty() || ec != std::errc{} || end != port.data() + port.size() || n == 0 ||
        n > 65535) {
        return std::nullopt;
    }
    return udp_address{std::string(host), static_cast<std::uint16_t>(n)};
}

udp_tracker::udp_tracker(std::string url, udp_options opts)
    : url_(std::move(url)), opts_(std::move(opts)), random_(std::random_device{}()) {}

cpc::task<announce_result> udp_tracker::announce(const announce_request& req,
                                                 cpc::condvar* interrupt) {
    try {
        const std::optional<udp_address> where = parse_udp_url(url_);
        if (!where) co_return announce_result::failure("bad udp tracker url");
        if (!address_) {
            std::optional<cpc::endpoint> numeric =
                cpc::endpoint::from_host(where->host, where->port);
            if (numeric) {
                if (!family_allowed(numeric->family(), opts_)) {
                    co_return announce_result::failure("tracker address family not allowed");
                }
                address_ = numeric;
            } else {
                std::optional<cpc::endpoint> resolved =
                    co_await cpc::detached([host = where->host, port = where->port, o = opts_] {
                        return resolve_blocking(host, port, o);
                    });
                if (!resolved) co_return announce_result::failure("cannot resolve " + where->host);
                address_ = resolved;
            }
            connection_id_.reset();
        }

        const cpc::unique_fd owned(
            ::socket(address_->family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!owned)
            co_return announce_result::failure(std::string("socket: ") + std::strerror(errno));
        const int fd = owned.get();
        if (opts_.bind) {
            cpc::endpoint local = *opts_.bind;
            local.set_port(0);
            if (::bind(fd, local.address(), local.length()) != 0) {
                co_return announce_result::failure("bind " + local.host() + ": " +
                                                   std::strerror(errno));
            }
        }
        // A connected socket receives only the tracker's datagrams, and learns (ECONNREFUSED)
        // when nothing listens there.
        if (::connect(fd, address_->address(), address_->length()) != 0) {
            const int err = errno;
            address_.reset();
            co_return announce_result::failure(std::string("udp connect: ") + std::strerror(err));
        }
        announce_result r = co_await announce_on(fd, req, interrupt);
        co_return r;
    } catch (const std::exception& e) {
        co_return announce_result::failure(e.what());
    } catch (...) {
        co_return announce_result::failure("unknown error");
    }
}

cpc::task<std::string> udp_tracker::connect_exchange(int fd, cpc::condvar* interrupt) {
    const auto tid = static_cast<std::uint32_t>(random_());
    std::string packet;
    put(packet, kProtocolId, 8);
    put(packet, udp_packet::connect, 4);
    put(packet, tid, 4);
    for (int attempt = 0; attempt < opts_.attempts; ++attempt) {
        const wait_outcome w = co_await send_and_wait(
            fd, packet, tid, udp_packet::connect, udp_packet::connect_reply_size,
            opts_.base_timeout * (1 << attempt), interrupt);
        if (!w.error.empty()) co_return w.error;
        if (w.timed_out) continue;
        connection_id_ = udp_packet::connection_id(w.datagram);
        connected_at_ = cpc::monotonic_clock::now();
        co_return std::string();
    }
    co_return std::string("udp tracker did not answer");
}

cpc::task<announce_result> udp_tracker::announce_on(int fd, const announce_request& req,
                                                    cpc::condvar* interrupt) {
    const auto tid = static_cast<std::uint32_t>(random_());
    for (int attempt = 0; attempt < opts_.attempts; ++attempt) {
        if (!connection_id_ ||
            cpc::monotonic_clock::now() - connected_at_ > opts_.connection_lifetime) {
            connection_id_.reset();
            const std::string error = co_await connect_exchange(fd, interrupt);
            if (!error.empty()) co_return announce_result::failure(error);
        }
        std::string packet;
        put(packet, *connection_id_, 8);
        put(packet, udp_packet::announce, 4);
        put(packet, tid, 4);
        packet.append(reinterpret_cast<const char*>(req.hash.data()), 20);
        packet.append(reinterpret_cast<const char*>(req.peer_id.data()), 20);
        put(packet, req.downloaded, 8);
        put(packet, req.left, 8);
        put(packet, req.uploaded, 8);
        put(packet, static_cast<std::uint32_t>(req.event), 4);
        put(packet, 0, 4);  // ip: the sender's
        put(packet, req.key, 4);
        put(packet, static_cast<std::uint32_t>(req.numwant < 0 ? -1 : req.numwant), 4);
        put(packet, req.port, 2);

        const wait_outcome w = co_await send_and_wait(
            fd, packet, tid, udp_packet::announce, udp_packet::announce_reply_header_size,
            opts_.base_timeout * (1 << attempt), interrupt);
        if (w.refused) connection_id_.reset();  // perhaps it forgot us: reconnect next time
        if (!w.error.empty()) co_return announce_result::failure(w.error, w.refused);
        if (w.timed_out) continue;

        // BEP 15: the peers are of the family the tracker was reached over.
        tracker_reply reply = udp_packet::parse_announce_reply(w.datagram, address_->family());
        announce_result r;
        r.reply = std::move(reply);
        co_return r;
    }
    address_.reset();  // resolve again next time: the tracker may have moved
    co_return announce_result::failure("udp tracker did not answer");
}

}  // namespace hekate
