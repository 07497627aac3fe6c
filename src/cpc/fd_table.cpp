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
        unsigned keep = e.armed & ~unwanted;
        if (!(keep & (in | out))) keep = 0;  // the exclusive flag alone is no interest
        backend_.set_interest(fd, e.armed ? e.armed : in | out, keep);
        if (keep == 0 && e.armed != 0) note_disarmed(fd, slot_);
        e.armed = keep;
    }
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
