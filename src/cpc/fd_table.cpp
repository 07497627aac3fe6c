#include "fd_table.hpp"

#include "fd_owners.hpp"

namespace cpc::detail {

bool fd_table::watch(int fd, io_events kind, wait_link* l) {
    if (fd < 0) return false;
    entry& e = at(fd);
    if (!(e.armed & kind)) {
        if (backend_.set_interest(fd, e.armed, e.armed | kind) != 0) return false;
        if (e.armed == 0) note_armed(fd, slot_);
        e.armed |= kind;
    }
    e.of(kind).push_back(l);
    ++waiters_;
    return true;
}

void fd_table::unwatch(int fd, io_events kind, wait_link* l) noexcept {
    entries_[static_cast<std::size_t>(fd)].of(kind).remove(l);
    --waiters_;
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
    if ((kinds & in) && wake(e.readers) == 0) unwanted |= in;
    if ((kinds & out) && wake(e.writers) == 0) unwanted |= out;
    unwanted &= e.armed;
    if (unwanted != 0 || e.armed == 0) {
        const unsigned keep = e.armed & ~unwanted;
        backend_.set_interest(fd, e.armed ? e.armed : in | out, keep);
        if (keep == 0 && e.armed != 0) note_disarmed(fd, slot_);
        e.armed = keep;
    }
}

void fd_table::forget(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= entries_.size()) return;
    entry& e = entries_[static_cast<std::size_t>(fd)];
    if (e.armed != 0) note_disarmed(fd, slot_);
    e.armed = 0;
    wake(e.readers);
    wake(e.writers);
}

}  // namespace cpc::detail
