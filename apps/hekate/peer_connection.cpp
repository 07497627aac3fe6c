#include "peer_connection.hpp"

#include <algorithm>
#include <climits>
#include <vector>

#include "client_version.hpp"
#include "compact_address.hpp"
#include "cpc/attach.hpp"
#include "cpc/io.hpp"
#include "cpc/loop.hpp"
#include "cpc/sleep.hpp"
#include "cpc/spawn.hpp"
#include "cpc/with_timeout.hpp"
#include "cpc/yield.hpp"
#include "extension.hpp"
#include "log.hpp"

namespace hekate {

namespace {

std::int64_t loop_now() {
    return cpc::loop::current()->now();
}

}  // namespace

peer_connection::peer_connection(peer_host& host, int fd, cpc::endpoint remote,
                                 std::shared_ptr<served_torrent> t, const wire::handshake& theirs,
                                 peer_key key, peer_loop& home)
    : host_(host),
      settings_(host.settings()),
      home_(home),
      fd_(fd),
      remote_(remote),
      torrent_(std::move(t)),
      key_(key),
      fast_(theirs.supports_fast()),
      extensions_(theirs.supports_extensions()),
      requests_(settings_.max_queued_requests) {}

void peer_connection::queue_message(std::string_view bytes) {
    outbox_ += bytes;
    writer_wake_.signal();
}

void peer_connection::unchoke() {
    if (unchoked_ || closing_) return;
    unchoked_ = true;
    host_.count_told_unchoked(+1);
    requests_while_choked_ = 0;
    // A fresh turn, and nothing of it reported (choke() cleared what was not).
    credit_left_ = settings_.turn_credit;
    turn_over_ = false;
    std::string m;
    wire::append_simple(m, wire::message_id::unchoke);
    queue_message(m);
    log(log_level::protocol, "{}: unchoked", remote_.to_string());
}

void peer_connection::choke() {
    if (!unchoked_ || closing_) return;
    unchoked_ = false;
    host_.count_told_unchoked(-1);
    // Bytes of this turn not reported yet no longer matter to the choker.
    unreported_sent_ = 0;
    credit_left_ = 0;
    turn_over_ = false;
    std::string m;
    wire::append_simple(m, wire::message_id::choke);
    // BEP 6: a fast peer learns which of its requests will not be served; without the
    // extension a choke discards them all (BEP 3).
    requests_.drain([&](const wire::block_request& r) {
        if (fast_) wire::append_block_message(m, wire::message_id::reject_request, r);
    });
    queue_message(m);
    log(log_level::protocol, "{}: choked", remote_.to_string());
}

void peer_connection::renew() {
    // Not over in this peer's view: its next report counts in the new turn, as it would
    // have in the old one.
    if (!turn_over_) return;
    // Nothing was reported since the choker said 0 left, before the renewal (the renewal
    // was decided after that answer, and reaches this loop after it): the whole credit.
    turn_over_ = false;
    credit_left_ = settings_.turn_credit;
}

void peer_connection::kill() noexcept {
    if (closing_) return;
    closing_ = true;
    if (unchoked_) {
        // It will send nothing more: its slot is free on this side too.
        unchoked_ = false;
        host_.count_told_unchoked(-1);
    }
    interrupt_.signal_all();
    writer_wake_.signal_all();
}

void peer_connection::reject(const wire::block_request& r) {
    if (!fast_) return;
    std::string m;
    wire::append_block_message(m, wire::message_id::reject_request, r);
    queue_message(m);
}

void peer_connection::note_pieces(std::uint64_t count) {
    pieces_announced_ += count;
    if (pieces_announced_ >= torrent_->meta().piece_count()) has_everything();
}

void peer_connection::has_everything() {
    // Two seeds have nothing to say to each other: free the connection (and its place among
    // --max-peers) for a leecher. A leecher that just finished goes the same way.
    complete_ = true;
    log(log_level::connections, "{}: has every piece, closing", remote_.to_string());
    kill();
}

cpc::task<void> peer_connection::run() {
    const metainfo& meta = torrent_->meta();
    {
        std::string greeting;
        // BEP 6: HAVE_ALL only to peers that understand it; the others get a BITFIELD.
        if (fast_) {
            wire::append_simple(greeting, wire::message_id::have_all);
        } else {
            wire::append_full_bitfield(greeting, meta.piece_count());
        }
        if (extensions_) {
            extension::our_handshake h;
            // BEP 27 does not forbid ut_metadata; a private torrent's info is what the
            // peer already has to hold to connect by info-hash.
            h.metadata_size = static_cast<std::uint32_t>(meta.info_bytes.size());
            h.reqq = settings_.advertised_reqq;
            h.listen_port = settings_.listen_port;
            h.version = client_name;
            append_compact(h.their_address, remote_);
            h.their_address.resize(h.their_address.size() - 2);  // the address without port
            wire::append_extended(greeting, extension::handshake_id,
                                  extension::encode_handshake(h));
        }
        outbox_ = std::move(greeting);
    }
    last_sent_ns_ = loop_now();
    cpc::spawn(write_loop());

    std::span<char> scratch = home_.scratch;
    while (!closing_) {
        auto r = co_await cpc::with_timeout(
            settings_.idle_timeout, cpc::recv(fd_, scratch.data(), scratch.size(), 0, &interrupt_));
        if (!r) {
            log(log_level::connections, "{}: idle for {} s, closing", remote_.to_string(),
                std::chrono::duration<double>(settings_.idle_timeout).count());
            break;
        }
        if (!*r) {
            if (!closing_) {
                log(log_level::connections, "{}: {}", remote_.to_string(), r->error.message());
            }
            break;
        }
        if (r->bytes == 0) {
            log(log_level::connections, "{}: closed by peer", remote_.to_string());
            break;
        }
        if (!consume(scratch.data(), r->bytes)) {
            host_.count_protocol_error();
            break;
        }
        if (report_due()) co_await report_events();
    }
    kill();
    while (!writer_done_)
        co_await writer_exit_.wait();
}

bool peer_connection::consume(const char* data, std::size_t n) {
    const std::uint32_t limit = wire::max_payload(torrent_->meta().piece_count());
    auto status = reader_.feed(data, n, limit, [this](const wire::message& m) {
        if (m.keep_alive) {
            log(log_level::messages, "{}: keep-alive", remote_.to_string());
            return true;
        }
        // A handler may end the connection (kill) without it being the peer's fault.
        return handle(m.id, m.payload) && !closing_;
    });
    if (status == wire::message_reader::status::oversized) {
        log(log_level::connections, "{}: message of {} bytes exceeds the limit, closing",
            remote_.to_string(), reader_.last_length());
        return false;
    }
    return status == wire::message_reader::status::ok || closing_;
}

bool peer_connection::handle(std::uint8_t id, std::string_view payload) {
    using wire::message_id;
    const std::int64_t now = loop_now();
    // Every message: its address is formatted (inet_ntop, allocations) only when printed.
    if (log_enabled(log_level::messages)) {
        log(log_level::messages, "{}: message {} ({} bytes)", remote_.to_string(), id,
            payload.size());
    }
    if (!wire::allowed(id, fast_, extensions_)) {
        log(log_level::connections, "{}: message id {} not negotiated, closing",
            remote_.to_string(), id);
        return false;
    }
    const std::uint32_t pieces = torrent_->meta().piece_count();
    switch (static_cast<message_id>(id)) {
        case message_id::choke:
        case message_id::unchoke:
        case message_id::port:
        case message_id::suggest_piece:
        case message_id::reject_request:
        case message_id::allowed_fast:
        case message_id::have_none:
        case message_id::piece:  // a seeder asked for nothing; unsolicited data is dropped
            return true;
        case message_id::interested:
            note_interest(true, now);
            return true;
        case message_id::not_interested:
            note_interest(false, now);
            return true;
        case message_id::have: {
            auto index = wire::parse_have(payload);
            if (!index || *index >= pieces) {
                log(log_level::connections, "{}: bad HAVE, closing", remote_.to_string());
                return false;
            }
            note_pieces(1);
            return true;
        }
        case message_id::bitfield: {
            if (!wire::valid_bitfield(payload, pieces)) {
                log(log_level::connections, "{}: bad BITFIELD, closing", remote_.to_string());
                return false;
            }
            std::uint64_t count = 0;
            for (char c : payload)
                count += static_cast<unsigned>(__builtin_popcount(static_cast<std::uint8_t>(c)));
            pieces_announced_ = 0;  // a second bitfield replaces the first
            note_pieces(count);
            return true;
        }
        case message_id::have_all:
            has_everything();
            return true;
        case message_id::request:
            return handle_request(payload);
        case message_id::cancel:
            return handle_cancel(payload);
        case message_id::extended:
            return handle_extended(payload);
    }
    return false;
}

bool peer_connection::handle_request(std::string_view payload) {
    auto r = wire::parse_block_request(payload);
    const metainfo& meta = torrent_->meta();
    if (!r || r->piece >= meta.piece_count() || r->length == 0 || r->length > wire::max_block ||
        r->begin >= meta.piece_size(r->piece) || r->length > meta.piece_size(r->piece) - r->begin) {
        log(log_level::connections, "{}: invalid REQUEST, closing", remote_.to_string());
        return false;
    }
    if (!unchoked_) {
        // Requests sent before our CHOKE arrived are normal; a stream of them is not.
        if (++requests_while_choked_ > settings_.max_queued_requests) {
            log(log_level::connections, "{}: requests while choked, closing", remote_.to_string());
            return false;
        }
        reject(*r);
        return true;
    }
    if (!requests_.push(*r)) {
        log(log_level::connections, "{}: more than {} queued requests, closing",
            remote_.to_string(), requests_.bound());
        return false;
    }
    note_request(loop_now());
    writer_wake_.signal();
    return true;
}

bool peer_connection::handle_cancel(std::string_view payload) {
    auto r = wire::parse_block_request(payload);
    if (!r) {
        log(log_level::connections, "{}: bad CANCEL, closing", remote_.to_string());
        return false;
    }
    // BEP 6: a cancelled request is answered by a reject (or by the piece if already sent).
    if (requests_.cancel(*r)) reject(*r);
    return true;
}

bool peer_connection::handle_extended(std::string_view payload) {
    if (payload.empty()) {
        log(log_level::connections, "{}: empty extended message, closing", remote_.to_string());
        return false;
    }
    auto sub = static_cast<std::uint8_t>(payload[0]);
    std::string_view body = payload.substr(1);
    if (sub == extension::handshake_id) {
        auto h = extension::parse_handshake(body);
        if (!h) {
            log(log_level::connections, "{}: bad extended handshake, closing", remote_.to_string());
            return false;
        }
        their_ut_metadata_ = h->ut_metadata;
        if (h->upload_only) complete_ = true;
        return true;
    }
    if (sub == extension::ut_metadata_id) {
        auto m = extension::parse_metadata_message(body);
        if (!m) {
            log(log_level::connections, "{}: bad ut_metadata message, closing",
                remote_.to_string());
            return false;
        }
        if (m->type != extension::metadata_request::request || their_ut_metadata_ == 0) {
            return true;
        }
        std::string reply;
        wire::append_extended(
            reply, their_ut_metadata_,
            extension::encode_metadata_reply(torrent_->meta().info_bytes, m->piece));
        queue_message(reply);
        return true;
    }
    // Extensions hekate did not offer (or ids it does not use) are ignored, not fatal:
    // clients send upload_only and the like whatever the other side offered.
    return true;
}

cpc::task<bool> peer_connection::flush_outbox() {
    std::string out;
    out.swap(outbox_);
    auto r = co_await cpc::with_timeout(settings_.write_timeout,
                                        cpc::write(fd_, out.data(), out.size(), &interrupt_));
    last_sent_ns_ = loop_now();
    co_return r&&* r;
}

cpc::task<void> peer_connection::write_loop() {
    const std::int64_t keep_alive_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(settings_.keep_alive_interval).count();
    while (!closing_) {
        if (!outbox_.empty()) {
            bool ok = co_await flush_outbox();
            if (!ok) break;
            continue;
        }
        if (unchoked_ && !requests_.empty()) {
            bool ok = co_await send_blocks();
            if (!ok) break;
            continue;
        }
        // Nothing to send: sleep until woken, or until a keep-alive is due (the peer's idle
        // timeout must not fire while it waits for its turn).
        std::int64_t due = last_sent_ns_ + keep_alive_ns - loop_now();
        if (due <= 0) {
            wire::append_keep_alive(outbox_);
            continue;
        }
        co_await cpc::sleep(std::chrono::nanoseconds(due), &writer_wake_);
    }
    kill();
    writer_done_ = true;
    writer_exit_.signal_all();
}

bool peer_connection::report_lost_page(const void* lost) {
    try {
        torrent_->storage.lost(home_.files, lost);  // marks the torrent changed, and throws
    } catch (const storage_error& e) {
        app_log::warn("{}: not sending piece data of {}: {}", remote_.to_string(),
                      torrent_->meta().name, e.what());
    }
    return false;
}

cpc::task<bool> peer_connection::send_blocks() {
    // Several queued blocks go out in one system call: fewer and larger TCP segments cost
    // both ends less per byte than one 16 KiB write per block.
    struct outgoing {
        wire::block_request request;
        block data;
        std::array<std::uint8_t, wire::piece_header_size> header;
    };
    std::vector<outgoing> batch;
    std::uint64_t bytes = 0;
    // Under an upload limit, a batch is no larger than the limiter's burst.
    const std::uint64_t burst = settings_.upload_burst;
    const std::uint64_t max_bytes = burst != 0 ? burst : max_batch_bytes;
    while (!requests_.empty() && batch.size() < max_batch_blocks && bytes < max_bytes) {
        wire::block_request r = requests_.pop();
        try {
            batch.push_back({r,
                             torrent_->storage.read_block(home_.files, r.piece, r.begin, r.length),
                             wire::piece_header(r.piece, r.begin, r.length)});
        } catch (const std::exception& e) {
            app_log::error("{}: cannot read piece {} of {}: {}", remote_.to_string(), r.piece,
                           torrent_->meta().name, e.what());
            co_return false;
        }
        bytes += r.length;
    }
    std::vector<iovec> data;
    for (const outgoing& o : batch) {
        data.insert(data.end(), o.data.segments().begin(), o.data.segments().end());
    }
    // The paper's Figure 3: prefetch, yield, check; yield again; only if the pages are still
    // not in memory, a pool thread reads them in (the part that blocks on a cold disk), so
    // that a cold disk stalls only this peer. Unlike the paper's, the socket write itself
    // stays on the loop, where the write timeout and kill() reach it: a peer that stops
    // reading must not hold a pool thread forever.
    if (!in_core(data)) {
        prefetch(data);
        co_await cpc::yield();
        if (!in_core(data)) {
            co_await cpc::yield();
            if (!in_core(data)) {
                log(log_level::protocol, "{}: pages not in memory, reading them from the pool",
                    remote_.to_string());
                const void* lost = co_await cpc::detached([&data] { return fault_in(data); });
                // A page that could not be read: the file changed under its mapping. Nothing
                // goes out (the write would fail half-way); the torrent is checked again.
                if (lost) co_return report_lost_page(lost);
            }
        }
    }
    if (std::int64_t wait = host_.reserve_upload(bytes, loop_now()); wait > 0) {
        bool slept = co_await cpc::sleep(std::chrono::nanoseconds(wait), &interrupt_);
        if (!slept) co_return false;
    }
    if (closing_) co_return false;
    // A CHOKE queued while this thread waited discarded the queue; these blocks go with it.
    if (!unchoked_) {
        for (const outgoing& o : batch)
            reject(o.request);
        co_return true;
    }
    std::vector<iovec> iov;
    // Control messages queued meanwhile (a CHOKE, a REJECT) go out in the same call.
    std::string control;
    control.swap(outbox_);
    if (!control.empty()) iov.push_back({control.data(), control.size()});
    for (outgoing& o : batch) {
        iov.push_back({o.header.data(), o.header.size()});
        iov.insert(iov.end(), o.data.segments().begin(), o.data.segments().end());
    }

    bool ok = true;
    for (std::size_t done = 0; ok && done < iov.size();) {
        int count = static_cast<int>(std::min<std::size_t>(iov.size() - done, IOV_MAX));
        auto w = co_await cpc::with_timeout(
            settings_.write_timeout, cpc::writev(fd_, iov.data() + done, count, &interrupt_));
        ok = w && *w;
        // EFAULT: a page of a block was lost under the write (the file truncated meanwhile).
        if (w && w->error == std::errc::bad_address) {
            if (const void* lost = fault_in(data)) co_return report_lost_page(lost);
        }
        done += static_cast<std::size_t>(count);
    }
    if (!ok) co_return false;
    last_sent_ns_ = loop_now();
    uploaded_ += bytes;
    host_.count_sent(*torrent_, bytes);
    if (host_.in_control()) {
        host_.sent(key_, bytes);
    } else if (!turn_over_) {
        unreported_sent_ += bytes;
        if (unreported_sent_ >= credit_left_) co_await report_sent();
    }
    co_return true;
}

void peer_connection::note_interest(bool interested, std::int64_t now) {
    if (!host_.in_control()) {
        interest_changes_.push_back({interested, now});
        return;
    }
    if (interested) {
        host_.interested(key_, now);
    } else {
        host_.not_interested(key_, now);
    }
    host_.rechoke();
}

void peer_connection::note_request(std::int64_t now) {
    if (host_.in_control()) {
        host_.requested(key_, now);
        return;
    }
    request_unreported_ = true;
    last_request_ns_ = now;
}

bool peer_connection::report_due() const noexcept {
    constexpr std::int64_t request_report_interval = 1'000'000'000;  // the idle rule's grain
    return !interest_changes_.empty() ||
           (request_unreported_ && loop_now() - request_reported_ns_ >= request_report_interval);
}

cpc::task<void> peer_connection::report_events() {
    std::vector<interest_change> changes;
    changes.swap(interest_changes_);
    const bool request = std::exchange(request_unreported_, false);
    if (request) request_reported_ns_ = loop_now();
    const std::int64_t last_request = last_request_ns_;
    cpc::scheduler& here = co_await cpc::attach(host_.control());
    if (request) host_.requested(key_, last_request);
    for (const interest_change& c : changes) {
        if (c.interested) {
            host_.interested(key_, c.at);
        } else {
            host_.not_interested(key_, c.at);
        }
    }
    if (!changes.empty()) host_.rechoke();
    co_await cpc::attach(here);
}

cpc::task<void> peer_connection::report_sent() {
    const std::uint64_t bytes = std::exchange(unreported_sent_, 0);
    cpc::scheduler& here = co_await cpc::attach(host_.control());
    // Never more than what is left: only this peer's reports spend it, and a new turn (after
    // a CHOKE, or a refill) starts with the whole credit.
    const std::uint64_t left = host_.sent(key_, bytes);
    co_await cpc::attach(here);
    // Choked or dropped meanwhile: choke() or kill() reset the turn.
    if (!unchoked_) co_return;
    credit_left_ = left;
    turn_over_ = left == 0;
}

}  // namespace hekate
