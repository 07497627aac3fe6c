// peer_connection: one peer past the handshake, served by two cooperative threads.
//
// The reader (the thread that calls run()) reads and validates messages and keeps the
// peer's state; the writer sleeps on a condition variable and sends what the reader (or the
// choker, through the server) queued: control messages first, then requested blocks. They
// share the queues without locks because both run uncolored on the peer's loop (home()),
// and every method is called on that loop (but the accessors of what never changes: key,
// remote, torrent, home; complete and uploaded are read once run() has returned). Every read
// is guarded by the idle timeout and every write by the write timeout.
//
// The peer sees the server only through peer_host (peer_host.hpp): its settings, the
// choker's events, the upload limiter and the counters. The choker belongs to the server's
// control color (server.hpp). On the control color's loop the peer tells it of its events at
// once, as on one loop. On another loop it notes them and hops into the color: after each
// read that changed its interest, at most once a second for its requests, and for its sent
// bytes once they reach what is left of its turn's credit (the whole credit after an UNCHOKE
// or a renewal, then what the choker said at the previous report: never more than is left).
// Once the choker says the turn is over, the peer reports nothing more until it is choked or
// its turn is renewed (renew()): the choker counts no bytes of a turn that is over.
//
// A protocol violation (oversized or unknown message, a bad request, a request flood) ends
// this connection only. kill() ends it from outside (choker drop, rescan, shutdown). run()
// returns once both threads are done; the caller then closes the socket.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "choker.hpp"
#include "cpc/condvar.hpp"
#include "cpc/net.hpp"
#include "cpc/task.hpp"
#include "peer_host.hpp"
#include "peer_loop.hpp"
#include "request_queue.hpp"
#include "served_torrent.hpp"
#include "wire.hpp"

namespace hekate {

class peer_connection {
  public:
    peer_connection(peer_host& host, int fd, cpc::endpoint remote,
                    std::shared_ptr<served_torrent> t, const wire::handshake& theirs, peer_key key,
                    peer_loop& home);
    peer_connection(const peer_connection&) = delete;
    peer_connection& operator=(const peer_connection&) = delete;

    // Greets the peer (BITFIELD or HAVE_ALL, extended handshake), then serves it until the
    // connection ends.
    cpc::task<void> run();

    // The choker's decisions. unchoke/choke queue the message for the writer.
    void unchoke();
    void choke();
    // The choker restarted this unchoked peer's turn without a message (choker::decisions).
    void renew();
    // Ends the connection: both threads stop at their next wait, which is cut short.
    void kill() noexcept;

    peer_key key() const noexcept { return key_; }
    peer_loop& home() const noexcept { return home_; }
    const cpc::endpoint& remote() const noexcept { return remote_; }
    served_torrent& torrent() noexcept { return *torrent_; }
    // The peer said it has every piece (the connection then closes) or wants nothing more:
    // no reason to dial it again.
    bool complete() const noexcept { return complete_; }
    std::uint64_t uploaded() const noexcept { return uploaded_; }

  private:
    static constexpr std::size_t max_batch_blocks = 16;
    static constexpr std::uint64_t max_batch_bytes = 256 * 1024;

    cpc::task<void> write_loop();
    // Sends the oldest queued requests, up to a batch, in one writev.
    cpc::task<bool> send_blocks();
    // A page of a block that could not be read (fault_in's answer): the torrent is marked
    // changed (the server checks it again) and the mapping dropped, with a warning. Returns
    // false: the connection closes.
    bool report_lost_page(const void* lost);
    cpc::task<bool> flush_outbox();
    // Frames and handles what was read; false when the connection must close.
    bool consume(const char* data, std::size_t n);
    bool handle(std::uint8_t id, std::string_view payload);
    bool handle_request(std::string_view payload);
    bool handle_cancel(std::string_view payload);
    bool handle_extended(std::string_view payload);
    void queue_message(std::string_view bytes);
    void reject(const wire::block_request& r);
    void note_pieces(std::uint64_t count);
    void has_everything();
    // The choker's events, told at once or noted for the next report.
    void note_interest(bool interested, std::int64_t now);
    void note_request(std::int64_t now);
    bool report_due() const noexcept;
    cpc::task<void> report_events();
    cpc::task<void> report_sent();

    peer_host& host_;
    const peer_settings& settings_;
    peer_loop& home_;
    int fd_;
    cpc::endpoint remote_;
    std::shared_ptr<served_torrent> torrent_;
    peer_key key_;
    bool fast_;
    bool extensions_;
    std::uint8_t their_ut_metadata_ = 0;
    bool unchoked_ = false;
    bool closing_ = false;
    bool writer_done_ = false;
    bool complete_ = false;
    std::uint32_t requests_while_choked_ = 0;
    std::uint64_t pieces_announced_ = 0;  // HAVEs and bitfield bits, to notice completion
    std::uint64_t uploaded_ = 0;
    std::int64_t last_sent_ns_ = 0;
    // Not told to the choker yet (only away from the control color's loop).
    struct interest_change {
        bool interested;
        std::int64_t at;
    };
    std::vector<interest_change> interest_changes_;
    bool request_unreported_ = false;
    std::int64_t last_request_ns_ = 0;
    std::int64_t request_reported_ns_ = 0;
    std::uint64_t unreported_sent_ = 0;
    std::uint64_t credit_left_ = 0;  // at the last report; 0: report the next batch
    bool turn_over_ = false;         // the choker said 0 left: no reports until renewed
    wire::message_reader reader_;
    std::string outbox_;  // control messages for the writer
    request_queue requests_;
    cpc::condvar writer_wake_;
    cpc::condvar writer_exit_;
    cpc::condvar interrupt_;  // cuts both threads' I/O waits short
};

}  // namespace hekate
