// peer_connection in process: the protocol path without a server. A fake peer_host records
// the choker's events and counts what the limiter and the counters are told; a torrent of
// three pieces of known bytes lies in a temporary directory; the connection serves one end
// of a socketpair on the default loop while the test, on the other end, is the remote peer,
// speaking the wire with wire.hpp's encoders and message_reader.
//
// The timeouts and keep-alives are tested with intervals of a millisecond: what is checked
// is what happens when they fire, never how long it took. Every read of the remote peer has
// a 10 s safety deadline so that a broken connection fails the test instead of hanging it.
#include "peer_connection.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "bencode.hpp"
#include "catalog.hpp"
#include "cpc/io.hpp"
#include "cpc/spawn.hpp"
#include "cpc/with_timeout.hpp"
#include "extension.hpp"
#include "torrent_fixture.hpp"
#include "wire.hpp"

namespace {

using namespace hekate;
using namespace std::chrono_literals;
using wire::message_id;

constexpr peer_key our_key = 7;
constexpr std::uint32_t piece_length = 32 * 1024;
constexpr std::uint32_t block = 16 * 1024;

// Two full pieces and a shorter last one; each byte depends on its offset, so a block taken
// from the wrong place does not compare equal.
std::string torrent_bytes() {
    std::string s(2 * piece_length + 5000, '\0');
    for (std::size_t i = 0; i < s.size(); ++i)
        s[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
    return s;
}

// Records the choker's events, in order, as the server's choker would see them. rechoke()
// unchokes an interested peer when `grant_on_interest` (a free slot, as a choker with room
// decides): the server applies that decision at once on the peer's own loop, so does this.
class fake_host final : public peer_host {
  public:
    peer_settings config;
    bool here = true;  // in_control()
    bool grant_on_interest = true;
    peer_connection* peer = nullptr;
    std::vector<std::string> events;
    bool wrong_key = false;
    bool wants = false;        // interested, in the choker's view
    bool called_away = false;  // a choker event while in_control() was false and not hopped
    std::uint64_t reported_sent = 0;
    std::uint64_t counted_sent = 0;
    std::uint64_t reserved = 0;
    std::uint64_t largest_reservation = 0;
    int reservations = 0;
    int protocol_errors = 0;
    int told_unchoked = 0;

    const peer_settings& settings() const noexcept override { return config; }
    cpc::scheduler& control() noexcept override { return cpc::default_loop(); }
    bool in_control() const noexcept override { return here; }
    void interested(peer_key key, std::int64_t) override {
        note("interested", key);
        wants = true;
    }
    void not_interested(peer_key key, std::int64_t) override {
        note("not_interested", key);
        wants = false;
    }
    void rechoke() override {
        events.push_back("rechoke");
        if (grant_on_interest && wants && peer) peer->unchoke();
    }
    void requested(peer_key key, std::int64_t) override { note("requested", key); }
    std::uint64_t sent(peer_key key, std::uint64_t bytes) override {
        note("sent", key);
        reported_sent += bytes;
        return config.turn_credit - std::min(config.turn_credit, reported_sent);
    }
    std::int64_t reserve_upload(std::uint64_t bytes, std::int64_t) override {
        ++reservations;
        reserved += bytes;
        largest_reservation = std::max(largest_reservation, bytes);
        return 0;
    }
    void count_sent(served_torrent&, std::uint64_t bytes) noexcept override {
        counted_sent += bytes;
    }
    void count_protocol_error() noexcept override { ++protocol_errors; }
    void count_told_unchoked(int change) noexcept override { told_unchoked += change; }

  private:
    void note(const char* what, peer_key key) {
        events.push_back(what);
        if (key != our_key) wrong_key = true;
    }
};

// A message as the remote peer received it (the payload copied out of the read buffer).
struct received {
    bool keep_alive = false;
    std::uint8_t id = 0;
    std::string payload;
};

// The remote peer's end of the socketpair.
class remote_peer {
  public:
    explicit remote_peer(int fd) : fd_(fd) {}

    cpc::task<bool> send(std::string bytes) {
        cpc::io_result w = co_await cpc::write(fd_, bytes.data(), bytes.size());
        co_return static_cast<bool>(w);
    }

    // The next message; nullopt once the connection is closed (or after the safety deadline).
    cpc::task<std::optional<received>> next() {
        while (inbox_.empty()) {
            std::optional<cpc::io_result> r =
                co_await cpc::with_timeout(10s, cpc::read(fd_, buf_.data(), buf_.size()));
            if (!r) timed_out_ = true;
            if (!r || !*r || r->bytes == 0) co_return std::nullopt;
            wire::message_reader::status s =
                reader_.feed(buf_.data(), r->bytes, UINT32_MAX, [this](const wire::message& m) {
                    inbox_.push_back({m.keep_alive, m.id, std::string(m.payload)});
                    return true;
                });
            if (s != wire::message_reader::status::ok) co_return std::nullopt;
        }
        received m = std::move(inbox_.front());
        inbox_.pop_front();
        co_return m;
    }

    // Reads until the connection closes; returns the messages received meanwhile.
    cpc::task<std::vector<received>> until_closed() {
        std::vector<received> all;
        for (;;) {
            std::optional<received> m = co_await next();
            if (!m) break;
            all.push_back(std::move(*m));
        }
        co_return all;
    }

    // cpc::close, not close(2), even after the loop has run: the loop forgets the number,
    // which the next test's socketpair takes again.
    void close() {
        if (fd_ >= 0) cpc::close(std::exchange(fd_, -1));
    }
    ~remote_peer() { close(); }
    remote_peer(const remote_peer&) = delete;
    remote_peer& operator=(const remote_peer&) = delete;

    bool timed_out() const noexcept { return timed_out_; }

  private:
    int fd_;
    bool timed_out_ = false;
    wire::message_reader reader_;
    std::deque<received> inbox_;
    std::vector<char> buf_ = std::vector<char>(256 * 1024);
};

std::string simple(message_id id) {
    std::string m;
    wire::append_simple(m, id);
    return m;
}

std::string block_message(message_id id, std::uint32_t piece, std::uint32_t begin,
                          std::uint32_t length) {
    std::string m;
    wire::append_block_message(m, id, {piece, begin, length});
    return m;
}

// What a PIECE for (piece, begin, length) of `data` is.
std::string piece_payload(const std::string& data, std::uint32_t piece, std::uint32_t begin,
                          std::uint32_t length) {
    std::string p(8, '\0');
    wire::store_be32(p.data(), piece);
    wire::store_be32(p.data() + 4, begin);
    return p + data.substr(std::size_t{piece} * piece_length + begin, length);
}

wire::handshake their_handshake(bool fast, bool extensions) {
    wire::handshake h;
    if (fast) h.reserved[7] |= 0x04;
    if (extensions) h.reserved[5] |= 0x10;
    return h;
}

// Public: the scripts reach it through a pointer.
class PeerConnection : public ::testing::Test {
  public:
    void SetUp() override {
        data = torrent_bytes();
        test::write_file(dir.path / "t.torrent",
                         test::write_single_file_torrent(dir.path, "data.bin", data, piece_length));
        torrent = std::make_shared<served_torrent>(load_torrent(dir.path / "t.torrent"));
        ASSERT_EQ(torrent->meta().piece_count(), 3u);
        int fds[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        ours = fds[0];
        remote.emplace(fds[1]);
        host.config.listen_port = 6881;
    }
    void TearDown() override {
        if (remote) {
            EXPECT_FALSE(remote->timed_out()) << "the safety deadline passed";
        }
    }

    using script = cpc::task<void> (*)(PeerConnection*);

    // Serves `ours` with a peer_connection (as server::session does: run, then close) while
    // `play` is the remote peer; returns once both are done.
    void run(const wire::handshake& theirs, script play) {
        peer_connection c(host, ours, *cpc::endpoint::from_host("192.0.2.1", 51413), torrent,
                          theirs, our_key, home);
        conn = &c;
        host.peer = &c;
        cpc::spawn([](peer_connection* c, int fd, bool* ended) -> cpc::task<void> {
            co_await c->run();
            cpc::close(fd);
            *ended = true;
        }(&c, ours, &ended));
        cpc_test::run_main(play(this));
        EXPECT_TRUE(ended);
        complete = c.complete();
        uploaded = c.uploaded();
        conn = nullptr;
        host.peer = nullptr;
    }

    test::temp_dir dir;
    std::string data;
    std::shared_ptr<served_torrent> torrent;
    fake_host host;
    peer_loop home{cpc::default_loop()};
    int ours = -1;
    std::optional<remote_peer> remote;
    peer_connection* conn = nullptr;
    bool ended = false;
    bool complete = false;
    std::uint64_t uploaded = 0;
    // What the scripts saw, asserted by the test bodies.
    std::vector<received> seen;
};

TEST_F(PeerConnection, GreetsAFastPeerWithHaveAllAndTheExtendedHandshake) {
    run(their_handshake(true, true), [](PeerConnection* t) -> cpc::task<void> {
        for (int i = 0; i < 2; ++i) {
            std::optional<received> m = co_await t->remote->next();
            if (m) t->seen.push_back(std::move(*m));
        }
        t->remote->close();
    });
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].id, static_cast<std::uint8_t>(message_id::have_all));
    EXPECT_TRUE(seen[0].payload.empty());
    ASSERT_EQ(seen[1].id, static_cast<std::uint8_t>(message_id::extended));
    ASSERT_FALSE(seen[1].payload.empty());
    EXPECT_EQ(seen[1].payload[0], char{extension::handshake_id});
    const std::string body = seen[1].payload.substr(1);
    bencode::value h = bencode::parse(body);
    ASSERT_TRUE(h.find("reqq") && h.find("p") && h.find("metadata_size") && h.find("m"));
    EXPECT_EQ(*h.find("reqq")->as_int(), 250);
    EXPECT_EQ(*h.find("p")->as_int(), 6881);
    EXPECT_EQ(*h.find("metadata_size")->as_int(),
              static_cast<std::int64_t>(torrent->meta().info_bytes.size()));
    ASSERT_TRUE(h.find("m")->find("ut_metadata"));
    EXPECT_EQ(*h.find("m")->find("ut_metadata")->as_int(), extension::ut_metadata_id);
    EXPECT_TRUE(host.events.empty());
    EXPECT_EQ(host.protocol_errors, 0);
}

TEST_F(PeerConnection, GreetsAPlainPeerWithAFullBitfieldOnly) {
    run(their_handshake(false, false), [](PeerConnection* t) -> cpc::task<void> {
        std::optional<received> m = co_await t->remote->next();
        if (m) t->seen.push_back(std::move(*m));
        t->remote->close();
    });
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].id, static_cast<std::uint8_t>(message_id::bitfield));
    EXPECT_EQ(seen[0].payload, std::string(1, static_cast<char>(0xe0)));  // 3 pieces
}

// A request while choked is rejected (fast peer); INTERESTED reaches the host, whose
// decision unchokes the peer; requested blocks come back with the torrent's bytes, counted
// by the host and paid to the limiter.
void expect_served(PeerConnection& t) {
    ASSERT_GE(t.seen.size(), 6u);
    // have_all, extended handshake, reject, unchoke, two pieces.
    EXPECT_EQ(t.seen[2].id, static_cast<std::uint8_t>(message_id::reject_request));
    EXPECT_EQ(t.seen[2].payload, block_message(message_id::reject_request, 0, 0, block).substr(5));
    EXPECT_EQ(t.seen[3].id, static_cast<std::uint8_t>(message_id::unchoke));
    EXPECT_EQ(t.seen[4].id, static_cast<std::uint8_t>(message_id::piece));
    EXPECT_EQ(t.seen[4].payload, piece_payload(t.data, 1, block, block));
    EXPECT_EQ(t.seen[5].id, static_cast<std::uint8_t>(message_id::piece));
    EXPECT_EQ(t.seen[5].payload, piece_payload(t.data, 2, 0, 5000));
    EXPECT_EQ(t.uploaded, block + 5000u);
    EXPECT_EQ(t.host.counted_sent, block + 5000u);
    EXPECT_EQ(t.host.reserved, block + 5000u);
    EXPECT_EQ(t.host.protocol_errors, 0);
    EXPECT_EQ(t.host.told_unchoked, 0);  // +1 at the unchoke, -1 when it closed unchoked
    EXPECT_FALSE(t.host.wrong_key);
}

cpc::task<void> request_two_blocks(PeerConnection* t) {
    for (int i = 0; i < 2; ++i) {  // have_all, extended handshake
        std::optional<received> m = co_await t->remote->next();
        if (m) t->seen.push_back(std::move(*m));
    }
    co_await t->remote->send(block_message(message_id::request, 0, 0, block));
    std::optional<received> rejected = co_await t->remote->next();
    if (rejected) t->seen.push_back(std::move(*rejected));
    co_await t->remote->send(simple(message_id::interested));
    std::optional<received> unchoke = co_await t->remote->next();
    if (unchoke) t->seen.push_back(std::move(*unchoke));
    co_await t->remote->send(block_message(message_id::request, 1, block, block));
    std::optional<received> first = co_await t->remote->next();
    if (first) t->seen.push_back(std::move(*first));
    co_await t->remote->send(block_message(message_id::request, 2, 0, 5000));
    std::optional<received> second = co_await t->remote->next();
    if (second) t->seen.push_back(std::move(*second));
    t->remote->close();
}

TEST_F(PeerConnection, UnchokedWhenTheHostSaysSoThenServesTheRequestedBytes) {
    run(their_handshake(true, true), request_two_blocks);
    expect_served(*this);
    // On the control loop every event is told at once, each block's bytes too.
    const std::vector<std::string> expected = {"interested", "rechoke",   "requested",
                                               "sent",       "requested", "sent"};
    EXPECT_EQ(host.events, expected);
    EXPECT_EQ(host.reported_sent, block + 5000u);
}

TEST_F(PeerConnection, AwayFromControlReportsEventsAfterTheReadAndBytesAtTheCredit) {
    host.here = false;
    host.config.turn_credit = block;  // the first block spends the turn
    run(their_handshake(true, true), request_two_blocks);
    expect_served(*this);
    // Requests at most once a second: the first only. Sent bytes once they reach the credit
    // (the first block); then the host said 0 left, so nothing more until a renewal.
    const std::vector<std::string> expected = {"interested", "rechoke", "requested", "sent"};
    EXPECT_EQ(host.events, expected);
    EXPECT_EQ(host.reported_sent, block);
}

TEST_F(PeerConnection, AwayFromControlReportsBytesAgainOnlyAfterARenewal) {
    host.here = false;
    host.config.turn_credit = block;
    run(their_handshake(true, true), [](PeerConnection* t) -> cpc::task<void> {
        for (int i = 0; i < 3; ++i) {  // have_all, extended handshake, then the unchoke
            if (i == 2) co_await t->remote->send(simple(message_id::interested));
            std::optional<received> m = co_await t->remote->next();
            if (m) t->seen.push_back(std::move(*m));
        }
        // A spends the turn's credit (reported, the host says 0 left); B is not reported;
        // after the renewal C is.
        const wire::block_request blocks[] = {{0, 0, block}, {0, block, 1000}, {1, 0, block}};
        for (const wire::block_request& r : blocks) {
            if (r.piece == 1) t->conn->renew();  // the choker refilled the turn
            co_await t->remote->send(
                block_message(message_id::request, r.piece, r.begin, r.length));
            std::optional<received> m = co_await t->remote->next();
            if (m) t->seen.push_back(std::move(*m));
        }
        t->remote->close();
    });
    ASSERT_EQ(seen.size(), 6u);
    EXPECT_EQ(seen[2].id, static_cast<std::uint8_t>(message_id::unchoke));
    EXPECT_EQ(seen[3].payload, piece_payload(data, 0, 0, block));
    EXPECT_EQ(seen[4].payload, piece_payload(data, 0, block, 1000));
    EXPECT_EQ(seen[5].payload, piece_payload(data, 1, 0, block));
    EXPECT_EQ(host.counted_sent, 2 * block + 1000u);
    EXPECT_EQ(host.reported_sent, 2 * block);
    EXPECT_EQ(std::count(host.events.begin(), host.events.end(), "sent"), 2);
}

// BEP 9: a leecher that came from a magnet link gets the info dictionary, under the id it
// gave in its own extended handshake.
TEST_F(PeerConnection, ServesTheInfoDictionaryOverUtMetadata) {
    run(their_handshake(true, true), [](PeerConnection* t) -> cpc::task<void> {
        for (int i = 0; i < 2; ++i) {  // have_all, extended handshake
            std::optional<received> greeting = co_await t->remote->next();
            EXPECT_TRUE(greeting);
        }
        bencode::writer hs;
        hs.begin_dict().string("m").begin_dict().string("ut_metadata").integer(3).end().end();
        bencode::writer request;
        request.begin_dict().string("msg_type").integer(0).string("piece").integer(0).end();
        std::string out;
        wire::append_extended(out, extension::handshake_id, hs.str());
        wire::append_extended(out, extension::ut_metadata_id, request.str());
        co_await t->remote->send(out);
        std::optional<received> m = co_await t->remote->next();
        if (m) t->seen.push_back(std::move(*m));
        t->remote->close();
    });
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].id, static_cast<std::uint8_t>(message_id::extended));
    ASSERT_FALSE(seen[0].payload.empty());
    EXPECT_EQ(seen[0].payload[0], char{3});
    const std::string body = seen[0].payload.substr(1);
    std::size_t dict_size = 0;
    bencode::value reply = bencode::parse_prefix(body, dict_size);
    ASSERT_TRUE(reply.find("msg_type") && reply.find("piece"));
    EXPECT_EQ(*reply.find("msg_type")->as_int(), 1);  // data
    EXPECT_EQ(*reply.find("piece")->as_int(), 0);
    EXPECT_EQ(body.substr(dict_size), torrent->meta().info_bytes);
    EXPECT_EQ(host.protocol_errors, 0);
}

// Under an upload limit a batch holds no more than the limiter's burst: each block is paid
// for on its own here.
TEST_F(PeerConnection, BatchesStayWithinTheUploadBurst) {
    host.config.upload_burst = block;
    run(their_handshake(true, true), [](PeerConnection* t) -> cpc::task<void> {
        for (int i = 0; i < 3; ++i) {  // have_all, extended handshake, then the unchoke
            if (i == 2) co_await t->remote->send(simple(message_id::interested));
            std::optional<received> m = co_await t->remote->next();
            EXPECT_TRUE(m);
        }
        std::string requests;
        for (std::uint32_t i = 0; i < 4; ++i)
            wire::append_block_message(requests, message_id::request,
                                       {i / 2, (i % 2) * block, block});
        co_await t->remote->send(requests);
        for (int i = 0; i < 4; ++i) {
            std::optional<received> m = co_await t->remote->next();
            if (m) t->seen.push_back(std::move(*m));
        }
        t->remote->close();
    });
    ASSERT_EQ(seen.size(), 4u);
    for (std::uint32_t i = 0; i < 4; ++i)
        EXPECT_EQ(seen[i].payload, piece_payload(data, i / 2, (i % 2) * block, block));
    EXPECT_EQ(host.reservations, 4);
    EXPECT_EQ(host.largest_reservation, block);
    EXPECT_EQ(host.reserved, 4u * block);
}

// Each malformation closes the connection, and the host counts one protocol error.
struct malformation {
    const char* name;
    std::string bytes;
};

// Names the case in gtest's messages (instead of the struct's bytes).
void PrintTo(const malformation& m, std::ostream* os) {
    *os << m.name;
}

class PeerConnectionMalformed : public PeerConnection,
                                public ::testing::WithParamInterface<malformation> {};

TEST_P(PeerConnectionMalformed, ClosesTheConnectionAndTellsTheHost) {
    run(their_handshake(true, true), [](PeerConnection* t) -> cpc::task<void> {
        co_await t->remote->send(static_cast<PeerConnectionMalformed*>(t)->GetParam().bytes);
        t->seen = co_await t->remote->until_closed();
    });
    // Closed by the connection: the script never closed its end.
    EXPECT_EQ(host.protocol_errors, 1);
    EXPECT_FALSE(complete);
}

std::string with_length(std::uint32_t length, std::string rest) {
    std::string m(4, '\0');
    wire::store_be32(m.data(), length);
    return m + rest;
}

INSTANTIATE_TEST_SUITE_P(
    Wire, PeerConnectionMalformed,
    ::testing::Values(
        malformation{"oversized", with_length(wire::max_payload(3) + 1, "")},
        malformation{"unknown_id", with_length(1, std::string(1, char{42}))},
        malformation{"request_past_last_piece", block_message(message_id::request, 3, 0, block)},
        malformation{"request_past_piece_end",
                     block_message(message_id::request, 2, 4096, 5000 - 4096 + 1)},
        malformation{"zero_length_request", block_message(message_id::request, 0, 0, 0)},
        malformation{"short_have", with_length(3, std::string{char{4}, 0, 0})},
        malformation{"empty_extended", with_length(1, std::string(1, char{20}))}),
    [](const ::testing::TestParamInfo<malformation>& i) { return std::string(i.param.name); });

TEST_F(PeerConnection, ASeedIsLetGoAsComplete) {
    run(their_handshake(true, true), [](PeerConnection* t) -> cpc::task<void> {
        co_await t->remote->send(simple(message_id::have_all));
        t->seen = co_await t->remote->until_closed();
    });
    EXPECT_TRUE(complete);
    EXPECT_EQ(host.protocol_errors, 0);
}

TEST_F(PeerConnection, SendsKeepAlivesWhileNothingElseIsSent) {
    host.config.keep_alive_interval = 1ms;
    run(their_handshake(true, true), [](PeerConnection* t) -> cpc::task<void> {
        for (int i = 0; i < 3; ++i) {
            std::optional<received> m = co_await t->remote->next();
            if (m) t->seen.push_back(std::move(*m));
        }
        t->remote->close();
    });
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_TRUE(seen[2].keep_alive);
    EXPECT_EQ(host.protocol_errors, 0);
}

TEST_F(PeerConnection, ClosesASilentPeerAtTheIdleTimeout) {
    host.config.idle_timeout = 1ms;
    run(their_handshake(true, true),
        [](PeerConnection* t) -> cpc::task<void> { t->seen = co_await t->remote->until_closed(); });
    // Closed by the connection, not by us: the greeting, then the end.
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(host.protocol_errors, 0);
    EXPECT_TRUE(host.events.empty());
}

}  // namespace
