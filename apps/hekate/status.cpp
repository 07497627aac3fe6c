// The statistics a seedbox owner wants: printed at -d 1, served as JSON on --status PORT.
#include <fmt/format.h>

#include <algorithm>

#include "cpc/io.hpp"
#include "cpc/with_timeout.hpp"
#include "log.hpp"
#include "server.hpp"

namespace hekate {

namespace {

// JSON string escaping for torrent names (any bytes a .torrent may hold).
std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            out += fmt::format("\\u{:04x}", c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::string human_bytes(double b) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        ++u;
    }
    return fmt::format("{:.1f} {}", b, units[u]);
}

}  // namespace

std::string server::status_json() const {
    // "unchoked" is the choker's view; "told_unchoked" counts the peers that were sent UNCHOKE
    // and no CHOKE since (their own view, which lags on other loops), "told_unchoked_peak"
    // the most of them at once so far: neither ever exceeds the limit (max_unchoked).
    std::size_t mapped_files = 0;
    for (const auto& l : loops_)
        mapped_files += l->files.mapped_files();
    std::string out = fmt::format(
        "{{\"peers\":{{\"connected\":{},\"unchoked\":{},\"waiting\":{},\"told_unchoked\":{},"
        "\"told_unchoked_peak\":{},\"max_unchoked\":{}}},\"uploaded\":{},\"upload_rate\":{:.0f},"
        "\"accepted\":{},\"dialled\":{},"
        "\"protocol_errors\":{},\"handshake_failures\":{{\"server_full\":{},\"timed_out\":{},"
        "\"cut\":{},\"not_handshake\":{},\"unknown_info_hash\":{}}},\"mapped_files\":{},"
        "\"loops\":[",
        choker_.connected(), choker_.unchoked(), choker_.waiting(), told_unchoked(),
        told_unchoked_peak(), choker_.config().max_unchoked, totals_.uploaded.load(), totals_.rate,
        totals_.connections_accepted, totals_.connections_dialled, totals_.protocol_errors.load(),
        totals_.refused_full, totals_.handshakes_timed_out, totals_.handshakes_cut,
        totals_.not_handshakes, totals_.unknown_info_hash, mapped_files);
    // Each loop's share of the peers: connected now, and served since the start.
    for (std::size_t i = 0; i < loops_.size(); ++i) {
        out += fmt::format("{}{{\"peers\":{},\"sessions\":{}}}", i == 0 ? "" : ",",
                           loops_[i]->connected.load(), loops_[i]->sessions.load());
    }
    out += "],\"torrents\":[";
    bool first = true;
    for (const auto& [key, t] : torrents_) {
        if (!first) out += ',';
        first = false;
        out += fmt::format(
            "{{\"name\":{},\"info_hash\":\"{}\",\"size\":{},\"peers\":{},\"uploaded\":{},"
            "\"upload_rate\":{:.0f}",
            json_string(t->meta().name), to_hex(t->meta().hash), t->meta().total_length,
            t->counters.peers, t->counters.uploaded.load(), t->counters.rate);
        if (t->tracker_client) {
            const announcer_status& a = t->tracker_client->status();
            out += fmt::format(",\"tracker\":{},\"tracker_error\":{},\"next_announce\":{}",
                               json_string(a.tracker), json_string(a.last_error),
                               a.seconds_to_next_announce());
        }
        out += '}';
    }
    out += "]}\n";
    return out;
}

void server::print_statistics() {
    log(log_level::info, "{} peers ({} unchoked, {} waiting), sent {} ({}/s)", choker_.connected(),
        choker_.unchoked(), choker_.waiting(),
        human_bytes(static_cast<double>(totals_.uploaded.load())), human_bytes(totals_.rate));
    for (const auto& [key, t] : torrents_) {
        if (t->tracker_client) {
            const std::string& error = t->tracker_client->status().last_error;
            if (error != t->reported_tracker_error) {
                log(log_level::info, "  {}: tracker: {}", t->meta().name, error);
                t->reported_tracker_error = error;
            }
        }
        if (t->counters.peers == 0 && t->counters.rate == 0) continue;
        log(log_level::info, "  {}: {} peers, sent {} ({}/s)", t->meta().name, t->counters.peers,
            human_bytes(static_cast<double>(t->counters.uploaded.load())),
            human_bytes(t->counters.rate));
    }
}

cpc::task<void> server::status_loop(int listen_fd) {
    while (!stopping_) {
        auto a = co_await cpc::accept(listen_fd, nullptr, nullptr, &stop_);
        if (!a) continue;
        if (stopping_) {
            cpc::close(a.fd);
            break;
        }
        threads_.spawn(serve_status(a.fd));
    }
}

// One request, one answer, then close: whatever the request, the answer is the JSON (a
// status page has one resource), after the request head or 5 seconds.
cpc::task<void> server::serve_status(int fd) {
    auto head = co_await cpc::with_timeout(std::chrono::seconds(5), [](int fd) -> cpc::task<void> {
        std::string got;
        char buf[1024];
        while (got.size() < 8192 && got.find("\r\n\r\n") == std::string::npos &&
               got.find("\n\n") == std::string::npos) {
            auto r = co_await cpc::read(fd, buf, sizeof buf);
            if (!r || r.bytes == 0) break;
            got.append(buf, r.bytes);
        }
    }(fd));
    if (head) {
        std::string body = status_json();
        std::string reply = fmt::format(
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
            "Connection: close\r\n\r\n{}",
            body.size(), body);
        co_await cpc::with_timeout(std::chrono::seconds(5),
                                   cpc::write(fd, reply.data(), reply.size()));
    }
    cpc::close(fd);
}

}  // namespace hekate
