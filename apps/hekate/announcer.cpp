#include "announcer.hpp"

#include <algorithm>
#include <cpc/sleep.hpp>
#include <cpc/task_group.hpp>
#include <cpc/with_timeout.hpp>
#include <random>

#include "tracker_http.hpp"

namespace hekate {

namespace {

using std::chrono::milliseconds;
using clock = std::chrono::steady_clock;

constexpr milliseconds kLongestInterval{24 * 3600'000};

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

struct announcer::tracker {
    std::string url;
    std::unique_ptr<udp_tracker> udp;  // for udp:// only
    bool started = false;              // it answered us, so it heard `started`
    std::string tracker_id;
};

std::int64_t announcer_status::seconds_to_next_announce() const {
    const auto left = next_announce - clock::now();
    if (left <= clock::duration::zero()) return 0;
    return std::chrono::ceil<std::chrono::seconds>(left).count();
}

announcer::announcer(const metainfo& torrent, announce_identity identity,
                     std::function<transfer_totals()> totals,
                     std::function<void(const std::vector<cpc::endpoint>&)> on_peers,
                     announcer_timing timing)
    : hash_(torrent.hash),
      identity_(std::move(identity)),
      totals_(std::move(totals)),
      on_peers_(std::move(on_peers)),
      timing_(timing) {
    std::random_device seed;
    std::mt19937 random(seed());
    key_ = static_cast<std::uint32_t>(random());
    udp_options udp;
    udp.bind = identity_.bind;
    udp.ipv4 = identity_.ipv4;
    udp.ipv6 = identity_.ipv6;
    udp.base_timeout = timing_.udp_timeout;
    udp.attempts = timing_.udp_attempts;
    for (const std::vector<std::string>& urls : torrent.trackers) {
        std::vector<std::unique_ptr<tracker>> tier;
        for (const std::string& url : urls) {
            auto t = std::make_unique<tracker>();
            t->url = url;
            if (starts_with(url, "udp://")) {
                if (!parse_udp_url(url)) {
                    status_.notes.push_back(url + ": malformed udp tracker url, skipped");
                    continue;
                }
                t->udp = std::make_unique<udp_tracker>(url, udp);
            } else if (!starts_with(url, "http://") && !starts_with(url, "https://")) {
                status_.notes.push_back(url + ": unsupported tracker scheme, skipped");
                continue;
            }
            tier.push_back(std::move(t));
        }
        if (tier.empty()) continue;
        if (timing_.shuffle_tiers) std::shuffle(tier.begin(), tier.end(), random);
        tiers_.push_back(std::move(tier));
    }
}

announcer::~announcer() = default;

cpc::task<void> announcer::relay(announcer* self, cpc::condvar* stop, const bool* stopping) {
    if (!stopping || !*stopping) co_await stop->wait();
    self->stopping_ = true;
    self->cancel_.store(true, std::memory_order_relaxed);
    self->wake_.signal_all();
}

cpc::task<void> announcer::run(cpc::condvar& stop, const bool* stopping) {
    cpc::task_group group;
    group.spawn(relay(this, &stop, stopping));
    try {
        co_await announce_loop();
    } catch (const std::exception& e) {
        status_.last_error = e.what();
    } catch (...) {
        status_.last_error = "unknown exception";
    }
    try {
        // Whatever ended the loop early, stop is what ends run().
        while (!stopping_) {
            co_await cpc::sleep(kLongestInterval, &wake_);
        }
        cancel_.store(false, std::memory_order_relaxed);
        co_await announce_stopped();
    } catch (const std::exception& e) {
        status_.last_error = e.what();
    } catch (...) {
        status_.last_error = "unknown exception";
    }
    try {
        co_await group.join();
    } catch (...) {
    }
}

cpc::task<void> announcer::announce_loop() {
    while (!stopping_) {
        milliseconds delay = kLongestInterval;
        if (!tiers_.empty()) {
            const bool ok = co_await announce_round();
            if (stopping_) break;
            if (ok) {
                failed_rounds_ = 0;
                delay = milliseconds::zero();  // set by announce_round through earliest_
            } else {
                ++failed_rounds_;
                delay = timing_.retry_min;
                for (int i = 1; i < failed_rounds_ && delay < timing_.retry_max; ++i) {
                    delay *= 2;
                }
                delay = std::min(delay, timing_.retry_max);
            }
            const auto wait_min = std::chrono::ceil<milliseconds>(earliest_ - clock::now());
            delay = std::max(delay, wait_min);
        }
        status_.next_announce = clock::now() + delay;
        co_await cpc::sleep(delay, &wake_);
    }
}

cpc::task<bool> announcer::announce_round() {
    for (std::vector<std::unique_ptr<tracker>>& tier : tiers_) {
        for (std::size_t i = 0; i < tier.size(); ++i) {
            if (stopping_) co_return false;
            tracker& t = *tier[i];
            const announce_event event = t.started ? announce_event::none : announce_event::started;
            announce_result r = co_await announce_to(t, event, &wake_, timing_.http_timeout);
            if (!r) {
                if (stopping_) co_return false;  // cancelled, not the tracker's fault
                ++status_.failures;
                status_.last_error = t.url + ": " + r.error;
                continue;
            }
            t.started = true;
            std::rotate(tier.begin(), tier.begin() + static_cast<std::ptrdiff_t>(i),
                        tier.begin() + static_cast<std::ptrdiff_t>(i) + 1);
            const tracker_reply& reply = *r.reply;
            ++status_.successes;
            status_.tracker = t.url;
            status_.warning = reply.warning;
            status_.seeders = reply.complete;
            status_.leechers = reply.incomplete;
            status_.peers_received += reply.peers.size();
            if (!reply.tracker_id.empty()) t.tracker_id = reply.tracker_id;

            // Scaled without overflow, whatever the tracker says.
            const std::int64_t cap =
                kLongestInterval / std::max(timing_.tracker_second, milliseconds(1));
            milliseconds interval = timing_.default_interval;
            if (reply.interval > 0) {
                interval = timing_.tracker_second * std::min(reply.interval, cap);
            }
            if (reply.min_interval > 0) {
                interval =
                    std::max(interval, timing_.tracker_second * std::min(reply.min_interval, cap));
            }
            interval = std::max(interval, timing_.shortest_interval);
            earliest_ = clock::now() + interval;
            if (on_peers_ && !reply.peers.empty()) on_peers_(reply.peers);
            co_return true;
        }
    }
    co_return false;
}

cpc::task<void> announcer::announce_stopped() {
    const auto deadline = clock::now() + timing_.stop_timeout;
    for (std::vector<std::unique_ptr<tracker>>& tier : tiers_) {
        for (std::unique_ptr<tracker>& t : tier) {
            if (!t->started) continue;
            const auto left = std::chrono::floor<milliseconds>(deadline - clock::now());
            if (left <= milliseconds::zero()) co_return;
            const std::optional<announce_result> r = co_await cpc::with_timeout(
                left, announce_to(*t, announce_event::stopped, nullptr, left));
            t->started = false;
            if (r && !*r) status_.last_error = t->url + ": " + r->error;
        }
    }
}

cpc::task<announce_result> announcer::announce_to(tracker& t, announce_event event,
                                                  cpc::condvar* interrupt,
                                                  milliseconds http_timeout) {
    announce_request req;
    req.hash = hash_;
    req.peer_id = identity_.peer_id;
    req.port = identity_.port;
    if (totals_) {
        const transfer_totals totals = totals_();
        req.uploaded = totals.uploaded;
        req.downloaded = totals.downloaded;
        req.left = totals.left;
    }
    req.event = event;
    req.numwant = event == announce_event::stopped ? 0 : identity_.numwant;
    req.key = key_;
    req.tracker_id = t.tracker_id;
    if (t.udp) {
        announce_result r = co_await t.udp->announce(req, interrupt);
        co_return r;
    }
    http_options opts;
    opts.bind = identity_.bind;
    opts.ipv4 = identity_.ipv4;
    opts.ipv6 = identity_.ipv6;
    opts.timeout = http_timeout;
    opts.connect_timeout = std::min(http_timeout, opts.connect_timeout);
    announce_result r = co_await http_announce(announce_url(t.url, req), opts, &cancel_);
    co_return r;
}

}  // namespace hekate
