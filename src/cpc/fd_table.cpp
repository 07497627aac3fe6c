#include "fd_table.hpp"

#include "fd_owners.hpp"

namespace cpc::detail {

bool fd_table::watch(int fd, io_events kind_and_flags, wait_link* l) {
    if (fd < 0) return false;
    const auto kind = static_cast<io_events>(kind_and_flags & (in | out));
    const unsigned flags = kind_and_flags & exclusive;
    entry& e = at(fd);
    if (!(e.armed & kind) || (e.armed & exclusive) != flags) {
        const unsigned wanted = (e.armed & (in | out)) | kind | flags;
        if (backend_.set_interest(fd, e.armed, wanted) != 0) return false;
        if (e.armed == 0) note_armed(fd, slot_);
        e.armed = wanted;
    }
    e.of(kind).push_back(l);
    ++waiters_;
    return true;
}

void fd_table::unwatch(int fd, io_events kind, wait_link* l) noexcept {
    entry& e = entries_[static_cast<std::size_t>(fd)];
    e.of(kind).remove(l);
    --waiters_;
    if (eager_ && e.of(kind).empty()) disarm(fd, e, kind);
}

std::size_t fd_table::wake(wait_list& list) noexcept {
    const std::size_t n = list.size();
    list.wake_all();
    waiters_ -= n;
    return n;
}

void fd_table::dispatch(int fd, unsigned kinds) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= entries_.size()) {
        backend_.set_interest(fd, in | out, 0);  // not ours (any more)
        return;
    }
    entry& e = entries_[static_cast<std::size_t>(fd)];
    unsigned unwanted = 0;
    // Every waiter of a reported kind is woken: lazily (epoll) only a kind nobody waited for
    // is disarmed, eagerly all of them (a waiter that wants more waits again).
    if ((kinds & in) && (wake(e.readers) == 0 || eager_)) unwanted |= in;
    if ((kinds & out) && (wake(e.writers) == 0 || eager_)) unwanted |= out;
    if (e.armed == 0) {
        backend_.set_interest(fd, in | out, 0);  // reported, yet not armed here: not ours
        return;
    }
    disarm(fd, e, unwanted);
}

void fd_table::disarm(int fd, entry& e, unsigned unwanted) noexcept {
    unwanted &= e.armed;
    if (unwanted == 0) return;
    unsigned keep = e.armed & ~unwanted;
    if (!(keep & (in | out))) keep = 0;  // the exclusive flag alone is no interest
    backend_.set_interest(fd, e.armed, keep);
    if (keep == 0) note_disarmed(fd, slot_);
    e.armed = keep;
}

void fd_table::forget(int fd) noexcept {
    backend_.forget(fd);
    if (fd < 0 || static_cast<std::size_t>(fd) >= entries_.size()) return;
    entry& e = entries_[static_cast<std::size_t>(fd)];
    if (e.armed != 0) note_disarmed(fd, slot_);
    e.armed = 0;
    wake(e.readers);
    wake(e.writers);
}

}  // namespace cpc::detail
