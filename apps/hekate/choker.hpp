// choker: Hekate's fairness. Decides which connected peers may download (are unchoked), for
// how long, and which peer to disconnect so that a new one can come in.
//
// The rules:
//   - At most max_unchoked peers are unchoked at once, at most max_peers are connected.
//   - Only interested peers wait for a slot, in one FIFO queue: a slot goes to the oldest
//     waiter (round-robin), and a newly interested peer gets a free slot at the next update.
//   - An unchoke is a turn: it grants `credit` bytes and `max_unchoked_time`. The turn is
//     over when the bytes sent reach the credit (spent >= credit) or the time is up
//     (now - start >= max_unchoked_time). Then:
//       * if nobody waits, the peer is refilled: a fresh turn (new credit, the timer
//         restarts at `now`), and nothing is sent to it;
//       * if somebody waits, the peer is choked and goes to the back of the queue, or, when
//         the server is full (connected() >= max_peers), it is dropped instead so that a new
//         peer can connect (one drop frees one connection: the next ones are choked).
//   - An unchoked peer that has sent no request for `request_idle` (counted from its unchoke
//     or its last request) loses its slot to a waiter: choked, back of the queue, not
//     dropped unless its turn is over too (idleness alone does not use a turn up). While
//     nobody waits it keeps the slot: choking it would help no one.
//   - A peer that becomes not interested leaves the queue; if it was unchoked its slot is
//     freed at once (it appears in `choke` at the next update): a peer that wants nothing
//     should not hold a slot for up to request_idle while others wait.
//   - update() takes slots back only for the waiters the free slots cannot serve: at most
//     (waiting - free) peers lose their slot, idle peers first, then those whose turn was
//     over first. So every slot freed goes to a peer that was already waiting, a choked peer
//     is never unchoked in the same update, and a peer whose turn is over while the free
//     slots sufficed keeps its slot (overdue) until somebody waits (it is first to go) or
//     the queue is empty (refilled).
//
// The choker is pure bookkeeping: no I/O and no clock. Times are int64 nanoseconds from any
// monotonic clock (the server passes cpc::loop::now()); a time earlier than one already
// seen counts as the latest one seen. Every event is O(1) on average (a hash map of peers,
// intrusive lists for the queue and the turns); update() is O(number of changes).
//
// Not thread-safe: one loop owns it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hekate {

// The server's connection id: unique among the connected peers.
using peer_key = std::uint64_t;

struct choker_config {
    std::size_t max_unchoked = 50;
    // Hekate's default is 10 * max_unchoked; settable apart.
    std::size_t max_peers = 500;
    // Bytes per turn; 0 disables the credit limit (turns end by time only).
    std::uint64_t credit = std::uint64_t{1} << 20;
    // Length of a turn; 0 disables the limit (turns end by credit only).
    std::chrono::nanoseconds max_unchoked_time = std::chrono::seconds(300);
    // An unchoked peer silent this long loses its slot to a waiter; 0 disables it.
    std::chrono::nanoseconds request_idle = std::chrono::seconds(30);
};

class choker {
  public:
    // What changed in update(): the caller sends UNCHOKE to `unchoke`, CHOKE to `choke`, and
    // disconnects `drop`. A key appears in at most one of the three lists. Dropped peers are
    // already forgotten (remove() on them later is a no-op). Keys in `unchoke` are in queue
    // order, oldest waiter first. `renew` lists the unchoked peers whose turn restarted
    // without a message (refilled, or unchoked again before their CHOKE was sent): nothing
    // to tell them, but a peer that counts its bytes on another loop and stopped reporting
    // at the end of its turn (credit_left() said 0) reports again.
    struct decisions {
        std::vector<peer_key> unchoke, choke, drop, renew;
        // Nothing to send to any peer (renewals send nothing).
        bool empty() const noexcept { return unchoke.empty() && choke.empty() && drop.empty(); }
    };

    explicit choker(choker_config config = {});
    choker(const choker&) = delete;
    choker& operator=(const choker&) = delete;
    choker(choker&&) noexcept = default;
    choker& operator=(choker&&) noexcept = default;
    ~choker() = default;

    const choker_config& config() const noexcept { return config_; }

    // May one more peer connect? (connected() < max_peers)
    bool admit() const noexcept { return peers_.size() < config_.max_peers; }
    // Registers a new connection: choked, not interested. Returns false, changing nothing,
    // if the server is full (!admit()) or the key is already known.
    bool add(peer_key key);
    // Forgets the peer; its slot or place in the queue is freed (a waiter takes the slot at
    // the next update). Unknown keys are ignored.
    void remove(peer_key key);

    // INTERESTED: the peer joins the back of the queue (no-op if already interested).
    void interested(peer_key key, std::int64_t now_ns);
    // NOT_INTERESTED: the peer leaves the queue, or its slot if unchoked (it appears in
    // `choke` at the next update, unless it got a slot again by then).
    void not_interested(peer_key key, std::int64_t now_ns);
    // A REQUEST arrived: restarts the idle timer of an unchoked peer. Ignored otherwise.
    void requested(peer_key key, std::int64_t now_ns);
    // Piece bytes were sent: spent from the credit of an unchoked peer's turn; reaching the
    // credit ends the turn (acted upon at the next update). Ignored if choked.
    void sent(peer_key key, std::uint64_t bytes);

    // Applies the rules at now_ns. Call it every second and after events.
    decisions update(std::int64_t now_ns);

    bool contains(peer_key key) const { return peers_.contains(key); }
    bool is_interested(peer_key key) const;
    // The choker's view: true from the update that unchoked the peer until it is choked
    // (by not_interested, remove, or an update).
    bool is_unchoked(peer_key key) const;
    // Bytes the peer may still be sent before its turn's credit is reached: 0 unless its turn
    // runs, the largest value when the credit is disabled. A peer that counts its bytes on
    // another loop reports them (sent) once they reach this, so that the turn ends exactly.
    std::uint64_t credit_left(peer_key key) const;
    // What credit_left() says at the start of a turn (UNCHOKE, or a renewal).
    static std::uint64_t full_credit(const choker_config& config) noexcept {
        return config.credit == 0 ? std::numeric_limits<std::uint64_t>::max() : config.credit;
    }

    std::size_t connected() const noexcept { return peers_.size(); }
    std::size_t unchoked() const noexcept { return turn_.size() + ended_.size(); }
    std::size_t waiting() const noexcept { return waiting_.size(); }

  private:
    struct peer;
    struct hook {
        peer* prev = nullptr;
        peer* next = nullptr;
    };
    enum class place : std::uint8_t { none, waiting, turn, ended };
    struct peer {
        peer_key key;
        hook queue;  // in waiting_, turn_ or ended_, as `where` says
        hook idle;   // in idle_ iff unchoked
        place where = place::none;
        bool interested = false;
        bool told_unchoked = false;  // what the peer was last told
        bool choke_pending = false;  // key is in pending_chokes_
        std::uint64_t spent = 0;
        std::int64_t turn_start = 0;
        std::int64_t last_request = 0;
    };

    // A doubly linked list through one hook of the peers; O(1) everything.
    template <hook peer::*H>
    class list {
      public:
        list() = default;
        list(list&& o) noexcept
            : head_(std::exchange(o.head_, nullptr)),
              tail_(std::exchange(o.tail_, nullptr)),
              size_(std::exchange(o.size_, 0)) {}
        list& operator=(list&& o) noexcept {
            head_ = std::exchange(o.head_, nullptr);
            tail_ = std::exchange(o.tail_, nullptr);
            size_ = std::exchange(o.size_, 0);
            return *this;
        }
        bool empty() const noexcept { return head_ == nullptr; }
        std::size_t size() const noexcept { return size_; }
        peer* front() const noexcept { return head_; }
        void push_back(peer* p) noexcept {
            (p->*H).prev = tail_;
            (p->*H).next = nullptr;
            if (tail_ != nullptr) {
                (tail_->*H).next = p;
            } else {
                head_ = p;
            }
            tail_ = p;
            ++size_;
        }
        void erase(peer* p) noexcept {
            hook& h = p->*H;
            if (h.prev != nullptr) {
                (h.prev->*H).next = h.next;
            } else {
                head_ = h.next;
            }
            if (h.next != nullptr) {
                (h.next->*H).prev = h.prev;
            } else {
                tail_ = h.prev;
            }
            h = hook{};
            --size_;
        }

      private:
        peer* head_ = nullptr;
        peer* tail_ = nullptr;
        std::size_t size_ = 0;
    };

    std::int64_t observe(std::int64_t now_ns) noexcept;
    static bool is_unchoked(const peer& p) noexcept {
        return p.where == place::turn || p.where == place::ended;
    }
    void unlink(peer* p) noexcept;
    void unchoke(peer* p, std::int64_t now, decisions& d);
    void end_turn(peer* p, decisions& d);
    void refill(peer* p, std::int64_t now, decisions& d);

    choker_config config_;
    std::int64_t latest_;
    // Node-based: peers never move, so the lists can point at them.
    std::unordered_map<peer_key, peer> peers_;
    list<&peer::queue> waiting_;  // interested and choked, oldest waiter first
    list<&peer::queue> turn_;     // unchoked, turn running, by turn start
    list<&peer::queue> ended_;    // unchoked, turn over (credit or time), in order of ending
    list<&peer::idle> idle_;      // unchoked, by last request (or unchoke)
    std::vector<peer_key> pending_chokes_;  // unchoked peers that said not interested
};

}  // namespace hekate
