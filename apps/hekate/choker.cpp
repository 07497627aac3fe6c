#include "choker.hpp"

#include <limits>

namespace hekate {

choker::choker(choker_config config)
    : config_(config), latest_(std::numeric_limits<std::int64_t>::min()) {}

std::int64_t choker::observe(std::int64_t now_ns) noexcept {
    // The lists are sorted by the times pushed into them; a clock going back would break that.
    if (now_ns > latest_) latest_ = now_ns;
    return latest_;
}

bool choker::add(peer_key key) {
    if (!admit()) return false;
    auto [it, inserted] = peers_.try_emplace(key);
    if (inserted) it->second.key = key;
    return inserted;
}

void choker::unlink(peer* p) noexcept {
    switch (p->where) {
        case place::none:
            break;
        case place::waiting:
            waiting_.erase(p);
            break;
        case place::turn:
            turn_.erase(p);
            idle_.erase(p);
            break;
        case place::ended:
            ended_.erase(p);
            idle_.erase(p);
            break;
    }
    p->where = place::none;
}

void choker::remove(peer_key key) {
    auto it = peers_.find(key);
    if (it == peers_.end()) return;
    unlink(&it->second);
    // A stale key left in pending_chokes_ is skipped by update(): it finds no peer, or a new
    // peer under the same key with choke_pending false.
    peers_.erase(it);
}

void choker::interested(peer_key key, std::int64_t now_ns) {
    observe(now_ns);
    auto it = peers_.find(key);
    if (it == peers_.end() || it->second.interested) return;
    peer* p = &it->second;
    p->interested = true;
    p->where = place::waiting;
    waiting_.push_back(p);
}

void choker::not_interested(peer_key key, std::int64_t now_ns) {
    observe(now_ns);
    auto it = peers_.find(key);
    if (it == peers_.end() || !it->second.interested) return;
    peer* p = &it->second;
    p->interested = false;
    unlink(p);
    if (p->told_unchoked && !p->choke_pending) {
        p->choke_pending = true;
        pending_chokes_.push_back(key);
    }
}

void choker::requested(peer_key key, std::int64_t now_ns) {
    const std::int64_t now = observe(now_ns);
    auto it = peers_.find(key);
    if (it == peers_.end() || !is_unchoked(it->second)) return;
    peer* p = &it->second;
    p->last_request = now;
    idle_.erase(p);
    idle_.push_back(p);
}

void choker::sent(peer_key key, std::uint64_t bytes) {
    auto it = peers_.find(key);
    if (it == peers_.end() || it->second.where != place::turn) return;
    peer* p = &it->second;
    p->spent += bytes;
    if (config_.credit != 0 && p->spent >= config_.credit) {
        turn_.erase(p);
        p->where = place::ended;
        ended_.push_back(p);
    }
}

bool choker::is_interested(peer_key key) const {
    auto it = peers_.find(key);
    return it != peers_.end() && it->second.interested;
}

bool choker::is_unchoked(peer_key key) const {
    auto it = peers_.find(key);
    return it != peers_.end() && is_unchoked(it->second);
}

std::uint64_t choker::credit_left(peer_key key) const {
    auto it = peers_.find(key);
    if (it == peers_.end() || it->second.where != place::turn) return 0;
    if (config_.credit == 0) return full_credit(config_);
    return config_.credit - it->second.spent;
}

void choker::unchoke(peer* p, std::int64_t now, decisions& d) {
    waiting_.erase(p);
    p->where = place::turn;
    p->spent = 0;
    p->turn_start = now;
    p->last_request = now;  // the idle timer counts from the unchoke
    turn_.push_back(p);
    idle_.push_back(p);
    if (p->choke_pending) {
        // Choked by not_interested and unchoked again before update() told anyone: for the
        // peer nothing changed but its turn.
        p->choke_pending = false;
        d.renew.push_back(p->key);
    } else {
        p->told_unchoked = true;
        d.unchoke.push_back(p->key);
    }
}

void choker::end_turn(peer* p, decisions& d) {
    if (p->where == place::ended && peers_.size() >= config_.max_peers) {
        const peer_key key = p->key;  // erase(p->key) would read the key while destroying it
        d.drop.push_back(key);
        unlink(p);
        peers_.erase(key);
        return;
    }
    // Every unchoked peer is interested (not_interested frees the slot at once).
    unlink(p);
    p->where = place::waiting;
    waiting_.push_back(p);
    p->told_unchoked = false;
    d.choke.push_back(p->key);
}

void choker::refill(peer* p, std::int64_t now, decisions& d) {
    ended_.erase(p);
    p->where = place::turn;
    p->spent = 0;
    p->turn_start = now;
    turn_.push_back(p);
    d.renew.push_back(p->key);
}

choker::decisions choker::update(std::int64_t now_ns) {
    const std::int64_t now = observe(now_ns);
    decisions d;

    const std::int64_t max_time = config_.max_unchoked_time.count();
    if (max_time > 0) {
        while (!turn_.empty() && now - turn_.front()->turn_start >= max_time) {
            peer* p = turn_.front();
            turn_.erase(p);
            p->where = place::ended;
            ended_.push_back(p);
        }
    }

    // End only as many turns as the waiters need beyond the free slots: then every slot
    // freed here goes to a peer that was already waiting, never back to the peer just choked.
    const std::size_t free_slots =
        config_.max_unchoked > unchoked() ? config_.max_unchoked - unchoked() : 0;
    std::size_t demand = waiting_.size() > free_slots ? waiting_.size() - free_slots : 0;
    const std::int64_t idle_time = config_.request_idle.count();
    while (demand > 0) {
        peer* p = nullptr;
        if (idle_time > 0 && !idle_.empty() && now - idle_.front()->last_request >= idle_time) {
            p = idle_.front();  // idle first: it is not even using its slot
        } else if (!ended_.empty()) {
            p = ended_.front();
        } else {
            break;
        }
        end_turn(p, d);
        --demand;
    }

    while (unchoked() < config_.max_unchoked && !waiting_.empty()) {
        unchoke(waiting_.front(), now, d);
    }

    if (waiting_.empty()) {
        while (!ended_.empty())
            refill(ended_.front(), now, d);
    }

    for (peer_key key : pending_chokes_) {
        auto it = peers_.find(key);
        if (it == peers_.end() || !it->second.choke_pending) continue;
        peer& p = it->second;
        p.choke_pending = false;
        p.told_unchoked = false;
        d.choke.push_back(key);
    }
    pending_chokes_.clear();
    return d;
}

}  // namespace hekate
